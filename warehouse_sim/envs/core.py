"""The core every warehouse_sim environment shares: the Gymnasium side of the task contract.

:class:`WarehouseEnv` owns what is the same for every env: ``render_mode`` validation, the
closed and needs-reset checks, action validation from the action space (before anything
changes), seeding (the episode's randomness is ``np_random``, handed to the task), the
step sequence of the :class:`~warehouse_sim.tasks.base.Task` contract, idempotent
:meth:`close`, and the benchmark protocol of :mod:`warehouse_sim.bench`. A concrete env
is a thin adapter: its docstring is the spec; its constructor validates its arguments,
builds its task and declares its spaces; it draws its ``rgb_array`` frames.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from warehouse_sim.envs._actions import BoxAction, discrete_action, multi_discrete_action
from warehouse_sim.tasks.base import Task

ObsType = TypeVar("ObsType")
ActType = TypeVar("ActType")


class WarehouseEnv(gym.Env[ObsType, ActType], Generic[ObsType, ActType]):
    """Base class of the warehouse_sim envs (see the module docstring).

    Subclasses set ``metadata``, call :meth:`_check_render_mode` first thing in their
    constructor, set :attr:`task`, :attr:`observation_space` and :attr:`action_space`,
    and implement :meth:`_render_frame` when they support ``"rgb_array"``.

    Attributes:
        task: The task this env runs (privileged state for baselines and viewers).
    """

    task: Task

    def _check_render_mode(self, render_mode: str | None) -> None:
        """Validate and store ``render_mode`` (one of ``metadata["render_modes"]`` or None)."""
        modes = self.metadata["render_modes"]
        if render_mode is not None and render_mode not in modes:
            allowed = ", ".join(repr(m) for m in ["None", *modes]).replace("'None'", "None")
            raise ValueError(f"render_mode must be {allowed}, got {render_mode!r}")
        self.render_mode = render_mode
        self._needs_reset = True
        self._closed = False

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[ObsType, dict[str, Any]]:
        """Start an episode; ``seed`` reseeds ``np_random``, the episode's only randomness."""
        self._check_open()
        super().reset(seed=seed)
        self.task.reset(self.np_random)
        self._needs_reset = False
        return self.task.observation(), self.task.info()

    def step(self, action: ActType) -> tuple[ObsType, float, bool, bool, dict[str, Any]]:
        """Apply ``action`` for one step (see the env's docstring for what a step is).

        Raises:
            gymnasium.error.ResetNeeded: before the first :meth:`reset` and after an episode ended.
            RuntimeError: after :meth:`close`.
            ValueError: for an invalid action (nothing changes).
        """
        if self._needs_reset:
            self._check_open()
            raise gym.error.ResetNeeded("call reset() before step()")
        task = self.task
        task.apply(self._validate(action))
        reward, terminated, truncated, reason = task.advance()
        info = task.info()
        if reason is not None:
            info["reason"] = reason
        if terminated or truncated:
            self._needs_reset = True
        return task.observation(), float(reward), terminated, truncated, info

    def render(self) -> Any:
        """``rgb_array``: a ``(height, width, 3)`` uint8 frame; ``human``: the PyBullet GUI shows the scene (None)."""
        self._check_open()
        if self.render_mode != "rgb_array":
            return None
        return self._render_frame()

    def close(self) -> None:
        """Release the task (the physics client and GUI); idempotent. ``step``/``reset`` then raise."""
        if not getattr(self, "_closed", True):
            self._closed = True
            self._needs_reset = True  # so that step() checks, and refuses, a closed env
            self.task.close()

    # ------------------------------------------------------------------ benchmarks (warehouse_sim.bench)
    @property
    def has_physics(self) -> bool:
        """Whether a step simulates PyBullet (then :meth:`bare_physics_step` is its benchmark floor)."""
        return self.task.has_physics

    @property
    def sim_seconds_per_step(self) -> float | None:
        """Simulated seconds one ``step`` advances (None where it varies from step to step)."""
        return self.task.sim_seconds_per_step

    def bare_physics_step(self) -> None:
        """The PyBullet work of one step without env or task code (the benchmark floor of :mod:`warehouse_sim.bench`).

        Raises:
            NotImplementedError: for envs without physics.
        """
        self._check_open()
        self.task.bare_physics_step()

    # ------------------------------------------------------------------ helpers
    def _render_frame(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no rgb_array view")

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} is closed; create a new one")

    def _validate(self, action: Any) -> Any:
        """``action`` checked against the action space: Box clipped to its bounds, discrete ones as integers.

        Raises:
            ValueError: naming the problem (shape, NaN/inf, non-integer, out of range).
        """
        space = self.action_space
        if isinstance(space, spaces.Box):
            cached = self.__dict__.get("_box_action")
            if cached is None or cached[0] is not space:  # built once per action space
                cached = self._box_action = (space, BoxAction(space.shape, space.low, space.high))
            return cached[1](action)
        if isinstance(space, spaces.Discrete):
            return discrete_action(action, int(space.n), start=int(space.start))
        if isinstance(space, spaces.MultiDiscrete):
            return multi_discrete_action(action, space.nvec)
        raise TypeError(f"no action validation for {space}")  # a programming error, not bad input
