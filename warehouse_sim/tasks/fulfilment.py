"""The fulfilment task: a robot fleet in PyBullet serving price-driven demand from shared stock.

The task composes the floor (:mod:`warehouse_sim.sim`: layout, world, diff-drive robots,
multi-robot planning in :mod:`warehouse_sim.geometry.reservations`) and the operations model
(:mod:`warehouse_sim.operations`) on one clock. The Gymnasium adapter is
:class:`warehouse_sim.envs.fulfilment.FulfilmentEnv`, whose docstring is the spec.

Clocks (all simulated): physics at ``physics_hz``; robot velocities written at
``drive_hz``; the fleet controller, task timers and dispatch at ``control_hz``; customer
orders arrive, are allocated, expire and turn late once per simulated minute; the agent
decides once per epoch (``epoch_minutes``), one operations period per epoch.

Robot jobs (state machines, one job per robot at a time):

* **pick**: drive to the pick face of the order line's rack slot, spend
  ``pick_seconds`` (the line's units leave the slot: :meth:`OperationsModel.pick`),
  drive to a pack-station face, spend ``drop_seconds``. The order ships when all its
  lines have been dropped at the pack station.
* **put-away**: drive to the receiving dock, spend ``load_seconds``, drive to the SKU's
  slot, spend ``stow_seconds``; only then are the units sellable
  (:meth:`OperationsModel.put_away`). Arrivals wait in the dock until then.

A robot without a job drives to its home cell (out of the aisles). Dispatch gives free
robots the waiting work (pick lines and put-away trips) by one of :data:`DISPATCH_RULES`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.geometry.layout import PRESET_PARAMS, Layout, make_layout
from warehouse_sim.geometry.reservations import FleetPlanner
from warehouse_sim.operations.catalogue import Scenario, read_scenario_yaml, scenario_from_dict
from warehouse_sim.operations.ledger import PENALTY
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.operations.orders import OrderState
from warehouse_sim.sim.client import PhysicsClient
from warehouse_sim.sim.robot import DiffDriveRobots, RobotParams
from warehouse_sim.sim.world import World, build_world
from warehouse_sim.tasks.drivers import Move, make_driver

Cell = tuple[int, int]

#: Dispatch rules, in the order of the action's dispatch index.
DISPATCH_RULES: tuple[str, ...] = ("fifo", "edd", "nearest")

_OPS_TICK_S = 60.0  # orders arrive, are allocated, expire and turn late once per simulated minute
_NEAREST_CANDIDATES = 40  # "nearest" considers the oldest this many waiting items


# ---------------------------------------------------------------------------- scenario
@dataclass(frozen=True)
class WarehouseScenario:
    """A whole warehouse: floor, fleet, catalogue and business rules, shift and clocks.

    Loaded from ``assets/scenarios/warehouse-*.yaml`` by :func:`load_warehouse_scenario`;
    the ``operations`` block there is an operations scenario (catalogue format, see
    :mod:`warehouse_sim.operations.catalogue`) with rates per *hour*: ``base_rate`` in
    units per hour and ``holding_cost`` per unit-hour; ``lead_time`` counts epochs. The
    operations model runs one period per epoch: :meth:`resolved_operations` converts the
    rates and sets ``period_hours`` and ``horizon`` from ``epoch_minutes`` and
    ``shift_hours``, so changing the epoch keeps the hourly demand.

    Attributes:
        name: Scenario name.
        layout: Layout preset (``small``, ``medium``, ``large``).
        n_robots: Fleet size (>= 1, at most the layout's home cells).
        operations: Catalogue and business rules.
        demand_level: Multiplier on every SKU's ``base_rate`` (> 0).
        shift_hours: Shift length in simulated hours (a whole number of epochs).
        epoch_minutes: Minutes between decisions (a whole number >= 1).
        pick_seconds: Time to pick a line at a pick face (>= 0).
        drop_seconds: Time to drop a line at the pack station (>= 0).
        load_seconds: Time to load a put-away trip at the dock (>= 0).
        stow_seconds: Time to stow a put-away trip in its slot (>= 0).
        carry_units: Most units one put-away trip carries (>= 1).
        late_penalty: Charged once per order that passes its due time unshipped (>= 0).
        express_fraction: Share of orders that are express (in [0, 1]).
        express_due_minutes: Due time of express orders after placement, minutes (> 0).
        n_price_classes: SKU classes that share a price level (by demand rank, >= 1).
        physics_hz: Physics steps per simulated second.
        drive_hz: Robot velocity writes per second (divides ``physics_hz``).
        control_hz: Fleet controller rate (divides ``drive_hz``).
    """

    name: str
    layout: str
    n_robots: int
    operations: Scenario
    demand_level: float = 1.0
    shift_hours: float = 8.0
    epoch_minutes: int = 15
    pick_seconds: float = 8.0
    drop_seconds: float = 4.0
    load_seconds: float = 6.0
    stow_seconds: float = 8.0
    carry_units: int = 40
    late_penalty: float = 5.0
    express_fraction: float = 0.2
    express_due_minutes: float = 20.0
    n_price_classes: int = 3
    physics_hz: int = 30
    drive_hz: int = 10
    control_hz: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.layout not in PRESET_PARAMS:
            raise ValueError(f"layout: unknown preset {self.layout!r}; known: {', '.join(PRESET_PARAMS)}")
        for name in ("n_robots", "epoch_minutes", "carry_units", "n_price_classes", "physics_hz", "drive_hz",
                     "control_hz"):
            check_int(name, getattr(self, name))
        for name in ("demand_level", "shift_hours", "express_due_minutes"):
            check_real(name, getattr(self, name), strict=True)
        for name in ("pick_seconds", "drop_seconds", "load_seconds", "stow_seconds", "late_penalty"):
            check_real(name, getattr(self, name))
        if isinstance(self.express_fraction, bool) or not isinstance(self.express_fraction, (int, float)) or not (
            0.0 <= self.express_fraction <= 1.0
        ):
            raise ValueError(f"express_fraction must be in [0, 1], got {self.express_fraction!r}")
        if not isinstance(self.operations, Scenario):
            raise ValueError("operations must be an operations Scenario")
        n_epochs = self.shift_hours * 60.0 / self.epoch_minutes
        if abs(n_epochs - round(n_epochs)) > 1e-9 or round(n_epochs) < 1:
            raise ValueError(f"shift_hours={self.shift_hours} is not a whole number of {self.epoch_minutes}-minute epochs")
        if self.physics_hz % self.drive_hz:
            raise ValueError(f"drive_hz={self.drive_hz} must divide physics_hz={self.physics_hz}")
        if self.drive_hz % self.control_hz:
            raise ValueError(f"control_hz={self.control_hz} must divide drive_hz={self.drive_hz}")

    @property
    def n_epochs(self) -> int:
        """Decision epochs per shift."""
        return int(round(self.shift_hours * 60.0 / self.epoch_minutes))

    def resolved_operations(self) -> Scenario:
        """The operations scenario per epoch: ``demand_level`` and hourly rates applied, epoch = period, shift = horizon."""
        hours = self.epoch_minutes / 60.0
        skus = tuple(
            dataclasses.replace(s, base_rate=s.base_rate * self.demand_level * hours, holding_cost=s.holding_cost * hours)
            for s in self.operations.skus
        )
        return dataclasses.replace(
            self.operations, skus=skus, period_hours=self.epoch_minutes / 60.0, horizon=self.n_epochs
        )


def warehouse_scenario_from_dict(data: Any) -> WarehouseScenario:
    """Build and validate a :class:`WarehouseScenario` from parsed YAML.

    Raises:
        ValueError: naming the first bad or unknown field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"warehouse scenario must be a mapping, got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(WarehouseScenario)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"warehouse scenario: unknown field(s) {unknown}")
    missing = sorted({"name", "layout", "n_robots", "operations"} - set(data))
    if missing:
        raise ValueError(f"warehouse scenario: missing field(s) {missing}")
    ops = data["operations"]
    if not isinstance(ops, Mapping):
        raise ValueError("operations must be a mapping (an operations scenario)")
    ops = {"name": data["name"], **ops}
    return WarehouseScenario(**{**data, "operations": scenario_from_dict(ops)})


def load_warehouse_scenario(name_or_path: str | Path) -> WarehouseScenario:
    """Load ``assets/scenarios/<name>.yaml`` (e.g. ``warehouse-medium``) or a YAML file path.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
        ValueError: for malformed YAML or an invalid field (named in the message).
    """
    return warehouse_scenario_from_dict(read_scenario_yaml(name_or_path))


# ---------------------------------------------------------------------------- floor geometry
def home_cells(layout: Layout, n: int) -> list[Cell]:
    """``n`` parking cells for idle robots, out of the way, nearest the pack station first.

    Candidates are free cells that are no pick face, pack-station face or dock cell and
    touch a wall; cells beside the side walls (the outer columns) come first.

    Raises:
        ValueError: if the layout has fewer than ``n`` such cells.
    """
    reserved = {f.cell for f in layout.pick_faces} | set(layout.station_faces) | set(layout.dock_cells)
    n_rows, n_cols = layout.shape
    station = layout.station_faces[0] if layout.station_faces else (1, n_cols // 2)
    near_special = {
        (r + dr, c + dc) for r, c in set(layout.station_faces) | set(layout.dock_cells)
        for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
    }
    candidates = []
    for r, c in layout.free_cells:
        cell = (int(r), int(c))
        if cell in reserved or cell in near_special:
            continue
        if not any(layout.chars[r + dr, c + dc] == "#" for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))):
            continue
        side = 0 if c in (1, n_cols - 2) else 1
        candidates.append((side, abs(r - station[0]) + abs(c - station[1]), cell))
    candidates.sort()
    if len(candidates) < n:
        raise ValueError(f"n_robots={n} exceeds the {len(candidates)} home cells of layout {layout.name!r}")
    return [cell for _, _, cell in candidates[:n]]


