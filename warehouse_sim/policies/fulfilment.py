"""The Fulfilment-v0 ``heuristic`` baseline: (s, S) restocking, myopic prices, nearest-robot dispatch."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.operations.baselines import feature_by_margin_and_cover, heuristic_reorder
from warehouse_sim.operations.mdp import poisson_pmf
from warehouse_sim.policies.base import Policy
from warehouse_sim.tasks.fulfilment import DISPATCH_RULES


class FulfilmentHeuristic(Policy):
    """A textbook warehouse operator, reading the env's privileged state each epoch.

    * **Price**: per SKU class, the level nearest the mean of its SKUs' myopic levels
      (the constant-elasticity monopoly price ``e / (e - 1) * unit cost``).
    * **Restocking**: per SKU, (s, S) with ``s`` = mean lead-time demand at that price
      plus Poisson safety stock and ``S = s + EOQ``
      (:func:`warehouse_sim.operations.baselines.heuristic_reorder`). The inventory
      position is on hand + in the dock + on order - reserved for open orders; when it
      is at or below ``s``, the smallest order level that reaches ``S`` is ordered (the
      largest if none does).
    * **Dispatch**: nearest robot.
    * **Promotion slots** (scenarios that have them): the highest-margin SKUs whose stock
      covers an epoch of promoted demand
      (:func:`warehouse_sim.operations.baselines.feature_by_margin_and_cover`).

    The textbook rule is stationary: it restocks for a future beyond the shift, so stock
    bought late is left over at its end. With ``horizon=True`` (baseline ``horizon``),
    the finite-horizon variant never orders more than the rest of the shift is expected
    to sell: no lot that would arrive after the last epoch, and an order only up to the
    mean demand of the epochs left (at the prices in force) less the inventory position.

    With ``cap_quantile=q`` (baseline ``newsvendor``) two things change. The reorder
    points are computed at the class prices actually charged, not at each SKU's own
    myopic level. The finite-horizon cap is the ``q`` quantile of the demand of the
    epochs left, not its mean, because stock left at the end of the shift earns nothing
    for it (a newsvendor's order). That demand is taken as Poisson with the mean above,
    whatever the scenario's demand model. ``q`` below 0.5 orders less than the mean.

    Args:
        horizon: Cap orders by the demand of the rest of the shift.
        cap_quantile: With ``horizon``, cap by this quantile of that demand, in (0, 1),
            and compute reorder points at the class prices; ``None``: the mean and each
            SKU's myopic price (``horizon``).
    """

    def __init__(self, *, horizon: bool = False, cap_quantile: float | None = None) -> None:
        if cap_quantile is not None and (not horizon or not 0.0 < cap_quantile < 1.0):
            raise ValueError(f"cap_quantile needs horizon=True and a value in (0, 1), got {cap_quantile!r}")
        self.horizon = horizon
        self.cap_quantile = cap_quantile
        self._env: Any = None

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Read the scenario of ``env`` (a Fulfilment-v0 env, possibly wrapped)."""
        self._env = env.unwrapped
        task = self._env.task
        rule = heuristic_reorder(task.ops_scenario, base_stock=False, myopic=True)
        sku_levels = rule.price_idx
        self.class_levels = np.array(
            [int(round(float(sku_levels[task.classes == k].mean()))) for k in range(task.n_classes)], dtype=np.int64
        )
        if self.cap_quantile is not None:
            charged = task.sku_price_levels(self.class_levels)
            rule = heuristic_reorder(task.ops_scenario, base_stock=False, myopic=True, levels=charged.tolist())
        self.s = rule.s
        self.order_up_to = rule.order_up_to

    def act(self, observation: Any) -> np.ndarray:
        """Return the MultiDiscrete action for the epoch that starts now (the observation is unused)."""
        if self._env is None:
            raise RuntimeError("call reset(env) before act()")
        m = self._env.task.model
        position = m.on_hand + m.dock + m.on_order - m.reserved
        order = np.where(position <= self.s, _level_covering(m, self.order_up_to - position), 0)
        if self.horizon:
            order = np.minimum(order, self._horizon_cap(position))
        slots = np.zeros(m.promotion_slots, dtype=np.int64)
        chosen = np.flatnonzero(feature_by_margin_and_cover(m)) + 1
        slots[: chosen.size] = chosen
        return np.concatenate([self.class_levels, order, [DISPATCH_RULES.index("nearest")], slots]).astype(np.int64)

    def _horizon_cap(self, position: np.ndarray) -> np.ndarray:
        """Largest sensible order level per SKU given the epochs left in the shift."""
        task = self._env.task
        m = task.model
        left = self._env.scenario.n_epochs - task.epoch
        rate = np.take_along_axis(m.rate_levels, m.price_idx[:, None], axis=1)[:, 0]  # units per epoch
        if self.cap_quantile is None:
            need = rate * left - position
        else:
            need = np.array([_poisson_quantile(lam, self.cap_quantile) for lam in rate * left]) - position
        return np.where((need > 0) & (m.lead_time < left), _level_covering(m, need), 0)


def _level_covering(model: Any, need: np.ndarray) -> np.ndarray:
    """Per SKU, the smallest order level of at least ``need`` units (the largest level if none is)."""
    quantities = model.quantity_levels
    valid = np.arange(quantities.shape[1])[None, :] < model.n_quantity_levels[:, None]
    enough = (quantities >= need[:, None]) & valid
    return np.where(enough.any(axis=1), enough.argmax(axis=1), model.n_quantity_levels - 1)


def _poisson_quantile(lam: float, q: float) -> int:
    """Smallest ``k`` with ``P(D <= k) >= q`` for ``D ~ Poisson(lam)`` (units)."""
    n = int(math.ceil(lam + 12.0 * math.sqrt(lam) + 12.0))
    return int(np.searchsorted(np.cumsum(poisson_pmf(lam, n)), q))


def make_heuristic_policy(env: gym.Env[Any, Any]) -> FulfilmentHeuristic:
    """Factory for ``baseline:heuristic`` (Fulfilment-v0)."""
    policy = FulfilmentHeuristic()
    policy.reset(env)
    return policy


def make_horizon_policy(env: gym.Env[Any, Any]) -> FulfilmentHeuristic:
    """Factory for ``baseline:horizon`` (Fulfilment-v0): the heuristic capped by the shift's end."""
    policy = FulfilmentHeuristic(horizon=True)
    policy.reset(env)
    return policy


#: The ``newsvendor`` baseline's cap: the 15% quantile of the rest of the shift's demand
#: (chosen among 0.1, 0.15, 0.2, 0.35 and 0.5 on the fast fidelity, seeds 1000-1015).
NEWSVENDOR_QUANTILE = 0.15


def make_newsvendor_policy(env: gym.Env[Any, Any]) -> FulfilmentHeuristic:
    """Factory for ``baseline:newsvendor`` (Fulfilment-v0): ``horizon`` with a quantile cap, reorder points at the class prices."""
    policy = FulfilmentHeuristic(horizon=True, cap_quantile=NEWSVENDOR_QUANTILE)
    policy.reset(env)
    return policy
