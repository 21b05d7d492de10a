"""Inventory baselines: the exact MDP agrees with the env, the DP is optimal, rules are consistent."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.evaluation import run_episode
from warehouse_sim.operations import OperationsModel, load_scenario
from warehouse_sim.operations import baselines as rules
from warehouse_sim.operations.mdp import SingleSkuMdp
from warehouse_sim.operations.tabular import TabularConfig, train_tabular
from warehouse_sim.policies.registry import make_baseline

ENV_ID = "warehouse_sim/Inventory-v0"
SEEDS = range(100, 116)


@pytest.fixture(scope="module")
def mdp() -> SingleSkuMdp:
    return SingleSkuMdp(load_scenario("reference-single-sku"))


def rollout_profit(env: gym.Env, policy, seeds) -> np.ndarray:  # noqa: ANN001
    profits = [run_episode(env, policy, seed).kpis["cumulative.profit"] for seed in seeds]
    return np.array(profits) / env.unwrapped.horizon


def test_relative_value_iteration_satisfies_the_bellman_equation(mdp: SingleSkuMdp) -> None:
    solution = mdp.solve()
    q = mdp.q_values(solution.bias)
    residual = q.max(axis=1) - solution.bias - solution.gain
    assert np.ptp(residual) < 1e-6 and abs(residual).max() < 1e-6
    assert np.array_equal(q.argmax(axis=1), solution.policy)
    # long-run mean of the optimal policy from the initial state tends to the gain
    assert mdp.evaluate(solution.policy, 3000) / 3000 == pytest.approx(solution.gain, rel=2e-3)


def test_the_exact_mdp_agrees_with_the_env(mdp: SingleSkuMdp) -> None:
    env = gym.make(ENV_ID, continuous=False)
    profits = rollout_profit(env, make_baseline("optimal", env), range(40))
    exact = mdp.evaluate(mdp.solve().policy, 200) / 200
    stderr = profits.std(ddof=1) / np.sqrt(profits.size)
    assert abs(profits.mean() - exact) < 4 * stderr


def test_mdp_simulation_agrees_with_exact_evaluation(mdp: SingleSkuMdp) -> None:
    table = mdp.solve().policy
    simulated = mdp.simulate(table[None], episodes=400, horizon=200, seed=0)[0]
    assert simulated == pytest.approx(mdp.evaluate(table, 200) / 200, rel=0.02)


def test_optimal_beats_every_searched_rule_exactly(mdp: SingleSkuMdp) -> None:
    optimum = mdp.evaluate(mdp.solve().policy, 200) / 200
    found = rules.search_rule(mdp, "sS", episodes=4, finalists=4)
    base = rules.search_rule(mdp, "base-stock", episodes=4, finalists=4)
    assert optimum >= found.profit_per_period >= base.profit_per_period


def test_reorder_rule_on_the_model_equals_its_mdp_table(mdp: SingleSkuMdp) -> None:
    rule = rules.ReorderRule(np.array([30]), np.array([50]), np.array([1]))
    table = rule.table(mdp)
    model = OperationsModel(mdp.scenario)
    rng = np.random.default_rng(0)
    for _ in range(300):
        order_idx, price_idx = rule.decide(model)
        state = mdp.state_of(int(model.on_hand[0]), model.pipeline[0])
        assert table[state] == order_idx[0] * mdp.n_p + price_idx[0]
        model.step_period(rng.integers(0, 4, 1), rng.integers(0, 4, 1), rng)


def test_baseline_ordering_by_simulation() -> None:
    env = gym.make(ENV_ID, continuous=False)
    means = {name: rollout_profit(env, make_baseline(name, env), SEEDS).mean() for name in ("optimal", "sS", "random")}
    assert means["optimal"] >= means["sS"] >= means["random"]


def test_tabular_agents_learn_something_quickly(mdp: SingleSkuMdp) -> None:
    config = TabularConfig(steps=150_000)
    random_value = mdp.simulate(np.random.default_rng(0).integers(0, 16, (1, mdp.n_states)), episodes=50, horizon=200, seed=1)[0]
    for method in ("q-learning", "sarsa"):
        table = train_tabular(mdp, method, seed=0, config=config)
        assert table.shape == (mdp.n_states,) and table.min() >= 0 and table.max() < 16
        assert np.array_equal(table, train_tabular(mdp, method, seed=0, config=config))
        assert mdp.evaluate(table, 200) / 200 > random_value + 10


def test_myopic_price_level() -> None:
    sku = load_scenario("reference-single-sku").skus[0]
    assert rules.myopic_price_level(sku) == 0  # 2.5 / 1.5 * 5 = 8.33 -> nearest level 7


@pytest.mark.parametrize("continuous", [True, False])
@pytest.mark.parametrize("name", ["sS", "base-stock", "myopic-price", "random"])
def test_heuristics_drive_the_20_sku_catalogue(name: str, continuous: bool) -> None:
    env = gym.make(ENV_ID, scenario="catalogue-20", continuous=continuous, horizon=20)
    policy = make_baseline(name, env)
    obs, _ = env.reset(seed=0)
    policy.reset(env)
    for _ in range(20):
        action = policy.act(obs)
        assert env.action_space.contains(action)
        obs, *_ = env.step(action)


@pytest.mark.parametrize("name", ["optimal", "q-learning", "sarsa"])
def test_exact_baselines_refuse_the_catalogue(name: str) -> None:
    env = gym.make(ENV_ID, scenario="catalogue-20")
    with pytest.raises(ValueError, match="single-SKU"):
        make_baseline(name, env)


def test_registered_baselines_act_in_every_action_mode() -> None:
    for continuous in (True, False):
        env = gym.make(ENV_ID, continuous=continuous)
        for name in ("optimal", "sS", "base-stock", "myopic-price"):
            policy = make_baseline(name, env)
            obs, _ = env.reset(seed=0)
            policy.reset(env)
            assert env.action_space.contains(policy.act(obs))


@pytest.fixture(scope="module")
def backorder_mdp() -> SingleSkuMdp:
    return SingleSkuMdp(dataclasses.replace(load_scenario("reference-single-sku"), mode="backorder"))


def test_backorder_mdp_satisfies_the_bellman_equation_and_rarely_touches_its_bound(backorder_mdp: SingleSkuMdp) -> None:
    solution = backorder_mdp.solve()
    residual = backorder_mdp.q_values(solution.bias).max(axis=1) - solution.bias - solution.gain
    assert np.ptp(residual) < 1e-6
    assert backorder_mdp.n_min == -backorder_mdp.max_backlog < 0
    assert backorder_mdp.boundary_mass(solution.policy) < 1e-12
    assert backorder_mdp.average_reward(solution.policy) == pytest.approx(solution.gain, rel=1e-6)


def test_backorder_mdp_agrees_with_the_env_and_its_simulation(backorder_mdp: SingleSkuMdp) -> None:
    env = gym.make(ENV_ID, scenario=backorder_mdp.scenario, continuous=False)
    policy = rules.TableRule(backorder_mdp, backorder_mdp.solve().policy)
    from warehouse_sim.policies.inventory import InventoryRulePolicy

    profits = rollout_profit(env, InventoryRulePolicy(policy, "optimal"), range(40))
    exact = backorder_mdp.evaluate(policy.table, 200) / 200
    assert abs(profits.mean() - exact) < 4 * profits.std(ddof=1) / np.sqrt(profits.size)
    simulated = backorder_mdp.simulate(policy.table[None], episodes=400, horizon=200, seed=0)[0]
    assert simulated == pytest.approx(exact, rel=0.02)


@pytest.mark.parametrize(
    "rule",
    [
        rules.CappedBaseStockRule(np.array([45]), np.array([16]), np.array([1])),
        rules.ConstantOrderRule(np.array([1]), np.array([2])),
        rules.ReorderRule(np.array([30]), np.array([50]), np.array([1])),
    ],
)
def test_position_rules_on_the_model_equal_their_mdp_tables(mdp: SingleSkuMdp, rule: rules.PositionRule) -> None:
    table = rule.table(mdp)
    model = OperationsModel(mdp.scenario)
    rng = np.random.default_rng(0)
    for _ in range(300):
        order_idx, price_idx = rule.decide(model)
        assert table[mdp.state_of(int(model.on_hand[0]), model.pipeline[0])] == order_idx[0] * mdp.n_p + price_idx[0]
        model.step_period(rng.integers(0, 4, 1), rng.integers(0, 4, 1), rng)


def test_capped_base_stock_orders_the_capped_shortfall() -> None:
    rule = rules.CappedBaseStockRule(np.array([[20], [20]]), np.array([[4], [30]]), np.array([[0], [0]]))
    levels = rule.levels(np.array([[5, 18, 25], [5, 18, 25]]), np.arange(0, 31))
    assert levels.tolist() == [[4, 2, 0], [15, 2, 0]]


def test_rule_families_are_ordered_by_exact_value(mdp: SingleSkuMdp) -> None:
    optimum = mdp.evaluate(mdp.solve().policy, 200) / 200
    found = {f: rules.search_rule(mdp, f, episodes=4, finalists=3).profit_per_period for f in rules.RULE_FAMILIES}
    assert optimum >= found["sS"] >= found["base-stock"]
    assert optimum >= found["capped-base-stock"] > found["constant-order"]  # a constant order ignores the state


def test_on_unit_order_levels_capped_base_stock_contains_base_stock() -> None:
    mdp = SingleSkuMdp(load_scenario("lost-sales-L1-p19"))
    optimum = mdp.average_reward(mdp.solve().policy)
    found = {f: rules.search_rule(mdp, f, horizon=1000).rule for f in ("base-stock", "capped-base-stock")}
    gains = {f: mdp.average_reward(rule.table(mdp)) for f, rule in found.items()}
    assert optimum >= gains["capped-base-stock"] >= gains["base-stock"]


def test_the_state_space_limit_is_named() -> None:
    sku = dataclasses.replace(load_scenario("reference-single-sku").skus[0], lead_time=8, order_quantities=tuple(range(0, 48, 6)))
    scenario = dataclasses.replace(load_scenario("reference-single-sku"), skus=(sku,))
    with pytest.raises(ValueError, match="MDP too large for exact solution: 687865856 states"):
        SingleSkuMdp(scenario)
    with pytest.raises(ValueError, match="max_backlog applies to backorder scenarios only"):
        SingleSkuMdp(load_scenario("reference-single-sku"), max_backlog=5)


@pytest.mark.parametrize("name", ["optimal", "capped-base-stock", "constant-order", "base-stock"])
def test_the_lost_sales_test_bed_baselines_act(name: str) -> None:
    env = gym.make(ENV_ID, scenario="lost-sales-L1-p9", continuous=False, horizon=50)
    policy = make_baseline(name, env)
    obs, _ = env.reset(seed=0)
    policy.reset(env)
    for _ in range(50):
        obs, *_ = env.step(policy.act(obs))
