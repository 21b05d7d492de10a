"""Inventory-v0 baselines as policies: adapters over the numpy-only decision rules.

Each factory takes an Inventory-v0 env (wrapped or not) and returns a :class:`Policy`
that reads the env's operations model (privileged state, like every classical
baseline) and returns the env action selecting the rule's levels, in whichever action
mode the env was built (Box bin centres, Discrete, MultiDiscrete).

``optimal``, ``q-learning`` and ``sarsa`` need a single-SKU lost-sales scenario with an
exact MDP (the reference instance); ``sS``, ``base-stock`` and ``myopic-price`` are
searched on the exact MDP there and use textbook parameters on other scenarios
(:func:`~warehouse_sim.operations.baselines.heuristic_reorder`). Solutions, searches
and tabular training are cached per process and scenario, so building a baseline twice
costs nothing the second time.
"""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.operations import baselines as rules
from warehouse_sim.operations.catalogue import Scenario
from warehouse_sim.operations.mdp import SingleSkuMdp
from warehouse_sim.operations.tabular import TabularConfig, train_tabular
from warehouse_sim.policies.base import Policy

#: Seed and steps of the tabular agents trained when their baseline is built.
TABULAR_SEED = 0
TABULAR_STEPS = 2_000_000


class InventoryRulePolicy(Policy):
    """Drive Inventory-v0 by a :class:`~warehouse_sim.operations.baselines.DecisionRule`.

    Args:
        rule: The decision rule (reads the model between periods).
        name: Baseline name, for reports.
    """

    def __init__(self, rule: rules.DecisionRule, name: str) -> None:
        self.rule = rule
        self.name = name
        self._task: Any = None

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Attach to the (already reset) env's task."""
        task = getattr(env.unwrapped, "task", None)
        if task is None or not hasattr(task, "model"):
            raise ValueError(f"baseline {self.name!r} drives warehouse_sim/Inventory-v0 only")
        self._task = task

    def act(self, observation: Any) -> Any:
        """The action selecting the rule's order and price levels for the current state."""
        if self._task is None:
            raise RuntimeError("call reset(env) before act()")
        order_idx, price_idx = self.rule.decide(self._task.model)
        return self._task.encode(order_idx, price_idx)


def _scenario(env: gym.Env[Any, Any]) -> tuple[Scenario, int]:
    inner = env.unwrapped
    scenario = getattr(inner, "scenario", None)
    if not isinstance(scenario, Scenario):
        raise ValueError("Inventory baselines need a warehouse_sim/Inventory-v0 env")
    return scenario, int(getattr(inner, "horizon", scenario.horizon))


def _mdp_or_none(scenario: Scenario) -> SingleSkuMdp | None:
    try:
        return SingleSkuMdp(scenario)
    except ValueError:
        return None


def _mdp(scenario: Scenario, baseline: str) -> SingleSkuMdp:
    try:
        return SingleSkuMdp(scenario)
    except ValueError as exc:
        raise ValueError(f"baseline {baseline!r} needs a small single-SKU lost-sales scenario: {exc}") from None


@functools.lru_cache(maxsize=8)
def optimal_table(scenario: Scenario) -> np.ndarray:
    """The average-reward optimal policy table of a single-SKU scenario (cached)."""
    return _mdp(scenario, "optimal").solve().policy


@functools.lru_cache(maxsize=16)
def _searched(scenario: Scenario, horizon: int, kind: str) -> rules.ReorderRule:
    mdp = _mdp_or_none(scenario)
    if mdp is None:
        return rules.heuristic_reorder(scenario, base_stock=kind == "base-stock", myopic=kind == "myopic-price")
    if kind == "myopic-price":
        found = rules.search_reorder(mdp, price_levels=(rules.myopic_price_level(scenario.skus[0]),), horizon=horizon)
    else:
        found = rules.search_reorder(mdp, base_stock=kind == "base-stock", horizon=horizon)
    return found.rule


@functools.lru_cache(maxsize=8)
def tabular_table(scenario: Scenario, method: str, seed: int = TABULAR_SEED, steps: int = TABULAR_STEPS) -> np.ndarray:
    """Greedy table of a tabular agent trained on the scenario's MDP (cached)."""
    mdp = _mdp(scenario, method)
    return train_tabular(mdp, method, seed=seed, horizon=scenario.horizon, config=TabularConfig(steps=steps))  # type: ignore[arg-type]


def make_optimal_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:optimal``: the exact average-reward optimum by relative value iteration."""
    scenario, _ = _scenario(env)
    return InventoryRulePolicy(rules.TableRule(_mdp(scenario, "optimal"), optimal_table(scenario)), "optimal")


def make_ss_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:sS``: the best (s, S) rule at the best fixed price."""
    scenario, horizon = _scenario(env)
    return InventoryRulePolicy(_searched(scenario, horizon, "sS"), "sS")


def make_base_stock_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:base-stock``: the best order-up-to level at the best fixed price."""
    scenario, horizon = _scenario(env)
    return InventoryRulePolicy(_searched(scenario, horizon, "base-stock"), "base-stock")


def make_myopic_price_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:myopic-price``: price e/(e-1) x unit cost (nearest level), best (s, S) at it."""
    scenario, horizon = _scenario(env)
    return InventoryRulePolicy(_searched(scenario, horizon, "myopic-price"), "myopic-price")


def make_q_learning_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:q-learning``: tabular Q-learning, trained when built (seed 0, ~3 s)."""
    scenario, _ = _scenario(env)
    mdp = _mdp(scenario, "q-learning")
    return InventoryRulePolicy(rules.TableRule(mdp, tabular_table(scenario, "q-learning")), "q-learning")


def make_sarsa_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:sarsa``: tabular SARSA, trained when built (seed 0, ~3 s)."""
    scenario, _ = _scenario(env)
    mdp = _mdp(scenario, "sarsa")
    return InventoryRulePolicy(rules.TableRule(mdp, tabular_table(scenario, "sarsa")), "sarsa")
