"""Recommendation slots: uplift, cannibalisation and slot cost, the action spaces, the heuristic rule, each coupling."""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.assets import asset_path
from warehouse_sim.operations import OperationsModel, load_scenario
from warehouse_sim.operations.baselines import feature_by_margin_and_cover
from warehouse_sim.operations.catalogue import scenario_from_dict
from warehouse_sim.operations.demand import PromotionSpec, Window
from warehouse_sim.operations.ledger import PROMOTION_COST
from warehouse_sim.policies.registry import make_baseline

ENV_ID = "warehouse_sim/Inventory-v0"
PROMO = "catalogue-20-promo"
REFERENCE = yaml.safe_load(asset_path("scenarios/reference-single-sku.yaml").read_text())


def test_uplift_and_cannibalisation_within_the_category() -> None:
    scenario = load_scenario(PROMO)
    model = OperationsModel(scenario)
    window = Window(2, 48.0, 24.0, True)
    base = model.demand.rates(model.initial_price_idx, window)
    featured = np.zeros(20, dtype=bool)
    featured[1] = True  # C20-01, category A = SKUs 0..3
    rates = model.demand.rates(model.initial_price_idx, window, featured)
    extra = 0.6 * base[1]
    assert rates[1] == pytest.approx(1.6 * base[1])
    taken = base[[0, 2, 3]] - rates[[0, 2, 3]]
    assert taken.sum() == pytest.approx(0.4 * extra)  # 40% of the extra demand comes from the category
    assert taken / taken.sum() == pytest.approx(base[[0, 2, 3]] / base[[0, 2, 3]].sum())  # in proportion to rates
    assert rates[4:] == pytest.approx(base[4:])  # other categories untouched
    assert rates[:4].sum() == pytest.approx(base[:4].sum() + 0.6 * extra)


def test_cannibalisation_never_drives_a_rate_below_zero() -> None:
    spec = PromotionSpec(uplift=5.0, cannibalisation=1.0, categories=(("A", ("C20-00", "C20-19")),))
    scenario = dataclasses.replace(load_scenario(PROMO), promotion=spec)
    model = OperationsModel(scenario)
    featured = np.zeros(20, dtype=bool)
    featured[0] = True
    rates = model.demand.rates(model.initial_price_idx, Window(0, 0.0, 24.0, True), featured)
    assert rates[19] == 0.0 and (rates >= 0).all()


def test_slot_cost_is_booked_and_in_the_profit() -> None:
    model = OperationsModel(load_scenario(PROMO))
    rng = np.random.default_rng(0)
    featured = np.zeros(20, dtype=bool)
    featured[[0, 5]] = True
    profit = model.step_period(np.zeros(20, dtype=np.int64), model.initial_price_idx, rng, featured)
    money = model.ledger.last_money
    assert money.size == 6 and money[PROMOTION_COST] == 2 * 12.0
    assert profit == pytest.approx(money[0] - money[1:].sum())
    kpis = model.kpis()
    assert kpis["period"]["promotion_cost"] == 24.0 and kpis["period"]["featured"].tolist() == featured.tolist()
    model.check_invariants()
    too_many = np.zeros(20, dtype=bool)
    too_many[:4] = True
    with pytest.raises(ValueError, match="4 SKUs featured but the scenario has 3 promotion slots"):
        model.step_period(np.zeros(20, dtype=np.int64), model.initial_price_idx, rng, too_many)
    plain = OperationsModel(load_scenario("catalogue-20"))
    assert plain.ledger.money.size == 5 and "featured" not in plain.kpis()["period"]
    with pytest.raises(ValueError, match="0 promotion slots"):
        plain.set_promotions(featured)


def test_featuring_a_stocked_out_sku_loses_sales() -> None:
    sku = REFERENCE["skus"][0]
    skus = [{**sku, "id": "A", "initial_on_hand": 0}, {**sku, "id": "B", "slot": "S-001", "initial_on_hand": 40, "capacity": 400}]
    promotion = {"uplift": 2.0, "cannibalisation": 0.8, "categories": {"X": ["A", "B"]}}
    scenario = scenario_from_dict({**REFERENCE, "skus": skus, "promotion_slots": 1, "promotion": promotion})
    sales = {}
    for name, featured in (("none", None), ("stocked out A", np.array([True, False])), ("stocked B", np.array([False, True]))):
        model = OperationsModel(scenario)
        rng = np.random.default_rng(5)
        for _ in range(5):
            model.step_period(np.zeros(2, dtype=np.int64), np.array([1, 1]), rng, featured)
        model.check_invariants()
        sales[name] = int(model.ledger.cum_units[1].sum())
    # featuring A moves B's customers to an item that cannot be sold: fewer sales than no promotion at all
    assert sales["stocked out A"] < sales["none"] < sales["stocked B"]


