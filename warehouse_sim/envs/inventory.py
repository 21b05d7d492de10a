"""``warehouse_sim/Inventory-v0``: restocking and pricing on the operations model alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from warehouse_sim._checks import check_int
from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.operations.catalogue import Scenario, load_scenario
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.tasks.inventory import ActionMode, InventoryTask


class InventoryEnv(WarehouseEnv[np.ndarray, Any]):
    """Restock and price a catalogue, one period per step (no physics).

    ## Description

    Each step is one period: the agent sets, per SKU, an order quantity and a price
    (each from the SKU's levels). Then lots due this period arrive (ordered
    ``lead_time`` periods ago; excess over the SKU's or the shared capacity is written
    off), the order is placed and paid (unit cost plus a fixed cost per SKU ordered),
    demand arrives from the scenario's demand model (by default Poisson at a rate set by
    the price, ``base_rate * (price / base_price)^-elasticity``, times seasonality; see
    :mod:`warehouse_sim.operations.demand` for the time-profile, negative-binomial, replay
    and substitution models), sales happen (unmet demand lost with a penalty, or
    backlogged in backorder scenarios), and holding cost accrues on the units left on hand.

    ## Action Space

    - ``continuous=True`` (default): ``Box(-1, 1, (2 * n_skus,), float32)``, per SKU
      (order level, price level); [-1, 1] is cut into equal bins, one per level;
      values beyond the bounds are clipped.
    - ``continuous=False``: single-SKU scenarios ``Discrete(n_quantities * n_prices)``
      with ``action = quantity_level * n_prices + price_level`` (16 on the reference);
      multi-SKU scenarios ``MultiDiscrete([n_quantities_0, n_prices_0, ...])``.
    - Recommendation slots (scenarios with ``promotion_slots: k > 0``, e.g.
      ``catalogue-20-promo``): the action ends with ``k`` slots, each 0 (empty) or
      ``1 + i`` (feature SKU i): ``MultiDiscrete([..., n_skus + 1] * k)`` (also for one
      SKU), or ``k`` more Box entries cut into ``n_skus + 1`` bins. A featured SKU's demand
      is multiplied by the scenario's uplift, part of it taken from its category, and each
      featured SKU costs the slot cost per period (``promotion_cost`` in ``info``).

    NaN/inf, a wrong shape, or discrete entries out of range or not whole numbers raise
    ``ValueError`` and change nothing.

    ## Observation Space

    A float32 ``Box`` with lower bound 0; per SKU a block, blocks in catalogue order
    (``L`` = the largest lead time of the catalogue; ``scale`` = the SKU's capacity, else
    the shared capacity, else ten times its largest order level):

    | offset in block | value | upper bound |
    |---|---|---|
    | 0 | on hand at the end of the period / ``scale`` | 1 with a capacity, else unbounded (inf) |
    | 1 .. L | pipeline: units arriving in 1, ..., L periods / the SKU's largest order level (0 beyond its own lead time) | 1 |
    | L+1 | price in force / the SKU's highest price level | 1 |
    | L+2 | backlog / ``scale`` (backorder scenarios only) | unbounded (inf) |
    | last | 1 if featured in a promotion slot, else 0 (scenarios with promotion slots only) | 1 |

    The reference instance has 5 entries, all in [0, 1]: on hand / 40, the pipeline
    (3 slots) / 24, price / 16.

    ## Rewards

    The period's profit / ``reward_scale`` (profit = revenue - purchase cost - fixed
    order cost - holding cost - penalty), derived from the ledger, so the sum of rewards
    times ``reward_scale`` equals ``info["cumulative"]["profit"]``.

    ## Starting State

    Deterministic: every SKU's ``initial_on_hand`` on hand, an empty pipeline, no
    backlog, each price at the level nearest its base price. The randomness is the
    demand (and any stochastic lead times), drawn from ``np_random`` each period.

    ## Episode End

    Never terminated; truncated after the scenario's ``horizon`` periods (200 on the
    reference), or ``horizon=`` if given.

    ## Information

    ``info["period"]`` and ``info["cumulative"]``, each a dict with per-SKU arrays
    ``demand``, ``sales``, ``lost``, ``ordered``, ``received``, ``written_off``,
    ``on_hand``, ``on_order``, ``price`` and scalars ``revenue``, ``purchase_cost``,
    ``order_cost``, ``holding_cost``, ``penalty``, [``promotion_cost`` and per-SKU
    ``featured`` with promotion slots], ``profit`` (unscaled), ``fill_rate``
    (sales / demand, 1.0 without demand). Stocks are read at the end of the period
    (after sales and after this period's order); flows are this period's (``received``
    counts arrivals at its start, including units then written off); ``cumulative`` sums
    the flows since reset and holds the current stocks.

    ## Version History

    - v0: initial version.

    Args:
        scenario: Scenario name (``assets/scenarios/<name>.yaml``), a YAML path, or a
            :class:`~warehouse_sim.operations.catalogue.Scenario`. Default: the reference.
        continuous: Box actions (True) or Discrete / MultiDiscrete (False).
        reward_scale: Money per unit of reward; default the scenario's (100 on the reference).
        horizon: Periods per episode; default the scenario's.
        render_mode: ``None`` or ``"rgb_array"`` (bars: on hand, on order per SKU).

    Raises:
        ValueError: naming the argument, for any invalid argument or scenario field.
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
        self._check_render_mode(render_mode)
        if not isinstance(continuous, bool):
            raise ValueError(f"continuous must be a bool, got {continuous!r}")
        if horizon is not None:
            check_int("horizon", horizon)
        if not isinstance(scenario, Scenario):
            if not isinstance(scenario, (str, Path)):
                raise ValueError(f"scenario must be a name, a path or a Scenario, got {scenario!r}")
            scenario = load_scenario(scenario)
        single = scenario.n_skus == 1 and not scenario.promotion_slots
        mode: ActionMode = "box" if continuous else ("discrete" if single else "multidiscrete")
        self.task: InventoryTask = InventoryTask(scenario, mode=mode, reward_scale=reward_scale, horizon=horizon)
        self.scenario = scenario
        self.horizon = self.task.horizon
        self.observation_space = spaces.Box(0.0, self.task.observation_high, dtype=np.float32)
        n = scenario.n_skus
        if continuous:
            width = 2 * n + scenario.promotion_slots
            self.action_space: spaces.Space[Any] = spaces.Box(-1.0, 1.0, shape=(width,), dtype=np.float32)
        elif single:
            self.action_space = spaces.Discrete(int(self.task.nvec[0] * self.task.nvec[1]))
        else:
            self.action_space = spaces.MultiDiscrete(self.task.nvec)

    @property
    def model(self) -> OperationsModel:
        """The :class:`~warehouse_sim.operations.model.OperationsModel` (privileged state for baselines)."""
        return self.task.model

    def _render_frame(self) -> np.ndarray:
        """Per SKU a green bar (on hand) and a blue bar (on order), scaled to capacity."""
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
