r"""Customer orders and the order book, with an explicit lifecycle.

::

    PLACED --allocate--> ALLOCATED --pick (all lines)--> PICKED --ship--> SHIPPED
       \\                    |
        `------ lose -------'--> LOST

``SHIPPED`` and ``LOST`` are terminal (absorbing). Every order is in exactly one state.
Stock effects of each transition are applied by
:class:`~warehouse_sim.operations.model.OperationsModel`, which owns the book; the book
itself only keeps orders and enforces legal transitions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class OrderState(enum.IntEnum):
    """Lifecycle state of a customer order."""

    PLACED = 0
    ALLOCATED = 1
    PICKED = 2
    SHIPPED = 3
    LOST = 4


TERMINAL = frozenset({OrderState.SHIPPED, OrderState.LOST})


@dataclass
class Order:
    """A customer order of one or more lines.

    Attributes:
        id: Order id, unique within its book (0, 1, 2, ... per model, never global).
        placed_h: Placement time in simulated hours since reset.
        due_h: Time in hours by which it should ship; lost-sales orders not allocated by
            then are lost (:meth:`OperationsModel.expire_orders`).
        skus: Catalogue index of each line, shape ``(n_lines,)``, distinct.
        quantities: Units per line, shape ``(n_lines,)``, each >= 1.
        prices: Unit price per line, fixed at placement (the price at sale).
        state: Current lifecycle state.
        picked: Whether each line has been picked, shape ``(n_lines,)``.
    """

    id: int
    placed_h: float
    due_h: float
    skus: np.ndarray
    quantities: np.ndarray
    prices: np.ndarray
    state: OrderState = OrderState.PLACED
    picked: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def __post_init__(self) -> None:
        if self.picked.shape != self.skus.shape:
            self.picked = np.zeros(self.skus.shape, dtype=bool)

    @property
    def units(self) -> int:
        """Total units over all lines."""
        return int(self.quantities.sum())


class OrderBook:
    """All orders since reset, by id, with counts per state."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self._next_id = 0
        self._first_open = 0  # every order below this id is in a terminal state

    def reset(self) -> None:
        """Forget every order; ids restart at 0."""
        self.orders.clear()
        self._next_id = 0
        self._first_open = 0

    def add(self, placed_h: float, due_h: float, skus: np.ndarray, quantities: np.ndarray, prices: np.ndarray) -> Order:
        """Create a ``PLACED`` order and return it."""
        order = Order(self._next_id, placed_h, due_h, skus, quantities, prices)
        self.orders[order.id] = order
        self._next_id += 1
        return order

    def get(self, order_id: int, *expected: OrderState) -> Order:
        """Return order ``order_id``, checking it is in one of the ``expected`` states.

        Raises:
            ValueError: for an unknown id or an order in another state.
        """
        try:
            order = self.orders[order_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown order id {order_id!r}") from None
        if expected and order.state not in expected:
            names = "/".join(s.name for s in expected)
            raise ValueError(f"order {order_id} is {order.state.name}, expected {names}")
        return order

    def in_state(self, *states: OrderState) -> list[Order]:
        """Orders currently in any of ``states``, by id."""
        if not TERMINAL.isdisjoint(states):
            return [o for o in self.orders.values() if o.state in states]
        # open states only: skip the ended orders at the front (ids are 0, 1, 2, ... and orders end, never reopen)
        orders, first = self.orders, self._first_open
        while first < self._next_id and orders[first].state in TERMINAL:
            first += 1
        self._first_open = first
        return [orders[i] for i in range(first, self._next_id) if orders[i].state in states]

    def counts(self) -> dict[OrderState, int]:
        """Number of orders in each state."""
        counts = dict.fromkeys(OrderState, 0)
        for order in self.orders.values():
            counts[order.state] += 1
        return counts
