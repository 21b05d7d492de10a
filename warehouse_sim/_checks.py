"""Argument checks shared by the config dataclasses of every layer (numpy only).

Each returns the value when it is valid and otherwise raises one ``ValueError`` that
names the argument and shows what was given (shared/RELIABILITY.md). Bools are never
numbers here, numpy scalars are.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_int(name: str, value: Any, *, low: int = 1) -> int:
    """Return ``value`` as an int if it is an integer (not a bool) >= ``low``.

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_real(name: str, value: Any, *, low: float = 0.0, strict: bool = False) -> float:
    """Return ``value`` as a float if it is a finite number >= ``low`` (> ``low`` when ``strict``).

    Raises:
        ValueError: naming ``name`` otherwise.
    """
    number = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating))
    if not (number and math.isfinite(value) and (value > low if strict else value >= low)):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} {low:g}, got {value!r}")
    return float(value)
