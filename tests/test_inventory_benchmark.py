"""The lost-sales test bed: the 16 scenario files are the published instances, and the table's figures follow from the shipped files."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import pytest

import warehouse_sim  # noqa: F401 - registers the ids
from warehouse_sim.operations import load_scenario
from warehouse_sim.operations.mdp import SingleSkuMdp

ROOT = Path(__file__).resolve().parents[1]


sys.path.insert(0, str(ROOT / "training"))
import inventory_benchmark as benchmark  # a script of training/, importable once its folder is on the path


@pytest.mark.parametrize("instance", benchmark.INSTANCES)
def test_each_instance_is_zipkins(instance: str) -> None:
    lead, penalty = (int(x) for x in instance[1:].split("-p"))
    scenario = load_scenario(benchmark.scenario_name(instance))
    (sku,) = scenario.skus
    assert (scenario.mode, scenario.fixed_order_cost, scenario.seasonality, scenario.demand.model) == ("lost_sales", 0.0, (1.0,), "poisson")
    assert (sku.base_rate, sku.elasticity, sku.holding_cost, sku.unit_cost, sku.lead_time) == (5, 0, 1, 0, lead)
    assert sku.prices == (0.01,) and sku.penalty + sku.prices[0] == pytest.approx(penalty)
    assert sku.order_quantities == tuple(range(17)) and benchmark.cost_offset(instance) == pytest.approx(0.05)


def test_profit_is_the_demand_term_minus_the_cost() -> None:
    env = gym.make("warehouse_sim/Inventory-v0", **benchmark.env_kwargs("L2-p19"))
    env.reset(seed=0)
    for action in [0, 16, 3, 9, 0, 0, 12]:
        _, reward, _, _, info = env.step(action)
        period = info["period"]
        cost = period["holding_cost"] + 19 * int(period["lost"][0])
        assert reward * 10 == pytest.approx(0.01 * int(period["demand"][0]) - cost)


def test_the_dp_average_cost_is_the_long_run_cost_of_its_policy() -> None:
    mdp = SingleSkuMdp(load_scenario(benchmark.scenario_name("L1-p9")))
    solution = mdp.solve()
    simulated = mdp.simulate(solution.policy[None], episodes=50, horizon=2000, seed=1)[0]
    assert 0.05 - simulated == pytest.approx(0.05 - solution.gain, rel=0.01)
    assert 0.05 - solution.gain == pytest.approx(5.4382, abs=1e-4)  # L=1, p=9 (training/results/lost-sales/L1-p9/exact.json)


def test_gaps_and_verdicts_follow_from_the_shipped_files() -> None:
    import json

    for instance in benchmark.INSTANCES:
        folder = benchmark.RESULTS / instance
        if not (folder / "exact.json").is_file():
            continue
        row = benchmark._row(instance)
        for name, figures in row.rules.items():
            assert figures is not None and figures[1] >= -1e-9, (instance, name)  # no rule beats the optimum
        learned = row.learned["ppo"]
        if learned is not None and (folder / "exact.json").is_file():
            assert row.beats_cbs is not None
            entry = json.loads((folder / "ppo" / "eval.json").read_text())["training"]["hyperparams"]
            assert row.ppo_warm_start == ("capped-base-stock" if "-warm" in Path(entry).name else None), instance
    text = benchmark.table()
    assert text.count("\n| ") == len(benchmark.INSTANCES)
    readme = (ROOT / "README.md").read_text()
    assert text in readme, "the README's test-bed table or its tally is not what the shipped files give"


def test_plot_draws_the_gaps_of_the_shipped_files(tmp_path: Path) -> None:
    out = tmp_path / "gaps.png"
    assert benchmark.main(["plot", "--out", str(out)]) == 0
    from PIL import Image

    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 300
    assert [p.name for p in tmp_path.iterdir()] == ["gaps.png"]  # written atomically: no temporary left


def test_the_learned_gaps_are_paired_episode_by_episode() -> None:
    import json

    import numpy as np

    for instance in benchmark.INSTANCES:
        file = benchmark.RESULTS / instance / "ppo" / "eval.json"
        if not file.is_file():
            continue
        report = json.loads(file.read_text())
        costs = np.array(benchmark.episode_costs(report, instance))
        optimal = np.array(benchmark.episode_costs(report["against"], instance))
        _, gap, error = benchmark._row(instance).learned["ppo"]  # type: ignore[misc]
        assert gap == pytest.approx(costs.mean() / optimal.mean() - 1.0)
        paired = (costs - optimal) / optimal.mean()
        assert error == pytest.approx(paired.std(ddof=1) / np.sqrt(paired.size))
        # the demand draws are shared, so pairing removes their spread
        assert error < (costs / optimal.mean()).std(ddof=1) / np.sqrt(costs.size)
        # PPO against capped base-stock: the same episodes, paired the same way
        cbs = np.array(json.loads((file.parents[1] / "exact.json").read_text())["capped-base-stock"]["episode_costs"])
        versus, versus_error = benchmark._row(instance).ppo_vs_cbs  # type: ignore[misc]
        assert versus == pytest.approx((costs.mean() - cbs.mean()) / optimal.mean())
        assert versus_error == pytest.approx(((costs - cbs) / optimal.mean()).std(ddof=1) / np.sqrt(costs.size))
        assert benchmark._row(instance).beats_cbs == (costs.mean() < cbs.mean())


def _finished_run(
    folder: Path, instance: str, *, seed: int, validation: float, timesteps: int = 1_000_000, order: int = 0, entry: str = "ppo-lost-sales.yml",
) -> Path:
    """A run folder as ``train`` leaves it, as far as ``publish`` reads it: config, kept validation return, model.

    The model is a real PPO model of the family's shape whose deterministic policy always
    orders ``order`` units (an untrained net with its output layer set so).
    """
    import json

    import torch
    import yaml
    from stable_baselines3 import PPO

    from warehouse_sim.training import load_train_config

    family = load_train_config("ppo", benchmark.ENV_ID, path=ROOT / "training" / "hyperparams" / entry)
    config = family.with_overrides(n_timesteps=timesteps, env_kwargs={**family.env_kwargs, **benchmark.env_kwargs(instance)})
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump({"config": config.to_dict(), "run": {"seed": seed}}))
    kept = {"timesteps": 600_000, "validation_return": validation}
    (folder / "eval.json").write_text(json.dumps({"timesteps": timesteps, "wall_time_s": 1.0, "kept_best": kept}))
    model = PPO("MlpPolicy", gym.make(benchmark.ENV_ID, **benchmark.env_kwargs(instance)), n_steps=64, device="cpu",
                policy_kwargs={"net_arch": [64, 64], "activation_fn": torch.nn.Tanh}, seed=seed)
    with torch.no_grad():
        model.policy.action_net.weight.zero_()
        model.policy.action_net.bias.zero_()
        model.policy.action_net.bias[order] = 1.0
    model.save(folder / "model.zip")
    return folder


def test_keep_better_keeps_the_published_policy_that_did_better_on_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    instance = "L2-p39"
    monkeypatch.setattr(benchmark, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(benchmark, "VALIDATION_EPISODES", 2)
    shutil.copytree(ROOT / "training" / "results" / "lost-sales" / instance, tmp_path / "results" / instance)
    published_file = tmp_path / "results" / instance / "ppo" / "eval.json"
    published = json.loads(published_file.read_text())
    onnx = (tmp_path / "results" / instance / "ppo" / "policy.onnx").read_bytes()
    incumbent = published["training"]["runs"]
    kept = published["training"]["kept_best"]["validation_return"]
    assert published["training"]["seed"] in [r["seed"] for r in incumbent]
    worse = kept - 1.0

    report = benchmark.publish(instance, "ppo", _finished_run(tmp_path / "s7", instance, seed=7, validation=worse), keep_better=True)

    stored = json.loads(published_file.read_text())
    assert report == stored
    assert stored["episodes"] == published["episodes"] and stored["training"]["seed"] == published["training"]["seed"]
    assert (tmp_path / "results" / instance / "ppo" / "policy.onnx").read_bytes() == onnx  # the policy is untouched
    assert [(r["seed"], r["validation_return"]) for r in stored["training"]["runs"]] == [
        *((r["seed"], r["validation_return"]) for r in incumbent),
        (7, worse),
    ]
    assert stored["training"]["runs"][-1]["command"].endswith(f"--only {instance} --timesteps 1000000 --seed 7 --keep-better")
    # the choice: both exported policies on the same validation episodes (a run that never orders loses)
    (incumbent_validation,) = (r["validation"] for r in stored["training"]["runs"][:-1] if r["seed"] == published["training"]["seed"])
    new_validation = stored["training"]["runs"][-1]["validation"]
    assert incumbent_validation["episodes"] == new_validation["episodes"] == 2
    assert new_validation["mean_return"] < incumbent_validation["mean_return"]

    with pytest.raises(ValueError, match="already compared with a run of seed 7"):
        benchmark.publish(instance, "ppo", _finished_run(tmp_path / "again", instance, seed=7, validation=worse), keep_better=True)
    with pytest.raises(ValueError, match="not trained with the ppo-lost-sales.yml entry on L3-p39"):
        benchmark.publish("L3-p39", "ppo", tmp_path / "s7", keep_better=True)
    assert json.loads(published_file.read_text()) == stored  # refusals change nothing

    # a run of another budget competes on the same validation episodes, its command saying its budget
    benchmark.publish(instance, "ppo", _finished_run(tmp_path / "short", instance, seed=8, validation=worse, timesteps=5_000), keep_better=True)
    runs = json.loads(published_file.read_text())["training"]["runs"]
    assert runs[:-1] == stored["training"]["runs"] and runs[-1]["seed"] == 8
    assert runs[-1]["command"].endswith(f"--only {instance} --timesteps 5000 --seed 8 --keep-better")
    assert runs[-1]["validation"]["mean_return"] < incumbent_validation["mean_return"]

    # a run of another entry is published with that entry's file, and its command names it
    long = ROOT / "training" / "hyperparams" / "ppo-lost-sales-long.yml"
    other = _finished_run(tmp_path / "long", instance, seed=9, validation=worse, timesteps=5_000, entry=long.name)
    with pytest.raises(ValueError, match=f"not trained with the ppo-lost-sales.yml entry on {instance}"):
        benchmark.publish(instance, "ppo", other, keep_better=True)
    benchmark.publish(instance, "ppo", other, keep_better=True, hyperparams=long)
    runs = json.loads(published_file.read_text())["training"]["runs"]
    assert runs[-1]["seed"] == 9
    assert runs[-1]["command"].endswith(f"--timesteps 5000 --hyperparams training/hyperparams/{long.name} --seed 9 --keep-better")


def test_keep_better_reads_a_policy_published_before_runs_were_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shutil

    instance = "L1-p4"
    monkeypatch.setattr(benchmark, "RESULTS", tmp_path / "results")
    shutil.copytree(ROOT / "training" / "results" / "lost-sales" / instance, tmp_path / "results" / instance)
    file = tmp_path / "results" / instance / "dqn" / "eval.json"
    training = json.loads(file.read_text())["training"]
    assert "runs" not in training  # DQN was published before --keep-better
    published = benchmark._published_for_comparison(instance, "dqn", 1)
    assert published is not None
    assert published["training"]["runs"] == [{"seed": 0, "validation_return": training["kept_best"]["validation_return"], "command": training["command"]}]
    with pytest.raises(ValueError, match="already compared with a run of seed 0"):
        benchmark._published_for_comparison(instance, "dqn", 0)
    # the command line: one line naming the problem, exit code 2, nothing written
    before = file.read_bytes()
    code = benchmark.main(["publish", "--algo", "dqn", "--only", instance, "--run", str(tmp_path / "no-run"), "--keep-better"])
    assert code == 2 and capsys.readouterr().err.strip().count("\n") == 0 and file.read_bytes() == before
    missing = tmp_path / "missing.yml"
    code = benchmark.main(["train", "--algo", "dqn", "--only", instance, "--hyperparams", str(missing), "--seed", "5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"error: no hyperparameter file {missing}" and file.read_bytes() == before


def test_keep_better_publishes_the_run_that_does_better_on_the_validation_episodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    import shutil

    instance = "L1-p4"
    results = tmp_path / "results"
    monkeypatch.setattr(benchmark, "RESULTS", results)
    monkeypatch.setattr(benchmark, "EPISODES", 2)
    monkeypatch.setattr(benchmark, "VALIDATION_EPISODES", 2)
    (results / instance).mkdir(parents=True)
    shutil.copy(ROOT / "training" / "results" / "lost-sales" / instance / "exact.json", results / instance)
    folder = results / instance / "ppo"

    never = _finished_run(tmp_path / "s0", instance, seed=0, validation=-900.0, order=0)
    benchmark.publish(instance, "ppo", never)  # the first run of an instance is published as it is
    assert json.loads((folder / "eval.json").read_text())["training"]["seed"] == 0

    # seed 1 orders the mean demand every period: better on validation although its own
    # training evaluations (validation_return) looked worse; it replaces seed 0
    mean = _finished_run(tmp_path / "s1", instance, seed=1, validation=-950.0, order=5)
    report = benchmark.publish(instance, "ppo", mean, keep_better=True)
    stored = json.loads((folder / "eval.json").read_text())
    assert report == stored and stored["training"]["seed"] == 1 and stored["episodes"] == 2
    assert (folder / "policy.onnx").read_bytes() == (mean / "policy.onnx").read_bytes()
    assert json.loads((folder / "policy.json").read_text()) == json.loads((mean / "policy.json").read_text())
    first, second = stored["training"]["runs"]
    assert (first["seed"], second["seed"]) == (0, 1)
    assert second["validation"]["mean_return"] > first["validation"]["mean_return"]
    assert stored["policy"] == str(folder / "policy.onnx")

    # seed 2 never orders again: it loses, and only joins the list
    before = (folder / "policy.onnx").read_bytes()
    benchmark.publish(instance, "ppo", _finished_run(tmp_path / "s2", instance, seed=2, validation=-800.0, order=0), keep_better=True)
    stored_again = json.loads((folder / "eval.json").read_text())
    assert stored_again["training"]["seed"] == 1 and (folder / "policy.onnx").read_bytes() == before
    assert [r["seed"] for r in stored_again["training"]["runs"]] == [0, 1, 2]
    assert stored_again["training"]["runs"][1]["validation"] == second["validation"]  # known figures are not recomputed


def test_agreement_compares_ppo_with_capped_base_stock_state_by_state(capsys: pytest.CaptureFixture[str]) -> None:
    found = benchmark.cbs_agreement("L1-p19", episodes=1)
    assert (found["instance"], found["episodes"], found["periods"]) == ("L1-p19", 1, 1000)
    assert 0.0 <= found["same"] <= 1.0
    if found["same"] < 1.0:
        assert 0 not in found["differences"] and sum(found["differences"].values()) == pytest.approx(1.0)
    assert benchmark.main(["agreement", "--only", "L1-p19", "--episodes", "1"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert line.startswith(f"L1-p19: PPO orders as capped base-stock in {100 * found['same']:.1f}% of 1000 periods")
    assert benchmark.main(["agreement", "--only", "L1-p19", "--episodes", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --episodes must be >= 1, got 0"
