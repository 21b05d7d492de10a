"""PPO policies that sample their actions (``sample:MODEL.zip``): seeded per episode, drawn from the policy's distribution."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from warehouse_sim.cli import main
from warehouse_sim.evaluation import evaluate, load_policy, run_episode
from warehouse_sim.policies.sb3_policy import SB3Policy
from warehouse_sim.training import NormalizeConfig, TrainConfig, train

INV = "warehouse_sim/Inventory-v0"
INV_KWARGS = {"scenario": "catalogue-20", "continuous": False}
NAV = "warehouse_sim/Navigation-v0"


def _train(root: Path, name: str, algo: str, env_id: str, env_kwargs: dict) -> Path:
    algo_kwargs = (
        {"n_steps": 128, "batch_size": 64, "n_epochs": 1}
        if algo == "ppo"
        else {"learning_starts": 100, "buffer_size": 1_000, "batch_size": 32, "target_update_interval": 100}
    )
    config = TrainConfig(
        env_id=env_id, algo=algo, n_timesteps=256, env_kwargs=env_kwargs,  # type: ignore[arg-type]
        normalize=NormalizeConfig() if algo == "ppo" else None, policy_kwargs={"net_arch": [32, 32]},
        algo_kwargs=algo_kwargs, eval_freq=0, checkpoint_freq=0, final_eval_episodes=1,
    )
    return train(config, out_dir=root / name, seed=3).run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sampled")
    return {
        "multidiscrete": _train(root, "multidiscrete", "ppo", INV, INV_KWARGS),
        "box": _train(root, "box", "ppo", NAV, {}),
        "dqn": _train(root, "dqn", "dqn", NAV, {"continuous": False}),
    }


def _actions(env: gym.Env, policy: SB3Policy, seed: int) -> np.ndarray:
    result = run_episode(env, policy, seed, trace=True)
    assert result.trace is not None
    return np.stack([np.asarray(r["action"], dtype=float).ravel() for r in result.trace])


def test_a_seed_replays_its_episode_and_other_seeds_draw_otherwise(runs: dict[str, Path]) -> None:
    env = gym.make(INV, **INV_KWARGS)
    first = _actions(env, SB3Policy.load(runs["multidiscrete"], sample=True), seed=11)
    again = _actions(env, SB3Policy.load(runs["multidiscrete"], sample=True), seed=11)
    other = _actions(env, SB3Policy.load(runs["multidiscrete"], sample=True), seed=12)
    mode = _actions(env, SB3Policy.load(runs["multidiscrete"]), seed=11)
    env.close()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert not np.array_equal(first, mode)  # 256 steps of training leave the distribution far from one-hot


def test_draws_follow_the_policy_probabilities(runs: dict[str, Path]) -> None:
    import torch

    env = gym.make(INV, **INV_KWARGS)
    obs, _ = env.reset(seed=3)
    policy = SB3Policy.load(runs["multidiscrete"], sample=True)
    policy.reset(env)
    draws = np.stack([policy.act(obs) for _ in range(1_500)])
    with torch.no_grad():
        tensor, _ = policy.model.policy.obs_to_tensor(policy.normalize(obs))
        parts = policy.model.policy.get_distribution(tensor).distribution
    env.close()
    assert draws.shape == (1_500, len(parts))
    for i, part in enumerate(parts):
        probs = part.probs[0].numpy()
        freq = np.bincount(draws[:, i], minlength=len(probs)) / len(draws)
        assert np.abs(freq - probs).max() < 0.052, (i, freq, probs)  # 4 standard errors of 1,500 draws


def test_gaussian_draws_are_seeded_and_inside_the_bounds(runs: dict[str, Path]) -> None:
    env = gym.make(NAV)
    policy = SB3Policy.load(runs["box"], sample=True)
    first = _actions(env, policy, seed=5)
    again = _actions(env, policy, seed=5)
    env.close()
    np.testing.assert_array_equal(first, again)
    space = policy.action_space
    assert isinstance(space, gym.spaces.Box)
    assert (first >= space.low.min()).all() and (first <= space.high.max()).all()
    assert len(np.unique(first[:, 0])) > len(first) // 2  # drawn, not the mean clipped to a bound


def test_parallel_evaluation_reports_the_serial_figures(runs: dict[str, Path]) -> None:
    spec = f"sample:{runs['multidiscrete']}"
    serial = evaluate(INV, spec, env_kwargs=INV_KWARGS, episodes=2, seed=7)
    parallel = evaluate(INV, spec, env_kwargs=INV_KWARGS, episodes=2, seed=7, jobs=2)
    assert serial["returns"] == parallel["returns"]
    assert serial["policy"] == spec


def test_only_ppo_models_can_sample(runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = gym.make(NAV, continuous=False)
    with pytest.raises(ValueError, match="no action distribution"):
        load_policy(f"sample:{runs['dqn']}", env)
    with pytest.raises(ValueError, match="ONNX export holds only the deterministic action"):
        load_policy(f"sample:{tmp_path / 'policy.onnx'}", env)
    with pytest.raises(ValueError, match="takes an SB3 PPO model"):
        load_policy("sample:baseline:astar", env)
    env.close()
    code = main(["evaluate", "--env", NAV, "--env-kwargs", '{"continuous": false}', "--policy", f"sample:{runs['dqn']}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "no action distribution" in err[0]
