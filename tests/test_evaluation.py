"""Evaluation reports: statistics, KPI extraction, seeding, references, plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from warehouse_sim.evaluation import evaluate, kpi_scalars, summarize, t_quantile_975, trace_episode
from warehouse_sim.plotting import plot_episode, save_figure_atomic

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"


def test_summary_statistics_match_the_textbook() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    s = summarize(values)
    std = float(np.std(values, ddof=1))
    assert s["n"] == 5 and s["mean"] == 4.0 and s["std"] == pytest.approx(std)
    assert s["stderr"] == pytest.approx(std / math.sqrt(5))
    assert s["ci95"] == pytest.approx([4.0 - 2.776 * s["stderr"], 4.0 + 2.776 * s["stderr"]])
    assert summarize([3.0])["ci95"] is None


@pytest.mark.parametrize(("df", "t"), [(1, 12.706), (9, 2.262), (30, 2.042), (40, 2.021), (99, 1.984), (1000, 1.962)])
def test_t_quantiles(df: int, t: float) -> None:
    assert t_quantile_975(df) == pytest.approx(t, abs=1.5e-3)


def test_kpis_are_numeric_scalars_with_nested_dicts_flattened() -> None:
    info = {
        "is_success": True,
        "collisions": np.int64(2),
        "spl": 0.5,
        "goal": (3, 1),
        "reason": "physics_error",
        "cumulative": {"profit": np.float64(12.5), "on_hand": np.array([1, 2]), "fill_rate": 0.9},
        "period": {"profit": 1.0},
        "TimeLimit.truncated": False,
        "nan": float("nan"),
    }
    assert kpi_scalars(info) == {
        "is_success": 1.0,
        "collisions": 2.0,
        "spl": 0.5,
        "cumulative.profit": 12.5,
        "cumulative.fill_rate": 0.9,
    }


def test_same_seeds_give_the_same_report_and_against_adds_ratios() -> None:
    kwargs = {"scenario": "reference-single-sku"}
    a = evaluate(INV, "baseline:random", env_kwargs=kwargs, episodes=3, seed=11, against="baseline:base-stock")
    b = evaluate(INV, "baseline:random", env_kwargs=kwargs, episodes=3, seed=11)
    assert a["returns"] == b["returns"] and a["seeds"] == [11, 13]
    assert a["against"]["policy"] == "baseline:base-stock"
    assert "cumulative.profit" in a["kpis"] and "cumulative.fill_rate" in a["kpis"]
    profit, reference = a["kpis"]["cumulative.profit"]["mean"], a["against"]["kpis"]["cumulative.profit"]["mean"]
    assert a["ratio"]["cumulative.profit"] == pytest.approx(profit / reference)
    assert a["ratio"]["return"] == pytest.approx(a["return"]["mean"] / a["against"]["return"]["mean"])


def test_navigation_report_has_success_and_spl() -> None:
    report = evaluate(NAV, "baseline:astar", episodes=2)
    assert {"is_success", "spl", "collisions", "path_length"} <= set(report["kpis"])
    assert report["episodes"] == 2 and len(report["returns"]) == 2


@pytest.mark.parametrize("env_id", [NAV, INV])
def test_episode_plot_is_written(env_id: str, tmp_path: Path) -> None:
    policy = "baseline:astar" if env_id == NAV else "baseline:base-stock"
    episode, env = trace_episode(env_id, policy, seed=0)
    try:
        fig = plot_episode(episode, env, title="test")
    finally:
        env.close()
    out = tmp_path / "episode.png"
    save_figure_atomic(fig, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["episode.png"]


def test_parallel_evaluation_gives_the_same_report_as_serial() -> None:
    kwargs = {"scenario": "reference-single-sku"}
    serial = evaluate(INV, "baseline:myopic-price", env_kwargs=kwargs, episodes=3, seed=4, against="baseline:sS")
    parallel = evaluate(INV, "baseline:myopic-price", env_kwargs=kwargs, episodes=3, seed=4, against="baseline:sS", jobs=2)
    for report in (serial, parallel):
        report.pop("warehouse_sim_version")
    assert parallel == serial


def test_parallel_evaluation_checks_its_arguments_before_any_episode() -> None:
    with pytest.raises(ValueError, match="jobs"):
        evaluate(INV, "baseline:random", episodes=2, jobs=0)
    with pytest.raises(ValueError, match="unknown baseline"):
        evaluate(INV, "baseline:nope", episodes=2, jobs=2)
