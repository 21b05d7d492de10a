"""The one place that knows where the package's data files live.

In an installed wheel the repository's top-level ``assets/`` folder is shipped as
``warehouse_sim/assets``; in a source checkout (or an editable install) it is read
from the repository root.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def assets_dir() -> Path:
    """Return the directory holding the package assets (scenarios, URDFs)."""
    for candidate in (_PACKAGE_DIR / "assets", _PACKAGE_DIR.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"warehouse_sim assets not found next to {_PACKAGE_DIR}")


def asset_path(relative: str | Path) -> Path:
    """Return the absolute path of an asset, e.g. ``asset_path("scenarios/x.yaml")``.

    Raises:
        FileNotFoundError: if the asset does not exist.
    """
    path = assets_dir() / relative
    if not path.exists():
        raise FileNotFoundError(f"asset not found: {relative} (looked in {assets_dir()})")
    return path
