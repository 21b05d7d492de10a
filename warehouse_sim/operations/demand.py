"""Demand as a component: how many units customers want, at the prices and promotions in force.

A :class:`DemandModel` answers two questions for a window of time (a whole period, or
``hours`` of it for the order-book path of Fulfilment-v0): :meth:`~DemandModel.rates`, the
mean units per SKU at the price levels and promotions in force, and
:meth:`~DemandModel.draw`, the units that arrive, from the generator passed in.
:meth:`~DemandModel.orders` groups them into customer orders. The scenario names the
model (``demand.model`` in its YAML, a :class:`DemandSpec`); :func:`make_demand_model`
builds it. Models:

- ``poisson`` (default): price-elastic Poisson. Per SKU i the rate per period is
  ``base_rate_i * (price_i / base_price_i)^(-elasticity_i) * seasonality[period % len]``
  (:func:`price_response` is that formula, the one place it is written); over a window of
  ``hours`` it is that times ``hours / period_hours``.
- ``time_profile``: the same rates times an hour-of-day and a day-of-week multiplier
  (``hour_of_day``: 24 values, ``day_of_week``: 7, each >= 0; the clock starts at hour
  ``start_hour`` of the week, 0 = Monday 00:00). A window's multiplier is the mean of the
  profile over the window, hour by hour (a daily period of a flat-hour profile gets its
  day's multiplier). Poisson draws.
- ``negative_binomial``: over-dispersed demand, the ``poisson`` rates as means with
  variance ``variance_to_mean`` times the mean (> 1): ``NB(n = mean / (r - 1), p = 1 / r)``,
  so that windows add up (the sum of two windows is NB with the same ``r``).
- ``replay``: orders as recorded in a CSV file (:mod:`warehouse_sim.operations.replay`);
  prices and promotions do not move them.

Demand substitution (``demand.substitutes``, any model but ``replay``, lost-sales
scenarios) is applied where stock is short: of the units of SKU i that its available
stock cannot serve, each moves with probability ``share_i`` to the named substitute (a
binomial draw), which serves them if it has stock left (one hop: what the substitute
cannot serve is lost there). Demand is booked where the customer ends up, so demand =
sales + lost + backlog still holds per SKU.

Promotions (recommendation slots, :class:`PromotionSpec`, ``promotion_slots`` in the
scenario) scale the rates of featured SKUs by ``uplift``; a share ``cannibalisation`` of
that extra demand is taken from the other, non-featured SKUs of the featured SKU's
category, in proportion to their rates (never below zero). Each featured SKU costs
``slot_cost`` per period.

Units arriving in one window are grouped into customer orders of
``1 + Poisson(mean_lines_per_order - 1)`` units (same-SKU units merged into one line), so
the per-SKU demand keeps its distribution whatever the grouping.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

import numpy as np

from warehouse_sim._checks import check_real

if TYPE_CHECKING:
    from warehouse_sim.operations.catalogue import Scenario
    from warehouse_sim.operations.replay import OrderStream

DemandModelName = Literal["poisson", "time_profile", "negative_binomial", "replay"]
DEMAND_MODELS: tuple[str, ...] = ("poisson", "time_profile", "negative_binomial", "replay")

#: ``(placed hour, SKU indices, units per line, price per line or None)`` of one customer order.
OrderLines = tuple[float, np.ndarray, np.ndarray, "np.ndarray | None"]

_Array = TypeVar("_Array", float, np.ndarray)


@dataclass(frozen=True)
class Window:
    """A stretch of simulated time that demand is asked about.

    Attributes:
        period: Index of the period it lies in (seasonality).
        start_h: Clock at its start, hours since time 0.
        hours: Its length in hours (> 0).
        whole: Whether it is the whole period (Inventory-v0) rather than a part of it.
    """

    period: int
    start_h: float
    hours: float
    whole: bool


def price_response(base_rate: _Array, base_price: _Array, elasticity: _Array, price: _Array) -> _Array:
    """Mean demand per period at ``price``: ``base_rate * (price / base_price)^(-elasticity)``.

    Works on floats and on broadcastable arrays alike (the constant-elasticity curve).
    """
    return base_rate * (price / base_price) ** (-elasticity)


def _multipliers(where: str, value: Any, length: int) -> tuple[float, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{where} must be a list of {length} numbers, got {value!r}")
    values = tuple(check_real(where, v) for v in value)
    if len(values) != length:
        raise ValueError(f"{where} must have {length} values, got {len(values)}")
    if not sum(values) > 0:
        raise ValueError(f"{where} must have a positive value")
    return values


@dataclass(frozen=True)
class DemandSpec:
    """The scenario's ``demand`` block: which model, with which parameters (validated).

    Attributes:
        model: ``poisson`` (default), ``time_profile``, ``negative_binomial`` or ``replay``.
        variance_to_mean: ``negative_binomial``: variance / mean of the units in any window (> 1).
        hour_of_day: ``time_profile``: 24 multipliers >= 0 (hours 0..23), default flat.
        day_of_week: ``time_profile``: 7 multipliers >= 0 (Monday..Sunday), default flat.
        start_hour: ``time_profile``: hour of the week at the scenario's time 0 (0 = Monday 00:00).
        file: ``replay``: the CSV file (a path relative to the scenario file, or absolute).
        start: ``replay``: ISO date-time of the scenario's time 0 (default: midnight before the first order).
        substitutes: ``(sku, substitute, share)`` triples: share in (0, 1] of a SKU's unserved
            units that move to the substitute (a mapping ``{sku: {to: ID, share: S}}`` in YAML).
    """

    model: DemandModelName = "poisson"
    variance_to_mean: float | None = None
    hour_of_day: tuple[float, ...] | None = None
    day_of_week: tuple[float, ...] | None = None
    start_hour: float = 0.0
    file: str | None = None
    start: str | None = None
    substitutes: tuple[tuple[str, str, float], ...] = ()

    #: Fields each model takes, beyond ``model`` and ``substitutes``.
    PARAMETERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "poisson": (),
        "time_profile": ("hour_of_day", "day_of_week", "start_hour"),
        "negative_binomial": ("variance_to_mean",),
        "replay": ("file", "start"),
    }

    def __post_init__(self) -> None:
        if self.model not in DEMAND_MODELS:
            raise ValueError(f"demand.model must be one of {', '.join(DEMAND_MODELS)}, got {self.model!r}")
        defaults = {f.name: f.default for f in fields(self)}
        allowed = self.PARAMETERS[self.model]
        for name in ("variance_to_mean", "hour_of_day", "day_of_week", "start_hour", "file", "start"):
            if name not in allowed and getattr(self, name) != defaults[name]:
                raise ValueError(f"demand.{name} does not apply to the {self.model!r} model (it takes {list(allowed) or 'no parameters'})")
        if self.model == "negative_binomial":
            if self.variance_to_mean is None:
                raise ValueError("demand.variance_to_mean is required by the negative_binomial model")
            check_real("demand.variance_to_mean", self.variance_to_mean, low=1.0, strict=True)
        if self.hour_of_day is not None:
            object.__setattr__(self, "hour_of_day", _multipliers("demand.hour_of_day", self.hour_of_day, 24))
        if self.day_of_week is not None:
            object.__setattr__(self, "day_of_week", _multipliers("demand.day_of_week", self.day_of_week, 7))
        check_real("demand.start_hour", self.start_hour)
        if self.model == "replay" and (not isinstance(self.file, str) or not self.file):
            raise ValueError("demand.file (the order CSV) is required by the replay model")
        if self.start is not None and not isinstance(self.start, str):
            raise ValueError(f"demand.start must be an ISO date-time string, got {self.start!r}")
        if self.substitutes and self.model == "replay":
            raise ValueError("demand.substitutes: a replayed order stream has no substitution")
        for sku, to, share in self.substitutes:
            check_real(f"demand.substitutes.{sku}.share", share, strict=True)
            if share > 1.0:
                raise ValueError(f"demand.substitutes.{sku}.share must be <= 1, got {share!r}")
            if sku == to:
                raise ValueError(f"demand.substitutes.{sku}: a SKU cannot substitute itself")

    @classmethod
    def from_dict(cls, data: Any, *, base_dir: Path | None = None) -> DemandSpec:
        """Build from the YAML ``demand`` mapping; a relative ``file`` is resolved against ``base_dir``.

        Raises:
            ValueError: naming the first bad field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"demand must be a mapping such as {{model: poisson}}, got {data!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"demand: unknown field(s) {unknown}")
        values = dict(data)
        raw = values.pop("substitutes", None) or {}
        if not isinstance(raw, Mapping):
            raise ValueError(f"demand.substitutes must map SKU ids to {{to: ID, share: S}}, got {raw!r}")
        triples = []
        for sku, entry in raw.items():
            if not isinstance(entry, Mapping) or set(entry) != {"to", "share"}:
                raise ValueError(f"demand.substitutes.{sku} must be {{to: ID, share: S}}, got {entry!r}")
            triples.append((str(sku), str(entry["to"]), entry["share"]))
        file = values.get("file")
        if isinstance(file, str) and base_dir is not None and not Path(file).is_absolute():
            values["file"] = str((base_dir / file).resolve())
        for name in ("hour_of_day", "day_of_week"):
            if isinstance(values.get(name), list):
                values[name] = tuple(values[name])
        return cls(**values, substitutes=tuple(triples))

    def check_skus(self, ids: Mapping[str, int], mode: str) -> None:
        """Validate the SKU ids the spec names against the catalogue (``ids``: id -> index) and the mode.

        Raises:
            ValueError: for an unknown SKU, a SKU with two substitutes, or substitution in backorder mode.
        """
        seen = set()
        for sku, to, _ in self.substitutes:
            for name in (sku, to):
                if name not in ids:
                    raise ValueError(f"demand.substitutes: unknown SKU {name!r}")
            if sku in seen:
                raise ValueError(f"demand.substitutes: SKU {sku!r} has two substitutes")
            seen.add(sku)
        if self.substitutes and mode != "lost_sales":
            raise ValueError("demand.substitutes needs a lost_sales scenario (backordered customers wait)")


