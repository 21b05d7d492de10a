"""Validation of agent actions, shared by the environments.

Invalid actions raise ``ValueError`` before any state changes (shared/RELIABILITY.md);
Box actions beyond their bounds are clipped to them.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def box_action(action: Any, shape: tuple[int, ...], low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Return ``action`` as a float64 array of ``shape``, clipped to ``[low, high]``.

    Raises:
        ValueError: if it is not numeric, has another shape, or holds NaN or inf.
    """
    try:
        array = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"action must be a float array of shape {shape}, got {action!r}") from None
    if array.shape != shape:
        raise ValueError(f"action must have shape {shape}, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"action must be finite, got {action!r}")
    return np.clip(array, low, high)


def discrete_action(action: Any, n: int) -> int:
    """Return ``action`` as an int in ``[0, n)`` (0-d arrays accepted, bools refused).

    Raises:
        ValueError: if it is not an integer or is out of range.
    """
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(f"action must be an integer in [0, {n}), got {action!r}")
    if not 0 <= action < n:
        raise ValueError(f"action {action} out of range [0, {n})")
    return int(action)
