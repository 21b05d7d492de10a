"""warehouse_sim/Inventory-v0: the env contract, spaces, info, reward and faults."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

import warehouse_sim  # noqa: F401 - registers the ids

ENV_ID = "warehouse_sim/Inventory-v0"
SCENARIOS = ("reference-single-sku", "catalogue-20")
KEYS_ARRAYS = ("demand", "sales", "lost", "ordered", "received", "written_off", "on_hand", "on_order", "price")
KEYS_SCALARS = ("revenue", "purchase_cost", "order_cost", "holding_cost", "penalty", "profit", "fill_rate")


def make(scenario: str = "reference-single-sku", **kwargs: object) -> gym.Env:
    return gym.make(ENV_ID, scenario=scenario, **kwargs)


@pytest.mark.parametrize("continuous", [True, False])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_check_env_gymnasium_and_sb3(scenario: str, continuous: bool) -> None:
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = make(scenario, continuous=continuous)
    gym_check_env(env.unwrapped)
    sb3_check_env(env.unwrapped, warn=True)
    env.close()


def test_spaces_of_the_reference_and_the_catalogue() -> None:
    ref = make(continuous=False)
    assert ref.observation_space.shape == (5,) and ref.action_space == gym.spaces.Discrete(16)
    assert make().action_space.shape == (2,)
    cat = make("catalogue-20", continuous=False)
    assert isinstance(cat.action_space, gym.spaces.MultiDiscrete) and cat.action_space.shape == (40,)


def test_reference_observation_is_on_hand_pipeline_and_last_price() -> None:
    env = make(continuous=False)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs, [20 / 40, 0, 0, 0, 10 / 16])
    obs, *_ = env.step(3 * 4 + 2)  # order 24 at price 13
    assert obs[3] == pytest.approx(1.0) and obs[4] == pytest.approx(13 / 16)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_info_shape_and_reward_equals_ledger_profit(scenario: str) -> None:
    env = make(scenario)
    _, info = env.reset(seed=3)
    n = env.unwrapped.scenario.n_skus
    total = 0.0
    truncated = False
    steps = 0
    while not truncated:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert not terminated
        total += reward
        steps += 1
        for part in ("period", "cumulative"):
            assert set(info[part]) == set(KEYS_ARRAYS) | set(KEYS_SCALARS)
            assert all(info[part][k].shape == (n,) for k in KEYS_ARRAYS)
            assert all(isinstance(info[part][k], float) for k in KEYS_SCALARS)
        period = info["period"]
        assert reward * env.unwrapped.task.reward_scale == pytest.approx(period["profit"])
        assert period["revenue"] == pytest.approx(float(period["sales"] @ period["price"]))
    assert steps == env.unwrapped.scenario.horizon
    assert total * env.unwrapped.task.reward_scale == pytest.approx(info["cumulative"]["profit"])
    cum = info["cumulative"]
    assert np.array_equal(cum["demand"], cum["sales"] + cum["lost"])
    assert cum["fill_rate"] == pytest.approx(cum["sales"].sum() / cum["demand"].sum())


def test_horizon_and_reward_scale_options() -> None:
    env = make(horizon=5, reward_scale=1.0)
    env.reset(seed=0)
    for t in range(5):
        _, reward, _, truncated, info = env.step(env.action_space.sample())
        assert truncated == (t == 4)
    assert reward == pytest.approx(info["period"]["profit"])
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())


def test_same_seed_same_trajectory_and_fresh_observations() -> None:
    def rollout() -> list:
        env = make("catalogue-20", continuous=False)
        env.action_space.seed(5)
        obs, _ = env.reset(seed=11)
        out = [obs]
        for _ in range(50):
            obs, reward, *_ = env.step(env.action_space.sample())
            out.append((obs, reward))
        return out

    a, b = rollout(), rollout()
    assert all(np.array_equal(x[0], y[0]) and x[1] == y[1] for x, y in zip(a[1:], b[1:], strict=True))
    env = make()
    first, _ = env.reset(seed=0)
    kept = first.copy()
    env.step(env.action_space.sample())
    assert np.array_equal(first, kept)


def test_reproducible_across_processes() -> None:
    code = (
        "import gymnasium as gym, warehouse_sim, numpy as np\n"
        "env = gym.make('warehouse_sim/Inventory-v0', continuous=False)\n"
        "env.reset(seed=42)\n"
        "print(sum(env.step(k % 16)[1] for k in range(200)))\n"
    )
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    env = make(continuous=False)
    env.reset(seed=42)
    here = sum(env.step(k % 16)[1] for k in range(200))
    assert outs == {f"{here}\n"}


def test_box_actions_beyond_bounds_are_clipped() -> None:
    results = []
    for action in (np.array([5.0, -7.0], dtype=np.float32), np.array([1.0, -1.0], dtype=np.float32)):
        env = make()
        env.reset(seed=1)
        _, reward, *_ , info = env.step(action)
        results.append((reward, info["period"]["ordered"][0], info["period"]["price"][0]))
    assert results[0] == results[1] and results[0][1:] == (24, 7.0)


@pytest.mark.parametrize(
    ("continuous", "action"),
    [
        (True, np.array([np.nan, 0.0], dtype=np.float32)),
        (True, np.array([np.inf, 0.0], dtype=np.float32)),
        (True, np.zeros(3, dtype=np.float32)),
        (False, 16),
        (False, -1),
        (False, 1.5),
        (False, np.array([1, 2])),
    ],
)
def test_invalid_actions_raise_and_leave_state_unchanged(continuous: bool, action: object) -> None:
    env = make(continuous=continuous).unwrapped
    env.reset(seed=0)
    env.step(env.action_space.sample())
    model = env.model
    before = (model.on_hand.copy(), model.pipeline.copy(), model.ledger.cum_money.copy(), model.period)
    with pytest.raises(ValueError):
        env.step(action)
    after = (model.on_hand, model.pipeline, model.ledger.cum_money, model.period)
    assert all(np.array_equal(x, y) for x, y in zip(before, after, strict=True))


def test_out_of_range_multidiscrete_is_rejected() -> None:
    env = make("catalogue-20", continuous=False).unwrapped
    env.reset(seed=0)
    bad = np.zeros(40, dtype=np.int64)
    bad[3] = 4
    with pytest.raises(ValueError, match="out of range"):
        env.step(bad)


def test_step_before_reset_after_close_and_double_close() -> None:
    env = make()
    with pytest.raises(gym.error.ResetNeeded):
        env.step(env.action_space.sample())
    env.reset(seed=0)
    env.close()
    env.close()
    with pytest.raises(RuntimeError, match="closed"):
        env.unwrapped.step(env.action_space.sample())


@pytest.mark.filterwarnings("ignore:.*render_mode")
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenario": "no-such-scenario"}, None),
        ({"scenario": 3}, "scenario"),
        ({"continuous": "yes"}, "continuous"),
        ({"reward_scale": 0.0}, "reward_scale"),
        ({"horizon": 0}, "horizon"),
        ({"render_mode": "ansi"}, "render_mode"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, message: str | None) -> None:
    error = FileNotFoundError if message is None else ValueError
    with pytest.raises(error, match=message):
        gym.make(ENV_ID, **kwargs)


def test_negative_seed_is_rejected_by_gymnasium() -> None:
    with pytest.raises(gym.error.Error):
        make().reset(seed=-1)


def test_rgb_array_render() -> None:
    env = make("catalogue-20", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_ten_thousand_random_steps_keep_the_books_balanced() -> None:
    env = make("catalogue-20", continuous=False)
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(10_000):
        *_, truncated, _ = env.step(env.action_space.sample())
        if truncated:
            env.unwrapped.model.check_invariants()
            env.reset()
    env.unwrapped.model.check_invariants()


def test_works_in_subproc_vec_env() -> None:
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import SubprocVecEnv

    vec = make_vec_env("warehouse_sim:" + ENV_ID, n_envs=2, seed=0, vec_env_cls=SubprocVecEnv, env_kwargs={"continuous": False})
    try:
        vec.reset()
        obs, rewards, dones, infos = vec.step(np.array([5, 9]))
        assert obs.shape == (2, 5) and "cumulative" in infos[0]
    finally:
        vec.close()
