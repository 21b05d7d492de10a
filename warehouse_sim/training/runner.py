"""Train PPO / DQN / QR-DQN headless into a run folder, and resume a killed or interrupted run.

A run folder holds::

    config.yaml          resolved TrainConfig, seed, exact command, versions, git revision, sessions (host, pid)
    model.zip            the final model, or with keep_best the best evaluated one (written last, atomically)
    vecnormalize.pkl     VecNormalize statistics (when the config normalises)
    eval.json            evaluation of the final model (see warehouse_sim.evaluation), with the
                         ``against`` baseline and the ``target`` verdict when configured
    warm_start.json      with a warm start: demonstrations, imitation accuracy, losses
    evaluations.jsonl    periodic evaluations during training (timesteps, wall time, KPIs)
    monitor/             SB3 Monitor CSVs, one per env and session (<session>-<rank>.monitor.csv)
    tb/                  TensorBoard logs
    checkpoints/<steps>/ model.zip, replay_buffer.pkl (DQN), vecnormalize.pkl, state.json
    best/<steps>/        with keep_best: the best periodically evaluated model (state.json has its return)
    .lock                held by the process writing the folder (see warehouse_sim.training.run_folder)

A session runs in steps: everything is validated before the folder is created (config,
seed, env kwargs, reward shaping, and the model itself, built once in memory); then, under
the folder's lock, the session is recorded, the envs are built, the model is created (and
warm-started) or restored, learns, and is saved and evaluated. SIGINT or SIGTERM during
learning saves a checkpoint and raises
:class:`~warehouse_sim.training.control.TrainingInterrupted`, which says how to resume.

Stable-Baselines3 and torch are imported inside the functions only.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import signal
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from warehouse_sim._checks import check_int
from warehouse_sim._files import atomic_path, write_json_atomic, write_text_atomic
from warehouse_sim._yaml import read_yaml
from warehouse_sim.evaluation import evaluate_loaded, target_verdict
from warehouse_sim.onnx_runtime import PolicyLoadError
from warehouse_sim.policies.registry import make_baseline
from warehouse_sim.policies.sb3_policy import (
    CONTRIB_ALGOS,
    NSTEP_LOAD_WARNING,
    ON_POLICY_ALGOS,
    VECNORMALIZE_FILE,
    SB3Policy,
    algo_class,
    load_normalizer,
    load_sb3_model,
)
from warehouse_sim.provenance import source_revision, versions
from warehouse_sim.training.algo_args import parse_schedule
from warehouse_sim.training.checkpoints import (
    CHECKPOINTS_DIR,
    MODEL_FILE,
    REPLAY_BUFFER_FILE,
    best_checkpoint,
    list_checkpoints,
    prune_best,
    read_state,
    save_checkpoint,
)
from warehouse_sim.training.config import TrainConfig, activation_class
from warehouse_sim.training.control import ProgressFn, StopRequest, TrainingInterrupted
from warehouse_sim.training.run_folder import (
    MONITOR_DIR,
    RunFolderError,
    discard_after,
    is_empty,
    locked,
    monitor_sizes,
)
from warehouse_sim.training.shaping import shape_reward

CONFIG_FILE = "config.yaml"
EVAL_FILE = "eval.json"
WARM_START_FILE = "warm_start.json"
#: Seeds are offset per session and env rank; this keeps every derived seed below 2**32.
MAX_SEED = 2**31 - 1
#: Distributions whose versions a run records.
RUN_PACKAGES = ("numpy", "gymnasium", "stable_baselines3", "sb3_contrib", "torch")


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


@dataclass(frozen=True)
class _Options:
    """How a session runs (none of it changes what is learnt)."""

    progress_bar: bool
    verbose: int
    command: str | None
    on_progress: ProgressFn | None
    ray_address: str | None = None
    on_evaluation: Callable[[dict[str, Any]], None] | None = None


def read_run_config(run_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
    """Read ``config.yaml`` of a run folder: ``(config, run section)``.

    Raises:
        RunFolderError: if the folder has no readable ``config.yaml``.
    """
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no {CONFIG_FILE})")
    try:
        data = read_yaml(path, what="run config")
        return TrainConfig.from_dict(data["config"]), dict(data["run"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFolderError(f"corrupt {path}: {exc}") from None


def train(
    config: TrainConfig,
    *,
    out_dir: str | Path,
    seed: int = 0,
    progress_bar: bool = False,
    verbose: int = 0,
    command: str | None = None,
    on_progress: ProgressFn | None = None,
    ray_address: str | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train ``config`` from scratch into the new (or empty) folder ``out_dir``.

    Args:
        config: What to train.
        out_dir: The run folder; created, must not hold anything yet.
        seed: Seeds the model and the training envs (``seed + rank``), in ``[0, 2**31 - 1]``.
        progress_bar: Show SB3's progress bar (needs ``tqdm`` and ``rich``).
        verbose: SB3 verbosity.
        command: The command line recorded in ``config.yaml``.
        on_progress: Called every 5% of the timesteps with a
            :class:`~warehouse_sim.training.control.TrainProgress` (e.g. to log progress
            where no progress bar can be shown).
        ray_address: With ``vec_env: ray``, the Ray cluster (default: a local Ray
            started for the run, or the one this process is connected to).
        on_evaluation: Called with each periodic evaluation's ``evaluations.jsonl`` entry
            (e.g. to report it to Ray Tune).

    Raises:
        ValueError: for a bad seed, env kwargs, reward shaping or algorithm setting, or a
            Ray address without ``vec_env: ray``; nothing is written then.
        ConnectionError: if no Ray cluster answers at ``ray_address``.
        gymnasium.error.DependencyNotInstalled: ``vec_env: ray`` without Ray installed.
        RunFolderError: if ``out_dir`` exists and is not empty, or another process is
            writing it.
        TrainingInterrupted: on SIGINT/SIGTERM (a checkpoint is saved if learning had begun).
    """
    run_dir = Path(out_dir)
    check_int("seed", seed, low=0, high=MAX_SEED)
    if run_dir.exists() and (not run_dir.is_dir() or not is_empty(run_dir)):
        raise RunFolderError(f"{run_dir} already exists and is not empty (use --resume to continue a run)")
    _preflight(config, seed, ray_address)
    run_info: dict[str, Any] = {
        "seed": seed,
        "command": command,
        **source_revision(),
        "versions": versions(*RUN_PACKAGES),
        "sessions": [],
    }
    options = _Options(progress_bar, verbose, command, on_progress, ray_address, on_evaluation)
    with locked(run_dir):
        if not is_empty(run_dir):
            raise RunFolderError(f"{run_dir} already exists and is not empty (use --resume to continue a run)")
        return _session(config, run_dir, run_info, None, options)


