"""Training envs in Ray actors and sweeps with Ray Tune, on a real local multi-node Ray cluster.

The cluster is Ray's own ``ray.cluster_utils.Cluster``: a head node and, per test, extra
nodes with their own resources, all real raylets on this machine. A "lost node" is a
killed raylet. Every Ray process and temp folder is removed in teardown.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import yaml

from warehouse_sim.cli import main
from warehouse_sim.training import load_train_config
from warehouse_sim.training.config import config_from_entry
from warehouse_sim.training.ray_cluster import RayEnvConfig
from warehouse_sim.training.ray_vec_env import ACTOR_RESTARTED

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"
ROOT = Path(__file__).resolve().parents[1]
#: Node deaths are noticed after health_check_period_ms x failure_threshold (default 3 s x 5).
FAST_HEALTH_CHECKS = {"health_check_period_ms": 1_000, "health_check_failure_threshold": 3}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A Ray head node with 2 CPUs (tests add worker nodes); removed with its temp folder at the end."""
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    temp = tempfile.mkdtemp(prefix="wsray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    # Cluster writes the head's address to Ray's default folder (/tmp/ray/ray_current_cluster)
    # whatever temp_dir says, and fails where no Ray ever ran before (a fresh machine).
    Path("/tmp/ray").mkdir(exist_ok=True)
    head = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "temp_dir": temp, "include_dashboard": False, "_system_config": FAST_HEALTH_CHECKS},
    )
    head.temp_dir = temp
    try:
        yield head
    finally:
        import ray

        ray.shutdown()
        head.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def add_node(cluster: Any) -> Iterator[Callable[[int], Any]]:
    """Add worker nodes with ``num_cpus`` CPUs to the cluster; they are removed (even if killed) after the test."""
    nodes: list[Any] = []

    def add(num_cpus: int) -> Any:
        node = cluster.add_node(num_cpus=num_cpus, temp_dir=cluster.temp_dir)
        nodes.append(node)
        cluster.wait_for_nodes()
        return node

    yield add
    for node in nodes:
        cluster.remove_node(node, allow_graceful=False)


def _navigation(max_episode_steps: int = 15, render_mode: str | None = "rgb_array") -> Callable[[], gym.Env[Any, Any]]:
    def make() -> gym.Env[Any, Any]:
        import warehouse_sim  # noqa: F401 - registers the ids in the actor

        return gym.make(NAV, max_episode_steps=max_episode_steps, render_mode=render_mode)

    return make


