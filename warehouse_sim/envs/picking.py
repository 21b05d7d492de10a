"""``warehouse_sim/Picking-v0``: a suction arm moves an ordered item from a shelf bin into a tote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.sim.arm import ArmConfig
from warehouse_sim.tasks.picking import (
    DEFAULT_SCENARIO,
    DISCRETE_ACTIONS,
    OBSERVATION_HIGH,
    OBSERVATION_LOW,
    PickingConfig,
    PickingRewardConfig,
    PickingTask,
    items_from_scenario,
)

#: Size (width, height) in pixels of ``render_mode="rgb_array"`` frames (TinyRenderer).
RENDER_SIZE = (320, 240)


class PickingEnv(WarehouseEnv[Any, Any]):
    """A Franka Panda with a suction cup picks the ordered item from a shelf bin into a tote.

    ## Description

    The scene (world frame, metres, arm base at the origin): an open shelf bin on a
    pedestal (inner 0.20 x 0.48 m, floor at z = 0.10 m, walls 0.05 m, centre
    (0.55, 0.24)) holding ``n_items`` boxes in a row of 4 slots along y, and a tote on
    the ground (inner 0.26 x 0.30 m, floor at z = 0.02 m, walls 0.14 m, centre
    (0.50, -0.28)). Items are the SKUs of the catalogue of an operations scenario
    (``scenario=``, default ``catalogue-20``): their weights as given, their sizes times
    one scale for the whole catalogue so the largest SKU fits a bin slot (0.222 for
    ``catalogue-20``; ``size_scale=`` overrides it). Each episode one liftable SKU
    (weight <= payload) is the target, the order line; the others are distractors drawn
    from the rest of the catalogue (they may be too heavy to lift).

    Physics runs at ``physics_hz`` (240 Hz); one step is ``physics_hz / control_hz``
    substeps (default 10, so a step is 1/24 s).

    Suction: with suction on, the first item either fingertip touches is held by a fixed
    constraint; items over ``payload_kg`` slip (not held); a held item pulled 3 cm off
    its held pose breaks loose; suction off releases.

    ## Action Space

    ``continuous=True``: ``Box(-1, 1, (4,), float32)``: (dx, dy, dz) scaled by
    ``max_step_m`` and suction (on when > 0). Values beyond [-1, 1] are clipped to the
    bound. The displacement (world frame) moves the TCP target, which is clipped to the
    workspace box x in [0.28, 0.78], y in [-0.48, 0.50], z in [0.05, 0.45] m and to
    4 cm ahead of the TCP; inverse kinematics (cup pointing down) turns it into joint
    targets, clipped to the joint limits, for the joint position motors.

    ``continuous=False``: ``Discrete(14)``: index ``2 * move + suction`` with move in
    (stay, +x, -x, +y, -y, +z, -z) at ``max_step_m`` and suction 0 (off) / 1 (on)
    (:data:`~warehouse_sim.tasks.picking.DISCRETE_ACTIONS`).

    NaN/inf, a wrong shape or an out-of-range index raise ``ValueError`` (state unchanged).

    ## Observation Space

    ``goal_conditioned=False``: ``Box(22,)`` float32, bounded by
    :data:`~warehouse_sim.tasks.picking.OBSERVATION_LOW` / ``_HIGH`` (positions +-10 m,
    velocities +-20 m/s); values beyond are clipped.

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

    ``goal_conditioned=True``: a ``Dict`` with ``observation`` (the Box above),
    ``achieved_goal`` (target position, ``Box(-10, 10, (3,))``, m) and ``desired_goal``
    (the target resting at the tote centre, ``Box(-10, 10, (3,))``, m).

    ## Rewards

    Flat mode: ``10 * (Phi' - Phi)`` for progress, with the potential
    ``Phi = 0.5 A - (1 - A) d_reach - d_xy - max(0, z_clear - z) (1 - O)`` (``A``: the
    target is held or over the tote's footprint ``O``; ``d_reach``: cup to the
    target's top face; ``d_xy``: target to tote centre, horizontally; ``z_clear``: the
    height clearing both rims), plus +10 on success, -1 when the target is let go
    outside the tote, -1 per other item newly knocked out of the bin, -5 when the
    target falls off the shelf. See :class:`~warehouse_sim.tasks.picking.PickingRewardConfig`.

    Goal-conditioned mode: ``compute_reward``: 0 when the target is within
    ``goal_tolerance`` (0.06 m) of the desired goal, else -1 (vectorised, for HER).

    ## Starting State

    The arm at rest in its home pose (the cup pointing down at about (0.48, 0, 0.31) m), suction off,
    nothing held. The target and the ``n_items - 1`` distractors lie flat, at rest, in
    distinct bin slots drawn uniformly; each is turned lengthwise along the slot if it
    fits, then yawed by a uniform +-0.15 rad and jittered uniformly within the slot's
    free room. Everything is drawn from ``np_random``; the scene is restored from a
    saved state, not rebuilt.

    ## Episode End

    Terminated on success (the target rests in the tote: inside it, released, speed
    below 0.05 m/s) or when the target is lost (fallen below the shelf outside the
    tote). Truncated by the time limit of the registration (100 steps = 4.2 s) or on
    a physics fault (``info["reason"] = "physics_error"``).

    ## Information

    ``is_success``, ``dropped`` (the target was let go outside the tote),
    ``disturbed_items`` (other items knocked out of the bin), ``pick_time_s``
    (simulated seconds since reset: the pick time at success), ``target`` (SKU name).

    ## Version History

    - v0: initial release.

    Args:
        render_mode: None, ``"human"`` (PyBullet GUI) or ``"rgb_array"``
            (:data:`RENDER_SIZE` = 320 x 240 TinyRenderer frames).
        continuous: Box (default) or Discrete actions.
        goal_conditioned: Dict observation and ``compute_reward`` for HER.
        scenario: Operations scenario name or YAML path whose catalogue gives the items
            (SKU size and weight); default ``catalogue-20``.
        size_scale: Linear scale of SKU sizes in (0, 1]; None fits the largest SKU to a
            bin slot.
        n_items: Items in the bin per episode (1-4, default 4).
        payload_kg: Suction payload (default 2.0 kg).
        max_step_m: Largest TCP displacement per step and axis (default 0.03 m).
        physics_hz: Physics steps per simulated second (240).
        control_hz: Decisions per simulated second (24).

    Raises:
        ValueError: naming the argument, for any invalid argument.
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
        self._check_render_mode(render_mode)
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
        if continuous:
            self.action_space: gym.Space[Any] = gym.spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        else:
            self.action_space = gym.spaces.Discrete(len(DISCRETE_ACTIONS))
        self.task: PickingTask = PickingTask(
            config=self.config, items=items, continuous=continuous, goal_conditioned=goal_conditioned,
            gui=render_mode == "human",
        )
        if goal_conditioned:
            # Only in this mode: SB3 treats any env with compute_reward as a goal env.
            self.compute_reward = self.task.compute_reward

    def _render_frame(self) -> np.ndarray:
        width, height = RENDER_SIZE
        return self.task.station.camera_image(width, height)
