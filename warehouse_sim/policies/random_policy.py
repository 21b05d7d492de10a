"""A uniformly random policy: the floor every other policy must beat."""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym

from warehouse_sim.policies.base import Policy


class RandomPolicy(Policy):
    """Samples a copy of the env's action space with its own seed (the env's RNG is untouched)."""

    def __init__(self, action_space: gym.Space[Any], seed: int = 0) -> None:
        self._space = copy.deepcopy(action_space)
        self._space.seed(seed)

    def act(self, observation: Any) -> Any:
        """Return a random action (the observation is ignored)."""
        return self._space.sample()


def make_random_policy(env: gym.Env[Any, Any]) -> RandomPolicy:
    """Factory for ``baseline:random``."""
    return RandomPolicy(env.action_space)
