"""The git revision of a source tree (standard library only).

Used at run time by :mod:`warehouse_sim.provenance` and at build time by the build hook
(``hatch_build.py``), which loads this file by path (nothing else of the package is
importable in an isolated build environment).
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_revision_of(folder: Path) -> str | None:
    """The commit checked out in ``folder`` (suffixed ``-dirty`` if tracked files changed), or ``None``."""
    try:
        rev = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}-dirty" if dirty else rev
