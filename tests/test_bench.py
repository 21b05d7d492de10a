"""The benchmark functions and ``warehouse-sim bench`` (results are checked for shape, never speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warehouse_sim import ENV_IDS
from warehouse_sim.bench import default_steps, format_bench, run_bench
from warehouse_sim.cli import main

KEYS = {"env_id", "steps_per_s", "bare_physics_steps_per_s", "overhead_ratio", "sim_seconds_per_wall_second",
        "reset_ms", "versions"}


def test_run_bench_on_navigation() -> None:
    result = run_bench("warehouse_sim/Navigation-v0", env_kwargs={"n_obstacle_robots": 1}, steps=200, seed=0)
    assert KEYS <= result.keys()
    assert result["steps_per_s"] > 0 and result["bare_physics_steps_per_s"] > 0
    assert result["overhead_ratio"] == pytest.approx(result["bare_physics_steps_per_s"] / result["steps_per_s"])
    assert result["sim_seconds_per_wall_second"] == pytest.approx(result["steps_per_s"] / 10)
    assert result["versions"]["pybullet"]
    text = format_bench(result)
    assert "overhead ratio" in text and "Navigation-v0" in text
    json.dumps(result)


def test_run_bench_without_physics_reports_no_ratio() -> None:
    pytest.importorskip("warehouse_sim.envs.inventory")
    result = run_bench("warehouse_sim/Inventory-v0", steps=50, seed=0)
    assert result["bare_physics_steps_per_s"] is None and result["overhead_ratio"] is None
    assert "n/a" in format_bench(result)


def test_run_bench_rejects_no_steps() -> None:
    with pytest.raises(ValueError, match="steps"):
        run_bench("warehouse_sim/Navigation-v0", steps=0)


def test_slow_envs_print_significant_figures_and_any_step_count_is_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 15 item 18: "env steps/s: 0" for Fulfilment, and --steps 3 refused.
    kwargs = json.dumps({"scenario": "warehouse-tiny"})
    assert main(["bench", "--env", "warehouse_sim/Fulfilment-v0", "--env-kwargs", kwargs, "--steps", "3"]) == 0
    out, err = capsys.readouterr()
    rate = out.split("env steps/s:")[1].split()[0]
    assert float(rate.replace(",", "")) > 0 and rate != "0"
    assert "(3 steps)" in out and "timing warehouse_sim/Fulfilment-v0: 3 env steps" in err  # progress on stderr
    assert format_bench({**run_bench("warehouse_sim/Inventory-v0", steps=5), "steps_per_s": 0.8512}).count("0.8512") == 1


def test_default_steps_finish_in_about_a_minute_per_env() -> None:
    # Issue 15 item 18: `bench` without --env ran every env 5,000 steps (hours for Fulfilment).
    # The defaults are step counts (not timed here): a medium Fulfilment epoch costs ~1 s plus its bare physics.
    assert default_steps("warehouse_sim/Fulfilment-v0") <= 30
    assert all(default_steps(env_id) >= 1_000 for env_id in ENV_IDS if "Fulfilment" not in env_id)
    assert default_steps("CartPole-v1") == 1_000


def test_cli_bench_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--env", "warehouse_sim/Navigation-v0", "--steps", "50", "--json", str(out)]) == 0
    assert "env steps/s" in capsys.readouterr().out
    assert KEYS <= json.loads(out.read_text()).keys()


def test_fast_fidelity_is_benchmarked_beside_physics(capsys: pytest.CaptureFixture[str]) -> None:
    # Issue 12: `bench --env-kwargs '{"fidelity": "fast"}'` prints both fidelities, same seeds and actions.
    kwargs = {"scenario": "warehouse-tiny", "fidelity": "fast"}
    result = run_bench("warehouse_sim/Fulfilment-v0", env_kwargs=kwargs, steps=3, seed=0)
    assert result["bare_physics_steps_per_s"] is None  # the fast fidelity has no physics of its own
    assert result["physics_fidelity_steps_per_s"] > 0
    assert result["fidelity_speedup"] == pytest.approx(result["steps_per_s"] / result["physics_fidelity_steps_per_s"])
    physics = run_bench("warehouse_sim/Fulfilment-v0", env_kwargs={"scenario": "warehouse-tiny"}, steps=3, seed=0)
    assert physics["fidelity_speedup"] is None and physics["overhead_ratio"] is not None
    assert main(["bench", "--env", "warehouse_sim/Fulfilment-v0", "--env-kwargs", json.dumps(kwargs), "--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "physics fidelity:" in out and "fast / physics speed:" in out