def resume(
    run_dir: str | Path,
    *,
    progress_bar: bool = False,
    verbose: int = 0,
    command: str | None = None,
    on_progress: ProgressFn | None = None,
    ray_address: str | None = None,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Continue a killed or interrupted run from its last complete checkpoint up to the same total timesteps.

    Loads the checkpoint's model, replay buffer (off-policy) and ``VecNormalize``
    statistics, after discarding what the killed session wrote after that checkpoint
    (see :func:`~warehouse_sim.training.run_folder.discard_after`). Without any
    checkpoint the run restarts from scratch in the same folder. ``ray_address`` and
    ``on_evaluation`` are those of :func:`train`.

    Raises:
        RunFolderError: if the folder is not a run folder, the run already finished, or
            another process is writing it.
        TrainingInterrupted: on SIGINT/SIGTERM (see :func:`train`).
    """
    run_dir = Path(run_dir)
    config, run_info = read_run_config(run_dir)
    if (run_dir / MODEL_FILE).is_file():
        raise RunFolderError(f"the run in {run_dir} already finished ({MODEL_FILE} exists)")
    _preflight(config, int(run_info["seed"]), ray_address)
    options = _Options(progress_bar, verbose, command, on_progress, ray_address, on_evaluation)
    with locked(run_dir):
        checkpoints = list_checkpoints(run_dir / CHECKPOINTS_DIR)
        checkpoint = checkpoints[-1] if checkpoints else None
        discard_after(run_dir, checkpoint)
        return _session(config, run_dir, run_info, checkpoint, options)


# ---------------------------------------------------------------------------- validation
def _preflight(config: TrainConfig, seed: int, ray_address: str | None) -> None:
    """Everything that can fail before learning, checked without writing anything.

    Builds one env (env kwargs), applies the reward shaping, and builds the model once
    in memory, so SB3's own checks (policy name against the observation space, the
    algorithm against the action space) fail here rather than in a half-made run folder.
    With ``vec_env: ray``, Ray must import and a cluster answer at ``ray_address``.

    Raises:
        ValueError: naming the problem.
    """
    from warehouse_sim._optional import require_extra

    require_extra("train", "stable_baselines3", "torch", "tensorboard", *(("sb3_contrib",) if config.algo in CONTRIB_ALGOS else ()))
    _check_ray(config, ray_address)
    env = shape_reward(gym.make(config.env_id, **dict(config.env_kwargs)), config.reward_shaping, _gamma(config))
    try:
        from stable_baselines3.common.vec_env import DummyVecEnv

        kwargs = {**_algo_kwargs(config), **({"buffer_size": 1} if config.algo not in ON_POLICY_ALGOS else {})}  # no replay memory
        try:
            with warnings.catch_warnings():
                # one env here, n_envs in the run: SB3's warning that n_steps x 1 is no
                # multiple of batch_size would be about this check, not about the run
                warnings.filterwarnings("ignore", message="You have specified a mini-batch size", category=UserWarning)
                algo_class(config.algo)(
                    config.policy, DummyVecEnv([lambda: env]), seed=seed, device="cpu",
                    policy_kwargs=_policy_kwargs(config), **kwargs,
                )
        except Exception as exc:  # noqa: BLE001 - SB3 reports misfits with asserts and assorted errors
            raise ValueError(
                f"{config.algo} cannot train on {config.env_id} with these settings: {type(exc).__name__}: {exc}"
            ) from None
    finally:
        env.close()


def _check_ray(config: TrainConfig, ray_address: str | None) -> None:
    """Fail before anything is written if ``vec_env: ray`` cannot work (or an address is given without it)."""
    if config.resolved_vec_env() == "ray":
        from warehouse_sim.training.ray_cluster import import_ray, probe_address

        import_ray()
        probe_address(ray_address)
    elif ray_address is not None:
        raise ValueError(f"a Ray address needs vec_env: ray (this run uses vec_env: {config.vec_env})")


# ---------------------------------------------------------------------------- a session
def _session(
    config: TrainConfig, run_dir: Path, run_info: dict[str, Any], checkpoint: Path | None, options: _Options
) -> TrainResult:
    """One session (under the folder's lock): record it, build envs, create or restore, learn, finish."""
    import torch

    torch.set_num_threads(config.torch_threads)
    session = _record_session(config, run_dir, run_info, checkpoint, options.command)
    seed = int(run_info["seed"])
    with StopRequest() as stop:
        try:
            venv = make_vec_env(
                config, run_dir=run_dir, seed=seed + 1_000 * session, session=session, ray_address=options.ray_address
            )
            try:
                eval_env = gym.make(config.env_id, **dict(config.env_kwargs))
                try:
                    return _create_learn_finish(config, run_dir, venv, eval_env, checkpoint, seed, session, stop, options)
                finally:
                    eval_env.close()
            finally:
                venv.close()
        except TrainingInterrupted as exc:
            latest = list_checkpoints(run_dir / CHECKPOINTS_DIR)
            resume_from = latest[-1] if latest else None
            raise TrainingInterrupted(
                exc.signal_name, run_dir=run_dir, checkpoint=resume_from,
                timesteps=int(resume_from.name) if resume_from else 0, total=config.n_timesteps,
            ) from None


def _create_learn_finish(
    config: TrainConfig, run_dir: Path, venv: Any, eval_env: gym.Env[Any, Any], checkpoint: Path | None, seed: int,
    session: int, stop: StopRequest, options: _Options,
) -> TrainResult:
    """Create (and warm-start) or restore the model, learn, then finish, or checkpoint and raise on a stop request."""
    if checkpoint is None:
        model, wall_offset = _new_model(config, venv, run_dir, seed, options), 0.0
    else:
        model, wall_offset = _restore_model(config, venv, run_dir, checkpoint, seed + 1_000 * session)
    wall_time = _learn(model, config, run_dir, eval_env, stop, options, wall_offset_s=wall_offset, warm_started=checkpoint is None)
    if stop.requested:
        if stop.checkpoint is None:  # learning had ended before a callback could save
            _checkpoint_now(model, run_dir, wall_time)
        raise TrainingInterrupted(stop.signal_name or "SIGINT")
    return _finish(model, config, run_dir, eval_env, wall_time)


def _record_session(
    config: TrainConfig, run_dir: Path, run_info: dict[str, Any], checkpoint: Path | None, command: str | None
) -> int:
    """Append this session to ``config.yaml`` (written atomically) and return its index."""
    run_info["sessions"].append(
        {
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command,
            "resumed_from": str(checkpoint.relative_to(run_dir)) if checkpoint else None,
            "host": platform.node(),  # which machine ran the session (sweeps and clusters)
            "pid": os.getpid(),
        }
    )
    write_text_atomic(run_dir / CONFIG_FILE, yaml.safe_dump({"config": config.to_dict(), "run": run_info}, sort_keys=False))
    return len(run_info["sessions"]) - 1


def _env_factory(config: TrainConfig, monitor_file: str | None) -> Callable[[], gym.Env[Any, Any]]:
    env_id, kwargs, shaping, gamma = config.env_id, dict(config.env_kwargs), config.reward_shaping, _gamma(config)

    def make() -> gym.Env[Any, Any]:
        from stable_baselines3.common.monitor import Monitor

        import warehouse_sim  # noqa: F401 - registers the ids in a fresh SubprocVecEnv worker

        if multiprocessing.parent_process() is not None:
            # A SubprocVecEnv worker: Ctrl-C reaches the whole process group; the main
            # process stops the run and closes the workers, which must not die first.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
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

    monitor_dir = run_dir / MONITOR_DIR
    monitor_dir.mkdir(parents=True, exist_ok=True)
    monitor_files = [str(monitor_dir / f"{session}-{rank}") for rank in range(config.n_envs)]
    kind = config.resolved_vec_env()
    if kind == "ray":
        from warehouse_sim.training.ray_vec_env import make_ray_vec_env

        venv = make_ray_vec_env(
            [_env_factory(config, None) for _ in monitor_files], config=config.ray, address=ray_address,
            monitor_files=monitor_files, env_id=config.env_id,
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
            kwargs[key] = LinearSchedule(parse_schedule(key, value), 0.0, 1.0)
        elif key == "train_freq" and isinstance(value, list):
            kwargs[key] = tuple(value)
        else:
            kwargs[key] = value
    return kwargs


def _policy_kwargs(config: TrainConfig) -> dict[str, Any]:
    kwargs: dict[str, Any] = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in config.policy_kwargs.items()}
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = activation_class(kwargs["activation_fn"])
    return kwargs


def _gamma(config: TrainConfig) -> float:
    return float(config.algo_kwargs.get("gamma", 0.99))


def _new_model(config: TrainConfig, venv: Any, run_dir: Path, seed: int, options: _Options) -> Any:
    """A fresh model on ``venv`` (wrapped in ``VecNormalize`` if configured), warm-started if configured."""
    from stable_baselines3.common.vec_env import VecNormalize

    if config.normalize is not None:
        n = config.normalize
        venv = VecNormalize(
            venv, norm_obs=n.norm_obs, norm_reward=n.norm_reward, clip_obs=n.clip_obs, clip_reward=n.clip_reward,
            gamma=_gamma(config),
        )
    model = algo_class(config.algo)(
        config.policy, venv, seed=seed, verbose=options.verbose, device="cpu", tensorboard_log=str(run_dir / "tb"),
        policy_kwargs=_policy_kwargs(config), **_algo_kwargs(config),
    )
    if config.warm_start is not None:
        _warm_start(model, config, run_dir, seed)
    return model


def _warm_start(model: Any, config: TrainConfig, run_dir: Path, seed: int) -> None:
    """Imitate the configured baseline (see :mod:`warehouse_sim.training.warm_start`); write ``warm_start.json``.

    The demonstrations play in ``n_envs`` worker processes, or in this process with a
    dummy vec env (steps too cheap for process hops; a baseline that is costly to build,
    such as an exactly searched rule, is then built once, not once per worker). Their
    seeds fix them either way.
    """
    from warehouse_sim.training.warm_start import collect_demonstrations, pretrain

    warm = config.warm_start
    assert warm is not None
    started = time.perf_counter()
    demos = collect_demonstrations(
        config.env_id, config.env_kwargs, warm.baseline, episodes=warm.episodes, seed=seed, gamma=_gamma(config),
        reward_shaping=config.reward_shaping, jobs=1 if config.resolved_vec_env() == "dummy" else config.n_envs,
    )
    summary = pretrain(model, demos, warm, seed=seed)
    summary["wall_time_s"] = round(time.perf_counter() - started, 3)
    write_json_atomic(run_dir / WARM_START_FILE, summary)


def _restore_model(config: TrainConfig, venv: Any, run_dir: Path, checkpoint: Path, seed: int) -> tuple[Any, float]:
    """The checkpoint's model (with its ``VecNormalize`` and replay buffer) on ``venv``, and the wall time before it."""
    try:
        if (checkpoint / VECNORMALIZE_FILE).is_file():
            normalizer = load_normalizer(checkpoint / VECNORMALIZE_FILE, venv.observation_space)
            normalizer.set_venv(venv)
            normalizer.training = True
            venv = normalizer
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NSTEP_LOAD_WARNING)
            model = algo_class(config.algo).load(
                checkpoint / MODEL_FILE, env=venv, device="cpu", tensorboard_log=str(run_dir / "tb")
            )
        if (checkpoint / REPLAY_BUFFER_FILE).is_file():
            model.load_replay_buffer(checkpoint / REPLAY_BUFFER_FILE)
        wall_time_s = float(read_state(checkpoint)["wall_time_s"])
    except PolicyLoadError as exc:
        raise RunFolderError(f"checkpoint {checkpoint} is unusable ({exc}); remove it to resume from the one before") from None
    except Exception as exc:  # noqa: BLE001 - a damaged zip or pickle raises anything
        raise RunFolderError(
            f"checkpoint {checkpoint} is unusable ({type(exc).__name__}: {exc}); remove it to resume from the one before"
        ) from None
    model.set_random_seed(seed)
    return model, wall_time_s


