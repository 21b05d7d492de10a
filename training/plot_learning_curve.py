"""Draw the learning curve of one or more run folders (for the README).

    python training/plot_learning_curve.py runs/reference/ppo-navigation --kpi is_success --out curve.png

Training return comes from the SB3 Monitor logs (``RUN/monitor/*.monitor.csv``, moving
average), the deterministic evaluations from ``RUN/evaluations.jsonl``; ``--kpi`` adds a
panel with one evaluation KPI (``is_success``, ``spl``, ``cumulative.profit``, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from warehouse_sim.plotting import plot_learning_curve, save_figure_atomic


def main(argv: list[str] | None = None) -> int:
    """Command line of this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="run folder (written by warehouse-sim train)")
    parser.add_argument("--out", type=Path, required=True, help="image file (.png, .svg, .pdf)")
    parser.add_argument("--kpi", default=None, help="evaluation KPI for a second panel")
    parser.add_argument("--reference", type=float, default=None, help="a horizontal reference level on the KPI panel")
    parser.add_argument("--reference-label", default="baseline", help="legend of the reference level")
    parser.add_argument("--window", type=int, default=50, help="episodes in the moving average")
    parser.add_argument("--title", default="", help="figure title")
    args = parser.parse_args(argv)
    if not (args.run / "monitor").is_dir():
        parser.error(f"{args.run} has no monitor/ folder: not a run folder")
    fig = plot_learning_curve(
        args.run,
        title=args.title,
        kpi=args.kpi,
        reference=args.reference,
        reference_label=args.reference_label,
        window=args.window,
    )
    save_figure_atomic(fig, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
