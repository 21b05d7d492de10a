"""Evaluation reports: statistics, KPI extraction, seeding, references, plots."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from warehouse_sim.evaluation import evaluate, format_report, kpi_scalars, summarize, trace_episode, wilson_interval
from warehouse_sim.plotting import fulfilment_series, plot_episode, save_figure_atomic

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"
FUL = "warehouse_sim/Fulfilment-v0"


def test_summary_statistics_match_the_textbook() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 10.0]
    s = summarize(values)
    std = float(np.std(values, ddof=1))
    assert s["n"] == 5 and s["mean"] == 4.0 and s["std"] == pytest.approx(std)
    assert s["stderr"] == pytest.approx(std / math.sqrt(5))
    assert s["ci95_method"] == "bootstrap" and 1.0 <= s["ci95"][0] < 4.0 < s["ci95"][1] <= 10.0
    assert summarize(values)["ci95"] == s["ci95"]  # a fixed draw: reports are reproducible
    assert summarize([3.0])["ci95"] is None


def test_wilson_interval_matches_the_textbook() -> None:
    # Wilson (1927) / Newcombe (1998) example: 81 successes of 263, 95% interval 0.2553 .. 0.3662.
    low, high = wilson_interval(81, 263)
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0) and wilson_interval(0, 10)[0] == pytest.approx(0.0)


def test_intervals_stay_within_what_is_possible() -> None:
    # Issue 15 item 17: "is_success ... 95% CI 0.8718 .. 1.008" and collision counts below 0.
    success = [1.0] * 97 + [0.0] * 3
    s = summarize(success)
    assert s["ci95_method"] == "wilson" and 0.0 <= s["ci95"][0] < s["mean"] < s["ci95"][1] <= 1.0
    collisions = [0.0] * 18 + [5.0, 9.0]
    c = summarize(collisions)
    assert c["ci95"][0] >= 0.0 and c["ci95"][1] <= 9.0
    fill = [1.0, 0.98, 1.0, 0.99, 1.0, 0.97]
    assert summarize(fill)["ci95"][1] <= 1.0


def test_report_text_uses_plain_numbers() -> None:
    report = evaluate(INV, "baseline:sS", env_kwargs={"scenario": "reference-single-sku"}, episodes=3)
    text = format_report(report)
    assert "e+0" not in text and "e-0" not in text
    profit = report["kpis"]["cumulative.profit"]["mean"]
    assert f"{profit:,.0f}" in text  # e.g. 4,977 rather than 4.977e+03


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


@pytest.mark.parametrize(("env_id", "policy", "against"), [(INV, "baseline:random", "baseline:sS"), (NAV, "baseline:random", "baseline:astar")])
def test_episode_plot_draws_the_baseline_on_the_same_seed_in_currency_units(env_id: str, policy: str, against: str) -> None:
    # Issue 15 item 24: --against was not drawn; the title showed the scaled return beside a profit axis.
    episode, env = trace_episode(env_id, policy, seed=3)
    reference, ref_env = trace_episode(env_id, against, seed=3)
    ref_env.close()
    try:
        fig = plot_episode(episode, env, name=policy, reference=reference, reference_name=against, title="t")
    finally:
        env.close()
    labels = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert policy in labels and against in labels  # both drawn, each labelled
    title = fig._suptitle.get_text()  # noqa: SLF001 - matplotlib keeps the suptitle there
    assert against in title and policy in title
    if env_id == INV:
        profit = reference.trace[-1]["info"]["cumulative"]["profit"]
        assert f"profit {profit:,.0f} currency units" in title and "reward_scale 100" in title
        assert any("currency units" in ax.get_ylabel() for ax in fig.axes)
        assert any("simulated hours" in ax.get_xlabel() for ax in fig.axes)
    else:
        assert {"x (m)", "simulated time (s)"} <= {ax.get_xlabel() for ax in fig.axes}


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


def test_fulfilment_plot_shows_classes_backlog_and_utilisation_against_the_baseline() -> None:
    # Issue 12: price, stock and pipeline per SKU class, backlog and fleet utilisation over the shift.
    kwargs = {"scenario": "warehouse-tiny", "fidelity": "fast"}
    episode, env = trace_episode(FUL, "baseline:random", env_kwargs=kwargs, seed=1)
    reference, ref_env = trace_episode(FUL, "baseline:horizon", env_kwargs=kwargs, seed=1)
    ref_env.close()
    try:
        classes = env.unwrapped.task.classes
        fig = plot_episode(episode, env, name="baseline:random", reference=reference, reference_name="baseline:horizon")
    finally:
        env.close()
    series = fulfilment_series(episode.trace, classes)
    last = episode.trace[-1]["info"]
    # per class: the classes partition the SKUs, so the class sums add up to the totals
    assert np.allclose(series["on_hand"].sum(axis=1), [np.sum(r["info"]["period"]["on_hand"]) for r in episode.trace])
    prices = np.array([r["info"]["period"]["price"] for r in episode.trace])
    assert np.allclose(series["price"], [[p[classes == k].mean() for k in range(classes.max() + 1)] for p in prices])
    # the epochs' busy shares average (time-weighted) to the shift's utilisation
    hours = series["hours"]
    assert np.all((series["utilisation"] > -1e-9) & (series["utilisation"] < 1 + 1e-9))  # busy share, up to rounding
    assert np.dot(series["utilisation"], np.diff(hours, prepend=0.0)) / hours[-1] == pytest.approx(last["robot_utilisation"])
    assert series["backlog"][-1] == last["backlog"] and series["profit"][-1] == last["cumulative"]["profit"]
    labels = {label for ax in fig.axes for label in ax.get_legend_handles_labels()[1]}
    assert {"class A (baseline:random)", "class A (baseline:horizon)", "baseline:random", "baseline:horizon"} <= labels
    assert [ax.get_ylabel().split("\n")[0] for ax in fig.axes] == [
        "price per class", "stock on hand per class", "pipeline per class", "backlog", "fleet utilisation", "cumulative profit"
    ]
    assert fig.axes[-1].get_xlabel() == "shift clock (simulated hours)"
