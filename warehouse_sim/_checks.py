"""Argument checks shared by the config dataclasses of every layer (numpy only).

Each returns the value when it is valid and otherwise raises one ``ValueError`` that
names the argument and shows what was given (shared/RELIABILITY.md). Bools are never
numbers here, numpy scalars are. Upper bounds (``high``) keep values to what the code can
represent and a real warehouse could mean (a rate of 1e30 units, a lead time of 1e9
periods or a capacity beyond int64 would break later, far from the field that caused it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _range(low: float, high: float | None, *, strict: bool = False, fmt: str = "g") -> str:
    lower = f"{'>' if strict else '>='} {low:{fmt}}"
    return lower if high is None else f"{'in (' if strict else 'in ['}{low:{fmt}}, {high:{fmt}}]"


def check_int(name: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) in ``[low, high]``.

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    integer = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))
    if not integer or value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer {_range(low, high, fmt=',')}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any, *, low: float = 0.0, strict: bool = False, high: float | None = None) -> float:
    """Return ``value`` as a float if it is a finite number >= ``low`` (> when ``strict``) and <= ``high``.

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    number = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    ok = number and math.isfinite(value) and (value > low if strict else value >= low) and (high is None or value <= high)
    if not ok:
        raise ValueError(f"{name} must be a finite number {_range(low, high, strict=strict)}, got {value!r}")
    return float(value)
