"""The command line: train -> export -> evaluate end to end, and the error contract.

Errors a user can cause print one line on stderr, exit with code 2, show no traceback
and leave no output file behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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
    assert "corrupt ONNX" in _error([*base, "--policy", str(corrupt), "--env-kwargs", '{"continuous": false}'], capsys)
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
