"""A clairvoyant ceiling on an episode's profit at fixed prices, and where a policy falls below it.

Given the demand an episode actually saw, no policy that charged the same prices all along
can earn more than selling every demanded unit it pays for, buying the units beyond the
initial stock at unit cost in the fewest largest lots, with no holding cost and no penalty.
Per SKU that is ::

    max over 0 <= S <= D of  S * price - (S - I)+ * unit_cost - K * ceil((S - I)+ / max_lot)

(``D`` units demanded, ``I`` initially on hand, ``K`` the fixed cost per order). The
ceiling knows the whole demand path in advance and ignores lead times, capacities and the
fleet, so it is loose. It bounds the profit of any episode whose prices never changed,
computed from that episode's own demand. Where demand depends only on the seed and the
prices (no substitution, no promotions: Fulfilment-v0's default scenario), policies that
charge the same prices share one ceiling per seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def fixed_price_ceiling(
    demand: np.ndarray,
    price: np.ndarray,
    unit_cost: np.ndarray,
    initial_on_hand: np.ndarray,
    max_lot: np.ndarray,
    fixed_order_cost: float,
) -> np.ndarray:
    """The most profit per SKU any fixed-price policy can make from ``demand`` (currency units).

    Args:
        demand: Units demanded per SKU over the episode, shape ``(n_skus,)``.
        price: Price per unit per SKU, shape ``(n_skus,)``.
        unit_cost: Purchase cost per unit per SKU, shape ``(n_skus,)``.
        initial_on_hand: Units on hand at the start per SKU (bought before), shape ``(n_skus,)``.
        max_lot: Largest order quantity per SKU (units, >= 1), shape ``(n_skus,)``.
        fixed_order_cost: Cost of each order (currency units, >= 0).

    Returns:
        The ceiling per SKU, shape ``(n_skus,)``; its sum is the episode's.

    Raises:
        ValueError: for mismatched shapes, negative demand or stock, or a lot under 1.
    """
    arrays = [np.asarray(a) for a in (demand, price, unit_cost, initial_on_hand, max_lot)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError(f"per-SKU arrays must share one 1-d shape, got {[a.shape for a in arrays]}")
    demand_, price_, cost_, initial_, lot_ = arrays
    if (demand_ < 0).any() or (initial_ < 0).any() or (lot_ < 1).any() or fixed_order_cost < 0:
        raise ValueError("demand, initial stock and the fixed order cost must be >= 0 and every lot >= 1")
    best = np.empty(demand_.shape, dtype=np.float64)
    for i, units in enumerate(demand_.astype(np.int64)):
        sold = np.arange(units + 1)
        bought = np.maximum(sold - initial_[i], 0)
        profit = sold * price_[i] - bought * cost_[i] - fixed_order_cost * np.ceil(bought / lot_[i])
        best[i] = profit.max()
    return best


def ceiling_gap(
    cumulative: Mapping[str, Any],
    initial_on_hand: np.ndarray,
    unit_cost: np.ndarray,
    max_lot: np.ndarray,
    fixed_order_cost: float,
) -> dict[str, float]:
    """A fixed-price episode's ceiling and the shortfall of its profit, split by cause (currency units).

    Args:
        cumulative: The ledger's cumulative KPIs at the end of the episode (``info["cumulative"]``
            of Inventory-v0 and Fulfilment-v0): per-SKU ``demand``, ``sales``, ``lost`` and ``price``
            (the prices in force, assumed unchanged all episode), the costs and ``profit``.
        initial_on_hand: Units on hand at the start per SKU, shape ``(n_skus,)``.
        unit_cost: Purchase cost per unit per SKU, shape ``(n_skus,)``.
        max_lot: Largest order quantity per SKU, shape ``(n_skus,)``.
        fixed_order_cost: Cost of each order.

    Returns:
        ``ceiling``, ``profit``, ``gap`` (ceiling - profit) and its parts:

        * ``lost_margin``: units lost (orders expired unserved) times price - unit cost;
        * ``open_margin``: units of orders still open at the end (demanded, neither sold nor
          lost) times price - unit cost;
        * ``unsold_stock``: what was paid for units not sold (purchases beyond the units sold
          out of the initial stock), at unit cost;
        * ``extra_orders``: fixed order costs beyond the ceiling's (the fewest largest lots
          for the units demanded beyond the initial stock); negative if fewer were placed;
        * ``holding``, ``penalty``, ``promotion``: those costs;
        * ``other``: the rest of the gap: zero when the ceiling sells every demanded unit,
          every SKU sold at least its initial stock and the revenue was earned at ``price``.
    """
    demand = np.asarray(cumulative["demand"], dtype=np.int64)
    sales = np.asarray(cumulative["sales"], dtype=np.int64)
    lost = np.asarray(cumulative["lost"], dtype=np.int64)
    price = np.asarray(cumulative["price"], dtype=np.float64)
    cost = np.asarray(unit_cost, dtype=np.float64)
    initial = np.asarray(initial_on_hand, dtype=np.int64)
    ceiling = float(fixed_price_ceiling(demand, price, cost, initial, max_lot, fixed_order_cost).sum())
    money = {k: float(cumulative.get(k, 0.0)) for k in ("purchase_cost", "order_cost", "holding_cost", "penalty", "promotion_cost")}
    profit = float(cumulative["profit"])
    lots = np.ceil(np.maximum(demand - initial, 0) / np.asarray(max_lot)).sum()
    parts = {
        "lost_margin": float(lost @ (price - cost)),
        "open_margin": float((demand - sales - lost) @ (price - cost)),
        "unsold_stock": money["purchase_cost"] - float(np.maximum(sales - initial, 0) @ cost),
        "extra_orders": money["order_cost"] - fixed_order_cost * float(lots),
        "holding": money["holding_cost"],
        "penalty": money["penalty"],
        "promotion": money["promotion_cost"],
    }
    gap = ceiling - profit
    return {"ceiling": ceiling, "profit": profit, "gap": gap, **parts, "other": gap - sum(parts.values())}
