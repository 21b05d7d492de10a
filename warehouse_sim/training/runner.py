"""Train PPO / DQN / QR-DQN headless into a run folder, and resume a killed run.

A run folder holds::

    config.yaml          resolved TrainConfig, seed, exact command, versions, git revision, sessions (host, pid)
    model.zip            the final model, or with keep_best the best evaluated one (written last, atomically)
    vecnormalize.pkl     VecNormalize statistics (when the config normalises)
    eval.json            evaluation of the final model (see warehouse_sim.evaluation)
    warm_start.json      with a warm start: demonstrations, imitation accuracy, losses
    evaluations.jsonl    periodic evaluations during training (timesteps, wall time, KPIs)
    monitor/             SB3 Monitor CSVs, one per env and session (<session>-<rank>.monitor.csv)
    tb/                  TensorBoard logs
    checkpoints/<steps>/ model.zip, replay_buffer.pkl (DQN), vecnormalize.pkl, state.json
    best/<steps>/        with keep_best: the best periodically evaluated model (state.json has its return)

Stable-Baselines3 and torch are imported inside the functions only.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

import warehouse_sim
from warehouse_sim.evaluation import evaluate_loaded
from warehouse_sim.policies.sb3_policy import NSTEP_LOAD_WARNING, VECNORMALIZE_FILE, SB3Policy, algo_class
from warehouse_sim.training.callbacks import (
    MODEL_FILE,
    REPLAY_BUFFER_FILE,
    STATE_FILE,
    best_checkpoint,
    list_checkpoints,
    make_callbacks,
)
from warehouse_sim.training.config import TrainConfig
from warehouse_sim.training.shaping import shape_reward

CONFIG_FILE = "config.yaml"
EVAL_FILE = "eval.json"
WARM_START_FILE = "warm_start.json"


class RunFolderError(ValueError):
    """A run folder cannot be used: not empty for a new run, unreadable, or already finished."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished run produced.

    Attributes:
        run_dir: The run folder.
        model_path: ``run_dir / "model.zip"``.
        timesteps: Environment steps the model was trained for.
        wall_time_s: Training wall time over all sessions, in seconds.
        eval_report: The content of ``eval.json``.
    """

    run_dir: Path
    model_path: Path
    timesteps: int
    wall_time_s: float
    eval_report: dict[str, Any]


def git_revision() -> str | None:
    """The git commit of the source tree (suffixed ``-dirty`` if modified), or ``None``."""
    root = Path(warehouse_sim.__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev


def _versions() -> dict[str, str]:
    import stable_baselines3
    import torch

    return {
        "warehouse_sim": warehouse_sim.__version__,
        "python": platform.python_version(),
        "gymnasium": gym.__version__,
        "stable_baselines3": str(stable_baselines3.__version__),
        "torch": str(torch.__version__),
    }


def write_yaml_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as YAML via a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON via a temporary file and ``os.replace``."""
    import json

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_run_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """Read ``config.yaml`` of a run folder: ``(config, run section)``.

    Raises:
        RunFolderError: if the folder has no readable ``config.yaml``.
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no {CONFIG_FILE})")
    try:
        data = yaml.safe_load(path.read_text())
        return TrainConfig.from_dict(data["config"]), dict(data["run"])
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(f"corrupt {path}: {exc}") from None


def _env_factory(config: TrainConfig, monitor_file: str | None) -> Callable[[], gym.Env[Any, Any]]:
    env_id, kwargs, shaping, gamma = config.env_id, dict(config.env_kwargs), config.reward_shaping, _gamma(config)

    def make() -> gym.Env[Any, Any]:
        from stable_baselines3.common.monitor import Monitor

        import warehouse_sim  # noqa: F401 - registers the ids in a fresh SubprocVecEnv worker

        # The Monitor inside the shaping: its episode returns are the env's own reward.
        return shape_reward(Monitor(gym.make(env_id, **kwargs), filename=monitor_file), shaping, gamma)

    return make


def make_vec_env(
    config: TrainConfig, *, run_dir: Path, seed: int, session: int, ray_address: str | None = None
) -> Any:
    """The training ``VecEnv``: Monitor-wrapped (then reward-shaped) envs in a Dummy/Subproc/RayVecEnv, seeded.

    With ``vec_env: ray`` the envs' monitors have no file: the vec env writes the same
    monitor files here from the episodes' infos (the actors may run on other machines).
    """
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    monitor_dir = run_dir / "monitor"
    monitor_dir.mkdir(parents=True, exist_ok=True)
    monitor_files = [str(monitor_dir / f"{session}-{rank}") for rank in range(config.n_envs)]
    kind = config.resolved_vec_env()
    if kind == "ray":
        from warehouse_sim.training.ray_vec_env import make_ray_vec_env

        factories = [_env_factory(config, None) for _ in monitor_files]
        venv = make_ray_vec_env(
            factories, config=config.ray, address=ray_address, monitor_files=monitor_files, env_id=config.env_id
        )
    else:
        factories = [_env_factory(config, path) for path in monitor_files]
        venv = SubprocVecEnv(factories) if kind == "subproc" else DummyVecEnv(factories)
    venv.seed(seed)
    return venv


def _algo_kwargs(config: TrainConfig) -> dict[str, Any]:
    from stable_baselines3.common.utils import LinearSchedule

    kwargs: dict[str, Any] = {}
    for key, value in config.algo_kwargs.items():
        if isinstance(value, str):  # "lin_<float>", validated by TrainConfig
            kwargs[key] = LinearSchedule(float(value[4:]), 0.0, 1.0)
        else:
            kwargs[key] = value
    return kwargs


def _policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    import torch

    activations = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "elu": torch.nn.ELU, "leaky_relu": torch.nn.LeakyReLU}
    kwargs: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.policy_kwargs.items()}
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = activations[kwargs["activation_fn"]]
    return kwargs


def _gamma(config: TrainConfig) -> float:
    return float(config.algo_kwargs.get("gamma", 0.99))


def _warm_start(model: Any, config: TrainConfig, run_dir: Path, seed: int) -> None:
    """Imitate the configured baseline (see :mod:`warehouse_sim.training.warm_start`); write ``warm_start.json``."""
    from warehouse_sim.training.warm_start import collect_demonstrations, pretrain

    warm = config.warm_start
    assert warm is not None
    started = time.perf_counter()
    demos = collect_demonstrations(
        config.env_id, config.env_kwargs, warm.baseline, episodes=warm.episodes, seed=seed, gamma=_gamma(config),
        reward_shaping=config.reward_shaping, jobs=config.n_envs,
    )
    summary = pretrain(model, demos, warm, seed=seed)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    write_json_atomic(run_dir / WARM_START_FILE, summary)


def train(
    config: TrainConfig,
    *,
    out_dir: str | Path,
    seed: int = 0,
    progress_bar: bool = False,
    verbose: int = 0,
    command: str | None = None,
    ray_address: str | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``config`` from scratch into the new (or empty) folder ``out_dir``.

    Args:
        config: What to train.
        out_dir: The run folder; created, must not hold anything yet.
        seed: Seeds the model and the training envs (``seed + rank``).
        progress_bar: Show SB3's progress bar (needs ``tqdm`` and ``rich``).
        verbose: SB3 verbosity.
        command: The command line recorded in ``config.yaml``.
        ray_address: With ``vec_env: ray``, the Ray cluster (default: a local Ray
            started for the run, or the one this process is connected to).
        on_evaluation: Called with each periodic evaluation's ``evaluations.jsonl`` entry.

    Raises:
        RunFolderError: if ``out_dir`` exists and is not empty.
        gymnasium.error.DependencyNotInstalled: ``vec_env: ray`` without Ray installed.
    """
    run_dir = Path(out_dir)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RunFolderError(f"{run_dir} already exists and is not empty (use --resume to continue a run)")
    _check_ray(config, ray_address)
    # Bad env kwargs, or a shaping the env does not support, fail before anything is written.
    env = gym.make(config.env_id, **dict(config.env_kwargs))
    try:
        shape_reward(env, config.reward_shaping, _gamma(config))
    finally:
        env.close()
    run_dir.mkdir(parents=True, exist_ok=True)
    run_info: dict[str, Any] = {
        "seed": seed,
        "command": command,
        "git_revision": git_revision(),
        "versions": _versions(),
        "sessions": [],
    }
    return _run(
        config, run_dir, run_info, progress_bar=progress_bar, verbose=verbose, command=command,
        ray_address=ray_address, on_evaluation=on_evaluation,
    )  # fmt: skip


