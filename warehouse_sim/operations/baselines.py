"""Classical restocking and pricing baselines, as decision rules on an operations model.

Each baseline is a :class:`DecisionRule`: ``decide(model) -> (order_level, price_level)``
per SKU, read from the model's state between periods. Adapters in
:mod:`warehouse_sim.policies.inventory` turn them into env policies.

- :class:`TableRule`: a stationary policy table of a :class:`~warehouse_sim.operations.mdp.SingleSkuMdp`
  (the DP optimum, or a tabular Q-learning / SARSA greedy policy).
- :class:`ReorderRule`: (s, S) restocking at fixed prices: when the inventory position
  (on hand + on order - backlog) is at most ``s``, order the smallest level that lifts
  it to ``S`` or more (the largest level if none does). Base-stock is ``s = S - 1``.

Parameters come from searches on the exact MDP for single-SKU scenarios
(:func:`search_reorder`) and from textbook formulas otherwise (:func:`heuristic_reorder`).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np

from warehouse_sim.operations.catalogue import Scenario, Sku
from warehouse_sim.operations.mdp import SingleSkuMdp
from warehouse_sim.operations.model import OperationsModel


class DecisionRule(abc.ABC):
    """A restocking and pricing rule over an operations model's state."""

    @abc.abstractmethod
    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Return (order level, price level) per SKU for the next period."""


class TableRule(DecisionRule):
    """Act by a policy table of a single-SKU MDP (state from the model's on hand and pipeline)."""

    def __init__(self, mdp: SingleSkuMdp, table: np.ndarray) -> None:
        if table.shape != (mdp.n_states,):
            raise ValueError(f"policy table must have shape ({mdp.n_states},), got {table.shape}")
        self.mdp = mdp
        self.table = table

    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Look up the action of the model's current state."""
        m = self.mdp
        state = m.state_of(int(model.on_hand[0]), model.pipeline[0, : m.lead_time])
        action = int(self.table[state])
        return np.array([action // m.n_p]), np.array([action % m.n_p])


def _reorder_levels(position: np.ndarray, s: np.ndarray, big_s: np.ndarray, quantities: np.ndarray) -> np.ndarray:
    """Order-level index per row for inventory positions; ``quantities`` (rows, levels) ascending."""
    need = big_s[..., None] - position[..., None]
    enough = quantities >= need
    first = np.where(enough.any(axis=-1), enough.argmax(axis=-1), quantities.shape[-1] - 1)
    zero = np.argmin(quantities, axis=-1)
    return np.where(position <= s, first, zero)


class ReorderRule(DecisionRule):
    """(s, S) restocking at fixed price levels, per SKU.

    Args:
        s: Reorder points, shape ``(n_skus,)`` (units of inventory position).
        order_up_to: Order-up-to levels ``S`` (> s), shape ``(n_skus,)``.
        price_idx: Fixed price level per SKU.
    """

    def __init__(self, s: np.ndarray, order_up_to: np.ndarray, price_idx: np.ndarray) -> None:
        self.s = np.asarray(s, dtype=np.int64)
        self.order_up_to = np.asarray(order_up_to, dtype=np.int64)
        self.price_idx = np.asarray(price_idx, dtype=np.int64)
        if (self.order_up_to <= self.s).any():
            raise ValueError(f"order_up_to {self.order_up_to} must exceed s {self.s}")

    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Order by the (s, S) rule at the fixed prices."""
        position = model.on_hand + model.pipeline.sum(axis=1) - model.backlog
        levels = _reorder_levels(position, self.s, self.order_up_to, model.quantity_levels)
        return np.minimum(levels, model.n_quantity_levels - 1), self.price_idx.copy()

    def table(self, mdp: SingleSkuMdp) -> np.ndarray:
        """The same rule as a policy table of a single-SKU MDP."""
        return reorder_tables(mdp, self.s[:1], self.order_up_to[:1], self.price_idx[:1])[0]


def inventory_positions(mdp: SingleSkuMdp) -> np.ndarray:
    """Inventory position (on hand + on order) of every MDP state, shape ``(n_states,)``."""
    s = np.arange(mdp.n_states)
    x = s // mdp.n_pipelines
    pipe_units = np.zeros(mdp.n_states, dtype=np.int64)
    rest = s % mdp.n_pipelines
    for _ in range(mdp.lead_time):
        pipe_units += mdp.quantities[rest % mdp.n_q]
        rest //= mdp.n_q
    return x + pipe_units


def reorder_tables(mdp: SingleSkuMdp, s: np.ndarray, big_s: np.ndarray, price_idx: np.ndarray) -> np.ndarray:
    """Policy tables of many (s, S, price) rules, shape ``(n_rules, n_states)``, int16."""
    position = inventory_positions(mdp)[None, :]
    levels = _reorder_levels(position, s[:, None], big_s[:, None], mdp.quantities[None, None, :])
    return (levels * mdp.n_p + price_idx[:, None]).astype(np.int16)


@dataclass(frozen=True)
class ReorderSearch:
    """The best rule found and its exact expected profit per period over the horizon."""

    rule: ReorderRule
    profit_per_period: float


def search_reorder(
    mdp: SingleSkuMdp,
    *,
    base_stock: bool = False,
    price_levels: tuple[int, ...] | None = None,
    horizon: int = 200,
    episodes: int = 16,
    finalists: int = 12,
    seed: int = 0,
) -> ReorderSearch:
    """Best (s, S) (or base-stock) rule at the best fixed price for a single-SKU MDP.

    Every rule with ``0 <= s < capacity + max level`` and ``1 <= S - s <= max level``
    (larger gaps order the largest level anyway) at every price is scored by a
    common-random-number simulation; the ``finalists`` best are then evaluated exactly
    (:meth:`SingleSkuMdp.evaluate` over ``horizon`` periods from the initial state).

    Args:
        mdp: The single-SKU MDP.
        base_stock: Only rules with ``s = S - 1`` (order up to S every period).
        price_levels: Price levels to consider (default: all).
        horizon: Episode length the rules are scored on.
        episodes: Simulated episodes per rule in the screening.
        finalists: Rules evaluated exactly.
        seed: Seed of the screening's demand.
    """
    q_max = int(mdp.quantities.max())
    prices = range(mdp.n_p) if price_levels is None else price_levels
    gaps = [1] if base_stock else list(range(1, q_max + 1))
    grid = np.array([(s, s + g, p) for p in prices for s in range(0, mdp.capacity + q_max) for g in gaps])
    scores = np.concatenate([
        mdp.simulate(reorder_tables(mdp, chunk[:, 0], chunk[:, 1], chunk[:, 2]), episodes=episodes, horizon=horizon, seed=seed)
        for chunk in np.array_split(grid, max(1, len(grid) // 512))
    ])
    best = None
    for k in np.argsort(-scores)[:finalists]:
        s, big_s, p = grid[k]
        table = reorder_tables(mdp, grid[k : k + 1, 0], grid[k : k + 1, 1], grid[k : k + 1, 2])[0].astype(np.int64)
        value = mdp.evaluate(table, horizon) / horizon
        if best is None or value > best.profit_per_period:
            best = ReorderSearch(ReorderRule(np.array([s]), np.array([big_s]), np.array([p])), value)
    assert best is not None
    return best


def myopic_price_level(sku: Sku) -> int:
    """Level nearest to the constant-elasticity monopoly price e / (e - 1) * unit cost.

    With elasticity <= 1 the profit rises with price without bound: the highest level.
    """
    if sku.elasticity <= 1.0:
        return len(sku.prices) - 1
    target = sku.elasticity / (sku.elasticity - 1.0) * sku.unit_cost
    return int(np.argmin(np.abs(np.array(sku.prices) - target)))


def heuristic_reorder(scenario: Scenario, *, base_stock: bool, myopic: bool, z: float = 1.65) -> ReorderRule:
    """Textbook (s, S) or base-stock parameters per SKU (for scenarios without an exact MDP).

    Price: the base-price level, or the myopic level. With mean demand ``m`` over
    ``lead_time + 1`` periods: ``s = m + z sqrt(m)`` (Poisson safety stock) and
    ``S = s + EOQ`` with ``EOQ = sqrt(2 K rate / h)``; base-stock orders up to ``s + 1``.
    Levels are capped at the SKU's capacity plus its pipeline.
    """
    s_list, big_s_list, price_list = [], [], []
    for sku in scenario.skus:
        level = myopic_price_level(sku) if myopic else int(np.argmin(np.abs(np.array(sku.prices) - sku.base_price)))
        rate = sku.demand_rate(sku.prices[level]) * float(np.mean(scenario.seasonality))
        mean = rate * (sku.lead_time + 1)
        s = int(math.ceil(mean + z * math.sqrt(mean)))
        eoq = math.sqrt(2.0 * scenario.fixed_order_cost * rate / sku.holding_cost) if sku.holding_cost > 0 else rate
        big_s = s + 1 if base_stock else s + max(1, int(round(eoq)))
        if sku.capacity is not None:
            cap = sku.capacity + sku.lead_time * max(sku.order_quantities)
            s, big_s = min(s, cap - 1), min(big_s, cap)
        s_list.append(s)
        big_s_list.append(big_s)
        price_list.append(level)
    return ReorderRule(np.array(s_list), np.array(big_s_list), np.array(price_list))
