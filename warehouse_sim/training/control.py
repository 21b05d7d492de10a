"""How a training session talks to its caller: progress reports, and stopping on SIGINT/SIGTERM.

Neither needs Stable-Baselines3. The callbacks (:mod:`warehouse_sim.training.callbacks`)
call a progress function and honour a :class:`StopRequest`; the runner turns a stop into
a checkpoint and a :class:`TrainingInterrupted` error that says how to resume.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

#: Signals that stop a run gracefully.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class TrainProgress:
    """One progress report of a running session.

    Attributes:
        timesteps: Environment steps of the model so far (all sessions).
        total: The run's total timesteps.
        steps_per_s: Environment steps per wall second in this session.
        eta_s: Wall seconds left at that rate.
    """

    timesteps: int
    total: int
    steps_per_s: float
    eta_s: float


ProgressFn = Callable[[TrainProgress], None]


class TrainingInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a run.

    A ``KeyboardInterrupt``, so generic ``except Exception`` blocks never swallow it.

    Attributes:
        signal_name: ``"SIGINT"`` or ``"SIGTERM"``.
        run_dir: The run folder (``None`` until the runner knows it).
        checkpoint: The checkpoint a ``--resume`` continues from, or ``None``.
        timesteps: Timesteps of that checkpoint (0 without one).
        total: The run's total timesteps.
    """

    def __init__(
        self, signal_name: str, *, run_dir: Path | None = None, checkpoint: Path | None = None, timesteps: int = 0,
        total: int = 0,
    ) -> None:
        super().__init__(signal_name)
        self.signal_name, self.run_dir, self.checkpoint = signal_name, run_dir, checkpoint
        self.timesteps, self.total = timesteps, total

    @property
    def exit_code(self) -> int:
        """The shell convention for a process ended by this signal: 128 + its number."""
        return 128 + int(signal.Signals[self.signal_name])


class StopRequest:
    """Turns SIGINT/SIGTERM into a request to stop at the next safe point of learning.

    Used as a context manager around a whole session: it installs handlers for
    :data:`STOP_SIGNALS` (in the main thread only) and restores the previous ones on exit.
    While :meth:`learning` is active, the first signal only records the request; the
    callbacks then save a checkpoint and stop. Outside learning (building envs, the
    warm start, the final evaluation), or on a second signal, the handler raises
    :class:`TrainingInterrupted` at once.

    Attributes:
        signal_name: The signal that asked to stop, or ``None``.
        checkpoint: The checkpoint saved because of it, set by the callback that saved it.
    """

    def __init__(self) -> None:
        self.signal_name: str | None = None
        self.checkpoint: Path | None = None
        self._learning = False
        self._previous: dict[signal.Signals, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a signal asked the session to stop."""
        return self.signal_name is not None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: installed outside Python
        self._previous.clear()

    @contextlib.contextmanager
    def learning(self) -> Iterator[None]:
        """Within this block a signal is a request to stop, not an immediate interruption."""
        self._learning = True
        try:
            yield
        finally:
            self._learning = False

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self._learning and self.signal_name is None:
            self.signal_name = name
            return
        raise TrainingInterrupted(name)
