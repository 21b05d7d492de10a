"""The navigation task: drive one robot to a pick face through aisles and traffic.

The task owns the scene (one :class:`~warehouse_sim.sim.client.PhysicsClient`, the
static world, the robots, the lidar) and turns normalised ``(v, omega)`` commands into
physics, observations, rewards and episode outcomes (the
:class:`~warehouse_sim.tasks.base.Task` contract). The Gymnasium adapter is
:class:`warehouse_sim.envs.navigation.NavigationEnv`, whose docstring is the spec.

Rates: physics runs at ``physics_hz``; robot velocities are written at ``drive_hz``
(the motor controllers' rate); the agent acts at ``control_hz``. Both ratios must be
whole numbers (checked), so one env step is exactly ``physics_hz // control_hz``
physics substeps.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import atan2, cos, hypot, sin
from typing import Any

import numpy as np

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import Layout, PickFace, make_layout
from warehouse_sim.geometry.paths import GoalField, PathFollower, PursuitParams, plan_route, wrap_angle
from warehouse_sim.sim.lidar import Lidar, LidarParams
from warehouse_sim.sim.robot import DiffDriveRobots, MobileBase
from warehouse_sim.sim.world import World, build_world
from warehouse_sim.tasks.base import PHYSICS_ERROR, StepOutcome, Task, physics_scene

#: Discrete action set for ``continuous=False``: index -> normalised ``(v, omega)``
#: (fractions of ``v_max`` and ``omega_max``).
DISCRETE_ACTIONS: tuple[tuple[float, float], ...] = (
    (0.0, 0.0),    # 0 stop
    (1.0, 0.0),    # 1 forward
    (0.6, 0.5),    # 2 forward-left arc
    (0.6, -0.5),   # 3 forward-right arc
    (0.0, 1.0),    # 4 turn left in place
    (0.0, -1.0),   # 5 turn right in place
    (-0.5, 0.0),   # 6 reverse, half speed
)

_AGENT_COLOUR = (0.85, 0.1, 0.1, 1.0)
_TRAFFIC_COLOUR = (0.15, 0.15, 0.15, 1.0)
_TRAFFIC_SPEED = 0.6  # m/s, obstacle robots
_TRAFFIC_STOP_RANGE = 0.7  # m, an obstacle robot waits while something is this close ahead
_TRAFFIC_PATIENCE = 15  # steps an obstacle robot waits before it picks another destination


@dataclass(frozen=True)
class NavigationConfig:
    """Everything that defines a navigation task; validated on construction.

    Attributes:
        layout: Preset name (``"small"``, ``"medium"``, ``"large"``) or a :class:`Layout`.
        route_hint: Include the planner's next waypoint in the observation.
        n_obstacle_robots: Other robots driving their own A* routes (>= 0).
        terminate_on_collision: End the episode (terminated) at the first collision.
        control_hz: Agent decisions per simulated second (> 0, divides ``drive_hz``).
        drive_hz: Robot velocity writes per simulated second (divides ``physics_hz``).
        physics_hz: Physics steps per simulated second.
        n_rays: Lidar rays (>= 1).
        lidar_range: Lidar range in metres.
        route_lookahead: How far ahead along the shortest path the route hint lies, metres.
        goal_tolerance: Distance in metres from the pick-face centre that counts as arrival.
        min_start_distance: Minimum shortest-path distance in metres from start to goal.
        progress_weight: Reward per metre of progress along the shortest path.
        time_penalty: Reward subtracted every step.
        collision_penalty: Reward subtracted for every step that ends in contact.
        success_bonus: Reward added on arrival.
        robot: Robot body and drive limits.
    """

    layout: str | Layout = "small"
    route_hint: bool = True
    n_obstacle_robots: int = 0
    terminate_on_collision: bool = True
    control_hz: int = 10
    drive_hz: int = 60
    physics_hz: int = 240
    n_rays: int = 16
    lidar_range: float = 4.0
    route_lookahead: float = 2.0
    goal_tolerance: float = 0.3
    min_start_distance: float = 2.0
    progress_weight: float = 1.0
    time_penalty: float = 0.01
    collision_penalty: float = 5.0
    success_bonus: float = 5.0
    robot: RobotParams = field(default_factory=RobotParams)

    def __post_init__(self) -> None:
        if isinstance(self.layout, str):
            make_layout(self.layout)  # raises ValueError naming "layout"
        elif not isinstance(self.layout, Layout):
            raise ValueError(f"layout must be a preset name or a Layout, got {type(self.layout).__name__}")
        for name in ("route_hint", "terminate_on_collision"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        for name, low in (("n_obstacle_robots", 0), ("control_hz", 1), ("drive_hz", 1), ("physics_hz", 1), ("n_rays", 1)):
            check_int(name, getattr(self, name), low=low)
        if self.drive_hz % self.control_hz:
            raise ValueError(f"control_hz={self.control_hz} must divide drive_hz={self.drive_hz}")
        if self.physics_hz % self.drive_hz:
            raise ValueError(f"drive_hz={self.drive_hz} must divide physics_hz={self.physics_hz}")
        for name in ("lidar_range", "route_lookahead", "goal_tolerance"):
            check_real(name, getattr(self, name), strict=True)
        for name in ("min_start_distance", "progress_weight", "time_penalty", "collision_penalty", "success_bonus"):
            check_real(name, getattr(self, name))
        if self.lidar_range <= self.robot.radius + 0.05:
            raise ValueError(f"lidar_range must exceed the robot radius, got {self.lidar_range!r}")
        layout = self.get_layout()
        if self.n_obstacle_robots + 2 > len(layout.free_cells) // 2:
            raise ValueError(f"n_obstacle_robots={self.n_obstacle_robots} is too many for layout {layout.name!r}")

    def get_layout(self) -> Layout:
        """The :class:`Layout` (building the preset if ``layout`` is a name)."""
        return make_layout(self.layout) if isinstance(self.layout, str) else self.layout

    @property
    def obs_size(self) -> int:
        """Length of the observation vector."""
        return self.n_rays + 5 + (3 if self.route_hint else 0)

    def lidar_params(self) -> LidarParams:
        """The robot's lidar: ``n_rays`` rays of ``lidar_range`` metres from just outside its body."""
        return LidarParams(
            n_rays=self.n_rays, max_range=self.lidar_range, start_offset=self.robot.radius + 0.02,
            height=self.robot.height * 0.6,
        )


