"""The fulfilment task of ``warehouse_sim/Fulfilment-v0``, in parts, one idea each.

- :mod:`~warehouse_sim.tasks.fulfilment.scenario`: the warehouse scenario (floor, fleet,
  catalogue, business rules, clocks) and its loader;
- :mod:`~warehouse_sim.tasks.fulfilment.slotting`: home cells, SKU slots, price classes;
- :mod:`~warehouse_sim.tasks.fulfilment.dispatch`: waiting work and the dispatch rules;
- :mod:`~warehouse_sim.tasks.fulfilment.jobs`: the robots' job state machines;
- :mod:`~warehouse_sim.tasks.fulfilment.executor`: the fleet executor protocol (what
  moves robots through their planned cells);
- :mod:`~warehouse_sim.tasks.fulfilment.physics_fleet` and
  :mod:`~warehouse_sim.tasks.fulfilment.drivers`: the PyBullet executor and its drivers;
- :mod:`~warehouse_sim.tasks.fulfilment.task`: the task (orders, decisions, epochs).
"""

from warehouse_sim.tasks.fulfilment.dispatch import DISPATCH_RULES, WorkItem
from warehouse_sim.tasks.fulfilment.scenario import (
    WarehouseScenario,
    load_warehouse_scenario,
    warehouse_scenario_from_dict,
)
from warehouse_sim.tasks.fulfilment.task import FulfilmentTask

__all__ = [
    "DISPATCH_RULES",
    "FulfilmentTask",
    "WarehouseScenario",
    "WorkItem",
    "load_warehouse_scenario",
    "warehouse_scenario_from_dict",
]
