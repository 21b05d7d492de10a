"""Demand models: the default is the old formula, each other model does what it states, bad input names its field or line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.assets import asset_path
from warehouse_sim.operations import OperationsModel, OrderState, load_scenario
from warehouse_sim.operations.catalogue import scenario_from_dict
from warehouse_sim.operations.demand import DemandSpec, Window, price_response
from warehouse_sim.operations.mdp import SingleSkuMdp
from warehouse_sim.operations.replay import OrderStream
from warehouse_sim.policies.registry import make_baseline

SAMPLE = asset_path("demand/orders-sample.csv")
REFERENCE = yaml.safe_load(asset_path("scenarios/reference-single-sku.yaml").read_text())


def with_demand(name: str, **demand: object):  # noqa: ANN201
    return dataclasses.replace(load_scenario(name), demand=DemandSpec(**demand))  # type: ignore[arg-type]


def test_the_price_response_is_written_once_and_used_everywhere() -> None:
    scenario = load_scenario("catalogue-20")
    model = OperationsModel(scenario)
    for i, sku in enumerate(scenario.skus):
        for k, price in enumerate(sku.prices):
            expected = price_response(sku.base_rate, sku.base_price, sku.elasticity, price)
            assert sku.demand_rate(price) == pytest.approx(expected, rel=1e-15)
            assert model.rate_levels[i, k] == pytest.approx(expected, rel=1e-15)
    assert not hasattr(warehouse_sim.operations.demand, "demand_rates")


def test_negative_binomial_has_the_stated_mean_and_variance_to_mean_ratio() -> None:
    model = OperationsModel(with_demand("catalogue-20", model="negative_binomial", variance_to_mean=3.0))
    rng = np.random.default_rng(0)
    price_idx = model.initial_price_idx
    window = Window(2, 48.0, 24.0, True)  # a period with seasonality 1.0
    rates = model.demand.rates(price_idx, window)
    draws = np.stack([model.demand.draw(rates, rng, window) for _ in range(6_000)])
    assert (np.abs(draws.mean(axis=0) - rates) < 4 * np.sqrt(3.0 * rates / len(draws))).all()  # within 4 standard errors
    ratio = draws.var(axis=0) / draws.mean(axis=0)
    assert np.median(ratio) == pytest.approx(3.0, rel=0.05) and ratio.min() > 2.4
    # windows add up: four quarter-periods have the same ratio
    quarter = Window(2, 48.0, 6.0, False)
    q_rates = model.demand.rates(price_idx, quarter)
    summed = sum(np.stack([model.demand.draw(q_rates, rng, quarter) for _ in range(6_000)]) for _ in range(4))
    assert np.median(summed.var(axis=0) / summed.mean(axis=0)) == pytest.approx(3.0, rel=0.06)


def test_time_profile_scales_periods_by_weekday_and_windows_by_hour() -> None:
    hours = [0.5] * 12 + [1.5] * 12  # mean 1: a daily period gets its weekday's multiplier
    days = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 0.5]
    scenario = with_demand("catalogue-20", model="time_profile", hour_of_day=hours, day_of_week=days)
    model = OperationsModel(scenario)
    base = OperationsModel(load_scenario("catalogue-20")).demand
    price_idx = model.initial_price_idx
    for period in range(7):
        window = Window(period, 24.0 * period, 24.0, True)
        expected = base.rates(price_idx, window) * days[period]
        assert model.demand.rates(price_idx, window) == pytest.approx(expected)
    morning, evening = Window(5, 120.0, 1.0, False), Window(5, 133.0, 1.0, False)
    assert model.demand.rates(price_idx, evening) == pytest.approx(3 * model.demand.rates(price_idx, morning))
    # start_hour shifts the clock: hour 12 of the week is then hour 0 of the profile
    shifted = OperationsModel(with_demand("catalogue-20", model="time_profile", hour_of_day=hours, start_hour=12.0))
    assert shifted.demand.rates(price_idx, Window(0, 0.0, 1.0, False)) == pytest.approx(
        model.demand.rates(price_idx, Window(0, 12.0, 1.0, False)) / days[0]
    )


def test_time_profile_draws_follow_the_profile_in_the_order_book() -> None:
    hours = [0.0] * 8 + [3.0] * 8 + [0.0] * 8
    model = OperationsModel(with_demand("catalogue-20", model="time_profile", hour_of_day=hours), put_away=True)
    rng = np.random.default_rng(1)
    model.start_period()
    night = [len(model.arrive_orders(1.0, rng)) for _ in range(8)]
    assert sum(night) == 0 and model.ledger.units[0].sum() == 0
    for _ in range(8):
        model.arrive_orders(1.0, rng)
    daily = model.rate_levels[np.arange(20), model.price_idx].sum() * model.demand.season(0)  # all of it in 8 hours
    assert abs(int(model.ledger.units[0].sum()) - daily) < 4 * np.sqrt(daily)
    model.check_invariants()


def test_replay_aggregates_the_file_per_period_for_inventory() -> None:
    scenario = load_scenario("catalogue-20-replay")
    stream = scenario.order_stream
    assert stream is not None and stream.length_h == 72.0
    model = OperationsModel(scenario)
    rng = np.random.default_rng(0)
    ids = [s.id for s in scenario.skus]
    rows = [r.split(",") for r in SAMPLE.read_text().splitlines()[1:]]
    day_of = {r[0][:10]: k for k, r in enumerate(sorted({r[0][:10]: r for r in rows}.values()))}
    for period in range(4):  # the fourth day repeats the first
        model.step_period(np.zeros(20, dtype=np.int64), model.initial_price_idx, rng)
        expected = np.zeros(20, dtype=np.int64)
        for stamp, _, sku, units, _ in rows:
            if day_of[stamp[:10]] == period % 3:
                expected[ids.index(sku)] += int(units)
        assert np.array_equal(model.ledger.last_units[0], expected)
        model.check_invariants()


def test_replay_charges_recorded_prices_to_the_units_served_first(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text(
        "timestamp,order_id,sku,units,price\n"
        "2024-03-04T08:00:00,1,REF-1,2,10.0\n"
        "2024-03-04T09:30:00,2,REF-1,3,12.0\n"
        "2024-03-05T10:00:00,3,REF-1,1,15.0\n"
    )
    sku = {**REFERENCE["skus"][0], "initial_on_hand": 3}
    scenario = scenario_from_dict({**REFERENCE, "skus": [sku], "demand": {"model": "replay", "file": str(tmp_path / "orders.csv")}})
    model = OperationsModel(scenario)
    rng = np.random.default_rng(0)
    model.step_period(np.array([0]), np.array([0]), rng)
    assert model.ledger.last_units[:3, 0].tolist() == [5, 3, 2]  # demand, sales, lost
    assert model.ledger.last_money[0] == 2 * 10.0 + 1 * 12.0  # the first three units, at their recorded prices
    model.step_period(np.array([0]), np.array([3]), rng)
    assert model.ledger.last_units[:3, 0].tolist() == [1, 0, 1] and model.ledger.last_money[0] == 0.0
    model.check_invariants()


def test_replay_brings_the_recorded_orders_at_their_times_into_the_order_book() -> None:
    scenario = load_scenario("catalogue-20-replay")
    model = OperationsModel(scenario, put_away=True)
    model.start_period()
    orders = [o for _ in range(24) for o in model.arrive_orders(1.0, np.random.default_rng(0))]
    rows = [r.split(",") for r in SAMPLE.read_text().splitlines()[1:] if r.startswith("2024-03-04")]
    assert sum(o.skus.size for o in orders) == len(rows)
    first = [r for r in rows if r[1] == rows[0][1]]
    assert orders[0].placed_h == pytest.approx(int(rows[0][0][11:13]) + int(rows[0][0][14:16]) / 60 + int(rows[0][0][17:19]) / 3600)
    assert [scenario.skus[s].id for s in orders[0].skus] == [r[2] for r in first]
    assert orders[0].prices.tolist() == [float(r[4]) for r in first]
    assert all(o.state is OrderState.PLACED and o.due_h == pytest.approx(o.placed_h + scenario.due_hours) for o in orders)
    model.check_invariants()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-03-04T09:00:00,7,NOPE,1,2.0", "line 3: unknown SKU 'NOPE'"),
        ("2024-03-04T09:00:00,7,REF-1,-2,2.0", "line 3: units must be >= 1"),
        ("2024-03-04T07:00:00,7,REF-1,1,2.0", "line 3: unsorted time"),
        ("2024-03-04T09:00:00,7,REF-1,two,2.0", "line 3: units 'two' is not a whole number"),
        ("yesterday,7,REF-1,1,2.0", "line 3: timestamp 'yesterday'"),
        ("2024-03-04T09:00:00,7,REF-1,1,-3", "line 3: price must be"),
        ("2024-03-04T09:00:00,1,REF-1,1,2.0", "line 3: order '1' has lines at different times"),
    ],
)
def test_bad_rows_are_errors_naming_the_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(f"timestamp,order_id,sku,units,price\n2024-03-04T08:00:00,1,REF-1,1,2.0\n{row}\n")
    with pytest.raises(ValueError, match=message):
        OrderStream.from_csv(path, {"REF-1": 0})
    scenario = {**REFERENCE, "demand": {"model": "replay", "file": str(path)}}
    with pytest.raises(ValueError, match=message):
        scenario_from_dict(scenario)


def test_replay_file_is_resolved_next_to_the_scenario_and_a_missing_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("timestamp,order_id,sku,units\n2024-03-04T08:00:00,1,REF-1,3\n")
    path = tmp_path / "replay.yaml"
    path.write_text(yaml.safe_dump({"extends": "reference-single-sku", "name": "r", "demand": {"model": "replay", "file": "orders.csv"}}))
    stream = load_scenario(path).order_stream
    assert stream is not None and stream.units(0.0, 24.0).tolist() == [3]
    path.write_text(yaml.safe_dump({**REFERENCE, "demand": {"model": "replay", "file": "absent.csv"}}))
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("demand", "named"),
    [
        ({"model": "gaussian"}, "demand.model"),
        ({"model": "negative_binomial"}, "demand.variance_to_mean is required"),
        ({"model": "negative_binomial", "variance_to_mean": 1.0}, "demand.variance_to_mean"),
        ({"model": "poisson", "variance_to_mean": 2.0}, "demand.variance_to_mean does not apply"),
        ({"model": "time_profile", "hour_of_day": [1.0] * 23}, "demand.hour_of_day must have 24"),
        ({"model": "time_profile", "day_of_week": [1, 1, 1, 1, 1, 1, -1]}, "demand.day_of_week"),
        ({"model": "time_profile", "day_of_week": [0] * 7}, "demand.day_of_week must have a positive value"),
        ({"model": "replay"}, "demand.file"),
        ({"model": "poisson", "colour": "red"}, "demand: unknown field"),
        ({"substitutes": {"REF-1": {"to": "REF-1", "share": 0.5}}}, "cannot substitute itself"),
        ({"substitutes": {"REF-1": {"to": "NOPE", "share": 0.5}}}, "unknown SKU 'NOPE'"),
        ({"substitutes": {"REF-1": {"to": "X", "share": 1.5}}}, "share must be <= 1"),
        ({"substitutes": {"REF-1": "X"}}, "demand.substitutes.REF-1 must be"),
        ("poisson", "demand must be a mapping"),
    ],
)
def test_each_demand_field_is_validated_by_name(demand: object, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        scenario_from_dict({**REFERENCE, "demand": demand})


def _two_sku_scenario(**overrides: object):  # noqa: ANN202
    sku = REFERENCE["skus"][0]
    skus = [{**sku, "id": "A", "initial_on_hand": 0, "base_rate": 20}, {**sku, "id": "B", "slot": "S-001", "initial_on_hand": 40}]
    return scenario_from_dict({**REFERENCE, "skus": skus, **overrides})


def test_substitution_moves_the_stated_share_of_a_stocked_out_skus_demand() -> None:
    scenario = _two_sku_scenario(demand={"substitutes": {"A": {"to": "B", "share": 0.25}}})
    rng = np.random.default_rng(0)
    moved, wanted = 0, 0
    for _ in range(400):
        model = OperationsModel(scenario)
        model.start_period()
        sales = model.sell(np.array([20, 5]), rng)
        model.end_period()
        model.check_invariants()
        demand, lost = model.ledger.last_units[0], model.ledger.last_units[2]
        assert sales[0] == 0 and demand.sum() == 25  # units conserved, booked where the customer ends up
        moved += int(demand[1] - 5)
        wanted += 20
        assert sales[1] == demand[1] and lost[0] == demand[0]  # B had the stock to serve what moved
    assert moved / wanted == pytest.approx(0.25, abs=0.02)
    plain = OperationsModel(_two_sku_scenario())
    plain.start_period()
    assert plain.sell(np.array([20, 5])).tolist() == [0, 5]
    model = OperationsModel(scenario)
    model.start_period()
    with pytest.raises(ValueError, match="needs rng"):
        model.sell(np.array([1, 1]))


def test_substitution_needs_lost_sales() -> None:
    with pytest.raises(ValueError, match="needs a lost_sales scenario"):
        _two_sku_scenario(mode="backorder", demand={"substitutes": {"A": {"to": "B", "share": 0.5}}})


@pytest.mark.parametrize("model", ["negative_binomial", "time_profile", "replay"])
def test_the_exact_mdp_and_its_baselines_refuse_other_demand_models(tmp_path: Path, model: str) -> None:
    (tmp_path / "orders.csv").write_text("timestamp,order_id,sku,units\n2024-03-04T08:00:00,1,REF-1,3\n")
    demand = {
        "negative_binomial": {"model": model, "variance_to_mean": 2.0},
        "time_profile": {"model": model, "day_of_week": [1, 1, 1, 1, 1, 2, 2]},
        "replay": {"model": model, "file": str(tmp_path / "orders.csv")},
    }[model]
    scenario = scenario_from_dict({**REFERENCE, "demand": demand})
    with pytest.raises(ValueError, match=f"assumes Poisson demand.*{demand['model']}"):
        SingleSkuMdp(scenario)
    env = gym.make("warehouse_sim/Inventory-v0", scenario=scenario, continuous=False, horizon=5)
    for name in ("optimal", "q-learning", "sarsa"):
        with pytest.raises(ValueError, match=f"baseline '{name}' needs a single-SKU scenario with an exact MDP: the exact MDP assumes Poisson"):
            make_baseline(name, env)
    for name in ("sS", "base-stock", "capped-base-stock", "constant-order"):  # moment-based textbook rules run
        policy = make_baseline(name, env)
        obs, _ = env.reset(seed=0)
        policy.reset(env)
        assert env.action_space.contains(policy.act(obs))


@pytest.mark.parametrize(
    "scenario",
    ["catalogue-20-replay", "catalogue-20-overdispersed", "catalogue-20-weekly", "catalogue-20-substitution"],
)
def test_inventory_env_runs_every_demand_model_with_balanced_books(scenario: str) -> None:
    env = gym.make("warehouse_sim/Inventory-v0", scenario=scenario, continuous=False, horizon=30)
    obs, info = env.reset(seed=3)
    env.action_space.seed(3)
    total = 0.0
    for _ in range(30):
        obs, reward, _, truncated, info = env.step(env.action_space.sample())
        total += reward
        env.unwrapped.model.check_invariants()
    assert truncated and total * env.unwrapped.task.reward_scale == pytest.approx(info["cumulative"]["profit"])
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=11)
        env.action_space.seed(11)
        runs.append([env.step(env.action_space.sample())[1] for _ in range(10)])
    assert runs[0] == runs[1]
