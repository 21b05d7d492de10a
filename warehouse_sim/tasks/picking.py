"""The picking task: move an ordered item from the shelf bin into the tote.

Composes the sim layer (:class:`~warehouse_sim.sim.arm.SuctionArm`,
:class:`~warehouse_sim.sim.arm.SuctionGripper`,
:class:`~warehouse_sim.sim.pick_station.PickStation`) with an item catalogue (from the
operations scenario, or explicit :class:`~warehouse_sim.sim.pick_station.ItemSpec`).
It turns commands into physics, reads the state once per control step and computes
the observation, the shaped (or, goal-conditioned, the sparse) reward and the episode
outcome (the :class:`~warehouse_sim.tasks.base.Task` contract). It knows nothing of
Gymnasium; :class:`warehouse_sim.envs.picking.PickingEnv` wraps it.

Timing: the physics runs at ``physics_hz`` (fixed time step ``1 / physics_hz``); one
control step (one env step) is ``physics_hz / control_hz`` physics substeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.operations.catalogue import load_scenario
from warehouse_sim.sim.arm import ArmConfig, SuctionArm, SuctionGripper
from warehouse_sim.sim.pick_station import REST_SPEED, ItemSpec, PickStation, StationLayout
from warehouse_sim.tasks.base import PHYSICS_ERROR, StepOutcome, Task, physics_scene

#: Observation size of the flat observation (see :data:`OBSERVATION_INDEX`).
OBSERVATION_SIZE = 22
#: Name -> slice of the flat observation.
OBSERVATION_INDEX: dict[str, slice] = {
    "tcp_position": slice(0, 3),
    "tcp_velocity": slice(3, 6),
    "suction_on": slice(6, 7),
    "holding": slice(7, 8),
    "holding_target": slice(8, 9),
    "item_relative_position": slice(9, 12),
    "item_relative_quaternion": slice(12, 16),
    "tote_relative_position": slice(16, 19),
    "item_size": slice(19, 22),
}

#: Bounds of the flat observation; values beyond them (an item flung far away) are clipped.
OBSERVATION_LOW = np.array([-10.0] * 3 + [-20.0] * 3 + [0.0] * 3 + [-10.0] * 3 + [-1.0] * 4 + [-10.0] * 3 + [0.0] * 3, dtype=np.float32)
OBSERVATION_HIGH = np.array([10.0] * 3 + [20.0] * 3 + [1.0] * 3 + [10.0] * 3 + [1.0] * 4 + [10.0] * 3 + [1.0] * 3, dtype=np.float32)

#: The default scenario whose catalogue stocks the bin.
DEFAULT_SCENARIO = "catalogue-20"

#: Unit TCP directions (x, y, z) of the discrete action set, in this order.
_MOVES: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0),
    (-1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (0.0, -1.0, 0.0),
    (0.0, 0.0, 1.0),
    (0.0, 0.0, -1.0),
)
#: Discrete action index -> (unit TCP direction (x, y, z), suction on); index = 2 * move + suction.
DISCRETE_ACTIONS: tuple[tuple[tuple[float, float, float], bool], ...] = tuple(
    (move, suction) for move in _MOVES for suction in (False, True)
)
#: Commands recorded for :meth:`PickingTask.bare_physics_step` to replay.
_REPLAY_LENGTH = 4096

@dataclass(frozen=True)
class PickingRewardConfig:
    """Weights of the shaped reward (see :meth:`PickingTask.potential`).

    Attributes:
        shaping: Multiplier of the potential difference (reward per metre of progress).
        attach: Potential gained by holding the target (or having it over the tote).
        lift: Potential per metre the target is below the clearance height while not
            over the tote (so lifting it out of the bin is progress).
        success: Bonus when the target rests in the tote.
        drop: Penalty when the target is let go outside the tote's footprint.
        disturb: Penalty per other item newly knocked out of the bin.
        lost: Penalty when the target falls off the shelf outside the tote (episode ends).
    """

    shaping: float = 10.0
    attach: float = 0.5
    lift: float = 1.0
    success: float = 10.0
    drop: float = 1.0
    disturb: float = 1.0
    lost: float = 5.0

    def __post_init__(self) -> None:
        for name in ("shaping", "attach", "lift", "success", "drop", "disturb", "lost"):
            check_real(f"PickingRewardConfig.{name}", getattr(self, name))


@dataclass(frozen=True)
class PickingConfig:
    """Everything that defines a picking scene and its control.

    Attributes:
        n_items: Items placed in the bin per episode (the target plus distractors).
        physics_hz: Physics rate in Hz (time step ``1 / physics_hz``).
        control_hz: Control rate in Hz; must divide ``physics_hz``.
        max_step_m: Largest TCP displacement per control step per axis, metres.
        goal_tolerance: Distance (m) between item and goal that counts as reached in
            goal-conditioned mode.
        arm: Arm limits and payload.
        layout: Bin and tote geometry.
        reward: Reward weights.
    """

    n_items: int = 4
    physics_hz: int = 240
    control_hz: int = 24
    max_step_m: float = 0.03
    goal_tolerance: float = 0.06
    arm: ArmConfig = field(default_factory=ArmConfig)
    layout: StationLayout = field(default_factory=StationLayout)
    reward: PickingRewardConfig = field(default_factory=PickingRewardConfig)

    def __post_init__(self) -> None:
        check_int("n_items", self.n_items)
        if self.n_items > self.layout.n_slots:
            raise ValueError(f"n_items must be <= {self.layout.n_slots} (bin slots), got {self.n_items}")
        for name in ("physics_hz", "control_hz"):
            check_int(name, getattr(self, name))
        if self.physics_hz % self.control_hz != 0:
            raise ValueError(f"control_hz ({self.control_hz}) must divide physics_hz ({self.physics_hz})")
        if not (math.isfinite(self.max_step_m) and 0 < self.max_step_m <= 0.1):
            raise ValueError(f"max_step_m must be in (0, 0.1] metres, got {self.max_step_m!r}")
        if not (math.isfinite(self.goal_tolerance) and self.goal_tolerance > 0):
            raise ValueError(f"goal_tolerance must be positive, got {self.goal_tolerance!r}")

    @property
    def substeps(self) -> int:
        """Physics substeps per control step."""
        return self.physics_hz // self.control_hz

    @property
    def control_dt(self) -> float:
        """Simulated seconds per control step."""
        return 1.0 / self.control_hz


def fit_scale(sizes: list[tuple[float, float, float]], layout: StationLayout) -> float:
    """The largest linear scale (<= 1) at which every size fits a bin slot, either way round.

    Args:
        sizes: Item sizes (x, y, z) in metres.
        layout: The station whose slots (minus a 1 cm margin per side) must hold them.
    """
    sx, sy = (s - 0.02 for s in layout.slot_size)
    scale = 1.0
    for x, y, _ in sizes:
        scale = min(scale, max(min(sx / x, sy / y), min(sx / y, sy / x)))
    return scale * (1.0 - 1e-9)


def items_from_scenario(
    scenario: str | Path, layout: StationLayout, *, size_scale: float | None = None
) -> tuple[ItemSpec, ...]:
    """Item specs of every SKU of an operations scenario, sized for the pick station.

    Warehouse catalogues hold cartons of up to half a metre, more than a bin slot of
    the arm-scale station: sizes are multiplied by one linear scale for the whole
    catalogue (so relative sizes and shapes are kept). Weights are kept as they
    are, so SKUs over the gripper's payload slip.

    Args:
        scenario: A bundled scenario name (``assets/scenarios/<name>.yaml``) or a YAML path.
        layout: The station the items must fit.
        size_scale: Linear scale of the SKU sizes; None picks the largest scale at
            which every SKU fits a bin slot (:func:`fit_scale`).

    Raises:
        FileNotFoundError: for an unknown scenario.
        ValueError: for an invalid scenario file or a non-positive ``size_scale``.
    """
    skus = load_scenario(scenario).skus
    if size_scale is None:
        size_scale = fit_scale([sku.size for sku in skus], layout)
    elif isinstance(size_scale, bool) or not isinstance(size_scale, (int, float)) or not (0 < size_scale <= 1):
        raise ValueError(f"size_scale must be in (0, 1], got {size_scale!r}")
    return tuple(
        ItemSpec(sku.id, (sku.size[0] * size_scale, sku.size[1] * size_scale, sku.size[2] * size_scale), sku.weight)
        for sku in skus
    )


def _quat_rel(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    """Quaternion (x, y, z, w) of ``b`` in the frame of ``a`` (conj(a) * b), with w >= 0."""
    ax, ay, az, aw = -a[0], -a[1], -a[2], a[3]
    bx, by, bz, bw = b
    x = aw * bx + ax * bw + ay * bz - az * by
    y = aw * by - ax * bz + ay * bw + az * bx
    z = aw * bz + ax * by - ay * bx + az * bw
    w = aw * bw - ax * bx - ay * by - az * bz
    return (x, y, z, w) if w >= 0 else (-x, -y, -z, -w)


class PickingTask(Task):
    """The arm, the station and the rules of one picking episode.

    Args:
        config: Scene, control and reward configuration.
        items: The catalogue of items that may appear in the bin.
        continuous: Actions are ``(dx, dy, dz, suction)`` in [-1, 1] (True) or indices
            into :data:`DISCRETE_ACTIONS` (False); displacements scale by ``max_step_m``.
        goal_conditioned: Dict observations with achieved and desired goals, and the
            sparse reward of :meth:`compute_reward` (for HER).
        gui: Open the PyBullet GUI instead of DIRECT mode.

    Raises:
        ValueError: if the catalogue has fewer than ``config.n_items`` items, no item
            the gripper can lift (mass <= payload), or items that do not fit the bin.
    """

    has_physics = True

    def __init__(
        self, *, config: PickingConfig, items: tuple[ItemSpec, ...], continuous: bool = True,
        goal_conditioned: bool = False, gui: bool = False,
    ) -> None:
        if len(items) < config.n_items:
            raise ValueError(f"the catalogue has {len(items)} items, fewer than n_items={config.n_items}")
        self.liftable = tuple(i for i, s in enumerate(items) if s.mass <= config.arm.payload_kg)
        if not self.liftable:
            raise ValueError(f"no item of the catalogue is within the payload of {config.arm.payload_kg} kg")
        self.config = config
        self.continuous = continuous
        self.goal_conditioned = goal_conditioned
        self.sim_seconds_per_step = config.control_dt
        with physics_scene(gui=gui, physics_hz=config.physics_hz, planar=False) as client:
            self.station = PickStation(client, layout=config.layout, items=items)
            self.arm = SuctionArm(client, config=config.arm)
            self.gripper = SuctionGripper(self.arm)
            self._initial_state = client.save_state()
        self.client = client
        self._command: tuple[tuple[float, float, float], bool] = ((0.0, 0.0, 0.0), False)
        self._commands: list[tuple[tuple[float, float, float], bool]] = []
        self._replay = 0
        tote = config.layout.tote
        self._tote_floor = (tote.center[0], tote.center[1], tote.floor_z)
        self._clear_z = max(config.layout.bin.rim_z, tote.rim_z) + 0.02
        self.target = 0
        self._clear_outcome()
        self._masses: dict[int, float] = {}
        self._others: tuple[int, ...] = ()
        self._potential = 0.0
        self._read()

    # ----------------------------------------------------------------- lifecycle
    def _clear_outcome(self) -> None:
        """Suction off and the episode's step count and outcome flags back to zero."""
        self.suction_on = False
        self.steps = 0
        self.dropped = False
        self.disturbed_items = 0
        self.is_success = False
        self.lost = False

    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode: restore the built scene, place random items, pick a target.

        The target (the order line) is drawn among the liftable items; the other
        ``n_items - 1`` items are drawn from the rest of the catalogue.
        """
        self.gripper.release()
        self.client.restore_state(self._initial_state)
        n_catalogue = len(self.station.items)
        target = int(self.liftable[int(rng.integers(len(self.liftable)))])
        rest = [i for i in range(n_catalogue) if i != target]
        others = tuple(int(i) for i in rng.choice(rest, size=self.config.n_items - 1, replace=False))
        self.station.place_items((target, *others), rng)
        self.arm.hold_home()
        self.target = target
        self._others = others
        self._masses = {self.station.item_ids[i]: self.station.items[i].mass for i in (target, *others)}
        self._clear_outcome()
        self._read()
        self._potential = self.potential()

    def physics_step(self, delta: tuple[float, float, float], suction_on: bool) -> None:
        """The physics work of one control step: IK + motors, substeps, suction, state reads.

        Args:
            delta: TCP displacement (dx, dy, dz) in metres, already within limits.
            suction_on: Suction command.
        """
        self.arm.command(self.tcp_position, delta)
        self.client.step(self.config.substeps)
        self.suction_on = suction_on
        self.gripper.update(suction_on, self._masses)
        self._read()

    def apply(self, action: Any) -> None:
        """Set the TCP displacement and suction of the next step from a Box (clipped) or discrete action."""
        step = self.config.max_step_m
        if self.continuous:
            dx, dy, dz, suction = (float(v) for v in action)
            command = (step * dx, step * dy, step * dz), suction > 0.0
        else:
            (ux, uy, uz), on = DISCRETE_ACTIONS[action]
            command = (step * ux, step * uy, step * uz), on
        self._command = command
        if len(self._commands) < _REPLAY_LENGTH:
            self._commands.append(command)

    def advance(self) -> StepOutcome:
        """One control step with the last applied command, scored.

        The reward is the shaped reward (flat mode) or :meth:`compute_reward` on the new
        achieved and desired goals (goal-conditioned mode).
        """
        delta, suction_on = self._command
        outcome = self._step(delta, suction_on)
        if not self.goal_conditioned:
            return outcome
        sparse = float(self.compute_reward(self.achieved_goal(), self.desired_goal(), None))
        return StepOutcome(sparse, outcome.terminated, outcome.truncated, outcome.reason)

    def bare_physics_step(self) -> None:
        """The PyBullet work of one :meth:`advance` without task code (benchmark protocol of :mod:`warehouse_sim.bench`).

        It replays, in a cycle, the commands (TCP displacement, suction) of the first
        steps of this task (up to 4096; a zero displacement before any), so the arm
        moves, collides and holds items as in those steps. Counted as physics work: the
        IK solve (the arm controller: every step needs it) and the motor command, the
        substeps, the suction update (contact query, constraint) and the state reads of
        the step (TCP link state, target pose and velocity). Not counted: the other
        items' poses for ``disturbed_items``, the observation, reward and info.
        """
        if self._commands:
            delta, suction = self._commands[self._replay % len(self._commands)]
            self._replay += 1
        else:
            delta, suction = (0.0, 0.0, 0.0), self.suction_on
        self.physics_step(delta, suction)

    def close(self) -> None:
        """Disconnect the physics client. Idempotent."""
        self.client.close()

    def _step(self, delta: tuple[float, float, float], suction_on: bool) -> StepOutcome:
        """Advance one control step and score it (shaped reward).

        Args:
            delta: TCP displacement (dx, dy, dz) in metres, within ``max_step_m``.
            suction_on: Suction command.
        """
        was_holding_target = self.holding_target
        self.physics_step(delta, suction_on)
        self.steps += 1
        if self._physics_error():
            return StepOutcome(0.0, truncated=True, reason=PHYSICS_ERROR)
        weights = self.config.reward
        reward = 0.0
        item = self.item_position
        over_tote = self.config.layout.tote.contains_xy(item[0], item[1])
        if was_holding_target and not self.holding_target and not over_tote:
            self.dropped = True
            reward -= weights.drop
        disturbed = sum(1 for i in self._others if not self.station.in_bin(self.station.item_pose(i)[0]))
        if disturbed > self.disturbed_items:
            reward -= weights.disturb * (disturbed - self.disturbed_items)
        self.disturbed_items = max(self.disturbed_items, disturbed)
        potential = self.potential()
        reward += weights.shaping * (potential - self._potential)
        self._potential = potential
        self.is_success = (
            not self.gripper.holding
            and self.config.layout.tote.contains(item)
            and math.hypot(*self.item_velocity) < REST_SPEED
        )
        self.lost = (
            not self.holding_target and not over_tote and item[2] < self.config.layout.bin.floor_z - 0.03
        )
        if self.is_success:
            reward += weights.success
        elif self.lost:
            reward -= weights.lost
        return StepOutcome(reward, terminated=self.is_success or self.lost)

    # ----------------------------------------------------------------- state
    def _read(self) -> None:
        self.tcp_position, self.tcp_orientation, self.tcp_velocity = self.arm.tcp_state()
        body = self.station.item_ids[self.target]
        self.item_position, self.item_orientation = self.station.item_pose(self.target)
        self.item_velocity = self.station.item_velocity(self.target)
        self.holding_target = self.gripper.held_body == body

    def _physics_error(self) -> bool:
        values = (*self.tcp_position, *self.item_position)
        return not all(math.isfinite(v) and abs(v) < 50.0 for v in values)

    @property
    def target_spec(self) -> ItemSpec:
        """The spec of the current target item."""
        return self.station.items[self.target]

    @property
    def elapsed_s(self) -> float:
        """Simulated seconds since the episode began."""
        return self.steps * self.config.control_dt

    @property
    def grasp_point(self) -> tuple[float, float, float]:
        """Centre of the target's top face (assuming it lies flat), world frame, metres."""
        x, y, z = self.item_position
        return (x, y, z + 0.5 * self.target_spec.size[2])

    @property
    def goal_position(self) -> tuple[float, float, float]:
        """Where the target rests when placed at the tote's centre, world frame, metres."""
        return (self._tote_floor[0], self._tote_floor[1], self._tote_floor[2] + 0.5 * self.target_spec.size[2])

    def potential(self) -> float:
        """Progress potential Phi of the current state (unitless, ~metres).

        ``Phi = attach * A - (1 - A) * d_reach - d_xy - lift * max(0, z_clear - z) * (1 - O)``
        where ``A`` is 1 while the target is held or over the tote's footprint ``O``,
        ``d_reach`` the distance from the cup to the target's top face, ``d_xy`` the
        horizontal distance from the target to the tote's centre, and ``z_clear`` the
        height clearing both rims. The reward is ``shaping * (Phi' - Phi)`` plus events.
        """
        weights = self.config.reward
        item = self.item_position
        over_tote = self.config.layout.tote.contains_xy(item[0], item[1])
        attached = self.holding_target or over_tote
        d_xy = math.hypot(item[0] - self._tote_floor[0], item[1] - self._tote_floor[1])
        phi = -d_xy
        if attached:
            phi += weights.attach
        else:
            phi -= math.dist(self.tcp_position, self.grasp_point)
        if not over_tote:
            clear = self._clear_z + 0.5 * self.target_spec.size[2]
            phi -= weights.lift * max(0.0, clear - item[2])
        return phi

    def observation(self) -> Any:
        """The flat observation, or with ``goal_conditioned`` a dict of it and the goals (see the env docstring)."""
        flat = self.flat_observation()
        if not self.goal_conditioned:
            return flat
        return {"observation": flat, "achieved_goal": self.achieved_goal(), "desired_goal": self.desired_goal()}

    def achieved_goal(self) -> np.ndarray:
        """The target's position, float32 ``(3,)`` in metres (NaN read as 0, clipped to +-10 m)."""
        return np.clip(np.nan_to_num(np.array(self.item_position, dtype=np.float32)), -10.0, 10.0)

    def desired_goal(self) -> np.ndarray:
        """:attr:`goal_position` as float32 ``(3,)`` in metres."""
        return np.array(self.goal_position, dtype=np.float32)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """Sparse goal reward: 0 within ``goal_tolerance`` of the goal, else -1 (vectorised over leading axes).

        Args:
            achieved_goal: Target positions, shape (..., 3), metres.
            desired_goal: Goal positions, shape (..., 3), metres.
            info: Ignored (an info dict or an array of them).

        Returns:
            float32 rewards of shape (...).
        """
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(distance > self.config.goal_tolerance).astype(np.float32)

    def flat_observation(self) -> np.ndarray:
        """The flat observation, float32 of shape (:data:`OBSERVATION_SIZE`,) (see :data:`OBSERVATION_INDEX`).

        Clipped to [:data:`OBSERVATION_LOW`, :data:`OBSERVATION_HIGH`]; NaN (only after a
        physics fault, which ends the episode) reads as 0.
        """
        tcp = self.tcp_position
        item = self.item_position
        tote = self._tote_floor
        obs = np.array(
            (
                *tcp,
                *self.tcp_velocity,
                float(self.suction_on),
                float(self.gripper.holding),
                float(self.holding_target),
                item[0] - tcp[0],
                item[1] - tcp[1],
                item[2] - tcp[2],
                *_quat_rel(self.tcp_orientation, self.item_orientation),
                tote[0] - item[0],
                tote[1] - item[1],
                tote[2] - item[2],
                *self.target_spec.size,
            ),
            dtype=np.float32,
        )
        if not np.isfinite(obs).all():
            np.nan_to_num(obs, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        return np.clip(obs, OBSERVATION_LOW, OBSERVATION_HIGH, out=obs)

    def info(self) -> dict[str, Any]:
        """Episode KPIs: ``is_success``, ``dropped``, ``disturbed_items``, ``pick_time_s``, ``target``."""
        return {
            "is_success": self.is_success,
            "dropped": self.dropped,
            "disturbed_items": self.disturbed_items,
            "pick_time_s": self.elapsed_s,
            "target": self.target_spec.name,
        }
