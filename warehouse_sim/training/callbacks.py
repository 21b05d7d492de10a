"""Training callbacks: atomic checkpoints and periodic evaluation with the env's KPIs.

Both subclass Stable-Baselines3's ``BaseCallback``; SB3 is imported when
:func:`make_callbacks` is called, never at module import.
"""

from __future__ import annotations

import json
import os
import shutil
import time
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


def save_checkpoint(model: Any, root: Path, *, wall_time_s: float, keep: int = 2) -> Path:
    """Write a complete checkpoint of ``model`` under ``root`` and return its folder.

    Everything (model, replay buffer of off-policy algorithms, ``VecNormalize``
    statistics, ``state.json``) is written into a temporary folder that is then renamed
    to ``root/<timesteps>``: a ``kill -9`` at any moment leaves either the new complete
    checkpoint or none, and the previous ones intact. Only the newest ``keep`` are kept.
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
    if hasattr(model, "replay_buffer") and model.replay_buffer is not None:
        model.save_replay_buffer(tmp / REPLAY_BUFFER_FILE)
    normalizer = model.get_vec_normalize_env()
    if normalizer is not None:
        normalizer.save(tmp / VECNORMALIZE_FILE)
    (tmp / STATE_FILE).write_text(json.dumps({"timesteps": steps, "wall_time_s": wall_time_s}) + "\n")
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


def make_callbacks(
    *,
    run_dir: Path,
    checkpoint_freq: int,
    eval_env: gym.Env[Any, Any] | None,
    eval_freq: int,
    n_eval_episodes: int,
    on_policy: bool,
    wall_time_offset_s: float = 0.0,
) -> list[Any]:
    """Build the checkpoint and evaluation callbacks of a run (imports SB3).

    Args:
        run_dir: The run folder (checkpoints go to ``checkpoints/``, periodic evaluations
            are appended to ``evaluations.jsonl``).
        checkpoint_freq: Timesteps between checkpoints (0: none).
        eval_env: A separate, unwrapped-by-VecEnv env for evaluation (``None``: none).
        eval_freq: Timesteps between evaluations.
        n_eval_episodes: Episodes per evaluation, from seeds 0, 1, ...
        on_policy: Checkpoint at rollout ends (PPO) rather than at any step (DQN), so a
            resumed run reaches exactly the timesteps of an uninterrupted one.
        wall_time_offset_s: Training wall time already spent before this session.
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

        def _on_step(self) -> bool:
            if self.num_timesteps - self._last >= eval_freq:
                self._last = self.num_timesteps
                self._evaluate()
            return True

        def _evaluate(self) -> None:
            assert eval_env is not None
            policy = SB3Policy(self.model, self.model.get_vec_normalize_env())
            summary = summarize_episodes(run_episodes(eval_env, policy, episodes=n_eval_episodes, seed=0))
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

    callbacks: list[Any] = []
    if checkpoint_freq > 0:
        callbacks.append(AtomicCheckpointCallback())
    if eval_env is not None and eval_freq > 0:
        callbacks.append(KpiEvalCallback())
    return callbacks
