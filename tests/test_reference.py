"""Reference results: the target rules of ``training/reference.py`` and the shipped verdicts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from warehouse_sim.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def _reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("training_reference", ROOT / "training" / "reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


reference = _reference_module()
PROFIT = reference.PROFIT


def test_inventory_must_also_beat_the_best_sS_while_fulfilment_only_reports_horizon() -> None:
    inventory, fulfilment = reference.REFERENCES["ppo-inventory"], reference.REFERENCES["ppo-fulfilment"]
    optimum, best_ss = {PROFIT: 100.0}, {"baseline:sS": {PROFIT: 99.5}}
    assert reference.meets_target(inventory, {PROFIT: 99.6}, optimum, best_ss)
    assert not reference.meets_target(inventory, {PROFIT: 99.4}, optimum, best_ss)  # >= 99% of DP, below (s,S)

    heuristic, horizon = {PROFIT: 100.0}, {"baseline:horizon": {PROFIT: 127.0}}
    assert reference.meets_target(fulfilment, {PROFIT: 121.0}, heuristic, horizon)
    assert not reference.meets_target(fulfilment, {PROFIT: 109.0}, heuristic, horizon)


@pytest.mark.parametrize("name", sorted(reference.REFERENCES))
def test_each_shipped_verdict_follows_from_its_own_figures(name: str) -> None:
    file = ROOT / "training" / "results" / name / "eval.json"
    report = json.loads(file.read_text())
    ref = reference.REFERENCES[name]
    extra = {b: reference._means(r) for b, r in report.get("other_baselines", {}).items()}
    expected = reference.meets_target(ref, reference._means(report), reference._means(report["against"]), extra)
    assert report["reference"]["target_met"] is expected
    episodes = ref.episodes or 100
    assert report["episodes"] == episodes and report["seeds"] == [0, episodes - 1]


def _fake_run(folder: Path, config: TrainConfig, *, steps: int = 64) -> Path:
    """A run folder with ``config`` and one checkpoint (its model file is not read)."""
    import yaml

    checkpoint = folder / "checkpoints" / f"{steps:012d}"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.zip").write_bytes(b"")
    (checkpoint / "state.json").write_text(json.dumps({"timesteps": steps, "wall_time_s": 12.5}))
    (folder / "config.yaml").write_text(yaml.safe_dump({"config": config.to_dict(), "run": {"seed": 0}}))
    return checkpoint


def test_the_scratch_reference_trains_on_fast_from_its_own_file_and_is_judged_on_physics() -> None:
    ref = reference.REFERENCES["ppo-fulfilment-scratch"]
    config = reference.reference_config(ref)
    assert config.env_kwargs["fidelity"] == "fast" and config.n_envs == 16 and config.warm_start is None
    assert {**config.env_kwargs, **ref.eval_env_kwargs}["fidelity"] == "physics"
    assert reference.reference_config(reference.REFERENCES["ppo-fulfilment"]).warm_start is not None  # ppo.yml's entry


def test_the_best_learned_reference_is_warm_started_on_fast_and_judged_against_horizon_on_physics() -> None:
    ref = reference.REFERENCES["ppo-fulfilment-fast-warm"]
    config = reference.reference_config(ref)
    assert config.env_kwargs["fidelity"] == "fast" and config.n_envs == 16
    assert config.warm_start is not None and config.warm_start.baseline == "horizon"
    assert {**config.env_kwargs, **ref.eval_env_kwargs}["fidelity"] == "physics"
    assert (ref.against, ref.min_profit_ratio) == ("baseline:horizon", 1.03)
    # the same, cloning the stronger rule, and reported against it too
    ref = reference.REFERENCES["ppo-fulfilment-fast-warm-newsvendor"]
    config = reference.reference_config(ref)
    assert config.warm_start is not None and config.warm_start.baseline == "newsvendor"
    assert {**config.env_kwargs, **ref.eval_env_kwargs}["fidelity"] == "physics" and config.env_kwargs["fidelity"] == "fast"
    assert (ref.against, ref.min_profit_ratio) == ("baseline:horizon", 1.03) and "baseline:newsvendor" in ref.extra_baselines


def test_a_trained_run_ships_only_with_the_references_hyperparameters(tmp_path: Path) -> None:
    ref = reference.REFERENCES["ppo-fulfilment-scratch"]
    config = reference.reference_config(ref)
    # Another budget and keep_best are moot: the model is named.
    checkpoint = _fake_run(tmp_path / "same", config.with_overrides(n_timesteps=262_144, keep_best=True), steps=96)
    assert reference.trained_run(checkpoint, config) == (tmp_path / "same", 96, 12.5)

    other = _fake_run(tmp_path / "other", config.with_overrides(n_envs=8, algo_kwargs={**config.algo_kwargs, "n_epochs": 5}))
    with pytest.raises(ValueError, match=r"other hyperparameters than the reference \(algo_kwargs, n_envs\)"):
        reference.trained_run(other, config)
    with pytest.raises(ValueError, match="neither a trained run folder nor a checkpoint"):
        reference.trained_run(tmp_path, config)


def test_model_needs_exactly_one_reference(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        reference.main(["--model", "runs/x"])
    assert exit_info.value.code == 2
    assert "--model ships one reference: name it with a single --only" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(reference.REFERENCES))
def test_each_shipped_report_was_judged_on_its_references_env(name: str) -> None:
    ref = reference.REFERENCES[name]
    report = json.loads((ROOT / "training" / "results" / name / "eval.json").read_text())
    judged = {**reference.reference_config(ref).env_kwargs, **ref.eval_env_kwargs}
    assert report["env_kwargs"] == judged
