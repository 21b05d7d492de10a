"""Baselines for ``warehouse_sim/FleetDispatch-v0``: every robot takes the reference rule's choice.

``baseline:rule`` sends a robot without the rule's work home; ``baseline:rule_stay``
keeps it where it stands instead (the env's stay action, env kwarg ``stay_s > 0``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.policies.base import Policy
from warehouse_sim.tasks.fulfilment.agents import rule_choice


class RuleDispatch(Policy):
    """The fleet env's reference dispatch rule (env kwarg ``rule``: ``fifo``, ``edd``, ``nearest``) as a policy.

    Each deciding robot takes the candidate flagged as the rule's choice; when it has none
    it may take, it takes no job (drives home), or with ``stay`` it stays where it is
    whenever the mask allows. Without ``stay`` a shift so played is exactly the
    Fulfilment-v0 shift with that rule and the same pricing policy.

    Args:
        stay: Stay instead of driving home (needs the env's stay action).
    """

    def __init__(self, *, stay: bool = False) -> None:
        self.stay = stay
        self._mask: slice | None = None
        self._stay_action: int | None = None

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Read where the observation holds the action mask (and which action stays)."""
        name = "baseline:rule_stay" if self.stay else "baseline:rule"
        self._mask = getattr(env.unwrapped, "action_mask_slice", None)
        if self._mask is None:
            raise ValueError(f"{name} needs warehouse_sim/FleetDispatch-v0, got {type(env.unwrapped).__name__}")
        self._stay_action = env.unwrapped.fleet.dispatch.stay_action  # type: ignore[attr-defined]  # FleetDispatch-v0
        if self.stay and self._stay_action is None:
            raise ValueError(f"{name} needs the stay action: make FleetDispatch-v0 with env kwarg stay_s > 0")

    def act(self, observation: Any) -> int:
        """The rule's candidate (``1..K``), else ``0`` (no job), or the stay action with ``stay``."""
        if self._mask is None:
            raise RuntimeError("call reset(env) before act()")
        obs = np.asarray(observation)
        return rule_choice(obs[: self._mask.start], obs[self._mask], stay=self._stay_action if self.stay else None)


def make_rule_policy(env: gym.Env[Any, Any]) -> RuleDispatch:
    """Factory for ``baseline:rule`` (FleetDispatch-v0)."""
    policy = RuleDispatch()
    policy.reset(env)
    return policy


def make_rule_stay_policy(env: gym.Env[Any, Any]) -> RuleDispatch:
    """Factory for ``baseline:rule_stay`` (FleetDispatch-v0 with ``stay_s > 0``)."""
    policy = RuleDispatch(stay=True)
    policy.reset(env)
    return policy
