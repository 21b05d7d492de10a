"""Stable-Baselines3 callbacks of a run: atomic checkpoints, periodic KPI evaluations, progress.

Module-level subclasses of SB3's ``BaseCallback`` (its template methods: the public
``on_step`` calls the protected ``_on_step``, and so on). This is the training layer's
one module that imports SB3 at module level; :mod:`warehouse_sim.training.runner`
imports it inside the functions that train, so ``import warehouse_sim.training`` stays
free of SB3 and torch.

Periodic work is due at the first step at or past each multiple of its period, counted
from the model's restored timesteps (``_init_callback``): a run resumed from a checkpoint
at ``C`` saves and evaluates at exactly the timesteps an uninterrupted run does after
``C``, and never twice at the same one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.callbacks import BaseCallback

from warehouse_sim.evaluation import run_episodes, summarize_episodes
from warehouse_sim.policies.sb3_policy import SB3Policy
from warehouse_sim.training.checkpoints import (
    BEST_DIR,
    CHECKPOINTS_DIR,
    best_checkpoint,
    prune_best,
    read_state,
    save_checkpoint,
)
from warehouse_sim.training.control import ProgressFn, StopRequest, TrainProgress
from warehouse_sim.training.run_folder import EVALUATIONS_FILE, monitor_sizes


class WallClock:
    """Training wall time over all sessions of a run.

    Args:
        offset_s: Seconds spent in earlier sessions.
    """

    def __init__(self, offset_s: float = 0.0) -> None:
        self._start = time.perf_counter() - offset_s

    def elapsed(self) -> float:
        """Seconds since the run started learning, earlier sessions included."""
        return time.perf_counter() - self._start


class _Periodic:
    """Due once per multiple of ``every`` timesteps crossed (never with ``every == 0``)."""

    def __init__(self, every: int) -> None:
        self.every, self._mark = every, 0

    def start(self, timesteps: int) -> None:
        """Count the multiples already passed at ``timesteps`` as done."""
        self._mark = timesteps // self.every if self.every else 0

    def due(self, timesteps: int) -> bool:
        """Whether ``timesteps`` passed a new multiple (and mark it done)."""
        if not self.every or timesteps // self.every <= self._mark:
            return False
        self._mark = timesteps // self.every
        return True


class CheckpointCallback(BaseCallback):
    """Save a checkpoint every ``every`` timesteps, and when a stop was requested.

    Periodic checkpoints are taken at the start of a rollout: the model has then
    learnt from every step it counts (PPO's update, DQN's gradient steps), so a resume
    from it repeats exactly the rollouts an uninterrupted run takes next. On a stop
    request PPO saves at the current step and stops (a resume may then end up to one
    rollout past the total); DQN/QR-DQN finish the current short rollout and save at
    the next rollout start, keeping the total exact.

    Args:
        run_dir: The run folder (checkpoints go to ``checkpoints/``).
        every: Timesteps between checkpoints (0: only on a stop request).
        on_policy: PPO (stops at once) rather than DQN/QR-DQN.
        clock: The run's wall clock (recorded in ``state.json``).
        stop: Set by a SIGINT/SIGTERM handler.
    """

    def __init__(self, run_dir: Path, *, every: int, on_policy: bool, clock: WallClock, stop: StopRequest) -> None:
        super().__init__()
        self.run_dir, self.on_policy, self.clock, self.stop = run_dir, on_policy, clock, stop
        self._period = _Periodic(every)

    def _init_callback(self) -> None:
        self._period.start(int(self.model.num_timesteps))

    def _save(self) -> Path:
        path = save_checkpoint(
            self.model, self.run_dir / CHECKPOINTS_DIR, wall_time_s=self.clock.elapsed(),
            extra_state={"monitor_bytes": monitor_sizes(self.run_dir)},
        )
        prune_best(self.run_dir)
        return path

    def _on_rollout_start(self) -> None:
        steps = int(self.model.num_timesteps)
        if self.stop.requested and not self.on_policy and self.stop.checkpoint is None:
            self._period.due(steps)
            self.stop.checkpoint = self._save()
        elif self._period.due(steps):
            self._save()

    def _on_step(self) -> bool:
        if not self.stop.requested:
            return True
        if self.on_policy and self.stop.checkpoint is None:
            self.stop.checkpoint = self._save()
        return self.stop.checkpoint is None  # off-policy: go on to the next rollout start


class KpiEvalCallback(BaseCallback):
    """Evaluate the deterministic policy every ``every`` timesteps and log its KPIs.

    Logs ``eval/mean_return``, ``eval/mean_length`` and ``eval/<kpi>`` (the mean of
    each numeric KPI of the final ``info``; ``is_success`` as ``eval/success_rate``)
    to TensorBoard, and appends the same to ``evaluations.jsonl``. With ``keep_best``,
    each evaluated model that beats the best mean return so far is saved to
    ``best/<timesteps>/``.

    Args:
        run_dir: The run folder.
        eval_env: A separate env (not in the training ``VecEnv``).
        every: Timesteps between evaluations.
        episodes: Episodes per evaluation, from seeds ``seed``, ``seed + 1``, ...
        seed: Seed of the first evaluation episode.
        evaluate_at_start: Also evaluate before the first step (a warm-started policy).
        keep_best: Keep the best evaluated model (see :func:`~warehouse_sim.training.checkpoints.best_checkpoint`).
        clock: The run's wall clock.
        stop: No evaluation starts once a stop was requested.
        on_evaluation: Called with each evaluation's ``evaluations.jsonl`` entry, after
            it is written (e.g. to report it to Ray Tune).
    """

    def __init__(
        self, run_dir: Path, eval_env: gym.Env[Any, Any], *, every: int, episodes: int, seed: int,
        evaluate_at_start: bool, keep_best: bool, clock: WallClock, stop: StopRequest,
        on_evaluation: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__()
        self.run_dir, self.eval_env, self.episodes, self.seed = run_dir, eval_env, episodes, seed
        self.evaluate_at_start, self.keep_best, self.clock, self.stop = evaluate_at_start, keep_best, clock, stop
        self.on_evaluation = on_evaluation
        self._period = _Periodic(every)
        self._best = float("-inf")

    def _init_callback(self) -> None:
        self._period.start(int(self.model.num_timesteps))
        best = best_checkpoint(self.run_dir)
        self._best = float("-inf") if best is None else float(read_state(best)["return"])

    def _on_training_start(self) -> None:
        if self.evaluate_at_start and self.model.num_timesteps == 0:
            self._evaluate()

    def _on_step(self) -> bool:
        if not self.stop.requested and self._period.due(self.num_timesteps):
            self._evaluate()
        return True

    def _evaluate(self) -> None:
        policy = SB3Policy(self.model, self.model.get_vec_normalize_env())
        summary = summarize_episodes(run_episodes(self.eval_env, policy, episodes=self.episodes, seed=self.seed))
        kpis = {name: stats["mean"] for name, stats in summary["kpis"].items()}
        self.logger.record("eval/mean_return", summary["return"]["mean"])
        self.logger.record("eval/mean_length", summary["length"]["mean"])
        for name, value in kpis.items():
            self.logger.record("eval/success_rate" if name == "is_success" else f"eval/{name}", value)
        entry = {
            "timesteps": int(self.model.num_timesteps),
            "wall_time_s": round(self.clock.elapsed(), 3),
            "return": summary["return"]["mean"],
            "length": summary["length"]["mean"],
            "kpis": kpis,
        }
        with (self.run_dir / EVALUATIONS_FILE).open("a") as f:
            f.write(json.dumps(entry) + "\n")
        if self.on_evaluation is not None:
            self.on_evaluation(entry)
        if self.keep_best and summary["return"]["mean"] > self._best:
            self._best = summary["return"]["mean"]
            save_checkpoint(
                self.model, self.run_dir / BEST_DIR, wall_time_s=entry["wall_time_s"], keep=None,
                extra_state={"return": self._best}, replay_buffer=False,
            )
            prune_best(self.run_dir)


class ProgressCallback(BaseCallback):
    """Report progress every ``fraction`` of the run's total timesteps (for logs without a terminal).

    Args:
        total: The run's total timesteps.
        report: Called with a :class:`~warehouse_sim.training.control.TrainProgress`.
        fraction: Report at every multiple of this share of ``total``.
    """

    def __init__(self, total: int, report: ProgressFn, *, fraction: float = 0.05) -> None:
        super().__init__()
        self.total, self.report = total, report
        self.step = max(1, int(total * fraction))
        self._start_steps, self._start_time, self._next = 0, 0.0, 0

    def _on_training_start(self) -> None:
        self._start_steps, self._start_time = int(self.model.num_timesteps), time.perf_counter()
        self._next = (self._start_steps // self.step + 1) * self.step

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.step + 1) * self.step
            rate = (self.num_timesteps - self._start_steps) / max(time.perf_counter() - self._start_time, 1e-9)
            left = max(self.total - self.num_timesteps, 0)
            self.report(TrainProgress(int(self.num_timesteps), self.total, rate, left / rate if rate > 0 else float("inf")))
        return True
