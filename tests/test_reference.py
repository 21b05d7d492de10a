"""Reference results: the target rules of ``training/reference.py`` and the shipped verdicts."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

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
