"""Validation of agent actions against their spaces, shared by the environments.

Invalid actions raise ``ValueError`` before any state changes (shared/RELIABILITY.md);
Box actions beyond their bounds are clipped to them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class BoxAction:
    """Checks actions against one ``Box``: a float array of its shape, clipped to its bounds.

    Float arrays keep their precision (a float32 policy output is binned in float32, as
    it always was); anything else numeric becomes float64. Built once per env: a float
    array of the right shape inside finite bounds (what a policy sends every step) costs a
    list conversion, one comparison per entry and a copy, no numpy reductions (every
    operation counts: after the physics substeps each runs on cold caches).

    Args:
        shape: The Box's shape.
        low: Its lower bounds (a scalar or an array of ``shape``).
        high: Its upper bounds.
    """

    def __init__(self, shape: tuple[int, ...], low: Any = -1.0, high: Any = 1.0) -> None:
        self.shape, self.low, self.high = shape, low, high
        self._low = np.broadcast_to(low, shape).ravel().tolist()
        self._high = np.broadcast_to(high, shape).ravel().tolist()
        # the per-step fast path: a flat Box with finite bounds, where "inside" implies "finite"
        self._flat_bounded = len(shape) == 1 and all(map(math.isfinite, self._low + self._high))

    def __call__(self, action: Any) -> np.ndarray:
        """Return ``action`` as a new float array of the Box's shape, clipped to its bounds.

        Raises:
            ValueError: if it is not numeric, has another shape, or holds NaN or inf.
        """
        if self._flat_bounded and type(action) is np.ndarray and action.ndim == 1 and action.dtype.kind == "f":
            # what a policy sends every step: a float array inside the bounds, returned as a copy
            values = action.tolist()
            if len(values) == len(self._low):
                for value, low, high in zip(values, self._low, self._high, strict=True):
                    if not low <= value <= high:  # NaN fails too
                        break
                else:
                    return action.copy()
        array = action
        if type(array) is not np.ndarray or array.dtype.kind != "f":
            try:
                array = np.asarray(action)
                if array.dtype.kind != "f":
                    array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"action must be a float array of shape {self.shape}, got {action!r}") from None
        if array.shape != self.shape:
            raise ValueError(f"action must have shape {self.shape}, got shape {array.shape}")
        inside = True
        for value, low, high in zip(array.ravel().tolist(), self._low, self._high, strict=True):
            if not math.isfinite(value):
                raise ValueError(f"action must be finite, got {action!r}")
            inside = inside and low <= value <= high
        return array.copy() if inside else array.clip(self.low, self.high)


def discrete_action(action: Any, n: int, *, start: int = 0) -> int:
    """Return ``action`` as an int in ``[start, start + n)``.

    Python and numpy integers and one-element integer arrays are accepted; bools and
    floats are not.

    Raises:
        ValueError: if it is not an integer or is out of range.
    """
    if isinstance(action, np.ndarray) and action.size == 1 and action.dtype.kind in "iu":
        action = action.reshape(()).item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(f"action must be an integer in [{start}, {start + n}), got {action!r}")
    if not start <= action < start + n:
        raise ValueError(f"action {action} out of range [{start}, {start + n})")
    return int(action)


def multi_discrete_action(action: Any, nvec: np.ndarray) -> np.ndarray:
    """Return ``action`` as an int64 array of ``nvec``'s shape with ``0 <= action < nvec``.

    Integer-valued floats are accepted (what a float policy output holds); anything else
    that is not a finite whole number is refused.

    Raises:
        ValueError: for a wrong shape, NaN/inf or fractional entries, or an entry out of range.
    """
    try:
        array = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"action must be {nvec.size} integers, got {action!r}") from None
    if array.shape != nvec.shape:
        raise ValueError(f"action must have shape {nvec.shape}, got {array.shape}")
    if not np.isfinite(array).all() or (array != np.round(array)).any():
        raise ValueError(f"action must hold finite integers, got {action!r}")
    if (array < 0).any() or (array >= nvec).any():
        raise ValueError(f"action {array.astype(np.int64).tolist()} out of range for nvec {nvec.tolist()}")
    return array.astype(np.int64)
