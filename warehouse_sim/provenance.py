"""Where a result came from: package versions and the git revision of the source.

Run folders (``config.yaml``), ONNX sidecars and benchmark results record both, so a
figure can be traced to the code that produced it. Versions are read from the installed
distributions' metadata, so nothing heavy (torch, SB3) is imported to report them.

The git revision is found, in order:

1. in ``warehouse_sim/_build_info.py``, which the build hook (``hatch_build.py`` at the
   repository root) writes into every wheel and sdist built from a git checkout, so a
   non-editable ``pip install .`` still knows its revision;
2. by asking git about the source tree the package is imported from (editable installs
   and checkouts on ``PYTHONPATH``).

When neither works (a wheel built from a tree without git metadata, e.g. a downloaded
archive), the revision is ``None`` and :func:`source_revision` says why.
"""

from __future__ import annotations

import importlib
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import warehouse_sim
from warehouse_sim._git import git_revision_of

_PACKAGE_DIR = Path(warehouse_sim.__file__).resolve().parent


def versions(*packages: str) -> dict[str, str]:
    """Versions of warehouse_sim, Python and each of ``packages`` (``"absent"`` if not installed).

    Args:
        packages: Distribution names, e.g. ``"torch"``, ``"stable_baselines3"``.
    """
    out = {"warehouse_sim": warehouse_sim.__version__, "python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def source_revision() -> dict[str, Any]:
    """The git revision of the running code and where it was found.

    Returns:
        ``{"git_revision": str | None, "git_revision_source": str}``; the source is
        ``"recorded at build time"``, ``"git checkout <folder>"``, or the reason the
        revision is unknown.
    """
    try:
        build_info: Any = importlib.import_module("warehouse_sim._build_info")
    except ImportError:
        build_info = None
    if build_info is not None and build_info.GIT_REVISION is not None:
        return {"git_revision": build_info.GIT_REVISION, "git_revision_source": "recorded at build time"}
    root = _PACKAGE_DIR.parent
    # Only the checkout the package lives in: site-packages inside some other repository is not it.
    revision = git_revision_of(root) if (root / ".git").exists() else None
    if revision is not None:
        return {"git_revision": revision, "git_revision_source": f"git checkout {root}"}
    why = (
        "the package was built from a source tree without git metadata"
        if build_info is not None
        else f"installed without build information and {root} is not a git checkout"
    )
    return {"git_revision": None, "git_revision_source": f"unknown: {why}"}
