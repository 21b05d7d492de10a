"""Differential-drive mobile robots as real rigid bodies, commanded as a fleet.

Each robot is a primitive cylinder multibody with mass (a URDF robot costs ~10x more to
step). A robot is driven by a linear velocity ``v`` (m/s, along its heading) and an
angular velocity ``omega`` (rad/s, about world z): at every physics substep the applied
velocity moves towards the commanded one by at most the acceleration limits times the
time step, and is written to the body (planar velocity, zero vertical and roll/pitch
rates). Robots are planar: scenes with robots run with gravity off and the robot rides
``RIDE_HEIGHT`` above the floor, so the floor takes no part in the contact solver (cheaper,
and no floor contact history that would make a restored state replay differently); its
mass still matters in every collision. The physics solver then
resolves contacts: a robot driven into a rack, a wall or another robot is blocked, and
the contact is reported by :meth:`DiffDriveRobots.touching`.

One :class:`DiffDriveRobots` holds ``n`` robots, so the Navigation env (1 agent +
obstacle robots) and a fleet env command and read many robots with a handful of PyBullet
calls per robot per drive tick (about 2.5 us each). The per-step paths (:meth:`~DiffDriveRobots.drive`,
:meth:`~DiffDriveRobots.state`) work on plain Python floats: after the physics substeps
every Python operation runs on cold caches, and a numpy or builtin call costs several
times what it costs in isolation. Tasks and
drivers use them through the :class:`MobileBase` interface.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from warehouse_sim._checks import check_int
from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.sim._pybullet import p
from warehouse_sim.sim.client import PhysicsClient, bullet_of

#: Parked robots (not placed by a reset) wait here, far outside any layout, spaced apart.
PARKING_ORIGIN = (-50.0, -50.0)
#: Gap in metres between the floor and a robot's underside. Robot scenes run with
#: gravity off (see the module docstring), so the floor never enters the contact solver.
RIDE_HEIGHT = 0.02
_NOTHING: frozenset[int] = frozenset()  # what a robot touches when it touches nothing


class MobileBase(Protocol):
    """A group of ``n`` planar mobile robots commanded by ``(v, omega)``: what tasks and drivers use.

    Attributes:
        n: Number of robots.
        params: Body and drive limits.
        client: The physics client the robots live in (for sensors such as the lidar).
    """

    n: int
    params: RobotParams
    client: PhysicsClient

    def place(self, index: int, x: float, y: float, yaw: float) -> None:
        """Teleport robot ``index`` to ``(x, y)`` metres, heading ``yaw`` radians, at rest."""
        ...

    def park(self, index: int) -> None:
        """Move robot ``index`` out of the floor, at rest."""
        ...

    def command_one(self, index: int, v: float, omega: float) -> None:
        """Set the commanded ``(v, omega)`` of robot ``index`` in m/s and rad/s (clipped to the limits)."""
        ...

    def drive(
        self, dt: float, n_ticks: int, substeps: int, *,
        yaw: Sequence[float] | None = None, resting: Sequence[bool] | None = None,
    ) -> int:
        """Run ``n_ticks`` drive ticks of ``dt`` seconds (slew towards the commands, write), each then ``substeps`` physics steps; return the writes."""
        ...

    def poses(self) -> np.ndarray:
        """``(n, 4)`` poses ``(x, y, yaw, z)`` in metres and radians, world frame."""
        ...

    def pose_rows(self) -> list[tuple[float, float, float, float]]:
        """:meth:`poses` as per-robot rows of plain floats (for per-tick paths)."""
        ...

    def velocities(self, yaw: np.ndarray) -> np.ndarray:
        """``(n, 2)`` measured ``(v, omega)`` in m/s and rad/s given the headings ``yaw``."""
        ...

    def state(self) -> tuple[list[tuple[float, float, float, float]], list[tuple[float, float]]]:
        """Per robot ``(x, y, yaw, z)`` and ``(v, omega)`` as plain floats, read in one pass."""
        ...

    def touching_one(self, index: int, ignore: frozenset[int]) -> frozenset[int]:
        """The body ids robot ``index`` is in contact with, except ``ignore``."""
        ...

    def contact_pairs(self, indices: Sequence[int], ignore: frozenset[int]) -> set[frozenset[int]]:
        """The contacts of the robots ``indices`` as unordered body-id pairs, except with ``ignore``."""
        ...

    @property
    def z0(self) -> float:
        """Height in metres of a robot's centre above the floor."""
        ...

    def replay_drive(self, yaw: Sequence[float], n_ticks: int, substeps: int) -> None:
        """The PyBullet work of ``n_ticks`` drive ticks of ``substeps`` physics steps, no drive arithmetic (benchmarks)."""
        ...

    def replay_writes(self, n_writes: int) -> None:
        """The PyBullet calls of ``n_writes`` velocity writes with their pose reads (benchmarks)."""
        ...

    def replay_reads(self, contact_robot: int | None = None) -> None:
        """The PyBullet reads of one state read-out, results unused (benchmarks)."""
        ...


