"""Price-elastic Poisson demand, per period or over a shorter window as multi-line orders.

Per SKU i, units arrive as a Poisson process with rate per period
``base_rate_i * (price_i / base_price_i)^(-elasticity_i) * seasonality[period % len]``.
Over a window of ``hours`` the count is Poisson with that rate times
``hours / period_hours``. Units of one window are grouped into customer orders of
``1 + Poisson(mean_lines_per_order - 1)`` units (same-SKU units merged into one line), so
the per-SKU demand stays exactly Poisson whatever the grouping. All draws come from the
generator passed in.
"""

from __future__ import annotations

import numpy as np


def demand_rates(
    base_rate: np.ndarray, base_price: np.ndarray, elasticity: np.ndarray, price: np.ndarray, season: float
) -> np.ndarray:
    """Mean demand per period for each SKU at ``price``, shape ``(n_skus,)``."""
    return base_rate * (price / base_price) ** (-elasticity) * season


def group_into_orders(
    units: np.ndarray, mean_lines: float, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group per-SKU unit counts into orders.

    Args:
        units: Units demanded per SKU in the window, shape ``(n_skus,)``, int.
        mean_lines: Mean units per order (>= 1).
        rng: Source of randomness.

    Returns:
        One ``(skus, quantities)`` pair per order (distinct SKU indices, units >= 1), in
        arrival order; the quantities sum to ``units`` per SKU.
    """
    flat = np.repeat(np.arange(units.size), units)
    if flat.size == 0:
        return []
    rng.shuffle(flat)
    sizes = 1 + rng.poisson(mean_lines - 1.0, size=flat.size) if mean_lines > 1.0 else np.ones(flat.size, dtype=np.int64)
    bounds = np.cumsum(sizes)
    bounds = bounds[bounds < flat.size]
    orders = []
    for chunk in np.split(flat, bounds):
        skus, quantities = np.unique(chunk, return_counts=True)
        orders.append((skus, quantities.astype(np.int64)))
    return orders
