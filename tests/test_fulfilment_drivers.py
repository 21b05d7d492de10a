"""Fulfilment-v0 ``driver=``: the path controller, or an exported Navigation-v0 policy driving the fleet.

The policies are the shipped reference exports (training/results/*-navigation), trained
alone on the `small` layout; warehouse-tiny runs the same layout with 2 robots.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.envs.fulfilment import FulfilmentEnv
from warehouse_sim.evaluation import kpi_scalars
from warehouse_sim.policies.registry import make_baseline

ENV_ID = "warehouse_sim/Fulfilment-v0"
RESULTS = Path(__file__).resolve().parents[1] / "training" / "results"
NAV_POLICIES = [RESULTS / "ppo-navigation" / "policy.onnx", RESULTS / "dqn-navigation" / "policy.onnx"]


def _shift(driver: str, seed: int = 0) -> dict[str, Any]:
    env = gym.make(ENV_ID, scenario="warehouse-tiny", driver=driver)
    obs, info = env.reset(seed=seed)
    policy = make_baseline("heuristic", env)
    policy.reset(env)
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step(policy.act(obs))
        done = terminated or truncated
    env.close()
    return info


@pytest.fixture(scope="module")
def planner_shift() -> dict[str, Any]:
    return _shift("planner")


@pytest.mark.parametrize("policy", NAV_POLICIES, ids=lambda p: p.parent.name)
def test_a_navigation_policy_drives_the_fleet_through_a_shift(policy: Path, planner_shift: dict[str, Any]) -> None:
    info = _shift(f"policy:{policy}")
    assert info["orders_shipped"] >= 0.8 * planner_shift["orders_shipped"] > 0
    assert info["collisions"] == 0
    # The policy drove most moves itself: the watchdog took over fewer than a quarter.
    assert info["cell_moves"] > 100
    assert info["driver_fallbacks"] < 0.25 * info["cell_moves"]
    assert planner_shift["driver_fallbacks"] == 0


def test_policy_driven_shifts_are_reproducible() -> None:
    driver = f"policy:{NAV_POLICIES[1]}"
    first, second = kpi_scalars(_shift(driver, seed=3)), kpi_scalars(_shift(driver, seed=3))
    assert first == second and first["distance_m"] > 0


@pytest.mark.parametrize(
    ("driver", "error", "match"),
    [
        ("autopilot", ValueError, "driver"),
        ("policy:missing.onnx", FileNotFoundError, "missing.onnx"),
        ("policy:model.zip", ValueError, ".onnx"),
        (f"policy:{RESULTS / 'ppo-inventory' / 'policy.onnx'}", ValueError, "Inventory-v0"),
        (f"policy:{RESULTS / 'ppo-picking' / 'policy.onnx'}", ValueError, "Picking-v0"),
    ],
)
def test_bad_driver_specs_raise_clear_errors(driver: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        FulfilmentEnv("warehouse-tiny", driver=driver)
