"""Contract, robustness and baseline tests of ``warehouse_sim/Picking-v0``."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.envs.picking import DISCRETE_ACTIONS, RENDER_SIZE, PickingEnv
from warehouse_sim.evaluation import run_episode
from warehouse_sim.policies.registry import make_baseline
from warehouse_sim.sim.client import bullet_of
from warehouse_sim.tasks.picking import OBSERVATION_SIZE, fit_scale, items_from_scenario

ENV_ID = "warehouse_sim/Picking-v0"
MODES = [
    pytest.param({}, id="box"),
    pytest.param({"continuous": False}, id="discrete"),
    pytest.param({"goal_conditioned": True}, id="goal_conditioned"),
    pytest.param({"goal_conditioned": True, "continuous": False}, id="goal_conditioned-discrete"),
]


@pytest.fixture(scope="module")
def env():
    e = gym.make(ENV_ID)
    yield e
    e.close()


def _rollout_digest(env_kwargs: dict, seed: int, steps: int) -> str:
    env = gym.make(ENV_ID, **env_kwargs)
    env.action_space.seed(seed)
    digest = hashlib.sha256()
    obs, _ = env.reset(seed=seed)
    digest.update(np.asarray(obs).tobytes())
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        digest.update(np.asarray(obs).tobytes())
        digest.update(np.float64(reward).tobytes())
        if terminated or truncated:
            obs, _ = env.reset()
    env.close()
    return digest.hexdigest()


# ---------------------------------------------------------------------- contract
@pytest.mark.parametrize("kwargs", MODES)
def test_check_env_gymnasium_and_sb3(kwargs: dict) -> None:
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    env = gym.make(ENV_ID, **kwargs)
    try:
        gym_check(env.unwrapped, skip_render_check=True)
        sb3_check(env.unwrapped, warn=True)
    finally:
        env.close()


@pytest.mark.parametrize("kwargs", MODES)
def test_spaces(kwargs: dict) -> None:
    env = gym.make(ENV_ID, **kwargs)
    try:
        obs, info = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        flat = obs["observation"] if kwargs.get("goal_conditioned") else obs
        assert flat.shape == (OBSERVATION_SIZE,) and flat.dtype == np.float32
        if kwargs.get("continuous", True):
            assert env.action_space.shape == (4,)
        else:
            assert env.action_space.n == len(DISCRETE_ACTIONS) == 14
        for key in ("is_success", "dropped", "disturbed_items", "pick_time_s"):
            assert key in info
    finally:
        env.close()


def test_seeded_determinism_in_process() -> None:
    assert _rollout_digest({}, 7, 150) == _rollout_digest({}, 7, 150)
    assert _rollout_digest({}, 7, 150) != _rollout_digest({}, 8, 150)


def test_reset_with_the_same_seed_reproduces_after_other_episodes(env) -> None:
    first, _ = env.reset(seed=3)
    env.action_space.seed(0)
    for _ in range(30):
        env.step(env.action_space.sample())
    env.reset(seed=99)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(first, again)


def test_seeded_determinism_across_processes() -> None:
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from test_picking import _rollout_digest\n"
        "print(_rollout_digest({{'continuous': False}}, 11, 120))\n"
    ).format(str(__import__("pathlib").Path(__file__).parent))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == _rollout_digest({"continuous": False}, 11, 120)


def test_step_before_reset_and_after_close() -> None:
    env = gym.make(ENV_ID)
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(np.zeros(4, dtype=np.float32))
    env.close()
    env.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        env.unwrapped.step(np.zeros(4, dtype=np.float32))
    with pytest.raises(RuntimeError, match="closed"):
        env.unwrapped.reset(seed=0)


def test_observations_are_fresh_copies(env) -> None:
    obs, _ = env.reset(seed=0)
    kept = obs.copy()
    env.step(np.array([1.0, 0.0, -1.0, 1.0], dtype=np.float32))
    np.testing.assert_array_equal(obs, kept)


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_items": 0}, "n_items"),
        ({"n_items": 5}, "n_items"),
        ({"n_items": 2.5}, "n_items"),
        ({"payload_kg": -1.0}, "payload_kg"),
        ({"payload_kg": "heavy"}, "payload_kg"),
        ({"payload_kg": 0.1}, "payload"),  # nothing in catalogue-20 is that light
        ({"max_step_m": 0.0}, "max_step_m"),
        ({"max_step_m": math.nan}, "max_step_m"),
        ({"physics_hz": 240, "control_hz": 25}, "control_hz"),
        ({"physics_hz": 0}, "physics_hz"),
        ({"continuous": "yes"}, "continuous"),
        ({"goal_conditioned": 1}, "goal_conditioned"),
        ({"render_mode": "video"}, "render_mode"),
        ({"size_scale": 2.0}, "size_scale"),
        ({"size_scale": 0.5}, "does not fit"),
        ({"scenario": "reference-single-sku"}, "n_items"),
    ],
)
def test_invalid_arguments_raise_value_error(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        PickingEnv(**kwargs)


def test_unknown_scenario_raises() -> None:
    with pytest.raises(FileNotFoundError):
        PickingEnv(scenario="no-such-scenario")


@pytest.mark.parametrize(
    "action",
    [
        np.array([np.nan, 0.0, 0.0, 0.0]),
        np.array([0.0, np.inf, 0.0, 0.0]),
        np.zeros(3),
        np.zeros((2, 4)),
        "left",
    ],
)
def test_invalid_box_actions_raise_and_leave_state_unchanged(env, action) -> None:
    env.reset(seed=1)
    task = env.unwrapped.task
    before = (task.observation(), task.steps)
    with pytest.raises(ValueError):
        env.step(action)
    np.testing.assert_array_equal(task.observation(), before[0])
    assert task.steps == before[1]


@pytest.mark.parametrize("action", [-1, 14, 2.0, True, np.array([1, 2])])
def test_invalid_discrete_actions_raise(action) -> None:
    env = gym.make(ENV_ID, continuous=False)
    try:
        env.reset(seed=0)
        with pytest.raises(ValueError):
            env.step(action)
        env.step(np.int64(3))  # numpy integers are fine
    finally:
        env.close()


def test_box_actions_beyond_bounds_are_clipped() -> None:
    a, b = gym.make(ENV_ID), gym.make(ENV_ID)
    try:
        a.reset(seed=5)
        b.reset(seed=5)
        for _ in range(5):
            oa, ra, *_ = a.step(np.array([7.0, -3.0, 2.5, 9.0]))
            ob, rb, *_ = b.step(np.array([1.0, -1.0, 1.0, 1.0], dtype=np.float32))
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb
    finally:
        a.close()
        b.close()


# ---------------------------------------------------------------------- robustness
def test_ten_thousand_random_steps_with_items_thrown_out_of_the_workspace() -> None:
    """Uniform random actions, and every 250 steps an item is flung off the shelf or far away."""
    env = gym.make(ENV_ID)
    env.action_space.seed(0)
    rng = np.random.default_rng(0)
    task = env.unwrapped.task
    bc = bullet_of(task.client)
    obs, _ = env.reset(seed=0)
    terminations = 0
    for step in range(10_000):
        if step % 250 == 125:
            index = int(rng.choice(task.station.active))
            body = task.station.item_ids[index]
            if rng.random() < 0.5:  # thrown hard
                bc.resetBaseVelocity(body, tuple(rng.uniform(-8, 8, 3)), tuple(rng.uniform(-20, 20, 3)))
            else:  # dropped far outside the workspace
                bc.resetBasePositionAndOrientation(body, (3.0, -2.0, 0.5), (0.0, 0.0, 0.0, 1.0))
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert np.isfinite(obs).all() and math.isfinite(reward)
        assert info.get("reason") != "physics_error"
        if terminated or truncated:
            terminations += terminated
            obs, _ = env.reset()
    assert terminations > 0  # items thrown off the shelf end episodes as lost
    env.close()


def test_target_thrown_off_the_shelf_ends_the_episode_as_lost(env) -> None:
    env.reset(seed=2)
    task = env.unwrapped.task
    body = task.station.item_ids[task.target]
    bullet_of(task.client).resetBasePositionAndOrientation(body, (1.2, 0.8, 0.05), (0.0, 0.0, 0.0, 1.0))
    _, reward, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
    assert terminated and not truncated and not info["is_success"]
    assert reward <= -task.config.reward.lost


def test_diverged_physics_truncates_with_a_reason(env) -> None:
    env.reset(seed=2)
    task = env.unwrapped.task
    body = task.station.item_ids[task.target]
    bullet_of(task.client).resetBasePositionAndOrientation(body, (400.0, 0.0, 0.05), (0.0, 0.0, 0.0, 1.0))
    obs, reward, terminated, truncated, info = env.step(np.zeros(4, dtype=np.float32))
    assert truncated and not terminated and info["reason"] == "physics_error"
    assert env.observation_space.contains(obs) and reward == 0.0
    with pytest.raises(gym.error.ResetNeeded):
        env.unwrapped.step(np.zeros(4, dtype=np.float32))


def test_knocked_off_items_are_counted_and_penalised(env) -> None:
    env.reset(seed=4)
    task = env.unwrapped.task
    other = next(i for i in task.station.active if i != task.target)
    bullet_of(task.client).resetBasePositionAndOrientation(
        task.station.item_ids[other], (0.9, 0.6, 0.05), (0.0, 0.0, 0.0, 1.0)
    )
    _, reward, _, _, info = env.step(np.zeros(4, dtype=np.float32))
    assert info["disturbed_items"] == 1
    assert reward < -0.5


def test_bare_physics_step_runs_the_same_physics(env) -> None:
    env.reset(seed=0)
    env.unwrapped.bare_physics_step()
    for _ in range(5):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    for _ in range(10):
        env.unwrapped.bare_physics_step()
    assert np.isfinite(env.unwrapped.task.observation()).all()


def test_rgb_array_render() -> None:
    env = gym.make(ENV_ID, render_mode="rgb_array")
    try:
        env.reset(seed=0)
        frame = env.render()
        assert frame.shape == (RENDER_SIZE[1], RENDER_SIZE[0], 3) and frame.dtype == np.uint8
        assert frame.std() > 0
    finally:
        env.close()


def test_catalogue_items_are_scaled_to_fit_and_keep_weights() -> None:
    env = PickingEnv()
    try:
        items = env.task.station.items
        raw = items_from_scenario("catalogue-20", env.config.layout, size_scale=1.0)
        scale = fit_scale([s.size for s in raw], env.config.layout)
        assert 0.1 < scale < 1
        for item, original in zip(items, raw, strict=True):
            assert item.mass == original.mass
            np.testing.assert_allclose(item.size, np.array(original.size) * scale)
    finally:
        env.close()


# ---------------------------------------------------------------------- scripted baseline
def _run_scripted(env_kwargs: dict, seeds: range) -> tuple[float, list[dict]]:
    env = gym.make(ENV_ID, **env_kwargs)
    policy = make_baseline("scripted", env)
    kpis = [run_episode(env, policy, seed).kpis for seed in seeds]
    env.close()
    return float(np.mean([k["is_success"] for k in kpis])), kpis


def test_scripted_baseline_succeeds_in_99_of_100_seeded_episodes() -> None:
    rate, infos = _run_scripted({}, range(100))
    assert rate >= 0.99
    assert not any(i["dropped"] for i in infos if i["is_success"])
    assert all(i["pick_time_s"] > 0 for i in infos)


def test_scripted_baseline_discrete_and_goal_conditioned() -> None:
    rate, _ = _run_scripted({"continuous": False, "goal_conditioned": True}, range(20))
    assert rate >= 0.9


def test_suction_off_outside_the_tote_counts_as_dropped(env) -> None:
    obs, _ = env.reset(seed=6)
    policy = make_baseline("scripted", env)
    policy.reset(env)
    task = env.unwrapped.task
    for _ in range(60):
        if task.holding_target and task.item_position[2] > task.config.layout.bin.rim_z + 0.05:
            break
        obs, *_ = env.step(policy.act(obs))
    assert task.holding_target
    _, reward, _, _, info = env.step(np.array([0.0, 0.0, 0.0, -1.0], dtype=np.float32))
    assert info["dropped"] and reward < 0


# ---------------------------------------------------------------------- goal-conditioned / HER
def test_compute_reward_is_vectorised_and_matches_step_reward() -> None:
    env = gym.make(ENV_ID, goal_conditioned=True)
    try:
        obs, _ = env.reset(seed=0)
        obs, reward, *_ , info = env.step(env.action_space.sample())
        unwrapped = env.unwrapped
        assert reward == unwrapped.compute_reward(obs["achieved_goal"], obs["desired_goal"], info)
        achieved = np.zeros((5, 3), dtype=np.float32)
        desired = np.zeros((5, 3), dtype=np.float32)
        desired[:2, 0] = 1.0
        rewards = unwrapped.compute_reward(achieved, desired, [info] * 5)
        np.testing.assert_array_equal(rewards, [-1, -1, 0, 0, 0])
    finally:
        env.close()


def _check_her_learned(model: Any, env: gym.Env[Any, Any], n_steps: int) -> None:
    """The buffer holds every transition, HER relabelled most sampled goals with achieved goals and
    rewarded them with the env's compute_reward, and gradient steps changed the network."""
    buffer = model.replay_buffer
    assert buffer.size() == n_steps
    samples = buffer.sample(256)
    desired = samples.observations["desired_goal"].numpy()
    achieved_next = samples.next_observations["achieved_goal"].numpy()
    expected = env.unwrapped.compute_reward(achieved_next, desired, None)
    np.testing.assert_array_equal(samples.rewards.numpy().ravel(), expected)
    tote_xy = env.unwrapped.task.desired_goal()[:2]  # every episode's true goal lies over the tote centre
    relabelled = ~np.isclose(desired[:, :2], tote_xy, atol=1e-6).all(axis=1)
    assert relabelled.mean() > 0.5  # "future" with n_sampled_goal=4 relabels 80% of the samples
    assert model._n_updates > 0


