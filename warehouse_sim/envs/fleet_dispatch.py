"""``warehouse_sim/FleetDispatch-v0``: the fleet's dispatch decisions one robot at a time, for one shared policy.

The single-agent view of :class:`~warehouse_sim.envs.fleet.FleetEnv` through which
Stable-Baselines3 trains one policy for all robots (parameter sharing) with
sb3-contrib's ``MaskablePPO``, and ``warehouse-sim evaluate``/``export`` run it like any
other env. Build it with ``gym.make("warehouse_sim/FleetDispatch-v0", ...)`` (the
factory :func:`warehouse_sim.fleet_dispatch_env` loads the pricing policy); it needs
the ``multiagent`` extra.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.envs.fleet import AgentObservation, FleetEnv
from warehouse_sim.tasks.fulfilment import FulfilmentTask
from warehouse_sim.tasks.fulfilment.agents import NO_JOB, OBSERVATION_BOUND


class FleetDispatchEnv(WarehouseEnv[np.ndarray, Any]):
    """Each step, one deciding robot of a Fulfilment-v0 shift chooses its next job.

    ## Description

    The decisions of a :class:`~warehouse_sim.envs.fleet.FleetEnv` shift, serialised: at
    each dispatch moment the deciding robots (in the order the fleet env lists them)
    act one after the other, each seeing its own observation; after the last of them
    the fleet env runs to its next dispatch moment. One policy acting in this env acts
    for every robot (parameter sharing). Decisions of one moment are made before any is
    executed, as in the fleet env: two robots choosing the same item are resolved there
    (the first in the rule's order takes it; the other is asked again at the next step).

    ## Observation Space

    ``Box((11 + 12 K) + n,)`` ``float32``: the deciding robot's fleet-env
    observation (its table is in :mod:`warehouse_sim.tasks.fulfilment.agents`, bounds
    ``[-10, 10]``) followed by its action mask as 0/1 (:attr:`action_mask_slice`), so a
    policy sees which choices are open and an exported policy can apply the mask.

    ## Action Space

    ``Discrete(n)``, ``n = K + 1``: ``0`` takes no new job now, ``k`` takes candidate
    ``k``; with the env kwarg ``stay_s > 0``, ``n = K + 2`` and ``K + 1`` stays where it
    is for ``stay_s`` simulated seconds instead of driving home (see the fleet env).
    :meth:`action_masks` gives the valid ones (sb3-contrib's ``MaskablePPO`` protocol);
    a masked action is not executed (the robot takes no job; counted in
    ``info["masked_actions"]``). Actions outside ``0..n-1`` raise ``ValueError``. A robot
    that waits is asked again at the next dispatch moment (a simulated second later on
    the fast fidelity, the next control tick on physics) in nearly the same state, so a
    deterministic policy that waits there may wait for the rest of the shift.

    ## Rewards

    The fleet env's shared reward (the profit of the epochs that ended, over
    ``reward_scale``) at the step that ends a dispatch moment, 0 at the other decisions
    of that moment: an episode's return is the Fulfilment-v0 return of the shift.

    ## Episode End

    Terminated at the end of the shift (truncated on a physics error, as Fulfilment-v0).
    A shift in which no robot is ever asked ends at the first step.

    ## Info

    At the steps in which an epoch ended (always the last one), the Fulfilment-v0 info of
    that epoch (its KPIs); at every step ``robot`` (the index of the robot deciding next, -1 at the end),
    ``sim_time_s``, ``decisions`` and ``masked_actions`` (since reset).

    Args:
        fleet: The fleet env this view runs; the view owns and closes it.

    Attributes:
        fleet: The :class:`~warehouse_sim.envs.fleet.FleetEnv`.
        action_mask_slice: Where the action mask sits in the observation.
    """

    #: Fulfilment-v0's render modes and rate (its frames are what this env shows).
    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 4}

    def __init__(self, fleet: FleetEnv) -> None:
        if not isinstance(fleet, FleetEnv):
            raise ValueError(f"fleet must be a FleetEnv, got {type(fleet).__name__}")
        # the fast fidelity has no GUI: the render modes are those of this Fulfilment-v0 env
        self.metadata = {**self.metadata, "render_modes": list(fleet.env.unwrapped.metadata["render_modes"])}
        self._check_render_mode(fleet.render_mode)
        self.fleet = fleet
        self.task: FulfilmentTask = fleet.task
        n = fleet.dispatch.n_actions
        size = fleet.dispatch.observation_size
        low = np.concatenate([np.full(size, -OBSERVATION_BOUND), np.zeros(n)]).astype(np.float32)
        high = np.concatenate([np.full(size, OBSERVATION_BOUND), np.ones(n)]).astype(np.float32)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(n)
        self.action_mask_slice = slice(size, size + n)
        self._queue: list[str] = []
        self._observations: dict[str, AgentObservation] = {}
        self._chosen: dict[str, int] = {}
        self._epoch_info: dict[str, Any] = {}  # the Fulfilment-v0 info of an epoch that ended in this step
        self._decisions = 0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a shift (``seed`` as Fulfilment-v0's) and return the first deciding robot's observation."""
        self._check_open()
        gym.Env.reset(self, seed=seed)
        observations, infos = self.fleet.reset(seed=seed, options=options)
        self._decisions, self._chosen = 0, {}
        self._moment(observations, infos)
        self._needs_reset = False
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """The current robot's choice; at the last decision of a moment, run the shift to the next one.

        Raises:
            gymnasium.error.ResetNeeded: before :meth:`reset` and after the shift ended.
            RuntimeError: after :meth:`close`.
            ValueError: for an action outside the action space (nothing changes).
        """
        if self._needs_reset:
            self._check_open()
            raise gym.error.ResetNeeded("call reset() before step()")
        choice = self._validate(action)
        self._decisions += 1
        if not self._queue:  # a shift without a decision: nothing to choose, the shift runs out
            return self._run_to_next({})
        self._chosen[self._queue.pop(0)] = choice
        if self._queue:
            self._epoch_info = {}
            return self._observation(), 0.0, False, False, self._info()
        chosen, self._chosen = self._chosen, {}
        return self._run_to_next(chosen)

    def action_masks(self) -> np.ndarray:
        """The current robot's valid actions (``bool``, ``(n,)``); only waiting when none is deciding."""
        return self._observation()[self.action_mask_slice] > 0.5

    def render(self) -> Any:
        """The Fulfilment-v0 frame (``rgb_array``), else None."""
        self._check_open()
        return self.fleet.render()

    def close(self) -> None:
        """Close the fleet env (and its Fulfilment-v0 env); idempotent."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._needs_reset = True
            self.fleet.close()

    # ------------------------------------------------------------------ benchmarks (warehouse_sim.bench)
    @property
    def has_physics(self) -> bool:
        """False: a step runs a varying stretch of the shift, so it has no bare-physics floor to compare with."""
        return False

    @property
    def sim_seconds_per_step(self) -> float | None:
        """None: the simulated time between two decisions varies (``info["sim_time_s"]`` tells it)."""
        return None

    # ------------------------------------------------------------------ helpers
    def _run_to_next(self, chosen: dict[str, int]) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Hand the moment's choices to the fleet env and queue the robots of its next moment."""
        if self.fleet.agents:
            observations, rewards, terminations, truncations, infos = self.fleet.step(chosen)
            reward = float(next(iter(rewards.values())))
            terminated, truncated = any(terminations.values()), any(truncations.values())
        else:  # the shift ended during reset
            observations, infos, reward, terminated, truncated = {}, {}, 0.0, True, False
        self._moment(observations, infos)
        if terminated or truncated:
            self._needs_reset = True
            self._queue = []
        return self._observation(), reward, terminated, truncated, self._info()

    def _moment(self, observations: dict[str, AgentObservation], infos: dict[str, dict[str, Any]]) -> None:
        self._observations = observations
        self._queue = [agent for agent, info in infos.items() if info["deciding"]]
        self._epoch_info = next((info["fulfilment"] for info in infos.values() if "fulfilment" in info), {})

    def _observation(self) -> np.ndarray:
        if self._queue:
            agent = self._observations[self._queue[0]]
            return np.concatenate([agent["observation"], agent["action_mask"]]).astype(np.float32)
        size = self.action_mask_slice.start
        out = np.zeros(self.action_mask_slice.stop, dtype=np.float32)
        out[size + NO_JOB] = 1.0
        return out

    def _info(self) -> dict[str, Any]:
        robot = int(self._queue[0].removeprefix("robot_")) if self._queue else -1
        return {
            **self._epoch_info,
            "robot": robot,
            "sim_time_s": self.task.now_s,
            "decisions": self._decisions,
            "masked_actions": self.fleet.masked_actions,
        }

