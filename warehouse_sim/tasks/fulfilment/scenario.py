"""The warehouse scenario: floor, fleet, catalogue, business rules, shift and clocks, as plain data.

Loaded from ``assets/scenarios/warehouse-*.yaml`` (validated on load, the first bad field
named with the file) into a frozen :class:`WarehouseScenario`. Every field is bounded to
what the simulation can run and a real warehouse could mean (a shift of at most a week,
at most 1,000 robots, clocks up to 1 kHz, demand at most
:data:`~warehouse_sim.operations.catalogue.MAX_RATE` units per SKU and epoch once
``demand_level`` is applied), as the operations catalogue's fields are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.geometry.layout import PRESET_PARAMS
from warehouse_sim.operations.catalogue import (
    MAX_MONEY_PER_UNIT,
    MAX_ORDER,
    Scenario,
    check_demand_rate,
    load_scenario_file,
    scenario_from_dict,
)
from warehouse_sim.tasks.fulfilment.fast_fleet import check_move_seconds

#: Bounds of the warehouse fields (see the module docstring).
MAX_ROBOTS = 1_000
MAX_SHIFT_HOURS = 168.0
MAX_EPOCH_MINUTES = 1_440
MAX_DEMAND_LEVEL = 1_000.0
MAX_TASK_SECONDS = 3_600.0
MAX_DUE_MINUTES = 10_080.0
MAX_PRICE_CLASSES = 100
MAX_HZ = 1_000


@dataclass(frozen=True)
class WarehouseScenario:
    """A whole warehouse: floor, fleet, catalogue and business rules, shift and clocks.

    Loaded from ``assets/scenarios/warehouse-*.yaml`` by :func:`load_warehouse_scenario`;
    the ``operations`` block there is an operations scenario (catalogue format, see
    :mod:`warehouse_sim.operations.catalogue`) with rates per *hour*: ``base_rate`` in
    units per hour and ``holding_cost`` per unit-hour; ``lead_time`` counts epochs. The
    operations model runs one period per epoch: :meth:`resolved_operations` converts the
    rates and sets ``period_hours`` and ``horizon`` from ``epoch_minutes`` and
    ``shift_hours``, so changing the epoch keeps the hourly demand.

    Attributes:
        name: Scenario name.
        layout: Layout preset (``small``, ``medium``, ``large``).
        n_robots: Fleet size (>= 1, at most the layout's home cells).
        operations: Catalogue and business rules.
        demand_level: Multiplier on every SKU's ``base_rate`` (> 0).
        shift_hours: Shift length in simulated hours (a whole number of epochs).
        epoch_minutes: Minutes between decisions (a whole number >= 1).
        pick_seconds: Time to pick a line at a pick face (>= 0).
        drop_seconds: Time to drop a line at the pack station (>= 0).
        load_seconds: Time to load a put-away trip at the dock (>= 0).
        stow_seconds: Time to stow a put-away trip in its slot (>= 0).
        carry_units: Most units one put-away trip carries (>= 1).
        late_penalty: Charged once per order that passes its due time unshipped (>= 0).
        express_fraction: Share of orders that are express (in [0, 1]).
        express_due_minutes: Due time of express orders after placement, minutes (> 0).
        n_price_classes: SKU classes that share a price level (by demand rank, >= 1).
        physics_hz: Physics steps per simulated second.
        drive_hz: Robot velocity writes per second (divides ``physics_hz``).
        control_hz: Fleet controller rate (divides ``drive_hz``).
        move_seconds: Seconds per cell-move class of the fast executor
            (:data:`~warehouse_sim.tasks.fulfilment.fast_fleet.MOVE_CLASSES`), calibrated
            on the physics executor by ``training/calibrate_fast.py``; None: not calibrated
            (``fidelity="fast"`` is then refused).
    """

    name: str
    layout: str
    n_robots: int
    operations: Scenario
    demand_level: float = 1.0
    shift_hours: float = 8.0
    epoch_minutes: int = 15
    pick_seconds: float = 8.0
    drop_seconds: float = 4.0
    load_seconds: float = 6.0
    stow_seconds: float = 8.0
    carry_units: int = 40
    late_penalty: float = 5.0
    express_fraction: float = 0.2
    express_due_minutes: float = 20.0
    n_price_classes: int = 3
    physics_hz: int = 30
    drive_hz: int = 10
    control_hz: int = 10
    move_seconds: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.move_seconds is not None:
            object.__setattr__(self, "move_seconds", check_move_seconds(self.move_seconds))
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.layout not in PRESET_PARAMS:
            raise ValueError(f"layout: unknown preset {self.layout!r}; known: {', '.join(PRESET_PARAMS)}")
        for name, high in (("n_robots", MAX_ROBOTS), ("epoch_minutes", MAX_EPOCH_MINUTES), ("carry_units", MAX_ORDER),
                           ("n_price_classes", MAX_PRICE_CLASSES), ("physics_hz", MAX_HZ), ("drive_hz", MAX_HZ),
                           ("control_hz", MAX_HZ)):
            check_int(name, getattr(self, name), high=high)
        for name, bound in (("demand_level", MAX_DEMAND_LEVEL), ("shift_hours", MAX_SHIFT_HOURS),
                            ("express_due_minutes", MAX_DUE_MINUTES)):
            check_real(name, getattr(self, name), strict=True, high=bound)
        for name in ("pick_seconds", "drop_seconds", "load_seconds", "stow_seconds"):
            check_real(name, getattr(self, name), high=MAX_TASK_SECONDS)
        check_real("late_penalty", self.late_penalty, high=MAX_MONEY_PER_UNIT)
        if isinstance(self.express_fraction, bool) or not isinstance(self.express_fraction, (int, float)) or not (
            0.0 <= self.express_fraction <= 1.0
        ):
            raise ValueError(f"express_fraction must be in [0, 1], got {self.express_fraction!r}")
        if not isinstance(self.operations, Scenario):
            raise ValueError("operations must be an operations Scenario")
        n_epochs = self.shift_hours * 60.0 / self.epoch_minutes
        if abs(n_epochs - round(n_epochs)) > 1e-9 or round(n_epochs) < 1:
            raise ValueError(f"shift_hours={self.shift_hours} is not a whole number of {self.epoch_minutes}-minute epochs")
        if self.physics_hz % self.drive_hz:
            raise ValueError(f"drive_hz={self.drive_hz} must divide physics_hz={self.physics_hz}")
        if self.drive_hz % self.control_hz:
            raise ValueError(f"control_hz={self.control_hz} must divide drive_hz={self.drive_hz}")
        # base_rate is per hour in the file; one period of the model is one epoch at demand_level.
        per_epoch = self.demand_level * self.epoch_minutes / 60.0 * max(self.operations.seasonality)
        for sku in self.operations.skus:
            check_demand_rate(sku, per_epoch, cause=f" per hour x demand_level {self.demand_level:g} x epoch, per epoch")

    @property
    def n_epochs(self) -> int:
        """Decision epochs per shift."""
        return int(round(self.shift_hours * 60.0 / self.epoch_minutes))

    def resolved_operations(self) -> Scenario:
        """The operations scenario per epoch: ``demand_level`` and hourly rates applied, epoch = period, shift = horizon."""
        hours = self.epoch_minutes / 60.0
        skus = tuple(
            dataclasses.replace(s, base_rate=s.base_rate * self.demand_level * hours, holding_cost=s.holding_cost * hours)
            for s in self.operations.skus
        )
        return dataclasses.replace(
            self.operations, skus=skus, period_hours=self.epoch_minutes / 60.0, horizon=self.n_epochs
        )


def warehouse_scenario_from_dict(data: Any) -> WarehouseScenario:
    """Build and validate a :class:`WarehouseScenario` from parsed YAML.

    Raises:
        ValueError: naming the first bad or unknown field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"warehouse scenario must be a mapping, got {type(data).__name__}")
    fields = {f.name for f in dataclasses.fields(WarehouseScenario)}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ValueError(f"warehouse scenario: unknown field(s) {unknown}")
    missing = sorted({"name", "layout", "n_robots", "operations"} - set(data))
    if missing:
        raise ValueError(f"warehouse scenario: missing field(s) {missing}")
    ops = data["operations"]
    if not isinstance(ops, Mapping):
        raise ValueError("operations must be a mapping (an operations scenario)")
    ops = {"name": data["name"], **ops}
    return WarehouseScenario(**{**data, "operations": scenario_from_dict(ops)})


def load_warehouse_scenario(name_or_path: str | Path) -> WarehouseScenario:
    """Load ``assets/scenarios/<name>.yaml`` (e.g. ``warehouse-medium``) or a YAML file path.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
        ValueError: for malformed YAML or an invalid field; the message names the file and the field.
    """
    return load_scenario_file(name_or_path, warehouse_scenario_from_dict)