@dataclass(frozen=True)
class PromotionSpec:
    """The scenario's ``promotion`` block: what featuring a SKU does (used when ``promotion_slots > 0``).

    Attributes:
        uplift: Demand multiplier of a featured SKU (>= 1).
        cannibalisation: Share of a featured SKU's extra demand taken from the other SKUs
            of its category, in [0, 1].
        slot_cost: Cost per featured SKU per period (>= 0).
        categories: ``(category, SKU ids)`` pairs; a SKU in none is a category of its own
            (a mapping ``{name: [ids]}`` in YAML).
    """

    uplift: float = 1.5
    cannibalisation: float = 0.0
    slot_cost: float = 0.0
    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def __post_init__(self) -> None:
        check_real("promotion.uplift", self.uplift, low=1.0)
        check_real("promotion.cannibalisation", self.cannibalisation)
        if self.cannibalisation > 1.0:
            raise ValueError(f"promotion.cannibalisation must be <= 1, got {self.cannibalisation!r}")
        check_real("promotion.slot_cost", self.slot_cost)

    @classmethod
    def from_dict(cls, data: Any) -> PromotionSpec:
        """Build from the YAML ``promotion`` mapping.

        Raises:
            ValueError: naming the first bad field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"promotion must be a mapping, got {data!r}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"promotion: unknown field(s) {unknown}")
        values = dict(data)
        raw = values.pop("categories", None) or {}
        if not isinstance(raw, Mapping) or not all(isinstance(v, list) for v in raw.values()):
            raise ValueError(f"promotion.categories must map category names to lists of SKU ids, got {raw!r}")
        return cls(**values, categories=tuple((str(k), tuple(map(str, v))) for k, v in raw.items()))

    def category_index(self, ids: Mapping[str, int]) -> np.ndarray:
        """Category number per SKU (catalogue order), shape ``(n_skus,)``; unlisted SKUs get their own.

        Raises:
            ValueError: for an unknown SKU or a SKU in two categories.
        """
        category = np.full(len(ids), -1, dtype=np.int64)
        for k, (name, members) in enumerate(self.categories):
            for sku in members:
                if sku not in ids:
                    raise ValueError(f"promotion.categories.{name}: unknown SKU {sku!r}")
                if category[ids[sku]] >= 0:
                    raise ValueError(f"promotion.categories: SKU {sku!r} is in two categories")
                category[ids[sku]] = k
        alone = np.flatnonzero(category < 0)
        category[alone] = len(self.categories) + np.arange(alone.size)
        return category


class Promotion:
    """Featured-SKU demand transform of one scenario (see the module docstring).

    Args:
        spec: The promotion parameters.
        category: Category number per SKU, shape ``(n_skus,)``.
    """

    def __init__(self, spec: PromotionSpec, category: np.ndarray) -> None:
        self.uplift = spec.uplift
        self.cannibalisation = spec.cannibalisation
        self.slot_cost = spec.slot_cost
        self.category = category
        self._n_categories = int(category.max()) + 1

    def apply(self, rates: np.ndarray, featured: np.ndarray) -> np.ndarray:
        """Rates with the SKUs in the boolean mask ``featured`` promoted, shape ``(n_skus,)`` (a new array)."""
        extra = np.where(featured, (self.uplift - 1.0) * rates, 0.0)
        out = rates + extra
        if self.cannibalisation > 0.0:
            taken = self.cannibalisation * np.bincount(self.category, weights=extra, minlength=self._n_categories)
            others = np.bincount(self.category, weights=np.where(featured, 0.0, rates), minlength=self._n_categories)
            share = np.divide(taken, others, out=np.zeros_like(taken), where=others > 0)
            out = np.where(featured, out, rates * np.maximum(1.0 - share[self.category], 0.0))
        return out


class Substitution:
    """Demand of short SKUs moving to named substitutes (see the module docstring).

    Args:
        source: SKU indices that have a substitute, shape ``(k,)``.
        target: Their substitutes, shape ``(k,)``.
        share: Probability that an unserved unit moves, shape ``(k,)``.
        n_skus: Catalogue size.
    """

    def __init__(self, source: np.ndarray, target: np.ndarray, share: np.ndarray, n_skus: int) -> None:
        self.source, self.target, self.share, self.n_skus = source, target, share, n_skus

    def move(self, unserved: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw the units that move: ``(moved out per SKU, moved in per SKU)``, int64, shape ``(n_skus,)``."""
        out = np.zeros(self.n_skus, dtype=np.int64)
        out[self.source] = rng.binomial(unserved[self.source], self.share)
        moved_in = np.bincount(self.target, weights=out[self.source], minlength=self.n_skus).astype(np.int64)
        return out, moved_in


