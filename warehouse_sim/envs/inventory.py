"""``warehouse_sim/Inventory-v0``: restocking and pricing on the operations model alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from warehouse_sim._checks import check_int
from warehouse_sim.operations.catalogue import Scenario, load_scenario
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.tasks.inventory import ActionMode, InventoryTask


class InventoryEnv(gym.Env[np.ndarray, Any]):
    """Restock and price a catalogue, one period per step (no physics).

    Each step is one period: the agent sets, per SKU, an order quantity and a price
    (each from the SKU's levels). Then lots due this period arrive (ordered
    ``lead_time`` periods ago; excess over the SKU's or the shared capacity is written
    off), the order is placed and paid (unit cost plus a fixed cost per SKU ordered),
    Poisson demand arrives at a rate set by the price
    (``base_rate * (price / base_price)^-elasticity``, times seasonality), sales happen
    (unmet demand lost with a penalty, or backlogged in backorder scenarios), and holding
    cost accrues on the units left on hand.

    **Observation** (``Box``, float32, lower bound 0), per SKU a block, blocks in
    catalogue order (``L = max lead time``):

    ======  ======================================================================
    index   value
    ======  ======================================================================
    0       on hand at the end of the period / capacity (SKU's, else shared)
    1..L    pipeline: units arriving in 1, ..., L periods / the largest order level
    L+1     price in force / the highest price level
    L+2     backlog / capacity (backorder scenarios only)
    ======  ======================================================================

    The reference instance has 5 entries: on hand / 40, the pipeline (3 slots) / 24,
    last price / 16.

    **Actions**:

    - ``continuous=True`` (default): ``Box(-1, 1, (2 * n_skus,))``, per SKU
      (order level, price level); [-1, 1] is cut into equal bins, one per level;
      values beyond the bounds are clipped. NaN/inf or a wrong shape: ``ValueError``.
    - ``continuous=False``: single-SKU scenarios ``Discrete(n_quantities * n_prices)``
      with ``action = quantity_level * n_prices + price_level`` (16 on the reference);
      multi-SKU scenarios ``MultiDiscrete([n_quantities_0, n_prices_0, ...])``.

    **Reward**: the period's profit / ``reward_scale`` (profit = revenue - purchase
    cost - fixed order cost - holding cost - penalty), derived from the ledger, so the
    sum of rewards times ``reward_scale`` equals ``info["cumulative"]["profit"]``.

    **Episode end**: never terminated; truncated after the scenario's ``horizon``
    periods (200 on the reference), or ``horizon=`` if given.

    **Info**: ``info["period"]`` and ``info["cumulative"]``, each a dict with per-SKU
    arrays ``demand``, ``sales``, ``lost``, ``ordered``, ``received``, ``written_off``,
    ``on_hand``, ``on_order``, ``price`` and scalars ``revenue``, ``purchase_cost``,
    ``order_cost``, ``holding_cost``, ``penalty``, ``profit`` (unscaled), ``fill_rate``
    (sales / demand, 1.0 without demand). Stocks are read at the end of the period
    (after sales and after this period's order); flows are this period's (``received``
    counts arrivals at its start, including units then written off); ``cumulative`` sums
    the flows since reset and holds the current stocks.

    Args:
        scenario: Scenario name (``assets/scenarios/<name>.yaml``), a YAML path, or a
            :class:`~warehouse_sim.operations.catalogue.Scenario`. Default: the reference.
        continuous: Box actions (True) or Discrete / MultiDiscrete (False).
        reward_scale: Money per unit of reward; default the scenario's (100 on the reference).
        horizon: Periods per episode; default the scenario's.
        render_mode: ``None`` or ``"rgb_array"`` (bars: on hand, on order per SKU).

    Version history: v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(
        self,
        scenario: str | Path | Scenario = "reference-single-sku",
        continuous: bool = True,
        reward_scale: float | None = None,
        *,
        horizon: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        if not isinstance(continuous, bool):
            raise ValueError(f"continuous must be a bool, got {continuous!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'rgb_array' for Inventory-v0, got {render_mode!r}")
        if horizon is not None:
            check_int("horizon", horizon)
        if not isinstance(scenario, Scenario):
            if not isinstance(scenario, (str, Path)):
                raise ValueError(f"scenario must be a name, a path or a Scenario, got {scenario!r}")
            scenario = load_scenario(scenario)
        single = scenario.n_skus == 1
        mode: ActionMode = "box" if continuous else ("discrete" if single else "multidiscrete")
        self.task = InventoryTask(scenario, mode=mode, reward_scale=reward_scale)
        self.scenario = scenario
        self.horizon = scenario.horizon if horizon is None else horizon
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0.0, self.task.observation_high, dtype=np.float32)
        n = scenario.n_skus
        if continuous:
            self.action_space = spaces.Box(-1.0, 1.0, shape=(2 * n,), dtype=np.float32)
        elif single:
            self.action_space = spaces.Discrete(int(self.task.nvec[0] * self.task.nvec[1]))
        else:
            self.action_space = spaces.MultiDiscrete(self.task.nvec)
        self._needs_reset = True
        self._closed = False

    @property
    def model(self) -> OperationsModel:
        """The :class:`~warehouse_sim.operations.model.OperationsModel` (privileged state for baselines)."""
        return self.task.model

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode from the scenario's initial stock, empty pipeline, base prices."""
        if self._closed:
            raise RuntimeError("InventoryEnv is closed")
        super().reset(seed=seed)
        self.task.reset()
        self._needs_reset = False
        return self.task.observation(), self.task.info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance one period (see the class docstring)."""
        if self._closed:
            raise RuntimeError("InventoryEnv is closed")
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        reward = self.task.step(action, self.np_random)
        truncated = self.task.model.period >= self.horizon
        if truncated:
            self._needs_reset = True
        return self.task.observation(), reward, False, truncated, self.task.info()

    def render(self) -> np.ndarray | None:
        """``rgb_array``: per SKU a green bar (on hand) and a blue bar (on order), scaled to capacity."""
        if self.render_mode != "rgb_array":
            return None
        obs = self.task.observation().reshape(self.scenario.n_skus, -1)
        n, height, bar = self.scenario.n_skus, 120, 8
        image = np.full((height, max(64, n * 3 * bar), 3), 255, dtype=np.uint8)
        pipeline = obs[:, 1 : 1 + self.task.max_lead].sum(axis=1) * self.task.pipeline_scale[:, 0] / self.task.stock_scale
        for i in range(n):
            for k, (value, colour) in enumerate(((obs[i, 0], (40, 160, 60)), (pipeline[i], (50, 90, 200)))):
                top = height - int(round(min(float(value), 1.0) * (height - 4)))
                x = i * 3 * bar + k * bar
                image[top:, x : x + bar] = colour
        return image

    def close(self) -> None:
        """Release nothing (no physics); idempotent. Further ``step``/``reset`` raise."""
        self._closed = True
