"""Contract tests generated from the registry: every id, in each of its action modes.

Each registered id runs the same checks (Gymnasium's and SB3's env checkers, seeded
rollout equality, double close, step-before-reset). An id whose env cannot be built fails
them (a renamed module must not silently disable the contract).
"""

from __future__ import annotations

import importlib
import os
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim
from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.registration import _SPECS

#: Constructor kwargs of the action modes each id must support (default mode = {}).
ACTION_MODES: dict[str, tuple[dict[str, Any], ...]] = {
    "warehouse_sim/Navigation-v0": ({}, {"continuous": False}),
    "warehouse_sim/Picking-v0": ({}, {"continuous": False}),
    "warehouse_sim/Inventory-v0": ({}, {"continuous": False}),
    "warehouse_sim/Fulfilment-v0": ({"scenario": "warehouse-tiny"}, {"scenario": "warehouse-tiny", "fidelity": "fast"}),
    "warehouse_sim/FleetDispatch-v0": ({"scenario": "warehouse-tiny"}, {"scenario": "warehouse-tiny", "fidelity": "fast"}),
}

#: Steps per seeded rollout; envs whose step simulates a long period get fewer.
ROLLOUT_STEPS: dict[str, int] = {"warehouse_sim/Fulfilment-v0": 2}

CASES = [
    pytest.param(env_id, kwargs, id=f"{env_id.split('/')[-1]}-{'-'.join(f'{k}={v}' for k, v in kwargs.items()) or 'default'}")
    for env_id in warehouse_sim.ENV_IDS
    for kwargs in ACTION_MODES.get(env_id, ({},))
]


def _make(env_id: str, kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
    return gym.make(env_id, **kwargs)


def _rollout(env: gym.Env[Any, Any], seed: int, n: int) -> list[Any]:
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    out: list[Any] = [obs]
    for _ in range(n):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        out += [obs, reward, terminated, truncated]
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_gymnasium_and_sb3_checkers_pass(env_id: str, kwargs: dict[str, Any]) -> None:
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = _make(env_id, kwargs)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # checker warnings are failures
            # the render check opens render_mode="human" (the PyBullet GUI): needs a display
            check_env(env.unwrapped, skip_render_check=not os.environ.get("DISPLAY"))
            sb3_check_env(env.unwrapped, warn=True)
    finally:
        env.close()


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_same_seed_same_trajectory(env_id: str, kwargs: dict[str, Any]) -> None:
    env = _make(env_id, kwargs)
    try:
        n = ROLLOUT_STEPS.get(env_id, 60)
        first = _rollout(env, seed=7, n=n)
        second = _rollout(env, seed=7, n=n)
    finally:
        env.close()
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_step_before_reset_close_twice_and_after_close(env_id: str, kwargs: dict[str, Any]) -> None:
    env = _make(env_id, kwargs)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(Exception):  # noqa: B017 - any clear error; envs differ in the type
        env.step(env.action_space.sample())


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_observations_are_fresh_copies(env_id: str, kwargs: dict[str, Any]) -> None:
    env = _make(env_id, kwargs)
    try:
        obs0, _ = env.reset(seed=3)
        kept = np.array(obs0, copy=True)
        env.step(env.action_space.sample())
        np.testing.assert_array_equal(obs0, kept)
    finally:
        env.close()


def test_every_id_has_an_action_mode_table_entry() -> None:
    assert set(ACTION_MODES) == set(warehouse_sim.ENV_IDS)


@pytest.mark.parametrize("env_id", warehouse_sim.ENV_IDS)
def test_entry_point_is_a_warehouse_env(env_id: str) -> None:
    module, name = _SPECS[env_id][0].split(":")
    entry = getattr(importlib.import_module(module), name)
    if isinstance(entry, type):
        assert issubclass(entry, WarehouseEnv)
    else:  # a factory (FleetDispatch-v0 loads a pricing policy first): what it builds
        env = gym.make(env_id, **ACTION_MODES[env_id][-1])
        try:
            assert isinstance(env.unwrapped, WarehouseEnv)
        finally:
            env.close()
