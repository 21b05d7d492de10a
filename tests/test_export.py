"""ONNX export: parity with SB3's deterministic predict, the sidecar, and torch-free evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from warehouse_sim.evaluation import evaluate
from warehouse_sim.export import TIE_MARGIN, decision_margins, export_onnx, sample_observations
from warehouse_sim.policies import PolicySpaceError
from warehouse_sim.policies.onnx_policy import OnnxPolicy, PolicyLoadError, space_from_dict, space_to_dict
from warehouse_sim.policies.sb3_policy import SB3Policy
from warehouse_sim.training import NormalizeConfig, TrainConfig, train

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"

#: name -> (algo, env id, env kwargs, normalise observations)
KINDS = {
    "ppo-box": ("ppo", NAV, {}, True),
    "ppo-discrete": ("ppo", NAV, {"continuous": False}, True),
    "dqn": ("dqn", NAV, {"continuous": False}, False),
    "ppo-multidiscrete": ("ppo", INV, {"scenario": "catalogue-20", "continuous": False}, True),
    "qrdqn": ("qrdqn", INV, {"scenario": "reference-single-sku", "continuous": False}, False),
}


def _config(algo: str, env_id: str, env_kwargs: dict, normalize: bool) -> TrainConfig:
    algo_kwargs = (
        {"n_steps": 128, "batch_size": 64, "n_epochs": 1}
        if algo == "ppo"
        else {"learning_starts": 100, "buffer_size": 1_000, "batch_size": 32, "target_update_interval": 100}
    )
    return TrainConfig(
        env_id=env_id,
        algo=algo,  # type: ignore[arg-type]
        n_timesteps=256,
        env_kwargs=env_kwargs,
        normalize=NormalizeConfig() if normalize else None,
        policy_kwargs={"net_arch": [32, 32]},
        algo_kwargs=algo_kwargs,
        eval_freq=0,
        checkpoint_freq=0,
        final_eval_episodes=1,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    return {name: train(_config(*spec), out_dir=root / name, seed=7).run_dir for name, spec in KINDS.items()}


@pytest.mark.parametrize("kind", list(KINDS))
def test_onnx_actions_equal_sb3_predict_on_1000_observations(kind: str, runs: dict[str, Path], tmp_path: Path) -> None:
    result = export_onnx(runs[kind], tmp_path / "policy.onnx")
    onnx_policy = OnnxPolicy(result.onnx_path)
    sb3 = SB3Policy.load(runs[kind])
    assert (sb3.normalizer is not None) == KINDS[kind][3]

    # Half real observations from rollouts, half drawn from the observation space.
    env = gym.make(KINDS[kind][1], **KINDS[kind][2])
    real, obs = [], env.reset(seed=0)[0]
    rng = np.random.default_rng(0)
    while len(real) < 500:
        real.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs = env.reset(seed=int(rng.integers(1 << 30)))[0]
    env.close()
    observations = np.concatenate([np.stack(real), sample_observations(sb3.observation_space, 500, seed=1)])

    got = onnx_policy.act_batch(observations)
    want = np.stack([np.asarray(sb3.model.predict(sb3.normalize(o), deterministic=True)[0]) for o in observations])
    assert got.shape == want.shape
    if kind == "ppo-box":
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5)
        assert got.min() >= -1.0 and got.max() <= 1.0  # clipped to the action bounds
    else:
        # Equal wherever the choice is not a float32 tie (a near-tie may round either way).
        clear = decision_margins(sb3.model, KINDS[kind][0], sb3.normalizer, observations) > TIE_MARGIN
        assert clear.mean() > 0.98
        np.testing.assert_array_equal(got[clear], want[clear])
    assert env.action_space.contains(onnx_policy.act(observations[0]))


def test_sidecar_describes_env_spaces_normalisation_versions_and_source(runs: dict[str, Path], tmp_path: Path) -> None:
    result = export_onnx(runs["ppo-discrete"], tmp_path / "nav.onnx")
    meta = json.loads((tmp_path / "nav.json").read_text())
    assert meta == result.metadata
    assert meta["env_id"] == NAV and meta["env_kwargs"] == {"continuous": False} and meta["algo"] == "ppo"
    assert meta["action_space"] == {"type": "Discrete", "n": 7, "start": 0}
    assert len(meta["normalization"]["mean"]) == 24 and meta["normalization"]["clip_obs"] == 10.0
    assert set(meta["versions"]) >= {"warehouse_sim", "torch", "stable_baselines3", "onnx", "onnxruntime"}
    import hashlib

    assert meta["source"]["sha256"] == hashlib.sha256((runs["ppo-discrete"] / "model.zip").read_bytes()).hexdigest()
    env = gym.make(NAV, continuous=False)
    assert space_from_dict(meta["observation_space"]) == env.observation_space
    assert space_from_dict(space_to_dict(env.action_space)) == env.action_space
    env.close()


def test_exported_policy_evaluates_without_torch_or_sb3(runs: dict[str, Path], tmp_path: Path) -> None:
    export_onnx(runs["dqn"], tmp_path / "dqn.onnx")
    code = (
        "import sys, json\n"
        "from warehouse_sim.evaluation import evaluate\n"
        f"r = evaluate({NAV!r}, {str(tmp_path / 'dqn.onnx')!r}, env_kwargs={{'continuous': False}}, episodes=2)\n"
        "heavy = [m for m in ('torch', 'stable_baselines3', 'sb3_contrib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(json.dumps(r['return']['n']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "2"


def test_onnx_and_sb3_evaluations_agree(runs: dict[str, Path], tmp_path: Path) -> None:
    export_onnx(runs["ppo-box"], tmp_path / "box.onnx")
    a = evaluate(NAV, str(tmp_path / "box.onnx"), episodes=2, seed=5)
    b = evaluate(NAV, str(runs["ppo-box"] / "model.zip"), episodes=2, seed=5)
    np.testing.assert_allclose(a["returns"], b["returns"], rtol=1e-4, atol=1e-4)


def test_space_mismatch_and_corrupt_files_are_clear_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    export_onnx(runs["dqn"], tmp_path / "dqn.onnx")
    with pytest.raises(PolicySpaceError, match="Discrete"):
        evaluate(NAV, str(tmp_path / "dqn.onnx"), episodes=1)  # continuous env, Discrete policy
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx graph")
    (tmp_path / "corrupt.json").write_text((tmp_path / "dqn.json").read_text())
    with pytest.raises(PolicyLoadError, match="does not match its sidecar"):
        OnnxPolicy(corrupt)
    _with_sidecar_hash(corrupt)  # the bytes as exported, and still no graph
    with pytest.raises(PolicyLoadError, match="corrupt ONNX"):
        OnnxPolicy(corrupt)
    (tmp_path / "dqn.json").write_text("{")
    with pytest.raises(PolicyLoadError, match="corrupt policy sidecar"):
        OnnxPolicy(tmp_path / "dqn.onnx")
    truncated = tmp_path / "model.zip"
    truncated.write_bytes((runs["dqn"] / "model.zip").read_bytes()[:500])
    with pytest.raises(PolicyLoadError):
        SB3Policy.load(truncated)


def test_export_of_a_bare_model_needs_an_env_id(runs: dict[str, Path], tmp_path: Path) -> None:
    bare = tmp_path / "elsewhere" / "m.zip"
    bare.parent.mkdir()
    bare.write_bytes((runs["dqn"] / "model.zip").read_bytes())
    with pytest.raises(ValueError, match="env id"):
        export_onnx(bare, tmp_path / "x.onnx")
    assert not list(tmp_path.glob("x.*"))
    result = export_onnx(bare, tmp_path / "x.onnx", env_id=NAV, env_kwargs={"continuous": False})
    assert result.metadata["normalization"] is None and result.metadata["algo"] == "dqn"


# ---------------------------------------------------------------------------- issue 15: reject what cannot work, at load time
def _with_sidecar_hash(onnx: Path) -> None:
    """Record ``onnx``'s current hash in its sidecar: the file then looks exported that way."""
    from warehouse_sim.onnx_runtime import sha256_file, sidecar_path

    side = sidecar_path(onnx)
    meta = json.loads(side.read_text())
    meta["onnx_sha256"] = sha256_file(onnx)
    side.write_text(json.dumps(meta))


