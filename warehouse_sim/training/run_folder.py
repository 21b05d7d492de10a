"""A run folder on disk: one writer at a time, and a clean state to resume from.

Layout (see :mod:`warehouse_sim.training.runner`)::

    .lock              held (``flock``) by the process writing the folder; the kernel
                       releases it when that process ends, even by ``kill -9``
    config.yaml, monitor/, evaluations.jsonl, checkpoints/, best/, tb/, ...

A resume continues from the newest complete checkpoint, so everything a killed session
wrote after it is discarded first (:func:`discard_after`): half-written checkpoint
folders, monitor rows and periodic evaluations of steps that the resumed model never
took, and ``keep_best`` models from them. Learning curves and ``evaluations.jsonl`` then
show exactly what the kept model learnt, each evaluation once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from warehouse_sim._files import write_text_atomic
from warehouse_sim.training.checkpoints import BEST_DIR, CHECKPOINTS_DIR, TMP_PREFIX, list_checkpoints, read_state

LOCK_FILE = ".lock"
MONITOR_DIR = "monitor"
EVALUATIONS_FILE = "evaluations.jsonl"
#: What a session writes besides checkpoints; a restart without any checkpoint removes them.
SESSION_OUTPUTS = (MONITOR_DIR, EVALUATIONS_FILE, BEST_DIR, "tb", "warm_start.json")


class RunFolderError(ValueError):
    """A run folder cannot be used: not empty for a new run, unreadable, in use, or already finished."""


@contextlib.contextmanager
def locked(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock for the block (creating the folder if needed).

    Raises:
        RunFolderError: if another process holds it (a second ``train --resume`` of
            the same folder, or a ``train --out`` into a folder being trained).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise RunFolderError(
            f"{run_dir} is being written by another warehouse-sim process (pid {holder}); "
            "wait for it to end or stop it first"
        ) from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def is_empty(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds nothing (but possibly its lock file)."""
    return not any(p.name != LOCK_FILE for p in run_dir.iterdir())


def monitor_sizes(run_dir: Path) -> dict[str, int]:
    """The byte size of every monitor file: recorded in each checkpoint (see :func:`discard_after`)."""
    folder = run_dir / MONITOR_DIR
    return {p.name: p.stat().st_size for p in sorted(folder.glob("*.monitor.csv"))} if folder.is_dir() else {}


def discard_after(run_dir: Path, checkpoint: Path | None) -> None:
    """Remove what a killed session wrote after ``checkpoint`` (everything of it without one).

    - ``checkpoints/.tmp-*`` and ``best/.tmp-*``: checkpoints a kill interrupted;
    - ``evaluations.jsonl`` rows and ``best/`` models of later timesteps;
    - monitor rows written after the checkpoint: each monitor file is cut back to the
      size the checkpoint recorded, and files it did not know are removed (checkpoints
      written before sizes were recorded leave the monitor files as they are).
    """
    for root in (run_dir / CHECKPOINTS_DIR, run_dir / BEST_DIR):
        for tmp in root.glob(f"{TMP_PREFIX}*") if root.is_dir() else ():
            shutil.rmtree(tmp, ignore_errors=True)
    if checkpoint is None:
        for name in SESSION_OUTPUTS:
            path = run_dir / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        return
    state = read_state(checkpoint)
    steps = int(state["timesteps"])
    for best in list_checkpoints(run_dir / BEST_DIR):
        if int(best.name) > steps:
            shutil.rmtree(best)
    evaluations = run_dir / EVALUATIONS_FILE
    if evaluations.is_file():
        kept = [line for line in evaluations.read_text().splitlines() if line.strip() and json.loads(line)["timesteps"] <= steps]
        write_text_atomic(evaluations, "".join(f"{line}\n" for line in kept))
    sizes = state.get("monitor_bytes")
    if sizes is not None:
        for file in (run_dir / MONITOR_DIR).glob("*.monitor.csv"):
            if file.name in sizes:
                os.truncate(file, min(int(sizes[file.name]), file.stat().st_size))
            else:
                file.unlink()
