"""Inventory-v0's task: action decoding, observation, reward and info over an operations model.

The env (:mod:`warehouse_sim.envs.inventory`) owns spaces, seeding and action
validation; this task (the :class:`~warehouse_sim.tasks.base.Task` contract) turns an
action into per-SKU level indices, steps the
:class:`~warehouse_sim.operations.model.OperationsModel` by one period, and reads the
observation, reward and KPIs back from it. The reward is derived from the ledger:
``reward = period profit / reward_scale``.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.operations.catalogue import REWARD_SCALE_RANGE, Scenario
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.tasks.base import StepOutcome, Task

ActionMode = Literal["box", "discrete", "multidiscrete"]


class InventoryTask(Task):
    """Restocking and pricing, one period per step, for ``horizon`` periods.

    Observation, per SKU ``i`` a block of ``2 + max_lead`` floats (``+ 1`` in backorder
    mode), blocks in catalogue order:

    ====================  ===============================================================
    offset in block       value
    ====================  ===============================================================
    0                     on hand / stock_scale_i (end of period)
    1 .. max_lead         pipeline: units arriving in 1, 2, ... periods / max order level
    1 + max_lead          price in force / highest price level
    2 + max_lead          backlog / stock_scale_i (backorder scenarios only)
    last                  1 if featured in a promotion slot, else 0 (scenarios with slots only)
    ====================  ===============================================================

    ``stock_scale_i`` is the SKU's capacity, else the shared capacity, else ten times its
    largest order level. Slots beyond a SKU's lead time are always 0.

    Actions (``mode``), validated by the env against its action space:

    - ``"box"``: floats in [-1, 1], two per SKU (order level, price level); the interval
      is cut into equal bins, one per level.
    - ``"discrete"`` (single SKU without promotion slots only): ``order_level * n_prices + price_level``.
    - ``"multidiscrete"``: integers ``[order_level_0, price_level_0, order_level_1, ...]``.

    With ``k = promotion_slots > 0`` every mode but ``"discrete"`` ends with ``k`` slot
    entries, each 0 (empty) or ``1 + i`` (feature SKU i); Box slots are cut into
    ``n_skus + 1`` bins the same way. A SKU named in two slots is featured (and charged) once.

    Args:
        scenario: The scenario.
        mode: Action encoding, as above.
        reward_scale: Money per unit of reward (> 0); ``None`` uses the scenario's.
        horizon: Periods per episode (>= 1); ``None`` uses the scenario's.
    """

    sim_seconds_per_step = 0.0  # no simulated physics time: a period is a business period

    def __init__(
        self, scenario: Scenario, *, mode: ActionMode, reward_scale: float | None = None, horizon: int | None = None
    ) -> None:
        if mode not in ("box", "discrete", "multidiscrete"):
            raise ValueError(f"mode must be 'box', 'discrete' or 'multidiscrete', got {mode!r}")
        if mode == "discrete" and (scenario.n_skus != 1 or scenario.promotion_slots):
            raise ValueError("a single Discrete action needs a single-SKU scenario without promotion slots; use MultiDiscrete")
        scale = scenario.reward_scale if reward_scale is None else reward_scale
        check_real("reward_scale", scale, low=REWARD_SCALE_RANGE[0], high=REWARD_SCALE_RANGE[1])
        self.scenario = scenario
        self.mode = mode
        self.reward_scale = float(scale)
        self.horizon = scenario.horizon if horizon is None else check_int("horizon", horizon)
        self.model = OperationsModel(scenario)
        m = self.model
        n = m.n_skus
        self.max_lead = int(m.lead_time.max())
        self.backorder = scenario.mode == "backorder"
        self.slots = scenario.promotion_slots
        block = 2 + self.max_lead + int(self.backorder) + int(self.slots > 0)
        self.observation_size = n * block
        #: Action sizes: ``(n_quantity_levels_0, n_price_levels_0, ..., [n_skus + 1] * slots)``.
        self.nvec = np.concatenate(
            [np.stack([m.n_quantity_levels, m.n_price_levels], axis=1).reshape(-1), np.full(self.slots, n + 1)]
        ).astype(np.int64)
        n_levels = self.nvec.astype(np.float64)
        self._levels = n_levels
        capacity = np.array([s.capacity or 0 for s in scenario.skus], dtype=np.float64)
        fallback = scenario.shared_capacity or 0
        max_qty = m.quantity_levels.max(axis=1).astype(np.float64)
        stock_scale = np.where(capacity > 0, capacity, fallback if fallback else 10.0 * np.maximum(max_qty, 1.0))
        #: Per-SKU divisor of on hand and backlog in the observation, shape ``(n_skus,)``.
        self.stock_scale = stock_scale
        #: Per-SKU divisor of pipeline lots in the observation, shape ``(n_skus, 1)``.
        self.pipeline_scale = np.maximum(max_qty, 1.0)[:, None]
        self._price_scale = m.price_levels.max(axis=1)
        self._block = block
        high = np.full((n, block), 1.0)
        high[:, 0] = np.where((capacity > 0) | (fallback > 0), 1.0, np.inf)
        if self.backorder:
            high[:, 2 + self.max_lead] = np.inf
        #: Upper bounds of the observation (lower bounds are 0).
        self.observation_high = high.reshape(-1).astype(np.float32)
        self._obs = np.zeros((n, block))
        self._rng: np.random.Generator | None = None  # the episode's, from reset()
        self._chosen: tuple[np.ndarray, np.ndarray, np.ndarray | None] = (
            np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), None
        )

    # ------------------------------------------------------------------ actions
    def decode(self, action: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Turn a validated action into (order level, price level) per SKU, each ``(n_skus,)`` int64, and the featured SKUs.

        The third item is a boolean mask ``(n_skus,)`` with promotion slots, else ``None``.
        """
        if self.mode == "discrete":
            n_prices = int(self.nvec[1])
            return np.array([action // n_prices]), np.array([action % n_prices]), None
        a = np.asarray(action)
        if self.mode == "box":
            bins = np.floor((a + 1.0) * 0.5 * self._levels)
            levels = np.minimum(bins, self._levels - 1).astype(np.int64)
        else:
            levels = a.astype(np.int64)
        if not self.slots:
            return levels[0::2], levels[1::2], None
        n = self.model.n_skus
        featured = np.zeros(n, dtype=bool)
        picks = levels[2 * n :]
        featured[picks[picks > 0] - 1] = True
        return levels[: 2 * n : 2], levels[1 : 2 * n : 2], featured

    def encode(self, order_idx: np.ndarray, price_idx: np.ndarray, featured: np.ndarray | None = None) -> Any:
        """Inverse of :meth:`decode`: the action that selects these levels and featured SKUs (bin centres for Box)."""
        levels = np.stack([order_idx, price_idx], axis=1).reshape(-1)
        if self.slots:
            picks = np.zeros(self.slots, dtype=np.int64)
            chosen = np.flatnonzero(featured) + 1 if featured is not None else np.zeros(0, dtype=np.int64)
            if chosen.size > self.slots:
                raise ValueError(f"{chosen.size} SKUs featured but the scenario has {self.slots} promotion slots")
            picks[: chosen.size] = chosen
            levels = np.concatenate([levels, picks])
        if self.mode == "discrete":
            return int(levels[0] * self.nvec[1] + levels[1])
        if self.mode == "multidiscrete":
            return levels.astype(np.int64)
        return ((levels + 0.5) / self._levels * 2.0 - 1.0).astype(np.float32)

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> None:
        """Reset the model to the scenario's initial state; ``rng`` draws the episode's demand."""
        self.model.reset()
        self._rng = rng

    def apply(self, action: Any) -> None:
        """Choose the next period's order and price levels (and featured SKUs)."""
        self._chosen = self.decode(action)

    def advance(self) -> StepOutcome:
        """One period; reward = profit / reward_scale; truncated after ``horizon`` periods."""
        if self._rng is None:
            raise RuntimeError("call reset() before advance()")
        order_idx, price_idx, featured = self._chosen
        reward = self.model.step_period(order_idx, price_idx, self._rng, featured) / self.reward_scale
        return StepOutcome(reward, truncated=self.model.period >= self.horizon)

    def observation(self) -> np.ndarray:
        """The observation (a fresh float32 array, layout in the class docstring)."""
        m, obs = self.model, self._obs
        obs[:, 0] = m.on_hand / self.stock_scale
        obs[:, 1 : 1 + self.max_lead] = m.pipeline / self.pipeline_scale
        obs[:, 1 + self.max_lead] = m.price / self._price_scale
        if self.backorder:
            obs[:, 2 + self.max_lead] = m.backlog / self.stock_scale
        if self.slots:
            obs[:, -1] = m.featured
        return obs.reshape(-1).astype(np.float32)

    def info(self) -> dict[str, Any]:
        """KPIs: ``{"period": {...}, "cumulative": {...}}``, see the env docstring."""
        return self.model.kpis()