def assign_slots(layout: Layout, scenario: Scenario) -> list[tuple[Cell, ...]]:
    """Pick faces of each SKU's rack slot: fast movers (highest base rate) nearest the pack station.

    Returns:
        Per SKU (catalogue order) the pick-face cells of its slot.

    Raises:
        ValueError: if the layout has fewer rack slots than the catalogue has SKUs.
    """
    planner = FleetPlanner(layout.occupancy)
    station = layout.station_faces[0]
    slots = []
    for rack in layout.racks:
        for slot in range(rack.n_slots):
            faces = tuple(f.cell for f in layout.slot_faces(rack.rack_id, slot))
            dist = min(_or_far(planner.distance(station, f)) for f in faces)
            slots.append((dist, rack.rack_id, slot, faces))
    if len(slots) < scenario.n_skus:
        raise ValueError(f"layout {layout.name!r} has {len(slots)} rack slots for {scenario.n_skus} SKUs")
    slots.sort()
    order = sorted(range(scenario.n_skus), key=lambda i: (-scenario.skus[i].base_rate, i))
    out: list[tuple[Cell, ...]] = [()] * scenario.n_skus
    for rank, i in enumerate(order):
        out[i] = slots[rank][3]
    return out


def _or_far(distance: int | None) -> int:
    """A grid distance, with unreachable (None) as a very large number."""
    return 10**9 if distance is None else distance


