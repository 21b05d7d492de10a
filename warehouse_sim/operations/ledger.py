"""The ledger: units and money per period and cumulative.

Flows are recorded while a period is open and added to the cumulative totals when it
closes, so ``cumulative`` always holds complete periods and :meth:`Ledger.totals` adds
the open one. Profit is derived here and nowhere else:
``profit = revenue - purchase_cost - order_cost - holding_cost - penalty
[- promotion_cost]`` (the last flow exists only in scenarios with promotion slots).
Fill rate: the fraction of demand served. Over one period it is the share of the units
demanded *in that period* that were served within it (:attr:`Ledger.filled`), so it is
in [0, 1]: shipments of orders from earlier periods count for their own periods, not
this one (sales / demand of the same period reached 1.78 on Fulfilment-v0, where orders
ship after the epoch they arrive in). Cumulatively it is every unit served so far over
every unit demanded so far (sales / demand), also in [0, 1]; units still open count as
not yet served.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Per-SKU unit flows, rows of :attr:`Ledger.units` (shape ``(len(UNIT_FLOWS), n_skus)``).
UNIT_FLOWS: tuple[str, ...] = ("demand", "sales", "lost", "ordered", "received", "written_off")
#: Money flows, entries of :attr:`Ledger.money` (currency units); ``promotion_cost`` only with promotion slots.
MONEY_FLOWS: tuple[str, ...] = ("revenue", "purchase_cost", "order_cost", "holding_cost", "penalty", "promotion_cost")

DEMAND, SALES, LOST, ORDERED, RECEIVED, WRITTEN_OFF = range(len(UNIT_FLOWS))
REVENUE, PURCHASE_COST, ORDER_COST, HOLDING_COST, PENALTY, PROMOTION_COST = range(len(MONEY_FLOWS))


def _profit(money: list[float]) -> float:
    """Revenue minus every cost, from money flows in :data:`MONEY_FLOWS` order (costs subtracted in turn)."""
    profit = money[0]
    for cost in money[1:]:
        profit -= cost
    return profit


class Ledger:
    """Units (int64, per SKU) and money (float64) for the open period and cumulatively.

    Attributes:
        units: Open period's unit flows, shape ``(6, n_skus)``, rows as :data:`UNIT_FLOWS`.
        money: Open period's money flows, shape ``(5,)`` (``(6,)`` with promotions), entries as :data:`MONEY_FLOWS`.
        cum_units: Unit flows of all closed periods since reset.
        cum_money: Money flows of all closed periods since reset.
        last_units: Unit flows of the last closed period.
        last_money: Money flows of the last closed period.
        filled: Units of the open period's demand served within it, per SKU.
        last_filled: The same for the last closed period.
    """

    def __init__(self, n_skus: int, *, promotion: bool = False) -> None:
        shape = (len(UNIT_FLOWS), n_skus)
        n_money = len(MONEY_FLOWS) - (0 if promotion else 1)
        self.units = np.zeros(shape, dtype=np.int64)
        self.money = np.zeros(n_money)
        self.cum_units = np.zeros(shape, dtype=np.int64)
        self.cum_money = np.zeros(n_money)
        self.last_units = np.zeros(shape, dtype=np.int64)
        self.last_money = np.zeros(n_money)
        self.filled = np.zeros(n_skus, dtype=np.int64)
        self.last_filled = np.zeros(n_skus, dtype=np.int64)

    def reset(self) -> None:
        """Zero every flow."""
        for array in (self.units, self.money, self.cum_units, self.cum_money, self.last_units, self.last_money,
                      self.filled, self.last_filled):
            array.fill(0)

    def close_period(self) -> float:
        """Add the open period to the totals, keep it as ``last_*``, open a new one.

        Returns:
            The closed period's profit (currency units).
        """
        self.cum_units += self.units
        self.cum_money += self.money
        self.last_units[...] = self.units
        self.last_money[...] = self.money
        self.last_filled[...] = self.filled
        self.units.fill(0)
        self.money.fill(0)
        self.filled.fill(0)
        return _profit(self.last_money.tolist())

    def totals(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative unit and money flows including the open period."""
        return self.cum_units + self.units, self.cum_money + self.money

    @staticmethod
    def profit(money: np.ndarray) -> float:
        """Profit of a money-flow vector: revenue minus every cost."""
        return _profit(money.tolist())

    @staticmethod
    def as_dict(units: np.ndarray, money: np.ndarray, *, filled: np.ndarray | None = None) -> dict[str, Any]:
        """Flows as a dict of per-SKU arrays (fresh) and scalars, plus profit and fill rate.

        Args:
            units: Unit flows, shape ``(6, n_skus)``.
            money: Money flows, shape ``(5,)``.
            filled: For one period: units of its demand served within it, per SKU.

        ``fill_rate`` (in [0, 1], 1.0 when there was no demand) is ``filled / demand``
        for a period, and ``sales / demand`` for cumulative flows (``filled=None``): see
        the module docstring.
        """
        fresh = units.copy()  # rows are views of this private copy, never of the ledger
        values = money.tolist()
        out: dict[str, Any] = dict(zip(UNIT_FLOWS, fresh, strict=True))
        out.update(zip(MONEY_FLOWS[: len(values)], values, strict=True))
        out["profit"] = _profit(values)
        demand = int(fresh[DEMAND].sum())
        served = int(fresh[SALES].sum()) if filled is None else int(filled.sum())
        out["fill_rate"] = served / demand if demand else 1.0
        return out