def test_default_spaces_are_unchanged_and_the_promo_scenario_adds_slots() -> None:
    plain = gym.make(ENV_ID, scenario="catalogue-20", continuous=False)
    assert plain.action_space.nvec.tolist() == [4] * 40 and plain.observation_space.shape == (20 * 6,)
    assert gym.make(ENV_ID).action_space.shape == (2,)
    assert gym.make(ENV_ID, continuous=False).action_space == gym.spaces.Discrete(16)
    env = gym.make(ENV_ID, scenario=PROMO, continuous=False)
    assert env.action_space.nvec.tolist() == [4] * 40 + [21] * 3
    assert env.observation_space.shape == (20 * 7,)
    assert gym.make(ENV_ID, scenario=PROMO).action_space.shape == (43,)
    for continuous in (True, False):
        check_env(gym.make(ENV_ID, scenario=PROMO, continuous=continuous).unwrapped, skip_render_check=True)


def test_slot_actions_feature_skus_once_and_show_in_observation_and_info() -> None:
    env = gym.make(ENV_ID, scenario=PROMO, continuous=False)
    obs, _ = env.reset(seed=0)
    action = np.concatenate([np.zeros(40, dtype=np.int64), [6, 6, 0]])  # SKU 5 twice, one slot empty
    action[1:40:2] = 1
    obs, _, _, _, info = env.step(action)
    featured = obs.reshape(20, 7)[:, -1]
    assert featured.tolist() == [1.0 if i == 5 else 0.0 for i in range(20)]
    assert info["period"]["promotion_cost"] == 12.0 and info["period"]["featured"][5]
    with pytest.raises(ValueError, match="out of range"):
        env.step(np.concatenate([np.zeros(40, dtype=np.int64), [21, 0, 0]]))
    box = gym.make(ENV_ID, scenario=PROMO)
    box.reset(seed=0)
    task = box.unwrapped.task
    chosen = np.zeros(20, dtype=bool)
    chosen[[2, 7]] = True
    assert task.decode(task.encode(np.zeros(20, dtype=np.int64), np.ones(20, dtype=np.int64), chosen))[2].tolist() == chosen.tolist()


def test_the_heuristic_features_high_margin_skus_that_have_the_stock() -> None:
    model = OperationsModel(load_scenario(PROMO))
    rate = model.rate_levels[np.arange(20), model.price_idx]
    gain = (model.price - model.unit_cost) * rate
    best = np.argsort(-gain)[:3]
    assert np.flatnonzero(feature_by_margin_and_cover(model)).tolist() == sorted(best.tolist())
    model.on_hand[best[0]] = 0  # out of stock: not featured, the next best is
    chosen = np.flatnonzero(feature_by_margin_and_cover(model))
    assert best[0] not in chosen and chosen.size == 3 and np.argsort(-gain)[3] in chosen
    costly = dataclasses.replace(load_scenario(PROMO), promotion=PromotionSpec(uplift=1.6, slot_cost=1e6))
    assert not feature_by_margin_and_cover(OperationsModel(costly)).any()
    env = gym.make(ENV_ID, scenario=PROMO, continuous=False, horizon=10)
    policy = make_baseline("sS", env)
    obs, _ = env.reset(seed=0)
    policy.reset(env)
    for _ in range(10):
        action = policy.act(obs)
        assert env.action_space.contains(action) and (action[40:] > 0).any()
        obs, *_ = env.step(action)


def test_featuring_far_skus_loads_the_fleet() -> None:
    from warehouse_sim.tasks.fulfilment import load_warehouse_scenario

    base = load_warehouse_scenario("warehouse-tiny")
    promotion = PromotionSpec(uplift=4.0)
    scenario = dataclasses.replace(base, operations=dataclasses.replace(base.operations, promotion_slots=1, promotion=promotion))
    metres, shipped = {}, {}
    for sku in (0, 3):  # T-00 has the slot nearest the pack station, T-03 (the slowest mover) the farthest
        env = gym.make("warehouse_sim/Fulfilment-v0", scenario=scenario)
        assert env.action_space.nvec[-1] == 5 and env.observation_space.shape == (9 + 8 * 4,)
        obs, _ = env.reset(seed=0)
        policy = make_baseline("heuristic", env)
        policy.reset(env)
        for _ in range(12):
            action = policy.act(obs)
            action[-1] = sku + 1  # the slot entry: feature this SKU
            obs, _, terminated, truncated, info = env.step(action)
            assert obs[9 + 8 * sku + 7] == 1.0 and info["period"]["featured"][sku]
            if terminated or truncated:
                break
        metres[sku], shipped[sku] = info["distance_m"], int(info["cumulative"]["sales"].sum())
        env.close()
    # the far item sells fewer units for more robot travel
    assert metres[3] / shipped[3] > 1.3 * metres[0] / shipped[0]


def test_fulfilment_spaces_are_unchanged_without_slots() -> None:
    env = gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny")
    assert env.action_space.nvec.tolist()[-1] == 3 and env.observation_space.shape == (9 + 7 * 4,)
    env.close()
