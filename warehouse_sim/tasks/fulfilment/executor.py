"""The fleet executor: what moves the robots through their planned cells on the control clock.

The fulfilment task decides *what* each robot does (its job state machine) and *where*
it goes (:meth:`FleetExecutor.send` plans it with the multi-robot reservation planner,
:class:`~warehouse_sim.geometry.reservations.FleetPlanner`); an executor decides how the
robots get there in time. The task calls, once per control tick::

    executor.control()   # advance plans of robots that arrived, authorise moves, command
    executor.advance()   # simulate one control interval of motion

and once per simulated minute :meth:`FleetExecutor.check` (contacts, divergence). A
robot may start towards its next cell only when the planner allows it
(:meth:`FleetPlanner.may_enter`), so robots keep their planned order however they are
delayed. :class:`~warehouse_sim.tasks.fulfilment.physics_fleet.PhysicsFleet` drives
PyBullet bodies; another executor implements the same abstract methods and the task does
not change.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import numpy as np

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.geometry.reservations import FleetPlanner
from warehouse_sim.tasks.fulfilment.slotting import or_far

Cell = tuple[int, int]


class FleetExecutor(abc.ABC):
    """Robots that execute :class:`FleetPlanner` plans; the planning side is shared, the motion abstract.

    Args:
        layout: The floor.
        homes: Home cell per robot.
        params: Robot body and drive limits.
        control_dt: Seconds between :meth:`control` calls.

    Attributes:
        layout: The floor.
        homes: Home cell per robot.
        n: Number of robots.
        params: Robot body and drive limits.
        planner: The multi-robot planner (plans, reservations, execution order).
        step_s: Nominal duration of one plan step in seconds (crossing a cell at 80% of
            top speed): converts the simulated clock into plan steps.
        control_dt: Seconds per control tick.
        distance_m: Fleet odometry since reset (metres).
        collisions: New contacts of moving robots since reset.
        moves: Cell-to-cell moves completed since reset.
        retry_s: Per robot, the simulated time before which a failed plan is not retried
            (and a robot the job board holds is not sent home).
    """

    def __init__(self, layout: Layout, homes: Sequence[Cell], params: RobotParams, *, control_dt: float) -> None:
        self.layout = layout
        self.homes = list(homes)
        self.n = len(self.homes)
        self.params = params
        self.planner = FleetPlanner(layout.occupancy, max_expansions=6_000)
        self.step_s = layout.cell_size / (0.8 * params.v_max)
        self.control_dt = control_dt
        self._in_transit = [False] * self.n
        self.distance_m = 0.0
        self.collisions = 0
        self.moves = 0
        self.retry_s = [0.0] * self.n

    def reset(self) -> None:
        """Every robot at rest in its home cell; plans and counters cleared."""
        self.planner.reset(self.homes)
        self._in_transit = [False] * self.n
        self.distance_m = 0.0
        self.collisions = 0
        self.moves = 0
        self.retry_s = [0.0] * self.n
        self._reset_motion()

    # ------------------------------------------------------------------ planning (shared)
    def send(self, robot: int, goals: Sequence[Cell], now_s: float) -> Cell | None:
        """Plan an idle ``robot`` to the nearest available cell of ``goals``.

        Returns:
            The goal cell planned to, or None (no goal free or no plan now; retry later).
        """
        planner = self.planner
        here = planner.cell(robot)
        options = sorted((or_far(planner.distance(here, g)), g) for g in goals if planner.goal_available(g, robot))
        step = int(now_s / self.step_s)
        for _, goal in options:
            if planner.plan(robot, goal, step) is not None:
                return goal
        return None

    def idle(self, robot: int) -> bool:
        """Whether the robot has finished its plan (it stands in its last cell)."""
        return self.planner.is_idle(robot) and not self._in_transit[robot]

    def cell(self, robot: int) -> Cell:
        """The cell of the plan step the robot has reached (its last cell while in transit)."""
        return self.planner.cell(robot)

    # ------------------------------------------------------------------ motion (per executor)
    @property
    def fallbacks(self) -> int:
        """Moves a policy driver handed to the path controller since reset (0 without one)."""
        return 0

    @abc.abstractmethod
    def _reset_motion(self) -> None:
        """Put every robot at rest in its home cell (the planner is already reset)."""

    @abc.abstractmethod
    def control(self) -> None:
        """One controller update: advance the plans of robots that reached their next cell, authorise moves, command."""

    @abc.abstractmethod
    def advance(self) -> None:
        """Simulate one control interval (``control_dt`` seconds) of motion."""

    @abc.abstractmethod
    def check(self) -> bool:
        """Once per simulated minute: count new contacts; False if the simulation has diverged."""

    @abc.abstractmethod
    def poses(self) -> np.ndarray:
        """``(n, 4)`` robot poses ``(x, y, yaw, z)`` in metres and radians, world frame."""

    def close(self) -> None:  # noqa: B027 - executors without resources have nothing to release
        """Release what the executor holds (idempotent)."""
