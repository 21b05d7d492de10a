"""``warehouse_sim/Fulfilment-v0``: pricing, restocking and dispatch for a whole warehouse."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from warehouse_sim._checks import check_real
from warehouse_sim.sim.render import TopDownRenderer
from warehouse_sim.tasks.fulfilment import (
    DISPATCH_RULES,
    FulfilmentTask,
    WarehouseScenario,
    load_warehouse_scenario,
)

_N_GLOBAL = 6 + len(DISPATCH_RULES)
_N_PER_SKU = 7
_OBS_HIGH = 10.0


class FulfilmentEnv(gym.Env[np.ndarray, np.ndarray]):
    """Price, restock and dispatch a warehouse whose PyBullet robot fleet picks the orders.

    The floor (a layout preset with racks, a pack station and a receiving dock) holds the
    scenario's catalogue, one SKU per rack slot (fast movers nearest the pack station).
    ``n_robots`` differential-drive robots (real rigid bodies) run **pick** jobs (drive to
    the order line's pick face, pick for ``pick_seconds``, carry the units to the pack
    station; an order ships when all its lines are there) and **put-away** jobs (carry
    received stock from the dock to its slot; it is sellable only then). Robots follow
    conflict-free space-time plans on the layout grid (prioritised planning with vertex,
    swap and parking reservations, :mod:`warehouse_sim.geometry.reservations`), executed by a physics
    path controller in plan order. Customer orders arrive as price-elastic Poisson demand
    (:mod:`warehouse_sim.operations`); a share of them are express (shorter due time).
    See :mod:`warehouse_sim.tasks.fulfilment` for the clocks and job state machines.

    **Step** = one decision epoch (``epoch_minutes``, 15 on the default scenario): the
    action is applied at its start (new prices, replenishment orders paid now and
    arriving at the dock ``lead_time`` epochs later, the dispatch rule), then demand,
    orders, stock and fleet run on one clock until the next epoch.

    **Action** ``MultiDiscrete``, with ``C`` price classes and ``N`` SKUs:

    =========  =====================================================================
    index      meaning
    =========  =====================================================================
    0..C-1     price level of SKU class k (classes by demand rank: A, B, C...);
               each SKU of the class takes that level of its own price list
               (clipped to its last level)
    C..C+N-1   replenishment order level of SKU i (its ``order_quantities``)
    C+N        dispatch rule: 0 FIFO (oldest first), 1 earliest due date,
               2 nearest robot (greedy shortest grid distance)
    =========  =====================================================================

    Out-of-range, non-integer, NaN or wrongly shaped actions raise ``ValueError``
    before anything changes.

    **Observation** ``Box(0, 10, (6 + 3 + 7 N,), float32)``, clipped to [0, 10]:

    ===========  ===================================================================
    index        meaning (units)
    ===========  ===================================================================
    0            shift elapsed (fraction)
    1            robot utilisation over the last epoch (fraction of robot time on jobs)
    2            pick lines waiting for a robot / (4 n_robots)
    3            put-away trips waiting in the dock / n_robots
    4            open orders (not shipped, not lost) / (4 n_robots)
    5            open orders past their due time / n_robots
    6..8         dispatch rule in force (one-hot: FIFO, EDD, nearest)
    9 + 7 i      SKU i on hand (in its slot) / scale_i
    10 + 7 i     SKU i in the dock (received, not put away) / scale_i
    11 + 7 i     SKU i on order (pipeline) / scale_i
    12 + 7 i     SKU i reserved for open orders / scale_i
    13 + 7 i     SKU i demand last epoch / its base rate per epoch (at base price)
    14 + 7 i     SKU i price level in force / (levels - 1)
    15 + 7 i     SKU i selling time of a lot ordered now: epochs of the shift left
                 after it arrives (``max(0, epochs left - lead_time_i)``) / epochs
    ===========  ===================================================================

    ``scale_i`` is the SKU's capacity, or twice its largest order quantity if it has none.

    **Reward**: the epoch's profit (revenue - purchase and fixed order cost - holding -
    penalties for lost sales and for orders that pass their due time unshipped, charged
    once per order) divided by the scenario's ``reward_scale``. It is read from the
    operations ledger, so the sum of rewards times ``reward_scale`` equals
    ``info["cumulative"]["profit"]``.

    **Episode end**: terminated at the end of the shift (``shift_hours``). The shift is
    the task and the observation says how much of it has elapsed, so its end is a
    terminal state (nothing more can be earned), not a time limit to bootstrap past:
    a value function must not add the worth of a next shift. A physics fault (NaN pose,
    robot below the floor) truncates with ``info["reason"] = "physics_error"`` and the
    books closed.

    **Info**: ``info["period"]`` and ``info["cumulative"]`` exactly as Inventory-v0
    (per-SKU ``demand``, ``sales``, ``lost``, ``ordered``, ``received``, ``written_off``,
    ``on_hand``, ``on_order``, ``price``; scalars ``revenue``, ``purchase_cost``,
    ``order_cost``, ``holding_cost``, ``penalty``, ``profit``, ``fill_rate``), plus fleet
    KPIs since reset: ``orders_shipped``, ``orders_late`` (shipped after their due time,
    plus open orders already past it), ``order_cycle_time_s`` (mean placement-to-ship
    time of shipped orders, seconds), ``robot_utilisation`` (fraction of robot time on
    jobs), ``collisions`` (new contacts of robots with racks, walls, the station or each
    other), ``distance_m`` (fleet odometry, metres), ``backlog`` (open orders),
    ``cell_moves`` (cell-to-cell robot moves), ``driver_fallbacks`` (moves a policy
    driver's watchdog handed to the path controller; 0 with ``"planner"``), and
    ``epoch``, ``sim_time_s``.

    Args:
        scenario: Warehouse scenario name (``assets/scenarios/<name>.yaml``), path, or a
            :class:`~warehouse_sim.tasks.fulfilment.WarehouseScenario`.
        n_robots: Override the fleet size.
        layout: Override the layout preset (``small``, ``medium``, ``large``).
        demand_level: Override the demand multiplier.
        shift_hours: Override the shift length (a whole number of epochs).
        epoch_minutes: Override the decision interval (whole minutes).
        driver: Who drives the robots along their planned cells: ``"planner"`` (a path
            controller) or ``"policy:PATH.onnx"`` (an exported Navigation-v0 policy fed
            each robot's own lidar, goal and route hint; see
            :mod:`warehouse_sim.tasks.drivers`).
        render_mode: ``None``, ``"human"`` (PyBullet GUI) or ``"rgb_array"`` (top-down view).
        frame_interval_s: ``rgb_array`` only: simulated seconds between the frames
            captured during a step (:meth:`recent_frames`, what ``warehouse-sim view
            --record`` films), at least one control tick.

    Raises:
        ValueError: naming the argument, for any invalid value (including a driver
            policy that is not a Navigation-v0 policy for these robots).
        FileNotFoundError: for a missing driver policy file.

    Version history: v0: initial version.
    """

    #: ``render_fps`` paces the GUI per epoch; ``video_fps`` is the rate of recorded videos,
    #: whose frames are ``frame_interval_s`` of simulated time apart.
    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 4, "video_fps": 15}

    def __init__(
        self,
        scenario: str | Path | WarehouseScenario = "warehouse-medium",
        *,
        n_robots: int | None = None,
        layout: str | None = None,
        demand_level: float | None = None,
        shift_hours: float | None = None,
        epoch_minutes: int | None = None,
        driver: str = "planner",
        render_mode: str | None = None,
        frame_interval_s: float = 30.0,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None, 'human' or 'rgb_array', got {render_mode!r}")
        check_real("frame_interval_s", frame_interval_s, strict=True)
        if not isinstance(driver, str) or not (driver == "planner" or driver.startswith("policy:")):
            raise ValueError(f"driver must be 'planner' or 'policy:PATH.onnx', got {driver!r}")
        if not isinstance(scenario, WarehouseScenario):
            if not isinstance(scenario, (str, Path)):
                raise ValueError(f"scenario must be a name, a path or a WarehouseScenario, got {scenario!r}")
            scenario = load_warehouse_scenario(scenario)
        overrides: dict[str, Any] = {
            name: value
            for name, value in (("n_robots", n_robots), ("layout", layout), ("demand_level", demand_level),
                                ("shift_hours", shift_hours), ("epoch_minutes", epoch_minutes))
            if value is not None
        }
        scenario = dataclasses.replace(scenario, **overrides)
        self.scenario = scenario
        self.driver = driver
        self.render_mode = render_mode
        self.task = FulfilmentTask(scenario, gui=render_mode == "human", driver=driver)
        task, m = self.task, self.task.model
        n = m.n_skus
        self.nvec = np.concatenate([task.n_price_levels, m.n_quantity_levels, [len(DISPATCH_RULES)]]).astype(np.int64)
        self.action_space = spaces.MultiDiscrete(self.nvec)
        size = _N_GLOBAL + _N_PER_SKU * n
        self.observation_space = spaces.Box(0.0, _OBS_HIGH, shape=(size,), dtype=np.float32)
        caps = np.array([s.capacity if s.capacity is not None else 2 * max(s.order_quantities) for s in m.scenario.skus])
        self._scale = np.maximum(caps, 1).astype(float)
        self._rate_scale = np.maximum(m.base_rate, 1e-6)
        self._price_span = np.maximum(m.n_price_levels - 1, 1).astype(float)
        self._lead_epochs = m.lead_time.astype(float)
        self._renderer: TopDownRenderer | None = None
        self._ticks_per_frame = max(1, int(round(frame_interval_s * scenario.control_hz)))
        self._frames: list[tuple[float, np.ndarray, dict[str, Any]]] = []
        self._needs_reset = True
        self._closed = False

    @property
    def model(self):  # noqa: ANN201 - the OperationsModel (typed in its module)
        """The :class:`~warehouse_sim.operations.model.OperationsModel` (privileged state for baselines)."""
        return self.task.model

    @property
    def sim_seconds_per_step(self) -> float:
        """Simulated seconds one ``step`` advances (one epoch)."""
        return self.scenario.epoch_minutes * 60.0

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a shift: initial stock, empty books, robots at home, base prices, FIFO."""
        self._check_open()
        super().reset(seed=seed)
        self.task.reset(self.np_random.spawn(1)[0])
        self._needs_reset = False
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Run one decision epoch (see the class docstring)."""
        self._check_open()
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        action = self._validate(action)
        price_idx, order_idx, rule = self.task.decode(action)
        self._frames = []
        on_tick = self._capture if self.render_mode == "rgb_array" else None
        profit = self.task.run_epoch(price_idx, order_idx, rule, on_tick=on_tick)
        reward = profit / self.task.reward_scale
        info = self._info()
        truncated = self.task.physics_error
        terminated = not truncated and self.task.epoch >= self.scenario.n_epochs
        if truncated:
            info["reason"] = "physics_error"
        if terminated or truncated:
            self._needs_reset = True
        if self.render_mode == "human":
            self.render()
        return self._observation(), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """``rgb_array``: a top-down image of the floor and robots; ``human``: the GUI shows it (None)."""
        if self.render_mode != "rgb_array":
            return None
        if self._renderer is None:
            self._renderer = TopDownRenderer(self.task.layout, robot_radius=self.task.fleet.params.radius)
        return self._renderer.render(self.task.fleet.robots.poses())

    def recent_frames(self) -> list[tuple[float, np.ndarray, dict[str, Any]]]:
        """``rgb_array`` only: ``(sim_time_s, frame, fleet_kpis)`` every ``frame_interval_s`` of the last step.

        A step spans a whole epoch (15 simulated minutes by default); these frames show
        the fleet moving within it, each with the fleet KPIs at that moment (as in
        ``info``). Empty in other render modes and before a step.
        """
        return list(self._frames)

    def _capture(self) -> None:
        if self.task.ticks % self._ticks_per_frame == 0:
            frame = self.render()
            assert frame is not None
            self._frames.append((self.task.now_s, frame, self.task.kpis()))

    def close(self) -> None:
        """Disconnect the physics client; idempotent. Further ``step``/``reset`` raise."""
        if not self._closed:
            self.task.close()
            self._closed = True

    def bare_physics_step(self) -> None:
        """The bare physics work of one env step (one epoch of substeps and drive writes), no env code."""
        self._check_open()
        self.task.bare_physics()

    # ------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("FulfilmentEnv is closed")

    def _validate(self, action: Any) -> np.ndarray:
        try:
            array = np.asarray(action, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"action must be {self.nvec.size} integers, got {action!r}") from None
        if array.shape != self.nvec.shape:
            raise ValueError(f"action must have shape {self.nvec.shape}, got {array.shape}")
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise ValueError(f"action must hold finite integers, got {action!r}")
        if (array < 0).any() or (array >= self.nvec).any():
            raise ValueError(f"action {array.astype(np.int64).tolist()} out of range for nvec {self.nvec.tolist()}")
        return array.astype(np.int64)

    def _observation(self) -> np.ndarray:
        task, m = self.task, self.task.model
        sc = self.scenario
        n_r = task.fleet.n
        now_h = task.now_s / 3600.0
        open_orders = task.open_orders()
        n_pick = sum(1 for it in task.items if it.kind == "pick")
        head = np.zeros(_N_GLOBAL)
        head[0] = task.epoch / sc.n_epochs
        head[1] = task.busy_s / (n_r * sc.epoch_minutes * 60.0)
        head[2] = n_pick / (4.0 * n_r)
        head[3] = (len(task.items) - n_pick) / n_r
        head[4] = len(open_orders) / (4.0 * n_r)
        head[5] = sum(1 for o in open_orders if o.due_h < now_h) / n_r
        head[6 + task.rule] = 1.0
        per_sku = np.stack(
            [
                m.on_hand / self._scale,
                m.dock / self._scale,
                m.on_order / self._scale,
                m.reserved / self._scale,
                task.last_demand / self._rate_scale,
                m.price_idx / self._price_span,
                np.maximum(sc.n_epochs - task.epoch - self._lead_epochs, 0.0) / sc.n_epochs,
            ],
            axis=1,
        ).ravel()
        obs = np.concatenate([head, per_sku])
        return np.clip(obs, 0.0, _OBS_HIGH).astype(np.float32)

    def _info(self) -> dict[str, Any]:
        info = self.task.ledger_info()
        info.update(self.task.kpis())
        info["epoch"] = self.task.epoch
        info["sim_time_s"] = self.task.now_s
        return info
