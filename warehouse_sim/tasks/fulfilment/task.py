"""The fulfilment task: a robot fleet serving price-driven demand from shared stock, one epoch per step.

The task composes the floor (:mod:`warehouse_sim.geometry`), a fleet executor
(:mod:`warehouse_sim.tasks.fulfilment.executor`), the robots' jobs
(:mod:`warehouse_sim.tasks.fulfilment.jobs`) and the operations model
(:mod:`warehouse_sim.operations`) on one clock. The Gymnasium adapter is
:class:`warehouse_sim.envs.fulfilment.FulfilmentEnv`, whose docstring is the spec.

Clocks (all simulated): the fleet executor and the jobs at ``control_hz``; customer
orders arrive, are allocated, expire and turn late once per simulated minute; the agent
decides once per epoch (``epoch_minutes``), one operations period per epoch.

Two fidelities of one warehouse share everything but the executor: ``"physics"``
(:class:`~warehouse_sim.tasks.fulfilment.physics_fleet.PhysicsFleet`, every control tick
simulated) and ``"fast"`` (:class:`~warehouse_sim.tasks.fulfilment.fast_fleet.FastFleet`,
calibrated move times; the task then jumps over the control ticks at which nothing
happens: no job timer runs out, no robot arrives or may move, no retry is due, no order
minute ends).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import make_layout
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.operations.orders import Order, OrderState
from warehouse_sim.tasks.base import PHYSICS_ERROR, StepOutcome, Task
from warehouse_sim.tasks.fulfilment.dispatch import DISPATCH_RULES
from warehouse_sim.tasks.fulfilment.executor import FleetExecutor
from warehouse_sim.tasks.fulfilment.fast_fleet import FastFleet
from warehouse_sim.tasks.fulfilment.jobs import JobBoard
from warehouse_sim.tasks.fulfilment.physics_fleet import PhysicsFleet
from warehouse_sim.tasks.fulfilment.scenario import WarehouseScenario
from warehouse_sim.tasks.fulfilment.slotting import assign_slots, home_cells, price_classes

_OPS_TICK_S = 60.0  # orders arrive, are allocated, expire and turn late once per simulated minute
_DISPATCH_RETRY_S = 1.0  # fast fidelity: free robots and waiting work that found no plan try again this much later
Fidelity = Literal["physics", "fast"]
FIDELITIES: tuple[str, ...] = ("physics", "fast")
_N_GLOBAL = 6 + len(DISPATCH_RULES)
_N_PER_SKU = 7
#: Upper bound of every observation entry (the observation is clipped to [0, OBSERVATION_HIGH]).
OBSERVATION_HIGH = 10.0


class FulfilmentTask(Task):
    """Orders, stock, robots and money of one warehouse, advanced one epoch at a time.

    Args:
        scenario: The warehouse scenario.
        fidelity: ``"physics"`` or ``"fast"`` (needs the scenario's ``move_seconds``).
        gui: Open the PyBullet GUI (physics only).
        driver: ``"planner"`` or ``"policy:PATH.onnx"`` (see
            :mod:`warehouse_sim.tasks.fulfilment.drivers`; physics only).

    Raises:
        ValueError: for an unknown fidelity, or ``"fast"`` with a GUI, a policy driver
            or an uncalibrated scenario.

    Attributes:
        scenario: The warehouse scenario.
        ops_scenario: Its operations scenario per epoch (:meth:`WarehouseScenario.resolved_operations`).
        model: The operations model (stock, orders, ledger).
        reward_scale: Money per unit of reward.
        layout: The floor.
        classes: Price class per SKU, ``(n_skus,)``.
        fleet: The executor moving the robots.
        jobs: The robots' work.
    """

    def __init__(
        self, scenario: WarehouseScenario, *, fidelity: Fidelity = "physics", gui: bool = False, driver: str = "planner"
    ) -> None:
        if fidelity not in FIDELITIES:
            raise ValueError(f"fidelity must be 'physics' or 'fast', got {fidelity!r}")
        if fidelity == "fast":
            if gui or driver != "planner":
                raise ValueError("fidelity='fast' simulates no physics: it takes no GUI and no driver policy")
            if scenario.move_seconds is None:
                raise ValueError(f"fidelity='fast': scenario {scenario.name!r} has no calibrated move_seconds "
                                 "(run training/calibrate_fast.py)")
        self.scenario = scenario
        self.fidelity = fidelity
        self.sim_seconds_per_step = scenario.epoch_minutes * 60.0
        self.ops_scenario = scenario.resolved_operations()
        self.model = OperationsModel(self.ops_scenario, put_away=True)
        self.reward_scale = float(self.ops_scenario.reward_scale)
        self.layout = make_layout(scenario.layout)
        self.slot_faces = assign_slots(self.layout, self.ops_scenario)
        self.classes = price_classes(self.ops_scenario, scenario.n_price_classes)
        self.n_classes = int(self.classes.max()) + 1
        homes = home_cells(self.layout, scenario.n_robots)
        self.fleet: FleetExecutor
        if scenario.move_seconds is not None and fidelity == "fast":
            self.fleet = FastFleet(
                self.layout, homes, RobotParams(), control_hz=scenario.control_hz, move_seconds=scenario.move_seconds
            )
        else:
            self.fleet = PhysicsFleet(
                self.layout, homes, RobotParams(), physics_hz=scenario.physics_hz, drive_hz=scenario.drive_hz,
                control_hz=scenario.control_hz, driver=driver, gui=gui,
            )
        self.jobs = JobBoard(scenario, self.layout, self.slot_faces, self.fleet, self.model)
        self._controls_per_epoch = int(round(scenario.epoch_minutes * 60 * scenario.control_hz))
        self._controls_per_ops = int(round(_OPS_TICK_S * scenario.control_hz))
        m = self.model
        #: Price levels per class: the most levels of any SKU of the class, ``(n_classes,)``.
        self.n_price_levels = np.array(
            [int(m.n_price_levels[self.classes == k].max()) for k in range(self.n_classes)], dtype=np.int64
        )
        caps = np.array([s.capacity if s.capacity is not None else 2 * max(s.order_quantities) for s in m.scenario.skus])
        self._scale = np.maximum(caps, 1).astype(float)
        self._rate_scale = np.maximum(m.base_rate, 1e-6)
        self._price_span = np.maximum(m.n_price_levels - 1, 1).astype(float)
        self._lead_epochs = m.lead_time.astype(float)
        #: Called after every control tick (e.g. to capture video frames), or None; the
        #: fast fidelity calls it every ``on_tick_every`` ticks.
        self.on_tick: Callable[[], None] | None = None
        self.on_tick_every = 1
        #: Promotion slots of the scenario (0: none); with slots the action ends with one entry per slot.
        self.slots = self.ops_scenario.promotion_slots
        self._per_sku = _N_PER_SKU + int(self.slots > 0)
        self._decision: tuple[np.ndarray, np.ndarray, int, np.ndarray | None] = (
            m.initial_price_idx.copy(), np.zeros(m.n_skus, dtype=np.int64), 0, None
        )
        self.reset(np.random.default_rng(0))

    @property
    def has_physics(self) -> bool:  # type: ignore[override]
        """Whether the fleet is simulated in PyBullet (the physics fidelity)."""
        return isinstance(self.fleet, PhysicsFleet)

    @property
    def observation_size(self) -> int:
        """Length of the observation vector: ``6 + 3 + 7 n_skus`` (``8 n_skus`` with promotion slots)."""
        return _N_GLOBAL + self._per_sku * self.model.n_skus

    @property
    def client(self) -> Any:
        """The physics client of the fleet (for the GUI viewer and white-box tests)."""
        return getattr(self.fleet, "client", None)

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: np.random.Generator) -> None:
        """Initial stock, empty books, robots at home, FIFO; a child of ``rng`` drives the shift's demand."""
        self.model.reset()
        self.fleet.reset()
        self.jobs.reset()
        self.rng = rng.spawn(1)[0]
        self._ticks = 0  # controller ticks since reset: the one clock
        self.epoch = 0
        self.rule = DISPATCH_RULES.index("fifo")
        self._open: list[int] = []  # ids of orders not yet terminal, in placement order
        self.orders_shipped = 0
        self.orders_shipped_late = 0
        self.cycle_time_sum_s = 0.0
        self.busy_s = 0.0
        self.cum_busy_s = 0.0
        self.last_demand = np.zeros(self.model.n_skus, dtype=np.int64)
        self.physics_error = False
        # the event clock (fast fidelity): when each robot's job was last advanced, and
        # robot -> the tick at which its job needs attention next
        self._last_attended = [0] * self.fleet.n
        self._due: dict[int, int] = {}

    def close(self) -> None:
        """Release the fleet's physics client (idempotent)."""
        self.fleet.close()

    # ------------------------------------------------------------------ decisions
    def decode(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, np.ndarray | None]:
        """Split a MultiDiscrete action into (price level per SKU, order level per SKU, rule, featured SKUs).

        The featured SKUs are a boolean mask from the slot entries after the rule (each 0 or
        ``1 + i``), or ``None`` without promotion slots.
        """
        c, n = self.n_classes, self.model.n_skus
        price_idx = self.sku_price_levels(action[:c])
        featured = None
        if self.slots:
            featured = np.zeros(n, dtype=bool)
            picks = action[c + n + 1 :].astype(np.int64)
            featured[picks[picks > 0] - 1] = True
        return price_idx, action[c : c + n].astype(np.int64), int(action[c + n]), featured

    def sku_price_levels(self, class_levels: np.ndarray) -> np.ndarray:
        """Price level per SKU, ``(n_skus,)``, from one level per class, ``(n_classes,)``.

        A SKU with fewer levels than its class takes its own highest.
        """
        return np.minimum(np.asarray(class_levels)[self.classes], self.model.n_price_levels - 1)

    def apply(self, action: Any) -> None:
        """Take the epoch's decisions from a validated MultiDiscrete action (see :meth:`decode`)."""
        self._decision = self.decode(np.asarray(action))

    def advance(self) -> StepOutcome:
        """Run the epoch; reward = profit / reward_scale; terminated at the end of the shift."""
        profit = self.run_epoch(*self._decision)
        if self.physics_error:
            return StepOutcome(profit / self.reward_scale, truncated=True, reason=PHYSICS_ERROR)
        return StepOutcome(profit / self.reward_scale, terminated=self.epoch >= self.scenario.n_epochs)

    def run_epoch(
        self, price_idx: np.ndarray, order_idx: np.ndarray, rule: int, featured: np.ndarray | None = None
    ) -> float:
        """Apply one epoch's decisions and simulate until the next epoch.

        Args:
            price_idx: Price level per SKU.
            order_idx: Replenishment order level per SKU.
            rule: Index in :data:`DISPATCH_RULES`.
            featured: SKUs featured in the promotion slots for the epoch (boolean mask), or ``None``.

        Returns:
            The epoch's profit (currency units), from the ledger.
        """
        m = self.model
        dock_before = m.dock.copy()
        m.start_period()
        m.set_prices(m.price_levels[np.arange(m.n_skus), price_idx])
        m.order_stock(m.quantity_levels[np.arange(m.n_skus), order_idx], self.rng)
        if self.slots:
            m.set_promotions(featured)
        self.rule = rule
        self.jobs.add_putaways(m.dock - dock_before, self.now_s, self.now_s + self.ops_scenario.due_hours * 3600.0)
        demand_before = m.ledger.units[0].copy()
        self.busy_s = 0.0
        if isinstance(self.fleet, FastFleet):
            self._run_events(self.fleet)
        else:
            self._run_ticks()
        self.last_demand = m.ledger.units[0] - demand_before
        self.epoch += 1
        return m.end_period()

    def _run_ticks(self) -> None:
        """One epoch, every control tick simulated (the physics fidelity)."""
        fleet, on_tick = self.fleet, self.on_tick
        dt = 1.0 / self.scenario.control_hz
        for tick in range(1, self._controls_per_epoch + 1):
            busy, shipped = self.jobs.tick(self.now_s, self.rule)
            self.busy_s += busy * dt
            self.cum_busy_s += busy * dt
            self._record_shipments(shipped)
            fleet.control()
            fleet.advance()
            self._ticks += 1
            if on_tick is not None:
                on_tick()
            if tick % self._controls_per_ops == 0:
                self._ops_tick()
                if not fleet.check():
                    self.physics_error = True
                    break

    def _run_events(self, fleet: FastFleet) -> None:
        """One epoch on the event clock (the fast fidelity): only the control ticks at which something happens.

        A tick runs the jobs of the robots that need them (a work timer runs out, a
        robot finished its plan, a retry is due; dispatch and homing whenever jobs run),
        then the fleet's arrivals and waiting robots, as the per-tick loop would; the
        ticks between are skipped with their only effects applied (robot time on jobs).
        """
        jobs, hz, ops = self.jobs, self.scenario.control_hz, self._controls_per_ops
        dt, n_robots = 1.0 / hz, len(jobs.jobs)
        end = self._ticks + self._controls_per_epoch
        last, due = self._last_attended, self._due
        dispatch_at: int | None = self._ticks  # new put-away work: dispatch at once
        while self._ticks < end:
            k = self._ticks
            now = k / hz
            busy = n_robots - jobs.jobs.count(None)
            attend = [r for r, t in due.items() if t <= k]
            if attend or (dispatch_at is not None and dispatch_at <= k):
                shipped = jobs.attend({r: k - last[r] for r in attend}, now, self.rule)
                for r in attend:
                    del due[r]
                    last[r] = k
                self._record_shipments(shipped)
                dispatch_at = None
                self._schedule_jobs(attend, due, last, k)
                if jobs.items and any(j is None and fleet.idle(r) for r, j in enumerate(jobs.jobs)):
                    dispatch_at = k + max(1, int(round(_DISPATCH_RETRY_S * hz)))
            fleet.control_at(k)
            # the next tick at which the task must look (no further than the order minute) ...
            limit = min((k // ops + 1) * ops, end)
            if due:
                limit = min(limit, min(due.values()))
            if dispatch_at is not None and dispatch_at < limit:
                limit = dispatch_at
            if self.on_tick is not None:
                limit = min(limit, (k // self.on_tick_every + 1) * self.on_tick_every)
            # ... or earlier, after a robot finishes its plan; till then the fleet runs on its own
            nxt = k + 1 if fleet.just_idle else fleet.run_until(k + 1, max(limit, k + 1))
            for r in fleet.just_idle:  # the jobs see an arrival at the next tick
                due[r] = min(due.get(r, nxt), nxt)
            self.busy_s += busy * dt + (n_robots - jobs.jobs.count(None)) * dt * (nxt - k - 1)
            self._ticks = nxt
            if self.on_tick is not None and nxt % self.on_tick_every == 0:
                self.on_tick()
            if nxt % ops == 0:
                self._ops_tick()
                if jobs.items:
                    dispatch_at = nxt
        self.cum_busy_s += self.busy_s

    def _schedule_jobs(self, robots: list[int], due: dict[int, int], last: list[int], k: int) -> None:
        """After the jobs of ``robots`` ran at tick ``k``: when each of them needs attention next.

        Only they can have changed in a way that needs a tick (robots dispatched meanwhile
        are driving, and are seen again when their plan ends).
        """
        jobs, fleet, hz = self.jobs, self.fleet, self.scenario.control_hz
        for r in robots:
            job = jobs.jobs[r]
            left = jobs.ticks_left(r)
            if left is not None:
                due[r] = last[r] + left
            elif fleet.idle(r) and (job is not None or fleet.cell(r) != fleet.homes[r]):
                due[r] = max(k + 1, math.ceil(fleet.retry_s[r] * hz - 1e-9))  # a failed plan, retried then

    def bare_physics_step(self) -> None:
        """The PyBullet work of one epoch without any task logic (``warehouse-sim bench``); see :meth:`PhysicsFleet.bare_physics`."""
        if not isinstance(self.fleet, PhysicsFleet):
            raise NotImplementedError("this fleet executor simulates no physics")
        self.fleet.bare_physics(self._controls_per_epoch, self._controls_per_ops)

    # ------------------------------------------------------------------ orders
    def _ops_tick(self) -> None:
        """One simulated minute of the order clock: arrivals (some express), expiry, allocation, late charges."""
        m, sc = self.model, self.scenario
        new = m.arrive_orders(_OPS_TICK_S / 3600.0, self.rng)
        if new and sc.express_fraction > 0:
            express = self.rng.random(len(new)) < sc.express_fraction
            for order, fast in zip(new, express, strict=True):
                if fast:
                    m.expedite(order, sc.express_due_minutes / 60.0)
        self._open.extend(o.id for o in new)
        now_h = self.now_s / 3600.0
        for order in m.expire_orders(now_h):
            self._open.remove(order.id)
        book = m.book.orders
        for oid in self._open:
            order = book[oid]
            if order.state is OrderState.PLACED and m.allocate(oid):
                self.jobs.add_order_lines(order)
            m.charge_late(oid, now_h, sc.late_penalty)

    def _record_shipments(self, shipped: list[int]) -> None:
        book = self.model.book.orders
        for oid in shipped:
            order = book[oid]
            self._open.remove(oid)
            self.orders_shipped += 1
            self.cycle_time_sum_s += self.now_s - order.placed_h * 3600.0
            if self.now_s > order.due_h * 3600.0:
                self.orders_shipped_late += 1

    # ------------------------------------------------------------------ views
    @property
    def ticks(self) -> int:
        """Control ticks since reset (the one clock)."""
        return self._ticks

    @property
    def now_s(self) -> float:
        """Simulated seconds since reset."""
        return self._ticks / self.scenario.control_hz

    def robot_jobs(self) -> list[str]:
        """The job kind of each robot: ``"pick"``, ``"putaway"`` or ``"idle"`` (no job, or driving home)."""
        return [job.item.kind if job is not None else "idle" for job in self.jobs.jobs]

    def open_orders(self) -> list[Order]:
        """Orders not yet shipped or lost."""
        book = self.model.book.orders
        return [book[i] for i in self._open]

    def observation(self) -> np.ndarray:
        """The observation (index table in the env docstring): a fresh float32 array clipped to [0, 10]."""
        m, sc, jobs = self.model, self.scenario, self.jobs
        n_r = self.fleet.n
        now_h = self.now_s / 3600.0
        open_orders = self.open_orders()
        n_pick = sum(1 for it in jobs.items if it.kind == "pick")
        head = np.zeros(_N_GLOBAL)
        head[0] = self.epoch / sc.n_epochs
        head[1] = self.busy_s / (n_r * sc.epoch_minutes * 60.0)
        head[2] = n_pick / (4.0 * n_r)
        head[3] = (len(jobs.items) - n_pick) / n_r
        head[4] = len(open_orders) / (4.0 * n_r)
        head[5] = sum(1 for o in open_orders if o.due_h < now_h) / n_r
        head[6 + self.rule] = 1.0
        per_sku = np.stack(
            [
                m.on_hand / self._scale,
                m.dock / self._scale,
                m.on_order / self._scale,
                m.reserved / self._scale,
                self.last_demand / self._rate_scale,
                m.price_idx / self._price_span,
                np.maximum(sc.n_epochs - self.epoch - self._lead_epochs, 0.0) / sc.n_epochs,
                *([m.featured] if self.slots else []),
            ],
            axis=1,
        ).ravel()
        obs = np.concatenate([head, per_sku])
        return np.clip(obs, 0.0, OBSERVATION_HIGH).astype(np.float32)

    def kpis(self) -> dict[str, Any]:
        """Fleet and order KPIs since reset (see the env docstring)."""
        now_h = self.now_s / 3600.0
        open_late = sum(1 for o in self.open_orders() if o.due_h < now_h)
        elapsed = max(self.now_s, 1e-9)
        fleet = self.fleet
        return {
            "orders_shipped": self.orders_shipped,
            "orders_late": self.orders_shipped_late + open_late,
            "order_cycle_time_s": self.cycle_time_sum_s / self.orders_shipped if self.orders_shipped else 0.0,
            "robot_utilisation": self.cum_busy_s / (fleet.n * elapsed) if self.now_s > 0 else 0.0,
            "collisions": fleet.collisions,
            "distance_m": fleet.distance_m,
            "backlog": len(self._open),
            "cell_moves": fleet.moves,
            "driver_fallbacks": fleet.fallbacks,
        }

    def info(self) -> dict[str, Any]:
        """The ledger's ``period``/``cumulative`` KPIs (Inventory-v0's shape), the fleet KPIs, ``epoch``, ``sim_time_s``."""
        info: dict[str, Any] = self.model.kpis()
        info.update(self.kpis())
        info["epoch"] = self.epoch
        info["sim_time_s"] = self.now_s
        return info