def _learn(
    model: Any, config: TrainConfig, run_dir: Path, eval_env: gym.Env[Any, Any], stop: StopRequest, options: _Options,
    *, wall_offset_s: float, warm_started: bool,
) -> float:
    """Learn up to ``config.n_timesteps`` with the run's callbacks; return the run's wall time (s, all sessions)."""
    from warehouse_sim.training.callbacks import CheckpointCallback, KpiEvalCallback, ProgressCallback, WallClock

    clock = WallClock(wall_offset_s)
    callbacks: list[Any] = [
        CheckpointCallback(run_dir, every=config.checkpoint_freq, on_policy=config.algo in ON_POLICY_ALGOS, clock=clock, stop=stop)
    ]
    if config.eval_freq > 0:
        callbacks.append(
            KpiEvalCallback(
                run_dir, eval_env, every=config.eval_freq, episodes=config.n_eval_episodes, seed=config.eval_seed,
                evaluate_at_start=warm_started and config.warm_start is not None, keep_best=config.keep_best,
                clock=clock, stop=stop, on_evaluation=options.on_evaluation,
            )
        )
    if options.on_progress is not None:
        callbacks.append(ProgressCallback(config.n_timesteps, options.on_progress))
    remaining = config.n_timesteps - int(model.num_timesteps)
    if remaining > 0:
        with stop.learning():
            model.learn(
                total_timesteps=remaining, callback=callbacks, reset_num_timesteps=model.num_timesteps == 0,
                progress_bar=options.progress_bar, tb_log_name=config.algo.upper(),
            )
    return clock.elapsed()


