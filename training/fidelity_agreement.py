r"""How closely the fast fidelity of Fulfilment-v0 agrees with physics: the same baselines, the same seeded shifts.

For each baseline (``heuristic``, ``horizon``) and each fidelity (``physics``, ``fast``)
this runs the evaluation that ::

    warehouse-sim evaluate --env warehouse_sim/Fulfilment-v0 --env-kwargs '{"fidelity": "fast"}' \
        --policy baseline:heuristic --episodes 20 --seed 0 --jobs 2 --out heuristic-fast.json

runs (default scenario ``warehouse-medium``, seeds 0..19), writes the four reports and
compares each baseline's fast figures with its physics ones against the goals of issue
12: mean profit per shift within 2%, orders shipped within 3%, mean order cycle time
within 10%, robot utilisation within 0.05. Each gap comes with its standard error over
the shifts (paired: the same seed on both fidelities). ``agreement.json`` and
``agreement.md`` (the README table) go to ``--out``::

    python training/fidelity_agreement.py --jobs 2
    python training/fidelity_agreement.py --jobs 2 --reuse runs/agreement   # reuse reports there

The physics evaluations are the expensive part (20-30 minutes per baseline on 2 cores);
``--reuse DIR`` takes any report in ``DIR`` of exactly the same evaluation (env id,
env kwargs, policy, seeds) instead of running it again. The script exits 1 if a goal is
missed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from warehouse_sim._files import write_text_atomic
from warehouse_sim.evaluation import evaluate, find_report

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "warehouse_sim/Fulfilment-v0"
BASELINES = ("heuristic", "horizon")
FIDELITIES = ("physics", "fast")


@dataclass(frozen=True)
class Goal:
    """An agreement goal on one KPI of the final ``info`` of a shift.

    Attributes:
        kpi: Key in the evaluation report's ``kpis``.
        label: How the table names it.
        tolerance: Largest gap allowed: a fraction of the physics mean (``relative``) or
            in the KPI's own unit.
        relative: Whether ``tolerance`` is relative.
        digits: Decimals shown.
    """

    kpi: str
    label: str
    tolerance: float
    relative: bool
    digits: int = 0


GOALS: tuple[Goal, ...] = (
    Goal("cumulative.profit", "profit per shift (currency units)", 0.02, True),
    Goal("orders_shipped", "orders shipped per shift", 0.03, True),
    Goal("order_cycle_time_s", "mean order cycle time (s)", 0.10, True, 1),
    Goal("robot_utilisation", "robot utilisation", 0.05, False, 3),
)


def fidelity_kwargs(fidelity: str, scenario: str | None) -> dict[str, Any]:
    """Env kwargs of one side of the comparison."""
    return {"fidelity": fidelity} if scenario is None else {"scenario": scenario, "fidelity": fidelity}


def gap(goal: Goal, physics: Mapping[str, Any], fast: Mapping[str, Any], returns: tuple[Sequence[float], Sequence[float]]) -> dict[str, Any]:
    """Compare one KPI of a baseline on both fidelities.

    Args:
        goal: The KPI and its tolerance.
        physics: The physics report of the baseline.
        fast: The fast report (same seeds).
        returns: Per-shift returns (physics, fast), same seeds, for the paired standard
            error of the profit gap.

    Returns:
        ``{"physics", "fast"}`` (mean, stderr), ``gap`` (fast - physics, relative to the
        physics mean for a relative goal), ``gap_stderr`` (paired for the profit, else
        from the two standard errors), ``tolerance``, ``met``.
    """
    p, f = physics["kpis"][goal.kpi], fast["kpis"][goal.kpi]
    scale = abs(p["mean"]) if goal.relative else 1.0
    diff = (f["mean"] - p["mean"]) / scale
    if goal.kpi == "cumulative.profit":  # profit = return x reward_scale: the relative gap of the returns
        base = np.asarray(returns[0], dtype=float)
        paired = np.asarray(returns[1], dtype=float) - base
        stderr = float(paired.std(ddof=1) / math.sqrt(paired.size)) / abs(float(base.mean()))
    else:
        stderr = math.hypot(p["stderr"] or 0.0, f["stderr"] or 0.0) / scale
    return {
        "physics": {"mean": p["mean"], "stderr": p["stderr"]},
        "fast": {"mean": f["mean"], "stderr": f["stderr"]},
        "gap": diff,
        "gap_stderr": stderr,
        "relative": goal.relative,
        "tolerance": goal.tolerance,
        "met": abs(diff) <= goal.tolerance,
    }


def agreement(reports: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, Any]:
    """The comparison of every baseline and goal from the reports ``{(baseline, fidelity): report}``."""
    table: dict[str, Any] = {}
    for baseline in BASELINES:
        physics, fast = reports[baseline, "physics"], reports[baseline, "fast"]
        table[baseline] = {
            goal.kpi: gap(goal, physics, fast, (physics["returns"], fast["returns"])) for goal in GOALS
        }
    return table


def _figure(stats: Mapping[str, Any], digits: int) -> str:
    err = stats["stderr"]
    return f"{stats['mean']:,.{digits}f}" + (f" ± {err:,.{digits}f}" if err is not None else "")


def markdown(table: Mapping[str, Any], *, episodes: int, seed: int, scenario: str) -> str:
    """The agreement table (Markdown) for the README."""
    lines = [
        f"Fulfilment-v0 `{scenario}`, {episodes} seeded shifts (seeds {seed}-{seed + episodes - 1}), mean ± s.e.:",
        "",
        "| baseline | KPI | physics | fast | fast - physics | goal | met |",
        "|---|---|---|---|---|---|---|",
    ]
    for baseline, rows in table.items():
        for goal in GOALS:
            row = rows[goal.kpi]
            if goal.relative:
                diff = f"{row['gap']:+.2%} ± {row['gap_stderr']:.2%}"
                tolerance = f"within {goal.tolerance:.0%}"
            else:
                diff = f"{row['gap']:+.{goal.digits}f} ± {row['gap_stderr']:.{goal.digits}f}"
                tolerance = f"within {goal.tolerance}"
            lines.append(
                f"| `{baseline}` | {goal.label} | {_figure(row['physics'], goal.digits)} | "
                f"{_figure(row['fast'], goal.digits)} | {diff} | {tolerance} | {'yes' if row['met'] else '**no**'} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="seeded shifts per evaluation (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes per evaluation")
    parser.add_argument("--scenario", default=None, help="warehouse scenario (default: the env's, warehouse-medium)")
    parser.add_argument("--reuse", type=Path, default=None, metavar="DIR", help="reuse reports of the same evaluations found in DIR")
    parser.add_argument("--out", type=Path, default=ROOT / "training" / "results" / "fidelity-agreement", help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    reports: dict[tuple[str, str], dict[str, Any]] = {}
    for baseline in BASELINES:
        for fidelity in FIDELITIES:
            spec, kwargs = f"baseline:{baseline}", fidelity_kwargs(fidelity, args.scenario)
            target = args.out / f"{baseline}-{fidelity}.json"
            found = None
            for folder in (args.reuse, args.out):
                if folder is not None and folder.is_dir():
                    found = find_report(folder, ENV_ID, spec, env_kwargs=kwargs, episodes=args.episodes, seed=args.seed)
                if found is not None:
                    break
            started = time.perf_counter()
            report = found or evaluate(ENV_ID, spec, env_kwargs=kwargs, episodes=args.episodes, seed=args.seed, jobs=args.jobs)
            how = "reused" if found else f"evaluated in {time.perf_counter() - started:.0f} s"
            print(f"{spec} on {fidelity}: profit {report['kpis']['cumulative.profit']['mean']:,.0f} ({how})", flush=True)
            write_text_atomic(target, json.dumps(report, indent=2) + "\n")
            reports[baseline, fidelity] = report
    table = agreement(reports)
    scenario = args.scenario or "warehouse-medium"
    summary = {"env_id": ENV_ID, "scenario": scenario, "episodes": args.episodes, "seeds": [args.seed, args.seed + args.episodes - 1], "agreement": table}
    write_text_atomic(args.out / "agreement.json", json.dumps(summary, indent=2) + "\n")
    text = markdown(table, episodes=args.episodes, seed=args.seed, scenario=scenario)
    write_text_atomic(args.out / "agreement.md", text)
    print(text)
    return 0 if all(row["met"] for rows in table.values() for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
