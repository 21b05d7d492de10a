"""A fixed-base Franka Panda with a suction cup, driven by end-effector displacements.

The arm is pybullet_data's ``franka_panda/panda.urdf`` with its base at the world
origin. Its two fingers are held closed; their tips form the suction cup face, and the
tool centre point (TCP) is the centre of that face, pointing down (world -z).

Control (:meth:`SuctionArm.command`): a TCP displacement (dx, dy, dz) in metres is
added to the TCP target, which is clipped to the workspace box and to
:data:`MAX_LEAD` ahead of the TCP, turned into joint targets by PyBullet's
damped-least-squares inverse kinematics (fixed downward orientation, hand long axis
along world x, null space pulled toward the home pose), clipped to the joint limits
and sent to the joint position motors (URDF effort limits, gain
:data:`POSITION_GAIN`). PyBullet then integrates the motors over the physics substeps.

Suction (:class:`SuctionGripper`): with suction on, the first item the cup (either
finger link) touches is held by a fixed constraint at the pose it had when touched.
Items heavier than the payload slip: no constraint is made. While held, the item does
not collide with the cup (the seal holds it; contact would fight the constraint). A
held item that is pulled more than :data:`BREAK_DISTANCE` away from its held pose (a
collision) breaks loose. Suction off releases it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from warehouse_sim.sim._pybullet import p
from warehouse_sim.sim.client import PhysicsClient, bullet_of

#: Arm joint indices (panda_joint1..7) and the finger joints of panda.urdf.
ARM_JOINTS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS: tuple[int, ...] = (9, 10)
#: The hand link (suction constraints attach here) and the grasp-target link (TCP).
HAND_LINK = 8
TCP_LINK = 11
#: Distance (m) from the grasp-target link to the cup face (fingertips), along the tool z axis.
CUP_OFFSET = 0.011
#: Distance (m) a held item may be pulled from its held pose before the seal breaks.
BREAK_DISTANCE = 0.03
#: Largest lead (m, per axis) of the TCP target over the TCP.
MAX_LEAD = 0.04
#: Gain of the joint position motors (PyBullet's default 0.1 lags a 1/24 s control step).
POSITION_GAIN = 0.2
#: Downward TCP orientation (x, y, z, w): the hand's z axis along world -z and its long
#: (finger) axis along world x, so it is narrow (7 cm) along y.
DOWN = (math.sqrt(0.5), math.sqrt(0.5), 0.0, 0.0)


@dataclass(frozen=True)
class ArmConfig:
    """Arm geometry, limits and suction payload.

    Attributes:
        home: Home joint positions of panda_joint1..7 in radians (TCP near (0.48, 0, 0.31)).
        workspace_low: Lower corner (x, y, z) of the box the TCP target is clipped to, metres.
        workspace_high: Upper corner of that box, metres.
        payload_kg: Heaviest item the suction cup holds; heavier ones slip.
        seal_force: Maximum force of the suction constraint, newtons.
        ik_iterations: Maximum iterations of the IK solver per command.
    """

    home: tuple[float, ...] = (0.0, -0.2, 0.0, -2.3, 0.0, 2.1, -0.785)
    workspace_low: tuple[float, float, float] = (0.28, -0.48, 0.05)
    workspace_high: tuple[float, float, float] = (0.78, 0.50, 0.45)
    payload_kg: float = 2.0
    seal_force: float = 200.0
    ik_iterations: int = 20

    def __post_init__(self) -> None:
        if len(self.home) != len(ARM_JOINTS):
            raise ValueError(f"ArmConfig.home must have {len(ARM_JOINTS)} joint positions, got {len(self.home)}")
        if not all(lo < hi for lo, hi in zip(self.workspace_low, self.workspace_high, strict=True)):
            raise ValueError("ArmConfig.workspace_low must be below workspace_high on every axis")
        if not (math.isfinite(self.payload_kg) and self.payload_kg > 0):
            raise ValueError(f"ArmConfig.payload_kg must be positive, got {self.payload_kg!r}")
        if not self.seal_force > 0:
            raise ValueError(f"ArmConfig.seal_force must be positive, got {self.seal_force!r}")
        if self.ik_iterations < 1:
            raise ValueError(f"ArmConfig.ik_iterations must be >= 1, got {self.ik_iterations!r}")


class SuctionArm:
    """The Panda, its joint-position motors and its IK, in one physics client.

    Args:
        client: The physics client.
        config: Limits, home pose and payload.
    """

    def __init__(self, client: PhysicsClient, *, config: ArmConfig) -> None:
        self.client = client
        self.config = config
        bc = bullet_of(client)
        self.body = client.load_urdf("franka_panda/panda.urdf", useFixedBase=True)
        infos = [bc.getJointInfo(self.body, j) for j in ARM_JOINTS]
        self.lower = [float(i[8]) for i in infos]
        self.upper = [float(i[9]) for i in infos]
        self.forces = [float(i[10]) for i in infos]
        self._gains = [POSITION_GAIN] * len(ARM_JOINTS)
        self._ranges = [hi - lo for lo, hi in zip(self.lower, self.upper, strict=True)]
        # IK covers every movable joint (fingers included); fingers stay at 0.
        self._ik_lower = [*self.lower, 0.0, 0.0]
        self._ik_upper = [*self.upper, 0.04, 0.04]
        self._ik_ranges = [*self._ranges, 0.04, 0.04]
        self._ik_rest = [*config.home, 0.0, 0.0]
        for j, q in zip(ARM_JOINTS, config.home, strict=True):
            bc.resetJointState(self.body, j, q)
        for j in FINGER_JOINTS:
            bc.resetJointState(self.body, j, 0.0)
        for link in range(-1, bc.getNumJoints(self.body)):
            bc.changeDynamics(self.body, link, linearDamping=0.0, angularDamping=0.0)
        for link in (*FINGER_JOINTS, HAND_LINK):
            bc.changeDynamics(self.body, link, lateralFriction=1.0)
        self.home_tcp = self.tcp_state()[0]
        self.target: tuple[float, float, float] = self.home_tcp
        self.hold_home()

    def hold_home(self) -> None:
        """Set the motor targets to the home pose and the fingers closed (after a state restore)."""
        self.target = self.home_tcp
        bc = bullet_of(self.client)
        bc.setJointMotorControlArray(
            self.body, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=self.config.home, forces=self.forces
        )
        bc.setJointMotorControlArray(
            self.body, FINGER_JOINTS, p.POSITION_CONTROL, targetPositions=(0.0, 0.0), forces=(40.0, 40.0)
        )

    def tcp_state(self) -> tuple[tuple[float, float, float], tuple[float, float, float, float], tuple[float, float, float]]:
        """TCP (cup face centre) world position (m), orientation (x, y, z, w) and linear velocity (m/s).

        One ``getLinkState`` call; the velocity is the grasp-target link's.
        """
        state = bullet_of(self.client).getLinkState(self.body, TCP_LINK, computeLinkVelocity=1)
        (px, py, pz), orn = state[4], state[5]
        x, y, z, w = orn
        d = CUP_OFFSET
        face = (px + d * 2.0 * (x * z + w * y), py + d * 2.0 * (y * z - w * x), pz + d * (1.0 - 2.0 * (x * x + y * y)))
        return face, orn, state[6]

    def command(self, tcp_position: tuple[float, float, float], delta: tuple[float, float, float]) -> None:
        """Move the TCP target by ``delta`` and send the IK joint targets to the motors.

        The target accumulates displacements (so the arm moves the full ``delta`` per
        step once it tracks), clipped to the workspace box and to at most
        :data:`MAX_LEAD` metres per axis ahead of the current TCP (no wind-up against
        an obstacle). The IK target of the grasp-target link is the TCP target raised
        by :data:`CUP_OFFSET` (the tool points down).

        Args:
            tcp_position: Current TCP world position, metres.
            delta: Displacement (dx, dy, dz) in metres, world frame.
        """
        lo, hi = self.config.workspace_low, self.config.workspace_high
        self.target = tuple(  # type: ignore[assignment]
            min(max(t + d, lo[i], c - MAX_LEAD), hi[i], c + MAX_LEAD)
            for i, (t, d, c) in enumerate(zip(self.target, delta, tcp_position, strict=True))
        )
        target = (self.target[0], self.target[1], self.target[2] + CUP_OFFSET)
        bc = bullet_of(self.client)
        q = bc.calculateInverseKinematics(
            self.body,
            TCP_LINK,
            target,
            DOWN,
            lowerLimits=self._ik_lower,
            upperLimits=self._ik_upper,
            jointRanges=self._ik_ranges,
            restPoses=self._ik_rest,
            maxNumIterations=self.config.ik_iterations,
        )
        joints = [min(max(q[i], self.lower[i]), self.upper[i]) for i in range(len(ARM_JOINTS))]
        bc.setJointMotorControlArray(
            self.body, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=joints, forces=self.forces, positionGains=self._gains
        )

    def joint_positions(self) -> list[float]:
        """Positions of panda_joint1..7 in radians (one batched read)."""
        return [s[0] for s in bullet_of(self.client).getJointStates(self.body, ARM_JOINTS)]


class SuctionGripper:
    """The suction cup on the arm's fingertips.

    Args:
        arm: The arm carrying the cup.

    Attributes:
        held_body: PyBullet id of the held item, or ``None``.
        slipping_body: Id of an item the cup touches but cannot hold (over the
            payload) at the last :meth:`update`, or ``None``.
    """

    def __init__(self, arm: SuctionArm) -> None:
        self.arm = arm
        self._constraint: int | None = None
        self.held_body: int | None = None
        self.slipping_body: int | None = None
        self._held_offset: tuple[tuple[float, float, float], tuple[float, float, float, float]] | None = None

    @property
    def holding(self) -> bool:
        """Whether an item is held."""
        return self.held_body is not None

    def release(self) -> None:
        """Remove the suction constraint, if any."""
        if self._constraint is not None:
            bc = bullet_of(self.arm.client)
            bc.removeConstraint(self._constraint)
            for link in FINGER_JOINTS:
                bc.setCollisionFilterPair(self.arm.body, self.held_body, link, -1, 1)
        self._constraint = None
        self.held_body = None
        self._held_offset = None
        self.slipping_body = None

    def update(self, suction_on: bool, masses: dict[int, float]) -> bool:
        """Apply the suction state after a control step; return whether a hold broke.

        Args:
            suction_on: Whether suction is commanded on.
            masses: Body id -> mass (kg) of every item the cup may hold.

        Returns:
            True if a held item broke loose this call (pulled off its held pose).
        """
        if not suction_on:
            self.release()
            return False
        bc = bullet_of(self.arm.client)
        arm = self.arm.body
        if self.held_body is not None:
            hand = bc.getLinkState(arm, HAND_LINK)
            assert self._held_offset is not None
            expected = bc.multiplyTransforms(hand[4], hand[5], *self._held_offset)[0]
            actual = bc.getBasePositionAndOrientation(self.held_body)[0]
            if math.dist(expected, actual) > BREAK_DISTANCE:
                self.release()
                return True
            return False
        self.slipping_body = None
        for link in FINGER_JOINTS:
            for contact in bc.getContactPoints(bodyA=arm, linkIndexA=link):
                body = contact[2]
                mass = masses.get(body)
                if mass is None:
                    continue
                if mass > self.arm.config.payload_kg:
                    self.slipping_body = body
                    continue
                self._attach(body)
                return False
        return False

    def _attach(self, body: int) -> None:
        bc = bullet_of(self.arm.client)
        arm = self.arm.body
        hand = bc.getLinkState(arm, HAND_LINK)
        item_pos, item_orn = bc.getBasePositionAndOrientation(body)
        inv_pos, inv_orn = bc.invertTransform(hand[4], hand[5])
        rel_pos, rel_orn = bc.multiplyTransforms(inv_pos, inv_orn, item_pos, item_orn)
        # The constraint's parent frame is given in the hand's centre-of-mass frame.
        inv_com_pos, inv_com_orn = bc.invertTransform(hand[0], hand[1])
        parent_pos, parent_orn = bc.multiplyTransforms(inv_com_pos, inv_com_orn, item_pos, item_orn)
        self._constraint = bc.createConstraint(
            arm,
            HAND_LINK,
            body,
            -1,
            p.JOINT_FIXED,
            (0.0, 0.0, 0.0),
            parent_pos,
            (0.0, 0.0, 0.0),
            parentFrameOrientation=parent_orn,
        )
        bc.changeConstraint(self._constraint, maxForce=self.arm.config.seal_force)
        for link in FINGER_JOINTS:  # the seal holds it: no contact fight with the cup
            bc.setCollisionFilterPair(arm, body, link, -1, 0)
        self.held_body = body
        self._held_offset = (rel_pos, rel_orn)
