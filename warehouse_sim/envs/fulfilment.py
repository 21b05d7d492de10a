"""``warehouse_sim/Fulfilment-v0``: pricing, restocking and dispatch for a whole warehouse."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from warehouse_sim._checks import check_real
from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.operations.ledger import Ledger
from warehouse_sim.operations.model import OperationsModel
from warehouse_sim.sim.render import JOB_RGB, TopDownRenderer
from warehouse_sim.tasks.fulfilment import DISPATCH_RULES, FulfilmentTask, WarehouseScenario, load_warehouse_scenario
from warehouse_sim.tasks.fulfilment.task import FIDELITIES, OBSERVATION_HIGH


class FulfilmentEnv(WarehouseEnv[np.ndarray, np.ndarray]):
    """Price, restock and dispatch a warehouse whose PyBullet robot fleet picks the orders.

    ## Description

    The floor (a layout preset with racks, a pack station and a receiving dock) holds the
    scenario's catalogue, one SKU per rack slot (fast movers nearest the pack station).
    ``n_robots`` differential-drive robots (real rigid bodies) run **pick** jobs (drive to
    the order line's pick face, pick for ``pick_seconds``, carry the units to the pack
    station; an order ships when all its lines are there) and **put-away** jobs (carry
    received stock from the dock to its slot; it is sellable only then). Robots follow
    conflict-free space-time plans on the layout grid (prioritised planning with vertex,
    following and parking reservations, :mod:`warehouse_sim.geometry.reservations`),
    executed in plan order by a physics path controller (or a Navigation policy,
    ``driver=``). Customer orders arrive as price-elastic Poisson demand
    (:mod:`warehouse_sim.operations`); a share of them are express (shorter due time).
    See :mod:`warehouse_sim.tasks.fulfilment.task` for the clocks and
    :mod:`warehouse_sim.tasks.fulfilment.jobs` for the job state machines.

    **Step** = one decision epoch (``epoch_minutes``, 15 on the default scenario): the
    action is applied at its start (new prices, replenishment orders paid now and
    arriving at the dock ``lead_time`` epochs later, the dispatch rule), then demand,
    orders, stock and fleet run on one clock until the next epoch.

    ## Action Space

    ``MultiDiscrete``, with ``C`` price classes and ``N`` SKUs:

    | index | meaning |
    |---|---|
    | 0 .. C-1 | price level of SKU class k (classes by demand rank: A, B, C...); each SKU of the class takes that level of its own price list (clipped to its last level) |
    | C .. C+N-1 | replenishment order level of SKU i (its ``order_quantities``) |
    | C+N | dispatch rule: 0 FIFO (oldest first), 1 earliest due date, 2 nearest robot (greedy shortest grid distance) |
    | C+N+1 .. C+N+k | promotion slots (scenarios whose ``operations`` block has ``promotion_slots: k > 0``; none by default): 0 empty, ``1 + i`` features SKU i for the epoch (its demand times the uplift, part of it taken from its category; the slot cost per epoch) |

    Out-of-range, non-integer, NaN or wrongly shaped actions raise ``ValueError``
    before anything changes. Every action in the space is valid: price levels beyond a
    SKU's list take its last level, replenishment beyond capacity is accepted (and
    written off on arrival, a legal if costly choice), and a SKU in two promotion slots
    is featured once; so :meth:`action_masks` (for sb3-contrib's ``MaskablePPO``)
    allows everything.

    ## Observation Space

    ``Box(0, 10, (6 + 3 + 7 N,), float32)`` (``Box(93,)`` on the default scenario),
    clipped to [0, 10]:

    | index | meaning (units) |
    |---|---|
    | 0 | shift elapsed (fraction) |
    | 1 | robot utilisation over the last epoch (fraction of robot time on jobs) |
    | 2 | pick lines waiting for a robot / (4 n_robots) |
    | 3 | put-away trips waiting in the dock / n_robots |
    | 4 | open orders (not shipped, not lost) / (4 n_robots) |
    | 5 | open orders past their due time / n_robots |
    | 6 .. 8 | dispatch rule in force (one-hot: FIFO, EDD, nearest) |
    | 9 + 7 i | SKU i on hand (in its slot) / scale_i |
    | 10 + 7 i | SKU i in the dock (received, not put away) / scale_i |
    | 11 + 7 i | SKU i on order (pipeline) / scale_i |
    | 12 + 7 i | SKU i reserved for open orders / scale_i |
    | 13 + 7 i | SKU i demand last epoch / its base rate per epoch (at base price) |
    | 14 + 7 i | SKU i price level in force / (levels - 1) |
    | 15 + 7 i | SKU i selling time of a lot ordered now: epochs of the shift left after it arrives (``max(0, epochs left - lead_time_i)``) / epochs |

    With promotion slots each SKU block has an eighth entry (``16 + 8 i``, the others at
    ``9 + 8 i`` ...): 1 if the SKU is featured, else 0.

    ``scale_i`` is the SKU's capacity, or twice its largest order quantity if it has none.

    ## Rewards

    The epoch's profit (revenue - purchase and fixed order cost - holding - penalties for
    lost sales and for orders that pass their due time unshipped, charged once per
    order) divided by the scenario's ``reward_scale``. It is read from the operations
    ledger, so the sum of rewards times ``reward_scale`` equals
    ``info["cumulative"]["profit"]``.

    ## Starting State

    Every robot at rest in its home cell (out of the aisles, nearest the pack station
    first), facing north; every SKU's ``initial_on_hand`` in its slot, nothing in the dock
    or on order, no orders; prices at the levels nearest the base prices; dispatch FIFO.
    The randomness (order arrivals and their lines, express orders) is drawn from a
    child of ``np_random``.

    ## Episode End

    Terminated at the end of the shift (``shift_hours``). The shift is the task and the
    observation says how much of it has elapsed, so its end is a terminal state (nothing
    more can be earned), not a time limit to bootstrap past: a value function must not
    add the worth of a next shift. A physics fault (NaN pose, robot below the floor)
    truncates with ``info["reason"] = "physics_error"`` and the books closed.

    ## Information

    ``info["period"]`` and ``info["cumulative"]`` exactly as Inventory-v0 (per-SKU
    ``demand``, ``sales``, ``lost``, ``ordered``, ``received``, ``written_off``,
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

    ## Version History

    - v0: initial version.

    Args:
        scenario: Warehouse scenario name (``assets/scenarios/<name>.yaml``), path, or a
            :class:`~warehouse_sim.tasks.fulfilment.WarehouseScenario`.
        n_robots: Override the fleet size.
        layout: Override the layout preset (``small``, ``medium``, ``large``).
        demand_level: Override the demand multiplier.
        shift_hours: Override the shift length (a whole number of epochs).
        epoch_minutes: Override the decision interval (whole minutes).
        fidelity: ``"physics"`` (PyBullet bodies, contacts and a path controller at
            ``control_hz``) or ``"fast"`` (the same planner, reservations and job state
            machines, each cell move taking its calibrated ``move_seconds`` on an event
            clock; no PyBullet; needs a scenario with ``move_seconds``, the ``"planner"``
            driver and no GUI; see :mod:`warehouse_sim.tasks.fulfilment.fast_fleet`).
        driver: Who drives the robots along their planned cells: ``"planner"`` (a path
            controller) or ``"policy:PATH.onnx"`` (an exported Navigation-v0 policy fed
            each robot's own lidar, goal and route hint; see
            :mod:`warehouse_sim.tasks.fulfilment.drivers`).
        render_mode: ``None``, ``"human"`` (PyBullet GUI, physics fidelity only; a fast
            instance's ``metadata["render_modes"]`` lists ``"rgb_array"`` alone) or
            ``"rgb_array"`` (top-down view).
        frame_interval_s: ``rgb_array`` only: simulated seconds between the frames
            captured during a step (:meth:`recent_frames`, what ``warehouse-sim view
            --record`` films), at least one control tick.

    Raises:
        ValueError: naming the argument, for any invalid value (including a driver
            policy that is not a Navigation-v0 policy for these robots).
        FileNotFoundError: for a missing driver policy file.
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
        fidelity: str = "physics",
        driver: str = "planner",
        render_mode: str | None = None,
        frame_interval_s: float = 30.0,
    ) -> None:
        self._check_render_mode(render_mode)
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
        if fidelity not in FIDELITIES:
            raise ValueError(f"fidelity must be 'physics' or 'fast', got {fidelity!r}")
        if fidelity == "fast" and render_mode == "human":
            raise ValueError("render_mode='human' opens the PyBullet GUI: it needs fidelity='physics'")
        if fidelity == "fast":  # no physics, no GUI: what this instance can render
            self.metadata = {**self.metadata, "render_modes": ["rgb_array"]}
        self.fidelity = fidelity
        self.task: FulfilmentTask = FulfilmentTask(
            scenario, fidelity=fidelity, gui=render_mode == "human", driver=driver  # type: ignore[arg-type]
        )
        task, m = self.task, self.task.model
        slots = np.full(task.slots, m.n_skus + 1)
        self.nvec = np.concatenate([task.n_price_levels, m.n_quantity_levels, [len(DISPATCH_RULES)], slots]).astype(np.int64)
        self.action_space = spaces.MultiDiscrete(self.nvec)
        self.observation_space = spaces.Box(0.0, OBSERVATION_HIGH, shape=(task.observation_size,), dtype=np.float32)
        self._renderer: TopDownRenderer | None = None
        self._ticks_per_frame = max(1, int(round(frame_interval_s * scenario.control_hz)))
        self._frames: list[tuple[float, np.ndarray, dict[str, Any]]] = []
        if render_mode == "rgb_array":
            task.on_tick = self._capture
            task.on_tick_every = self._ticks_per_frame

    @property
    def model(self) -> OperationsModel:
        """The :class:`~warehouse_sim.operations.model.OperationsModel` (privileged state for baselines)."""
        return self.task.model

    @property
    def layout(self) -> Layout:
        """The warehouse layout."""
        return self.task.layout

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Run one decision epoch (see the class docstring)."""
        self._frames = []
        return super().step(action)

    def action_masks(self) -> np.ndarray:
        """Valid choices of each action entry, concatenated (``bool``, ``(sum(nvec),)``): all true (see Action Space)."""
        return np.ones(int(self.nvec.sum()), dtype=bool)

    def recent_frames(self) -> list[tuple[float, np.ndarray, dict[str, Any]]]:
        """``rgb_array`` only: ``(sim_time_s, frame, kpis)`` every ``frame_interval_s`` of the last step.

        A step spans a whole epoch (15 simulated minutes by default); these frames show
        the fleet moving within it, each with the fleet KPIs at that moment (as in
        ``info``) and, under ``"operations"``, :meth:`frame_state`. Empty in other render
        modes and before a step.
        """
        return list(self._frames)

    def frame_state(self) -> dict[str, Any]:
        """The business at this moment, for video frames.

        Returns:
            ``profit`` so far (currency units, the open epoch included), per-SKU
            ``on_hand``, ``dock``, ``on_order`` (units) and ``price_idx`` arrays of shape
            ``(n_skus,)``, and ``robot_jobs`` (see ``FulfilmentTask.robot_jobs``).
        """
        m = self.task.model
        _, money = m.ledger.totals()
        return {
            "profit": Ledger.profit(money),
            "on_hand": m.on_hand.copy(),
            "dock": m.dock.copy(),
            "on_order": m.on_order,
            "price_idx": m.price_idx.copy(),
            "robot_jobs": self.task.robot_jobs(),
        }

    def _render_frame(self) -> np.ndarray:
        """The top-down floor, robots coloured by job (``JOB_RGB``: pick, put-away, idle)."""
        if self._renderer is None:
            self._renderer = TopDownRenderer(self.task.layout, robot_radius=self.task.fleet.params.radius)
        colors = np.array([JOB_RGB[kind] for kind in self.task.robot_jobs()], dtype=np.uint8)
        return self._renderer.render(self.task.fleet.poses(), colors=colors)

    def _capture(self) -> None:
        if self.task.ticks % self._ticks_per_frame == 0:
            self._frames.append((self.task.now_s, self._render_frame(), {**self.task.kpis(), "operations": self.frame_state()}))
