"""The physics fleet executor: the robots are PyBullet rigid bodies on the warehouse floor.

Clocks (all simulated): physics at ``physics_hz``; robot velocities written at
``drive_hz``; :meth:`PhysicsFleet.control` at ``control_hz``. How a robot in transit drives
to its next planned cell is its driver's business (:mod:`warehouse_sim.tasks.fulfilment.drivers`:
the path controller, or a Navigation policy).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Sequence

import numpy as np

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.sim.robot import DiffDriveRobots, MobileBase
from warehouse_sim.sim.world import World, build_world
from warehouse_sim.tasks.base import physics_scene
from warehouse_sim.tasks.fulfilment.drivers import Move, make_driver
from warehouse_sim.tasks.fulfilment.executor import FleetExecutor

Cell = tuple[int, int]

#: Robot colours, cycled over the fleet.
_PALETTE = ((0.85, 0.1, 0.1, 1.0), (0.1, 0.3, 0.85, 1.0), (0.1, 0.6, 0.2, 1.0), (0.6, 0.2, 0.7, 1.0),
            (0.9, 0.6, 0.0, 1.0), (0.0, 0.6, 0.7, 1.0))


class PhysicsFleet(FleetExecutor):
    """Robots that execute the plans as differential-drive bodies in PyBullet (see :class:`FleetExecutor`).

    Builds the scene once (its own physics client: the static world and the robots);
    resets restore the saved state and place the robots at home.

    Args:
        layout: The floor.
        homes: Home cell per robot.
        params: Robot body and drive limits.
        physics_hz: Physics steps per simulated second.
        drive_hz: Velocity writes per simulated second (divides ``physics_hz``).
        control_hz: Controller updates per simulated second (divides ``drive_hz``).
        driver: ``"planner"`` or ``"policy:PATH.onnx"`` (see
            :func:`~warehouse_sim.tasks.fulfilment.drivers.make_driver`).
        gui: Open the PyBullet GUI.

    Attributes:
        client: The physics client (owned; closed by :meth:`close`).
        world: The static scene.
        robots: The robot bodies.
        driver: Turns authorised moves into wheel commands.
    """

    def __init__(
        self,
        layout: Layout,
        homes: Sequence[Cell],
        params: RobotParams,
        *,
        physics_hz: int,
        drive_hz: int,
        control_hz: int,
        driver: str = "planner",
        gui: bool = False,
    ) -> None:
        super().__init__(layout, homes, params, control_dt=1.0 / control_hz)
        with physics_scene(gui=gui, physics_hz=physics_hz, planar=True) as client:
            self.world: World = build_world(client, layout)
            colours = [_PALETTE[i % len(_PALETTE)] for i in range(self.n)]
            self.robots: MobileBase = DiffDriveRobots(client, self.n, params, colours=colours)
            self.driver = make_driver(driver, self.robots, layout, control_dt=self.control_dt)
            self._place_home()
            self._initial_state = client.save_state()
        self.client = client
        self._static = frozenset((self.world.floor,))
        self._substeps_per_drive = physics_hz // drive_hz
        self._drives_per_control = drive_hz // control_hz
        self._drive_dt = self._substeps_per_drive / physics_hz
        self._step = client.stepper()
        self._moving = [False] * self.n
        self._contacts: set[frozenset[int]] = set()
        self._last_xy = np.zeros((self.n, 2))
        #: Receives every completed cell move as ``(robot, start tick, arrival tick, path)``
        #: (``path``: the plan's cells from the move's start), or None; for calibrating
        #: the fast executor (``training/calibrate_fast.py``).
        self.move_log: Callable[[int, int, int, Sequence[Cell]], None] | None = None
        #: Velocity writes per control tick over the last simulated hour (what the benchmark floor replays).
        self._writes: collections.deque[int] = collections.deque(maxlen=36_000)
        self._ticks = 0
        self._move_start: list[tuple[int, tuple[Cell, ...]]] = [(0, ())] * self.n
        self.reset()

    @property
    def fallbacks(self) -> int:
        """Moves the policy driver's watchdog handed to the path controller since reset."""
        return self.driver.fallbacks

    def _place_home(self) -> None:
        """Every robot at rest in the centre of its home cell, facing north."""
        for i, cell in enumerate(self.homes):
            x, y = self.layout.cell_to_world(*cell)
            self.robots.place(i, x, y, math.pi / 2)

    def _reset_motion(self) -> None:
        self.client.restore_state(self._initial_state)
        self._place_home()
        self._moving = [False] * self.n
        self._last_xy = np.array([self.layout.cell_to_world(*c) for c in self.homes], dtype=float)
        self._last_poses: list[tuple[float, float, float, float]] | None = None  # nothing rests before the first tick
        self._resting = [False] * self.n
        self._yaw: list[float] | None = None
        self._contacts = set()
        self.driver.reset()
        self._ticks = 0

    def control(self) -> None:
        """One controller update: odometry, plans advanced on arrival, moves authorised, wheels commanded."""
        planner, robots, driver, layout = self.planner, self.robots, self.driver, self.layout
        # plain floats from here (numpy calls cost several times more right after the
        # physics), except the odometry, which keeps numpy's hypot and pairwise sum
        rows = robots.pose_rows()
        xy = np.array([row[:2] for row in rows])
        self.distance_m += float(np.hypot(*(xy - self._last_xy).T).sum())
        self._last_xy = xy
        last = self._last_poses
        self._resting = [False] * self.n if last is None else [a == b for a, b in zip(rows, last, strict=True)]
        self._last_poses = rows
        moves: list[Move] = []
        in_transit = self._in_transit
        for r in range(self.n):
            if not in_transit[r] and planner.is_idle(r):
                continue
            x, y = rows[r][0], rows[r][1]
            while True:
                if in_transit[r]:
                    here, nxt, after = planner.cell(r), planner.ahead(r, 1), planner.ahead(r, 2)
                    assert nxt is not None
                    target = layout.cell_to_world(*nxt)
                    straight = after is not None and (nxt[0] - here[0], nxt[1] - here[1]) == (after[0] - nxt[0], after[1] - nxt[1])
                    if driver.arrived(math.hypot(target[0] - x, target[1] - y), straight, after is None):
                        planner.advance(r)
                        in_transit[r] = False
                        self.moves += 1
                        if self.move_log is not None:
                            self.move_log(r, self._move_start[r][0], self._ticks, self._move_start[r][1])
                        continue
                    moves.append(Move(r, target, straight, planner))
                    break
                if planner.is_idle(r):
                    break
                if not planner.may_enter(r):
                    break
                if planner.next_cell(r) == planner.cell(r):  # a planned wait: nothing to drive
                    planner.advance(r)
                    continue
                in_transit[r] = True
                if self.move_log is not None:
                    self._move_start[r] = (self._ticks, tuple(planner.remaining_path(r)))
        commands = dict(zip((m.robot for m in moves), driver.commands(rows, moves), strict=True))
        moving = self._moving
        for r in range(self.n):
            v, omega = commands.get(r, (0.0, 0.0))
            robots.command_one(r, v, omega)
            moving[r] = v != 0.0 or omega != 0.0
        self._yaw = [row[2] for row in rows]
        self._ticks += 1

    def advance(self) -> None:
        """One control interval: a velocity write per drive tick, then its physics substeps.

        The first drive tick reuses the headings :meth:`control` just read, and robots
        that have rested since the last tick, with zero velocity written and commanded,
        are not written again.
        """
        self._writes.append(self.robots.drive(
            self._drive_dt, self._drives_per_control, self._substeps_per_drive, yaw=self._yaw, resting=self._resting
        ))

    def check(self) -> bool:
        """Count new contacts of moving robots with racks, walls, the station or robots; False on divergence."""
        current = self.robots.contact_pairs([r for r, moving in enumerate(self._moving) if moving], self._static)
        self.collisions += len(current - self._contacts)
        self._contacts = current
        rows = self.robots.pose_rows()
        return all(math.isfinite(value) for row in rows for value in row) and all(row[3] >= -0.5 for row in rows)

    def poses(self) -> np.ndarray:
        """``(n, 4)`` robot poses ``(x, y, yaw, z)`` read from the bodies."""
        return self.robots.poses()

    def bare_physics(self, n_controls: int, check_every: int) -> None:
        """What the physics of ``n_controls`` control ticks needs, and nothing else (the floor of ``warehouse-sim bench``).

        The physics substeps of those ticks; per control tick as many velocity writes
        (each with the pose read that gives its heading) as the last ``n_controls`` ticks
        made (robots that drive; resting ones need none); one contact query per robot
        every ``check_every`` ticks (the collision count). No controller, driver, plan or
        job logic. The physics state is saved before and restored after, so the episode
        continues where it was.
        """
        client, robots, step = self.client, self.robots, self._step
        writes = list(self._writes)[-n_controls:] or [self.n * self._drives_per_control]
        state = client.save_state()
        everyone = list(range(self.n))
        substeps = self._drives_per_control * self._substeps_per_drive
        for tick in range(1, n_controls + 1):
            robots.replay_writes(writes[tick % len(writes)])
            for _ in range(substeps):
                step()
            if tick % check_every == 0:
                robots.contact_pairs(everyone, self._static)
        client.restore_state(state)
        client.remove_state(state)

    def close(self) -> None:
        """Disconnect the physics client (idempotent)."""
        self.client.close()
