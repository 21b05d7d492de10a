"""Catalogue and scenario: the plain data an operations model is built from.

A :class:`Scenario` is a catalogue of :class:`Sku` plus the business rules (fixed order
cost, lost sales or backorders, shared storage, horizon), its demand model
(:class:`~warehouse_sim.operations.demand.DemandSpec`) and its promotion slots
(:class:`~warehouse_sim.operations.demand.PromotionSpec`). All are frozen dataclasses
validated in ``__post_init__``; every error is a ``ValueError`` naming the field.
Scenario files are YAML under ``assets/scenarios/`` (see ``reference-single-sku.yaml``),
loaded with :func:`load_scenario`. A file may start from another scenario with
``extends: NAME_OR_PATH``: its top-level fields replace the base's.

Units: money in currency units, quantities in whole units, time in periods (one period
is ``period_hours`` simulated hours), sizes in metres, weights in kilograms.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from warehouse_sim._checks import check_int, check_real
from warehouse_sim._yaml import read_yaml
from warehouse_sim.assets import asset_path
from warehouse_sim.operations.demand import DemandSpec, PromotionSpec, price_response
from warehouse_sim.operations.replay import OrderStream

T = TypeVar("T")
Mode = Literal["lost_sales", "backorder"]
MODES: tuple[str, ...] = ("lost_sales", "backorder")

# Bounds: what the model represents exactly (int64 stock, float64 money) and a real
# warehouse could mean. A value beyond them is a typo or an attack, and would fail far
# from its field (Poisson draws of 1e30, an OverflowError in a stock array, a pipeline
# array of 1e9 periods, an episode that never ends, a reward of -inf).
#: Prices, unit costs, holding costs and penalties per unit (currency units).
MAX_MONEY_PER_UNIT = 1e6
#: The lowest allowed price (currency units): prices near 0 make the demand rate explode.
MIN_PRICE = 1e-3
#: Fixed cost per replenishment order (currency units).
MAX_FIXED_COST = 1e9
#: Mean demand of one SKU in one period, at any allowed price and seasonality (units).
MAX_RATE = 1e5
#: Constant price elasticity (real products: 0 to about 10).
MAX_ELASTICITY = 20.0
#: Stock and capacities (units).
MAX_UNITS = 10**9
#: One replenishment order (units).
MAX_ORDER = 10**6
#: Lead time and episode length (periods).
MAX_LEAD_TIME = 1_000
MAX_HORIZON = 100_000
#: Period length and due times (hours): at most a year.
MAX_HOURS = 8_760.0
#: Demand multipliers, lines per order, item sizes (m) and weights (kg).
MAX_SEASONALITY = 100.0
MAX_LINES_PER_ORDER = 100.0
MAX_SIZE_M = 10.0
MAX_WEIGHT_KG = 10_000.0
#: Money per unit of reward: rewards stay finite and of sensible size.
REWARD_SCALE_RANGE = (1e-3, 1e9)


def _increasing(where: str, values: tuple[float, ...]) -> None:
    if not values:
        raise ValueError(f"{where} must not be empty")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"{where} must be strictly increasing, got {list(values)}")


@dataclass(frozen=True)
class Sku:
    """One stock-keeping unit of the catalogue.

    Attributes:
        id: Unique identifier used in scenario files and decisions.
        name: Human-readable name.
        unit_cost: Purchase cost per unit, paid when ordered (>= 0).
        base_price: Reference price at which the demand rate is ``base_rate`` (> 0).
        elasticity: Constant price elasticity ``e`` (>= 0): rate = base_rate * (price / base_price)^-e.
        base_rate: Mean demand in units per period at ``base_price`` (>= 0).
        prices: Allowed selling prices, strictly increasing (> 0).
        order_quantities: Allowed replenishment order sizes in units, strictly increasing (>= 0).
        lead_time: Periods between ordering and receipt (>= 1): ordered in period t,
            received at the start of period t + lead_time, before that period's demand.
            With ``lead_time_pmf``, the longest lead time.
        holding_cost: Cost per unit on hand at the end of a period (>= 0).
        penalty: Cost per unit of lost sales (lost-sales mode) or per unit backlogged at
            the end of a period (backorder mode) (>= 0).
        capacity: On-hand capacity in units for this SKU (its storage slot), or ``None``
            for no per-SKU limit. Arrivals beyond it are written off.
        initial_on_hand: Units on hand at reset (<= capacity).
        size: Item box dimensions (x, y, z) in metres, each > 0.
        weight: Item weight in kilograms (> 0).
        slot: Abstract storage slot id; the warehouse layout maps it to a rack slot.
        lead_time_pmf: Stochastic lead times: the probabilities of 1, 2, ..., ``lead_time``
            periods (each >= 0, summing to 1, the last > 0), drawn independently per lot
            (see :class:`~warehouse_sim.operations.model.OperationsModel`); ``None``: always
            ``lead_time``.
    """

    id: str
    name: str
    unit_cost: float
    base_price: float
    elasticity: float
    base_rate: float
    prices: tuple[float, ...]
    order_quantities: tuple[int, ...]
    lead_time: int
    holding_cost: float
    penalty: float
    capacity: int | None
    initial_on_hand: int
    size: tuple[float, float, float]
    weight: float
    slot: str
    lead_time_pmf: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("id", "name", "slot"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"sku.{name} must be a non-empty string, got {value!r}")
        where = f"sku {self.id!r}"
        check_real(f"{where}: unit_cost", self.unit_cost, high=MAX_MONEY_PER_UNIT)
        check_real(f"{where}: base_price", self.base_price, low=MIN_PRICE, high=MAX_MONEY_PER_UNIT)
        check_real(f"{where}: elasticity", self.elasticity, high=MAX_ELASTICITY)
        check_real(f"{where}: base_rate", self.base_rate, high=MAX_RATE)
        check_real(f"{where}: holding_cost", self.holding_cost, high=MAX_MONEY_PER_UNIT)
        check_real(f"{where}: penalty", self.penalty, high=MAX_MONEY_PER_UNIT)
        check_real(f"{where}: weight", self.weight, strict=True, high=MAX_WEIGHT_KG)
        check_int(f"{where}: lead_time", self.lead_time, high=MAX_LEAD_TIME)
        prices = tuple(
            check_real(f"{where}: prices", p, low=MIN_PRICE, high=MAX_MONEY_PER_UNIT)
            for p in _seq(f"{where}: prices", self.prices)
        )
        _increasing(f"{where}: prices", prices)
        quantities = tuple(
            check_int(f"{where}: order_quantities", q, low=0, high=MAX_ORDER)
            for q in _seq(f"{where}: order_quantities", self.order_quantities)
        )
        _increasing(f"{where}: order_quantities", quantities)
        size = tuple(check_real(f"{where}: size", s, strict=True, high=MAX_SIZE_M) for s in _seq(f"{where}: size", self.size))
        if len(size) != 3:
            raise ValueError(f"{where}: size must be (x, y, z) in metres, got {list(size)}")
        if self.capacity is not None:
            check_int(f"{where}: capacity", self.capacity, high=MAX_UNITS)
        check_int(f"{where}: initial_on_hand", self.initial_on_hand, low=0, high=MAX_UNITS)
        if self.capacity is not None and self.initial_on_hand > self.capacity:
            raise ValueError(f"{where}: initial_on_hand {self.initial_on_hand} exceeds capacity {self.capacity}")
        if self.lead_time_pmf is not None:
            pmf = tuple(check_real(f"{where}: lead_time_pmf", p, high=1.0) for p in _seq(f"{where}: lead_time_pmf", self.lead_time_pmf))
            if len(pmf) != self.lead_time:
                raise ValueError(f"{where}: lead_time_pmf must give the probabilities of 1..{self.lead_time} periods, got {len(pmf)} values")
            if not math.isclose(sum(pmf), 1.0, abs_tol=1e-9) or pmf[-1] <= 0:
                raise ValueError(f"{where}: lead_time_pmf must sum to 1 with its last value > 0, got {list(pmf)}")
            object.__setattr__(self, "lead_time_pmf", pmf)
        object.__setattr__(self, "prices", prices)
        object.__setattr__(self, "order_quantities", quantities)
        object.__setattr__(self, "size", size)
        check_demand_rate(self, 1.0)

    def demand_rate(self, price: float) -> float:
        """Mean demand in units per period at ``price`` (before seasonality)."""
        return price_response(self.base_rate, self.base_price, self.elasticity, price)

    @property
    def mean_lead_time(self) -> float:
        """Expected lead time in periods."""
        if self.lead_time_pmf is None:
            return float(self.lead_time)
        return float(sum((k + 1) * p for k, p in enumerate(self.lead_time_pmf)))


def _seq(where: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where} must be a list, got {value!r}")
    return tuple(value)


def check_demand_rate(sku: Sku, multiplier: float, *, cause: str = "") -> None:
    """Raise if ``sku``'s mean demand per period at its lowest price times ``multiplier`` exceeds :data:`MAX_RATE`.

    Computed in logarithms, so no intermediate overflows.

    Args:
        sku: A validated SKU.
        multiplier: The largest factor applied to its rate (seasonality, demand level).
        cause: Names what set ``multiplier`` in the message (e.g. ``" x seasonality 3"``).

    Raises:
        ValueError: naming the SKU, the price and the fields involved.
    """
    if sku.base_rate == 0:
        return
    lowest = min(sku.prices)
    log_rate = math.log(sku.base_rate) - sku.elasticity * math.log(lowest / sku.base_price) + math.log(multiplier)
    if log_rate > math.log(MAX_RATE):
        raise ValueError(
            f"sku {sku.id!r}: mean demand at price {lowest:g} would be {math.exp(min(log_rate, 700.0)):.3g} units per "
            f"period (base_rate x (price / base_price)^-elasticity{cause}); at most {MAX_RATE:,.0f}: "
            "lower base_rate or elasticity, or raise the lowest price"
        )


@dataclass(frozen=True)
class Scenario:
    """A catalogue plus the business rules of one operations instance.

    Attributes:
        name: Scenario name.
        skus: The catalogue (at least one SKU, unique ids).
        fixed_order_cost: Cost per replenishment order placed (per SKU with a non-zero
            quantity in a period) (>= 0).
        mode: ``"lost_sales"`` (unmet demand is lost, ``penalty`` per unit) or
            ``"backorder"`` (unmet demand waits, ``penalty`` per unit per period).
        shared_capacity: Total on-hand units over all SKUs, or ``None``. Arrivals that do
            not fit are written off, SKUs served in catalogue order.
        horizon: Periods per episode (the env truncates there).
        period_hours: Simulated hours per period (for finer clocks, e.g. Fulfilment).
        seasonality: Demand multipliers cycled by period index (e.g. 7 weekdays), each > 0.
        mean_lines_per_order: Mean number of lines per customer order (>= 1); only the
            grouping of units into orders depends on it, not the per-SKU demand.
        due_hours: Hours from placement an order may wait before it is due (> 0).
        reward_scale: Money per unit of reward for learning (> 0): reward = profit / reward_scale.
        demand: The demand model and its parameters (default: price-elastic Poisson).
        promotion_slots: SKUs each decision may feature (recommendation slots; 0: off).
        promotion: What featuring does (uplift, cannibalisation, slot cost, categories).
        order_stream: The parsed order file of a ``replay`` demand model (else ``None``).
    """

    name: str
    skus: tuple[Sku, ...]
    fixed_order_cost: float = 0.0
    mode: Mode = "lost_sales"
    shared_capacity: int | None = None
    horizon: int = 200
    period_hours: float = 24.0
    seasonality: tuple[float, ...] = (1.0,)
    mean_lines_per_order: float = 1.0
    due_hours: float = 24.0
    reward_scale: float = 100.0
    demand: DemandSpec = field(default_factory=DemandSpec)
    promotion_slots: int = 0
    promotion: PromotionSpec = field(default_factory=PromotionSpec)
    index: dict[str, int] = field(init=False, repr=False, compare=False, hash=False)
    order_stream: OrderStream | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"scenario name must be a non-empty string, got {self.name!r}")
        skus = _seq("skus", self.skus)
        if not skus:
            raise ValueError("skus: the catalogue must not be empty")
        if not all(isinstance(s, Sku) for s in skus):
            raise ValueError("skus must be Sku instances")
        ids = [s.id for s in skus]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"skus: duplicate ids {duplicates}")
        check_real("fixed_order_cost", self.fixed_order_cost, high=MAX_FIXED_COST)
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.shared_capacity is not None:
            check_int("shared_capacity", self.shared_capacity, high=MAX_UNITS)
            if sum(s.initial_on_hand for s in skus) > self.shared_capacity:
                raise ValueError("shared_capacity is smaller than the total initial_on_hand")
        check_int("horizon", self.horizon, high=MAX_HORIZON)
        check_real("period_hours", self.period_hours, strict=True, high=MAX_HOURS)
        season = tuple(
            check_real("seasonality", m, strict=True, high=MAX_SEASONALITY) for m in _seq("seasonality", self.seasonality)
        )
        if not season:
            raise ValueError("seasonality must not be empty")
        if len(season) > MAX_HORIZON:
            raise ValueError(f"seasonality must hold at most {MAX_HORIZON:,} multipliers, got {len(season):,}")
        if max(season) > 1.0:
            for sku in skus:
                check_demand_rate(sku, max(season), cause=f" x seasonality {max(season):g}")
        check_real("mean_lines_per_order", self.mean_lines_per_order, low=1.0, high=MAX_LINES_PER_ORDER)
        check_real("due_hours", self.due_hours, strict=True, high=MAX_HOURS)
        check_real("reward_scale", self.reward_scale, low=REWARD_SCALE_RANGE[0], high=REWARD_SCALE_RANGE[1])
        object.__setattr__(self, "skus", skus)
        object.__setattr__(self, "seasonality", season)
        object.__setattr__(self, "index", {s.id: i for i, s in enumerate(skus)})
        if not isinstance(self.demand, DemandSpec):
            raise ValueError(f"demand must be a DemandSpec, got {self.demand!r}")
        self.demand.check_skus(self.index, self.mode)
        stream = None
        if self.demand.model == "replay":
            assert self.demand.file is not None
            stream = OrderStream.from_csv(self.demand.file, self.index, start=self.demand.start)
        object.__setattr__(self, "order_stream", stream)
        check_int("promotion_slots", self.promotion_slots, low=0)
        if self.promotion_slots > len(skus):
            raise ValueError(f"promotion_slots must be <= the number of SKUs ({len(skus)}), got {self.promotion_slots}")
        if not isinstance(self.promotion, PromotionSpec):
            raise ValueError(f"promotion must be a PromotionSpec, got {self.promotion!r}")
        self.promotion.category_index(self.index)
        if self.promotion_slots and self.demand.model == "replay":
            raise ValueError("promotion_slots: a replayed order stream does not respond to promotions")

    @property
    def n_skus(self) -> int:
        """Number of SKUs in the catalogue."""
        return len(self.skus)

    def sku_index(self, sku_id: str) -> int:
        """Return the catalogue index of ``sku_id``.

        Raises:
            ValueError: for an unknown SKU id.
        """
        try:
            return self.index[sku_id]
        except (KeyError, TypeError):
            raise ValueError(f"unknown SKU {sku_id!r} in scenario {self.name!r}") from None


def _build(cls: type, data: Any, where: str, nested: Mapping[str, Any] | None = None) -> Any:
    """Construct dataclass ``cls`` from a mapping, naming unknown or missing keys."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}")
    missing = sorted(
        n for n, f in fields.items()
        if n not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ValueError(f"{where}: missing field(s) {missing}")
    return cls(**{**data, **(nested or {})})


def scenario_from_dict(data: Any) -> Scenario:
    """Build and validate a :class:`Scenario` from parsed YAML (a mapping).

    Raises:
        ValueError: naming the first bad field.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"scenario must be a mapping, got {type(data).__name__}")
    raw_skus = data.get("skus")
    if not isinstance(raw_skus, list) or not raw_skus:
        raise ValueError("skus: the catalogue must be a non-empty list")
    skus = tuple(_build(Sku, s, f"skus[{i}]") for i, s in enumerate(raw_skus))
    nested: dict[str, Any] = {"skus": skus}
    if "demand" in data:
        nested["demand"] = DemandSpec.from_dict(data["demand"])
    if "promotion" in data:
        nested["promotion"] = PromotionSpec.from_dict(data["promotion"])
    return _build(Scenario, data, "scenario", nested)


def scenario_file(name_or_path: str | Path) -> Path:
    """The YAML file of a scenario: ``name_or_path`` itself, or the bundled ``assets/scenarios/<name>.yaml``.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        raise FileNotFoundError(f"scenario file not found: {name_or_path}")
    return asset_path(f"scenarios/{name_or_path}.yaml")


def read_scenario_yaml(name_or_path: str | Path, *, _depth: int = 0) -> Any:
    """Parse the scenario YAML named ``name_or_path`` (see :func:`scenario_file`) and return the raw data.

    ``extends`` is resolved (the file's top-level fields over its base's) and a relative
    ``demand.file`` made relative to the file's folder.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
        ValueError: naming the file, for a file that is not UTF-8, not valid YAML, or
            has a duplicate key, or a bad ``extends``.
    """
    path = scenario_file(name_or_path)
    data = read_yaml(path, what="scenario")
    if not isinstance(data, Mapping):
        return data
    data = _resolve_files(dict(data), path.parent)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base:
        raise ValueError(f"scenario {path.name}: extends must name a scenario, got {base!r}")
    if _depth > 8:
        raise ValueError(f"scenario {path.name}: extends nests too deep (a cycle?)")
    relative = path.parent / base
    parent = read_scenario_yaml(relative if relative.is_file() else base, _depth=_depth + 1)
    if not isinstance(parent, Mapping):
        raise ValueError(f"scenario {path.name}: extends {base!r}, which is not a mapping")
    return {**parent, **data}


def _resolve_files(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Make a relative ``demand.file`` (also under ``operations``) relative to the scenario's folder."""
    for holder in (data, data.get("operations")):
        demand = holder.get("demand") if isinstance(holder, dict) else None
        if isinstance(demand, Mapping) and isinstance(demand.get("file"), str) and not Path(demand["file"]).is_absolute():
            holder["demand"] = {**demand, "file": str((folder / demand["file"]).resolve())}  # type: ignore[index]
    return data


def load_scenario_file(name_or_path: str | Path, build: Callable[[Any], T]) -> T:
    """Read the scenario file named ``name_or_path`` (see :func:`scenario_file`) and ``build`` it from the parsed data.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
        ValueError: for malformed YAML or an invalid field; the message names the file and the field.
    """
    path = scenario_file(name_or_path)
    data = read_scenario_yaml(path)
    try:
        return build(data)
    except ValueError as exc:
        raise ValueError(f"scenario {path}: {exc}") from None


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a scenario by name (``assets/scenarios/<name>.yaml``) or from a YAML file path.

    Raises:
        FileNotFoundError: if neither a file nor a bundled scenario of that name exists.
        ValueError: for malformed YAML or an invalid field; the message names the file and the field.
    """
    return load_scenario_file(name_or_path, scenario_from_dict)
