"""``warehouse_sim/Picking-v0``: a suction arm moves an ordered item from a shelf bin into a tote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.envs._actions import box_action, discrete_action
from warehouse_sim.sim.arm import ArmConfig
from warehouse_sim.sim.client import PhysicsClient
from warehouse_sim.tasks.picking import (
    DEFAULT_SCENARIO,
    OBSERVATION_HIGH,
    OBSERVATION_LOW,
    PickingConfig,
    PickingRewardConfig,
    PickingTask,
    items_from_scenario,
)

#: Discrete action index -> (unit TCP direction (x, y, z), suction on). Index = 2 * move + suction.
_MOVES: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0),
    (1.0, 0.0, 0.0),
    (-1.0, 0.0, 0.0),
    (0.0, 1.0, 0.0),
    (0.0, -1.0, 0.0),
    (0.0, 0.0, 1.0),
    (0.0, 0.0, -1.0),
)
DISCRETE_ACTIONS: tuple[tuple[tuple[float, float, float], bool], ...] = tuple(
    (move, suction) for move in _MOVES for suction in (False, True)
)
#: Commands recorded for :meth:`PickingEnv.bare_physics_step` to replay.
_REPLAY_LENGTH = 4096
#: Size (width, height) in pixels of ``render_mode="rgb_array"`` frames (TinyRenderer).
RENDER_SIZE = (320, 240)


class PickingEnv(gym.Env[Any, Any]):
    """A Franka Panda with a suction cup picks the ordered item from a shelf bin into a tote.

    The scene (world frame, metres, arm base at the origin): an open shelf bin on a
    pedestal (inner 0.20 x 0.48 m, floor at z = 0.10 m, walls 0.05 m, centre
    (0.55, 0.24)) holding ``n_items`` boxes in a row of 4 slots along y (random slot,
    jitter and yaw per episode), and a tote on the ground (inner 0.26 x 0.30 m, floor
    at z = 0.02 m, walls 0.14 m, centre (0.50, -0.28)). Items are the SKUs of the catalogue of an
    operations scenario (``scenario=``, default ``catalogue-20``): their weights as
    given, their sizes times one scale for the whole catalogue so the largest SKU
    fits a bin slot (0.222 for ``catalogue-20``; ``size_scale=`` overrides it). Each
    episode one liftable SKU (weight <= payload) is the target, the order line; the
    others are distractors drawn from the rest of the catalogue (they may be too
    heavy to lift).

    Physics runs at ``physics_hz`` (240 Hz); one step is ``physics_hz / control_hz``
    substeps (default 10, so a step is 1/24 s).

    ## Observation (``goal_conditioned=False``): ``Box(22,)`` float32

    Bounded by :data:`~warehouse_sim.tasks.picking.OBSERVATION_LOW` / ``_HIGH``
    (positions +-10 m, velocities +-20 m/s); values beyond are clipped.

    | index | meaning | unit |
    |---|---|---|
    | 0-2 | TCP (suction cup face) position, world frame | m |
    | 3-5 | TCP linear velocity, world frame | m/s |
    | 6 | suction on | 0/1 |
    | 7 | something is held | 0/1 |
    | 8 | the target is held | 0/1 |
    | 9-11 | target item position minus TCP position, world frame | m |
    | 12-15 | target orientation in the TCP frame, quaternion (x, y, z, w), w >= 0 | - |
    | 16-18 | tote floor centre minus target item position, world frame | m |
    | 19-21 | target item size (x, y, z) in its own frame | m |

    With ``goal_conditioned=True`` the observation is a ``Dict`` with ``observation``
    (the Box above), ``achieved_goal`` (target position, ``Box(3,)``, m) and
    ``desired_goal`` (the target resting at the tote centre, ``Box(3,)``, m).

    ## Actions

    ``continuous=True``: ``Box(-1, 1, (4,))``: (dx, dy, dz) scaled by ``max_step_m``
    and suction (on when > 0). Values beyond [-1, 1] are clipped to the bound. The
    displacement (world frame) moves the TCP target, which is clipped to the
    workspace box x in [0.28, 0.78], y in [-0.48, 0.50], z in [0.05, 0.45] m and to
    4 cm ahead of the TCP; inverse kinematics (cup pointing down) turns it into joint
    targets, clipped to the joint limits, for the joint position motors.

    ``continuous=False``: ``Discrete(14)``: index ``2 * move + suction`` with move in
    (stay, +x, -x, +y, -y, +z, -z) at ``max_step_m`` and suction 0 (off) / 1 (on).

    NaN/inf, a wrong shape or an out-of-range index raise ``ValueError`` (state unchanged).

    ## Suction

    With suction on, the first item either fingertip touches is held by a fixed
    constraint; items over ``payload_kg`` slip (not held); a held item pulled 3 cm off
    its held pose breaks loose; suction off releases.

    ## Reward (flat mode)

    ``10 * (Phi' - Phi)`` for progress, with the potential
    ``Phi = 0.5 A - (1 - A) d_reach - d_xy - max(0, z_clear - z) (1 - O)`` (``A``: the
    target is held or over the tote's footprint ``O``; ``d_reach``: cup to the
    target's top face; ``d_xy``: target to tote centre, horizontally; ``z_clear``: the
    height clearing both rims), plus +10 on success, -1 when the target is let go
    outside the tote, -1 per other item newly knocked out of the bin, -5 when the
    target falls off the shelf. See :class:`~warehouse_sim.tasks.picking.PickingRewardConfig`.

    Goal-conditioned mode: ``compute_reward``: 0 when the target is within
    ``goal_tolerance`` (0.06 m) of the desired goal, else -1 (vectorised, for HER).

    ## Episode end

    Terminated on success (the target rests in the tote: inside it, released, speed
    below 0.05 m/s) or when the target is lost (fallen below the shelf outside the
    tote). Truncated by the time limit of the registration (100 steps = 4.2 s) or on
    a physics fault (``info["reason"] = "physics_error"``).

    ``info``: ``is_success``, ``dropped`` (the target was let go outside the tote),
    ``disturbed_items`` (other items knocked out of the bin), ``pick_time_s``
    (simulated seconds since reset: the pick time at success), ``target`` (SKU name).

    ## Arguments

    - ``render_mode``: None, ``"human"`` (PyBullet GUI) or ``"rgb_array"``
      (:data:`RENDER_SIZE` = 320 x 240 TinyRenderer frames).
    - ``continuous``: Box (default) or Discrete actions.
    - ``goal_conditioned``: Dict observation and ``compute_reward`` for HER.
    - ``scenario``: operations scenario name or YAML path whose catalogue gives the
      items (SKU size and weight); default ``catalogue-20``.
    - ``size_scale``: linear scale of SKU sizes in (0, 1]; None fits the largest SKU
      to a bin slot.
    - ``n_items``: items in the bin per episode (1-4, default 4).
    - ``payload_kg``: suction payload (default 2.0 kg).
    - ``max_step_m``: largest TCP displacement per step and axis (default 0.03 m).
    - ``physics_hz`` / ``control_hz``: physics and control rates (240 / 24 Hz).

    ## Version history

    - v0: initial release.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 24}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        continuous: bool = True,
        goal_conditioned: bool = False,
        scenario: str | Path = DEFAULT_SCENARIO,
        size_scale: float | None = None,
        n_items: int = 4,
        payload_kg: float = 2.0,
        max_step_m: float = 0.03,
        physics_hz: int = 240,
        control_hz: int = 24,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'human' or 'rgb_array', got {render_mode!r}")
        for name, value in (("continuous", continuous), ("goal_conditioned", goal_conditioned)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be a bool, got {value!r}")
        if isinstance(payload_kg, bool) or not isinstance(payload_kg, (int, float)):
            raise ValueError(f"payload_kg must be a number, got {payload_kg!r}")
        self.config = PickingConfig(
            n_items=n_items,
            physics_hz=physics_hz,
            control_hz=control_hz,
            max_step_m=max_step_m,
            arm=ArmConfig(payload_kg=float(payload_kg)),
            reward=PickingRewardConfig(),
        )
        items = items_from_scenario(scenario, self.config.layout, size_scale=size_scale)
        self.render_mode = render_mode
        self.continuous = continuous
        self.goal_conditioned = goal_conditioned
        self.metadata = {**self.metadata, "render_fps": control_hz}
        flat = gym.spaces.Box(OBSERVATION_LOW, OBSERVATION_HIGH, dtype=np.float32)
        if goal_conditioned:
            goal = gym.spaces.Box(-10.0, 10.0, shape=(3,), dtype=np.float32)
            self.observation_space: gym.Space[Any] = gym.spaces.Dict(
                {"observation": flat, "achieved_goal": goal, "desired_goal": goal}
            )
        else:
            self.observation_space = flat
        if goal_conditioned:
            # Only in this mode: SB3 treats any env with compute_reward as a goal env.
            self.compute_reward = self._compute_reward
        if continuous:
            self.action_space: gym.Space[Any] = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        else:
            self.action_space = gym.spaces.Discrete(len(DISCRETE_ACTIONS))
        client = PhysicsClient(gui=render_mode == "human", time_step=1.0 / physics_hz)
        try:
            self.task = PickingTask(client, config=self.config, items=items)
        except Exception:
            client.close()
            raise
        self._closed = False
        self._needs_reset = True
        self._commands: list[tuple[tuple[float, float, float], bool]] = []
        self._replay = 0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Start an episode; ``seed`` reseeds ``np_random`` (the only randomness)."""
        self._check_open()
        super().reset(seed=seed)
        self.task.reset(self.np_random)
        self._needs_reset = False
        return self._observation(), self.task.info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Move the TCP and set the suction for one control step (1/24 s by default)."""
        self._check_open()
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        delta, suction = self._to_command(action)
        if len(self._commands) < _REPLAY_LENGTH:
            self._commands.append((delta, suction))
        outcome = self.task.step(delta, suction)
        info = self.task.info()
        obs = self._observation()
        truncated = outcome.physics_error
        if truncated:
            info["reason"] = "physics_error"
        if self.goal_conditioned:
            reward = float(self._compute_reward(obs["achieved_goal"], obs["desired_goal"], info))
        else:
            reward = float(outcome.reward)
        if outcome.terminated or truncated:
            self._needs_reset = True
        return obs, reward, outcome.terminated, truncated, info

    def _compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """Sparse goal reward: 0 within ``goal_tolerance`` of the goal, else -1 (vectorised over leading axes).

        Exposed as ``compute_reward`` only with ``goal_conditioned=True`` (for HER).

        Args:
            achieved_goal: Target positions, shape (..., 3), metres.
            desired_goal: Goal positions, shape (..., 3), metres.
            info: Ignored (an info dict or an array of them).

        Returns:
            float32 rewards of shape (...).
        """
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        return -(distance > self.config.goal_tolerance).astype(np.float32)

    def _observation(self) -> Any:
        flat = self.task.observation()
        if not self.goal_conditioned:
            return flat
        return {
            "observation": flat,
            "achieved_goal": np.clip(np.nan_to_num(np.array(self.task.item_position, dtype=np.float32)), -10.0, 10.0),
            "desired_goal": np.array(self.task.goal_position, dtype=np.float32),
        }

    def _to_command(self, action: Any) -> tuple[tuple[float, float, float], bool]:
        step = self.config.max_step_m
        if self.continuous:
            dx, dy, dz, suction = box_action(action, (4,))
            return (step * float(dx), step * float(dy), step * float(dz)), bool(suction > 0.0)
        (ux, uy, uz), suction = DISCRETE_ACTIONS[discrete_action(action, len(DISCRETE_ACTIONS))]
        return (step * ux, step * uy, step * uz), suction

    def render(self) -> np.ndarray | None:
        """``rgb_array``: a (240, 320, 3) uint8 frame; ``human``: the GUI shows the scene live (returns None)."""
        self._check_open()
        if self.render_mode != "rgb_array":
            return None
        width, height = RENDER_SIZE
        return self.task.station.camera_image(width, height)

    @property
    def sim_seconds_per_step(self) -> float:
        """Simulated seconds one ``step`` advances (``1 / control_hz``)."""
        return 1.0 / self.config.control_hz

    def bare_physics_step(self) -> None:
        """The PyBullet work of one :meth:`step` without env code (benchmark protocol of :mod:`warehouse_sim.bench`).

        It replays, in a cycle, the commands (TCP displacement, suction) of the first
        env steps of this env (up to 4096; a zero displacement before any), so the
        arm moves, collides and holds items as in those steps. Counted as physics
        work: the IK solve (the arm controller: every step needs it) and the motor
        command, the substeps, the suction update (contact query, constraint) and the
        state reads of the step (TCP link state, target pose and velocity). Not
        counted: action validation, the other items' poses for ``disturbed_items``,
        the observation, reward and info.
        """
        self._check_open()
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() first")
        if self._commands:
            delta, suction = self._commands[self._replay % len(self._commands)]
            self._replay += 1
        else:
            delta, suction = (0.0, 0.0, 0.0), self.task.suction_on
        self.task.physics_step(delta, suction)

    def close(self) -> None:
        """Release the physics client (and the GUI). Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.task.client.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the environment is closed; create a new one")
