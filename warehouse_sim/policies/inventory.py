"""Inventory-v0 baselines as policies: adapters over the numpy-only decision rules.

Each factory takes an Inventory-v0 env (wrapped or not) and returns a :class:`Policy`
that reads the env's operations model (privileged state, like every classical
baseline) and returns the env action selecting the rule's levels, in whichever action
mode the env was built (Box bin centres, Discrete, MultiDiscrete).

``optimal``, ``q-learning`` and ``sarsa`` need a single-SKU scenario with an exact MDP
(stationary Poisson demand; the reference instance, the lost-sales test bed) and say
why when given another; ``sS``, ``base-stock``, ``myopic-price``, ``capped-base-stock``
and ``constant-order`` are searched on the exact MDP there (the best parameters by exact
evaluation over the episode) and use textbook parameters on the demand model's moments
on other scenarios (:func:`~warehouse_sim.operations.baselines.heuristic_reorder`;
capped base-stock caps that base-stock rule at the mean plus two standard deviations of
a period's demand, constant order orders the level nearest the mean demand). In
scenarios with promotion slots every rule features SKUs by
:func:`~warehouse_sim.operations.baselines.feature_by_margin_and_cover`. Solutions,
searches and tabular training are cached per process and scenario, so building a
baseline twice costs nothing the second time.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.operations import baselines as rules
from warehouse_sim.operations.catalogue import Scenario
from warehouse_sim.operations.demand import period_moments
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
        """The action selecting the rule's order and price levels (and featured SKUs) for the current state."""
        if self._task is None:
            raise RuntimeError("call reset(env) before act()")
        model = self._task.model
        order_idx, price_idx = self.rule.decide(model)
        if not model.promotion_slots:
            return self._task.encode(order_idx, price_idx)
        return self._task.encode(order_idx, price_idx, self.rule.promote(model))


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
        raise ValueError(f"baseline {baseline!r} needs a single-SKU scenario with an exact MDP: {exc}") from None


@functools.lru_cache(maxsize=8)
def optimal_table(scenario: Scenario) -> np.ndarray:
    """The average-reward optimal policy table of a single-SKU scenario (cached)."""
    return _mdp(scenario, "optimal").solve().policy


@functools.lru_cache(maxsize=16)
def _searched(scenario: Scenario, horizon: int, kind: str) -> rules.PositionRule:
    mdp = _mdp_or_none(scenario)
    if mdp is None:
        return _textbook(scenario, kind)
    if kind == "myopic-price":
        return rules.search_rule(mdp, "sS", price_levels=(rules.myopic_price_level(scenario.skus[0]),), horizon=horizon).rule
    # large state spaces: fewer exact evaluations (each propagates the state distribution over the horizon)
    finalists = 12 if mdp.n_states <= 200_000 else 3
    return rules.search_rule(mdp, kind, horizon=horizon, finalists=finalists).rule


def _textbook(scenario: Scenario, kind: str) -> rules.PositionRule:
    """Textbook parameters per SKU (scenarios without an exact MDP)."""
    base = rules.heuristic_reorder(scenario, base_stock=kind != "sS", myopic=kind == "myopic-price")
    if kind in ("sS", "base-stock", "myopic-price"):
        return base
    moments = [period_moments(scenario, i, sku.prices[p]) for i, (sku, p) in enumerate(zip(scenario.skus, base.price_idx, strict=True))]
    if kind == "constant-order":
        levels = [int(np.argmin(np.abs(np.array(sku.order_quantities) - mean))) for sku, (mean, _) in zip(scenario.skus, moments, strict=True)]
        return rules.ConstantOrderRule(np.array(levels), base.price_idx)
    caps = [max(1, int(math.ceil(mean + 2.0 * math.sqrt(var)))) for mean, var in moments]
    return rules.CappedBaseStockRule(base.order_up_to, np.array(caps), base.price_idx)


@functools.lru_cache(maxsize=8)
def tabular_table(scenario: Scenario, method: str, seed: int = TABULAR_SEED, steps: int = TABULAR_STEPS) -> np.ndarray:
    """Greedy table of a tabular agent trained on the scenario's MDP (cached)."""
    mdp = _mdp(scenario, method)
    return train_tabular(mdp, method, seed=seed, horizon=scenario.horizon, config=TabularConfig(steps=steps))  # type: ignore[arg-type]


def _rule_policy(env: gym.Env[Any, Any], kind: str) -> InventoryRulePolicy:
    scenario, horizon = _scenario(env)
    return InventoryRulePolicy(_searched(scenario, horizon, kind), kind)


def make_optimal_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:optimal``: the exact average-reward optimum by relative value iteration."""
    scenario, _ = _scenario(env)
    return InventoryRulePolicy(rules.TableRule(_mdp(scenario, "optimal"), optimal_table(scenario)), "optimal")


def make_ss_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:sS``: the best (s, S) rule at the best fixed price."""
    return _rule_policy(env, "sS")


def make_base_stock_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:base-stock``: the best order-up-to level at the best fixed price."""
    return _rule_policy(env, "base-stock")


def make_capped_base_stock_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:capped-base-stock``: the best (order-up-to S, at most r per period) rule at the best fixed price."""
    return _rule_policy(env, "capped-base-stock")


def make_constant_order_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:constant-order``: the best constant order level at the best fixed price."""
    return _rule_policy(env, "constant-order")


def make_myopic_price_policy(env: gym.Env[Any, Any]) -> InventoryRulePolicy:
    """``baseline:myopic-price``: price e/(e-1) x unit cost (nearest level), best (s, S) at it."""
    return _rule_policy(env, "myopic-price")


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