def test_a_flipped_byte_in_the_onnx_file_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    # Item 11: a one-byte flip loaded silently.
    export_onnx(runs["ppo-box"], tmp_path / "p.onnx")
    data = bytearray((tmp_path / "p.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the weights: the graph still parses
    (tmp_path / "p.onnx").write_bytes(bytes(data))
    with pytest.raises(PolicyLoadError, match="does not match its sidecar"):
        OnnxPolicy(tmp_path / "p.onnx")


def test_nan_weights_are_refused_at_load_also_as_a_fleet_driver(runs: dict[str, Path], tmp_path: Path) -> None:
    # Item 11: NaN weights loaded, and as a fleet driver drove PyBullet into a physics error.
    import onnx
    from onnx import numpy_helper

    export_onnx(runs["ppo-box"], tmp_path / "nan.onnx")
    graph = onnx.load(str(tmp_path / "nan.onnx"))
    weights = next(t for t in graph.graph.initializer if numpy_helper.to_array(t).ndim == 2)
    weights.CopyFrom(numpy_helper.from_array(np.full_like(numpy_helper.to_array(weights), np.nan), weights.name))
    onnx.save(graph, str(tmp_path / "nan.onnx"))
    _with_sidecar_hash(tmp_path / "nan.onnx")
    with pytest.raises(PolicyLoadError, match="non-finite actions"):
        OnnxPolicy(tmp_path / "nan.onnx")
    with pytest.raises(PolicyLoadError, match="non-finite actions"):
        gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny", driver=f"policy:{tmp_path / 'nan.onnx'}")


def test_a_graph_that_does_not_fit_its_sidecar_fails_at_load(runs: dict[str, Path], tmp_path: Path) -> None:
    # Item 11: a DQN graph with a PPO sidecar failed only at the first step.
    export_onnx(runs["dqn"], tmp_path / "dqn.onnx")
    export_onnx(runs["ppo-box"], tmp_path / "box.onnx")
    (tmp_path / "box.onnx").write_bytes((tmp_path / "dqn.onnx").read_bytes())
    with pytest.raises(PolicyLoadError, match="does not match its sidecar"):
        OnnxPolicy(tmp_path / "box.onnx")
    _with_sidecar_hash(tmp_path / "box.onnx")  # even with a matching hash: the graph's output is not the sidecar's
    with pytest.raises(PolicyLoadError, match=r"outputs tensor\(int64\) actions .* needs tensor\(float\)"):
        OnnxPolicy(tmp_path / "box.onnx")


def test_export_refuses_a_model_with_non_finite_parameters(runs: dict[str, Path], tmp_path: Path) -> None:
    import torch
    from stable_baselines3 import DQN

    model = DQN.load(runs["dqn"] / "model.zip")
    with torch.no_grad():
        next(model.policy.parameters()).fill_(float("nan"))
    bad = tmp_path / "run"
    shutil.copytree(runs["dqn"], bad)
    model.save(bad / "model.zip")
    with pytest.raises(ValueError, match="NaN or infinity"):
        export_onnx(bad, tmp_path / "x.onnx")
    assert not list(tmp_path.glob("x.*"))


def test_export_for_an_env_with_other_spaces_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    # Item 12: `export RUN --env OTHER` wrote a sidecar for an env whose spaces do not match.
    with pytest.raises(PolicySpaceError, match=r"does not match warehouse_sim/Inventory-v0 with env kwargs"):
        export_onnx(runs["dqn"], tmp_path / "x.onnx", env_id=INV, env_kwargs={"continuous": False})
    with pytest.raises(PolicySpaceError, match="Discrete"):  # the model's own env, but continuous actions
        export_onnx(runs["dqn"], tmp_path / "x.onnx", env_kwargs={})
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "export", str(runs["dqn"]), "--out", str(tmp_path / "x.onnx"), "--env", INV],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "does not match" in out.stderr, out.stderr
    assert not list(tmp_path.glob("x.*"))


def test_every_damaged_vecnormalize_file_is_one_load_error(runs: dict[str, Path], tmp_path: Path) -> None:
    # Item 13: 33 of 300 byte flips escaped the CLI (ModuleNotFoundError, MemoryError, SystemError, OverflowError).
    from warehouse_sim.policies.sb3_policy import load_normalizer

    stats = (runs["ppo-box"] / "vecnormalize.pkl").read_bytes()
    space = gym.make(NAV).observation_space
    rng = np.random.default_rng(0)
    outcomes = {"loaded": 0, "refused": 0}
    for _ in range(300):
        data = bytearray(stats)
        data[int(rng.integers(len(data)))] ^= int(rng.integers(1, 256))
        (tmp_path / "v.pkl").write_bytes(bytes(data))
        try:
            normalizer = load_normalizer(tmp_path / "v.pkl", space)
        except PolicyLoadError:
            outcomes["refused"] += 1
        else:
            normalizer.normalize_obs(np.zeros(space.shape, dtype=np.float32))  # a loaded one works
            outcomes["loaded"] += 1
    assert outcomes["refused"] > 0 and sum(outcomes.values()) == 300, outcomes


def test_a_corrupt_vecnormalize_is_one_line_from_the_cli(runs: dict[str, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(runs["ppo-box"], run)
    data = bytearray((run / "vecnormalize.pkl").read_bytes())
    data[10:40] = b"\xff" * 30
    (run / "vecnormalize.pkl").write_bytes(bytes(data))
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "evaluate", "--env", NAV, "--policy", str(run / "model.zip")],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "vecnormalize.pkl" in out.stderr and "Traceback" not in out.stderr
