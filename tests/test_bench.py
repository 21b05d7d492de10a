"""The benchmark functions and ``warehouse-sim bench`` (results are checked for shape, never speed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from warehouse_sim.bench import format_bench, run_bench
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


def test_run_bench_rejects_too_few_steps() -> None:
    with pytest.raises(ValueError, match="steps"):
        run_bench("warehouse_sim/Navigation-v0", steps=1)


def test_cli_bench_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["bench", "--env", "warehouse_sim/Navigation-v0", "--steps", "50", "--json", str(out)]) == 0
    assert "env steps/s" in capsys.readouterr().out
    assert KEYS <= json.loads(out.read_text()).keys()
