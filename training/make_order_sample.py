"""Write a sample order stream (CSV) for the ``replay`` demand model.

The shipped sample ``assets/demand/orders-sample.csv`` was made with::

    python training/make_order_sample.py --scenario catalogue-20 --days 3 --seed 0 --out assets/demand/orders-sample.csv

It simulates the scenario's customers at its base prices with a retail time profile
(quiet nights, a lunchtime and an evening peak; busier weekends) hour by hour through the
operations model's order book, and writes every order line as
``timestamp,order_id,sku,units,price`` from Monday 2024-03-04 00:00. Any scenario works,
so the same script makes streams for other catalogues (``--scenario PATH.yaml``).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from warehouse_sim.operations import OperationsModel, load_scenario
from warehouse_sim.operations.demand import DemandSpec

START = datetime(2024, 3, 4)  # a Monday
#: Hour-of-day multipliers (mean 1): quiet nights, a lunchtime and an evening peak.
HOURS = (0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 0.9, 1.2, 1.3, 1.3, 1.5,
         1.6, 1.4, 1.2, 1.2, 1.3, 1.5, 1.8, 2.0, 1.8, 1.3, 0.8, 0.6)  # fmt: skip
DAYS = (0.9, 0.9, 0.95, 1.0, 1.1, 1.15, 1.0)  # Monday..Sunday


def write_sample(scenario_name: str, *, days: int, seed: int, out: Path) -> int:
    """Simulate ``days`` days of orders and write them to ``out``; return the number of lines."""
    base = load_scenario(scenario_name)
    scenario = dataclasses.replace(
        base, period_hours=24.0, demand=DemandSpec(model="time_profile", hour_of_day=HOURS, day_of_week=DAYS)
    )
    model = OperationsModel(scenario)
    rng = np.random.default_rng(seed)
    lines = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "order_id", "sku", "units", "price"])
        for _ in range(days):
            model.start_period()
            for _ in range(24):
                for order in model.arrive_orders(1.0, rng):
                    stamp = (START + timedelta(seconds=int(order.placed_h * 3600))).isoformat()
                    for sku, units, price in zip(order.skus, order.quantities, order.prices, strict=True):
                        writer.writerow([stamp, f"{order.id + 1:06d}", scenario.skus[sku].id, int(units), f"{price:g}"])
                        lines += 1
            model.end_period()
    return lines


def main() -> None:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="catalogue-20")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("assets/demand/orders-sample.csv"))
    args = parser.parse_args()
    lines = write_sample(args.scenario, days=args.days, seed=args.seed, out=args.out)
    print(f"wrote {lines} order lines to {args.out}")


if __name__ == "__main__":
    main()
