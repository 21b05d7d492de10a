"""The operations model: catalogue, demand, stock, orders and money (numpy only).

Layering: this package imports numpy and PyYAML only; it knows nothing of PyBullet,
Gymnasium or torch. Environments and tasks compose it.

Public entry points:

- :class:`~warehouse_sim.operations.catalogue.Sku`, :class:`~warehouse_sim.operations.catalogue.Scenario`,
  :func:`~warehouse_sim.operations.catalogue.load_scenario`
- :class:`~warehouse_sim.operations.model.OperationsModel` (stock, pipeline, order book, ledger)
- :class:`~warehouse_sim.operations.orders.OrderBook`, :class:`~warehouse_sim.operations.orders.OrderState`
- :class:`~warehouse_sim.operations.mdp.SingleSkuMdp` (exact optimum of small instances)
"""

from warehouse_sim.operations.catalogue import Scenario, Sku, load_scenario
from warehouse_sim.operations.model import InvariantError, OperationsModel
from warehouse_sim.operations.orders import Order, OrderBook, OrderState

__all__ = [
    "InvariantError",
    "OperationsModel",
    "Order",
    "OrderBook",
    "OrderState",
    "Scenario",
    "Sku",
    "load_scenario",
]
