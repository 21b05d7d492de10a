"""Env steps per second with the envs in Ray actors vs SB3's SubprocVecEnv, side by side.

    python training/ray_bench.py                      # every case below, local Ray
    python training/ray_bench.py --only fulfilment-medium --rounds 3
    python training/ray_bench.py --address auto --json ray_bench.json   # on a running cluster

For each case, the same envs (same ids, kwargs and seeds) are stepped with the same
seeded random actions through each vectorised env kind, in interleaved rounds (so a
noisy, shared machine slows every kind alike); the first round of each kind is a warm-up
and not counted. Kinds:

- ``subproc``: SB3 ``SubprocVecEnv``, one process per env (the reference);
- ``ray``: ``RayVecEnv`` with one env per actor (the actor hop is paid per env, in parallel);
- ``ray-batched``: ``RayVecEnv`` with all envs in one actor (one hop per step, no parallelism);
- ``dummy``: SB3 ``DummyVecEnv``, every env in this process (no hop at all).

Reported per kind: median env steps/s over the rounds (vectorised steps x envs / s), and
each kind's ratio to ``subproc``. Start-up (processes, actors, Ray) is not timed. No
learner runs: this is the env side of training only.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

#: Case name -> (env id, env kwargs, vectorised steps per round).
CASES: dict[str, tuple[str, dict[str, Any], int]] = {
    "navigation": ("warehouse_sim/Navigation-v0", {}, 1_000),
    "fulfilment-tiny": ("warehouse_sim/Fulfilment-v0", {"scenario": "warehouse-tiny"}, 24),
    "fulfilment-medium": ("warehouse_sim/Fulfilment-v0", {}, 4),
}
KINDS = ("subproc", "ray", "ray-batched", "dummy")


def _factory(env_id: str, kwargs: Mapping[str, Any]) -> Callable[[], gym.Env[Any, Any]]:
    def make() -> gym.Env[Any, Any]:
        import warehouse_sim  # noqa: F401 - registers the ids in a worker

        return gym.make(env_id, **dict(kwargs))

    return make


def _vec_env(kind: str, factories: list[Callable[[], gym.Env[Any, Any]]]) -> Any:
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    from warehouse_sim.training.ray_cluster import RayEnvConfig
    from warehouse_sim.training.ray_vec_env import make_ray_vec_env

    if kind == "subproc":
        return SubprocVecEnv(factories)
    if kind == "dummy":
        return DummyVecEnv(factories)
    envs_per_actor = 1 if kind == "ray" else len(factories)
    return make_ray_vec_env(factories, config=RayEnvConfig(envs_per_actor=envs_per_actor, num_cpus=0))


def bench_case(name: str, *, n_envs: int, rounds: int, seed: int) -> dict[str, Any]:
    """Time every kind on one case; return the per-round rates and their medians."""
    env_id, kwargs, steps = CASES[name]
    factories = [_factory(env_id, kwargs) for _ in range(n_envs)]
    venvs = {kind: _vec_env(kind, factories) for kind in KINDS}
    rates: dict[str, list[float]] = {kind: [] for kind in KINDS}
    try:
        space = venvs["subproc"].action_space
        space.seed(seed)
        actions = [np.stack([space.sample() for _ in range(n_envs)]) for _ in range(steps)]
        for venv in venvs.values():
            venv.seed(seed)
            venv.reset()
        for round_ in range(rounds + 1):  # round 0 warms up
            for kind, venv in venvs.items():
                start = time.perf_counter()
                for action in actions:
                    venv.step(action)
                elapsed = time.perf_counter() - start
                if round_ > 0:
                    rates[kind].append(steps * n_envs / elapsed)
    finally:
        for venv in venvs.values():
            venv.close()
    medians = {kind: statistics.median(values) for kind, values in rates.items()}
    return {
        "case": name,
        "env_id": env_id,
        "env_kwargs": kwargs,
        "n_envs": n_envs,
        "steps_per_round": steps,
        "rounds": rounds,
        "steps_per_s": {kind: round(value, 3) for kind, value in medians.items()},
        "ratio_to_subproc": {kind: round(value / medians["subproc"], 3) for kind, value in medians.items()},
        "rounds_steps_per_s": {kind: [round(v, 3) for v in values] for kind, values in rates.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CASES), action="append", help="case(s) to run (default: all)")
    parser.add_argument("--n-envs", type=int, default=2, help="envs per vectorised env (default 2)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per kind (default 5; plus one warm-up)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--address", default=None, help="Ray cluster (default: a local Ray for this script)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    import ray
    import torch

    from warehouse_sim.training.ray_cluster import init_ray

    torch.set_num_threads(1)
    owned = init_ray(args.address)
    try:
        results = []
        for name in args.only or list(CASES):
            result = bench_case(name, n_envs=args.n_envs, rounds=args.rounds, seed=args.seed)
            results.append(result)
            cells = "  ".join(
                f"{kind} {result['steps_per_s'][kind]:,.4g}/s ({result['ratio_to_subproc'][kind]:.3f}x)" for kind in KINDS
            )
            print(f"{name:18s} {args.n_envs} envs: {cells}", flush=True)
        cluster = {"nodes": len(ray.nodes()), "cpus": ray.cluster_resources().get("CPU")}
    finally:
        if owned:
            ray.shutdown()
    if args.json:
        meta = {"python": platform.python_version(), "ray": ray.__version__, "machine": platform.node(), "cluster": cluster}
        args.json.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