def navigation_observation(
    config: NavigationConfig,
    floor_size: tuple[float, float],
    pose: Sequence[float],
    velocity: Sequence[float],
    ranges: Sequence[float],
    goal: tuple[float, float],
    waypoint: tuple[float, float] | None,
) -> np.ndarray:
    """One robot's Navigation-v0 observation (index table in the env docstring).

    Args:
        config: Ray count, lidar range, route hint settings, drive limits.
        floor_size: ``(width, depth)`` of the floor in metres (scales the goal distance).
        pose: ``(x, y, yaw, ...)`` in metres and radians.
        velocity: Measured ``(v, omega)`` in m/s and rad/s.
        ranges: ``(n_rays,)`` lidar ranges in metres.
        goal: World ``(x, y)`` of the goal in metres.
        waypoint: World ``(x, y)`` of the route hint; required when ``config.route_hint``.

    Returns:
        ``float32[config.obs_size]``.
    """
    robot = config.robot
    x, y, yaw = pose[0], pose[1], pose[2]
    dx, dy = goal[0] - x, goal[1] - y
    bearing = atan2(dy, dx) - yaw
    lidar_range = config.lidar_range
    values = [r / lidar_range for r in ranges]
    # the clips are conditionals, not min/max calls: this runs every step, after the physics
    distance = hypot(dx, dy) / hypot(*floor_size)
    v, omega = velocity[0] / robot.v_max, velocity[1] / robot.omega_max
    values += (
        1.0 if distance > 1.0 else distance,
        sin(bearing),
        cos(bearing),
        1.0 if v > 1.0 else -1.0 if v < -1.0 else v,
        1.0 if omega > 1.0 else -1.0 if omega < -1.0 else omega,
    )
    if config.route_hint:
        if waypoint is None:
            raise ValueError("the route hint needs a waypoint")
        hx, hy = waypoint[0] - x, waypoint[1] - y
        hb = atan2(hy, hx) - yaw
        hint = hypot(hx, hy) / (2.0 * config.route_lookahead)
        values += (1.0 if hint > 1.0 else hint, sin(hb), cos(hb))
    return np.array(values, dtype=np.float32)


