r"""How far Fulfilment-v0 policies are from a clairvoyant ceiling on their profit, and why.

For each policy and seeded shift this runs the episode, then compares its profit with
:func:`warehouse_sim.operations.ceiling.fixed_price_ceiling` on the demand that shift saw:
the most any policy charging the same prices could earn, knowing the whole demand path in
advance and ignoring lead times, capacities and the fleet. The shortfall is split by cause
(:func:`warehouse_sim.operations.ceiling.ceiling_gap`): margin on units demanded but not
sold (lost, or in orders still open at the end of the shift), stock paid for and not
sold, extra orders, holding, penalties. A policy whose prices
changed during a shift has no ceiling here (its row says so). A shift's demand depends only
on the seed and the prices charged, and is the same on both fidelities, so the fast
fidelity (the default) gives the ceiling of the physics runs as well::

    python training/profit_ceiling.py --jobs 2 --out runs/ceiling
    python training/profit_ceiling.py --policies baseline:newsvendor --episodes 4

Writes ``ceiling.json`` and ``ceiling.md`` (the README table) to ``--out`` if given.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim  # noqa: F401  (registers the envs)
from warehouse_sim._files import write_text_atomic
from warehouse_sim.evaluation import load_policy, run_episode, summarize
from warehouse_sim.operations.ceiling import ceiling_gap

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "warehouse_sim/Fulfilment-v0"
DEFAULT_POLICIES = (
    "baseline:heuristic",
    "baseline:horizon",
    "baseline:newsvendor",
    str(ROOT / "training/results/ppo-fulfilment-fast-warm-newsvendor/policy.onnx"),
)
PARTS = ("lost_margin", "open_margin", "unsold_stock", "extra_orders", "holding", "penalty", "other")


def shift(policy_spec: str, seed: int, env_kwargs: dict[str, Any]) -> dict[str, Any]:
    """One shift of ``policy_spec`` from ``seed``: its ceiling and gap (``None`` if its prices changed)."""
    env = gym.make(ENV_ID, **env_kwargs)
    try:
        policy = load_policy(policy_spec, env)
        prices: list[np.ndarray] = []
        run_episode(env, policy, seed, on_step=lambda record: prices.append(record["info"]["period"]["price"]))
        model = env.unwrapped.task.model  # type: ignore[attr-defined]
        cumulative = model.kpis()["cumulative"]
        fixed = all(np.array_equal(p, prices[0]) for p in prices)
        gap = None
        if fixed:
            gap = ceiling_gap(cumulative, model.initial_on_hand, model.unit_cost,
                              model.quantity_levels.max(axis=1), model.scenario.fixed_order_cost)
        return {"seed": seed, "demand": np.asarray(cumulative["demand"]).tolist(), "gap": gap}
    finally:
        env.close()


def summarize_policy(policy_spec: str, shifts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Statistics over shifts (:func:`warehouse_sim.evaluation.summarize`) of profit, ceiling and the parts of the gap."""
    row: dict[str, Any] = {"policy": policy_spec, "episodes": len(shifts)}
    gaps = [s["gap"] for s in shifts]
    if any(g is None for g in gaps):
        row["fixed_prices"] = False
        return row
    row["fixed_prices"] = True
    for key in ("profit", "ceiling", "gap", *PARTS):
        row[key] = summarize([g[key] for g in gaps])
    row["share_of_ceiling"] = row["profit"]["mean"] / row["ceiling"]["mean"]
    return row


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The README table: one row per policy."""
    head = ("| policy | profit | ceiling | share | gap | lost margin | open-order margin | unsold stock | extra orders | holding | penalty | other |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for row in rows:
        name = Path(row["policy"]).parent.name if row["policy"].endswith(".onnx") else row["policy"]
        if not row["fixed_prices"]:
            lines.append(f"| {name} | prices changed during a shift: no fixed-price ceiling |" + " |" * 10)
            continue
        cells = [_mean_se(row["profit"]), _mean_se(row["ceiling"]), f"{row['share_of_ceiling']:.3f}"]
        cells += [f"{row[k]['mean']:,.0f}" for k in ("gap", *PARTS)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _mean_se(stats: dict[str, Any]) -> str:
    return f"{stats['mean']:,.0f}" + ("" if stats["stderr"] is None else f" ± {stats['stderr']:,.0f}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shifts, print the table, write the reports; 0 on success, 2 for a bad policy."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", nargs="+", default=list(DEFAULT_POLICIES), help="policy specs, as `evaluate --policy` takes")
    parser.add_argument("--episodes", type=int, default=20, help="shifts per policy (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0: the judged seeds 0..19)")
    parser.add_argument("--env-kwargs", type=json.loads, default={"fidelity": "fast"}, help='JSON (default {"fidelity": "fast"})')
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--out", type=Path, help="folder for ceiling.json and ceiling.md")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.jobs < 1:
        parser.error("--episodes and --jobs must be at least 1")
    tasks = [(spec, args.seed + i, args.env_kwargs) for spec in args.policies for i in range(args.episodes)]
    try:
        if args.jobs == 1:
            results = [shift(*task) for task in tasks]
        else:
            with Pool(args.jobs) as pool:
                results = pool.starmap(shift, tasks)
    except (ValueError, FileNotFoundError) as exc:
        print(f"profit_ceiling: {exc}", file=sys.stderr)
        return 2
    rows = [summarize_policy(spec, results[k * args.episodes:(k + 1) * args.episodes]) for k, spec in enumerate(args.policies)]
    demand_paths = {json.dumps([s["demand"] for s in results[k * args.episodes:(k + 1) * args.episodes]])
                    for k, row in enumerate(rows) if row["fixed_prices"]}
    table = markdown(rows)
    print(table, end="")
    print(f"every fixed-price policy saw the same demand on each seed: {len(demand_paths) <= 1}")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        report = {"env_id": ENV_ID, "env_kwargs": args.env_kwargs, "seeds": [args.seed, args.seed + args.episodes - 1],
                  "rows": rows, "same_demand": len(demand_paths) <= 1}
        write_text_atomic(args.out / "ceiling.json", json.dumps(report, indent=2) + "\n")
        write_text_atomic(args.out / "ceiling.md", table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
