"""Fleet drivers of the physics executor: what turns a robot's authorised plan step into wheel commands.

The fleet planner (:class:`~warehouse_sim.geometry.reservations.FleetPlanner`) decides *where* each
robot goes and *when* it may enter its next cell; a driver decides *how* it drives
there, once per control tick, for all robots in transit at once:

* :class:`PlannerDriver` (``driver="planner"``): a path controller that drives straight
  from cell centre to cell centre, turning in place at corners;
* :class:`PolicyDriver` (``driver="policy:PATH.onnx"``): an exported Navigation-v0
  policy, fed each robot's own Navigation-v0 observation (its lidar, its velocities,
  and a local goal a couple of metres ahead along its planned cells), within a speed
  governor and a stall watchdog.

Robots that may not move (waiting for a reservation, working, parked) get a zero
command from the fleet whatever the driver.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.geometry.paths import wrap_angle
from warehouse_sim.geometry.reservations import FleetPlanner
from warehouse_sim.onnx_runtime import OnnxSession
from warehouse_sim.sim.lidar import Lidar
from warehouse_sim.sim.robot import MobileBase

Cell = tuple[int, int]

NAVIGATION_ID = "warehouse_sim/Navigation-v0"


class Move(NamedTuple):
    """A robot in transit to the next cell of its plan (a tuple: made for every robot in transit, every control tick).

    Attributes:
        robot: Robot index.
        target: World ``(x, y)`` of the next cell's centre, metres.
        straight: Whether the plan continues straight through that cell.
        planner: The fleet's planner (holds the robot's plan).
    """

    robot: int
    target: tuple[float, float]
    straight: bool
    planner: FleetPlanner

    @property
    def path(self) -> list[Cell]:
        """The cells of the rest of the plan, from the current cell (waits included)."""
        return self.planner.remaining_path(self.robot)


@dataclass
class _Watch:
    """The watchdog's record of one robot's current move."""

    target: tuple[float, float]
    best_m: float  # closest the robot has come to the target, metres
    stalled_s: float = 0.0  # seconds since it last came PROGRESS_M closer
    taken_over: bool = False  # the path controller drives the rest of the move


class FleetDriver(Protocol):
    """Commands for the robots in transit; also says when a robot has reached its next cell.

    Attributes:
        fallbacks: Moves handed to the path controller since the last reset (0 for it).
    """

    fallbacks: int

    def reset(self) -> None:
        """Forget per-episode state."""
        ...

    def arrived(self, distance: float, straight: bool, last: bool) -> bool:
        """Whether a robot ``distance`` metres from its next cell's centre has reached that cell.

        Args:
            distance: Metres to the cell centre.
            straight: The plan continues straight through the cell.
            last: The cell is the last of the plan (the robot stops there).
        """
        ...

    def commands(self, poses: Sequence[Sequence[float]], moves: Sequence[Move]) -> list[tuple[float, float]]:
        """``(v, omega)`` in m/s and rad/s for each of ``moves`` (``poses``: every robot's ``(x, y, yaw, z)`` row)."""
        ...


class PlannerDriver:
    """The path controller: straight lines between cell centres, turns in place at corners.

    A robot aims at the next cell's centre; with a heading error above
    ``TURN_IN_PLACE`` it only turns; it keeps full speed through cells where the plan
    goes straight and slows proportionally to the distance before corners.

    Args:
        params: Drive limits.
    """

    ARRIVE_TURN = 0.12  # m: reach a corner cell this close before turning
    ARRIVE_STRAIGHT = 0.4  # m: pass a straight-through cell this close
    TURN_IN_PLACE = 0.5  # rad: heading error above which the robot stops to turn
    K_OMEGA = 3.0  # 1/s
    K_V = 1.8  # 1/s

    def __init__(self, params: RobotParams) -> None:
        self.v_max = params.v_max
        self.fallbacks = 0

    def reset(self) -> None:
        """Nothing to forget."""

    def arrived(self, distance: float, straight: bool, last: bool) -> bool:
        """See :meth:`FleetDriver.arrived`."""
        return distance <= (self.ARRIVE_STRAIGHT if straight else self.ARRIVE_TURN)

    def commands(self, poses: Sequence[Sequence[float]], moves: Sequence[Move]) -> list[tuple[float, float]]:
        """See :meth:`FleetDriver.commands`."""
        out = []
        for move in moves:
            x, y, yaw = poses[move.robot][:3]
            tx, ty = move.target
            err = wrap_angle(math.atan2(ty - y, tx - x) - yaw)
            omega = self.K_OMEGA * err
            v = 0.0
            if abs(err) < self.TURN_IN_PLACE:
                v = self.v_max if move.straight else min(self.v_max, self.K_V * math.hypot(tx - x, ty - y))
                v *= math.cos(err)
            out.append((v, omega))
        return out


class PolicyDriver:
    """An exported Navigation-v0 policy driving every robot in transit (one batched inference).

    Each robot's observation is what Navigation-v0 would show it (built by
    :func:`warehouse_sim.tasks.navigation.navigation_observation` with the policy's
    training configuration from its sidecar): its lidar scan (one ``rayTestBatch`` for
    all robots in transit), its measured velocities, and as both goal and route hint a
    local goal on its plan: the point ``route_lookahead`` metres ahead along its planned
    cells, but not past the next corner or planned wait (the policy is a waypoint
    follower; the plan's detours and waits for other robots are the planner's). A
    robot has passed a cell within half a cell of its centre, and reached the plan's
    last cell within the policy's ``goal_tolerance``.

    Navigation-v0 never asked the policy to stop (an episode ends on arrival) nor to
    keep to a lane, so a speed governor caps its forward speed at top speed times the
    cosine of the heading error to the local goal and, before a stopping point (a
    corner, a planned wait, the plan's end), at ``sqrt(2 a d)`` (``a`` the robot's
    acceleration limit, ``d`` the distance left); reverse at most, and the cap at
    least, 10% of top speed. The policy steers; the robot stays on its planned
    cells and can stop where the plan says.

    A watchdog hands a move (robot to next cell) to the path controller when the
    policy has not brought the robot ``PROGRESS_M`` closer for ``STALL_S`` seconds (a
    policy trained alone in the aisles may freeze beside a parked robot); ``fallbacks``
    counts those moves.

    Args:
        path: The ``.onnx`` file (with its ``.json`` sidecar) of a Navigation-v0 policy.
        robots: The fleet's robots (their drive limits scale the policy's actions).
        layout: The floor.
        control_dt: Seconds between calls of :meth:`commands` (the watchdog's clock).

    Attributes:
        fallbacks: Moves the watchdog handed to the path controller since the last reset.

    Raises:
        FileNotFoundError: if the file is missing.
        ValueError: if the policy was not exported for Navigation-v0, or was trained with
            a different robot or action space.
    """

    STALL_S = 3.0  # s without PROGRESS_M of progress before the path controller takes over a move
    PROGRESS_M = 0.05

    def __init__(self, path: str | Path, robots: MobileBase, layout: Layout, *, control_dt: float) -> None:
        from warehouse_sim.tasks.navigation import DISCRETE_ACTIONS, NavigationConfig

        self.session = OnnxSession(path)
        meta = self.session.metadata
        if meta.get("env_id") != NAVIGATION_ID:
            raise ValueError(f"driver policy {path} was exported for {meta.get('env_id')}, not {NAVIGATION_ID}")
        kwargs: dict[str, Any] = {
            k: v for k, v in meta.get("env_kwargs", {}).items() if k in NavigationConfig.__dataclass_fields__
        }
        kwargs.pop("layout", None)
        kwargs.pop("n_obstacle_robots", None)
        try:
            self.config = NavigationConfig(**kwargs, robot=robots.params)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"driver policy {path}: its env kwargs do not describe a Navigation-v0 robot: {exc}") from None
        if self.session.observation_shape != (self.config.obs_size,):
            raise ValueError(
                f"driver policy {path} takes observations of shape {self.session.observation_shape}, "
                f"Navigation-v0 with its env kwargs gives ({self.config.obs_size},)"
            )
        space = meta.get("action_space", {})
        if space.get("type") == "Box" and list(space.get("shape", [])) == [2]:
            self._discrete: np.ndarray | None = None
        elif space.get("type") == "Discrete" and space.get("n") == len(DISCRETE_ACTIONS) and space.get("start", 0) == 0:
            self._discrete = np.asarray(DISCRETE_ACTIONS, dtype=float)
        else:
            raise ValueError(f"driver policy {path} has action space {space}, not a Navigation-v0 one")
        self.lidar = Lidar(robots.client, self.config.lidar_params())
        self._robots = robots
        self._layout = layout
        self._floor = layout.size
        self._pass_radius = 0.5 * layout.cell_size
        self._creep = 0.1 * robots.params.v_max  # the governor never slows a robot below this
        self._dt = control_dt
        self._fallback = PlannerDriver(robots.params)
        self._watch: list[_Watch | None] = [None] * robots.n
        self.fallbacks = 0

    def arrived(self, distance: float, straight: bool, last: bool) -> bool:
        """See :meth:`FleetDriver.arrived`."""
        return distance <= (self.config.goal_tolerance if last else self._pass_radius)

    def commands(self, rows: Sequence[Sequence[float]], moves: Sequence[Move]) -> list[tuple[float, float]]:
        """See :meth:`FleetDriver.commands`."""
        from warehouse_sim.tasks.navigation import navigation_observation

        if not moves:
            return []
        poses = np.asarray(rows, dtype=np.float64)
        index = [m.robot for m in moves]
        ranges = self.lidar.scan(poses[index])
        vel = self._robots.velocities(poses[:, 2])
        goals = [self._local_goal(poses[m.robot], m.path) for m in moves]
        obs = np.stack([
            navigation_observation(
                self.config, self._floor, poses[m.robot].tolist(), vel[m.robot].tolist(), ranges[k], goal, goal
            )
            for k, (m, (goal, _)) in enumerate(zip(moves, goals, strict=True))
        ])
        actions = self.session.run(obs)
        robot = self._robots.params
        if self._discrete is not None:
            scaled = self._discrete[np.asarray(actions, dtype=np.int64).reshape(-1)]
        else:
            scaled = np.clip(np.asarray(actions, dtype=float).reshape(-1, 2), -1.0, 1.0)
        out = []
        for m, ((gx, gy), stop), (v, w) in zip(moves, goals, scaled.tolist(), strict=True):
            x, y, yaw = poses[m.robot, 0], poses[m.robot, 1], poses[m.robot, 2]
            if self._stalled(m, x, y):
                out.append(self._fallback.commands(rows, [m])[0])
                continue
            # speed governor: at most top speed x the cosine of the heading error to the
            # local goal, and slow enough to stop at a stopping point
            limit = robot.v_max * max(math.cos(wrap_angle(math.atan2(gy - y, gx - x) - yaw)), 0.0)
            if stop:
                limit = min(limit, math.sqrt(2.0 * robot.accel_max * math.hypot(gx - x, gy - y)))
            limit = max(limit, self._creep)
            out.append((min(max(v * robot.v_max, -self._creep), limit), w * robot.omega_max))
        return out

    def reset(self) -> None:
        """Clear the watchdog and the fallback count."""
        self._watch = [None] * len(self._watch)
        self.fallbacks = 0

    def _stalled(self, move: Move, x: float, y: float) -> bool:
        """Watchdog: whether ``move`` has made no progress for ``STALL_S`` (the path controller then finishes it)."""
        d = math.hypot(move.target[0] - x, move.target[1] - y)
        watch = self._watch[move.robot]
        if watch is None or watch.target != move.target:
            watch = self._watch[move.robot] = _Watch(move.target, d)
        if not watch.taken_over:
            if d < watch.best_m - self.PROGRESS_M:
                watch.best_m, watch.stalled_s = d, 0.0
            else:
                watch.stalled_s += self._dt
                if watch.stalled_s >= self.STALL_S:
                    watch.taken_over = True
                    self.fallbacks += 1
        return watch.taken_over

    def _local_goal(self, pose: np.ndarray, path: Sequence[Cell]) -> tuple[tuple[float, float], bool]:
        """The point the policy is sent to: ``route_lookahead`` metres along the planned cells.

        It never lies beyond the first corner or planned wait of the path (where the
        robot must be able to stop, as the path controller does), nor beyond its end.

        Returns:
            ``((x, y), stop)``: the point, and whether the robot must stop there.
        """
        left = self.config.route_lookahead
        px, py = float(pose[0]), float(pose[1])
        previous = path[0]
        heading: tuple[int, int] | None = None
        for cell in path[1:]:
            step = (cell[0] - previous[0], cell[1] - previous[1])
            if step == (0, 0) or (heading is not None and step != heading):
                return (px, py), True  # a wait or a corner at ``previous``: stop there
            cx, cy = self._layout.cell_to_world(*cell)
            seg = math.hypot(cx - px, cy - py)
            if seg >= left:
                f = left / seg
                return (px + f * (cx - px), py + f * (cy - py)), False
            left -= seg
            px, py, previous, heading = cx, cy, cell, step
        return (px, py), True


def make_driver(spec: str, robots: MobileBase, layout: Layout, *, control_dt: float) -> FleetDriver:
    """The driver named by ``spec``: ``"planner"`` or ``"policy:PATH.onnx"`` (``control_dt``: seconds per control tick).

    Raises:
        ValueError: for another spec, or a policy that cannot drive these robots.
        FileNotFoundError: for a missing policy file.
    """
    if spec == "planner":
        return PlannerDriver(robots.params)
    if spec.startswith("policy:"):
        path = Path(spec.removeprefix("policy:"))
        if path.suffix != ".onnx":
            raise ValueError(f"driver {spec!r}: the policy must be an exported .onnx file")
        return PolicyDriver(path, robots, layout, control_dt=control_dt)
    raise ValueError(f"driver must be 'planner' or 'policy:PATH.onnx', got {spec!r}")
