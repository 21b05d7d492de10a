"""A recorded order stream, read from CSV, for the ``replay`` demand model.

The file has a header and one row per order line::

    timestamp,order_id,sku,units[,price]
    2024-03-04T08:02:11,100231,C20-00,2,16.0
    2024-03-04T08:02:11,100231,C20-07,1,21.5

- ``timestamp``: ISO 8601 date-time; rows sorted by it (ties allowed); all lines of one
  order share it.
- ``order_id``: any text; the lines of one order are consecutive, each SKU at most once.
- ``sku``: a SKU id of the scenario; ``units``: a whole number >= 1.
- ``price`` (optional column): what the customer paid per unit (> 0). With it, replayed
  units are charged their recorded price (the order book carries it per line; a period of
  Inventory-v0 charges the recorded prices of the units it serves, first come first
  served); without it, the price in force.

Time 0 of the scenario is ``start`` (default: midnight before the first order). The
stream covers whole days from time 0 to the last order; beyond that it repeats, so
episodes longer than the recording see it again from the start. Every bad row is a
``ValueError`` naming the file and line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import numpy as np

from warehouse_sim.operations.demand import OrderLines

_HEADER = ("timestamp", "order_id", "sku", "units")


class OrderStream:
    """Order lines sorted by time; see the module docstring.

    Args:
        line_time: Placement hour (since time 0) of each line, non-decreasing, shape ``(n_lines,)``.
        line_order: Order number of each line (0, 1, ... in time order), shape ``(n_lines,)``.
        line_sku: SKU index of each line.
        line_units: Units of each line (>= 1).
        line_price: Recorded price per unit of each line, or ``None``.
        n_skus: Catalogue size.
    """

    def __init__(
        self,
        line_time: np.ndarray,
        line_order: np.ndarray,
        line_sku: np.ndarray,
        line_units: np.ndarray,
        line_price: np.ndarray | None,
        n_skus: int,
    ) -> None:
        if line_time.size == 0:
            raise ValueError("the order stream is empty")
        self.line_time = line_time
        self.line_order = line_order
        self.line_sku = line_sku
        self.line_units = line_units
        self.line_price = line_price
        self.n_skus = n_skus
        #: Hours covered before the stream repeats (whole days from time 0).
        self.length_h = 24.0 * max(1, math.floor(float(line_time[-1]) / 24.0) + 1)

    @classmethod
    def from_csv(cls, path: str | Path, sku_index: Mapping[str, int], *, start: str | None = None) -> OrderStream:
        """Read and validate ``path``.

        Args:
            path: The CSV file.
            sku_index: SKU id -> catalogue index.
            start: ISO date-time of time 0 (default: midnight before the first order).

        Raises:
            FileNotFoundError: if the file does not exist.
            ValueError: for a bad header or row, naming the file and line.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"order stream file not found: {path}")
        stamps: list[datetime] = []
        orders: list[int] = []
        skus: list[int] = []
        units: list[int] = []
        prices: list[float] = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = tuple(h.strip() for h in next(reader, ()))
            if header not in (_HEADER, (*_HEADER, "price")):
                raise ValueError(f"{path.name} line 1: header must be {','.join(_HEADER)}[,price], got {','.join(header)}")
            has_price = len(header) == 5
            order_ids: dict[str, int] = {}
            order_skus: set[int] = set()
            for row in reader:
                line = reader.line_num
                where = f"{path.name} line {line}"
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(f"{where}: expected {len(header)} fields, got {len(row)}")
                stamp_text, order_id, sku, units_text, *price_text = (cell.strip() for cell in row)
                try:
                    stamp = datetime.fromisoformat(stamp_text)
                except ValueError:
                    raise ValueError(f"{where}: timestamp {stamp_text!r} is not an ISO 8601 date-time") from None
                if stamps and (stamp.tzinfo is None) != (stamps[0].tzinfo is None):
                    raise ValueError(f"{where}: timestamps mix time zones and local times")
                if stamps and stamp < stamps[-1]:
                    raise ValueError(f"{where}: unsorted time: {stamp_text} is before the previous row's {stamps[-1].isoformat()}")
                if sku not in sku_index:
                    raise ValueError(f"{where}: unknown SKU {sku!r}")
                try:
                    count = int(units_text)
                except ValueError:
                    raise ValueError(f"{where}: units {units_text!r} is not a whole number") from None
                if count < 1:
                    raise ValueError(f"{where}: units must be >= 1, got {count}")
                if order_id in order_ids:
                    if order_ids[order_id] != len(order_ids) - 1:
                        raise ValueError(f"{where}: the lines of order {order_id!r} are not consecutive")
                    if stamp != stamps[-1]:
                        raise ValueError(f"{where}: order {order_id!r} has lines at different times")
                    if sku_index[sku] in order_skus:
                        raise ValueError(f"{where}: order {order_id!r} lists SKU {sku!r} twice")
                else:
                    order_ids[order_id] = len(order_ids)
                    order_skus = set()
                order_skus.add(sku_index[sku])
                if has_price:
                    try:
                        price = float(price_text[0])
                    except ValueError:
                        raise ValueError(f"{where}: price {price_text[0]!r} is not a number") from None
                    if not (math.isfinite(price) and price > 0):
                        raise ValueError(f"{where}: price must be a finite number > 0, got {price_text[0]}")
                    prices.append(price)
                stamps.append(stamp)
                orders.append(order_ids[order_id])
                skus.append(sku_index[sku])
                units.append(count)
        if not stamps:
            raise ValueError(f"{path.name}: no order lines")
        origin = _origin(stamps[0], start, path.name)
        hours = np.array([(s - origin).total_seconds() / 3600.0 for s in stamps])
        if hours[0] < 0:
            raise ValueError(f"{path.name}: demand.start {start} is after the first order")
        return cls(
            hours,
            np.array(orders, dtype=np.int64),
            np.array(skus, dtype=np.int64),
            np.array(units, dtype=np.int64),
            np.array(prices) if has_price else None,
            len(sku_index),
        )

    def _segments(self, start_h: float, hours: float) -> list[tuple[slice, float]]:
        """Line ranges of the window ``[start_h, start_h + hours)`` and the clock offset of each (the stream repeats)."""
        out = []
        t, end = start_h, start_h + hours
        while t < end:
            cycle = math.floor(t / self.length_h)
            offset = cycle * self.length_h
            stop = min(end, offset + self.length_h)
            lo, hi = np.searchsorted(self.line_time, [t - offset, stop - offset], side="left")
            out.append((slice(int(lo), int(hi)), offset))
            t = stop
        return out

    def units(self, start_h: float, hours: float) -> np.ndarray:
        """Units per SKU placed in the window, int64, shape ``(n_skus,)``."""
        total = np.zeros(self.n_skus, dtype=np.int64)
        for lines, _ in self._segments(start_h, hours):
            total += np.bincount(self.line_sku[lines], weights=self.line_units[lines], minlength=self.n_skus).astype(np.int64)
        return total

    def orders(self, start_h: float, hours: float) -> list[OrderLines]:
        """The orders placed in the window, in time order: ``(hour, skus, units, prices or None)``."""
        out: list[OrderLines] = []
        for lines, offset in self._segments(start_h, hours):
            order = self.line_order[lines]
            if order.size == 0:
                continue
            cuts = np.flatnonzero(np.diff(order)) + 1
            for chunk in np.split(np.arange(lines.start, lines.stop), cuts):
                price = None if self.line_price is None else self.line_price[chunk]
                out.append((float(self.line_time[chunk[0]] + offset), self.line_sku[chunk], self.line_units[chunk], price))
        return out

    def unit_prices(self, start_h: float, hours: float) -> list[np.ndarray] | None:
        """Per SKU, the recorded price of each unit placed in the window in arrival order, or ``None`` without prices."""
        if self.line_price is None:
            return None
        per_sku: list[list[np.ndarray]] = [[] for _ in range(self.n_skus)]
        for lines, _ in self._segments(start_h, hours):
            for sku, count, price in zip(self.line_sku[lines], self.line_units[lines], self.line_price[lines], strict=True):
                per_sku[int(sku)].append(np.full(int(count), float(price)))
        return [np.concatenate(chunks) if chunks else np.zeros(0) for chunks in per_sku]

    def per_period(self, period_hours: float) -> np.ndarray:
        """Units per SKU in each whole period of one cycle, shape ``(n_periods, n_skus)``."""
        n = max(1, int(self.length_h // period_hours))
        return np.stack([self.units(k * period_hours, period_hours) for k in range(n)])


def _origin(first: datetime, start: str | None, name: str) -> datetime:
    if start is None:
        return first.replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        origin = datetime.fromisoformat(start)
    except ValueError:
        raise ValueError(f"demand.start {start!r} is not an ISO 8601 date-time") from None
    if (origin.tzinfo is None) != (first.tzinfo is None):
        raise ValueError(f"{name}: demand.start and the timestamps mix time zones and local times")
    return origin
