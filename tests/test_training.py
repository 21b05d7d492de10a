"""Training: typed hyperparameter files, run folders, checkpoints, and resume after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
import yaml

from warehouse_sim.evaluation import load_policy, run_episodes, summarize_episodes
from warehouse_sim.training import NormalizeConfig, TrainConfig, load_train_config, read_run_config, resume, train
from warehouse_sim.training.callbacks import best_checkpoint, list_checkpoints
from warehouse_sim.training.config import config_from_entry, hyperparams_dir

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"
TINY_PPO = {"n_steps": 64, "batch_size": 64, "n_epochs": 2}
TINY_DQN = {"learning_starts": 64, "buffer_size": 2_000, "batch_size": 32, "train_freq": 4, "target_update_interval": 100}


def _hyperparam_files() -> list[tuple[str, str]]:
    pairs = []
    for file in sorted(hyperparams_dir().glob("*.yml")):  # <algo>.yml and <algo>-<purpose>.yml
        for env_id in yaml.safe_load(file.read_text()):
            pairs.append((file.name, env_id))
    return pairs


@pytest.mark.parametrize(("file", "env_id"), _hyperparam_files())
def test_every_shipped_entry_loads_into_a_valid_config(file: str, env_id: str) -> None:
    algo = file.removesuffix(".yml").split("-")[0]
    config = load_train_config(algo, env_id, path=hyperparams_dir() / file)
    assert config.algo == algo and config.env_id == env_id
    assert isinstance(config.n_timesteps, int) and config.n_timesteps >= 1_000
    for key, value in config.algo_kwargs.items():
        assert not isinstance(value, str) or value.startswith("lin_"), f"{key}: {value!r} read as a string"
    if algo != "ppo":
        assert config.env_kwargs.get("continuous") is False, "DQN needs the Discrete action set"


def test_yaml_exponent_integers_are_rejected_naming_the_field() -> None:
    # YAML reads 1e6 as the string "1e6": the config must say so, not crash later in SB3.
    with pytest.raises(ValueError, match="n_timesteps"):
        config_from_entry("ppo", NAV, yaml.safe_load("n_timesteps: 1e6"))
    with pytest.raises(ValueError, match="learning_rate"):
        config_from_entry("ppo", NAV, yaml.safe_load("n_timesteps: 1_000\nlearning_rate: 3e-4"))
    assert config_from_entry("ppo", NAV, yaml.safe_load("n_timesteps: 1_000_000")).n_timesteps == 1_000_000


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"n_timesteps": 100, "n_stepz": 5}, "n_stepz"),
        ({"n_timesteps": 100, "buffer_size": 5}, "buffer_size"),  # a DQN argument given to PPO
        ({"n_timesteps": 0}, "n_timesteps"),
        ({"n_timesteps": 100, "n_envs": -1}, "n_envs"),
        ({"n_timesteps": 100, "vec_env": "threads"}, "vec_env"),
        ({"n_timesteps": 100, "normalize": "yes"}, "normalize"),
        ({"n_timesteps": 100, "normalize": {"clip_obs": -1.0}}, "clip_obs"),
        ({"n_timesteps": 100, "policy_kwargs": {"activation_fn": "nn.ReLU"}}, "activation_fn"),
        ({"n_timesteps": 100, "policy_kwargs": {"net_arch": "dict(pi=[64])"}}, "net_arch"),
        ({"n_timesteps": 100, "learning_rate": "lin_abc"}, "learning_rate"),
        ({"n_timesteps": 100, "eval_freq": -5}, "eval_freq"),
        ({"n_timesteps": 100, "eval_seed": -1}, "eval_seed"),
        ({"n_timesteps": 100, "keep_best": "yes"}, "keep_best"),
        ({"n_timesteps": 100, "keep_best": True, "eval_freq": 0}, "keep_best"),
    ],
)
def test_invalid_entries_raise_value_error_naming_the_field(entry: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        config_from_entry("ppo", NAV, entry)


def test_missing_entry_and_unknown_algo(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no ppo hyperparameters for 'CartPole-v1'"):
        load_train_config("ppo", "CartPole-v1")
    with pytest.raises(ValueError, match="algo"):
        load_train_config("a2c", NAV)
    bad = tmp_path / "bad.yml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_train_config("ppo", NAV, path=bad)


def test_config_round_trips_through_its_plain_form() -> None:
    config = load_train_config("ppo", NAV)
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config


def test_vec_env_auto_uses_dummy_for_one_env() -> None:
    config = TrainConfig(env_id=NAV, algo="ppo", n_timesteps=10)
    assert config.resolved_vec_env() == "dummy"
    assert config.with_overrides(n_envs=4, vec_env="subproc").resolved_vec_env() == "subproc"
    assert config.with_overrides(n_envs=4, vec_env="dummy").resolved_vec_env() == "dummy"


def test_subproc_workers_register_the_ids_themselves(tmp_path: Path) -> None:
    # A forkserver/spawn worker starts from a bare interpreter: the factory must import
    # warehouse_sim itself (a closure pickled by value does not carry the registration).
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from warehouse_sim.training.config import TrainConfig\n"
        "from warehouse_sim.training.runner import make_vec_env\n"
        "config = TrainConfig(env_id=sys.argv[1], algo='ppo', n_timesteps=10, n_envs=2, vec_env='subproc')\n"
        "venv = make_vec_env(config, run_dir=Path(sys.argv[2]), seed=0, session=0)\n"
        "assert venv.reset().shape[0] == 2\n"
        "venv.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, INV, str(tmp_path)], check=True, timeout=120)


def _tiny_ppo(**changes: object) -> TrainConfig:
    base = TrainConfig(
        env_id=INV,
        algo="ppo",
        n_timesteps=512,
        n_envs=2,
        normalize=NormalizeConfig(),
        env_kwargs={"scenario": "reference-single-sku"},
        policy_kwargs={"net_arch": [16]},
        algo_kwargs=TINY_PPO,
        eval_freq=256,
        n_eval_episodes=1,
        checkpoint_freq=128,
        final_eval_episodes=2,
    )
    return base.with_overrides(**changes)


def test_run_folder_holds_what_design_md_lists(tmp_path: Path) -> None:
    result = train(_tiny_ppo(), out_dir=tmp_path / "run", seed=3, command="warehouse-sim train --test")
    run = result.run_dir
    for name in ("model.zip", "config.yaml", "eval.json", "vecnormalize.pkl", "evaluations.jsonl"):
        assert (run / name).is_file(), name
    assert sorted(p.name for p in (run / "monitor").iterdir()) == ["0-0.monitor.csv", "0-1.monitor.csv"]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (run / "tb").rglob("events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    assert {"eval/mean_return", "eval/cumulative.profit", "eval/cumulative.fill_rate"} <= set(accumulator.Tags()["scalars"])
    checkpoints = list_checkpoints(run / "checkpoints")
    assert 1 <= len(checkpoints) <= 2  # only the newest two are kept
    assert {p.name for p in checkpoints[-1].iterdir()} == {"model.zip", "vecnormalize.pkl", "state.json"}
    assert not list(run.rglob(".*tmp*")), "temporary files left behind"

    config, run_info = read_run_config(run)
    assert config == _tiny_ppo()
    assert run_info["seed"] == 3 and run_info["command"] == "warehouse-sim train --test"
    assert run_info["versions"]["warehouse_sim"] and "torch" in run_info["versions"]
    assert "git_revision" in run_info
    report = json.loads((run / "eval.json").read_text())
    assert report["timesteps"] == result.timesteps == 512
    assert "cumulative.profit" in report["kpis"]
    evaluations = [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]
    assert [e["timesteps"] for e in evaluations] == [256, 512]
    assert "cumulative.profit" in evaluations[0]["kpis"]


def test_train_refuses_a_non_empty_folder_and_bad_env_kwargs_write_nothing(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(ValueError, match="not empty"):
        train(_tiny_ppo(), out_dir=tmp_path / "busy")
    with pytest.raises(FileNotFoundError, match="no-such-scenario"):
        train(_tiny_ppo(env_kwargs={"scenario": "no-such-scenario"}), out_dir=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_resume_from_first_checkpoint_reaches_the_same_timesteps(tmp_path: Path) -> None:
    """A faithful kill: the folder as it stood right after the first checkpoint was written."""
    from stable_baselines3 import PPO

    full = train(_tiny_ppo(), out_dir=tmp_path / "full", seed=1)
    killed = tmp_path / "killed"
    shutil.copytree(full.run_dir, killed)
    for name in ("model.zip", "eval.json", "vecnormalize.pkl"):
        (killed / name).unlink()
    first, *later = list_checkpoints(killed / "checkpoints")
    for folder in later:
        shutil.rmtree(folder)
    result = resume(killed)
    assert result.timesteps == full.timesteps == 512
    assert PPO.load(killed / "model.zip").num_timesteps == 512
    _, run_info = read_run_config(killed)
    assert [s["resumed_from"] for s in run_info["sessions"]] == [None, f"checkpoints/{first.name}"]
    with pytest.raises(ValueError, match="already finished"):
        resume(killed)


def _evaluations(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "evaluations.jsonl").read_text().splitlines()]


def _kept_is_the_best_evaluated(run: Path, kept: dict, *, seed: int, episodes: int) -> None:
    """``kept`` names the first evaluation with the top return, and model.zip scores it again on the same seeds."""
    from stable_baselines3 import PPO

    best = max(_evaluations(run), key=lambda e: e["return"])
    assert kept == {"timesteps": best["timesteps"], "validation_return": best["return"]}
    assert PPO.load(run / "model.zip").num_timesteps == best["timesteps"]
    env = gym.make(INV, scenario="reference-single-sku")
    try:
        again = summarize_episodes(run_episodes(env, load_policy(str(run / "model.zip"), env), episodes=episodes, seed=seed))
    finally:
        env.close()
    assert again["return"]["mean"] == pytest.approx(best["return"])


def test_keep_best_keeps_the_best_validation_model_also_across_a_resume(tmp_path: Path) -> None:
    config = _tiny_ppo(n_timesteps=1_024, eval_freq=128, n_eval_episodes=2, eval_seed=500, keep_best=True, checkpoint_freq=256)
    full = train(config, out_dir=tmp_path / "full", seed=4)
    assert full.timesteps == 1_024 and full.eval_report["timesteps"] == 1_024
    assert [e["timesteps"] for e in _evaluations(full.run_dir)] == list(range(128, 1_025, 128))  # no warm start: none at 0
    _kept_is_the_best_evaluated(full.run_dir, full.eval_report["kept_best"], seed=500, episodes=2)
    assert best_checkpoint(full.run_dir) is not None and len(list_checkpoints(full.run_dir / "best")) == 1

    # Killed right after the checkpoint at 512 steps; best/ may hold a later model, as after a real kill.
    killed = tmp_path / "killed"
    shutil.copytree(full.run_dir, killed)
    for name in ("model.zip", "eval.json", "vecnormalize.pkl"):
        (killed / name).unlink()
    for folder in list_checkpoints(killed / "checkpoints"):
        if int(folder.name) > 512:
            shutil.rmtree(folder)
    lines = [line for line in (killed / "evaluations.jsonl").read_text().splitlines() if json.loads(line)["timesteps"] <= 512]
    (killed / "evaluations.jsonl").write_text("\n".join(lines) + "\n")
    resumed = resume(killed)
    assert resumed.timesteps == 1_024
    _kept_is_the_best_evaluated(killed, resumed.eval_report["kept_best"], seed=500, episodes=2)


def test_kill_9_during_dqn_training_then_resume_with_replay_buffer(tmp_path: Path) -> None:
    hyperparams = tmp_path / "dqn.yml"
    entry = {
        "n_timesteps": 3_000,
        "n_envs": 1,
        "env_kwargs": {"scenario": "reference-single-sku", "continuous": False},
        "policy_kwargs": {"net_arch": [16]},
        "eval_freq": 0,
        "checkpoint_freq": 300,
        "final_eval_episodes": 1,
        **TINY_DQN,
    }
    hyperparams.write_text(yaml.safe_dump({INV: entry}))
    run = tmp_path / "run"
    command = [sys.executable, "-m", "warehouse_sim", "train", "--env", INV, "--algo", "dqn"]
    proc = subprocess.Popen(
        [*command, "--hyperparams", str(hyperparams), "--out", str(run), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list_checkpoints(run / "checkpoints") and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (run / "model.zip").exists()
    checkpoint = list_checkpoints(run / "checkpoints")[-1]
    assert (checkpoint / "replay_buffer.pkl").is_file()

    done = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "train", "--resume", str(run), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "trained 3,000 timesteps" in done.stdout
    from stable_baselines3 import DQN

    model = DQN.load(run / "model.zip")
    assert model.num_timesteps == 3_000
    _, run_info = read_run_config(run)
    assert run_info["sessions"][1]["resumed_from"] == f"checkpoints/{checkpoint.name}"
    assert run_info["sessions"][1]["command"].endswith(f"--resume {run} --no-progress")