def resume(
    run_dir: str | Path,
    *,
    progress_bar: bool = False,
    verbose: int = 0,
    command: str | None = None,
    ray_address: str | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Continue a killed run from its last complete checkpoint up to the same total timesteps.

    Loads the checkpoint's model, replay buffer (off-policy) and ``VecNormalize``
    statistics. Without any checkpoint the run restarts from scratch in the same folder.
    ``ray_address`` and ``on_evaluation`` are those of :func:`train`.

    Raises:
        RunFolderError: if the folder is not a run folder, or the run already finished.
        gymnasium.error.DependencyNotInstalled: ``vec_env: ray`` without Ray installed.
    """
    run_dir = Path(run_dir)
    config, run_info = read_run_config(run_dir)
    if (run_dir / MODEL_FILE).is_file():
        raise RunFolderError(f"the run in {run_dir} already finished ({MODEL_FILE} exists)")
    _check_ray(config, ray_address)
    return _run(
        config, run_dir, run_info, progress_bar=progress_bar, verbose=verbose, command=command,
        ray_address=ray_address, on_evaluation=on_evaluation,
    )  # fmt: skip


def _check_ray(config: TrainConfig, ray_address: str | None) -> None:
    """Fail before anything is written if ``vec_env: ray`` cannot work (or an address is given without it)."""
    if config.resolved_vec_env() == "ray":
        from warehouse_sim.training.ray_vec_env import import_ray, probe_address

        import_ray()
        probe_address(ray_address)
    elif ray_address is not None:
        raise ValueError(f"a Ray address needs vec_env: ray (this run uses vec_env: {config.vec_env})")


def _run(
    config: TrainConfig,
    run_dir: Path,
    run_info: dict[str, Any],
    *,
    progress_bar: bool,
    verbose: int,
    command: str | None,
    ray_address: str | None,
    on_evaluation: Callable[[dict[str, Any]], None] | None,
) -> TrainResult:
    import json

    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    torch.set_num_threads(config.torch_threads)
    session = len(run_info["sessions"])
    seed = int(run_info["seed"])
    checkpoints = list_checkpoints(run_dir / "checkpoints")
    checkpoint = checkpoints[-1] if checkpoints else None
    run_info["sessions"].append(
        {
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "resumed_from": str(checkpoint.relative_to(run_dir)) if checkpoint else None,
            "host": platform.node(),  # which machine ran the session (sweeps and clusters)
            "pid": os.getpid(),
        }
    )
    write_yaml_atomic(run_dir / CONFIG_FILE, {"config": config.to_dict(), "run": run_info})

    venv = make_vec_env(config, run_dir=run_dir, seed=seed + 1_000 * session, session=session, ray_address=ray_address)
    eval_env = gym.make(config.env_id, **dict(config.env_kwargs))
    try:
        cls = algo_class(config.algo)
        wall_offset = 0.0
        if checkpoint is None:
            if config.normalize is not None:
                n = config.normalize
                venv = VecNormalize(
                    venv,
                    norm_obs=n.norm_obs,
                    norm_reward=n.norm_reward,
                    clip_obs=n.clip_obs,
                    clip_reward=n.clip_reward,
                    gamma=_gamma(config),
                )
            model = cls(
                config.policy,
                venv,
                seed=seed,
                verbose=verbose,
                device="cpu",
                tensorboard_log=str(run_dir / "tb"),
                policy_kwargs=_policy_kwargs(config),
                **_algo_kwargs(config),
            )
            remaining = config.n_timesteps
            if config.warm_start is not None:
                _warm_start(model, config, run_dir, seed)
        else:
            if (checkpoint / VECNORMALIZE_FILE).is_file():
                venv = VecNormalize.load(str(checkpoint / VECNORMALIZE_FILE), venv)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=NSTEP_LOAD_WARNING)
                model = cls.load(checkpoint / MODEL_FILE, env=venv, device="cpu", tensorboard_log=str(run_dir / "tb"))
            model.set_random_seed(seed + 1_000 * session)
            if (checkpoint / REPLAY_BUFFER_FILE).is_file():
                model.load_replay_buffer(checkpoint / REPLAY_BUFFER_FILE)
            state = json.loads((checkpoint / STATE_FILE).read_text())
            wall_offset = float(state["wall_time_s"])
            remaining = max(config.n_timesteps - int(model.num_timesteps), 0)

        callbacks = make_callbacks(
            run_dir=run_dir,
            checkpoint_freq=config.checkpoint_freq,
            eval_env=eval_env,
            eval_freq=config.eval_freq,
            n_eval_episodes=config.n_eval_episodes,
            on_policy=config.algo == "ppo",
            eval_seed=config.eval_seed,
            evaluate_at_start=checkpoint is None and config.warm_start is not None,
            keep_best=config.keep_best,
            wall_time_offset_s=wall_offset,
            on_evaluation=on_evaluation,
        )
        start = time.perf_counter()
        if remaining > 0:
            model.learn(
                total_timesteps=remaining,
                callback=callbacks,
                reset_num_timesteps=checkpoint is None,
                progress_bar=progress_bar,
                tb_log_name=config.algo.upper(),
            )
        wall_time = wall_offset + time.perf_counter() - start
        trained = int(model.num_timesteps)

        normalizer = model.get_vec_normalize_env()
        best = best_checkpoint(run_dir) if config.keep_best else None
        if best is not None:
            model = cls.load(best / MODEL_FILE, device="cpu")
            if normalizer is not None:
                normalizer = VecNormalize.load(str(best / VECNORMALIZE_FILE), normalizer.venv)
        if normalizer is not None:
            tmp = run_dir / f".{VECNORMALIZE_FILE}.tmp"
            normalizer.save(str(tmp))
            os.replace(tmp, run_dir / VECNORMALIZE_FILE)
        report = evaluate_loaded(
            eval_env,
            SB3Policy(model, normalizer),
            name=str(run_dir / MODEL_FILE),
            env_kwargs=config.env_kwargs,
            episodes=config.final_eval_episodes,
            seed=0,
        )
        report["timesteps"] = trained
        report["wall_time_s"] = round(wall_time, 3)
        if best is not None:
            state = json.loads((best / STATE_FILE).read_text())
            report["kept_best"] = {"timesteps": state["timesteps"], "validation_return": state["return"]}
        write_json_atomic(run_dir / EVAL_FILE, report)
        tmp_model = run_dir / f".{MODEL_FILE}.tmp.zip"
        model.save(tmp_model)
        os.replace(tmp_model, run_dir / MODEL_FILE)
        return TrainResult(run_dir, run_dir / MODEL_FILE, trained, wall_time, report)
    finally:
        eval_env.close()
        venv.close()
