"""Potential-based reward shaping (stock valued at cost) for the operations envs."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from warehouse_sim.training import TrainConfig, read_run_config, train
from warehouse_sim.training.runner import _env_factory
from warehouse_sim.training.shaping import StockValueShaping, shape_reward
from warehouse_sim.training.warm_start import collect_demonstrations

INV = "warehouse_sim/Inventory-v0"
FUL = "warehouse_sim/Fulfilment-v0"
INV_KWARGS = {"scenario": "catalogue-20", "continuous": False}
TINY = {"scenario": "warehouse-tiny"}


def _episode(env: gym.Env, seed: int) -> tuple[list[float], list[float], float, float]:
    """Shaped rewards, the env's own rewards, and the potential at reset and at the end, under seeded random actions.

    The potential at the end is 0 after a terminal step (nothing more can be done with
    the stock), the stock's value after a truncation (a value function bootstraps it).
    """
    env.reset(seed=seed)
    env.action_space.seed(seed)
    phi0 = env.potential() if isinstance(env, StockValueShaping) else 0.0
    shaped, own = [], []
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        shaped.append(float(reward))
        own.append(info.get("reward_unshaped", float(reward)))
        done = terminated or truncated
    phi_end = env.potential() if isinstance(env, StockValueShaping) and not terminated else 0.0
    return shaped, own, phi0, phi_end


@pytest.mark.parametrize(("env_id", "kwargs"), [(INV, INV_KWARGS), (FUL, TINY)])
def test_undiscounted_shaped_return_is_the_profit_minus_the_change_in_stock_value(env_id: str, kwargs: dict) -> None:
    shaped_env = StockValueShaping(gym.make(env_id, **kwargs), gamma=1.0)
    shaped, own, phi0, phi_end = _episode(shaped_env, seed=3)
    plain, _, _, _ = _episode(gym.make(env_id, **kwargs), seed=3)
    # The wrapper changes nothing in the env: its own rewards are those of an unwrapped run.
    assert own == plain
    task = shaped_env.unwrapped.task
    assert phi0 == pytest.approx(float(task.model.unit_cost @ task.model.initial_on_hand) / task.reward_scale)
    assert phi0 > 0
    # Inventory-v0 is truncated at its horizon (stock keeps its value); Fulfilment-v0's shift terminates.
    assert (phi_end > 0) == (env_id == INV)
    assert sum(shaped) == pytest.approx(sum(own) - phi0 + phi_end, rel=1e-9, abs=1e-9)


def test_shaped_reward_books_stock_at_cost_so_an_order_is_neutral_and_leftovers_are_charged_at_the_end() -> None:
    env = StockValueShaping(gym.make(FUL, **TINY), gamma=1.0)
    env.reset(seed=0)
    task = env.unwrapped.task
    m, scale, nvec = task.model, task.reward_scale, env.action_space.nvec
    c, n = task.n_classes, m.n_skus
    order_all = np.zeros_like(nvec)
    order_all[c : c + n] = nvec[c : c + n] - 1  # the largest order of every SKU
    action, terminated = order_all, False
    while not terminated:
        _, reward, terminated, _, info = env.step(action)
        p = info["period"]
        # Margin accounting: the purchase is not an expense; the cost of what sold is (and
        # of what was written off on arrival).
        cost_out = float(m.unit_cost @ (np.asarray(p["sales"]) + np.asarray(p["written_off"])))
        margin = (p["revenue"] - cost_out - p["order_cost"] - p["holding_cost"] - p["penalty"]) / scale
        assert info["reward_unshaped"] == pytest.approx(p["profit"] / scale)
        if not terminated:
            assert reward == pytest.approx(margin)
        action = np.zeros_like(nvec)
    assert p["purchase_cost"] == 0
    leftover = float(m.unit_cost @ (m.on_hand + m.dock + m.in_process + m.on_order)) / scale
    assert leftover > 0
    # At the end of the shift all that is still owned is charged at cost.
    assert reward == pytest.approx(margin - leftover)


def test_shaping_refuses_envs_without_an_operations_model_and_bad_discounts() -> None:
    with pytest.raises(ValueError, match="operations model"):
        StockValueShaping(gym.make("warehouse_sim/Navigation-v0"), gamma=1.0)
    with pytest.raises(ValueError, match="gamma"):
        StockValueShaping(gym.make(INV, **INV_KWARGS), gamma=1.5)
    with pytest.raises(ValueError, match="unknown reward_shaping 'profit'"):
        shape_reward(gym.make(INV, **INV_KWARGS), "profit", 1.0)
    with pytest.raises(ValueError, match="unknown reward_shaping"):
        TrainConfig(env_id=INV, algo="ppo", n_timesteps=8, reward_shaping="cash")


def test_training_envs_are_shaped_but_their_monitor_records_the_profit(tmp_path: Path) -> None:
    config = TrainConfig(env_id=FUL, algo="ppo", n_timesteps=8, env_kwargs=TINY, reward_shaping="stock_value",
                         algo_kwargs={"gamma": 1.0})
    env = _env_factory(config, str(tmp_path / "m"))()
    assert isinstance(env, StockValueShaping)
    shaped, own, _, _ = _episode(env, seed=1)
    monitor = env.env
    assert monitor.get_episode_rewards()[-1] == pytest.approx(sum(own))
    assert sum(shaped) != pytest.approx(sum(own))


def test_warm_start_critic_targets_are_shaped_returns_and_episode_returns_the_profit() -> None:
    kwargs = dict(episodes=1, seed=0, gamma=1.0, jobs=1)
    plain = collect_demonstrations(FUL, TINY, "heuristic", **kwargs)
    shaped = collect_demonstrations(FUL, TINY, "heuristic", reward_shaping="stock_value", **kwargs)
    np.testing.assert_array_equal(plain.actions, shaped.actions)
    assert shaped.episode_returns[0] == pytest.approx(plain.episode_returns[0])
    env = StockValueShaping(gym.make(FUL, **TINY), gamma=1.0)
    env.reset(seed=0 + 1_000_000)
    assert shaped.returns[0] == pytest.approx(plain.returns[0] - env.potential())


def test_a_shaped_run_records_its_shaping_in_the_run_folder(tmp_path: Path) -> None:
    config = TrainConfig(env_id=FUL, algo="ppo", n_timesteps=24, n_envs=1, env_kwargs=TINY, reward_shaping="stock_value",
                         algo_kwargs={"gamma": 1.0, "n_steps": 24, "batch_size": 24, "n_epochs": 1},
                         eval_freq=0, checkpoint_freq=0, final_eval_episodes=1)
    result = train(config, out_dir=tmp_path / "run")
    assert result.model_path.is_file() and result.timesteps == 24
    recorded, _ = read_run_config(result.run_dir)
    assert recorded == config  # so --resume continues with the same shaping