class DemandModel(abc.ABC):
    """Mean rates and draws of one scenario's demand (the protocol every model implements).

    Args:
        rate_levels: Mean units per period at each price level (no seasonality), shape
            ``(n_skus, n_levels)``.
        seasonality: Multipliers cycled by period index.
        period_hours: Simulated hours per period.
        mean_lines: Mean units per customer order (>= 1).
        promotion: The featured-SKU transform, or ``None`` without promotion slots.
    """

    #: True for stationary Poisson demand (what the exact MDP and the textbook formulas assume).
    poisson: ClassVar[bool] = False

    def __init__(
        self,
        rate_levels: np.ndarray,
        seasonality: tuple[float, ...],
        period_hours: float,
        mean_lines: float,
        promotion: Promotion | None = None,
    ) -> None:
        self.rate_levels = rate_levels
        self.n_skus = rate_levels.shape[0]
        self._rows = np.arange(self.n_skus)
        self._season = np.array(seasonality)
        self.period_hours = period_hours
        self.mean_lines = mean_lines
        self.promotion = promotion

    def season(self, period: int) -> float:
        """Seasonality multiplier of period ``period``."""
        return float(self._season[period % self._season.size])

    def rates(self, price_idx: np.ndarray, window: Window, featured: np.ndarray | None = None) -> np.ndarray:
        """Mean units per SKU over ``window``, shape ``(n_skus,)``.

        Args:
            price_idx: Price level in force per SKU.
            window: The period, or a part of it.
            featured: Boolean mask of promoted SKUs, or ``None``.
        """
        rates = self._rates(price_idx, window)
        if featured is not None and self.promotion is not None and featured.any():
            rates = self.promotion.apply(rates, featured)
        return rates

    def _rates(self, price_idx: np.ndarray, window: Window) -> np.ndarray:
        """Price-elastic rates times seasonality, over the period or a part of it."""
        base = self.rate_levels[self._rows, price_idx]
        if window.whole:
            return base * self.season(window.period) if self._season.size > 1 else base
        return base * self.season(window.period) * (window.hours / self.period_hours)

    @abc.abstractmethod
    def draw(self, rates: np.ndarray, rng: np.random.Generator, window: Window) -> np.ndarray:
        """Units demanded per SKU in ``window`` (int64, shape ``(n_skus,)``), drawn from ``rng``."""

    def orders(self, units: np.ndarray, rng: np.random.Generator, window: Window) -> list[OrderLines]:
        """Group the window's ``units`` into customer orders placed at uniform times in the window."""
        groups = group_into_orders(units, self.mean_lines, rng)
        times = np.sort(window.start_h + window.hours * rng.random(len(groups)))
        return [(float(t), skus, qty, None) for t, (skus, qty) in zip(times, groups, strict=True)]

    def unit_prices(self, window: Window) -> list[np.ndarray] | None:
        """Recorded prices of the window's units per SKU in arrival order (``replay`` with prices), else ``None``."""
        return None


