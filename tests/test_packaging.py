"""Packaging: data folders ship inside the wheel, and the resolvers find every asset."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
import tomllib
import yaml

from warehouse_sim.assets import asset_path, assets_dir
from warehouse_sim.operations.catalogue import load_scenario
from warehouse_sim.tasks.fulfilment import load_warehouse_scenario

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_the_data_folders_inside_the_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert include == {"assets": "warehouse_sim/assets", "training/hyperparams": "warehouse_sim/hyperparams"}
    for source in include:
        assert (ROOT / source).is_dir(), source


def test_every_scenario_file_loads() -> None:
    scenarios = sorted((assets_dir() / "scenarios").glob("*.yaml"))
    assert scenarios
    for path in scenarios:
        assert isinstance(yaml.safe_load(path.read_text()), dict), path
        loader = load_warehouse_scenario if path.name.startswith("warehouse-") else load_scenario
        loader(path.stem)


def test_asset_path_names_the_missing_file() -> None:
    assert asset_path("scenarios/reference-single-sku.yaml").is_file()
    with pytest.raises(FileNotFoundError, match="no-such.yaml"):
        asset_path("scenarios/no-such.yaml")


def _build(kind: str, source: Path, out: Path) -> Path:
    """Build an sdist or a wheel of ``source`` with hatchling's PEP 517 hooks (as pip and ``python -m build`` do)."""
    code = f"import sys\nfrom hatchling.build import build_{kind}\nprint(build_{kind}(sys.argv[1]))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True, timeout=300, check=True)
    return out / done.stdout.strip().splitlines()[-1]


def _revision_of_installed(wheel: Path, folder: Path) -> dict:
    site = folder / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = "import json\nfrom warehouse_sim.provenance import source_revision\nprint(json.dumps(source_revision()))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120, check=True,
        env={**os.environ, "PYTHONPATH": str(site)},
    )
    return json.loads(done.stdout)


def test_a_non_editable_install_knows_its_git_revision(tmp_path: Path) -> None:
    # Issue 15 item 9: config.yaml recorded git_revision: null after a non-editable install.
    # As `python -m build`: an sdist from the checkout, then the wheel from the unpacked sdist (no .git there).
    pytest.importorskip("hatchling")
    from warehouse_sim._git import git_revision_of

    sdist = _build("sdist", ROOT, tmp_path / "dist")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "src", filter="data")
    (unpacked,) = (tmp_path / "src").iterdir()
    assert not (unpacked / ".git").exists()
    wheel = _build("wheel", unpacked, tmp_path / "dist")
    info = _revision_of_installed(wheel, tmp_path / "wheel")
    assert info == {"git_revision": git_revision_of(ROOT), "git_revision_source": "recorded at build time"}


def test_a_wheel_built_without_git_says_why_it_has_no_revision(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    copy = tmp_path / "archive"
    for name in tracked:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    info = _revision_of_installed(_build("wheel", copy, tmp_path / "dist"), tmp_path / "wheel")
    assert info["git_revision"] is None
    assert info["git_revision_source"] == "unknown: the package was built from a source tree without git metadata"
