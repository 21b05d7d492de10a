"""Scenario files: the bundled ones load; every validator rejects its bad value, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from warehouse_sim.assets import assets_dir
from warehouse_sim.operations import load_scenario
from warehouse_sim.operations.catalogue import scenario_from_dict

REFERENCE = yaml.safe_load((assets_dir() / "scenarios" / "reference-single-sku.yaml").read_text())
OPERATIONS_SCENARIOS = ("reference-single-sku", "catalogue-20")


@pytest.mark.parametrize("name", OPERATIONS_SCENARIOS)
def test_bundled_scenarios_load(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert all(len(s.size) == 3 and s.weight > 0 and s.slot for s in scenario.skus)


def test_reference_instance_is_exactly_the_issue() -> None:
    scenario = load_scenario("reference-single-sku")
    (sku,) = scenario.skus
    assert (sku.unit_cost, scenario.fixed_order_cost, sku.prices, sku.order_quantities) == (5, 20, (7, 10, 13, 16), (0, 8, 16, 24))
    assert (sku.base_rate, sku.base_price, sku.elasticity, sku.penalty, sku.holding_cost) == (8, 10, 2.5, 4, 0.5)
    assert (sku.lead_time, sku.capacity, sku.initial_on_hand, scenario.horizon, scenario.mode) == (3, 40, 20, 200, "lost_sales")


def test_catalogue_20_has_abc_demand_shared_capacity_and_varied_lead_times() -> None:
    scenario = load_scenario("catalogue-20")
    rates = sorted((s.base_rate for s in scenario.skus), reverse=True)
    assert scenario.n_skus == 20 and sum(rates[:4]) > 0.5 * sum(rates)
    assert scenario.shared_capacity is not None and scenario.shared_capacity < sum(s.capacity or 0 for s in scenario.skus)
    assert len({s.lead_time for s in scenario.skus}) > 1 and len({s.elasticity for s in scenario.skus}) > 1


def test_load_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({**REFERENCE, "name": "mine"}))
    assert load_scenario(path).name == "mine"
    assert load_scenario(str(path)).name == "mine"


def test_missing_scenarios_raise_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_scenario("no-such-scenario")
    with pytest.raises(FileNotFoundError):
        load_scenario(tmp_path / "absent.yaml")


@pytest.mark.parametrize(
    "text",
    ["skus: [unclosed", "just a string", "- a\n- list", "name: x\nskus: []", "name: x"],
)
def test_malformed_files_raise_value_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError):
        load_scenario(path)


SKU_CASES = [
    ("unit_cost", -1, "unit_cost"),
    ("unit_cost", "five", "unit_cost"),
    ("base_price", 0, "base_price"),
    ("elasticity", -0.5, "elasticity"),
    ("base_rate", -1, "base_rate"),
    ("base_rate", float("nan"), "base_rate"),
    ("prices", [], "prices"),
    ("prices", [10, 7], "prices"),
    ("prices", [0, 7], "prices"),
    ("prices", 7, "prices"),
    ("order_quantities", [0, -8], "order_quantities"),
    ("order_quantities", [0, 8.5], "order_quantities"),
    ("order_quantities", [8, 8], "order_quantities"),
    ("lead_time", 0, "lead_time"),
    ("lead_time", 1.5, "lead_time"),
    ("holding_cost", -0.5, "holding_cost"),
    ("penalty", -4, "penalty"),
    ("capacity", 0, "capacity"),
    ("initial_on_hand", -1, "initial_on_hand"),
    ("initial_on_hand", 41, "initial_on_hand"),
    ("size", [0.1, 0.2], "size"),
    ("size", [0.1, 0.2, -0.1], "size"),
    ("weight", 0, "weight"),
    ("slot", "", "slot"),
    ("id", "", "id"),
    ("colour", "red", "colour"),
]


@pytest.mark.parametrize(("field", "value", "named"), SKU_CASES, ids=[f"{c[0]}={c[1]!r}" for c in SKU_CASES])
def test_each_sku_validator_names_its_field(field: str, value: object, named: str) -> None:
    sku = {**REFERENCE["skus"][0], field: value}
    with pytest.raises(ValueError, match=named):
        scenario_from_dict({**REFERENCE, "skus": [sku]})


def test_missing_sku_field_is_named() -> None:
    sku = dict(REFERENCE["skus"][0])
    del sku["unit_cost"]
    with pytest.raises(ValueError, match="unit_cost"):
        scenario_from_dict({**REFERENCE, "skus": [sku]})


SCENARIO_CASES = [
    ("fixed_order_cost", -20, "fixed_order_cost"),
    ("mode", "sometimes", "mode"),
    ("shared_capacity", 0, "shared_capacity"),
    ("shared_capacity", 10, "shared_capacity"),
    ("horizon", 0, "horizon"),
    ("period_hours", 0, "period_hours"),
    ("seasonality", [], "seasonality"),
    ("seasonality", [1.0, -1.0], "seasonality"),
    ("mean_lines_per_order", 0.5, "mean_lines_per_order"),
    ("due_hours", -1, "due_hours"),
    ("reward_scale", 0, "reward_scale"),
    ("name", "", "name"),
    ("skus", [], "skus"),
    ("skus", "REF-1", "skus"),
    ("wheather", 1, "wheather"),
]


@pytest.mark.parametrize(("field", "value", "named"), SCENARIO_CASES, ids=[f"{c[0]}={c[1]!r}" for c in SCENARIO_CASES])
def test_each_scenario_validator_names_its_field(field: str, value: object, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        scenario_from_dict({**REFERENCE, field: value})


def test_duplicate_sku_ids_are_rejected() -> None:
    sku = REFERENCE["skus"][0]
    with pytest.raises(ValueError, match="duplicate"):
        scenario_from_dict({**REFERENCE, "skus": [sku, sku]})


def test_unknown_sku_reference_is_rejected() -> None:
    scenario = load_scenario("reference-single-sku")
    with pytest.raises(ValueError, match="unknown SKU 'REF-2'"):
        scenario.sku_index("REF-2")


# Issue 15 item 10: values that passed validation and broke later (first step, report, memory).
RED_TEAM_SKU = [
    ("base_rate", 1e30, "base_rate"),
    ("elasticity", 1e300, "elasticity"),
    ("prices", [1e-300, 10.0], "prices"),
    ("prices", [0.0001, 10.0], "prices"),  # below MIN_PRICE
    ("prices", [0.05, 10.0], "mean demand at price 0.05"),  # allowed price, but 8 x 200^2.5 units per period
    ("unit_cost", 1e308, "unit_cost"),
    ("capacity", 10**20, "capacity"),
    ("initial_on_hand", 10**20, "initial_on_hand"),
    ("order_quantities", [0, 10**20], "order_quantities"),
    ("lead_time", 10**9, "lead_time"),
    ("holding_cost", 1e200, "holding_cost"),
    ("penalty", float("inf"), "penalty"),
]
RED_TEAM_SCENARIO = [
    ("reward_scale", 1e-320, "reward_scale"),
    ("reward_scale", 1e300, "reward_scale"),
    ("horizon", 10**20, "horizon"),
    ("fixed_order_cost", 1e300, "fixed_order_cost"),
    ("shared_capacity", 10**20, "shared_capacity"),
    ("period_hours", 1e9, "period_hours"),
    ("seasonality", [1.0, 1e6], "seasonality"),
    ("mean_lines_per_order", 1e12, "mean_lines_per_order"),
]


@pytest.mark.parametrize(("field", "value", "named"), RED_TEAM_SKU + RED_TEAM_SCENARIO, ids=lambda v: repr(v)[:24])
def test_out_of_bounds_values_fail_at_load_naming_field_and_file(field: str, value: object, named: str, tmp_path: Path) -> None:
    data = {**REFERENCE, field: value} if (field, value, named) in RED_TEAM_SCENARIO else {
        **REFERENCE, "skus": [{**REFERENCE["skus"][0], field: value}]
    }
    path = tmp_path / "red-team.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=named) as exc:
        load_scenario(path)
    assert str(path) in str(exc.value)


def test_each_multiplier_allowed_but_the_peak_demand_is_not(tmp_path: Path) -> None:
    sku = {**REFERENCE["skus"][0], "base_rate": 2_000}  # 4,900 units per period at price 7: allowed
    assert load_scenario(_write(tmp_path, {**REFERENCE, "skus": [sku]})).skus[0].base_rate == 2_000
    with pytest.raises(ValueError, match=r"x seasonality 60\); at most 100,000"):
        load_scenario(_write(tmp_path, {**REFERENCE, "skus": [sku], "seasonality": [1.0, 60.0]}))


def _write(folder: Path, data: dict) -> Path:
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_duplicate_yaml_keys_are_an_error_not_last_wins(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    text = (assets_dir() / "scenarios" / "reference-single-sku.yaml").read_text()
    path.write_text(text.replace("    base_rate: 8 ", "    base_rate: 8\n    base_rate: 80 "))
    assert "base_rate: 80" in path.read_text()
    with pytest.raises(ValueError, match="duplicate key 'base_rate'") as exc:
        load_scenario(path)
    assert str(path) in str(exc.value) and "line 16" in str(exc.value)


def test_a_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes((assets_dir() / "scenarios" / "reference-single-sku.yaml").read_bytes().replace(b"reference item", b"r\xe9f\xe9rence"))
    with pytest.raises(ValueError, match="not UTF-8") as exc:
        load_scenario(path)
    assert str(path) in str(exc.value)
