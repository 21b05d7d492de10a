"""warehouse_sim/Navigation-v0: behaviour, validation, the A* baseline, vectorisation, GUI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.bench import reset_memory
from warehouse_sim.policies.registry import make_baseline
from warehouse_sim.sim.client import GuiInUseError, bullet_of
from warehouse_sim.tasks.navigation import DISCRETE_ACTIONS

ENV_ID = "warehouse_sim/Navigation-v0"
INFO_KEYS = {"is_success", "collisions", "path_length", "shortest_path_length", "spl"}


def _digest(seed: int, steps: int) -> str:
    env = gym.make(ENV_ID, n_obstacle_robots=2, terminate_on_collision=False)
    env.action_space.seed(seed)
    h = hashlib.sha256()
    obs, _ = env.reset(seed=seed)
    h.update(obs.tobytes())
    for _ in range(steps):
        obs, reward, *_ = env.step(env.action_space.sample())
        h.update(obs.tobytes() + np.float64(reward).tobytes())
    env.close()
    return h.hexdigest()


def test_astar_baseline_reaches_98_percent_on_small() -> None:
    env = gym.make(ENV_ID)
    policy = make_baseline("astar", env)
    successes, spls = [], []
    for seed in range(50):
        obs, info = env.reset(seed=seed)
        policy.reset(env)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            done = terminated or truncated
        successes.append(info["is_success"])
        spls.append(info["spl"])
    env.close()
    assert np.mean(successes) >= 0.98
    assert np.mean(spls) >= 0.9


def test_astar_actions_are_valid_in_discrete_mode() -> None:
    env = gym.make(ENV_ID, continuous=False)
    policy = make_baseline("astar", env)
    obs, _ = env.reset(seed=1)
    policy.reset(env)
    for _ in range(20):
        action = policy.act(obs)
        assert env.action_space.contains(action)
        obs, *_ = env.step(action)
    env.close()


def test_cross_process_determinism() -> None:
    code = "from tests.test_navigation import _digest; print(_digest(5, 80))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.stdout.strip().splitlines()[-1] == _digest(5, 80)


def test_ten_thousand_random_steps_stay_valid() -> None:
    env = gym.make(ENV_ID, n_obstacle_robots=1, max_episode_steps=200)
    space = env.observation_space
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    episodes = 0
    for _ in range(10_000):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert space.contains(obs) and np.isfinite(reward)
        if terminated or truncated:
            assert INFO_KEYS <= info.keys() and "reason" not in info
            episodes += 1
            obs, info = env.reset()
    env.close()
    assert episodes > 10


def test_observation_layout_and_route_hint_flag() -> None:
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=4)
    n = env.unwrapped.config.n_rays
    assert obs.shape == (n + 8,) and obs.dtype == np.float32
    assert np.hypot(obs[n + 1], obs[n + 2]) == pytest.approx(1.0, abs=1e-6)
    assert np.hypot(obs[n + 6], obs[n + 7]) == pytest.approx(1.0, abs=1e-6)
    assert INFO_KEYS <= info.keys() and info["shortest_path_length"] >= 2.0
    env.close()
    env = gym.make(ENV_ID, route_hint=False)
    obs, _ = env.reset(seed=4)
    assert obs.shape == (n + 5,) == env.observation_space.shape
    env.close()


def test_box_actions_are_clipped_to_the_bounds() -> None:
    results = []
    for action in ([5.0, -7.0], [1.0, -1.0]):
        env = gym.make(ENV_ID, terminate_on_collision=False)
        env.reset(seed=2)
        for _ in range(5):
            obs, reward, *_ = env.step(np.array(action, dtype=np.float32))
        results.append((obs, reward))
        env.close()
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@pytest.mark.parametrize(
    ("continuous", "action"),
    [
        (True, np.array([np.nan, 0.0], dtype=np.float32)),
        (True, np.array([np.inf, 0.0], dtype=np.float32)),
        (True, np.zeros(3, dtype=np.float32)),
        (True, "fast"),
        (False, len(DISCRETE_ACTIONS)),
        (False, -1),
        (False, 1.5),
        (False, True),
    ],
)
def test_invalid_actions_raise_and_change_nothing(continuous: bool, action: object) -> None:
    env = gym.make(ENV_ID, continuous=continuous).unwrapped
    env.reset(seed=0)
    task = env.task

    def state() -> tuple:
        bullet = bullet_of(task.client)
        return (task.poses.tolist(), bullet.getBasePositionAndOrientation(task.robots.ids[0]),
                bullet.getBaseVelocity(task.robots.ids[0]), task.robots.applied.tolist(), task.path_length)

    before = state()
    with pytest.raises(ValueError, match="action"):
        env.step(action)
    assert state() == before
    env.step(env.action_space.sample())  # still usable
    env.close()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"layout": "huge"}, "layout"),
        ({"n_obstacle_robots": -1}, "n_obstacle_robots"),
        ({"n_obstacle_robots": 1000}, "n_obstacle_robots"),
        ({"control_hz": 7}, "control_hz"),
        ({"physics_hz": 250}, "drive_hz"),
        ({"render_mode": "video"}, "render_mode"),
        ({"continuous": "yes"}, "continuous"),
        ({"route_hint": 1}, "route_hint"),
        ({"n_rays": 0}, "n_rays"),
        ({"goal_tolerance": -0.1}, "goal_tolerance"),
        ({"collision_penalty": float("nan")}, "collision_penalty"),
        ({"render_size": (10, 480)}, "render_size"),
        ({"render_view": "fisheye"}, "render_view"),
        ({"warp_speed": 9}, "warp_speed"),
    ],
)
@pytest.mark.filterwarnings("ignore:.*render_mode:UserWarning")  # gym.make's own warning for "video"
def test_invalid_constructor_arguments_name_the_argument(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        gym.make(ENV_ID, **kwargs)


def test_collision_terminates_by_default_and_is_counted() -> None:
    for terminate in (True, False):
        env = gym.make(ENV_ID, terminate_on_collision=terminate)
        env.reset(seed=0)
        terminated = False
        for _ in range(200):  # full speed ahead: the robot hits something
            _, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0], dtype=np.float32))
            if info["collisions"]:
                break
        assert info["collisions"] == 1 and reward < 0
        assert terminated is terminate and not info["is_success"] and info["spl"] == 0.0
        env.close()


def test_physics_error_truncates_with_reason() -> None:
    env = gym.make(ENV_ID)
    env.reset(seed=0)
    task = env.unwrapped.task
    bullet_of(task.client).resetBasePositionAndOrientation(task.robots.ids[0], (3.0, 3.0, -5.0), (0, 0, 0, 1))
    obs, reward, terminated, truncated, info = env.step(np.zeros(2, dtype=np.float32))
    assert truncated and not terminated and info["reason"] == "physics_error"
    assert env.observation_space.contains(obs)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(2, dtype=np.float32))
    env.close()


def test_rgb_array_frame() -> None:
    env = gym.make(ENV_ID, render_mode="rgb_array", render_size=(320, 240), n_obstacle_robots=2)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8 and frame.std() > 10
    env.close()


def test_subproc_vec_env_with_two_workers() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    # workers import nothing of ours: the "module:id" form makes gym import warehouse_sim there
    vec = make_vec_env(f"warehouse_sim:{ENV_ID}", n_envs=2, seed=0, vec_env_cls=SubprocVecEnv)
    try:
        obs = vec.reset()
        assert obs.shape == (2, *vec.observation_space.shape)
        for _ in range(20):
            obs, rewards, dones, infos = vec.step(np.stack([vec.action_space.sample() for _ in range(2)]))
        assert np.isfinite(obs).all() and rewards.shape == (2,)
    finally:
        vec.close()


def test_resets_do_not_grow_memory() -> None:
    result = reset_memory(ENV_ID, resets=1_000)
    assert result["growth_mb"] < 2.0, result


@pytest.mark.gui
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run -a)")
def test_human_mode_opens_the_gui_and_steps() -> None:
    env = gym.make(ENV_ID, render_mode="human")
    try:
        assert env.unwrapped.task.client.is_gui
        env.reset(seed=0)
        for _ in range(10):
            env.step(env.action_space.sample())
        assert env.render() is None
        with pytest.raises(GuiInUseError, match="already open"):
            gym.make(ENV_ID, render_mode="human")
    finally:
        env.close()
    env = gym.make(ENV_ID, render_mode="human")  # the GUI is free again after close
    env.close()