def test_her_with_sac_learns_from_relabelled_goals(tmp_path) -> None:
    import torch
    from stable_baselines3 import SAC, HerReplayBuffer

    torch.set_num_threads(1)
    env = gym.make(ENV_ID, goal_conditioned=True)
    model = SAC(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        learning_starts=200,
        batch_size=64,
        policy_kwargs={"net_arch": [32, 32]},
        seed=0,
        device="cpu",
    )
    before = [p.detach().clone() for p in model.policy.actor.parameters()]
    model.learn(300)
    _check_her_learned(model, env, 300)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.actor.parameters(), strict=True))
    model.save(tmp_path / "sac_her")
    assert SAC.load(tmp_path / "sac_her", env=env, device="cpu").observation_space == env.observation_space
    env.close()


def test_her_with_dqn_learns_from_relabelled_goals() -> None:
    import torch
    from stable_baselines3 import DQN, HerReplayBuffer

    torch.set_num_threads(1)
    env = gym.make(ENV_ID, goal_conditioned=True, continuous=False)
    model = DQN(
        "MultiInputPolicy",
        env,
        replay_buffer_class=HerReplayBuffer,
        replay_buffer_kwargs={"n_sampled_goal": 4, "goal_selection_strategy": "future"},
        learning_starts=100,
        batch_size=64,
        policy_kwargs={"net_arch": [32, 32]},
        seed=0,
        device="cpu",
    )
    before = [p.detach().clone() for p in model.q_net.parameters()]
    model.learn(300)
    _check_her_learned(model, env, 300)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.q_net.parameters(), strict=True))
    env.close()


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run -a)")
def test_human_render_mode_opens_one_gui() -> None:
    from warehouse_sim.sim.client import GuiInUseError

    env = gym.make(ENV_ID, render_mode="human")
    try:
        env.reset(seed=0)
        env.step(env.action_space.sample())
        assert env.render() is None
        with pytest.raises(GuiInUseError):
            gym.make(ENV_ID, render_mode="human")
    finally:
        env.close()