def price_classes(scenario: Scenario, n_classes: int) -> np.ndarray:
    """Class index per SKU: SKUs ranked by base rate and cut into ``n_classes`` near-equal groups (A, B, C...)."""
    n_classes = min(n_classes, scenario.n_skus)
    order = sorted(range(scenario.n_skus), key=lambda i: (-scenario.skus[i].base_rate, i))
    classes = np.empty(scenario.n_skus, dtype=np.int64)
    for rank, i in enumerate(order):
        classes[i] = rank * n_classes // scenario.n_skus
    return classes


# ---------------------------------------------------------------------------- dispatch
@dataclass
class WorkItem:
    """One robot trip waiting for a robot.

    Attributes:
        kind: ``"pick"`` (an order line) or ``"putaway"`` (dock to slot).
        sku: Catalogue index.
        units: Units carried.
        ready_s: When it became available (order placement or receipt), seconds since reset.
        due_s: When it is due, seconds since reset.
        source: Cells where the trip starts (pick faces, or dock cells).
        order_id: The order (pick lines), else -1.
        line: The order line (pick lines), else -1.
    """

    kind: str
    sku: int
    units: int
    ready_s: float
    due_s: float
    source: tuple[Cell, ...]
    order_id: int = -1
    line: int = -1


#: ``rule(items, free_robots, distance) -> [(robot, item index), ...]`` assigns waiting
#: items to free robots; ``distance(robot, item)`` is the grid distance in cells.
DispatchRule = Callable[[Sequence[WorkItem], Sequence[int], Callable[[int, WorkItem], float]], list[tuple[int, int]]]


