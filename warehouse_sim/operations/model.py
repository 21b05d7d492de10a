"""The operations model: stock, replenishment pipeline, order book and ledger of one scenario.

One :class:`OperationsModel` is owned by one environment. Time runs in periods; within a
period a finer clock (hours) lets a fulfilment layer bring in customer orders in short
windows (e.g. 15-minute decision epochs) and move them through their lifecycle.

A period, in order:

1. :meth:`~OperationsModel.start_period`: lots due this period arrive (ordered at
   ``t - lead_time``); units beyond the SKU's or the shared capacity are written off;
   the rest go on hand, or to the dock when ``put_away=True`` (sellable only after
   :meth:`~OperationsModel.put_away`).
2. Decisions: :meth:`~OperationsModel.set_prices`, :meth:`~OperationsModel.order_stock`
   (paid when ordered: unit cost plus the fixed cost per SKU ordered),
   :meth:`~OperationsModel.set_promotions` (the SKUs featured in the recommendation slots).
3. Demand from the scenario's demand model (:mod:`warehouse_sim.operations.demand`),
   either at once (:meth:`~OperationsModel.sell`: Inventory-v0, every order is
   placed, allocated, picked and shipped instantly) or as orders over the hours
   (:meth:`~OperationsModel.arrive_orders`, then :meth:`~OperationsModel.allocate`,
   :meth:`~OperationsModel.pick`, :meth:`~OperationsModel.ship`, :meth:`~OperationsModel.lose`).
4. :meth:`~OperationsModel.end_period`: holding cost on units on hand and in the dock,
   backorder penalty, the slot cost of the SKUs featured, the ledger closes the period.

Lead times: a SKU with a ``lead_time_pmf`` draws each lot's lead time independently
when it is ordered (one uniform per such SKU per order decision, from the generator
passed in), and the lot is booked in the pipeline slot of its own arrival period. Lots
may therefore cross: a later order can arrive before an earlier one (no order-crossing
restriction). Every lot still arrives exactly at its order period plus its drawn lead
time (``last_lead_time`` holds the draws of the last decision).

:meth:`~OperationsModel.step_period` runs all four with decisions given as level indices.

Stocks (all int64, shape ``(n_skus,)``): ``on_hand`` (in the slot, sellable; includes
``reserved`` units allocated to open orders), ``dock`` (received, not yet put away),
``in_process`` (picked, not yet shipped), ``backlog`` (backordered units in instant mode).
``pipeline[i, k]`` holds the units of SKU i arriving at the start of the period ``k``
periods after the next one starts (``k = 0``: at the next :meth:`start_period`).

Invalid decisions raise ``ValueError`` before anything changes.

A fulfilment layer drives it like this (one period = one day in 15-minute epochs)::

    model = OperationsModel(scenario, put_away=True)
    model.start_period()                       # lots arrive in the dock
    model.set_prices({"SKU-1": 12.0})
    model.order_stock({"SKU-1": 24})
    for epoch in range(96):
        for order in model.arrive_orders(0.25, rng):   # PLACED, due in due_hours
            model.allocate(order.id)                   # reserve stock (False if short)
        ...                                            # robots: put_away, pick, ship
        model.expire_orders()                          # lost-sales: overdue PLACED -> LOST
    profit = model.end_period()
    model.check_invariants()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from warehouse_sim.operations.catalogue import Scenario
from warehouse_sim.operations.demand import PoissonDemand, Window, make_demand_model, make_substitution, price_response
from warehouse_sim.operations.ledger import (
    DEMAND,
    HOLDING_COST,
    LOST,
    ORDER_COST,
    ORDERED,
    PENALTY,
    PROMOTION_COST,
    PURCHASE_COST,
    RECEIVED,
    REVENUE,
    SALES,
    WRITTEN_OFF,
    Ledger,
)
from warehouse_sim.operations.orders import Order, OrderBook, OrderState

_NO_LIMIT = np.iinfo(np.int64).max // 4


class InvariantError(AssertionError):
    """An invariant of shared/DESIGN.md does not hold (a bug, never bad input)."""


def _ragged(rows: list[tuple[float, ...]], dtype: Any) -> np.ndarray:
    """Pad ragged rows with their last value into a 2-D array."""
    width = max(len(r) for r in rows)
    return np.array([list(r) + [r[-1]] * (width - len(r)) for r in rows], dtype=dtype)


class OperationsModel:
    """Stock, pipeline, orders and money of one scenario.

    Args:
        scenario: The validated scenario.
        put_away: If True, arrivals wait in the dock until :meth:`put_away`; if False
            (Inventory-v0) they go straight on hand.

    Attributes:
        scenario: The scenario.
        n_skus: Number of SKUs.
        period: Index of the current (open) period, or of the next one between periods.
        clock_h: Simulated hours since reset.
        price_idx: Price level in force per SKU, shape ``(n_skus,)``.
        price: Price in force per SKU (currency units), shape ``(n_skus,)``.
        featured: SKUs featured in the promotion slots, boolean, shape ``(n_skus,)``.
        demand: The scenario's :class:`~warehouse_sim.operations.demand.DemandModel`.
        last_lead_time: Lead time (periods) of each SKU's lot of the last order decision.
        ledger: The :class:`~warehouse_sim.operations.ledger.Ledger`.
        book: The :class:`~warehouse_sim.operations.orders.OrderBook`.
    """

    def __init__(self, scenario: Scenario, *, put_away: bool = False) -> None:
        self.scenario = scenario
        self.put_away_required = put_away
        skus = scenario.skus
        n = self.n_skus = len(skus)
        self.unit_cost = np.array([s.unit_cost for s in skus])
        self.holding_cost = np.array([s.holding_cost for s in skus])
        self.penalty = np.array([s.penalty for s in skus])
        self.lead_time = np.array([s.lead_time for s in skus], dtype=np.int64)
        self.capacity = np.array([_NO_LIMIT if s.capacity is None else s.capacity for s in skus], dtype=np.int64)
        self.shared_capacity = scenario.shared_capacity
        self.initial_on_hand = np.array([s.initial_on_hand for s in skus], dtype=np.int64)
        self.base_rate = np.array([s.base_rate for s in skus])
        self.base_price = np.array([s.base_price for s in skus])
        self.elasticity = np.array([s.elasticity for s in skus])
        #: Price levels per SKU, padded with the last level, shape ``(n_skus, max_levels)``.
        self.price_levels = _ragged([s.prices for s in skus], float)
        self.n_price_levels = np.array([len(s.prices) for s in skus], dtype=np.int64)
        #: Order-quantity levels per SKU, padded, shape ``(n_skus, max_levels)``.
        self.quantity_levels = _ragged([s.order_quantities for s in skus], np.int64)
        self.n_quantity_levels = np.array([len(s.order_quantities) for s in skus], dtype=np.int64)
        #: Mean demand per period at each price level (no seasonality), same shape as price_levels.
        self.rate_levels = price_response(
            self.base_rate[:, None], self.base_price[:, None], self.elasticity[:, None], self.price_levels
        )
        self.demand = make_demand_model(scenario, self.rate_levels)
        self.substitution = make_substitution(scenario)
        self.promotion_slots = scenario.promotion_slots
        self.initial_price_idx = np.array(
            [int(np.argmin(np.abs(np.array(s.prices) - s.base_price))) for s in skus], dtype=np.int64
        )
        self._rows = np.arange(n)
        self._lot_slot = self.lead_time - 1
        self._season = np.array(scenario.seasonality)
        self._lost_sales = scenario.mode == "lost_sales"
        #: SKUs with stochastic lead times, and the cumulative pmf of each, shape ``(k, max_lead)``.
        self._stochastic = np.array([i for i, s in enumerate(skus) if s.lead_time_pmf is not None], dtype=np.int64)
        width = int(self.lead_time.max())
        self._lead_cdf = np.array(
            [np.concatenate([np.cumsum(skus[i].lead_time_pmf or ()), np.ones(width)])[:width] for i in self._stochastic]
        ).reshape(-1, width)
        self._lead_cdf[:, -1] = 1.0
        #: Single-SKU periods of the default model run on Python scalars (:meth:`_step_single`), same arithmetic.
        self._scalar_path = (
            n == 1 and type(self.demand) is PoissonDemand and not self.promotion_slots and not self._stochastic.size
        )
        self.ledger = Ledger(n, promotion=bool(self.promotion_slots))
        self.book = OrderBook()
        self.on_hand = np.zeros(n, dtype=np.int64)
        self.reserved = np.zeros(n, dtype=np.int64)
        self.dock = np.zeros(n, dtype=np.int64)
        self.in_process = np.zeros(n, dtype=np.int64)
        self.backlog = np.zeros(n, dtype=np.int64)
        self.pipeline = np.zeros((n, int(self.lead_time.max())), dtype=np.int64)
        self.price_idx = np.zeros(n, dtype=np.int64)
        self.price = np.zeros(n)
        self.featured = np.zeros(n, dtype=bool)
        self._nothing_featured = np.zeros(n, dtype=bool)
        self._nothing_featured.flags.writeable = False
        self.last_lead_time = self.lead_time.copy()
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        """Back to the scenario's initial state: period 0, initial stock, empty pipeline and book."""
        self.period = 0
        self.clock_h = 0.0
        self._open = False
        self.on_hand[...] = self.initial_on_hand
        for array in (self.reserved, self.dock, self.in_process, self.backlog, self.pipeline, self.featured):
            array.fill(0)
        self.last_lead_time[...] = self.lead_time
        self.price_idx[...] = self.initial_price_idx
        self.price[...] = self.price_levels[self._rows, self.price_idx]
        self.ledger.reset()
        self.book.reset()
        self._late_charged: set[int] = set()

    @property
    def season(self) -> float:
        """Demand multiplier of the current period."""
        return float(self._season[self.period % self._season.size])

    @property
    def on_order(self) -> np.ndarray:
        """Units ordered and not yet received, per SKU (a fresh array)."""
        return self.pipeline.sum(axis=1)

    @property
    def available(self) -> np.ndarray:
        """Units on hand and not reserved, per SKU (a fresh array)."""
        return self.on_hand - self.reserved

    def start_period(self) -> None:
        """Open the period: receive the lots due now (written off beyond capacity)."""
        if self._open:
            raise RuntimeError("start_period() called twice without end_period()")
        self._open = True
        arrived = self.pipeline[:, 0].copy()
        self.pipeline[:, :-1] = self.pipeline[:, 1:]
        self.pipeline[:, -1] = 0
        accepted = np.minimum(arrived, self.capacity - self.on_hand - self.dock)
        if self.shared_capacity is not None:
            room = self.shared_capacity - int(self.on_hand.sum() + self.dock.sum())
            accepted = np.diff(np.minimum(np.cumsum(accepted), room), prepend=0)
        if self.put_away_required:
            self.dock += accepted
        else:
            self.on_hand += accepted
        units = self.ledger.units
        units[RECEIVED] += arrived
        units[WRITTEN_OFF] += arrived - accepted

    def end_period(self) -> float:
        """Close the period: holding cost and backorder penalty, then the ledger closes.

        Returns:
            The period's profit (currency units).
        """
        self._require_open()
        money = self.ledger.money
        money[HOLDING_COST] += float(self.holding_cost @ (self.on_hand + self.dock))
        if not self._lost_sales:
            backlog = self.backlog + self._open_order_units()
            money[PENALTY] += float(self.penalty @ backlog)
        if self.promotion_slots:
            money[PROMOTION_COST] += self.scenario.promotion.slot_cost * int(self.featured.sum())
        self._open = False
        self.period += 1
        self.clock_h = self.period * self.scenario.period_hours
        return self.ledger.close_period()

    def step_period(
        self,
        order_idx: np.ndarray,
        price_idx: np.ndarray,
        rng: np.random.Generator,
        featured: np.ndarray | None = None,
    ) -> float:
        """One whole Inventory-v0 period with decisions as level indices.

        Args:
            order_idx: Order-quantity level per SKU, shape ``(n_skus,)``.
            price_idx: Price level per SKU, shape ``(n_skus,)``.
            rng: Generator for the lead-time and demand draws.
            featured: SKUs to feature this period (see :meth:`set_promotions`); ``None``: none.

        Returns:
            The period's profit (currency units).

        Raises:
            ValueError: for a level out of range or too many featured SKUs (nothing changes).
        """
        order_idx = self._check_levels("order level", order_idx, self.n_quantity_levels)
        price_idx = self._check_levels("price level", price_idx, self.n_price_levels)
        mask = self._check_featured(featured)
        if self._scalar_path:
            return self._step_single(int(order_idx[0]), int(price_idx[0]), rng)
        self.start_period()
        self._set_price_idx(price_idx)
        self.featured[...] = mask
        self._place(self.quantity_levels[self._rows, order_idx], rng)
        window = Window(self.period, self.clock_h, self.scenario.period_hours, True)
        demand = self.demand.draw(self.demand.rates(price_idx, window, self.featured), rng, window)
        self._sell(demand, rng, window)
        return self.end_period()

    # ------------------------------------------------------------------ decisions
    def set_prices(self, prices: np.ndarray | Mapping[str, float]) -> None:
        """Set selling prices: an array of absolute prices per SKU, or ``{sku_id: price}``.

        Raises:
            ValueError: for an unknown SKU or a price that is not one of the SKU's levels.
        """
        idx = self.price_idx.copy()
        for i, value in self._per_sku(prices, "price"):
            matches = np.flatnonzero(np.isclose(self.price_levels[i, : self.n_price_levels[i]], value))
            if matches.size == 0:
                sku = self.scenario.skus[i]
                raise ValueError(f"price {value!r} for SKU {sku.id!r} is not one of its levels {list(sku.prices)}")
            idx[i] = matches[0]
        self._set_price_idx(idx)

    def order_stock(self, quantities: np.ndarray | Mapping[str, int], rng: np.random.Generator | None = None) -> None:
        """Place replenishment orders: units per SKU as an array, or ``{sku_id: units}``.

        Paid now (unit cost, plus the fixed cost for each SKU with a non-zero quantity);
        each lot arrives at the start of period ``period + lead_time`` (its drawn lead time
        for SKUs with a ``lead_time_pmf``, which need ``rng``). Needs an open period.

        Raises:
            ValueError: for an unknown SKU, a negative or non-integer quantity, or stochastic
                lead times without ``rng``.
        """
        self._require_open()
        qty = np.zeros(self.n_skus, dtype=np.int64)
        for i, value in self._per_sku(quantities, "order quantity"):
            if isinstance(value, (bool, np.bool_)) or value != int(value) or value < 0:
                raise ValueError(f"order quantity for SKU {self.scenario.skus[i].id!r} must be a whole number >= 0, got {value!r}")
            qty[i] = int(value)
        self._place(qty, rng)

    def set_promotions(self, featured: np.ndarray | None) -> None:
        """Feature SKUs in the recommendation slots, from now until changed.

        ``featured`` is a boolean mask (or 0/1) per SKU with at most ``promotion_slots``
        set, or ``None`` for none. Featured SKUs' demand rises by the scenario's uplift (part
        of it taken from their category); each costs the slot cost per period, charged when
        the period closes.

        Raises:
            ValueError: for a wrong shape or more SKUs than slots (nothing changes).
        """
        self.featured[...] = self._check_featured(featured)

    def sell(self, demand: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Instant fulfilment of per-SKU demand (units), at the prices in force.

        Lost-sales mode: sales = min(demand, available), the rest lost (a share moving to
        substitutes first, where the scenario names them: that needs ``rng``). Backorder
        mode: the backlog is served first, unmet demand joins the backlog (charged at the
        price in force when it ships).

        Returns:
            Units sold per SKU.
        """
        self._require_open()
        demand = np.asarray(demand)
        if demand.shape != (self.n_skus,) or (demand < 0).any():
            raise ValueError(f"demand must be {self.n_skus} non-negative counts, got {demand!r}")
        if self.substitution is not None and rng is None:
            raise ValueError("sell() needs rng in a scenario with demand substitution")
        return self._sell(demand.astype(np.int64), rng, None)

    # ------------------------------------------------------------------ order book
    def arrive_orders(self, hours: float, rng: np.random.Generator) -> list[Order]:
        """Bring in the customer orders of the next ``hours`` and advance the clock.

        Orders are placed at uniform times in the window, priced at the prices in force,
        due ``due_hours`` later. Needs an open period.

        Returns:
            The new ``PLACED`` orders, in placement order.
        """
        self._require_open()
        if not hours > 0:
            raise ValueError(f"hours must be > 0, got {hours!r}")
        window = Window(self.period, self.clock_h, hours, False)
        units = self.demand.draw(self.demand.rates(self.price_idx, window, self.featured), rng, window)
        if self.substitution is not None:  # units the available stock cannot serve may move to a substitute
            out, moved_in = self.substitution.move(np.maximum(units - self.available, 0), rng)
            units = units - out + moved_in
        due = self.scenario.due_hours
        orders = [
            self.book.add(t, t + due, skus, qty, self.price[skus].copy() if prices is None else prices)
            for t, skus, qty, prices in self.demand.orders(units, rng, window)
        ]
        self.ledger.units[DEMAND] += units
        self.clock_h += hours
        return orders

    def allocate(self, order_id: int) -> bool:
        """Reserve on-hand stock for every line of a ``PLACED`` order.

        Returns:
            True if allocated; False (nothing reserved) if some line lacks available stock.
        """
        order = self.book.get(order_id, OrderState.PLACED)
        if (self.available[order.skus] < order.quantities).any():
            return False
        self.reserved[order.skus] += order.quantities
        order.state = OrderState.ALLOCATED
        return True

    def pick(self, order_id: int, line: int | None = None) -> None:
        """Pick one line (or all unpicked lines) of an ``ALLOCATED`` order from its slot.

        The units leave on hand (and the reservation) and are in process; the order is
        ``PICKED`` once all its lines are.
        """
        order = self.book.get(order_id, OrderState.ALLOCATED)
        lines = np.flatnonzero(~order.picked) if line is None else np.array([line])
        if line is not None and not (0 <= line < order.skus.size and not order.picked[line]):
            raise ValueError(f"order {order_id} has no unpicked line {line!r}")
        skus, qty = order.skus[lines], order.quantities[lines]
        self.on_hand[skus] -= qty
        self.reserved[skus] -= qty
        self.in_process[skus] += qty
        order.picked[lines] = True
        if order.picked.all():
            order.state = OrderState.PICKED

    def ship(self, order_id: int) -> float:
        """Ship a ``PICKED`` order: its units are sold at the order's prices.

        Returns:
            The revenue (currency units).
        """
        order = self.book.get(order_id, OrderState.PICKED)
        self.in_process[order.skus] -= order.quantities
        self.ledger.units[SALES][order.skus] += order.quantities
        if order.placed_h >= self.period * self.scenario.period_hours:  # demand of this period, served in it
            self.ledger.filled[order.skus] += order.quantities
        revenue = float(order.quantities @ order.prices)
        self.ledger.money[REVENUE] += revenue
        order.state = OrderState.SHIPPED
        return revenue

    def lose(self, order_id: int) -> None:
        """Lose a ``PLACED`` or ``ALLOCATED`` (nothing picked) order; its reservation is released.

        Lost units are charged the SKU's penalty in lost-sales mode.
        """
        order = self.book.get(order_id, OrderState.PLACED, OrderState.ALLOCATED)
        if order.picked.any():
            raise ValueError(f"order {order_id} is partly picked and cannot be lost")
        if order.state is OrderState.ALLOCATED:
            self.reserved[order.skus] -= order.quantities
        self.ledger.units[LOST][order.skus] += order.quantities
        if self._lost_sales:
            self.ledger.money[PENALTY] += float(order.quantities @ self.penalty[order.skus])
        order.state = OrderState.LOST

    def expire_orders(self, now_h: float | None = None) -> list[Order]:
        """Lose every ``PLACED`` order due before ``now_h`` (default: the clock); lost-sales mode only.

        Returns:
            The orders lost (none in backorder mode).
        """
        if not self._lost_sales:
            return []
        now = self.clock_h if now_h is None else now_h
        expired = [o for o in self.book.in_state(OrderState.PLACED) if o.due_h < now]
        for order in expired:
            self.lose(order.id)
        return expired

    def expedite(self, order: Order, due_after_h: float) -> None:
        """Make a just-placed order an express order: due ``due_after_h`` hours after placement.

        Raises:
            ValueError: if the order is no longer ``PLACED`` or ``due_after_h`` is not positive.
        """
        if order.state is not OrderState.PLACED:
            raise ValueError(f"order {order.id} is {order.state.name}; only a placed order can be expedited")
        if not due_after_h > 0:
            raise ValueError(f"due_after_h must be > 0, got {due_after_h!r}")
        order.due_h = order.placed_h + due_after_h

    def charge_late(self, order_id: int, now_h: float, penalty: float) -> bool:
        """Charge ``penalty`` (currency units) once for an order that is past its due time at ``now_h``.

        A late charge is a penalty in the ledger, charged at most once per order however
        long it stays open.

        Returns:
            Whether the order was charged now (False if not yet due, or charged before).
        """
        if order_id in self._late_charged or not self.book.orders[order_id].due_h < now_h:
            return False
        self._late_charged.add(order_id)
        self.ledger.money[PENALTY] += penalty
        return True

    def put_away(self, sku: int | str, units: int) -> None:
        """Move ``units`` of a SKU from the dock into its slot (sellable from now).

        Raises:
            ValueError: for an unknown SKU or more units than are in the dock.
        """
        i = self.scenario.sku_index(sku) if isinstance(sku, str) else int(sku)
        if not 0 <= i < self.n_skus:
            raise ValueError(f"unknown SKU index {sku!r}")
        if isinstance(units, bool) or int(units) != units or not 0 <= units <= self.dock[i]:
            raise ValueError(f"put_away: {units!r} units of SKU {i}, but {int(self.dock[i])} are in the dock")
        self.dock[i] -= int(units)
        self.on_hand[i] += int(units)

    # ------------------------------------------------------------------ checks and views
    def check_invariants(self) -> None:
        """Raise :class:`InvariantError` if any invariant of shared/DESIGN.md fails.

        Checked: units per SKU (initial + received = shipped + on hand + dock + in
        process + written off); ordered = received + on order; demand = sales + lost +
        backlog (backlog: backordered units plus units of open orders); no negative stock;
        reserved <= on hand and equal to the allocated unpicked lines; in process equal to
        the picked unshipped lines; capacities respected; each order in one valid state.
        """
        units, money = self.ledger.totals()
        stocks = {"on_hand": self.on_hand, "reserved": self.reserved, "dock": self.dock,
                  "in_process": self.in_process, "backlog": self.backlog, "pipeline": self.pipeline}
        for name, array in stocks.items():
            if (array < 0).any():
                raise InvariantError(f"negative {name}: {array}")
        lhs = self.initial_on_hand + units[RECEIVED]
        rhs = units[SALES] + self.on_hand + self.dock + self.in_process + units[WRITTEN_OFF]
        if not np.array_equal(lhs, rhs):
            raise InvariantError(f"units not conserved: initial + received {lhs} != {rhs}")
        if not np.array_equal(units[ORDERED], units[RECEIVED] + self.on_order):
            raise InvariantError("ordered != received + on order")
        reserved = np.zeros(self.n_skus, dtype=np.int64)
        in_process = np.zeros(self.n_skus, dtype=np.int64)
        open_units = np.zeros(self.n_skus, dtype=np.int64)
        for order in self.book.orders.values():
            if not isinstance(order.state, OrderState):
                raise InvariantError(f"order {order.id} has no valid state")
            if order.state in (OrderState.PLACED, OrderState.ALLOCATED, OrderState.PICKED):
                np.add.at(open_units, order.skus, order.quantities)
            if order.state is OrderState.ALLOCATED:
                np.add.at(reserved, order.skus, order.quantities * ~order.picked)
            if order.state in (OrderState.ALLOCATED, OrderState.PICKED):
                np.add.at(in_process, order.skus, order.quantities * order.picked)
            if order.state is OrderState.PLACED and order.picked.any():
                raise InvariantError(f"order {order.id} picked before allocation")
        if not np.array_equal(reserved, self.reserved) or (self.reserved > self.on_hand).any():
            raise InvariantError(f"reserved {self.reserved} != allocated lines {reserved} or > on hand")
        if not np.array_equal(in_process, self.in_process):
            raise InvariantError(f"in process {self.in_process} != picked lines {in_process}")
        if not np.array_equal(units[DEMAND], units[SALES] + units[LOST] + self.backlog + open_units):
            raise InvariantError("demand != sales + lost + backlog")
        if (self.on_hand + self.dock > self.capacity).any():
            raise InvariantError("per-SKU capacity exceeded")
        if self.shared_capacity is not None and int(self.on_hand.sum() + self.dock.sum()) > self.shared_capacity:
            raise InvariantError("shared capacity exceeded")
        if not np.isfinite(money).all() or (money[1:] < 0).any() or money[0] < 0:
            raise InvariantError(f"money flows must be finite and non-negative: {money}")

    def kpis(self) -> dict[str, dict[str, Any]]:
        """The KPIs as ``{"period": {...}, "cumulative": {...}}``.

        The ledger's flows (this period's and the sums since reset) plus the current stocks ``on_hand``, ``on_order`` and ``price``
        as fresh per-SKU arrays. The shape the Inventory-v0 and Fulfilment-v0 ``info`` carry. ``fill_rate`` is in
        [0, 1]: for the period, the share of the demand that arrived in it served within it; cumulatively, all units
        served over all demanded (see :mod:`warehouse_sim.operations.ledger`).
        """
        ledger = self.ledger
        period = Ledger.as_dict(ledger.last_units, ledger.last_money, filled=ledger.last_filled)
        cumulative = Ledger.as_dict(ledger.cum_units, ledger.cum_money)
        for flows in (period, cumulative):
            flows.update(on_hand=self.on_hand.copy(), on_order=self.on_order, price=self.price.copy())
            if self.promotion_slots:
                flows["featured"] = self.featured.copy()
        return {"period": period, "cumulative": cumulative}

    # ------------------------------------------------------------------ internals
    def _require_open(self) -> None:
        if not self._open:
            raise RuntimeError("no open period: call start_period() first")

    def _per_sku(self, values: np.ndarray | Mapping[str, Any], what: str) -> list[tuple[int, Any]]:
        if isinstance(values, Mapping):
            return [(self.scenario.sku_index(k), v) for k, v in values.items()]
        array = np.asarray(values)
        if array.shape != (self.n_skus,):
            raise ValueError(f"{what} must have shape ({self.n_skus},), got {array.shape}")
        if not np.isfinite(array.astype(float)).all():
            raise ValueError(f"{what} must be finite, got {array}")
        return list(enumerate(array.tolist()))

    def _check_levels(self, what: str, idx: np.ndarray, n_levels: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        if idx.shape != (self.n_skus,) or idx.dtype.kind not in "iu":
            raise ValueError(f"{what} must be {self.n_skus} integers, got {idx!r}")
        if (idx < 0).any() or (idx >= n_levels).any():
            raise ValueError(f"{what} out of range: {idx} (levels per SKU {n_levels})")
        return idx

    def _set_price_idx(self, idx: np.ndarray) -> None:
        self.price_idx[...] = idx
        self.price[...] = self.price_levels[self._rows, idx]

    def _check_featured(self, featured: np.ndarray | None) -> np.ndarray:
        if featured is None:
            return self._nothing_featured
        mask = np.asarray(featured)
        if mask.shape != (self.n_skus,) or mask.dtype.kind not in "biu" or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"featured must be {self.n_skus} booleans (or 0/1), got {featured!r}")
        count = int(mask.sum())
        if count > self.promotion_slots:
            raise ValueError(f"{count} SKUs featured but the scenario has {self.promotion_slots} promotion slots")
        return mask.astype(bool)

    def _place(self, qty: np.ndarray, rng: np.random.Generator | None) -> None:
        slots = self._lot_slot
        if self._stochastic.size:
            if rng is None:
                raise ValueError("ordering SKUs with stochastic lead times (lead_time_pmf) needs rng")
            draws = rng.random(self._stochastic.size)
            slots = slots.copy()
            slots[self._stochastic] = (draws[:, None] >= self._lead_cdf).sum(axis=1)
            self.last_lead_time[...] = slots + 1
        self.pipeline[self._rows, slots] += qty
        units, money = self.ledger.units, self.ledger.money
        units[ORDERED] += qty
        money[PURCHASE_COST] += float(self.unit_cost @ qty)
        money[ORDER_COST] += self.scenario.fixed_order_cost * int(np.count_nonzero(qty))

    def _sell(self, demand: np.ndarray, rng: np.random.Generator | None, window: Window | None) -> np.ndarray:
        available = self.on_hand - self.reserved
        units, money = self.ledger.units, self.ledger.money
        if self._lost_sales:
            sales = np.minimum(demand, available)
            if self.substitution is not None:
                assert rng is not None
                out, moved_in = self.substitution.move(demand - sales, rng)
                demand = demand - out + moved_in
                sales = sales + np.minimum(moved_in, available - sales)
            lost = demand - sales
            units[LOST] += lost
            money[PENALTY] += float(self.penalty @ lost)
            self.ledger.filled += sales
        else:
            wanted = self.backlog + demand
            sales = np.minimum(wanted, available)
            self.ledger.filled += np.maximum(sales - self.backlog, 0)  # the backlog is served first
            self.backlog[...] = wanted - sales
        self.on_hand -= sales
        units[DEMAND] += demand
        units[SALES] += sales
        recorded = self.demand.unit_prices(window) if window is not None and self._lost_sales else None
        if recorded is None:
            money[REVENUE] += float(self.price @ sales)
        else:  # a replay with prices: the units served first, at their recorded prices
            money[REVENUE] += float(sum(prices[:sold].sum() for prices, sold in zip(recorded, sales.tolist(), strict=True)))
        return sales

    def _step_single(self, q_idx: int, p_idx: int, rng: np.random.Generator) -> float:
        """:meth:`step_period` for one SKU on Python scalars.

        The same steps and arithmetic as the array path (a test checks both give identical states and ledgers), ~5x faster.
        """
        if self._open:
            raise RuntimeError("step_period() called inside an open period")
        sku = self.scenario.skus[0]
        pipe = self.pipeline[0]
        lots = pipe.tolist()
        arrived = lots[0]
        pipe[:] = lots[1:] + [0]
        on_hand, dock, reserved = int(self.on_hand[0]), int(self.dock[0]), int(self.reserved[0])
        accepted = min(arrived, int(self.capacity[0]) - on_hand - dock)
        if self.shared_capacity is not None:
            accepted = min(accepted, self.shared_capacity - on_hand - dock)
        if self.put_away_required:
            dock += accepted
        else:
            on_hand += accepted
        price = sku.prices[p_idx]
        qty = sku.order_quantities[q_idx]
        pipe[sku.lead_time - 1] += qty
        rate = float(self.rate_levels[0, p_idx])
        if self._season.size > 1:
            rate = rate * self.season
        demand = int(rng.poisson(rate))
        available = on_hand - reserved
        backlog = int(self.backlog[0])
        if self._lost_sales:
            sales = min(demand, available)
            lost = demand - sales
            penalty = float(self.penalty[0]) * lost
            filled = sales
        else:
            wanted = backlog + demand
            sales = min(wanted, available)
            filled = max(sales - backlog, 0)  # the backlog is served first
            backlog = wanted - sales
            lost = 0
        on_hand -= sales
        if not self._lost_sales:
            penalty = float(self.penalty[0]) * (backlog + int(self._open_order_units()[0]))
        self.on_hand[0], self.dock[0], self.backlog[0] = on_hand, dock, backlog
        self.price_idx[0], self.price[0] = p_idx, price
        self.ledger.units[:, 0] += (demand, sales, lost, qty, arrived, arrived - accepted)
        self.ledger.filled[0] += filled
        self.ledger.money += (
            price * sales,
            float(self.unit_cost[0]) * qty,
            self.scenario.fixed_order_cost * (qty != 0),
            float(self.holding_cost[0]) * (on_hand + dock),
            penalty,
        )
        self.period += 1
        self.clock_h = self.period * self.scenario.period_hours
        return self.ledger.close_period()

    def _open_order_units(self) -> np.ndarray:
        units = np.zeros(self.n_skus, dtype=np.int64)
        for order in self.book.orders.values():
            if order.state in (OrderState.PLACED, OrderState.ALLOCATED, OrderState.PICKED):
                np.add.at(units, order.skus, order.quantities)
        return units
