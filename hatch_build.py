"""Build hook: record the git revision of the source in every wheel and sdist.

A non-editable install (``pip install .``, ``python -m build``) copies the package out of
the checkout, so at run time git can no longer say which commit it is. This hook writes
``warehouse_sim/_build_info.py`` (``GIT_REVISION``) into the artifact, read by
:mod:`warehouse_sim.provenance`. A wheel built from an sdist keeps the revision the sdist
recorded (an sdist has no git metadata); editable installs read git directly.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUILD_INFO = "warehouse_sim/_build_info.py"


def _git_revision(root: Path) -> str | None:
    spec = importlib.util.spec_from_file_location("_warehouse_sim_git", root / "warehouse_sim" / "_git.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.git_revision_of(root) if (root / ".git").exists() else None


class BuildInfoHook(BuildHookInterface):
    """Writes ``warehouse_sim/_build_info.py`` into the artifact being built."""

    PLUGIN_NAME = "build-info"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the build-info module to the artifact (not for editable wheels)."""
        root = Path(self.root)
        if version == "editable":
            return
        recorded = root / BUILD_INFO
        revision = _git_revision(root)
        if revision is None and recorded.is_file():  # a build from an sdist: keep the revision it recorded
            build_data["force_include"][str(recorded)] = BUILD_INFO
            return
        self._folder = tempfile.TemporaryDirectory()
        path = Path(self._folder.name) / "_build_info.py"
        path.write_text(
            '"""Written by the build hook (hatch_build.py): the source revision this package was built from."""\n\n'
            f"GIT_REVISION: str | None = {revision!r}\n"
        )
        build_data["force_include"][str(path)] = BUILD_INFO

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the temporary build-info file."""
        folder = getattr(self, "_folder", None)
        if folder is not None:
            folder.cleanup()