def _checkpoint_now(model: Any, run_dir: Path, wall_time_s: float) -> Path:
    return save_checkpoint(
        model, run_dir / CHECKPOINTS_DIR, wall_time_s=wall_time_s, extra_state={"monitor_bytes": monitor_sizes(run_dir)}
    )


def _finish(model: Any, config: TrainConfig, run_dir: Path, eval_env: gym.Env[Any, Any], wall_time: float) -> TrainResult:
    """Keep the best model if configured, evaluate it into ``eval.json``, save ``model.zip`` last."""
    trained = int(model.num_timesteps)
    normalizer = model.get_vec_normalize_env()
    best = best_checkpoint(run_dir) if config.keep_best else None
    if best is not None:
        model, best_normalizer = load_sb3_model(best / MODEL_FILE, algo=config.algo)
        if normalizer is not None and best_normalizer is not None:
            best_normalizer.set_venv(normalizer.venv)  # saving needs a venv attached, as SB3's own load does
        normalizer = best_normalizer
    if normalizer is not None:
        with atomic_path(run_dir / VECNORMALIZE_FILE) as tmp:
            normalizer.save(str(tmp))
    reference = (f"baseline:{config.against}", make_baseline(config.against, eval_env)) if config.against else None
    report = evaluate_loaded(
        eval_env, SB3Policy(model, normalizer), name=str(run_dir / MODEL_FILE), env_kwargs=config.env_kwargs,
        episodes=config.final_eval_episodes, seed=0, reference=reference,
    )
    report["timesteps"] = trained
    report["wall_time_s"] = round(wall_time, 3)
    if best is not None:
        state = read_state(best)
        report["kept_best"] = {"timesteps": state["timesteps"], "validation_return": state["return"]}
    if config.target:
        report["target"] = target_verdict(report, config.target)
    write_json_atomic(run_dir / EVAL_FILE, report)
    with atomic_path(run_dir / MODEL_FILE) as tmp:
        model.save(tmp)
    if best is not None:
        prune_best(run_dir, finished=True)  # finished: no resume can need an earlier best
    return TrainResult(run_dir, run_dir / MODEL_FILE, trained, wall_time, report)


__all__ = ["RunFolderError", "TrainResult", "make_vec_env", "read_run_config", "resume", "train"]