@dataclass
class _Traffic:
    """One obstacle robot's route."""

    follower: PathFollower | None = None
    blocked_steps: int = 0  # consecutive steps spent waiting for an obstacle ahead


class NavigationTask(Task):
    """The scene plus the episode logic of the navigation task.

    Args:
        config: The task definition.
        continuous: Actions are normalised ``(v, omega)`` pairs (True) or indices into
            :data:`DISCRETE_ACTIONS` (False).
        gui: Open the PyBullet GUI instead of DIRECT mode.

    Attributes:
        config: The task definition.
        layout: The layout.
        client: The physics client (owned; closed by :meth:`close`).
        world: The static scene.
        robots: Robot 0 is the agent, 1.. the obstacle robots.
        lidar: The lidar shared by all robots (one ray batch per step).
    """

    has_physics = True

    def __init__(self, config: NavigationConfig, *, continuous: bool = True, gui: bool = False) -> None:
        self.config = config
        self.continuous = continuous
        self.layout = config.get_layout()
        self.sim_seconds_per_step = 1.0 / config.control_hz
        self._ticks = config.drive_hz // config.control_hz
        self._substeps_per_tick = config.physics_hz // config.drive_hz
        n = 1 + config.n_obstacle_robots
        with physics_scene(gui=gui, physics_hz=config.physics_hz, planar=True) as client:
            self.world: World = build_world(client, self.layout)
            colours = [_AGENT_COLOUR] + [_TRAFFIC_COLOUR] * config.n_obstacle_robots
            self.robots: MobileBase = DiffDriveRobots(client, n, config.robot, colours=colours)
            self.lidar = Lidar(client, config.lidar_params())
            self._initial_state = client.save_state()
        self.client = client
        self._ignore_contacts = frozenset((self.world.floor,))
        self._fields: dict[tuple[int, int], GoalField] = {}
        # indices of the rays within 35 degrees of the heading (an obstacle robot's view ahead)
        self._front_rays = [k for k, a in enumerate(self.lidar.angles.tolist()) if abs(wrap_angle(a)) <= math.radians(35)]
        self._pursuit = PursuitParams(v_max=min(_TRAFFIC_SPEED, config.robot.v_max), omega_max=config.robot.omega_max)
        # episode state (set by reset)
        self.goal: PickFace | None = None
        self.goal_field: GoalField | None = None
        # the robots' last read state as plain floats (see `poses`, `velocities`, `ranges`)
        self._poses: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)] * n
        self._velocities: list[tuple[float, float]] = [(0.0, 0.0)] * n
        self._ranges: list[list[float]] = [[config.lidar_range] * config.n_rays for _ in range(n)]
        self.geodesic = 0.0
        self._node = (0, 0)
        self.shortest_path_length = 0.0
        self.path_length = 0.0
        self.collisions = 0
        self.in_contact = False
        self.is_success = False
        self._traffic: list[_Traffic] = []
        self._traffic_rng: np.random.Generator | None = None

    # ------------------------------------------------------------------ helpers
    def field_for(self, cell: tuple[int, int]) -> GoalField:
        """The (cached) :class:`GoalField` of goal ``cell``."""
        f = self._fields.get(cell)
        if f is None:
            f = self._fields[cell] = GoalField(self.layout, cell)
        return f

    def _random_pick_face(self, rng: np.random.Generator) -> PickFace:
        faces = self.layout.pick_faces
        return faces[int(rng.integers(len(faces)))]

    @property
    def poses(self) -> np.ndarray:
        """``(n, 4)`` robot poses ``(x, y, yaw, z)`` (metres, radians) at the last read (a new array)."""
        return np.array(self._poses)

    @property
    def velocities(self) -> np.ndarray:
        """``(n, 2)`` measured ``(v, omega)`` (m/s, rad/s) at the last read (a new array)."""
        return np.array(self._velocities)

    @property
    def ranges(self) -> np.ndarray:
        """``(n, n_rays)`` lidar ranges in metres at the last read (a new array)."""
        return np.array(self._ranges)

    def _read_state(self) -> None:
        self._poses, self._velocities = self.robots.state()
        self._ranges = self.lidar.scan(self._poses)

    # ------------------------------------------------------------------ lifecycle
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode: restore the saved scene and draw start, goal and traffic from ``rng``."""
        cfg = self.config
        # the restored state parks every robot away from everything: one collision pass
        # drops the contact pairs of the last episode, so this one replays identically
        self.client.restore_state(self._initial_state, refresh_contacts=True)
        self.goal = self._random_pick_face(rng)
        self.goal_field = self.field_for(self.goal.cell)
        dist = self.goal_field.cells_dist
        free = self.layout.free_cells
        candidates = free[dist[free[:, 0], free[:, 1]] >= cfg.min_start_distance]
        start = candidates[int(rng.integers(len(candidates)))]
        jitter = 0.2 * self.layout.cell_size
        sx, sy = self.layout.cell_to_world(int(start[0]), int(start[1]))
        sx += float(rng.uniform(-jitter, jitter))
        sy += float(rng.uniform(-jitter, jitter))
        self.robots.place(0, sx, sy, float(rng.uniform(-math.pi, math.pi)))
        self._traffic_rng = rng.spawn(1)[0]
        self._traffic = []
        if cfg.n_obstacle_robots:
            taken = {(int(start[0]) + dr, int(start[1]) + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)}
            taken.add(self.goal.cell)
            order = rng.permutation(len(free))
            placed = 0
            for k in order:
                cell = (int(free[k, 0]), int(free[k, 1]))
                if cell in taken:
                    continue
                taken.update((cell[0] + dr, cell[1] + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1))
                x, y = self.layout.cell_to_world(*cell)
                placed += 1
                self.robots.place(placed, x, y, float(rng.uniform(-math.pi, math.pi)))
                self._traffic.append(_Traffic())
                if placed == cfg.n_obstacle_robots:
                    break
            for i in range(placed + 1, self.robots.n):
                self.robots.park(i)
        self._read_state()
        self._node, self.geodesic = self.goal_field.nearest_node(sx, sy)
        self.shortest_path_length = self.geodesic
        self.path_length = 0.0
        self.collisions = 0
        self.in_contact = False
        self.is_success = False

    def _drive_traffic(self) -> None:
        rng = self._traffic_rng
        assert rng is not None
        for k, traffic in enumerate(self._traffic):
            i = k + 1
            x, y, yaw, _ = self._poses[i]
            if traffic.follower is None or traffic.follower.done(x, y) or traffic.blocked_steps > _TRAFFIC_PATIENCE:
                traffic.blocked_steps = 0
                face = self._random_pick_face(rng)
                route = plan_route(self.layout, (x, y), face.cell, radius=self.config.robot.radius + 0.05)
                traffic.follower = PathFollower(route, self._pursuit) if route else None
            if traffic.follower is None:
                self.robots.command_one(i, 0.0, 0.0)
                continue
            v, w = traffic.follower.command(x, y, yaw)
            if v > 0 and min(self._ranges[i][k] for k in self._front_rays) < _TRAFFIC_STOP_RANGE:
                v = 0.0
                traffic.blocked_steps += 1
            else:
                traffic.blocked_steps = 0
            self.robots.command_one(i, v, w)

    def apply(self, action: Any) -> None:
        """Command the agent: ``(v, omega)`` as fractions of the top speeds (Box, already clipped) or a discrete index."""
        if self.continuous:
            v_norm, omega_norm = action.tolist()
        else:
            v_norm, omega_norm = DISCRETE_ACTIONS[action]
        robot = self.config.robot
        self.robots.command_one(0, v_norm * robot.v_max, omega_norm * robot.omega_max)

    def advance(self) -> StepOutcome:
        """Advance one control period: traffic decisions, drive ticks and substeps, sensing, reward."""
        cfg = self.config
        if self._traffic:
            self._drive_traffic()
        x0, y0 = self._poses[0][:2]
        self.robots.drive(1.0 / cfg.drive_hz, self._ticks, self._substeps_per_tick)
        poses, velocities = self.robots.state()
        z0 = self.robots.z0
        for x, y, yaw, z in poses:  # diverged: NaN/inf pose, or lifted off / sunk through the floor
            if not (abs(z - z0) < 0.1 and math.isfinite(x + y + yaw)):  # NaN, inf (or overflow) in the sum
                return StepOutcome(0.0, truncated=True, reason=PHYSICS_ERROR)
        self._poses, self._velocities = poses, velocities
        self._ranges = self.lidar.scan(poses)
        touching = self.robots.touching_one(0, self._ignore_contacts)
        x, y = poses[0][:2]
        self.path_length += hypot(x - x0, y - y0)
        assert self.goal_field is not None
        self._node, geodesic = self.goal_field.nearest_node(x, y)
        reward = cfg.progress_weight * (self.geodesic - geodesic) - cfg.time_penalty
        self.geodesic = geodesic
        contact = bool(touching)
        if contact:
            if not self.in_contact:
                self.collisions += 1
            reward -= cfg.collision_penalty
        self.in_contact = contact
        goal = self.goal
        assert goal is not None
        self.is_success = hypot(goal.x - x, goal.y - y) <= cfg.goal_tolerance
        if self.is_success:
            reward += cfg.success_bonus
        terminated = self.is_success or (contact and cfg.terminate_on_collision)
        return StepOutcome(float(reward), terminated=terminated)

    # ------------------------------------------------------------------ readouts
    def info(self) -> dict[str, Any]:
        """``is_success``, ``collisions``, ``path_length``, ``shortest_path_length``, ``spl``, ``goal`` (see the env docstring)."""
        goal = self.goal
        assert goal is not None
        return {
            "is_success": self.is_success,
            "collisions": self.collisions,
            "path_length": self.path_length,
            "shortest_path_length": self.shortest_path_length,
            "spl": self.spl,
            "goal": (goal.rack_id, goal.slot),
        }

    def observation(self) -> np.ndarray:
        """The agent's observation (see the env docstring for the index table); a new float32 array."""
        goal = self.goal
        assert goal is not None
        waypoint = self.route_waypoint() if self.config.route_hint else None
        return navigation_observation(
            self.config, self.layout.size, self._poses[0], self._velocities[0], self._ranges[0],
            (goal.x, goal.y), waypoint,
        )

    def route_waypoint(self) -> tuple[float, float]:
        """World ``(x, y)`` of the route hint: ~``route_lookahead`` m ahead on the shortest path."""
        assert self.goal_field is not None
        return self.goal_field.follow(self._node[0], self._node[1], self.geodesic - self.config.route_lookahead)

    @property
    def spl(self) -> float:
        """Success weighted by path length: ``success * L / max(P, L)`` (L shortest, P travelled)."""
        if not self.is_success:
            return 0.0
        return self.shortest_path_length / max(self.path_length, self.shortest_path_length, 1e-9)

    def bare_physics_step(self) -> None:
        """The PyBullet work of one :meth:`advance` with no task code (for benchmarks).

        Same velocity writes and pose reads per drive tick, same physics substeps, same
        state reads and contact query, and the last lidar ray batch again.
        """
        self.robots.replay_drive([pose[2] for pose in self._poses], self._ticks, self._substeps_per_tick)
        self.robots.replay_reads(contact_robot=0)
        self.lidar.rescan()

    def close(self) -> None:
        """Disconnect the physics client. Idempotent."""
        self.client.close()
