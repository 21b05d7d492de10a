"""Fulfilment-v0's fast fidelity: the calibrated event-time fleet against the physics ground truth."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.policies.registry import make_baseline
from warehouse_sim.tasks.fulfilment import load_warehouse_scenario
from warehouse_sim.tasks.fulfilment.fast_fleet import MOVE_CLASSES, classify_moves, move_class

ENV_ID = "warehouse_sim/Fulfilment-v0"


def _shift(fidelity: str, seed: int, **kwargs: Any) -> dict[str, Any]:
    env = gym.make(ENV_ID, fidelity=fidelity, **kwargs)
    try:
        policy = make_baseline("heuristic", env)
        obs, info = env.reset(seed=seed)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            env.unwrapped.model.check_invariants()
            done = terminated or truncated
        return info
    finally:
        env.close()


def test_move_classes_name_the_turn_the_start_and_the_end() -> None:
    north, east, south = (1, 0), (0, 1), (-1, 0)
    assert move_class(north, north, True, True) == "ahead-rolling-pass"
    assert move_class(north, north, False, False) == "ahead-rest-stop"
    assert move_class(north, east, True, True) == "side-rest-pass"  # a turn never starts rolling
    assert move_class(north, south, False, False) == "back-rest-stop"
    assert len(MOVE_CLASSES) == 8


def test_classify_moves_follows_each_robot() -> None:
    moves = [
        (0, 0, 10, [(1, 1), (2, 1), (3, 1)]),  # north, passes on: from rest (the start faces north)
        (0, 10, 20, [(2, 1), (3, 1), (3, 2)]),  # north again, arrives with a corner ahead: rolling, stops
        (0, 25, 40, [(3, 1), (3, 2)]),  # turns east, from rest, the plan's end
        (1, 0, 12, [(5, 5), (4, 5)]),  # another robot, reversing
    ]
    got = classify_moves(moves)
    assert got == {"ahead-rest-pass": [10], "ahead-rolling-stop": [10], "side-rest-stop": [15], "back-rest-stop": [12]}


def test_every_shipped_warehouse_scenario_is_calibrated() -> None:
    for name in ("warehouse-tiny", "warehouse-small", "warehouse-medium"):
        seconds = load_warehouse_scenario(name).move_seconds
        assert seconds is not None and set(seconds) == set(MOVE_CLASSES)
        assert seconds["ahead-rolling-pass"] < seconds["ahead-rest-stop"] < seconds["side-rest-stop"] < seconds["back-rest-stop"]


def test_the_stored_calibration_matches_a_fresh_physics_measurement() -> None:
    """Re-measure the move classes on 20 simulated minutes of warehouse-tiny physics (what calibrate_fast.py does)."""
    scenario = load_warehouse_scenario("warehouse-tiny")
    env = gym.make(ENV_ID, scenario=scenario, shift_hours=1 / 3)
    log: list[Any] = []
    try:
        env.unwrapped.task.fleet.move_log = lambda r, t0, t1, path: log.append((r, t0, t1, path))
        policy = make_baseline("heuristic", env)
        obs, _ = env.reset(seed=123)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy.act(obs))
            done = terminated or truncated
    finally:
        env.close()
    measured = classify_moves(log)
    assert scenario.move_seconds is not None
    checked = 0
    for key, ticks in measured.items():
        if len(ticks) >= 20:
            mean_s = float(np.mean(ticks)) / scenario.control_hz
            assert mean_s == pytest.approx(scenario.move_seconds[key], rel=0.1), key
            checked += 1
    assert checked >= 3


def test_fast_and_physics_agree_on_the_small_warehouse() -> None:
    """Sim-to-sim: one hour of warehouse-small under the heuristic, same seed, both fidelities."""
    kwargs = {"scenario": "warehouse-small", "shift_hours": 1}
    physics, fast = _shift("physics", 3, **kwargs), _shift("fast", 3, **kwargs)
    assert fast["cumulative"]["profit"] == pytest.approx(physics["cumulative"]["profit"], rel=0.05)
    assert fast["orders_shipped"] == pytest.approx(physics["orders_shipped"], rel=0.05)
    assert fast["order_cycle_time_s"] == pytest.approx(physics["order_cycle_time_s"], rel=0.15)
    assert abs(fast["robot_utilisation"] - physics["robot_utilisation"]) < 0.05
    assert fast["cell_moves"] == pytest.approx(physics["cell_moves"], rel=0.05)


def test_fast_fidelity_reproduces_and_keeps_the_books() -> None:
    kwargs = {"scenario": "warehouse-small", "shift_hours": 0.5}
    first, second = _shift("fast", 7, **kwargs), _shift("fast", 7, **kwargs)
    assert first["cumulative"]["profit"] == second["cumulative"]["profit"]
    assert first["orders_shipped"] == second["orders_shipped"] > 0
    assert first["collisions"] == 0 and first["driver_fallbacks"] == 0


def test_fast_fidelity_films_its_epochs() -> None:
    env = gym.make(ENV_ID, scenario="warehouse-tiny", fidelity="fast", render_mode="rgb_array", frame_interval_s=10.0)
    try:
        env.reset(seed=0)
        env.step(env.action_space.sample())
        frames = env.unwrapped.recent_frames()
        assert [round(t) for t, _, _ in frames] == [10, 20, 30, 40, 50, 60]
        assert frames[0][1].ndim == 3
    finally:
        env.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fidelity": "quantum"}, "fidelity"),
        ({"fidelity": "fast", "render_mode": "human"}, "physics"),
        ({"fidelity": "fast", "driver": "policy:x.onnx"}, "driver"),
    ],
)
def test_bad_fidelity_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gym.make(ENV_ID, scenario="warehouse-tiny", **kwargs)


def test_an_uncalibrated_scenario_has_no_fast_fidelity() -> None:
    scenario = dataclasses.replace(load_warehouse_scenario("warehouse-tiny"), move_seconds=None)
    with pytest.raises(ValueError, match="calibrate_fast"):
        gym.make(ENV_ID, scenario=scenario, fidelity="fast")


def test_move_seconds_are_validated() -> None:
    scenario = load_warehouse_scenario("warehouse-tiny")
    assert scenario.move_seconds is not None
    with pytest.raises(ValueError, match="missing"):
        dataclasses.replace(scenario, move_seconds={"ahead-rest-stop": 1.0})
    with pytest.raises(ValueError, match="back-rest-stop"):
        dataclasses.replace(scenario, move_seconds={**scenario.move_seconds, "back-rest-stop": -1.0})
