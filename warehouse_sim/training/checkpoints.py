"""Checkpoint folders of a run: written atomically, listed, and pruned (no SB3 import).

``checkpoints/<timesteps>/`` holds ``model.zip``, the DQN replay buffer, the
``VecNormalize`` statistics and ``state.json`` (timesteps, wall time, and the size of
each monitor file at that moment, so a resume can drop what a killed session logged
afterwards). ``best/<timesteps>/`` holds the ``keep_best`` models (``state.json`` adds
their validation return).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from warehouse_sim.policies.sb3_policy import VECNORMALIZE_FILE

#: Checkpoint folder names are the zero-padded timestep count, e.g. ``000000020480``.
CHECKPOINT_DIGITS = 12
MODEL_FILE = "model.zip"
REPLAY_BUFFER_FILE = "replay_buffer.pkl"
STATE_FILE = "state.json"
CHECKPOINTS_DIR = "checkpoints"
#: With ``keep_best``: the best periodically evaluated models, ``best/<timesteps>/``.
BEST_DIR = "best"
#: Prefix of a checkpoint folder being written (a kill leaves it behind; a resume removes it).
TMP_PREFIX = ".tmp-"


def save_checkpoint(
    model: Any,
    root: Path,
    *,
    wall_time_s: float,
    keep: int | None = 2,
    extra_state: Mapping[str, Any] | None = None,
    replay_buffer: bool = True,
) -> Path:
    """Write a complete checkpoint of ``model`` under ``root`` and return its folder.

    Everything (model, the replay buffer of an off-policy algorithm if ``replay_buffer``,
    ``VecNormalize`` statistics, ``state.json`` with ``extra_state`` merged in) is
    written into a temporary folder that is then renamed to ``root/<timesteps>``: a
    ``kill -9`` at any moment leaves either the new complete checkpoint or none, and the
    previous ones intact. Only the newest ``keep`` are kept (all with ``None``).
    """
    root.mkdir(parents=True, exist_ok=True)
    steps = int(model.num_timesteps)
    final = root / f"{steps:0{CHECKPOINT_DIGITS}d}"
    if final.exists():
        return final
    tmp = root / f"{TMP_PREFIX}{steps}-{os.getpid()}"
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
    if keep is not None:
        for old in list_checkpoints(root)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.isdigit() and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name))


def read_state(checkpoint: Path) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint folder."""
    state: dict[str, Any] = json.loads((checkpoint / STATE_FILE).read_text())
    return state


def best_checkpoint(run_dir: Path) -> Path | None:
    """The ``keep_best`` model of a run folder (its ``state.json`` has ``return``), or ``None``."""
    found = list_checkpoints(run_dir / BEST_DIR)
    return found[-1] if found else None


def prune_best(run_dir: Path, *, finished: bool = False) -> None:
    """Keep in ``best/`` only what the run can still need.

    Each saved best beats the earlier ones, so the newest is the run's best. A resume
    from the newest regular checkpoint ``C`` discards everything learnt after ``C``, and
    then needs the newest best at or before ``C``. Every other one is deleted; once the
    run is ``finished`` (it cannot be resumed), only the newest is kept.
    """
    bests = list_checkpoints(run_dir / BEST_DIR)
    regular = list_checkpoints(run_dir / CHECKPOINTS_DIR)
    resume_point = int(regular[-1].name) if regular and not finished else -1
    keep = {bests[-1]} if bests else set()
    before = [b for b in bests if int(b.name) <= resume_point]
    if before:
        keep.add(before[-1])
    for folder in bests:
        if folder not in keep:
            shutil.rmtree(folder, ignore_errors=True)
