"""The policy interface shared by baselines, exported ONNX policies and SB3 models.

A policy maps an observation to an action. :meth:`Policy.reset` is called after
every ``env.reset`` with the environment, so classical baselines (A*, scripted IK,
(s, S) restocking, ...) may read the privileged state of ``env.unwrapped`` while
learned policies ignore it. ``evaluate`` and ``view`` drive every policy the same way::

    obs, info = env.reset(seed=seed)
    policy.reset(env)
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy.act(obs))
"""

from __future__ import annotations

import abc
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim._format import plain


class PolicySpaceError(ValueError):
    """A policy was built for other observation or action spaces than the env's."""


class Policy(abc.ABC):
    """Observation -> action, plus a reset hook.

    Attributes:
        observation_space: The space the policy expects, or ``None`` if it adapts to
            any env it is reset with (baselines built for one env family).
        action_space: The space of the actions it returns, or ``None`` likewise.
    """

    observation_space: gym.Space[Any] | None = None
    action_space: gym.Space[Any] | None = None

    def reset(self, env: gym.Env[Any, Any]) -> None:  # noqa: B027 - optional hook
        """Start a new episode of ``env`` (already reset). Default: nothing to do."""

    @abc.abstractmethod
    def act(self, observation: Any) -> Any:
        """Return the action for ``observation`` (deterministic for learned policies)."""


def check_spaces(policy: Policy, env: gym.Env[Any, Any]) -> None:
    """Raise :class:`PolicySpaceError` if ``policy`` was made for other spaces than ``env``.

    Spaces are compared by type, shape, bounds and (for discrete spaces) size.
    """
    for kind, expected, actual in (
        ("observation", policy.observation_space, env.observation_space),
        ("action", policy.action_space, env.action_space),
    ):
        if expected is not None and not same_space(expected, actual):
            raise PolicySpaceError(
                f"policy {kind} space {describe_space(expected)} does not match the env's {describe_space(actual)}"
            )


def describe_space(space: gym.Space[Any]) -> str:
    """A one-line, readable description of ``space``: kind, shape, dtype and a summary of its bounds.

    Examples: ``Box(24,) float32 in [-1, 10] (bounds vary by dimension)``, ``Discrete(7)``,
    ``MultiDiscrete(16) with 3 to 4 choices each``.
    """
    if isinstance(space, gym.spaces.Box):
        low, high = space.low, space.high
        same = bool((low == low.flat[0]).all() and (high == high.flat[0]).all())
        vary = "" if same else " (bounds vary by dimension)"
        return f"Box{space.shape} {space.dtype} in [{plain(float(low.min()))}, {plain(float(high.max()))}]{vary}"
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({int(space.n)})" + (f" from {int(space.start)}" if int(space.start) else "")
    if isinstance(space, gym.spaces.MultiDiscrete):
        nvec = space.nvec.ravel()
        if nvec.size <= 6:
            return f"MultiDiscrete({nvec.tolist()})"
        lo, hi = int(nvec.min()), int(nvec.max())
        return f"MultiDiscrete({nvec.size}) with {lo if lo == hi else f'{lo} to {hi}'} choices each"
    if isinstance(space, gym.spaces.Dict):
        return "Dict(" + ", ".join(f"{k}: {describe_space(v)}" for k, v in space.spaces.items()) + ")"
    return " ".join(str(space).split())


def same_space(a: gym.Space[Any], b: gym.Space[Any]) -> bool:
    """Whether two spaces are the same: type, shape, bounds (within float tolerance) and sizes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, gym.spaces.Box) and isinstance(b, gym.spaces.Box):
        return a.shape == b.shape and np.allclose(a.low, b.low) and np.allclose(a.high, b.high)
    if isinstance(a, gym.spaces.Discrete) and isinstance(b, gym.spaces.Discrete):
        return int(a.n) == int(b.n) and int(a.start) == int(b.start)
    if isinstance(a, gym.spaces.MultiDiscrete) and isinstance(b, gym.spaces.MultiDiscrete):
        return np.array_equal(a.nvec, b.nvec)
    if isinstance(a, gym.spaces.Dict) and isinstance(b, gym.spaces.Dict):
        return a.spaces.keys() == b.spaces.keys() and all(same_space(a[k], b[k]) for k in a.spaces)
    return a == b