class PoissonDemand(DemandModel):
    """``poisson``: price-elastic Poisson demand (the default)."""

    poisson = True

    def draw(self, rates: np.ndarray, rng: np.random.Generator, window: Window) -> np.ndarray:
        """Poisson units; one SKU draws a scalar (~15x cheaper than numpy's array path, same value)."""
        return rng.poisson(rates) if self.n_skus > 1 else np.array([rng.poisson(rates[0])])


class TimeProfileDemand(PoissonDemand):
    """``time_profile``: Poisson demand with hour-of-day and day-of-week multipliers.

    Args:
        spec: The ``demand`` block (its ``hour_of_day``, ``day_of_week``, ``start_hour``).
        **kwargs: As :class:`DemandModel`.
    """

    poisson = False

    def __init__(self, spec: DemandSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        hours = np.array(spec.hour_of_day or (1.0,) * 24)
        days = np.array(spec.day_of_week or (1.0,) * 7)
        #: Multiplier of each hour of the week (168 values), Monday 00:00 first.
        self.week = (days[:, None] * hours[None, :]).reshape(-1)
        self._cumulative = np.concatenate([[0.0], np.cumsum(self.week)])
        self.start_hour = spec.start_hour

    def profile(self, start_h: float, hours: float) -> float:
        """Mean multiplier over the clock window ``[start_h, start_h + hours)`` (hours since time 0, ``hours > 0``)."""
        t = start_h + self.start_hour
        return (self._integral(t + hours) - self._integral(t)) / hours

    def _integral(self, t: float) -> float:
        """Integral of the profile from hour 0 of week 0 to hour ``t`` (>= 0)."""
        weeks, within = divmod(t, 168.0)
        hour = min(int(within), 167)
        return float(weeks * self._cumulative[-1] + self._cumulative[hour] + (within - hour) * self.week[hour])

    def _rates(self, price_idx: np.ndarray, window: Window) -> np.ndarray:
        """The Poisson rates times the profile's mean over the window."""
        return super()._rates(price_idx, window) * self.profile(window.start_h, window.hours)


class NegativeBinomialDemand(DemandModel):
    """``negative_binomial``: over-dispersed demand with a fixed variance-to-mean ratio.

    Args:
        variance_to_mean: Variance / mean of the units in any window (> 1).
        **kwargs: As :class:`DemandModel`.
    """

    def __init__(self, variance_to_mean: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.variance_to_mean = variance_to_mean
        self._p = 1.0 / variance_to_mean

    def draw(self, rates: np.ndarray, rng: np.random.Generator, window: Window) -> np.ndarray:
        """``NB(mean / (r - 1), 1 / r)`` units per SKU (0 where the mean is 0)."""
        n = rates / (self.variance_to_mean - 1.0)
        units = np.zeros(self.n_skus, dtype=np.int64)
        positive = n > 0
        units[positive] = rng.negative_binomial(n[positive], self._p)
        return units


class ReplayDemand(DemandModel):
    """``replay``: the recorded order stream, exactly; its rates are the recorded units.

    Args:
        stream: The parsed order stream.
        **kwargs: As :class:`DemandModel`.
    """

    def __init__(self, stream: OrderStream, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream

    def rates(self, price_idx: np.ndarray, window: Window, featured: np.ndarray | None = None) -> np.ndarray:
        """The recorded units of the window (prices and promotions do not move a replay)."""
        return self.stream.units(window.start_h, window.hours).astype(float)

    def draw(self, rates: np.ndarray, rng: np.random.Generator, window: Window) -> np.ndarray:
        """The recorded units of the window (no randomness)."""
        return self.stream.units(window.start_h, window.hours)

    def orders(self, units: np.ndarray, rng: np.random.Generator, window: Window) -> list[OrderLines]:
        """The recorded orders of the window, at their recorded times (and prices, if the file has them)."""
        return self.stream.orders(window.start_h, window.hours)

    def unit_prices(self, window: Window) -> list[np.ndarray] | None:
        """Recorded prices of the window's units per SKU in arrival order, or ``None`` without a price column."""
        return self.stream.unit_prices(window.start_h, window.hours)


def period_moments(scenario: Scenario, sku: int, price: float) -> tuple[float, float]:
    """Mean and variance of one period's demand of SKU ``sku`` at ``price``, averaged over the cycles (for heuristics).

    Seasonality and a time profile enter through their means; ``replay`` gives the
    recorded units' mean and variance per period, whatever the price.
    """
    spec = scenario.demand
    if spec.model == "replay":
        assert scenario.order_stream is not None
        units = scenario.order_stream.per_period(scenario.period_hours)[:, sku]
        return float(units.mean()), float(units.var())
    rate = scenario.skus[sku].demand_rate(price) * float(np.mean(scenario.seasonality))
    if spec.model == "time_profile":
        rate *= float(np.mean(spec.hour_of_day or 1.0)) * float(np.mean(spec.day_of_week or 1.0))
    if spec.model == "negative_binomial":
        assert spec.variance_to_mean is not None
        return rate, rate * spec.variance_to_mean
    return rate, rate


def make_demand_model(scenario: Scenario, rate_levels: np.ndarray) -> DemandModel:
    """Build the demand model a scenario names (its ``demand`` block, its promotion slots)."""
    spec = scenario.demand
    promotion = None
    if scenario.promotion_slots:
        promotion = Promotion(scenario.promotion, scenario.promotion.category_index(scenario.index))
    common: dict[str, Any] = dict(
        rate_levels=rate_levels,
        seasonality=scenario.seasonality,
        period_hours=scenario.period_hours,
        mean_lines=scenario.mean_lines_per_order,
        promotion=promotion,
    )
    if spec.model == "time_profile":
        return TimeProfileDemand(spec, **common)
    if spec.model == "negative_binomial":
        assert spec.variance_to_mean is not None
        return NegativeBinomialDemand(spec.variance_to_mean, **common)
    if spec.model == "replay":
        assert scenario.order_stream is not None
        return ReplayDemand(scenario.order_stream, **common)
    return PoissonDemand(**common)


def make_substitution(scenario: Scenario) -> Substitution | None:
    """The scenario's demand substitution, or ``None`` without one."""
    triples = scenario.demand.substitutes
    if not triples:
        return None
    source = np.array([scenario.index[s] for s, _, _ in triples], dtype=np.int64)
    target = np.array([scenario.index[t] for _, t, _ in triples], dtype=np.int64)
    share = np.array([float(s) for _, _, s in triples])
    return Substitution(source, target, share, scenario.n_skus)


def group_into_orders(
    units: np.ndarray, mean_lines: float, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Group per-SKU unit counts into orders.

    Args:
        units: Units demanded per SKU in the window, shape ``(n_skus,)``, int.
        mean_lines: Mean units per order (>= 1).
        rng: Source of randomness.

    Returns:
        One ``(skus, quantities)`` pair per order (distinct SKU indices, units >= 1), in
        arrival order; the quantities sum to ``units`` per SKU.
    """
    flat = np.repeat(np.arange(units.size), units)
    if flat.size == 0:
        return []
    rng.shuffle(flat)
    sizes = 1 + rng.poisson(mean_lines - 1.0, size=flat.size) if mean_lines > 1.0 else np.ones(flat.size, dtype=np.int64)
    bounds = np.cumsum(sizes)
    bounds = bounds[bounds < flat.size]
    orders = []
    for chunk in np.split(flat, bounds):
        skus, quantities = np.unique(chunk, return_counts=True)
        orders.append((skus, quantities.astype(np.int64)))
    return orders
