"""FleetDispatch-v0: the fleet's decisions one robot at a time, MaskablePPO through the runner, export with the mask."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("greenlet")

import warehouse_sim  # noqa: E402, F401 - registers the ids
from warehouse_sim.envs.fleet_dispatch import FleetDispatchEnv  # noqa: E402
from warehouse_sim.evaluation import evaluate  # noqa: E402
from warehouse_sim.tasks.fulfilment.agents import NO_JOB  # noqa: E402

ENV_ID = "warehouse_sim/FleetDispatch-v0"
TINY = {"scenario": "warehouse-tiny", "fidelity": "fast"}


def test_one_step_per_decision_masks_in_the_observation_and_never_all_zero() -> None:
    env = gym.make(ENV_ID, **TINY)
    view = env.unwrapped
    assert isinstance(view, FleetDispatchEnv)
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    steps, rewards, done = 0, [], False
    while not done:
        mask = view.action_masks()
        assert mask.dtype == bool and mask.shape == (env.action_space.n,)
        assert mask[NO_JOB] and np.array_equal(mask, obs[view.action_mask_slice] > 0.5)
        assert env.observation_space.contains(obs)
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(mask))))
        rewards.append(reward)
        steps += 1
        done = terminated or truncated
    assert terminated and info["robot"] == -1
    assert info["decisions"] == steps > 10
    assert info["masked_actions"] == 0
    # the shared reward arrives at the last decision of a moment; the return is the shift's profit / scale
    assert sum(rewards) == pytest.approx(info["cumulative"]["profit"] / view.task.reward_scale, rel=1e-9)
    assert sum(1 for r in rewards if r != 0.0) < steps
    with pytest.raises(gym.error.ResetNeeded):
        env.step(0)
    env.close()


def test_a_masked_action_is_not_executed_and_out_of_range_raises() -> None:
    env = gym.make(ENV_ID, **TINY)
    view = env.unwrapped
    env.reset(seed=1)
    sent, done = 0, False
    while not done:  # one masked choice, at the first decision with an empty slot; waiting otherwise
        mask = view.action_masks()
        action = int(np.flatnonzero(~mask)[0]) if sent == 0 and not mask.all() else NO_JOB
        sent += action != NO_JOB
        if sent == 1 and action != NO_JOB:
            with pytest.raises(ValueError, match="out of range"):
                env.step(env.action_space.n)
        _, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert sent == 1 and info["masked_actions"] == 1
    assert info["orders_shipped"] == 0  # no robot ever took a job
    env.close()


def test_same_seed_same_decisions() -> None:
    def run() -> list[Any]:
        env = gym.make(ENV_ID, **TINY)
        obs, _ = env.reset(seed=5)
        out = [obs]
        for _ in range(40):
            obs, reward, terminated, *_ = env.step(1 if env.unwrapped.action_masks()[1] else 0)
            out += [obs, reward]
            if terminated:
                break
        env.close()
        return out

    a, b = run(), run()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_order_time_shaping_charges_waiting_orders_and_keeps_the_profit() -> None:
    from warehouse_sim.training.shaping import ORDER_HOUR_COST, shape_reward

    env = shape_reward(gym.make(ENV_ID, **TINY), "order_time", 0.99)
    task = env.unwrapped.task
    obs, _ = env.reset(seed=0)
    shaped, unshaped, order_hours, done = 0.0, 0.0, 0.0, False
    while not done:
        open_orders, start = len(task.open_orders()), task.now_s
        obs, reward, terminated, truncated, info = env.step(1 if env.unwrapped.action_masks()[1] else 0)
        order_hours += open_orders * (task.now_s - start) / 3600.0
        shaped += float(reward)
        unshaped += info["reward_unshaped"]
        done = terminated or truncated
    assert order_hours > 0
    assert shaped == pytest.approx(unshaped - ORDER_HOUR_COST * order_hours)
    assert unshaped == pytest.approx(info["cumulative"]["profit"] / task.reward_scale)
    env.close()
    with pytest.raises(ValueError, match="FleetDispatch-v0"):
        shape_reward(gym.make("warehouse_sim/Inventory-v0"), "order_time", 0.99)


def test_maskable_ppo_trains_exports_and_evaluates_with_the_mask(tmp_path: Path) -> None:
    """The runner trains ppo_mask (warm start from the rule), the ONNX graph applies the mask, evaluate runs it."""
    pytest.importorskip("sb3_contrib")
    from warehouse_sim.export import export_onnx
    from warehouse_sim.policies.onnx_policy import OnnxPolicy
    from warehouse_sim.policies.sb3_policy import SB3Policy
    from warehouse_sim.training import train
    from warehouse_sim.training.config import config_from_entry

    config = config_from_entry("ppo_mask", ENV_ID, {
        "n_timesteps": 256, "policy": "MlpPolicy", "n_envs": 1, "env_kwargs": TINY, "normalize": False,
        "warm_start": {"baseline": "rule", "episodes": 1, "epochs": 5, "batch_size": 32},
        "reward_shaping": "order_time", "n_steps": 128, "batch_size": 32, "n_epochs": 2,
        "policy_kwargs": {"net_arch": [16, 16]}, "eval_freq": 128, "n_eval_episodes": 1, "final_eval_episodes": 1,
        "checkpoint_freq": 128,
    })
    run = tmp_path / "run"
    train(config, out_dir=run, seed=0)
    assert json.loads((run / "warm_start.json").read_text())["action_accuracy"] > 0.5
    result = export_onnx(run, tmp_path / "policy.onnx")
    mask = result.metadata["action_mask"]
    assert result.metadata["algo"] == "ppo_mask" and mask == {"start": 11 + 12 * 8, "stop": 11 + 12 * 8 + 9}

    onnx = OnnxPolicy(tmp_path / "policy.onnx")
    sb3 = SB3Policy.load(run)
    env = gym.make(ENV_ID, **TINY)
    obs, _ = env.reset(seed=7)
    onnx.reset(env)
    sb3.reset(env)
    for _ in range(60):
        allowed = env.unwrapped.action_masks()
        chosen = onnx.act(obs)
        assert allowed[chosen] and chosen == sb3.act(obs)
        obs, _, terminated, _, _ = env.step(chosen)
        if terminated:
            break
    env.close()
    # masking every candidate leaves only waiting; masking waiting too leaves the first action
    rng = np.random.default_rng(0)
    batch = rng.uniform(-1, 1, size=(64, mask["stop"])).astype(np.float32)
    batch[:, mask["start"]:] = (rng.uniform(size=(64, 9)) < 0.4).astype(np.float32)
    batch[:8, mask["start"]:] = 0.0
    batch[:8, mask["start"]] = 1.0
    actions = onnx.act_batch(batch)
    assert (actions[:8] == NO_JOB).all()
    open_ = batch[:, mask["start"]:] > 0.5
    assert all(open_[i, a] for i, a in enumerate(actions) if open_[i].any())

    report = evaluate(ENV_ID, str(tmp_path / "policy.onnx"), env_kwargs=TINY, episodes=1, seed=3, against="baseline:rule")
    assert report["kpis"]["masked_actions"]["mean"] == 0
    assert report["against"]["kpis"]["orders_shipped"]["mean"] > 0


def test_maskable_ppo_export_refuses_an_env_without_its_mask_in_the_observation(tmp_path: Path) -> None:
    sb3_contrib = pytest.importorskip("sb3_contrib")
    from stable_baselines3.common.env_util import make_vec_env

    from warehouse_sim.export import export_onnx

    vec = make_vec_env("warehouse_sim/Inventory-v0", n_envs=1, seed=0, env_kwargs={"continuous": False})
    model = sb3_contrib.MaskablePPO("MlpPolicy", vec, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu")
    model.save(tmp_path / "model.zip")
    vec.close()
    with pytest.raises(ValueError, match="does not carry it"):
        export_onnx(tmp_path / "model.zip", tmp_path / "policy.onnx", env_id="warehouse_sim/Inventory-v0",
                    env_kwargs={"continuous": False})
    assert not (tmp_path / "policy.onnx").exists()


def test_baseline_rule_stay_keeps_free_robots_where_they_are() -> None:
    """``baseline:rule_stay``: the rule's work, no drives home, so the fleet covers less ground on the same shift."""
    small = {"scenario": "warehouse-small", "fidelity": "fast", "shift_hours": 1.0}
    rule = evaluate(ENV_ID, "baseline:rule", env_kwargs={**small, "stay_s": 30.0}, episodes=1, seed=0)
    stay = evaluate(ENV_ID, "baseline:rule_stay", env_kwargs={**small, "stay_s": 30.0}, episodes=1, seed=0)
    assert stay["kpis"]["masked_actions"]["mean"] == 0 and stay["kpis"]["orders_shipped"]["mean"] > 0
    assert stay["kpis"]["distance_m"]["mean"] < rule["kpis"]["distance_m"]["mean"]
    with pytest.raises(ValueError, match="stay_s > 0"):
        evaluate(ENV_ID, "baseline:rule_stay", env_kwargs=small, episodes=1, seed=0)
