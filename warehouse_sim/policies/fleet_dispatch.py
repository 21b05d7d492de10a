"""``baseline:rule`` for ``warehouse_sim/FleetDispatch-v0``: every robot takes the reference rule's choice."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.policies.base import Policy
from warehouse_sim.tasks.fulfilment.agents import rule_choice


class RuleDispatch(Policy):
    """The fleet env's reference dispatch rule (env kwarg ``rule``: ``fifo``, ``edd``, ``nearest``) as a policy.

    Each deciding robot takes the candidate flagged as the rule's choice, or waits when it
    has none it may take; a shift so played is exactly the Fulfilment-v0 shift with that
    rule and the same pricing policy.
    """

    def __init__(self) -> None:
        self._mask: slice | None = None

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Read where the observation holds the action mask."""
        self._mask = getattr(env.unwrapped, "action_mask_slice", None)
        if self._mask is None:
            raise ValueError(f"baseline:rule needs warehouse_sim/FleetDispatch-v0, got {type(env.unwrapped).__name__}")

    def act(self, observation: Any) -> int:
        """The rule's candidate (``1..K``) or ``0`` (wait)."""
        if self._mask is None:
            raise RuntimeError("call reset(env) before act()")
        obs = np.asarray(observation)
        return rule_choice(obs[: self._mask.start], obs[self._mask])


def make_rule_policy(env: gym.Env[Any, Any]) -> RuleDispatch:
    """Factory for ``baseline:rule`` (FleetDispatch-v0)."""
    policy = RuleDispatch()
    policy.reset(env)
    return policy
