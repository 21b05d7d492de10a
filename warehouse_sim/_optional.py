"""Optional dependencies: a clear error naming the extra that provides them.

The base install simulates, views and evaluates ONNX policies; training and export need
the ``train`` extra (Stable-Baselines3, torch, TensorBoard, onnx). Commands that need an
extra check for it before doing anything, so a missing package is one line naming the
fix rather than a ``ModuleNotFoundError`` traceback halfway through.
"""

from __future__ import annotations

import importlib.util


class MissingExtraError(ImportError):
    """A command needs packages of an optional extra that are not installed."""


def require_extra(extra: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` unless every module in ``modules`` can be imported.

    Args:
        extra: The extra that provides them (``"train"``).
        modules: Top-level module names, e.g. ``"torch"``.

    Raises:
        MissingExtraError: naming the missing modules and the install command.
    """
    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a module hidden or half-installed
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"this needs the {extra!r} extra ({', '.join(missing)} not installed): "
            f'pip install ".[{extra}]" (from the source folder) or pip install "warehouse_sim[{extra}]"'
        )
