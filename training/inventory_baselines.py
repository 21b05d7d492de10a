"""Reproduce the Inventory-v0 baseline figures and env throughput of issue 3.

Usage::

    python training/inventory_baselines.py [--episodes 100] [--out inventory_baselines.json]

Prints, for the reference instance (``reference-single-sku``, 200-period episodes from
20 on hand and an empty pipeline):

- the DP optimum's average-reward gain (relative value iteration), and the optimum of
  the 200-period problem by backward induction (a policy that sees the period index,
  which the env's observation does not show: an upper bound);
- for every baseline: its exact expected profit per period over the 200-period episode
  (state-distribution propagation on the exact MDP, no sampling noise), the mean over
  ``--episodes`` seeded env episodes (seeds 0..N-1, through ``gym.make`` and the
  ``baseline:NAME`` policies), and both as ratios to the optimum's;
- env steps per second, one process, through ``gym.make``, next to CartPole-v1's in the
  same run (the machine is shared: compare ratios).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.evaluation import run_episodes
from warehouse_sim.operations import load_scenario
from warehouse_sim.operations.baselines import TableRule
from warehouse_sim.operations.mdp import SingleSkuMdp
from warehouse_sim.policies.inventory import InventoryRulePolicy
from warehouse_sim.policies.registry import make_baseline

ENV_ID = "warehouse_sim/Inventory-v0"
NAMES = ("optimal", "sS", "base-stock", "myopic-price", "q-learning", "sarsa", "random")


def simulate(env: gym.Env[Any, Any], name: str, episodes: int) -> tuple[float, float, float]:
    """Mean and standard error of profit per period over seeded episodes, and build seconds."""
    start = time.perf_counter()
    policy = make_baseline(name, env)
    build = time.perf_counter() - start
    results = run_episodes(env, policy, episodes=episodes)
    values = np.array([r.kpis["cumulative.profit"] for r in results]) / env.unwrapped.horizon
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size)), build


def baseline_figures(episodes: int) -> dict[str, Any]:
    """Exact and simulated profit per period of every baseline on the reference instance."""
    scenario = load_scenario("reference-single-sku")
    mdp = SingleSkuMdp(scenario)
    start = time.perf_counter()
    solution = mdp.solve()
    solve_s = time.perf_counter() - start
    env = gym.make(ENV_ID, continuous=False)
    rows: dict[str, dict[str, float | None]] = {}
    for name in NAMES:
        mean, stderr, build = simulate(env, name, episodes)
        exact = None
        if name != "random":
            policy = make_baseline(name, env)
            assert isinstance(policy, InventoryRulePolicy)
            rule = policy.rule
            table = rule.table if isinstance(rule, TableRule) else rule.table(mdp)  # type: ignore[union-attr]
            exact = mdp.evaluate(np.asarray(table, dtype=np.int64), scenario.horizon) / scenario.horizon
        rows[name] = {"exact": exact, "simulated_mean": mean, "simulated_stderr": stderr, "build_s": build}
    opt_exact, opt_sim = rows["optimal"]["exact"], rows["optimal"]["simulated_mean"]
    for row in rows.values():
        row["ratio_exact"] = None if row["exact"] is None else row["exact"] / opt_exact  # type: ignore[operator]
        row["ratio_simulated"] = row["simulated_mean"] / opt_sim  # type: ignore[operator]
    return {
        "dp_gain": solution.gain,
        "finite_horizon_optimum": mdp.finite_horizon_value(scenario.horizon) / scenario.horizon,
        "dp_iterations": solution.iterations,
        "dp_solve_s": solve_s,
        "episodes": episodes,
        "baselines": rows,
    }


def throughput(steps: int = 30_000) -> dict[str, float]:
    """Env steps per second through gym.make with pre-sampled random actions (and CartPole's)."""
    out: dict[str, float] = {}
    cases = [("CartPole-v1", {}), *((ENV_ID, {"scenario": s, "continuous": c})
             for s in ("reference-single-sku", "catalogue-20") for c in (False, True))]
    for env_id, kwargs in cases:
        env = gym.make(env_id, **kwargs)
        env.action_space.seed(0)
        actions = [env.action_space.sample() for _ in range(1000)]
        env.reset(seed=0)
        elapsed = 0.0
        for k in range(steps):
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(actions[k % 1000])
            elapsed += time.perf_counter() - start
            if terminated or truncated:
                env.reset()
        label = env_id if not kwargs else f"{kwargs['scenario']} continuous={kwargs['continuous']}"
        out[label] = steps / elapsed
    return out


def main() -> None:
    """Print the figures; write them as JSON with ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--out", default=None)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    figures = baseline_figures(args.episodes)
    print(f"DP optimum gain (average reward): {figures['dp_gain']:.4f} per period "
          f"({figures['dp_iterations']} RVI iterations, {figures['dp_solve_s']:.2f} s)")
    print(f"time-aware finite-horizon optimum (sees the period index): {figures['finite_horizon_optimum']:.4f} per period")
    print(f"{'baseline':14s} {'exact/period':>12s} {'ratio':>7s} {'sim mean':>9s} {'+-se':>6s} {'ratio':>7s} {'build s':>8s}")
    for name, row in figures["baselines"].items():
        exact = "-" if row["exact"] is None else f"{row['exact']:.3f}"
        ratio = "-" if row["ratio_exact"] is None else f"{row['ratio_exact']:.3f}"
        print(f"{name:14s} {exact:>12s} {ratio:>7s} {row['simulated_mean']:9.3f} {row['simulated_stderr']:6.3f} "
              f"{row['ratio_simulated']:7.3f} {row['build_s']:8.1f}")
    if not args.skip_throughput:
        figures["steps_per_second"] = throughput()
        for label, rate in figures["steps_per_second"].items():
            print(f"{label:45s} {rate:10.0f} steps/s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
