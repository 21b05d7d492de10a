"""Calibrate the fast fleet executor's move times on the physics executor, and store them with the scenario.

Runs seeded shifts of a warehouse scenario on the physics fidelity (the ``heuristic``
baseline decides, the planner drives), logs every cell move of every robot
(:attr:`~warehouse_sim.tasks.fulfilment.physics_fleet.PhysicsFleet.move_log`), sorts
them into the fast executor's move classes
(:func:`~warehouse_sim.tasks.fulfilment.fast_fleet.classify_moves`) and prints each
class's count, mean and spread in seconds. With ``--write`` the means become the
scenario file's ``move_seconds`` block::

    python training/calibrate_fast.py --scenario warehouse-medium --seeds 3 --hours 2 --write

A test (``tests/test_fast_fidelity.py``) re-measures the classes on a short physics run
and checks them against the stored values.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

import warehouse_sim  # noqa: F401  (registers the ids)
from warehouse_sim.assets import asset_path
from warehouse_sim.policies.registry import make_baseline
from warehouse_sim.tasks.fulfilment.fast_fleet import MOVE_CLASSES, classify_moves

ENV_ID = "warehouse_sim/Fulfilment-v0"


def measure(scenario: str, *, seeds: int, hours: float, progress: bool = False) -> dict[str, list[int]]:
    """Move durations (control ticks) by class over ``seeds`` seeded physics shifts of ``hours`` hours."""
    moves: list[tuple[int, int, int, Any]] = []
    for seed in tqdm(range(seeds), desc=f"{scenario} physics shifts", disable=not progress):
        env = gym.make(ENV_ID, scenario=scenario, shift_hours=hours)
        try:
            log: list[tuple[int, int, int, Any]] = []
            env.unwrapped.task.fleet.move_log = lambda r, t0, t1, path, log=log: log.append((r, t0, t1, path))
            policy = make_baseline("heuristic", env)
            obs, _ = env.reset(seed=seed)
            done = False
            while not done:
                obs, _, terminated, truncated, _ = env.step(policy.act(obs))
                done = terminated or truncated
            moves += [(r + 1000 * seed, t0, t1, path) for r, t0, t1, path in log]  # robots of each shift apart
        finally:
            env.close()
    return classify_moves(moves)


def move_seconds(durations: dict[str, list[int]], control_hz: int) -> dict[str, float]:
    """Mean seconds per class (every class of :data:`MOVE_CLASSES` must have been seen)."""
    missing = [k for k in MOVE_CLASSES if not durations.get(k)]
    if missing:
        raise SystemExit(f"no moves of class {missing}: run more or longer shifts")
    return {k: round(float(np.mean(durations[k])) / control_hz, 3) for k in MOVE_CLASSES}


def write_block(path: Path, seconds: dict[str, float], note: str) -> None:
    """Replace (or append) the ``move_seconds:`` block at the end of the scenario file ``path``."""
    text = path.read_text()
    head = text.split("\n# Fast fidelity:")[0].split("\nmove_seconds:")[0].rstrip("\n")
    block = "\n".join(f"  {k}: {v}" for k, v in seconds.items())
    path.write_text(f"{head}\n# Fast fidelity: {note}\nmove_seconds:\n{block}\n")


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="warehouse-medium")
    parser.add_argument("--seeds", type=int, default=3, help="seeded physics shifts (seeds 0..N-1)")
    parser.add_argument("--hours", type=float, default=2.0, help="length of each shift, hours")
    parser.add_argument("--write", action="store_true", help="store the means in the scenario file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    durations = measure(args.scenario, seeds=args.seeds, hours=args.hours, progress=True)
    env = gym.make(ENV_ID, scenario=args.scenario)
    control_hz = env.unwrapped.scenario.control_hz
    env.close()
    print(f"{args.scenario}: {sum(map(len, durations.values()))} moves in {time.perf_counter() - t0:.0f} s")
    print(f"{'class':22s} {'moves':>7s} {'mean s':>8s} {'std s':>7s}")
    for k in MOVE_CLASSES:
        v = np.asarray(durations.get(k, []), dtype=float) / control_hz
        print(f"{k:22s} {v.size:7d} {v.mean() if v.size else float('nan'):8.3f} {v.std() if v.size else float('nan'):7.3f}")
    if args.write:
        seconds = move_seconds(durations, control_hz)
        path = asset_path(f"scenarios/{args.scenario}.yaml")
        note = (f"seconds per cell-move class, calibrated by training/calibrate_fast.py on {args.seeds} "
                f"physics shifts of {args.hours:g} h (heuristic decisions, planner driver).")
        write_block(path, seconds, note)
        print(f"wrote move_seconds to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
