"""Packaging: data folders ship inside the wheel, and the resolvers find every asset."""

from __future__ import annotations

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
