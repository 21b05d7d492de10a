"""Training: typed hyperparameter files, run folders, checkpoints, and resume after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml

from warehouse_sim.evaluation import load_policy, run_episodes, summarize_episodes
from warehouse_sim.export import export_onnx
from warehouse_sim.training import NormalizeConfig, TrainConfig, load_train_config, read_run_config, resume, train
from warehouse_sim.training.checkpoints import best_checkpoint, list_checkpoints
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
    if algo in ("dqn", "qrdqn"):
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


def test_reward_only_normalisation_keeps_best_exports_and_evaluates(tmp_path: Path) -> None:
    # SB3 creates no obs_rms without norm_obs: the kept best model's statistics must still load
    # (the lost-sales hyperparameters, normalize {norm_obs: false, norm_reward: true}, failed here).
    config = _tiny_ppo(normalize=NormalizeConfig(norm_obs=False, norm_reward=True), eval_freq=128, keep_best=True, checkpoint_freq=0)
    result = train(config, out_dir=tmp_path / "run", seed=1)
    assert result.timesteps == 512 and result.eval_report["kept_best"] is not None
    export_onnx(result.run_dir, tmp_path / "policy.onnx")
    env = gym.make(INV, scenario="reference-single-sku")
    try:
        onnx, sb3 = load_policy(str(tmp_path / "policy.onnx"), env), load_policy(str(result.run_dir / "model.zip"), env)
        obs, _ = env.reset(seed=0)
        for _ in range(20):  # no observation scaling on either side
            action = sb3.act(obs)
            assert np.allclose(onnx.act(obs), action, atol=1e-5)
            obs, *_ = env.step(action)
    finally:
        env.close()


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


# ---------------------------------------------------------------------------- issue 15: runs resume exactly, stop cleanly
def _dqn_inventory(**changes: object) -> TrainConfig:
    base = TrainConfig(
        env_id=INV,
        algo="dqn",
        n_timesteps=1_200,
        n_envs=2,
        env_kwargs={"scenario": "reference-single-sku", "continuous": False},
        policy_kwargs={"net_arch": [16]},
        algo_kwargs={**TINY_DQN, "train_freq": 3},  # a rollout: 3 steps x 2 envs = 6 timesteps
        eval_freq=200,
        n_eval_episodes=1,
        checkpoint_freq=250,
        final_eval_episodes=1,
    )
    return base.with_overrides(**changes)


def _killed_copy(full: Path, to: Path, *, keep_checkpoint: int) -> Path:
    """The folder as a kill after checkpoint ``keep_checkpoint`` leaves it: later evaluations and monitor rows included."""
    shutil.copytree(full, to)
    for name in ("model.zip", "eval.json", "vecnormalize.pkl"):
        (to / name).unlink(missing_ok=True)
    for folder in list_checkpoints(to / "checkpoints")[keep_checkpoint + 1 :]:
        shutil.rmtree(folder)
    return list_checkpoints(to / "checkpoints")[-1]


def _monitored_steps(run: Path) -> int:
    from warehouse_sim.plotting import read_monitor

    steps, _, _ = read_monitor(run / "monitor")
    return int(steps[-1])


def test_a_resumed_run_ends_at_the_total_and_repeats_no_checkpoint_or_evaluation(tmp_path: Path) -> None:
    # Item 1: a resumed DQN run ended past its budget (500,004; 20,006) with evaluations out of order.
    full = train(_dqn_inventory(), out_dir=tmp_path / "full", seed=5)
    assert full.timesteps == 1_200
    reference = [e["timesteps"] for e in _evaluations(full.run_dir)]
    checkpoints = [p.name for p in list_checkpoints(full.run_dir / "checkpoints")]
    assert reference == sorted(set(reference)) and reference[0] == 200
    killed = tmp_path / "killed"
    checkpoint = _killed_copy(full.run_dir, killed, keep_checkpoint=0)
    resumed = resume(killed)
    assert resumed.timesteps == 1_200  # exactly the uninterrupted total
    assert resumed.wall_time_s > json.loads((checkpoint / "state.json").read_text())["wall_time_s"]  # sessions add up
    timesteps = [e["timesteps"] for e in _evaluations(killed)]
    assert timesteps == reference  # the evaluations of the discarded steps are gone, none twice, in order
    from stable_baselines3 import DQN

    assert DQN.load(killed / "model.zip").num_timesteps == 1_200
    # The same checkpoints as the uninterrupted run (at rollout starts), none right after resuming.
    assert [p.name for p in list_checkpoints(killed / "checkpoints")] == checkpoints


def test_curves_after_a_resume_count_only_what_the_kept_model_learnt(tmp_path: Path) -> None:
    # Item 2: monitor rows of the killed session were kept (615,200 monitored steps for a 500,004-step model).
    full = train(_dqn_inventory(n_timesteps=2_400, checkpoint_freq=1_000, eval_freq=0), out_dir=tmp_path / "full", seed=6)
    assert _monitored_steps(full.run_dir) == 2_400  # 200-period episodes of 2 envs end exactly at 2,400
    killed = tmp_path / "killed"
    checkpoint = _killed_copy(full.run_dir, killed, keep_checkpoint=0)
    assert _monitored_steps(killed) == 2_400  # the killed session's rows, past the checkpoint
    resume(killed)
    kept = _monitored_steps(killed)
    assert kept <= 2_400, f"{kept} monitored steps for a 2,400-step model"
    # Only the episodes finished by the checkpoint survive from the first session.
    first = sum(int(line.split(",")[1]) for f in (killed / "monitor").glob("0-*.csv") for line in f.read_text().splitlines()[2:])
    assert first <= int(checkpoint.name)


def _start_training(hyperparams: Path, run: Path, algo: str, *, session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "warehouse_sim", "train", "--env", INV, "--algo", algo, "--hyperparams", str(hyperparams),
         "--out", str(run), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=session,
    )


def _wait_for_checkpoint(proc: subprocess.Popen, run: Path) -> None:
    deadline = time.monotonic() + 120
    while not list_checkpoints(run / "checkpoints") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"


@pytest.mark.parametrize(
    ("algo", "sig", "to_group"), [("dqn", signal.SIGINT, False), ("ppo", signal.SIGTERM, False), ("ppo", signal.SIGINT, True)]
)
def test_sigint_and_sigterm_save_a_checkpoint_and_print_the_resume_command(
    algo: str, sig: signal.Signals, to_group: bool, tmp_path: Path
) -> None:
    # Item 3: Ctrl-C printed "interrupted" and left neither model.zip nor a word about --resume.
    # to_group: Ctrl-C in a terminal reaches the whole process group, SubprocVecEnv workers included.
    common = {"n_timesteps": 8_000, "env_kwargs": {"scenario": "reference-single-sku", "continuous": False},
              "policy_kwargs": {"net_arch": [16]}, "eval_freq": 0, "checkpoint_freq": 1_000, "final_eval_episodes": 1}
    entry = {**common, **(TINY_DQN if algo == "dqn" else {**TINY_PPO, "n_envs": 2, "vec_env": "subproc"})}
    hyperparams = tmp_path / f"{algo}.yml"
    hyperparams.write_text(yaml.safe_dump({INV: entry}))
    run = tmp_path / "run"
    proc = _start_training(hyperparams, run, algo, session=to_group)
    _wait_for_checkpoint(proc, run)
    time.sleep(0.5)  # learning on past the first checkpoint
    os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert f"interrupted by {sig.name} at " in stderr and f"warehouse-sim train --resume {run}" in stderr
    checkpoint = list_checkpoints(run / "checkpoints")[-1]
    assert f"checkpoint saved in {checkpoint}" in stderr
    assert int(checkpoint.name) > 1_000  # at the current step, not the last periodic checkpoint
    assert not (run / "model.zip").exists()
    done = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "train", "--resume", str(run), "--no-progress"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    from stable_baselines3 import DQN, PPO

    trained = (DQN if algo == "dqn" else PPO).load(run / "model.zip").num_timesteps
    rollout = 64 * 2 if algo == "ppo" else 0
    assert 8_000 <= trained <= 8_000 + rollout  # exact for DQN, up to one rollout for PPO


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"policy": "NoSuchPolicy"}, "policy must be one of"),
        ({"learning_rate": -0.001}, "learning_rate"),
        ({"policy": "MultiInputPolicy"}, "cannot train"),  # SB3's own check, before the folder exists
    ],
)
def test_a_failed_train_writes_nothing_and_the_folder_stays_usable(entry: dict, message: str, tmp_path: Path) -> None:
    # Item 4: a failed train left config.yaml and monitor/ behind; the same --out was then "not empty".
    hyperparams = tmp_path / "ppo.yml"
    hyperparams.write_text(yaml.safe_dump({INV: {"n_timesteps": 128, "n_steps": 64, "batch_size": 32, **entry}}))
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "train", "--env", INV, "--hyperparams", str(hyperparams), "--out", str(run)],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2 and message in out.stderr and out.stderr.count("\n") == 1, out.stderr
    assert not run.exists()


def test_a_negative_seed_is_refused_before_the_run_folder_exists(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="seed"):
        train(_tiny_ppo(), out_dir=tmp_path / "run", seed=-1)
    assert not (tmp_path / "run").exists()
    assert train(_tiny_ppo(n_timesteps=128), out_dir=tmp_path / "run", seed=0).timesteps == 128  # the same --out works


def test_a_negative_seed_on_the_command_line_is_one_line_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from warehouse_sim.cli import main

    out = tmp_path / "run"
    assert main(["train", "--env", "warehouse_sim/Inventory-v0", "--seed", "-1", "--out", str(out)]) == 2
    stdout, stderr = capsys.readouterr()
    assert stdout == ""  # no "training ... -> DIR" line for a run that never starts
    assert stderr.count("\n") == 1 and "seed must be an integer in [0, 2,147,483,647], got -1" in stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("algo", "entry", "field"),
    [
        ("ppo", {"batch_size": 0}, "batch_size"),
        ("dqn", {"buffer_size": -5}, "buffer_size"),
        ("ppo", {"gamma": 2.0}, "gamma"),
        ("dqn", {"gamma": -0.1}, "gamma"),
        ("ppo", {"gae_lambda": 1.5}, "gae_lambda"),
        ("ppo", {"clip_range": 0.0}, "clip_range"),
        ("ppo", {"clip_range": "lin_-0.2"}, "clip_range"),
        ("ppo", {"n_epochs": 0}, "n_epochs"),
        ("ppo", {"n_steps": 1, "n_envs": 1}, "n_steps x n_envs"),
        ("ppo", {"batch_size": 1}, "normalize_advantage"),
        ("ppo", {"ent_coef": -1.0}, "ent_coef"),
        ("ppo", {"max_grad_norm": 0}, "max_grad_norm"),
        ("ppo", {"target_kl": -0.1}, "target_kl"),
        ("ppo", {"use_sde": "yes"}, "use_sde"),
        ("dqn", {"tau": 0.0}, "tau"),
        ("dqn", {"exploration_final_eps": 1.5}, "exploration_final_eps"),
        ("dqn", {"train_freq": 0}, "train_freq"),
        ("dqn", {"train_freq": [4, "minute"]}, "train_freq"),
        ("dqn", {"target_update_interval": 0}, "target_update_interval"),
        ("dqn", {"learning_starts": -1}, "learning_starts"),
        ("dqn", {"gradient_steps": -2}, "gradient_steps"),
        ("dqn", {"learning_rate": float("nan")}, "learning_rate"),
        ("dqn", {"policy_kwargs": {"n_quantiles": 0}}, "n_quantiles"),
    ],
)
def test_hyperparameters_that_cannot_work_are_refused_naming_the_field(algo: str, entry: dict, field: str) -> None:
    # Item 5: batch_size: 0, buffer_size: -5, gamma: 2.0 were accepted.
    with pytest.raises(ValueError, match=field):
        config_from_entry(algo, INV, {"n_timesteps": 1_000, **entry})


def test_a_second_writer_of_a_run_folder_gets_a_clear_error(tmp_path: Path) -> None:
    # Item 6: two `--resume` of one folder both wrote monitor/1-*.csv, one died on a rename.
    hyperparams = tmp_path / "dqn.yml"
    entry = {"n_timesteps": 50_000, "env_kwargs": {"scenario": "reference-single-sku", "continuous": False},
             "policy_kwargs": {"net_arch": [16]}, "eval_freq": 0, "checkpoint_freq": 500, "final_eval_episodes": 1, **TINY_DQN}
    hyperparams.write_text(yaml.safe_dump({INV: entry}))
    run = tmp_path / "run"
    first = _start_training(hyperparams, run, "dqn")
    try:
        _wait_for_checkpoint(first, run)
        second = subprocess.run(
            [sys.executable, "-m", "warehouse_sim", "train", "--resume", str(run)], capture_output=True, text=True, timeout=300
        )
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr
        assert f"is being written by another warehouse-sim process (pid {first.pid})" in second.stderr
        assert sorted(p.name for p in (run / "monitor").iterdir()) == ["0-0.monitor.csv"]  # nothing of a session 1
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 128 + signal.SIGTERM


def test_resume_removes_checkpoints_a_kill_left_half_written(tmp_path: Path) -> None:
    # Item 7: a kill during a checkpoint write left checkpoints/.tmp-* forever.
    full = train(_tiny_ppo(), out_dir=tmp_path / "full", seed=2)
    killed = tmp_path / "killed"
    _killed_copy(full.run_dir, killed, keep_checkpoint=0)
    half = killed / "checkpoints" / ".tmp-384-12345"
    half.mkdir()
    (half / "model.zip").write_bytes(b"PK\x03\x04 half a zip")
    (killed / "best" / ".tmp-256-12345").mkdir(parents=True)
    resume(killed)
    assert not list(killed.rglob(".tmp-*"))


def test_qrdqn_is_offered_with_shipped_hyperparameters(tmp_path: Path) -> None:
    # Item 8: --algo qrdqn failed with "No such file .../qrdqn.yml".
    config = load_train_config("qrdqn", INV)
    assert config.algo == "qrdqn" and config.env_kwargs["continuous"] is False
    with pytest.raises(ValueError, match=r"no qrdqn hyperparameters for 'warehouse_sim/Navigation-v0'.*entries: warehouse_sim/Inventory-v0"):
        load_train_config("qrdqn", NAV)
    short = config.with_overrides(n_timesteps=640, eval_freq=0, checkpoint_freq=0, final_eval_episodes=1)
    assert train(short, out_dir=tmp_path / "run").timesteps == 640  # 40 rollouts of 4 envs x 4 steps


def test_config_records_the_git_revision_of_the_checkout(tmp_path: Path) -> None:
    # Item 9 (source checkouts; the wheel case is in test_packaging.py).
    result = train(_tiny_ppo(n_timesteps=128), out_dir=tmp_path / "run")
    _, run_info = read_run_config(result.run_dir)
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parent).stdout.strip()
    assert run_info["git_revision"].startswith(head) and run_info["git_revision_source"].startswith("git checkout")


def test_a_run_whose_updates_fit_its_envs_trains_without_a_minibatch_warning(tmp_path: Path) -> None:
    # 2 envs x 64 steps fill batches of 128 exactly; the one-env model of the preflight
    # check (64 steps) would make SB3 warn about truncated minibatches of a run that has none.
    config = TrainConfig(
        env_id=INV, algo="ppo", n_timesteps=128, n_envs=2, vec_env="dummy",
        algo_kwargs={"n_steps": 64, "batch_size": 128, "n_epochs": 1}, eval_freq=0, checkpoint_freq=0, final_eval_episodes=1,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config, out_dir=tmp_path / "run", seed=0)
    assert not [w for w in caught if "mini-batch" in str(w.message)]
    assert (tmp_path / "run" / "model.zip").is_file()
