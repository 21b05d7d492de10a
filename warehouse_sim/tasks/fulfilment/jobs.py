"""The robots' work: waiting work items, and one job per robot run as a state machine on the control clock.

Jobs (one per robot at a time):

* **pick** (an order line): ``to_source`` (drive to the pick face of the line's rack
  slot), ``at_source`` (``pick_seconds``; the line's units leave the slot:
  :meth:`OperationsModel.pick`), ``to_dest`` (drive to a pack-station face),
  ``at_dest`` (``drop_seconds``). The order ships when all its lines have been dropped.
* **put-away** (received stock): ``to_source`` (the receiving dock), ``at_source``
  (``load_seconds``), ``to_dest`` (the SKU's slot), ``at_dest`` (``stow_seconds``; only
  then are the units sellable: :meth:`OperationsModel.put_away`).

A robot without a job drives to its home cell (out of the aisles), unless a dispatcher
holds it where it stands (:meth:`JobBoard.hold`). Free robots get the
waiting work by a dispatch rule (:mod:`warehouse_sim.tasks.fulfilment.dispatch`), or by a
:class:`Dispatcher` set on the board (the robots as agents,
:mod:`warehouse_sim.tasks.fulfilment.agents`); both hand out work through
:meth:`JobBoard.assign`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from warehouse_sim.geometry.layout import Layout
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.operations.orders import Order
from warehouse_sim.tasks.fulfilment.dispatch import DISPATCH, DISPATCH_RULES, WorkItem
from warehouse_sim.tasks.fulfilment.executor import FleetExecutor
from warehouse_sim.tasks.fulfilment.scenario import WarehouseScenario
from warehouse_sim.tasks.fulfilment.slotting import or_far

Cell = tuple[int, int]
Stage = Literal["to_source", "at_source", "to_dest", "at_dest"]

_RETRY_S = 1.0  # a robot whose plan failed tries again this many simulated seconds later


@dataclass
class Job:
    """One robot's current job.

    Attributes:
        item: The work it carries out.
        stage: Where the job is (see the module docstring).
        timer_s: Seconds of work left at the source or destination.
        goal: The cell the robot is planned to.
        dest: Candidate destination cells (after the source).
    """

    item: WorkItem
    stage: Stage
    timer_s: float = 0.0
    goal: Cell = (0, 0)
    dest: tuple[Cell, ...] = ()


class Dispatcher(Protocol):
    """Decides which free robots take which waiting work, instead of the dispatch rule.

    Called at every dispatch moment with free robots, waiting work or not (each control
    tick on the physics clock, at the events of the fast one), before homebound robots
    are sent home; it hands out work with :meth:`JobBoard.assign` (or none: the robots
    stay free until the next moment) and may keep free robots where they stand with
    :meth:`JobBoard.hold`.
    """

    def __call__(self, board: JobBoard, free: list[int], now_s: float, rule: int) -> None:
        """Assign work to some of the ``free`` robots (``rule``: the dispatch rule in force)."""
        ...


class JobBoard:
    """Waiting work and the robots' jobs of one warehouse.

    Args:
        scenario: Work times and trip sizes.
        layout: The floor (pack-station faces, dock cells).
        slot_faces: Pick-face cells of each SKU's slot.
        fleet: The executor that plans and moves the robots.
        model: The operations model the jobs pick from, ship and put away into.

    Attributes:
        items: Work waiting for a robot, in arrival order.
        jobs: The job of each robot, or None.
        dispatcher: Who hands out waiting work at dispatch moments: None for the dispatch
            rule in force, or a :class:`Dispatcher`.
    """

    def __init__(
        self,
        scenario: WarehouseScenario,
        layout: Layout,
        slot_faces: list[tuple[Cell, ...]],
        fleet: FleetExecutor,
        model: OperationsModel,
    ) -> None:
        self.scenario = scenario
        self.slot_faces = slot_faces
        self.fleet = fleet
        self.model = model
        self._station = tuple(layout.station_faces)
        self._dock = tuple(layout.dock_cells)
        self._dt = 1.0 / scenario.control_hz
        self.dispatcher: Dispatcher | None = None
        self.reset()

    def reset(self) -> None:
        """No waiting work, no jobs."""
        self.items: list[WorkItem] = []
        self.jobs: list[Job | None] = [None] * self.fleet.n
        self._delivered: dict[int, int] = {}  # order id -> lines dropped at the pack station

    # ------------------------------------------------------------------ new work
    def add_order_lines(self, order: Order) -> None:
        """One pick item per line of an order whose stock was just allocated."""
        for line in range(order.skus.size):
            sku = int(order.skus[line])
            self.items.append(WorkItem(
                "pick", sku, int(order.quantities[line]), order.placed_h * 3600.0, order.due_h * 3600.0,
                self.slot_faces[sku], order_id=order.id, line=line,
            ))

    def add_putaways(self, received: np.ndarray, now_s: float, due_s: float) -> None:
        """Put-away trips (at most ``carry_units`` each) for the units per SKU that just reached the dock."""
        for sku in np.flatnonzero(received):
            left = int(received[sku])
            while left > 0:
                units = min(left, self.scenario.carry_units)
                self.items.append(WorkItem("putaway", int(sku), units, now_s, due_s, self._dock))
                left -= units

    # ------------------------------------------------------------------ the control tick
    def tick(self, now_s: float, rule: int) -> tuple[int, list[int]]:
        """Advance every job by one control tick, dispatch waiting work, send free robots home.

        Args:
            now_s: Simulated seconds since reset.
            rule: Index in :data:`DISPATCH_RULES`.

        Returns:
            ``(busy, shipped)``: robots with a job during the tick, and the ids of the
            orders shipped in it.
        """
        shipped: list[int] = []
        busy = 0
        for r in range(self.fleet.n):
            if self.jobs[r] is not None:
                busy += 1
                self._advance(r, now_s, 1, shipped)
        self._dispatch(rule, now_s)
        self._send_home(now_s)
        return busy, shipped

    def attend(self, ticks: dict[int, int], now_s: float, rule: int) -> list[int]:
        """The control tick for an event-driven executor: only the robots that need it, then dispatch and homing.

        A robot needs the tick when its work timer runs out, when it has just finished a
        plan, or when a failed plan is due to be retried; only those robots are sent
        home (the others are busy, at home, or waiting for their retry), which is all
        that :meth:`tick` would do for them.

        Args:
            ticks: Robot -> control ticks since its job was last advanced (its timer runs
                down by that many ticks, exactly as that many :meth:`tick` calls would).
            now_s: Simulated seconds since reset.
            rule: Index in :data:`DISPATCH_RULES`.

        Returns:
            The ids of the orders shipped.
        """
        shipped: list[int] = []
        robots = sorted(ticks)
        for r in robots:
            if self.jobs[r] is not None:
                self._advance(r, now_s, ticks[r], shipped)
        self._dispatch(rule, now_s)
        self._send_home(now_s, robots)
        return shipped

    def ticks_left(self, r: int) -> int | None:
        """Control ticks until robot ``r``'s work at a source or destination is done (None if it is not working)."""
        job = self.jobs[r]
        if job is None or job.stage not in ("at_source", "at_dest"):
            return None
        timer, n = job.timer_s, 0
        while True:  # the same subtractions the ticks will make
            timer -= self._dt
            n += 1
            if timer <= 0:
                return n

    def _advance(self, r: int, now_s: float, ticks: int, shipped: list[int]) -> None:
        """One robot's job over ``ticks`` control ticks (1 on the physics clock)."""
        fleet, sc = self.fleet, self.scenario
        job = self.jobs[r]
        assert job is not None
        if job.stage in ("at_source", "at_dest"):
            for _ in range(ticks):
                job.timer_s -= self._dt
            if job.timer_s <= 0:
                self._finish_stage(r, job, now_s, shipped)
        elif fleet.idle(r) and fleet.cell(r) == job.goal:
            if job.stage == "to_source":
                job.stage = "at_source"
                job.timer_s = sc.pick_seconds if job.item.kind == "pick" else sc.load_seconds
            else:
                job.stage = "at_dest"
                job.timer_s = sc.drop_seconds if job.item.kind == "pick" else sc.stow_seconds
        elif fleet.idle(r) and now_s >= fleet.retry_s[r]:
            self._resend(r, job, now_s)

    def homebound(self, r: int, now_s: float) -> bool:
        """Whether robot ``r`` is to drive home now: no job, standing idle away from home, not held or waiting for a retry."""
        fleet = self.fleet
        return self.jobs[r] is None and fleet.idle(r) and fleet.cell(r) != fleet.homes[r] and now_s >= fleet.retry_s[r]

    def hold(self, r: int, until_s: float) -> None:
        """Keep the free robot ``r`` where it stands until ``until_s`` (simulated seconds) instead of sending it home.

        It may take work meanwhile; once the hold is over and it still has no job, it is
        homebound again (:meth:`homebound`).
        """
        self.fleet.retry_s[r] = until_s

    def _send_home(self, now_s: float, robots: Iterable[int] | None = None) -> None:
        """Homebound robots (of ``robots``, default all) drive home (a failed plan is retried ``_RETRY_S`` later)."""
        fleet = self.fleet
        for r in range(fleet.n) if robots is None else robots:
            if self.homebound(r, now_s) and fleet.send(r, [fleet.homes[r]], now_s) is None:
                fleet.retry_s[r] = now_s + _RETRY_S

    def _resend(self, r: int, job: Job, now_s: float) -> None:
        goals = job.item.source if job.stage == "to_source" else job.dest
        goal = self.fleet.send(r, goals, now_s)
        if goal is None:
            self.fleet.retry_s[r] = now_s + _RETRY_S
        else:
            job.goal = goal

    def _finish_stage(self, r: int, job: Job, now_s: float, shipped: list[int]) -> None:
        m, item = self.model, job.item
        if job.stage == "at_source":
            if item.kind == "pick":
                m.pick(item.order_id, item.line)
                job.dest = self._station
            else:
                job.dest = self.slot_faces[item.sku]
            job.stage = "to_dest"
            self._resend(r, job, now_s)
            return
        if item.kind == "pick":
            oid = item.order_id
            self._delivered[oid] = self._delivered.get(oid, 0) + 1
            if self._delivered[oid] == m.book.orders[oid].skus.size:
                m.ship(oid)
                del self._delivered[oid]
                shipped.append(oid)
        else:
            m.put_away(item.sku, item.units)
        self.jobs[r] = None

    # ------------------------------------------------------------------ dispatch
    def distance(self, r: int, item: WorkItem) -> float:
        """Grid distance in cells from robot ``r``'s cell to the nearest source cell of ``item``."""
        planner = self.fleet.planner
        return or_far(planner.distance_to_any(planner.cell(r), item.source))

    def rule_pairs(self, rule: int, free: Sequence[int]) -> list[tuple[int, int]]:
        """The ``(robot, index in items)`` pairs the dispatch rule ``rule`` makes for the ``free`` robots, in its order."""
        return DISPATCH[DISPATCH_RULES[rule]](self.items, free, self.distance)

    def assign(self, r: int, item: WorkItem, now_s: float) -> bool:
        """Give the waiting ``item`` to the free robot ``r``: plan it to the item's source and start the job.

        Args:
            r: A robot without a job, standing idle.
            item: One of :attr:`items` (by identity); it leaves the waiting list.
            now_s: Simulated seconds since reset.

        Returns:
            Whether the robot took the item; False (nothing changed) when no plan to its
            source was found now.
        """
        goal = self.fleet.send(r, item.source, now_s)
        if goal is None:
            return False
        self.jobs[r] = Job(item, "to_source", goal=goal)
        del self.items[next(k for k, it in enumerate(self.items) if it is item)]
        return True

    def _dispatch(self, rule: int, now_s: float) -> None:
        if not self.items and self.dispatcher is None:
            return
        fleet = self.fleet
        free = [r for r in range(fleet.n) if self.jobs[r] is None and fleet.idle(r)]
        if not free:
            return
        if self.dispatcher is not None:
            self.dispatcher(self, free, now_s, rule)
            return
        waiting = list(self.items)
        for r, k in self.rule_pairs(rule, free):
            self.assign(r, waiting[k], now_s)