def _same(a: Any, b: Any) -> bool:
    """Deep equality of infos: dicts, sequences, numpy arrays (bit-identical), scalars."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str, log: Sequence[str] = ()) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            tail = "".join(log[-20:])
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}" + (f"; its stderr:\n{tail}" if tail else ""))
        time.sleep(0.2)


# -- the VecEnv contract, side by side with SubprocVecEnv -----------------------------------------


def test_ray_vec_env_matches_subproc_vec_env_on_the_same_seeds(cluster: Any) -> None:
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import SubprocVecEnv

    from warehouse_sim.training.ray_vec_env import make_ray_vec_env

    factories = [_navigation() for _ in range(3)]
    ray_env = make_ray_vec_env(factories, config=RayEnvConfig(envs_per_actor=2, num_cpus=0.5), address=cluster.address)
    sub_env = SubprocVecEnv(factories)
    try:
        assert [len(r) for r in ray_env.actor_envs] == [2, 1]  # several envs per actor, one call per actor
        assert ray_env.observation_space == sub_env.observation_space and ray_env.action_space == sub_env.action_space
        for venv in (ray_env, sub_env):
            venv.seed(123)
        assert _same(ray_env.reset(), sub_env.reset())
        assert _same(ray_env.reset_infos, sub_env.reset_infos)
        rng = np.random.default_rng(0)
        terminals = 0
        for _ in range(40):
            actions = rng.uniform(-1.0, 1.0, size=(3, 2)).astype(np.float32)
            ray_step, sub_step = ray_env.step(actions), sub_env.step(actions)
            for got, expected in zip(ray_step, sub_step, strict=True):
                assert _same(got, expected)
            assert _same(ray_env.reset_infos, sub_env.reset_infos)
            terminals += sum("terminal_observation" in info for info in ray_step[3])
            assert ray_step[0].flags.writeable and all(
                info["terminal_observation"].flags.writeable for info in ray_step[3] if "terminal_observation" in info
            )
        assert terminals >= 6  # 15-step episodes: automatic resets with terminal observations happened
        # An unseeded reset continues each env's own generator, as in SubprocVecEnv.
        assert _same(ray_env.reset(), sub_env.reset())
        ray_env.seed(7)
        sub_env.seed(7)
        assert _same(ray_env.reset(), sub_env.reset())

        images, expected_images = ray_env.get_images(), sub_env.get_images()
        assert len(images) == 3 and images[0].ndim == 3 and _same(images, expected_images)
        assert _same(ray_env.render(), sub_env.render())  # tiled like SubprocVecEnv
        assert ray_env.get_attr("render_mode") == sub_env.get_attr("render_mode") == ["rgb_array"] * 3
        assert ray_env.get_attr("spec", indices=[2, 0])[0].id == NAV
        ray_env.set_attr("probe", 3.5, indices=[1, 2])
        sub_env.set_attr("probe", 3.5, indices=[1, 2])
        assert ray_env.get_attr("probe", indices=[2, 1]) == sub_env.get_attr("probe", indices=[2, 1]) == [3.5, 3.5]
        assert ray_env.has_attr("probe") is sub_env.has_attr("probe") is False
        assert ray_env.has_attr("render_mode") is sub_env.has_attr("render_mode") is True
        assert _same(ray_env.env_method("render", indices=[2]), sub_env.env_method("render", indices=[2]))
        assert ray_env.env_is_wrapped(Monitor) == sub_env.env_is_wrapped(Monitor) == [False] * 3
        with pytest.raises(AttributeError):
            ray_env.get_attr("no_such_attribute")
    finally:
        ray_env.close()
        sub_env.close()
    ray_env.close()  # idempotent


def test_a_lost_node_restarts_its_actor_and_truncates_only_its_episodes(
    cluster: Any, add_node: Callable[[int], Any], caplog: pytest.LogCaptureFixture
) -> None:
    import ray

    from warehouse_sim.training.ray_vec_env import make_ray_vec_env

    node = add_node(1)
    factories = [_navigation(max_episode_steps=1_000, render_mode=None) for _ in range(4)]
    venv = make_ray_vec_env(factories, config=RayEnvConfig(envs_per_actor=2), address=cluster.address)
    try:
        nodes = venv.actor_nodes()
        assert node.node_id in nodes and len(set(nodes)) == 2, "SPREAD puts the two actors on the two nodes"
        lost = nodes.index(node.node_id)
        lost_envs, kept_envs = list(venv.actor_envs[lost]), list(venv.actor_envs[1 - lost])
        venv.seed(5)
        venv.reset()
        actions = np.zeros((4, 2), np.float32)
        for _ in range(5):
            last_obs, *_ = venv.step(actions)
        node.kill_raylet()  # its workers notice and exit soon after: step until the loss shows
        deadline = time.monotonic() + 120
        with caplog.at_level(logging.WARNING, logger="warehouse_sim.training.ray_vec_env"):
            while True:
                obs, rewards, dones, infos = venv.step(actions)
                if any(ACTOR_RESTARTED in info for info in infos) or time.monotonic() > deadline:
                    break
                last_obs = obs
        for i in lost_envs:
            assert dones[i] and rewards[i] == 0.0
            assert infos[i][ACTOR_RESTARTED] is True and infos[i]["reason"] == ACTOR_RESTARTED
            assert infos[i]["TimeLimit.truncated"] is True
            np.testing.assert_array_equal(infos[i]["terminal_observation"], last_obs[i])
        for i in kept_envs:
            assert not dones[i] and ACTOR_RESTARTED not in infos[i]
        assert venv.restarts[lost] == 1 and venv.restarts[1 - lost] == 0
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 1 and f"env actor {lost}" in messages[0] and "restart" in messages[0]
        for _ in range(5):  # the run goes on, on the remaining node
            _, _, dones, infos = venv.step(actions)
            assert not any(ACTOR_RESTARTED in info for info in infos)
        assert set(venv.actor_nodes()) == {ray.get_runtime_context().get_node_id()}  # both on the head now
    finally:
        venv.close()


# -- training through the command line, losing a node mid-run -----------------------------------


def test_training_with_env_actors_on_two_nodes_survives_losing_one_and_resumes(
    cluster: Any, add_node: Callable[[int], Any], tmp_path: Path
) -> None:
    node = add_node(2)
    budget = 8_192
    hyperparams = tmp_path / "ppo.yml"
    hyperparams.write_text(
        yaml.safe_dump(
            {
                NAV: {
                    "n_timesteps": budget, "n_envs": 4, "vec_env": "ray", "ray": {"envs_per_actor": 2},
                    "normalize": True, "n_steps": 128, "batch_size": 128, "n_epochs": 2,
                    "policy_kwargs": {"net_arch": [32]}, "eval_freq": 0, "checkpoint_freq": 1_024,
                    "final_eval_episodes": 1,
                }
            }
        )
    )  # fmt: skip
    run = tmp_path / "run"
    cli = [sys.executable, "-m", "warehouse_sim", "train", "--ray-address", cluster.address]
    process = subprocess.Popen(
        [*cli, "--env", NAV, "--hyperparams", str(hyperparams), "--out", str(run)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()

    def checkpoints() -> list[int]:
        return sorted(int(p.name) for p in (run / "checkpoints").glob("0*"))

    try:
        _wait_for(lambda: bool(checkpoints()), 300, "the first checkpoint", err)
        node.kill_raylet()  # the second node is lost mid-run: one of the two env actors with it
        _wait_for(lambda: any("was lost" in line for line in err), 300, "the lost actor to be reported", err)
        reported = checkpoints()[-1]
        _wait_for(lambda: checkpoints()[-1] > reported, 300, "a checkpoint after the loss", err)
        assert not (run / "model.zip").exists(), "the run went on after the loss, and is not over yet"
        process.kill()  # then its driver dies too: the run folder resumes like any other
        process.wait(timeout=60)
    finally:
        process.kill()
    reader.join(timeout=60)
    losses = [line for line in err if "was lost" in line]
    assert len(losses) == 1 and "env actor" in losses[0], err  # one actor of two: they were on both nodes
    resumed = subprocess.run([*cli, "--resume", str(run)], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads((run / "eval.json").read_text())
    assert report["timesteps"] == budget and (run / "model.zip").is_file() and (run / "vecnormalize.pkl").is_file()
    assert f"trained {budget:,} timesteps" in resumed.stdout
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["config"]["vec_env"] == "ray" and config["config"]["ray"]["envs_per_actor"] == 2
    sessions = config["run"]["sessions"]
    assert len(sessions) == 2 and sessions[1]["resumed_from"].startswith("checkpoints/")
    for session in (0, 1):  # the monitor files of both sessions, written by the driver
        episodes = [len((run / "monitor" / f"{session}-{rank}.monitor.csv").read_text().splitlines()) - 2 for rank in range(4)]
        assert sum(episodes) >= 1, (session, episodes)


# -- sweeps -----------------------------------------------------------------------------------------


def _sweep_file(tmp_path: Path, **changes: Any) -> Path:
    spec = {
        "algo": "ppo",
        "env": INV,
        "set": {
            "n_timesteps": 20_480, "n_steps": 128, "batch_size": 256, "n_epochs": 2, "eval_freq": 4_096,
            "n_eval_episodes": 1, "checkpoint_freq": 2_048, "final_eval_episodes": 2,
        },
        "seeds": [0, 1],
        "grid": {"learning_rate": [3.0e-4]},
        "resources": {"cpu": 1},
        "max_failures": 2,
        **changes,
    }  # fmt: skip
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _sessions(run_dir: Path) -> list[dict[str, Any]]:
    try:
        return list(yaml.safe_load((run_dir / "config.yaml").read_text())["run"]["sessions"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_two_trial_sweep_retries_a_dead_worker_and_resumes_after_a_driver_crash(
    cluster: Any, add_node: Callable[[int], Any], tmp_path: Path
) -> None:
    add_node(1)
    spec, out = _sweep_file(tmp_path), tmp_path / "sweep"
    cli = [sys.executable, "-m", "warehouse_sim", "sweep"]
    driver = subprocess.Popen(
        [*cli, str(spec), "--address", cluster.address, "--out", str(out)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    runs = out / "runs"
    try:
        # A trial's worker dies (kill -9): Tune retries the trial, which continues its run folder.
        _wait_for(lambda: any(runs.glob("*/checkpoints/0*")), 300, "a trial's first checkpoint")
        victim = next(runs.glob("*/checkpoints/0*")).parents[1]
        os.kill(int(_sessions(victim)[-1]["pid"]), signal.SIGKILL)
        _wait_for(lambda: len(_sessions(victim)) == 2, 300, "the retried trial's second session")
        assert _sessions(victim)[1]["resumed_from"] is not None
        assert not (victim / "model.zip").exists(), "the budget leaves the sweep unfinished when the driver dies"
        # The driver dies (kill -9) with trials still running.
        driver.kill()
        driver.wait(timeout=60)
    finally:
        driver.kill()
    workers = [int(s["pid"]) for run in runs.iterdir() for s in _sessions(run)]
    _wait_for(lambda: not any(_alive(pid) for pid in workers), 120, "Ray to end the dead driver's trials")

    resumed = subprocess.run(
        [*cli, "--resume", str(out), "--address", cluster.address],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    rows = _csv(out / "results.csv")
    assert len(rows) == 2 and {int(r["seed"]) for r in rows} == {0, 1}
    assert all(r["status"] == "done" and float(r["timesteps"]) == 20_480 for r in rows), rows
    for row in rows:
        assert (Path(row["run_dir"]) / "model.zip").is_file()
    assert len(_sessions(victim)) >= 3, "the resumed sweep continued the run folder once more"
    settings = _csv(out / "settings.csv")
    assert len(settings) == 1 and settings[0]["seeds"] == "2" and settings[0]["done"] == "2"
    assert "eval_return_mean" in settings[0] and (out / "learning_curves.png").stat().st_size > 10_000
    assert "ranked by eval_return" in resumed.stdout and "0.0003" in resumed.stdout


@pytest.mark.slow
def test_optuna_search_trains_each_drawn_setting_on_every_seed(cluster: Any, tmp_path: Path) -> None:
    spec = _sweep_file(
        tmp_path,
        grid={},
        search="optuna",
        num_samples=2,
        distributions={"learning_rate": {"loguniform": [1.0e-4, 1.0e-3]}},
        set={"n_timesteps": 2_048, "n_steps": 128, "batch_size": 256, "n_epochs": 1, "eval_freq": 1_024,
             "n_eval_episodes": 1, "checkpoint_freq": 0, "final_eval_episodes": 1},
    )  # fmt: skip
    out = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "sweep", str(spec), "--address", cluster.address, "--out", str(out)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    settings, rows = _csv(out / "settings.csv"), _csv(out / "results.csv")
    assert len(settings) == 2 and all(s["seeds"] == "2" and s["done"] == "2" for s in settings), settings
    assert len(rows) == 4 and sorted(int(r["seed"]) for r in rows) == [0, 0, 1, 1]
    rates = {float(r["learning_rate"]) for r in rows}
    assert len(rates) == 2 and all(1.0e-4 <= rate <= 1.0e-3 for rate in rates)


def _csv(path: Path) -> list[dict[str, str]]:
    import csv

    with path.open() as f:
        return list(csv.DictReader(f))


# -- configuration and errors (no cluster needed) ----------------------------------------------


def test_vec_env_ray_and_its_settings_are_hyperparameters() -> None:
    config = config_from_entry("ppo", NAV, {"n_timesteps": 1_000, "vec_env": "ray", "ray": {"envs_per_actor": 4}})
    assert config.resolved_vec_env() == "ray" and config.ray == RayEnvConfig(envs_per_actor=4)
    assert type(config).from_dict(config.to_dict()) == config
    for entry, field in [
        ({"ray": {"envs_per_actor": 0}}, "ray.envs_per_actor"),
        ({"ray": {"num_cpus": -1}}, "ray.num_cpus"),
        ({"ray": {"max_restarts": -2}}, "ray.max_restarts"),
        ({"ray": {"envs_per_node": 2}}, "envs_per_node"),
        ({"ray": 4}, "ray"),
        ({"vec_env": "rayy"}, "vec_env"),
    ]:
        with pytest.raises(ValueError, match=field):
            config_from_entry("ppo", NAV, {"n_timesteps": 1_000, **entry})


def test_envs_are_split_evenly_over_actors_that_fit_the_free_cpus() -> None:
    assert RayEnvConfig(envs_per_actor=3).split(8, free_cpus=100) == [range(0, 3), range(3, 6), range(6, 8)]
    assert RayEnvConfig().split(8, free_cpus=2) == [range(0, 4), range(4, 8)]
    assert RayEnvConfig(num_cpus=0.5).split(3, free_cpus=16) == [range(0, 1), range(1, 2), range(2, 3)]
    assert RayEnvConfig().split(2, free_cpus=0) == [range(0, 2)]
    assert RayEnvConfig(num_cpus=0).split(2, free_cpus=0) == [range(0, 1), range(1, 2)]


def test_vec_env_ray_without_ray_is_one_line_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    run = tmp_path / "run"
    assert main(["train", "--vec-env", "ray", "--timesteps", "64", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install ".[train,ray]"' in err and "Traceback" not in err
    assert not run.exists()
    spec = _sweep_file(tmp_path)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "sweep")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install ".[train,ray]"' in err
    assert not (tmp_path / "sweep").exists()


def test_a_ray_address_without_vec_env_ray_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert main(["train", "--vec-env", "dummy", "--ray-address", "auto", "--timesteps", "64", "--out", str(run)]) == 2
    assert "needs vec_env: ray" in capsys.readouterr().err and not run.exists()


def test_a_wrong_ray_address_or_sweep_folder_is_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("ray")
    run, sweep = tmp_path / "run", tmp_path / "sweep"
    start = time.monotonic()
    assert main(["train", "--vec-env", "ray", "--ray-address", "127.0.0.1:1", "--timesteps", "64", "--out", str(run)]) == 2
    assert "no Ray cluster at 127.0.0.1:1" in capsys.readouterr().err and not run.exists()
    assert main(["sweep", str(_sweep_file(tmp_path)), "--address", "127.0.0.1:1", "--out", str(sweep)]) == 2
    assert "no Ray cluster at 127.0.0.1:1" in capsys.readouterr().err and not sweep.exists()
    assert time.monotonic() - start < 60  # not Ray's minutes of retries
    assert main(["sweep", "--resume", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert main(["sweep"]) == 2
    assert "give SWEEP.yaml, or --resume DIR" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grid": {"learning_rate": []}}, "grid.learning_rate"),
        ({"grid": {"learning_rate": ["3e-4"]}}, "learning_rate"),  # YAML reads 3e-4 as a string
        ({"grid": {"n_stepz": [1]}}, "n_stepz"),
        ({"grid": {"seed": [1, 2]}}, "seeds"),
        ({"seeds": [0, 0]}, "seeds"),
        ({"distributions": {"ent_coef": {"loguniform": [0.0, 0.1]}}}, "loguniform"),
        ({"distributions": {"ent_coef": {"gaussian": [0.0, 0.1]}}}, "gaussian"),
        ({"search": "optuna"}, "optuna"),
        ({"search": "hyperopt"}, "search"),
        ({"metric": "reward"}, "metric"),
        ({"resources": {"tpu": 1}}, "resources"),
        ({"max_failures": -1}, "max_failures"),
        ({"set": {"env_kwargs.scenario": "no-such-scenario"}}, "scenario"),
        ({"trials": 3}, "trials"),
        ({"env": "warehouse_sim/Nowhere-v0"}, "Nowhere"),
    ],
)
def test_bad_sweep_files_are_one_line_naming_the_field(
    changes: dict[str, Any], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", str(_sweep_file(tmp_path, **changes)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_sweep_spec_round_trips_and_builds_each_settings_config(tmp_path: Path) -> None:
    from warehouse_sim.training.sweep import SweepSpec, load_sweep_spec

    spec = load_sweep_spec(
        _sweep_file(
            tmp_path,
            grid={"learning_rate": [1.0e-4, 3.0e-4], "env_kwargs.scenario": ["reference-single-sku"]},
            distributions={"ent_coef": {"loguniform": [1.0e-4, 1.0e-2]}},
        )
    )
    assert SweepSpec.from_dict(yaml.safe_load(yaml.safe_dump(spec.to_dict()))) == spec
    config = spec.config_for({"learning_rate": 1.0e-4, "env_kwargs.scenario": "reference-single-sku", "ent_coef": 0.005})
    base = load_train_config("ppo", INV)
    assert config.algo_kwargs["learning_rate"] == 1.0e-4 and config.algo_kwargs["ent_coef"] == 0.005
    assert config.n_timesteps == 20_480 and config.env_kwargs == {**base.env_kwargs, "scenario": "reference-single-sku"}
    assert spec.split_trial_config({"learning_rate": 1.0e-4, "seed": 1}) == (1, {"learning_rate": 1.0e-4})
    optuna = load_sweep_spec(
        _sweep_file(tmp_path, grid={}, search="optuna", distributions={"learning_rate": {"choice": [1.0e-4, 3.0e-4]}})
    )
    assert optuna.split_trial_config({"learning_rate": 1.0e-4, "__trial_index__": 1}) == (1, {"learning_rate": 1.0e-4})


def test_ray_is_not_imported_by_the_package_or_the_default_commands() -> None:
    code = (
        "import sys\n"
        "import warehouse_sim, warehouse_sim.training, warehouse_sim.training.sweep, warehouse_sim.cli\n"
        "from warehouse_sim.cli import main\n"
        "assert main(['envs']) == 0\n"
        "warehouse_sim.cli.build_parser().parse_args(['sweep', 'x.yaml'])\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True)
