"""Training callbacks: atomic checkpoints and periodic evaluation with the env's KPIs.

Both subclass Stable-Baselines3's ``BaseCallback``; SB3 is imported when
:func:`make_callbacks` is called, never at module import.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from warehouse_sim.evaluation import run_episodes, summarize_episodes
from warehouse_sim.policies.sb3_policy import VECNORMALIZE_FILE, SB3Policy

#: Checkpoint folder names are the zero-padded timestep count, e.g. ``000000020480``.
CHECKPOINT_DIGITS = 12
MODEL_FILE = "model.zip"
REPLAY_BUFFER_FILE = "replay_buffer.pkl"
STATE_FILE = "state.json"
#: With ``keep_best``: the best periodically evaluated model, ``best/<timesteps>/``.
BEST_DIR = "best"


def save_checkpoint(
    model: Any,
    root: Path,
    *,
    wall_time_s: float,
    keep: int = 2,
    extra_state: Mapping[str, Any] | None = None,
    replay_buffer: bool = True,
) -> Path:
    """Write a complete checkpoint of ``model`` under ``root`` and return its folder.

    Everything (model, the replay buffer of an off-policy algorithm if ``replay_buffer``,
    ``VecNormalize`` statistics, ``state.json`` with ``extra_state`` merged in) is
    written into a temporary folder that is then renamed to ``root/<timesteps>``: a
    ``kill -9`` at any moment leaves either the new complete checkpoint or none, and the
    previous ones intact. Only the newest ``keep`` are kept.
    """
    root.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    final = root / f"{steps:0{CHECKPOINT_DIGITS}d}"
    if final.exists():
        return final
    tmp = root / f".tmp-{steps}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    model.save(tmp / MODEL_FILE)
    if replay_buffer and getattr(model, "replay_buffer", None) is not None:
        model.save_replay_buffer(tmp / REPLAY_BUFFER_FILE)
    normalizer = model.get_vec_normalize_env()
    if normalizer is not None:
        normalizer.save(tmp / VECNORMALIZE_FILE)
    state = {"timesteps": steps, "wall_time_s": wall_time_s, **(extra_state or {})}
    (tmp / STATE_FILE).write_text(json.dumps(state) + "\n")
    os.replace(tmp, final)
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.isdigit() and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name))


def best_checkpoint(run_dir: Path) -> Path | None:
    """The ``keep_best`` model of a run folder (its ``state.json`` has ``return``), or ``None``."""
    found = list_checkpoints(run_dir / BEST_DIR)
    return found[-1] if found else None


def make_callbacks(
    *,
    run_dir: Path,
    checkpoint_freq: int,
    eval_env: gym.Env[Any, Any] | None,
    eval_freq: int,
    n_eval_episodes: int,
    on_policy: bool,
    eval_seed: int = 0,
    evaluate_at_start: bool = False,
    keep_best: bool = False,
    wall_time_offset_s: float = 0.0,
    on_evaluation: Callable[[dict[str, Any]], None] | None = None,
) -> list[Any]:
    """Build the checkpoint and evaluation callbacks of a run (imports SB3).

    Args:
        run_dir: The run folder (checkpoints go to ``checkpoints/``, periodic evaluations
            are appended to ``evaluations.jsonl``).
        checkpoint_freq: Timesteps between checkpoints (0: none).
        eval_env: A separate, unwrapped-by-VecEnv env for evaluation (``None``: none).
        eval_freq: Timesteps between evaluations.
        n_eval_episodes: Episodes per evaluation, from seeds ``eval_seed``, ``eval_seed + 1``, ...
        on_policy: Checkpoint at rollout ends (PPO) rather than at any step (DQN), so a
            resumed run reaches exactly the timesteps of an uninterrupted one.
        eval_seed: Seed of the first evaluation episode.
        evaluate_at_start: Also evaluate before the first step (a warm-started policy).
        keep_best: Save each evaluated model that beats the best mean return so far to
            ``best/<timesteps>/`` (see :func:`best_checkpoint`).
        wall_time_offset_s: Training wall time already spent before this session.
        on_evaluation: Called with each evaluation's ``evaluations.jsonl`` entry, after
            it is written (e.g. to report it to Ray Tune).
    """
    from stable_baselines3.common.callbacks import BaseCallback

    class _Clock:
        start = time.perf_counter() - wall_time_offset_s

        @classmethod
        def elapsed(cls) -> float:
            return time.perf_counter() - cls.start

    class AtomicCheckpointCallback(BaseCallback):
        """Save a checkpoint every ``checkpoint_freq`` timesteps (see :func:`save_checkpoint`)."""

        def __init__(self) -> None:
            super().__init__()
            self._last = 0

        def _init_callback(self) -> None:
            self._last = self.num_timesteps

        def _due(self) -> bool:
            return self.num_timesteps - self._last >= checkpoint_freq

        def _save(self) -> None:
            save_checkpoint(self.model, run_dir / "checkpoints", wall_time_s=_Clock.elapsed())
            self._last = self.num_timesteps

        def _on_step(self) -> bool:
            if not on_policy and self._due():
                self._save()
            return True

        def _on_rollout_end(self) -> None:
            if on_policy and self._due():
                self._save()

    class KpiEvalCallback(BaseCallback):
        """Evaluate the deterministic policy every ``eval_freq`` timesteps and log its KPIs.

        Logs ``eval/mean_return``, ``eval/mean_length`` and ``eval/<kpi>`` (the mean of
        each numeric KPI of the final ``info``; ``is_success`` as ``eval/success_rate``)
        to TensorBoard, and appends the same to ``evaluations.jsonl``.
        """

        def __init__(self) -> None:
            super().__init__()
            self._last = 0

        def _init_callback(self) -> None:
            self._last = self.num_timesteps
            best = best_checkpoint(run_dir)
            self._best = float("-inf") if best is None else float(json.loads((best / STATE_FILE).read_text())["return"])

        def _on_training_start(self) -> None:
            if evaluate_at_start and self.num_timesteps == 0:
                self._evaluate()

        def _on_step(self) -> bool:
            if self.num_timesteps - self._last >= eval_freq:
                self._last = self.num_timesteps
                self._evaluate()
            return True

        def _evaluate(self) -> None:
            assert eval_env is not None
            policy = SB3Policy(self.model, self.model.get_vec_normalize_env())
            summary = summarize_episodes(run_episodes(eval_env, policy, episodes=n_eval_episodes, seed=eval_seed))
            kpis = {name: stats["mean"] for name, stats in summary["kpis"].items()}
            self.logger.record("eval/mean_return", summary["return"]["mean"])
            self.logger.record("eval/mean_length", summary["length"]["mean"])
            for name, value in kpis.items():
                self.logger.record("eval/success_rate" if name == "is_success" else f"eval/{name}", value)
            entry = {
                "timesteps": int(self.num_timesteps),
                "wall_time_s": round(_Clock.elapsed(), 3),
                "return": summary["return"]["mean"],
                "length": summary["length"]["mean"],
                "kpis": kpis,
            }
            with (run_dir / "evaluations.jsonl").open("a") as f:
                f.write(json.dumps(entry) + "\n")
            if on_evaluation is not None:
                on_evaluation(entry)
            if keep_best and summary["return"]["mean"] > self._best:
                self._best = summary["return"]["mean"]
                save_checkpoint(
                    self.model, run_dir / BEST_DIR, wall_time_s=entry["wall_time_s"], keep=1,
                    extra_state={"return": self._best}, replay_buffer=False,
                )

    callbacks: list[Any] = []
    if checkpoint_freq > 0:
        callbacks.append(AtomicCheckpointCallback())
    if eval_env is not None and eval_freq > 0:
        callbacks.append(KpiEvalCallback())
    return callbacks
