"""The clairvoyant fixed-price ceiling: hand-checked values, and a true bound on real shifts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim  # noqa: F401
from warehouse_sim.evaluation import load_policy, run_episode
from warehouse_sim.operations.ceiling import ceiling_gap, fixed_price_ceiling

ROOT = Path(__file__).resolve().parents[1]


def test_ceiling_sells_everything_when_lots_pay_and_only_the_initial_stock_when_they_do_not() -> None:
    # Fixed cost 10 per order. SKU 0: 10 demanded, 3 on hand, margin 3, lots of at most 4: one
    # lot (sell 7: 35 - 8 - 10 = 17) beats two (sell 10: 50 - 14 - 20 = 16) and none (15).
    # SKU 1: margin 0.5 cannot pay for a lot of at most 5: sell the 3 on hand. SKU 2: no demand.
    # With a fixed cost of 1, SKU 0 buys both lots: 50 - 14 - 2.
    ceiling = fixed_price_ceiling(np.array([10, 8, 0]), np.array([5.0, 2.5, 9.0]), np.array([2.0, 2.0, 1.0]),
                                  np.array([3, 3, 4]), np.array([4, 5, 2]), 10.0)
    np.testing.assert_allclose(ceiling, [17.0, 7.5, 0.0])
    assert fixed_price_ceiling(np.array([10]), np.array([5.0]), np.array([2.0]), np.array([3]), np.array([4]), 1.0)[0] == 34.0


@pytest.mark.parametrize(
    "arrays, fixed",
    [
        ((np.array([1, 2]), np.ones(2), np.ones(2), np.zeros(2), np.ones(3)), 1.0),  # shapes differ
        ((np.array([-1]), np.ones(1), np.ones(1), np.zeros(1), np.ones(1)), 1.0),  # negative demand
        ((np.array([1]), np.ones(1), np.ones(1), np.zeros(1), np.zeros(1)), 1.0),  # empty lot
        ((np.array([1]), np.ones(1), np.ones(1), np.zeros(1), np.ones(1)), -1.0),  # negative fixed cost
    ],
)
def test_ceiling_rejects_bad_input(arrays: tuple[np.ndarray, ...], fixed: float) -> None:
    with pytest.raises(ValueError):
        fixed_price_ceiling(*arrays, fixed)


@pytest.mark.parametrize("baseline", ["heuristic", "horizon", "newsvendor"])
def test_no_fixed_price_shift_beats_its_ceiling_and_the_gap_adds_up(baseline: str) -> None:
    env = gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-small", shift_hours=2, fidelity="fast")
    try:
        policy = load_policy(f"baseline:{baseline}", env)
        prices: list[np.ndarray] = []
        result = run_episode(env, policy, 3, on_step=lambda r: prices.append(r["info"]["period"]["price"]))
        task = env.unwrapped.task
        m = task.model
        cumulative = m.kpis()["cumulative"]
        assert all(np.array_equal(p, prices[0]) for p in prices)  # these rules keep their prices all shift
        gap = ceiling_gap(cumulative, m.initial_on_hand, m.unit_cost, m.quantity_levels.max(axis=1),
                          m.scenario.fixed_order_cost)
    finally:
        env.close()
    assert gap["profit"] == pytest.approx(result.episode_return * task.reward_scale)
    assert gap["profit"] <= gap["ceiling"]
    assert gap["gap"] == pytest.approx(gap["ceiling"] - gap["profit"])
    parts = ("lost_margin", "open_margin", "unsold_stock", "extra_orders", "holding", "penalty", "promotion", "other")
    assert sum(gap[k] for k in parts) == pytest.approx(gap["gap"])
    assert min(gap["lost_margin"], gap["open_margin"], gap["holding"], gap["penalty"]) >= 0.0
    sales, demand = np.asarray(cumulative["sales"]), np.asarray(cumulative["demand"])
    assert gap["lost_margin"] + gap["open_margin"] == pytest.approx(float((demand - sales) @ (cumulative["price"] - m.unit_cost)))
    assert (sales >= m.initial_on_hand).all()  # so the parts explain the whole gap
    assert gap["other"] == pytest.approx(0.0, abs=1e-6)
    assert gap["unsold_stock"] >= 0.0


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("training_profit_ceiling", ROOT / "training" / "profit_ceiling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_profit_ceiling_script_tables_fixed_price_policies_and_refuses_a_ceiling_to_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kwargs = json.dumps({"fidelity": "fast", "scenario": "warehouse-small", "shift_hours": 1})
    code = _script().main(["--policies", "baseline:random", "baseline:horizon", "--episodes", "2", "--seed", "5",
                           "--env-kwargs", kwargs, "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "ceiling.json").read_text())
    random_row, horizon_row = report["rows"]
    assert random_row == {"policy": "baseline:random", "episodes": 2, "fixed_prices": False}  # random prices move
    assert horizon_row["fixed_prices"] and horizon_row["profit"]["mean"] <= horizon_row["ceiling"]["mean"]
    assert horizon_row["share_of_ceiling"] == pytest.approx(horizon_row["profit"]["mean"] / horizon_row["ceiling"]["mean"])
    table = (tmp_path / "ceiling.md").read_text()
    assert table in capsys.readouterr().out
    assert all(line.count("|") == 13 for line in table.splitlines())  # 12 columns in every row


def test_profit_ceiling_script_names_a_bad_policy_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--policies", "missing.onnx", "--episodes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing.onnx" in err
