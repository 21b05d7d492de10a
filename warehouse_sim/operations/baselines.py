"""Classical restocking, pricing and promotion baselines, as decision rules on an operations model.

Each baseline is a :class:`DecisionRule`: ``decide(model) -> (order_level, price_level)``
per SKU, read from the model's state between periods, and ``promote(model)``, the SKUs
to feature in the promotion slots (:func:`feature_by_margin_and_cover` for every rule).
Adapters in :mod:`warehouse_sim.policies.inventory` turn them into env policies.

- :class:`TableRule`: a stationary policy table of a :class:`~warehouse_sim.operations.mdp.SingleSkuMdp`
  (the DP optimum, or a tabular Q-learning / SARSA greedy policy).
- Rules on the inventory position (on hand + on order - backlog) at fixed price levels
  (:class:`PositionRule`), each also a batch of rules when its parameters are column
  arrays (how the searches screen hundreds at once):

  - :class:`ReorderRule`: (s, S): when the position is at most ``s``, order the smallest
    level that lifts it to ``S`` or more (the largest level if none does). Base-stock is
    ``s = S - 1``.
  - :class:`CappedBaseStockRule`: order ``min(r, max(S - position, 0))`` units (the nearest
    level), the capped base-stock policy of Xin (2021, "Understanding the performance of
    capped base-stock policies in lost-sales inventory models", Operations Research).
  - :class:`ConstantOrderRule`: the same level every period, whatever the state.

Parameters come from searches on the exact MDP for single-SKU Poisson scenarios
(:func:`search_rule`: every rule of a grid screened by a common-random-number simulation,
the best few evaluated exactly) and from textbook formulas on the demand model's moments
otherwise (:func:`heuristic_reorder`).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from warehouse_sim.operations.catalogue import Scenario, Sku
from warehouse_sim.operations.demand import period_moments
from warehouse_sim.operations.mdp import ActionFn, SingleSkuMdp
from warehouse_sim.operations.model import OperationsModel

RuleFamily = Literal["sS", "base-stock", "capped-base-stock", "constant-order"]
RULE_FAMILIES: tuple[str, ...] = ("sS", "base-stock", "capped-base-stock", "constant-order")


def feature_by_margin_and_cover(model: OperationsModel) -> np.ndarray:
    """The promotion heuristic: feature the highest-margin SKUs that have the stock to sell more.

    A SKU is a candidate when its available stock covers at least one period of its
    promoted demand (``available >= uplift x rate`` at the price in force) and the
    expected extra margin of featuring it, ``(price - unit cost) x (uplift - 1) x rate x
    (1 - cannibalisation)``, exceeds the slot cost. Up to ``promotion_slots`` candidates
    with the largest extra margin are featured.

    Returns:
        Boolean mask per SKU, shape ``(n_skus,)`` (all False without promotion slots).
    """
    featured = np.zeros(model.n_skus, dtype=bool)
    if not model.promotion_slots:
        return featured
    spec = model.scenario.promotion
    rate = model.rate_levels[np.arange(model.n_skus), model.price_idx]
    gain = (model.price - model.unit_cost) * (spec.uplift - 1.0) * rate * (1.0 - spec.cannibalisation)
    candidate = (model.available >= spec.uplift * rate) & (gain > spec.slot_cost)
    ranked = [int(i) for i in np.argsort(-gain, kind="stable") if candidate[i]]
    featured[ranked[: model.promotion_slots]] = True
    return featured


class DecisionRule(abc.ABC):
    """A restocking, pricing and promotion rule over an operations model's state."""

    @abc.abstractmethod
    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Return (order level, price level) per SKU for the next period."""

    def promote(self, model: OperationsModel) -> np.ndarray:
        """SKUs to feature next period (boolean mask): :func:`feature_by_margin_and_cover`."""
        return feature_by_margin_and_cover(model)


class TableRule(DecisionRule):
    """Act by a policy table of a single-SKU MDP (state from the model's on hand, pipeline and backlog)."""

    def __init__(self, mdp: SingleSkuMdp, table: np.ndarray) -> None:
        if table.shape != (mdp.n_states,):
            raise ValueError(f"policy table must have shape ({mdp.n_states},), got {table.shape}")
        self.mdp = mdp
        self.table = table

    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Look up the action of the model's current state."""
        m = self.mdp
        state = m.state_of(int(model.on_hand[0]), model.pipeline[0, : m.lead_time], int(model.backlog[0]))
        action = int(self.table[state])
        return np.array([action // m.n_p]), np.array([action % m.n_p])


class PositionRule(DecisionRule):
    """Restocking by the inventory position at fixed price levels.

    Parameters are arrays with one entry per SKU (on a model) or, for a batch of rules on
    one SKU, column arrays ``(n_rules, 1)`` broadcast against positions ``(n_rules, ...)``.

    Args:
        price_idx: Fixed price level per SKU (or per rule).
    """

    def __init__(self, price_idx: np.ndarray) -> None:
        self.price_idx = np.asarray(price_idx, dtype=np.int64)

    @abc.abstractmethod
    def levels(self, position: np.ndarray, quantities: np.ndarray) -> np.ndarray:
        """Order-level index for inventory positions; ``quantities`` ascending, last axis the levels."""

    def decide(self, model: OperationsModel) -> tuple[np.ndarray, np.ndarray]:
        """Order by the rule at the fixed prices."""
        position = model.on_hand + model.pipeline.sum(axis=1) - model.backlog
        levels = self.levels(position, model.quantity_levels)
        return np.minimum(levels, model.n_quantity_levels - 1), self.price_idx.copy()

    def table(self, mdp: SingleSkuMdp) -> np.ndarray:
        """The rule (its first SKU's parameters) as a policy table of a single-SKU MDP, shape ``(n_states,)``."""
        levels = self.levels(inventory_positions(mdp), mdp.quantities)
        return (levels * mdp.n_p + self.price_idx.reshape(-1)[0]).astype(np.int64).reshape(-1)


def _nearest_level(units: np.ndarray, quantities: np.ndarray) -> np.ndarray:
    """Index of the level nearest ``units`` (the lower on ties)."""
    return np.abs(quantities - units[..., None]).argmin(axis=-1)


class ReorderRule(PositionRule):
    """(s, S) restocking at fixed price levels.

    Args:
        s: Reorder points (units of inventory position).
        order_up_to: Order-up-to levels ``S`` (> s).
        price_idx: Fixed price levels.
    """

    def __init__(self, s: np.ndarray, order_up_to: np.ndarray, price_idx: np.ndarray) -> None:
        super().__init__(price_idx)
        self.s = np.asarray(s, dtype=np.int64)
        self.order_up_to = np.asarray(order_up_to, dtype=np.int64)
        if (self.order_up_to <= self.s).any():
            raise ValueError(f"order_up_to {self.order_up_to} must exceed s {self.s}")

    def levels(self, position: np.ndarray, quantities: np.ndarray) -> np.ndarray:
        """The smallest level reaching ``S`` at or below ``s`` (the largest if none does), else the zero level."""
        need = self.order_up_to[..., None] - position[..., None]
        enough = quantities >= need
        first = np.where(enough.any(axis=-1), enough.argmax(axis=-1), quantities.shape[-1] - 1)
        zero = np.argmin(quantities, axis=-1)
        return np.where(position <= self.s, first, zero)


class CappedBaseStockRule(PositionRule):
    """Capped base-stock: order ``min(r, max(S - position, 0))`` units (the nearest level).

    Args:
        order_up_to: Base-stock levels ``S``.
        cap: Most units ordered per period ``r`` (>= 1).
        price_idx: Fixed price levels.
    """

    def __init__(self, order_up_to: np.ndarray, cap: np.ndarray, price_idx: np.ndarray) -> None:
        super().__init__(price_idx)
        self.order_up_to = np.asarray(order_up_to, dtype=np.int64)
        self.cap = np.asarray(cap, dtype=np.int64)
        if (self.cap < 1).any():
            raise ValueError(f"cap {self.cap} must be at least 1")

    def levels(self, position: np.ndarray, quantities: np.ndarray) -> np.ndarray:
        """The level nearest the capped shortfall."""
        return _nearest_level(np.clip(self.order_up_to - position, 0, self.cap), quantities)


class ConstantOrderRule(PositionRule):
    """Order the same level every period.

    Args:
        level: Order-level index.
        price_idx: Fixed price levels.
    """

    def __init__(self, level: np.ndarray, price_idx: np.ndarray) -> None:
        super().__init__(price_idx)
        self.level = np.asarray(level, dtype=np.int64)

    def levels(self, position: np.ndarray, quantities: np.ndarray) -> np.ndarray:
        """The fixed level."""
        return np.broadcast_to(self.level, position.shape).copy()


def inventory_positions(mdp: SingleSkuMdp) -> np.ndarray:
    """Inventory position (net inventory + on order) of every MDP state, shape ``(n_states,)``."""
    s = np.arange(mdp.n_states)
    net = s // mdp.n_pipelines + mdp.n_min
    pipe_units = np.zeros(mdp.n_states, dtype=np.int64)
    rest = s % mdp.n_pipelines
    for _ in range(mdp.lead_time):
        pipe_units += mdp.quantities[rest % mdp.n_q]
        rest //= mdp.n_q
    return net + pipe_units


@dataclass(frozen=True)
class RuleSearch:
    """The best rule found and its exact expected profit per period over the horizon."""

    rule: PositionRule
    profit_per_period: float


def _grid(mdp: SingleSkuMdp, family: str, prices: tuple[int, ...]) -> np.ndarray:
    """Parameter rows ``(a, b, price level)`` of every rule of a family the search considers."""
    q_max = int(mdp.quantities.max())
    positions = range(mdp.n_min, mdp.capacity + q_max)
    if family in ("sS", "base-stock"):
        gaps = [1] if family == "base-stock" else list(range(1, q_max + 1))
        rows = [(s, s + g, p) for p in prices for s in positions for g in gaps]
    elif family == "capped-base-stock":
        caps = [int(q) for q in mdp.quantities if q > 0]
        rows = [(big_s, r, p) for p in prices for big_s in positions for r in caps]
    elif family == "constant-order":
        rows = [(level, 0, p) for p in prices for level in range(mdp.n_q)]
    else:
        raise ValueError(f"rule family must be one of {', '.join(RULE_FAMILIES)}, got {family!r}")
    return np.array(rows, dtype=np.int64)


def make_rule(family: str, params: np.ndarray) -> PositionRule:
    """The rule (or batch, with ``(n, 1)`` columns) of a family from parameter rows ``(a, b, price level)``."""
    a, b, price = params[..., 0], params[..., 1], params[..., 2]
    if family in ("sS", "base-stock"):
        return ReorderRule(a, b, price)
    if family == "capped-base-stock":
        return CappedBaseStockRule(a, b, price)
    if family == "constant-order":
        return ConstantOrderRule(a, price)
    raise ValueError(f"rule family must be one of {', '.join(RULE_FAMILIES)}, got {family!r}")


def search_rule(
    mdp: SingleSkuMdp,
    family: str,
    *,
    price_levels: tuple[int, ...] | None = None,
    horizon: int = 200,
    episodes: int = 16,
    finalists: int = 12,
    seed: int = 0,
) -> RuleSearch:
    """The best rule of a family at the best fixed price for a single-SKU MDP.

    Every rule of the family's grid (``sS``: ``n_min <= s < capacity + max level`` and
    ``1 <= S - s <= max level``, larger gaps ordering the largest level anyway;
    ``base-stock``: ``S = s + 1``; ``capped-base-stock``: the same ``S`` range and every
    positive level as the cap; ``constant-order``: every level) at every price is scored
    by a common-random-number simulation; the ``finalists`` best are then evaluated
    exactly (:meth:`SingleSkuMdp.evaluate` over ``horizon`` periods from the initial state).

    Args:
        mdp: The single-SKU MDP.
        family: One of :data:`RULE_FAMILIES`.
        price_levels: Price levels to consider (default: all).
        horizon: Episode length the rules are scored on.
        episodes: Simulated episodes per rule in the screening.
        finalists: Rules evaluated exactly.
        seed: Seed of the screening's demand.
    """
    grid = _grid(mdp, family, tuple(range(mdp.n_p)) if price_levels is None else price_levels)
    scores = np.concatenate([
        mdp.simulate(_batch_actions(mdp, make_rule(family, chunk[:, None, :])), n_policies=len(chunk),
                     episodes=episodes, horizon=horizon, seed=seed)
        for chunk in np.array_split(grid, max(1, len(grid) // 512))
    ])
    best = None
    for k in np.argsort(-scores)[:finalists]:
        rule = make_rule(family, grid[k : k + 1])
        value = mdp.evaluate(rule.table(mdp), horizon) / horizon
        if best is None or value > best.profit_per_period:
            best = RuleSearch(rule, value)
    assert best is not None
    return best


def _batch_actions(mdp: SingleSkuMdp, rules: PositionRule) -> ActionFn:
    """Actions of a batch of rules (parameters ``(n, 1)``) on simulated states ``(n, episodes)``."""

    def act(net: np.ndarray, pipe: np.ndarray) -> np.ndarray:
        position = net + mdp.quantities[pipe].sum(axis=-1)
        return rules.levels(position, mdp.quantities) * mdp.n_p + rules.price_idx

    return act


def myopic_price_level(sku: Sku) -> int:
    """Level nearest to the constant-elasticity monopoly price e / (e - 1) * unit cost.

    With elasticity <= 1 the profit rises with price without bound: the highest level.
    """
    if sku.elasticity <= 1.0:
        return len(sku.prices) - 1
    target = sku.elasticity / (sku.elasticity - 1.0) * sku.unit_cost
    return int(np.argmin(np.abs(np.array(sku.prices) - target)))


def heuristic_reorder(
    scenario: Scenario, *, base_stock: bool, myopic: bool, z: float = 1.65, levels: Sequence[int] | None = None
) -> ReorderRule:
    """Textbook (s, S) or base-stock parameters per SKU (for scenarios without an exact MDP).

    Price: the base-price level, the myopic level, or per SKU the given ``levels`` (the
    prices the rule will actually charge, e.g. a shared class level). With the mean
    ``m`` and variance ``v`` of demand over ``lead_time + 1`` periods (from the
    scenario's demand model, :func:`~warehouse_sim.operations.demand.period_moments`;
    Poisson: ``v = m``; a stochastic lead time adds its own variance):
    ``s = m + z sqrt(v)`` (safety stock) and ``S = s + EOQ`` with
    ``EOQ = sqrt(2 K rate / h)``; base-stock orders up to ``s + 1``. Levels are capped
    at the SKU's capacity plus its pipeline.
    """
    if levels is not None and len(levels) != len(scenario.skus):
        raise ValueError(f"levels: one price level per SKU ({len(scenario.skus)}), got {len(levels)}")
    s_list, big_s_list, price_list = [], [], []
    for i, sku in enumerate(scenario.skus):
        if levels is not None:
            level = int(levels[i])
        elif myopic:
            level = myopic_price_level(sku)
        else:
            level = int(np.argmin(np.abs(np.array(sku.prices) - sku.base_price)))
        rate, variance = period_moments(scenario, i, sku.prices[level])
        periods = sku.mean_lead_time + 1
        mean = rate * periods
        spread = variance * periods
        if sku.lead_time_pmf is not None:
            lead_var = sum((k + 1) ** 2 * p for k, p in enumerate(sku.lead_time_pmf)) - sku.mean_lead_time**2
            spread += lead_var * rate**2
        s = int(math.ceil(mean + z * math.sqrt(spread)))
        eoq = math.sqrt(2.0 * scenario.fixed_order_cost * rate / sku.holding_cost) if sku.holding_cost > 0 else rate
        big_s = s + 1 if base_stock else s + max(1, int(round(eoq)))
        if sku.capacity is not None:
            cap = sku.capacity + sku.lead_time * max(sku.order_quantities)
            s, big_s = min(s, cap - 1), min(big_s, cap)
        s_list.append(s)
        big_s_list.append(big_s)
        price_list.append(level)
    return ReorderRule(np.array(s_list), np.array(big_s_list), np.array(price_list))
