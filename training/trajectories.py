"""Record or check digests of seeded trajectories of every env (behaviour-preserving refactors).

A refactor that must not change behaviour (shared/DESIGN.md: same seed, same trajectory)
records the digests before it starts and checks them after::

    python training/trajectories.py record          # writes training/trajectories.json
    python training/trajectories.py check           # exits 1 and names the first divergence

Each case is one env id with constructor kwargs, rolled out from ``reset(seed=s)`` with
actions drawn from its action space seeded with ``s``; every step's observation, reward,
flags and ``info`` are hashed (arrays by dtype, shape and bytes), so a single bit of
difference anywhere is caught, and the step where it first appears is named.

Cases: Navigation-v0, Picking-v0 and Inventory-v0 in both action modes, 3 seeds x 200
steps; Fulfilment-v0 on ``warehouse-tiny`` and ``warehouse-medium`` with the path
controller and with the shipped DQN Navigation policy as driver, 3 seeds x 2 epochs, and
on the fast fidelity, 3 seeds x a whole shift and two more epochs; FleetDispatch-v0 on the
fast fidelity, 3 seeds x 3,000 decisions.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim  # noqa: F401  (registers the ids)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = Path(__file__).with_name("trajectories.json")
POLICY_DRIVER = "policy:" + str(ROOT / "training/results/dqn-navigation/policy.onnx")

#: (name, env id, kwargs, steps per seed)
CASES: tuple[tuple[str, str, dict[str, Any], int], ...] = (
    ("navigation-box", "warehouse_sim/Navigation-v0", {}, 200),
    ("navigation-discrete", "warehouse_sim/Navigation-v0", {"continuous": False}, 200),
    ("navigation-traffic", "warehouse_sim/Navigation-v0", {"n_obstacle_robots": 3, "continuous": False}, 200),
    ("picking-box", "warehouse_sim/Picking-v0", {}, 200),
    ("picking-discrete", "warehouse_sim/Picking-v0", {"continuous": False}, 200),
    ("inventory-box", "warehouse_sim/Inventory-v0", {}, 200),
    ("inventory-discrete", "warehouse_sim/Inventory-v0", {"continuous": False}, 200),
    ("inventory-catalogue", "warehouse_sim/Inventory-v0", {"scenario": "catalogue-20", "continuous": False}, 200),
    ("fulfilment-tiny", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-tiny"}, 2),
    ("fulfilment-tiny-policy", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-tiny", "driver": POLICY_DRIVER}, 2),
    ("fulfilment-medium", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-medium"}, 2),
    ("fulfilment-medium-policy", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-medium", "driver": POLICY_DRIVER}, 2),
    ("fulfilment-tiny-fast", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-tiny", "fidelity": "fast"}, 34),
    ("fulfilment-medium-fast", "warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-medium", "fidelity": "fast"}, 34),
    ("fleet-dispatch-fast", "warehouse_sim/FleetDispatch-v0", {"fidelity": "fast"}, 3_000),
)
SEEDS = (0, 1, 2)


def _feed(h: Any, value: Any) -> None:
    """Feed ``value`` into hash ``h`` canonically (dicts by sorted key, arrays by dtype/shape/bytes)."""
    if isinstance(value, dict):
        h.update(b"{")
        for key in sorted(value, key=str):
            h.update(str(key).encode())
            _feed(h, value[key])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _feed(h, item)
        h.update(b"]")
    elif isinstance(value, np.ndarray):
        h.update(f"{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (float, np.floating)):
        h.update(np.float64(value).tobytes())
    else:
        h.update(repr(value).encode())


def _digest(value: Any) -> str:
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()[:16]


def rollout(env_id: str, kwargs: dict[str, Any], seed: int, steps: int) -> list[str]:
    """Per-step digests of one seeded rollout (the reset first), resetting after an episode ends."""
    env = gym.make(env_id, **kwargs)
    try:
        obs, info = env.reset(seed=seed)
        env.action_space.seed(seed)
        out = [_digest((obs, info))]
        for _ in range(steps):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, info = env.step(action)
            out.append(_digest((obs, reward, terminated, truncated, info)))
            if terminated or truncated:
                obs, info = env.reset()
                out.append(_digest((obs, info)))
        return out
    finally:
        env.close()


def compute(only: str | None = None) -> dict[str, dict[str, list[str]]]:
    """Digests of every case (or the cases whose name contains ``only``), seed -> per-step digests."""
    result: dict[str, dict[str, list[str]]] = {}
    for name, env_id, kwargs, steps in CASES:
        if only and only not in name:
            continue
        t0 = time.perf_counter()
        result[name] = {str(seed): rollout(env_id, kwargs, seed, steps) for seed in SEEDS}
        print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: ``record`` or ``check`` (exit 1 on a divergence)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("record", "check"))
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--only", help="only the cases whose name contains this")
    args = parser.parse_args(argv)
    now = compute(args.only)
    if args.mode == "record":
        old = json.loads(args.file.read_text()) if args.file.exists() and args.only else {}
        args.file.write_text(json.dumps({**old, **now}, indent=0) + "\n")
        print(f"recorded {len(now)} cases in {args.file}")
        return 0
    recorded = json.loads(args.file.read_text())
    failures = 0
    for name, seeds in now.items():
        for seed, digests in seeds.items():
            want = recorded[name][seed]
            first = next((k for k, (a, b) in enumerate(zip(want, digests, strict=False)) if a != b), None)
            if first is None and len(want) != len(digests):
                first = min(len(want), len(digests))
            if first is not None:
                failures += 1
                print(f"DIFFERENT  {name} seed {seed}: first at step {first} of {len(want) - 1}")
            else:
                print(f"identical  {name} seed {seed}: {len(want) - 1} steps")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