def yaw_from_quaternion(q: tuple[float, float, float, float]) -> float:
    """Yaw (rotation about world z) in radians of quaternion ``(x, y, z, w)``."""
    x, y, z, w = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


class DiffDriveRobots:
    """``n`` differential-drive robots in one physics client.

    Args:
        client: The physics client.
        n: Number of robots (>= 1).
        params: Shared body and drive parameters.
        colours: Optional RGBA per robot.

    Attributes:
        ids: PyBullet body ids, index = robot index.
        params: The robot parameters.
    """

    def __init__(
        self, client: PhysicsClient, n: int, params: RobotParams | None = None, *,
        colours: list[tuple[float, float, float, float]] | None = None,
    ) -> None:
        check_int("n", n)
        self.client = client
        self.params = params or RobotParams()
        self.n = int(n)
        self._z0 = self.params.height / 2 + RIDE_HEIGHT
        bc = bullet_of(client)
        pr = self.params
        col = bc.createCollisionShape(p.GEOM_CYLINDER, radius=pr.radius, height=pr.height)
        self.ids: list[int] = []
        for i in range(self.n):
            colour = colours[i] if colours else (0.1, 0.1, 0.1, 1.0)
            vis = bc.createVisualShape(p.GEOM_CYLINDER, radius=pr.radius, length=pr.height, rgbaColor=colour)
            body = bc.createMultiBody(
                baseMass=pr.mass, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                basePosition=self._parking(i),
            )
            bc.changeDynamics(body, -1, lateralFriction=0.0, spinningFriction=0.0, rollingFriction=0.0,
                              linearDamping=0.0, angularDamping=0.0)
            self.ids.append(body)
        # per robot [v, omega]: commanded, and acceleration-limited as written to the bodies
        # (plain lists: scalar access in the per-tick loop is ~5x cheaper than numpy's)
        self._target = [[0.0, 0.0] for _ in range(self.n)]
        self._applied = [[0.0, 0.0] for _ in range(self.n)]
        self._wrote_zero = [True] * self.n  # the last velocity written (or placed) was zero
        self._reset_velocity = bc.resetBaseVelocity
        self._get_pose = bc.getBasePositionAndOrientation
        self._get_velocity = bc.getBaseVelocity
        self._contacts = bc.getContactPoints
        self._step = bc.stepSimulation

    def _parking(self, i: int) -> tuple[float, float, float]:
        return PARKING_ORIGIN[0] - 2.0 * i, PARKING_ORIGIN[1], self._z0

    # ------------------------------------------------------------------ placing
    def place(self, index: int, x: float, y: float, yaw: float) -> None:
        """Teleport robot ``index`` to ``(x, y)`` metres, heading ``yaw`` radians, at rest."""
        bc = bullet_of(self.client)
        bc.resetBasePositionAndOrientation(self.ids[index], (x, y, self._z0), bc.getQuaternionFromEuler((0, 0, yaw)))
        bc.resetBaseVelocity(self.ids[index], (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        self._target[index] = [0.0, 0.0]
        self._applied[index] = [0.0, 0.0]
        self._wrote_zero[index] = True

    @property
    def z0(self) -> float:
        """Height in metres of a robot's centre above the floor."""
        return self._z0

    def park(self, index: int) -> None:
        """Move robot ``index`` out of the layout, at rest."""
        x, y, _ = self._parking(index)
        self.place(index, x, y, 0.0)

    # ------------------------------------------------------------------ commands
    def command(self, v: np.ndarray, omega: np.ndarray) -> None:
        """Set the commanded velocities of all robots, clipped to the limits.

        Args:
            v: ``(n,)`` linear velocities in m/s.
            omega: ``(n,)`` angular velocities in rad/s.
        """
        pr = self.params
        vs = np.clip(v, -pr.v_max, pr.v_max).tolist()
        ws = np.clip(omega, -pr.omega_max, pr.omega_max).tolist()
        if len(vs) != self.n or len(ws) != self.n:
            raise ValueError(f"v and omega must have shape ({self.n},)")
        self._target = [[a, b] for a, b in zip(vs, ws, strict=True)]

    def command_one(self, index: int, v: float, omega: float) -> None:
        """Set the commanded ``(v, omega)`` of robot ``index`` (m/s, rad/s), clipped to the limits."""
        v_max, omega_max = self.params.v_max, self.params.omega_max
        self._target[index] = [  # clip(v, -v_max, v_max), likewise omega (conditionals: this runs every step)
            v_max if v > v_max else -v_max if v < -v_max else v,
            omega_max if omega > omega_max else -omega_max if omega < -omega_max else omega,
        ]

    def drive(
        self, dt: float, n_ticks: int, substeps: int, *,
        yaw: Sequence[float] | None = None, resting: Sequence[bool] | None = None,
    ) -> int:
        """Run ``n_ticks`` drive ticks of ``dt`` seconds, each followed by ``substeps`` physics steps.

        At each tick the applied velocities move towards the commands by at most the
        acceleration limits times ``dt`` and are written to the bodies, along the heading
        read from each body; the written velocity then holds for the tick's substeps (the
        solver may change it on contact).

        Args:
            dt: The drive tick in seconds.
            n_ticks: Drive ticks to run (>= 0).
            substeps: Physics steps after each tick's writes (>= 0).
            yaw: The robots' headings in radians, when they were just read (no physics
                step since): the first tick uses them instead of a pose read per robot.
            resting: Per robot, whether it has not moved since the last write. At the
                first tick, a resting robot that was written zero velocity and is to stay
                at zero is not written again (its velocity is zero already: the write
                would change nothing).

        Returns:
            The number of velocity writes (PyBullet calls) made.
        """
        pr = self.params
        dv, dw = pr.accel_max * dt, pr.alpha_max * dt
        get_pose, set_velocity, step = self._get_pose, self._reset_velocity, self._step
        atan2, cos, sin = math.atan2, math.cos, math.sin
        wrote_zero = self._wrote_zero
        robots = list(enumerate(zip(self.ids, self._applied, self._target, strict=True)))
        writes = 0
        for tick in range(n_ticks):
            # the tick's arguments hold at the first tick only (no physics step before it)
            headings = yaw if tick == 0 else None
            rest = resting if tick == 0 else None
            for i, (body, applied, (tv, tw)) in robots:
                v, w = applied
                # v += clip(tv - v, -dv, dv), likewise w (conditionals: no builtin calls in this loop)
                d = tv - v
                v += dv if d > dv else -dv if d < -dv else d
                d = tw - w
                w += dw if d > dw else -dw if d < -dw else d
                applied[0], applied[1] = v, w
                zero = v == 0.0 and w == 0.0
                if zero and rest is not None and rest[i] and wrote_zero[i]:
                    continue
                if headings is None:
                    x, y, z, qw = get_pose(body)[1]
                    heading = atan2(2.0 * (qw * z + x * y), 1.0 - 2.0 * (y * y + z * z))
                else:
                    heading = headings[i]
                set_velocity(body, (v * cos(heading), v * sin(heading), 0.0), (0.0, 0.0, w))
                wrote_zero[i] = zero
                writes += 1
            for _ in range(substeps):
                step()
        return writes

    # ------------------------------------------------------------------ reading
    def poses(self) -> np.ndarray:
        """``(n, 4)`` array of ``(x, y, yaw, z)``: metres, radians, metres (world frame)."""
        return np.array(self.pose_rows(), dtype=np.float64)

    def pose_rows(self) -> list[tuple[float, float, float, float]]:
        """Per robot ``(x, y, yaw, z)`` as plain floats (what :meth:`poses` holds, without numpy)."""
        rows = []
        for body in self.ids:
            pos, quat = self._get_pose(body)
            rows.append((pos[0], pos[1], yaw_from_quaternion(quat), pos[2]))
        return rows

    def velocities(self, yaw: np.ndarray) -> np.ndarray:
        """``(n, 2)`` measured ``(v, omega)``: forward speed in m/s along ``yaw``, yaw rate in rad/s."""
        rows = []
        for body, h in zip(self.ids, yaw.tolist(), strict=True):
            lin, ang = self._get_velocity(body)
            rows.append((lin[0] * math.cos(h) + lin[1] * math.sin(h), ang[2]))
        return np.array(rows, dtype=np.float64)

    def state(self) -> tuple[list[tuple[float, float, float, float]], list[tuple[float, float]]]:
        """:meth:`poses` and :meth:`velocities` (along the read headings) in one pass over the bodies.

        Returns:
            Per robot, ``(x, y, yaw, z)`` and ``(v, omega)`` as plain floats (the per-step
            read: no numpy call, each costs about a microsecond after the physics).
        """
        get_pose, get_velocity, atan2, cos, sin = self._get_pose, self._get_velocity, math.atan2, math.cos, math.sin
        poses, velocities = [], []
        for body in self.ids:
            pos, (x, y, z, w) = get_pose(body)
            yaw = atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
            lin, ang = get_velocity(body)
            poses.append((pos[0], pos[1], yaw, pos[2]))
            velocities.append((lin[0] * cos(yaw) + lin[1] * sin(yaw), ang[2]))
        return poses, velocities

    @property
    def targets(self) -> np.ndarray:
        """``(n, 2)`` commanded ``(v, omega)`` after clipping to the limits (a copy)."""
        return np.array(self._target)

    @property
    def applied(self) -> np.ndarray:
        """``(n, 2)`` acceleration-limited ``(v, omega)`` last written to the bodies (a copy)."""
        return np.array(self._applied)

    def touching(self, ignore: frozenset[int]) -> list[frozenset[int]]:
        """For each robot, the ids of the bodies it is in contact with, except ``ignore`` (e.g. the floor)."""
        return [self.touching_one(i, ignore) for i in range(self.n)]

    def touching_one(self, index: int, ignore: frozenset[int]) -> frozenset[int]:
        """The ids of the bodies robot ``index`` is in contact with, except ``ignore``."""
        contacts = self._contacts(bodyA=self.ids[index])
        return frozenset(c[2] for c in contacts if c[2] not in ignore) if contacts else _NOTHING

    def contact_pairs(self, indices: Sequence[int], ignore: frozenset[int]) -> set[frozenset[int]]:
        """The contacts of robots ``indices`` as unordered ``{robot body, other body}`` id pairs, except with ``ignore``."""
        contacts, ids = self._contacts, self.ids
        pairs: set[frozenset[int]] = set()
        for r in indices:
            body = ids[r]
            for c in contacts(bodyA=body):
                if c[2] not in ignore:
                    pairs.add(frozenset((body, c[2])))
        return pairs

    # ------------------------------------------------------------------ benchmark floor
    def replay_drive(self, yaw: Sequence[float], n_ticks: int, substeps: int) -> None:
        """The PyBullet work of ``n_ticks`` drive ticks without the drive arithmetic (benchmarks).

        Per tick, one pose read and one velocity write per robot (the velocities last
        applied, rotated by the headings ``yaw`` in radians), then ``substeps`` physics
        steps: what :meth:`apply` plus the substeps cost PyBullet, the floor an env step
        is compared with by ``warehouse-sim bench``.
        """
        get_pose, set_velocity, step = self._get_pose, self._reset_velocity, self._step
        writes = [
            (body, (v * math.cos(h), v * math.sin(h), 0.0), (0.0, 0.0, w))
            for body, (v, w), h in zip(self.ids, self._applied, yaw, strict=True)
        ]
        for _ in range(n_ticks):
            for body, lin, ang in writes:
                get_pose(body)
                set_velocity(body, lin, ang)
            for _ in range(substeps):
                step()

    def replay_writes(self, n_writes: int) -> None:
        """The PyBullet calls of ``n_writes`` velocity writes with their pose reads, cycling over the robots (benchmarks)."""
        get_pose, set_velocity, ids, n = self._get_pose, self._reset_velocity, self.ids, self.n
        for k in range(n_writes):
            body = ids[k % n]
            v, w = self._applied[k % n]
            get_pose(body)
            set_velocity(body, (v, 0.0, 0.0), (0.0, 0.0, w))

    def replay_reads(self, contact_robot: int | None = None) -> None:
        """The PyBullet reads of one state read-out (benchmarks): every pose and velocity, and one robot's contacts."""
        get_pose, get_velocity = self._get_pose, self._get_velocity
        for body in self.ids:
            get_pose(body)
            get_velocity(body)
        if contact_robot is not None:
            self._contacts(bodyA=self.ids[contact_robot])
