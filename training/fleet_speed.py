"""Agent steps per wall second of the fleet as agents (warehouse_sim.fleet_env), on both fidelities.

    python training/fleet_speed.py                                  # warehouse-medium, 1-hour shift, seed 0
    python training/fleet_speed.py --scenario warehouse-small --shift-hours 2 --json fleet_speed.json
    python training/fleet_speed.py --stay-s 60                      # with the stay action: robots stay

For each fidelity one seeded shift of the PettingZoo env is played with every robot
choosing the reference rule's choice (``rule_choice``: no policy cost), and, for the
overhead of the multi-agent view, the same shift of Fulfilment-v0 with that rule. With
``--stay-s`` the fleet env offers the stay action and a robot without the rule's work
stays (``baseline:rule_stay``'s choice), so its shift differs from Fulfilment-v0's. Both
use the ``baseline:horizon`` prices and restocking. Reported per fidelity:

- ``steps/s``: PettingZoo ``step`` calls (dispatch moments with a decision) per second;
- ``agent steps/s``: agent actions per second, ``n_robots`` per step (what a parameter-
  sharing learner sees: one sample per agent and step);
- ``decisions/s``: actions of deciding robots per second (the samples that carry a choice);
- ``sim s / wall s`` of the fleet env and of Fulfilment-v0 (the same shift), and their ratio.

Construction and ``reset`` are not timed. Wall times depend on the machine and its load;
they are measurements, never pass/fail criteria.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim
from warehouse_sim.evaluation import load_policy
from warehouse_sim.tasks.fulfilment import DISPATCH_RULES
from warehouse_sim.tasks.fulfilment.agents import rule_choice

FIDELITIES = ("fast", "physics")


def fleet_shift(scenario: str, fidelity: str, seed: int, shift_hours: float, rule: str, stay_s: float = 0.0) -> dict[str, Any]:
    """One shift of the fleet env with every robot choosing the rule's choice (else staying, with ``stay_s``): counts and wall time."""
    env = warehouse_sim.fleet_env(scenario, fidelity=fidelity, shift_hours=shift_hours, rule=rule, stay_s=stay_s)
    stay = env.dispatch.stay_action  # None without the stay action
    try:
        obs, _ = env.reset(seed=seed)
        n_agents = len(env.agents)
        steps = 0
        start = time.perf_counter()
        while env.agents:
            obs, _, _, _, infos = env.step({a: rule_choice(o["observation"], o["action_mask"], stay=stay) for a, o in obs.items()})
            steps += 1
        wall = time.perf_counter() - start
        kpis = infos["robot_0"]["fulfilment"]
        return {
            "steps": steps, "agents": n_agents, "decisions": env.dispatch.decisions, "wall_s": wall,
            "sim_s": kpis["sim_time_s"], "orders_shipped": kpis["orders_shipped"],
        }
    finally:
        env.close()


def fulfilment_shift(scenario: str, fidelity: str, seed: int, shift_hours: float, rule: str) -> dict[str, Any]:
    """The same shift on Fulfilment-v0 with the rule: wall time."""
    env = gym.make("warehouse_sim/Fulfilment-v0", scenario=scenario, fidelity=fidelity, shift_hours=shift_hours)
    try:
        policy = load_policy("baseline:horizon", env)
        task = env.unwrapped.task
        obs, _ = env.reset(seed=seed)
        policy.reset(env)
        done = False
        start = time.perf_counter()
        while not done:
            action = np.array(policy.act(obs))
            action[task.n_classes + task.model.n_skus] = DISPATCH_RULES.index(rule)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
        return {"wall_s": time.perf_counter() - start, "sim_s": info["sim_time_s"], "orders_shipped": info["orders_shipped"]}
    finally:
        env.close()


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table (and write ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="warehouse-medium")
    parser.add_argument("--shift-hours", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rule", default="nearest", choices=DISPATCH_RULES)
    parser.add_argument("--fidelity", choices=FIDELITIES, action="append", help="default: both")
    parser.add_argument("--stay-s", type=float, default=0.0, help="offer the stay action (seconds); robots then stay")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    rows = []
    for fidelity in args.fidelity or FIDELITIES:
        fleet = fleet_shift(args.scenario, fidelity, args.seed, args.shift_hours, args.rule, args.stay_s)
        single = fulfilment_shift(args.scenario, fidelity, args.seed, args.shift_hours, args.rule)
        if not args.stay_s and single["orders_shipped"] != fleet["orders_shipped"]:
            print(f"warning: {fidelity}: the two views shipped {fleet['orders_shipped']} and "
                  f"{single['orders_shipped']} orders (expected equal)", file=sys.stderr)
        wall = fleet["wall_s"]
        row = {
            "fidelity": fidelity, **fleet,
            "steps_per_s": fleet["steps"] / wall,
            "agent_steps_per_s": fleet["steps"] * fleet["agents"] / wall,
            "decisions_per_s": fleet["decisions"] / wall,
            "sim_per_wall": fleet["sim_s"] / wall,
            "fulfilment_wall_s": single["wall_s"],
            "fulfilment_sim_per_wall": single["sim_s"] / single["wall_s"],
            "overhead": wall / single["wall_s"],
        }
        rows.append(row)
        print(
            f"{fidelity:8s} {row['steps']:6d} steps x {row['agents']} agents in {wall:7.1f} s: "
            f"{row['steps_per_s']:8.1f} steps/s, {row['agent_steps_per_s']:8.1f} agent steps/s, "
            f"{row['decisions_per_s']:8.1f} decisions/s; sim/wall {row['sim_per_wall']:7.1f} "
            f"(Fulfilment-v0 {row['fulfilment_sim_per_wall']:7.1f}, x{row['overhead']:.2f} wall)",
            flush=True,
        )
    if args.json is not None:
        report = {"scenario": args.scenario, "shift_hours": args.shift_hours, "seed": args.seed, "rule": args.rule,
                  "stay_s": args.stay_s,
                  "machine": platform.processor() or platform.machine(), "rows": rows}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