def dispatch_fifo(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Oldest items first, each to the free robot with the lowest index."""
    order = sorted(range(len(items)), key=lambda k: (items[k].ready_s, k))
    return list(zip(robots, order, strict=False))


def dispatch_edd(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Earliest due date first, each to the free robot with the lowest index."""
    order = sorted(range(len(items)), key=lambda k: (items[k].due_s, k))
    return list(zip(robots, order, strict=False))


def dispatch_nearest(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Greedy nearest pairs: repeatedly the (free robot, item) pair with the shortest grid distance.

    Only the oldest :data:`_NEAREST_CANDIDATES` items are considered, which bounds the
    cost and the starvation of far items.
    """
    candidates = sorted(range(len(items)), key=lambda k: (items[k].ready_s, k))[:_NEAREST_CANDIDATES]
    pairs = sorted((distance(r, items[k]), r, k) for r in robots for k in candidates)
    used_r: set[int] = set()
    used_k: set[int] = set()
    out = []
    for _, r, k in pairs:
        if r not in used_r and k not in used_k:
            out.append((r, k))
            used_r.add(r)
            used_k.add(k)
    return out


DISPATCH: dict[str, DispatchRule] = {"fifo": dispatch_fifo, "edd": dispatch_edd, "nearest": dispatch_nearest}


# ---------------------------------------------------------------------------- fleet execution
@dataclass
class _Job:
    item: WorkItem
    stage: str  # "to_source", "at_source", "to_dest", "at_dest"
    timer_s: float = 0.0
    goal: Cell = (0, 0)
    dest: tuple[Cell, ...] = ()


class Fleet:
    """Robots that execute :class:`~warehouse_sim.geometry.reservations.FleetPlanner` plans in physics.

    A robot may start towards its next cell only when the planner allows it
    (:meth:`FleetPlanner.may_enter`), so robots keep their planned order however they
    are delayed; how it drives there is the driver's business
    (:mod:`warehouse_sim.tasks.drivers`: the path controller, or a Navigation policy).

    Args:
        client: The physics client.
        layout: The layout.
        homes: Home cell per robot.
        params: Robot body and drive limits.
        driver: ``"planner"`` or ``"policy:PATH.onnx"`` (see :func:`~warehouse_sim.tasks.drivers.make_driver`).
        control_dt: Seconds between :meth:`control` calls.

    Attributes:
        robots: The robot bodies.
        planner: The multi-robot planner (plans, reservations, execution order).
        driver: Turns authorised moves into wheel commands.
        step_s: Nominal duration of one plan step in seconds.
        distance_m: Fleet odometry since reset (metres, sampled per control tick).
        collisions: New contacts of moving robots since reset.
        moves: Cell-to-cell moves completed since reset.
        retry_s: Per robot, the simulated time before which a failed plan is not retried.
    """

    def __init__(
        self,
        client: PhysicsClient,
        layout: Layout,
        homes: Sequence[Cell],
        params: RobotParams,
        *,
        driver: str = "planner",
        control_dt: float = 0.1,
    ) -> None:
        self.layout = layout
        self.homes = list(homes)
        self.n = len(self.homes)
        palette = [(0.85, 0.1, 0.1, 1.0), (0.1, 0.3, 0.85, 1.0), (0.1, 0.6, 0.2, 1.0), (0.6, 0.2, 0.7, 1.0),
                   (0.9, 0.6, 0.0, 1.0), (0.0, 0.6, 0.7, 1.0)]
        self.robots = DiffDriveRobots(client, self.n, params, colours=[palette[i % len(palette)] for i in range(self.n)])
        self.planner = FleetPlanner(layout.occupancy, max_expansions=6_000)
        self.params = params
        self.driver = make_driver(driver, self.robots, layout, control_dt=control_dt)
        #: Nominal time for a plan step: crossing one cell at 80% of top speed, in seconds.
        self.step_s = layout.cell_size / (0.8 * params.v_max)
        cs = layout.cell_size
        self._centre = lambda cell: ((cell[1] + 0.5) * cs, (cell[0] + 0.5) * cs)
        self._moving = np.zeros(self.n, dtype=bool)
        self._in_transit = [False] * self.n
        self.reset()

    def reset(self) -> None:
        """Every robot at rest in its home cell, facing north; plans and counters cleared."""
        for i, cell in enumerate(self.homes):
            x, y = self._centre(cell)
            self.robots.place(i, x, y, math.pi / 2)
        self.planner.reset(self.homes)
        self._in_transit = [False] * self.n
        self._moving[:] = False
        self._last_xy = np.array([self._centre(c) for c in self.homes], dtype=float)
        self.distance_m = 0.0
        self.collisions = 0
        self.moves = 0
        self._contacts: set[frozenset[int]] = set()
        self.retry_s = [0.0] * self.n
        self.driver.reset()

    def send(self, robot: int, goals: Sequence[Cell], now_s: float) -> Cell | None:
        """Plan an idle ``robot`` to the nearest available cell of ``goals``.

        Returns:
            The goal cell planned to, or None (no goal free or no plan now; retry later).
        """
        planner = self.planner
        here = planner.cell(robot)
        options = sorted((_or_far(planner.distance(here, g)), g) for g in goals if planner.goal_available(g, robot))
        step = int(now_s / self.step_s)
        for _, goal in options:
            if planner.plan(robot, goal, step) is not None:
                return goal
        return None

    def idle(self, robot: int) -> bool:
        """Whether the robot has finished its plan (it stands in its last cell)."""
        return self.planner.is_idle(robot) and not self._in_transit[robot]

    def control(self) -> None:
        """One controller update: advance plans, authorise moves, command velocities."""
        planner, robots, driver = self.planner, self.robots, self.driver
        poses = robots.poses()
        moved = np.hypot(*(poses[:, :2] - self._last_xy).T)
        self.distance_m += float(moved.sum())
        self._last_xy = poses[:, :2].copy()
        moves: list[Move] = []
        for r in range(self.n):
            x, y = poses[r, 0], poses[r, 1]
            while True:
                if self._in_transit[r]:
                    path = planner.remaining_path(r)
                    target = self._centre(path[1])
                    straight = len(path) >= 3 and (
                        (path[1][0] - path[0][0], path[1][1] - path[0][1]) == (path[2][0] - path[1][0], path[2][1] - path[1][1])
                    )
                    if driver.arrived(math.hypot(target[0] - x, target[1] - y), straight, len(path) == 2):
                        planner.advance(r)
                        self._in_transit[r] = False
                        self.moves += 1
                        continue
                    moves.append(Move(r, target, straight, path))
                    break
                if planner.is_idle(r):
                    break
                if not planner.may_enter(r):
                    break
                if planner.next_cell(r) == planner.cell(r):  # a planned wait: nothing to drive
                    planner.advance(r)
                    continue
                self._in_transit[r] = True
        commands = dict(zip((m.robot for m in moves), driver.commands(poses, moves), strict=True))
        for r in range(self.n):
            v, omega = commands.get(r, (0.0, 0.0))
            robots.command_one(r, v, omega)
            self._moving[r] = v != 0.0 or omega != 0.0

    def count_collisions(self, ignore: frozenset[int]) -> None:
        """Count new contacts of moving robots with racks, walls, the station or robots."""
        contacts = self.robots.client.bullet.getContactPoints
        current: set[frozenset[int]] = set()
        for r in np.flatnonzero(self._moving):
            body = self.robots.ids[r]
            for c in contacts(bodyA=body):
                if c[2] not in ignore:
                    current.add(frozenset((body, c[2])))
        self.collisions += len(current - self._contacts)
        self._contacts = current


class FulfilmentTask:
    """Orders, stock, robots and money of one warehouse, advanced one epoch at a time.

    Args:
        scenario: The warehouse scenario.
        gui: Open the PyBullet GUI.
        driver: ``"planner"`` or ``"policy:PATH.onnx"`` (see :mod:`warehouse_sim.tasks.drivers`).
    """

    def __init__(self, scenario: WarehouseScenario, *, gui: bool = False, driver: str = "planner") -> None:
        self.scenario = scenario
        self.ops_scenario = scenario.resolved_operations()
        self.model = OperationsModel(self.ops_scenario, put_away=True)
        #: Money per unit of env reward.
        self.reward_scale = float(self.ops_scenario.reward_scale)
        self.layout = make_layout(scenario.layout)
        self.slot_faces = assign_slots(self.layout, self.ops_scenario)
        self.classes = price_classes(self.ops_scenario, scenario.n_price_classes)
        self.n_classes = int(self.classes.max()) + 1
        self.client = PhysicsClient(gui=gui, time_step=1.0 / scenario.physics_hz, gravity=0.0)  # planar robots
        try:
            self.world: World = build_world(self.client, self.layout)
            self.fleet = Fleet(
                self.client, self.layout, home_cells(self.layout, scenario.n_robots), RobotParams(), driver=driver,
                control_dt=1.0 / scenario.control_hz,
            )
        except BaseException:
            self.client.close()
            raise
        self._static = frozenset((self.world.floor,))
        self._initial_state = self.client.save_state()
        self._substeps_per_drive = scenario.physics_hz // scenario.drive_hz
        self._drives_per_control = scenario.drive_hz // scenario.control_hz
        self._control_dt = 1.0 / scenario.control_hz
        self._controls_per_epoch = int(round(scenario.epoch_minutes * 60 * scenario.control_hz))
        self._controls_per_ops = int(round(_OPS_TICK_S * scenario.control_hz))
        m = self.model
        self.n_price_levels = np.array(
            [int(m.n_price_levels[self.classes == k].max()) for k in range(self.n_classes)], dtype=np.int64
        )
        self.reset(np.random.default_rng(0))

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: np.random.Generator) -> None:
        """Initial stock, empty books, robots at home; ``rng`` drives demand for the episode."""
        self.client.restore_state(self._initial_state)
        self.model.reset()
        self.fleet.reset()
        self.rng = rng
        self._ticks = 0  # controller ticks since reset: the one clock
        self.epoch = 0
        self.rule = DISPATCH_RULES.index("fifo")
        self.items: list[WorkItem] = []
        self.jobs: list[_Job | None] = [None] * self.fleet.n
        self._delivered: dict[int, int] = {}  # order id -> lines dropped at the pack station
        self._open: list[int] = []  # ids of orders not yet terminal
        self._late: set[int] = set()
        self.orders_shipped = 0
        self.orders_shipped_late = 0
        self.cycle_time_sum_s = 0.0
        self.busy_s = 0.0
        self.cum_busy_s = 0.0
        self.last_demand = np.zeros(self.model.n_skus, dtype=np.int64)
        self.physics_error = False

    def close(self) -> None:
        """Disconnect the physics client (idempotent)."""
        self.client.close()

    # ------------------------------------------------------------------ decisions
    def decode(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Split a MultiDiscrete action into (price level per SKU, order level per SKU, rule)."""
        c = self.n_classes
        class_level = action[:c]
        price_idx = np.minimum(class_level[self.classes], self.model.n_price_levels - 1)
        return price_idx, action[c : c + self.model.n_skus].astype(np.int64), int(action[-1])

    def run_epoch(
        self, price_idx: np.ndarray, order_idx: np.ndarray, rule: int, *, on_tick: Callable[[], None] | None = None
    ) -> float:
        """Apply one epoch's decisions and simulate until the next epoch.

        Args:
            price_idx: Price level per SKU.
            order_idx: Replenishment order level per SKU.
            rule: Index in :data:`DISPATCH_RULES`.
            on_tick: Called after every control tick (e.g. to capture video frames).

        Returns:
            The epoch's profit (currency units), from the ledger.
        """
        m = self.model
        dock_before = m.dock.copy()
        m.start_period()
        m.set_prices(m.price_levels[np.arange(m.n_skus), price_idx])
        m.order_stock(m.quantity_levels[np.arange(m.n_skus), order_idx])
        self.rule = rule
        self._new_putaways(m.dock - dock_before)
        demand_before = m.ledger.units[0].copy()
        self.busy_s = 0.0
        ignore = self._static
        for tick in range(1, self._controls_per_epoch + 1):
            self._control_tick()
            self._physics_control_interval()
            self._ticks += 1
            if on_tick is not None:
                on_tick()
            if tick % self._controls_per_ops == 0:
                self._ops_tick()
                self.fleet.count_collisions(ignore)
                if self._diverged():
                    self.physics_error = True
                    break
        self.last_demand = m.ledger.units[0] - demand_before
        self.epoch += 1
        return m.end_period()

    def _physics_control_interval(self) -> None:
        robots, step = self.fleet.robots, self.client.bullet.stepSimulation
        dt = self._substeps_per_drive / self.scenario.physics_hz
        for _ in range(self._drives_per_control):
            robots.apply(dt)
            for _ in range(self._substeps_per_drive):
                step()

    def bare_physics(self) -> None:
        """The PyBullet work of one epoch without any task logic (for ``warehouse-sim bench``).

        The same velocity writes and substeps, one pose read per robot per control tick
        and one contact query per robot per simulated minute, with the robots' current
        commands. The physics state is saved before and restored after, so the episode
        continues where it was (only the robots' acceleration-limited velocities keep
        the values they slewed to).
        """
        bc = self.client.bullet
        state = bc.saveState()
        robots, contacts = self.fleet.robots, bc.getContactPoints
        for tick in range(1, self._controls_per_epoch + 1):
            robots.poses()
            self._physics_control_interval()
            if tick % self._controls_per_ops == 0:
                for body in robots.ids:
                    contacts(bodyA=body)
        bc.restoreState(stateId=state)
        bc.removeState(state)

    def _diverged(self) -> bool:
        poses = self.fleet.robots.poses()
        return bool(not np.isfinite(poses).all() or (poses[:, 3] < -0.5).any())

    # ------------------------------------------------------------------ orders
    def _ops_tick(self) -> None:
        m, sc = self.model, self.scenario
        new = m.arrive_orders(_OPS_TICK_S / 3600.0, self.rng)
        if new and sc.express_fraction > 0:
            express = self.rng.random(len(new)) < sc.express_fraction
            for order, fast in zip(new, express, strict=True):
                if fast:
                    order.due_h = order.placed_h + sc.express_due_minutes / 60.0
        self._open.extend(o.id for o in new)
        now_h = self.now_s / 3600.0
        for order in m.expire_orders(now_h):
            self._open.remove(order.id)
        book = m.book.orders
        for oid in self._open:
            order = book[oid]
            if order.state is OrderState.PLACED and m.allocate(oid):
                for line in range(order.skus.size):
                    sku = int(order.skus[line])
                    self.items.append(WorkItem(
                        "pick", sku, int(order.quantities[line]), order.placed_h * 3600.0, order.due_h * 3600.0,
                        self.slot_faces[sku], order_id=oid, line=line,
                    ))
            if oid not in self._late and order.due_h < now_h:
                self._late.add(oid)
                m.ledger.money[PENALTY] += sc.late_penalty

    def _new_putaways(self, received: np.ndarray) -> None:
        due = self.now_s + self.ops_scenario.due_hours * 3600.0
        dock = tuple(self.layout.dock_cells)
        for sku in np.flatnonzero(received):
            left = int(received[sku])
            while left > 0:
                units = min(left, self.scenario.carry_units)
                self.items.append(WorkItem("putaway", int(sku), units, self.now_s, due, dock))
                left -= units

    # ------------------------------------------------------------------ robots
    def _control_tick(self) -> None:
        fleet, sc = self.fleet, self.scenario
        busy = 0
        for r in range(fleet.n):
            job = self.jobs[r]
            if job is None:
                continue
            busy += 1
            if job.stage in ("at_source", "at_dest"):
                job.timer_s -= self._control_dt
                if job.timer_s <= 0:
                    self._finish_stage(r, job)
            elif fleet.idle(r) and fleet.planner.cell(r) == job.goal:
                if job.stage == "to_source":
                    job.stage = "at_source"
                    job.timer_s = sc.pick_seconds if job.item.kind == "pick" else sc.load_seconds
                else:
                    job.stage = "at_dest"
                    job.timer_s = sc.drop_seconds if job.item.kind == "pick" else sc.stow_seconds
            elif fleet.idle(r) and self.now_s >= fleet.retry_s[r]:
                self._resend(r, job)
        self.busy_s += busy * self._control_dt
        self.cum_busy_s += busy * self._control_dt
        self._dispatch()
        for r in range(fleet.n):  # free robots not at home drive home
            if self.jobs[r] is None and fleet.idle(r) and fleet.planner.cell(r) != fleet.homes[r] and (
                self.now_s >= fleet.retry_s[r]
            ):
                if fleet.send(r, [fleet.homes[r]], self.now_s) is None:
                    fleet.retry_s[r] = self.now_s + 1.0
        fleet.control()

    def _resend(self, r: int, job: _Job) -> None:
        goals = job.item.source if job.stage == "to_source" else job.dest
        goal = self.fleet.send(r, goals, self.now_s)
        if goal is None:
            self.fleet.retry_s[r] = self.now_s + 1.0
        else:
            job.goal = goal

    def _finish_stage(self, r: int, job: _Job) -> None:
        m, item = self.model, job.item
        if job.stage == "at_source":
            if item.kind == "pick":
                m.pick(item.order_id, item.line)
                job.dest = tuple(self.layout.station_faces)
            else:
                job.dest = self.slot_faces[item.sku]
            job.stage = "to_dest"
            self._resend(r, job)
            return
        if item.kind == "pick":
            oid = item.order_id
            self._delivered[oid] = self._delivered.get(oid, 0) + 1
            order = m.book.orders[oid]
            if self._delivered[oid] == order.skus.size:
                m.ship(oid)
                self._open.remove(oid)
                del self._delivered[oid]
                self.orders_shipped += 1
                self.cycle_time_sum_s += self.now_s - order.placed_h * 3600.0
                if self.now_s > order.due_h * 3600.0:
                    self.orders_shipped_late += 1
        else:
            m.put_away(item.sku, item.units)
        self.jobs[r] = None

    def _dispatch(self) -> None:
        fleet = self.fleet
        free = [r for r in range(fleet.n) if self.jobs[r] is None and fleet.idle(r)]
        if not free or not self.items:
            return
        planner = fleet.planner

        def distance(r: int, item: WorkItem) -> float:
            here = planner.cell(r)
            return min(_or_far(planner.distance(here, c)) for c in item.source)

        pairs = DISPATCH[DISPATCH_RULES[self.rule]](self.items, free, distance)
        taken = []
        for r, k in pairs:
            item = self.items[k]
            goal = fleet.send(r, item.source, self.now_s)
            if goal is None:
                continue
            self.jobs[r] = _Job(item, "to_source", goal=goal)
            taken.append(k)
        for k in sorted(taken, reverse=True):
            del self.items[k]

    # ------------------------------------------------------------------ views
    @property
    def ticks(self) -> int:
        """Control ticks since reset (the one clock)."""
        return self._ticks

    @property
    def now_s(self) -> float:
        """Simulated seconds since reset."""
        return self._ticks / self.scenario.control_hz

    def open_orders(self) -> list[Any]:
        """Orders not yet shipped or lost."""
        book = self.model.book.orders
        return [book[i] for i in self._open]

    def kpis(self) -> dict[str, Any]:
        """Fleet and order KPIs since reset (see the env docstring)."""
        now_h = self.now_s / 3600.0
        open_late = sum(1 for o in self.open_orders() if o.due_h < now_h)
        elapsed = max(self.now_s, 1e-9)
        return {
            "orders_shipped": self.orders_shipped,
            "orders_late": self.orders_shipped_late + open_late,
            "order_cycle_time_s": self.cycle_time_sum_s / self.orders_shipped if self.orders_shipped else 0.0,
            "robot_utilisation": self.cum_busy_s / (self.fleet.n * elapsed) if self.now_s > 0 else 0.0,
            "collisions": self.fleet.collisions,
            "distance_m": self.fleet.distance_m,
            "backlog": len(self._open),
            "cell_moves": self.fleet.moves,
            "driver_fallbacks": self.fleet.driver.fallbacks,
        }

    def ledger_info(self) -> dict[str, Any]:
        """``{"period": {...}, "cumulative": {...}}`` in the Inventory-v0 shape."""
        return self.model.kpis()


__all__ = [
    "DISPATCH",
    "DISPATCH_RULES",
    "Fleet",
    "FulfilmentTask",
    "WarehouseScenario",
    "WorkItem",
    "assign_slots",
    "dispatch_edd",
    "dispatch_fifo",
    "dispatch_nearest",
    "home_cells",
    "load_warehouse_scenario",
    "price_classes",
    "warehouse_scenario_from_dict",
]
