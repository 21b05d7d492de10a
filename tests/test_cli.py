"""The command line: train -> export -> evaluate end to end, and the error contract.

Errors a user can cause print one line on stderr, exit with code 2, show no traceback
and leave no output file behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import warehouse_sim
from warehouse_sim.cli import main

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"

TINY = {
    "ppo": {
        NAV: {
            "n_timesteps": 256,
            "normalize": True,
            "n_steps": 128,
            "batch_size": 64,
            "n_epochs": 1,
            "policy_kwargs": {"net_arch": [16]},
            "eval_freq": 128,
            "n_eval_episodes": 1,
            "checkpoint_freq": 128,
            "final_eval_episodes": 2,
        }
    },
    "dqn": {
        NAV: {
            "n_timesteps": 300,
            "env_kwargs": {"continuous": False},
            "learning_starts": 100,
            "buffer_size": 1_000,
            "batch_size": 32,
            "target_update_interval": 100,
            "policy_kwargs": {"net_arch": [16]},
            "eval_freq": 0,
            "checkpoint_freq": 150,
            "final_eval_episodes": 2,
        }
    },
}


@pytest.mark.parametrize("algo", ["ppo", "dqn"])
def test_train_export_evaluate(algo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hyperparams = tmp_path / f"{algo}.yml"
    hyperparams.write_text(yaml.safe_dump(TINY[algo]))
    run, onnx, report, plot = tmp_path / "run", tmp_path / "p.onnx", tmp_path / "r.json", tmp_path / "ep.png"
    assert main(["train", "--algo", algo, "--hyperparams", str(hyperparams), "--out", str(run), "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert f"training {algo.upper()} on {NAV}" in out and "is_success" in out
    assert (run / "model.zip").is_file() and (run / "eval.json").is_file()

    assert main(["export", str(run), "--out", str(onnx)]) == 0
    assert onnx.is_file() and onnx.with_suffix(".json").is_file()

    kwargs = json.dumps(TINY[algo][NAV].get("env_kwargs", {}))
    args = ["evaluate", "--env", NAV, "--env-kwargs", kwargs, "--policy", str(onnx), "--episodes", "2"]
    assert main([*args, "--against", "baseline:astar", "--out", str(report), "--plot", str(plot)]) == 0
    data = json.loads(report.read_text())
    assert data["policy"] == str(onnx) and data["against"]["policy"] == "baseline:astar"
    assert {"is_success", "spl"} <= set(data["kpis"]) and "spl" in data["ratio"]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_train_with_no_arguments_defaults_to_ppo_on_navigation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from warehouse_sim import cli

    seen = {}

    def fake_train(config, **kwargs):  # noqa: ANN001, ANN003, ANN202 - records what the CLI resolved
        seen.update(config=config, **kwargs)
        raise cli.CliError("stop here")

    monkeypatch.setattr("warehouse_sim.training.train", fake_train)
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 2
    config = seen["config"]
    assert config.env_id == NAV and config.algo == "ppo" and config.n_timesteps == 300_000
    assert str(seen["out_dir"]).startswith("runs/ppo-Navigation-v0-")


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:  # argparse errors exit
        code = main(argv)
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DQN navigation policy (Discrete actions) exported to ONNX."""
    root = tmp_path_factory.mktemp("exported")
    hyperparams = root / "dqn.yml"
    hyperparams.write_text(yaml.safe_dump(TINY["dqn"]))
    assert main(["train", "--algo", "dqn", "--hyperparams", str(hyperparams), "--out", str(root / "run")]) == 0
    assert main(["export", str(root / "run"), "--out", str(root / "dqn.onnx")]) == 0
    return root


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--env", "NoSuchEnv-v0", "--policy", "baseline:random"], "unknown environment"),
        (["evaluate", "--env", NAV, "--policy", "baseline:nope"], "unknown baseline 'nope'"),
        (["evaluate", "--env", NAV, "--policy", "missing.onnx"], "not found"),
        (["evaluate", "--env", NAV, "--policy", "missing.zip"], "not found"),
        (["evaluate", "--env", NAV, "--policy", "baseline:optimal"], "supports"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--against", "astar"], "baseline:NAME"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--episodes", "0"], "episodes"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--jobs", "0"], "--jobs"),
        (["evaluate", "--env", "warehouse_sim/Fulfilment-v0", "--policy", "baseline:heuristic",
          "--env-kwargs", '{"driver": "policy:missing.onnx"}'], "missing.onnx"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--env-kwargs", "{bad"], "not valid JSON"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--env-kwargs", '{"layout": "huge"}'], "layout"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--out", "/no/such/dir/r.json"], "does not exist"),
        (["evaluate", "--env", NAV, "--policy", "baseline:astar", "--plot", "x.txt"], "--plot"),
        (["train", "--env", "NoSuchEnv-v0"], "unknown environment"),
        (["train", "--algo", "a2c"], "invalid choice"),
        (["train", "--timesteps", "1e6"], "positive integer"),
        (["train", "--resume", "/no/such/run"], "no run folder"),
        (["train", "--resume", ".", "--algo", "dqn"], "drop --algo"),
        (["export", "/no/such/run", "--out", "p.onnx"], "no such run folder"),
        (["view", "--env", NAV, "--record", "movie.avi"], "--record"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert message in _error(argv, capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("shaping", "message"),
    [("stock_value", "needs an env with an operations model"), ("cash", "unknown reward_shaping 'cash'")],
)
def test_a_reward_shaping_the_env_lacks_is_one_line_and_writes_no_run(
    shaping: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hyperparams = tmp_path / "ppo.yml"
    hyperparams.write_text(yaml.safe_dump({NAV: {"n_timesteps": 64, "reward_shaping": shaping}}))
    assert message in _error(["train", "--hyperparams", str(hyperparams), "--out", str(tmp_path / "run")], capsys)
    assert not (tmp_path / "run").exists()


def test_policy_file_errors_write_nothing(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    base = ["evaluate", "--env", NAV, "--out", str(report), "--plot", str(tmp_path / "p.png")]
    # Spaces: a Discrete-action policy on the continuous env.
    err = _error([*base, "--policy", str(exported / "dqn.onnx")], capsys)
    assert "Discrete(7)" in err and "Box" in err
    corrupt = tmp_path / "c.onnx"
    corrupt.write_bytes(b"\x00garbage")
    (tmp_path / "c.json").write_text((exported / "dqn.json").read_text())
    assert "does not match its sidecar" in _error([*base, "--policy", str(corrupt), "--env-kwargs", '{"continuous": false}'], capsys)
    truncated = tmp_path / "t.zip"
    truncated.write_bytes((exported / "run" / "model.zip").read_bytes()[:300])
    assert "t.zip" in _error([*base, "--policy", str(truncated)], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.json", "c.onnx", "t.zip"]


def test_export_and_train_refuse_to_clobber(exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "already exists and is not empty" in _error(["train", "--out", str(exported)], capsys)
    assert "already finished" in _error(["train", "--resume", str(exported / "run")], capsys)
    assert ".onnx" in _error(["export", str(exported / "run"), "--out", str(tmp_path / "p.txt")], capsys)
    assert list(tmp_path.iterdir()) == []


def test_real_process_error_has_no_traceback(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "evaluate", "--env", NAV, "--policy", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("warehouse-sim evaluate: error:"), out.stderr
    assert "not found" in out.stderr and out.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_error_after_building_a_physics_env_is_still_one_line(tmp_path: Path) -> None:
    # PyBullet's native banner and connection chatter must not reach the terminal.
    inventory_policy = Path(__file__).resolve().parents[1] / "training/results/ppo-inventory/policy.onnx"
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "evaluate", "--env", NAV, "--policy", str(inventory_policy), "--out", str(tmp_path / "r.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "space" in out.stderr, out.stderr
    assert out.stdout == ""
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- issue 15: the command line
def _run_cli(*argv: str, cwd: Path | None = None, prelude: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    """``warehouse-sim ARGV`` in a fresh process; ``prelude`` runs first (e.g. to set the umask)."""
    code = f"{prelude}\nimport sys\nfrom warehouse_sim.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def _one_line_error(out: subprocess.CompletedProcess) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
    return out.stderr


def test_a_bad_scenario_value_is_one_line_naming_field_and_file(tmp_path: Path) -> None:
    # Item 10: demand_level 1e25 / base_rate 1e30 failed at the first step ("lam value too large").
    from warehouse_sim.assets import assets_dir

    data = yaml.safe_load((assets_dir() / "scenarios" / "reference-single-sku.yaml").read_text())
    data["skus"][0]["base_rate"] = 1.0e30
    bad = tmp_path / "huge.yaml"
    bad.write_text(yaml.safe_dump(data))
    kwargs = json.dumps({"scenario": str(bad), "continuous": False})
    err = _one_line_error(_run_cli("evaluate", "--env", INV, "--env-kwargs", kwargs, "--policy", "baseline:random", cwd=tmp_path))
    assert "base_rate" in err and str(bad) in err
    err = _one_line_error(_run_cli("evaluate", "--env", INV, "--env-kwargs", '{"reward_scale": 1e-320}', "--policy", "baseline:random"))
    assert "reward_scale" in err


def test_train_and_export_without_the_train_extra_name_the_fix(tmp_path: Path) -> None:
    # Item 14: ModuleNotFoundError tracebacks and an empty run folder. The extra's packages are made
    # unimportable the way Python itself marks a failed import (None in sys.modules).
    hide = "import sys\nfor name in ('torch', 'stable_baselines3', 'sb3_contrib', 'tensorboard', 'onnx'):\n    sys.modules[name] = None"
    for argv in (["train", "--out", str(tmp_path / "run")], ["export", str(tmp_path), "--out", str(tmp_path / "p.onnx")],
                 ["evaluate", "--env", NAV, "--policy", str(tmp_path / "m.zip")]):
        (tmp_path / "m.zip").write_bytes(b"")
        err = _one_line_error(_run_cli(*argv, prelude=hide, cwd=tmp_path))
        assert "pip install \".[train]\"" in err and "torch" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.zip"]  # no run folder, no export


@pytest.mark.parametrize("option", ["evaluate-out", "evaluate-plot", "view-record", "export-out", "bench-json"])
def test_unwritable_outputs_are_refused_before_the_work_naming_the_users_path(option: str, tmp_path: Path) -> None:
    # Item 15: `evaluate --out /proc/x.json` ran the whole evaluation, then named a temp file.
    argv = {
        "evaluate-out": ["evaluate", "--env", NAV, "--policy", "baseline:astar", "--episodes", "50", "--out", "/proc/x.json"],
        "evaluate-plot": ["evaluate", "--env", NAV, "--policy", "baseline:astar", "--episodes", "50", "--plot", "/proc/x.png"],
        "view-record": ["view", "--env", NAV, "--record", "/proc/v.gif"],
        "export-out": ["export", str(tmp_path), "--out", "/proc/p.onnx"],
        "bench-json": ["bench", "--env", NAV, "--json", "/proc/b.json"],
    }[option]
    started = time.monotonic()
    err = _one_line_error(_run_cli(*argv, cwd=tmp_path))
    assert argv[-1] in err and "cannot be written" in err and ".tmp" not in err
    assert time.monotonic() - started < 60  # refused up front, not after 50 episodes (a loose bound: no timing claim)
    assert list(tmp_path.iterdir()) == []


def test_outputs_are_created_with_the_users_umask(tmp_path: Path) -> None:
    # Item 16: report.json (and other outputs) were created mode 0600 by mkstemp.
    hyperparams = tmp_path / "dqn.yml"
    hyperparams.write_text(yaml.safe_dump(TINY["dqn"]))
    umask = "import os\nos.umask(0o022)"
    run, onnx = tmp_path / "run", tmp_path / "p.onnx"
    assert _run_cli("train", "--algo", "dqn", "--hyperparams", str(hyperparams), "--out", str(run), prelude=umask).returncode == 0
    assert _run_cli("export", str(run), "--out", str(onnx), prelude=umask).returncode == 0
    kwargs = json.dumps({"continuous": False})
    evaluate = ["evaluate", "--env", NAV, "--env-kwargs", kwargs, "--policy", str(onnx), "--episodes", "1"]
    assert _run_cli(*evaluate, "--out", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"), prelude=umask).returncode == 0
    assert _run_cli("view", "--env", NAV, "--max-steps", "3", "--record", str(tmp_path / "v.gif"), prelude=umask).returncode == 0
    files = [run / "config.yaml", run / "eval.json", run / "model.zip", onnx, onnx.with_suffix(".json"), tmp_path / "r.json",
             tmp_path / "r.png", tmp_path / "v.gif"]
    modes = {f.name: oct(f.stat().st_mode & 0o777) for f in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_evaluate_says_where_it_wrote_the_report_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Item 17: nothing said where the report and the plot went.
    report, plot = tmp_path / "r.json", tmp_path / "p.png"
    args = ["evaluate", "--env", INV, "--env-kwargs", '{"scenario": "reference-single-sku"}', "--policy", "baseline:sS"]
    assert main([*args, "--episodes", "2", "--against", "baseline:base-stock", "--out", str(report), "--plot", str(plot)]) == 0
    out = capsys.readouterr().out
    assert f"report written to {report}" in out and f"plot of episode seed 0 written to {plot}" in out
    assert "e+0" not in out


def test_training_without_a_terminal_logs_progress_and_ends_with_a_verdict(tmp_path: Path) -> None:
    # Item 19: the default train ran 16 minutes silently when stdout was not a terminal.
    hyperparams = tmp_path / "ppo.yml"
    hyperparams.write_text(yaml.safe_dump({NAV: {**TINY["ppo"][NAV], "n_timesteps": 1_024, "against": "astar",
                                                 "target": {"is_success": 0.9}}}))
    run = tmp_path / "run"
    out = _run_cli("train", "--hyperparams", str(hyperparams), "--out", str(run))  # stdout is a pipe here
    assert out.returncode == 0, out.stderr
    progress = [line for line in out.stdout.splitlines() if "timesteps (" in line]
    assert len(progress) >= 10, out.stdout  # every 5%, with the rate and the time left
    assert all("steps/s, ETA" in line for line in progress)
    assert "result: target NOT met" in out.stdout and "vs baseline:astar" in out.stdout  # 1,024 steps learn little
    assert f"warehouse-sim export {run} --out {run}/policy.onnx" in out.stdout
    assert "--against baseline:astar" in out.stdout and f"warehouse-sim view --env {NAV}" in out.stdout
    report = json.loads((run / "eval.json").read_text())
    assert report["against"]["policy"] == "baseline:astar" and report["target"]["met"] is False


def test_quickstart_compares_with_a_star_against_a_target() -> None:
    from warehouse_sim.training import load_train_config
    from warehouse_sim.training.config import hyperparams_dir

    config = load_train_config("ppo", NAV, path=hyperparams_dir() / "ppo-quickstart.yml")
    assert config.against == "astar" and config.target == {"is_success": 0.9}


def test_envs_lists_each_id_with_a_description_readable_spaces_and_its_baselines(capsys: pytest.CaptureFixture[str]) -> None:
    # Item 20: raw numpy reprs wrapped mid-array.
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "[" not in out.replace("in [", "").replace("MultiDiscrete([", "")  # no array reprs
    blocks = out.split("warehouse_sim/")[1:]
    assert len(blocks) == len(warehouse_sim.ENV_IDS) == 5
    nav = next(b for b in blocks if b.startswith("Navigation-v0"))
    assert "Drive a differential-drive robot" in nav and "Box(24,) float32 in [-1, 1]" in nav
    assert "continuous=False: Discrete(7)" in nav and "baselines    astar, random  (as --policy baseline:NAME)" in nav
    ful = next(b for b in blocks if b.startswith("Fulfilment-v0"))
    assert "MultiDiscrete(16) with 3 to 4 choices each" in ful and "heuristic, horizon, newsvendor, random" in ful
    fleet = next(b for b in blocks if b.startswith("FleetDispatch-v0"))
    assert "Box(116,) float32 in [-10, 10]" in fleet and "Discrete(9)" in fleet and "random, rule" in fleet
    assert all(len(line) <= 120 for line in out.splitlines())


def test_a_policy_on_the_wrong_env_names_the_env_it_was_exported_for(capsys: pytest.CaptureFixture[str]) -> None:
    # Item 21: the mismatch named the env kwargs, not the env id.
    inventory_policy = Path(__file__).resolve().parents[1] / "training/results/ppo-inventory/policy.onnx"
    err = _error(["evaluate", "--env", NAV, "--policy", str(inventory_policy)], capsys)
    assert "exported for warehouse_sim/Inventory-v0 with env kwargs" in err
