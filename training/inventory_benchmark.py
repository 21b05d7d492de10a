"""RL against the exact optimum on the lost-sales test bed of the inventory literature.

The 16 instances of Zipkin (2008): Poisson demand with mean 5 per period, holding cost 1,
lost-sales penalty p in {4, 9, 19, 39}, lead time L in {1, 2, 3, 4}, no ordering cost
(``assets/scenarios/lost-sales-L<L>-p<p>.yaml``; profit = 0.01 x demand - cost, so the
average cost per period is 0.05 - the average profit). For each instance::

    python training/inventory_benchmark.py exact [--only L4-p39]      # DP optimum, best base-stock and capped base-stock
    python training/inventory_benchmark.py train --algo ppo [--only L4-p39] [--timesteps N]
    python training/inventory_benchmark.py train --algo ppo --seed 1 --keep-better      # another seed; the better on validation stays
    python training/inventory_benchmark.py                            # prints the table
    python training/inventory_benchmark.py plot                       # the gaps as a bar chart (gaps.png)

- ``exact``: solves the average-cost optimum by relative value iteration, finds the best
  base-stock and capped base-stock rules (``baseline:base-stock``,
  ``baseline:capped-base-stock``: grids screened by simulation, finalists evaluated
  exactly over the 1000-period episode), computes each rule's exact long-run average cost
  (the stationary distribution of its Markov chain), and plays capped base-stock on the
  100 judged episodes (seeds 0..99, 1000 periods each) in Inventory-v0. Writes
  ``training/results/lost-sales/<instance>/exact.json``.
- ``train`` (``publish --run DIR`` for a run already trained the same way): trains with the family entry of ``training/hyperparams/<algo>-lost-sales.yml``
  (or of the file ``--hyperparams`` names, e.g. ``ppo-lost-sales-long.yml``, or
  ``ppo-lost-sales-warm.yml``, ``-warm-explore.yml``, ``-warm-fine.yml`` and
  ``-warm-adjacent.yml``, whose PPO starts from a behaviour clone of capped base-stock)
  (the training runner of ``warehouse-sim train``; its periodic evaluations play
  validation seeds 1000.. and the best model is kept), exports the policy to
  ``<instance>/<algo>/policy.onnx`` (+ ``policy.json``) and evaluates the ONNX policy on
  the same 100 episodes against ``baseline:optimal`` into ``<instance>/<algo>/eval.json``.
  With ``--seed N --keep-better`` the new run (``runs/lost-sales/<algo>-<instance>-sN``,
  with the family's budget or another ``--timesteps``) replaces the published policy
  only if its exported policy does better than the published one on 100 validation
  episodes (seeds 1000..1099, the same for both); ``eval.json`` lists every run compared
  (``training.runs``, each with the command that trained it). The judged seeds 0..99 play
  no part in training or in the choice.
- no command (or ``table``): one table from those files: optimal average cost, best
  base-stock, best capped base-stock, PPO and DQN, each with its gap to the optimum.
  Gaps of the rules are exact (long-run averages); gaps of PPO and DQN compare their mean
  cost over the 100 judged episodes with the optimal policy's on the same episodes (the
  same demand: every policy sees the same draws for a seed). "PPO < CBS" compares PPO and
  capped base-stock on those same episodes: PPO's mean cost minus capped base-stock's, in
  % of the optimum, ± one standard error of the paired difference.
- ``plot``: the table's gaps to the optimum as grouped bars per instance (rules exact,
  PPO and DQN with one standard error), the 2% goal as a line, written to
  ``training/results/lost-sales/gaps.png`` (``--out`` elsewhere).
- ``agreement``: how often the published PPO policy orders what capped base-stock would in
  the same state, along PPO's own trajectories on the first judged episodes (``--episodes``,
  default 10), and by how many units it differs where it does: a warm-started policy that
  barely left the rule shows it here.
- ``bounds``: checks that order quantities 0..16 and on hand up to 36 do not bind the
  optimum: solves each instance again with on hand up to 40 and orders 0..20, with the
  time and peak memory of each solve.

Goals (issue 16): PPO within 2% of the optimum on every instance and better than the best
capped base-stock on at least 12 of 16.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from warehouse_sim._files import atomic_path, write_text_atomic

if TYPE_CHECKING:
    from warehouse_sim.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "warehouse_sim/Inventory-v0"
RESULTS = ROOT / "training" / "results" / "lost-sales"
RUNS = ROOT / "runs" / "lost-sales"
INSTANCES: tuple[str, ...] = tuple(f"L{L}-p{p}" for L in (1, 2, 3, 4) for p in (4, 9, 19, 39))
EPISODES = 100
#: Validation episodes that choose between training runs (:func:`validation`); never judged.
VALIDATION_EPISODES = 100
VALIDATION_SEED = 1_000
RULES = ("base-stock", "capped-base-stock")
ALGOS = ("ppo", "dqn")
GOAL_GAP = 0.02
GOAL_BEAT_CBS = 12


def scenario_name(instance: str) -> str:
    """The scenario file of an instance (``L4-p39`` -> ``lost-sales-L4-p39``)."""
    return f"lost-sales-{instance}"


def env_kwargs(instance: str) -> dict[str, Any]:
    """Inventory-v0 keyword arguments of an instance."""
    return {"scenario": scenario_name(instance), "continuous": False}


def cost_offset(instance: str) -> float:
    """``price x mean demand``: the average cost is this minus the average profit per period."""
    from warehouse_sim.operations import load_scenario

    sku = load_scenario(scenario_name(instance)).skus[0]
    return sku.prices[0] * sku.base_rate


def episode_costs(report: dict[str, Any], instance: str) -> list[float]:
    """Mean cost per period of each evaluated episode, from an evaluation report (returns are profit / reward_scale)."""
    from warehouse_sim.operations import load_scenario

    scenario = load_scenario(scenario_name(instance))
    offset = cost_offset(instance)
    return [offset - r * scenario.reward_scale / scenario.horizon for r in report["returns"]]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def exact(instance: str) -> dict[str, Any]:
    """Optimum and rule baselines of one instance: exact figures, and capped base-stock's 100 judged episodes."""
    import gymnasium as gym

    import warehouse_sim  # noqa: F401 - registers the ids
    from warehouse_sim.evaluation import evaluate
    from warehouse_sim.operations import load_scenario
    from warehouse_sim.operations.mdp import SingleSkuMdp
    from warehouse_sim.policies.inventory import InventoryRulePolicy, optimal_table
    from warehouse_sim.policies.registry import make_baseline

    scenario = load_scenario(scenario_name(instance))
    offset = cost_offset(instance)
    mdp = SingleSkuMdp(scenario)
    started = time.perf_counter()
    solution = mdp.solve()
    solve_s = time.perf_counter() - started
    table = optimal_table(scenario)  # the same solution, cached for baseline:optimal below
    result: dict[str, Any] = {
        "instance": instance,
        "states": mdp.n_states,
        "actions": mdp.n_actions,
        "optimal": {
            "average_cost": offset - solution.gain,
            "iterations": solution.iterations,
            "solve_s": round(solve_s, 1),
            "peak_rss_mb_after_solve": round(_peak_rss_mb(), 0),
            "largest_order": int(mdp.quantities[table // mdp.n_p][mdp.stationary(table) > 1e-12].max()),
        },
    }
    env = gym.make(ENV_ID, **env_kwargs(instance))
    try:
        for name in RULES:
            started = time.perf_counter()
            policy = make_baseline(name, env)
            assert isinstance(policy, InventoryRulePolicy)
            rule = policy.rule
            params = {k: np.asarray(v).reshape(-1).tolist() for k, v in vars(rule).items()}
            result[name] = {
                "parameters": params,
                "average_cost": offset - mdp.average_reward(rule.table(mdp)),  # type: ignore[attr-defined]
                "search_s": round(time.perf_counter() - started, 1),
            }
    finally:
        env.close()
    # the judged episodes of capped base-stock, for the paired comparison with PPO (the
    # optimal policy plays them in every learned policy's evaluation, against=optimal)
    report = evaluate(ENV_ID, "baseline:capped-base-stock", env_kwargs=env_kwargs(instance), episodes=EPISODES, seed=0)
    result["capped-base-stock"]["episode_costs"] = episode_costs(report, instance)
    return result


def family_file(algo: str) -> Path:
    """The hyperparameter file of ``algo``'s family entry (the default of ``--hyperparams``)."""
    return ROOT / "training" / "hyperparams" / f"{algo}-lost-sales.yml"


def _entry(algo: str, instance: str, hyperparams: Path | None, timesteps: int | None) -> TrainConfig:
    """The training configuration of ``instance``: the entry of ``hyperparams`` (default :func:`family_file`) on it."""
    from warehouse_sim.training import load_train_config

    config = load_train_config(algo, ENV_ID, path=hyperparams or family_file(algo))
    return config.with_overrides(n_timesteps=timesteps, env_kwargs={**config.env_kwargs, **env_kwargs(instance)})


def train_one(
    instance: str, algo: str, *, timesteps: int | None, seed: int, keep_better: bool = False, hyperparams: Path | None = None,
) -> dict[str, Any]:
    """Train one policy with the family entry (or that of ``hyperparams``) into ``runs/lost-sales/<algo>-<instance>[-s<seed>]``, then :func:`publish` it."""
    from warehouse_sim.training import train

    config = _entry(algo, instance, hyperparams, timesteps)
    if keep_better:
        _published_for_comparison(instance, algo, seed)  # refuse before training, not after
    run_dir = RUNS / (f"{algo}-{instance}" if seed == 0 else f"{algo}-{instance}-s{seed}")
    train(config, out_dir=run_dir, seed=seed, command=" ".join([sys.executable, *sys.argv]))
    return publish(instance, algo, run_dir, keep_better=keep_better, hyperparams=hyperparams)


def train_command(
    instance: str, algo: str, timesteps: int, seed: int, *, keep_better: bool = False, hyperparams: Path | None = None,
) -> str:
    """The command line of :func:`train_one` that trains (and publishes) this run."""
    command = f"python training/inventory_benchmark.py train --algo {algo} --only {instance} --timesteps {timesteps}"
    if hyperparams is not None and hyperparams.resolve() != family_file(algo):
        command += f" --hyperparams {_shown(hyperparams.resolve())}"
    return command + (f" --seed {seed}" if seed else "") + (" --keep-better" if keep_better else "")


def _own_run(training: dict[str, Any]) -> dict[str, Any]:
    """The run of a policy published without ``training.runs`` (before ``--keep-better``; the DQN files)."""
    return {"seed": training["seed"], "validation_return": training["kept_best"]["validation_return"], "command": training["command"]}


def _published_for_comparison(instance: str, algo: str, seed: int) -> dict[str, Any] | None:
    """The published ``eval.json`` a new run of ``seed`` is compared with (None if there is none).

    Its ``training.runs`` lists the runs compared so far, each with the command (and so
    the budget) that trained it: runs of different budgets compete on the same validation
    episodes.

    Raises:
        ValueError: if a run of ``seed`` was already compared.
    """
    file = RESULTS / instance / algo / "eval.json"
    if not file.is_file():
        return None
    published = json.loads(file.read_text())
    training = published["training"]
    training["runs"] = training.get("runs") or [_own_run(training)]
    if seed in {r["seed"] for r in training["runs"]}:
        raise ValueError(f"the published {algo} policy of {instance} was already compared with a run of seed {seed}")
    return published


def validation(onnx: Path, instance: str) -> dict[str, Any]:
    """Mean return of an exported policy on the validation episodes, which the table never judges.

    ``VALIDATION_EPISODES`` episodes of 1000 periods, seeds ``VALIDATION_SEED``.. (training's
    periodic evaluations play the first ten of them).

    Returns:
        ``{"episodes", "seed", "mean_return"}`` (return: profit / 10 per episode).
    """
    from warehouse_sim.evaluation import evaluate

    report = evaluate(ENV_ID, str(onnx), env_kwargs=env_kwargs(instance), episodes=VALIDATION_EPISODES, seed=VALIDATION_SEED)
    return {"episodes": VALIDATION_EPISODES, "seed": VALIDATION_SEED, "mean_return": float(report["return"]["mean"])}


def _validated(entry: dict[str, Any], onnx: Path, instance: str) -> float:
    """The validation return of a run entry of ``training.runs`` (computed from ``onnx`` and stored there unless known)."""
    known = entry.get("validation")
    if not known or (known["episodes"], known["seed"]) != (VALIDATION_EPISODES, VALIDATION_SEED):
        entry["validation"] = validation(onnx, instance)
    return float(entry["validation"]["mean_return"])


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (as the shipped files record it)."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def publish(instance: str, algo: str, run_dir: Path, *, keep_better: bool = False, hyperparams: Path | None = None) -> dict[str, Any]:
    """Export a finished run of an instance to ``<instance>/<algo>/policy.onnx`` and evaluate it into ``eval.json``.

    The run must have trained on the instance with the family entry, or the entry of
    ``hyperparams`` (checked against its ``config.yaml``); its kept model is exported to ``run_dir/policy.onnx`` and, once
    judged, copied to the results: the ONNX policy plays the 100 judged episodes against
    ``baseline:optimal``.

    With ``keep_better``, the run replaces the published policy (trained with the same
    or another budget under another seed) only if it does better on the validation episodes
    (:func:`validation`: both exported policies on the same 100 episodes of seeds 1000..;
    the judged seeds 0..99 play no part in the choice). Either way the published
    ``eval.json`` lists every run compared (``training.runs``, each with its kept
    model's return in training's periodic evaluations and, where compared so, its
    ``validation``).

    Raises:
        ValueError: if the run was not trained with that entry on ``instance``, or
            ``keep_better`` finds a published run of the same seed.
    """
    from warehouse_sim.evaluation import evaluate
    from warehouse_sim.export import export_onnx
    from warehouse_sim.onnx_runtime import sidecar_path
    from warehouse_sim.training.runner import read_run_config

    config, run = read_run_config(run_dir)
    file = (hyperparams or family_file(algo)).resolve()
    if config != _entry(algo, instance, file, config.n_timesteps):
        raise ValueError(f"{run_dir} was not trained with the {file.name} entry on {instance}")
    eval_report = json.loads((run_dir / "eval.json").read_text())
    out = RESULTS / instance / algo
    command = train_command(instance, algo, config.n_timesteps, run["seed"], keep_better=keep_better, hyperparams=file)
    this = {"seed": run["seed"], "validation_return": eval_report["kept_best"]["validation_return"], "command": command}
    runs = [this]
    published = _published_for_comparison(instance, algo, run["seed"]) if keep_better else None
    candidate = run_dir / "policy.onnx"
    export_onnx(run_dir, candidate)
    if published is not None:
        training = published["training"]
        incumbent = [r for r in training["runs"] if r["seed"] == training["seed"]][-1]
        kept = _validated(incumbent, out / "policy.onnx", instance)
        runs = [*training["runs"], this]
        if kept >= _validated(this, candidate, instance):
            training["runs"] = runs
            write_text_atomic(out / "eval.json", json.dumps(published, indent=2) + "\n")
            return published
    report = evaluate(ENV_ID, str(candidate), env_kwargs=env_kwargs(instance), episodes=EPISODES, seed=0, against="baseline:optimal")
    out.mkdir(parents=True, exist_ok=True)
    onnx = out / "policy.onnx"
    for source, target in ((candidate, onnx), (sidecar_path(candidate), sidecar_path(onnx))):
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    report["policy"] = _shown(onnx)
    report["training"] = {
        "algo": algo,
        "timesteps": eval_report["timesteps"],
        "train_wall_time_s": eval_report["wall_time_s"],
        "kept_best": eval_report.get("kept_best"),
        "seed": run["seed"],
        "hyperparams": _shown(file),
        "command": command,
        "runs": runs,
    }
    write_text_atomic(out / "eval.json", json.dumps(report, indent=2) + "\n")
    return report


@dataclasses.dataclass(frozen=True)
class Row:
    """One instance's figures (costs per period; gaps as fractions of the optimum)."""

    instance: str
    optimal: float | None
    rules: dict[str, tuple[float, float] | None]  # name -> (exact cost, gap)
    learned: dict[str, tuple[float, float, float] | None]  # algo -> (cost, paired gap, its standard error)
    #: PPO's mean cost minus capped base-stock's on the same judged episodes, as a fraction
    #: of the optimum, and that paired difference's standard error (None: no figures)
    ppo_vs_cbs: tuple[float, float] | None
    #: The published PPO policy was trained with an entry that warm-starts from a baseline
    #: (its name, e.g. ``capped-base-stock``; None: PPO from scratch or no policy)
    ppo_warm_start: str | None = None

    @property
    def beats_cbs(self) -> bool | None:
        """Whether PPO's mean cost is below capped base-stock's on the judged episodes (None: no figures)."""
        return None if self.ppo_vs_cbs is None else self.ppo_vs_cbs[0] < 0


def _row(instance: str) -> Row:
    folder = RESULTS / instance
    exact_file = folder / "exact.json"
    data = json.loads(exact_file.read_text()) if exact_file.is_file() else None
    optimal = data["optimal"]["average_cost"] if data else None
    rules: dict[str, tuple[float, float] | None] = {}
    for name in RULES:
        rules[name] = None
        if data and optimal is not None:
            cost = data[name]["average_cost"]
            rules[name] = (cost, cost / optimal - 1.0)
    learned: dict[str, tuple[float, float, float] | None] = {}
    versus, warm = None, None
    for algo in ALGOS:
        file = folder / algo / "eval.json"
        learned[algo] = None
        if not file.is_file():
            continue
        report = json.loads(file.read_text())
        costs = np.array(episode_costs(report, instance))
        reference = np.array(episode_costs(report["against"], instance))
        diff = (costs - reference) / reference.mean()  # paired: the same demand draws per episode
        learned[algo] = (float(costs.mean()), float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(diff.size)))
        if algo == "ppo":
            warm = _warm_start(report["training"])
            if data:
                cbs = (costs - np.array(data["capped-base-stock"]["episode_costs"])) / reference.mean()
                versus = (float(cbs.mean()), float(cbs.std(ddof=1) / np.sqrt(cbs.size)))
    return Row(instance, optimal, rules, learned, versus, warm)


def _warm_start(training: dict[str, Any]) -> str | None:
    """The baseline the published policy's entry warm-starts from (None: none, or an entry not on file)."""
    from warehouse_sim.training import load_train_config

    name = training.get("hyperparams")
    if not name or not (ROOT / name).is_file():
        return None
    warm = load_train_config(training["algo"], ENV_ID, path=ROOT / name).warm_start
    return None if warm is None else warm.baseline


def _cell(cost: float | None, gap: float | None = None) -> str:
    if cost is None:
        return "–"
    return f"{cost:.3f}" if gap is None else f"{cost:.3f} ({100 * gap:+.2f}%)"


def table() -> str:
    """The benchmark table (Markdown) from the stored results, with the goals' tallies.

    "PPO < CBS" compares PPO with capped base-stock on the judged episodes: PPO's mean
    cost minus capped base-stock's, as a percentage of the optimum, ± one standard error of
    that paired difference. A PPO figure marked "(w)" is a policy whose PPO run started from
    a behaviour clone of capped base-stock (``ppo-lost-sales-warm*.yml``).
    """
    lines = [
        "| L | p | optimal | best base-stock | best capped base-stock | PPO | DQN | PPO < CBS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [_row(i) for i in INSTANCES]
    for row in rows:
        lead, penalty = row.instance[1:].split("-p")
        cells = [_cell(row.optimal)]
        cells += [_cell(*r) if r else "–" for r in row.rules.values()]
        cells += [f"{_cell(v[0], v[1])} ± {100 * v[2]:.2f}" if v else "–" for v in row.learned.values()]
        if row.ppo_warm_start and row.learned["ppo"]:
            cells[3] += " (w)"
        versus = row.ppo_vs_cbs
        cells.append("–" if versus is None else f"{'yes' if versus[0] < 0 else 'no'} ({100 * versus[0]:+.2f}% ± {100 * versus[1]:.2f})")
        lines.append(f"| {lead} | {penalty} | " + " | ".join(cells) + " |")
    ppo = [r.learned["ppo"] for r in rows if r.learned["ppo"]]
    within = sum(1 for v in ppo if v[1] <= GOAL_GAP)
    beats = sum(1 for r in rows if r.beats_cbs)
    clear = sum(1 for r in rows if r.ppo_vs_cbs and r.ppo_vs_cbs[0] + 2 * r.ppo_vs_cbs[1] < 0)
    warm = sum(1 for r in rows if r.beats_cbs and r.ppo_warm_start)
    lines.append("")
    lines.append(
        f"PPO within {100 * GOAL_GAP:.0f}% of the optimum on {within} of {len(ppo)} trained instances (goal: all 16); "
        f"better than the best capped base-stock on {beats} (goal: {GOAL_BEAT_CBS} of 16), "
        f"{clear} of them by more than two standard errors, {warm} with a policy warm-started from capped base-stock (w)."
    )
    return "\n".join(lines)


def plot(path: Path) -> None:
    """Write the gaps to the optimum (%) of every instance and policy as a grouped bar chart (PNG) to ``path``.

    Rules' gaps are exact; PPO's and DQN's carry one standard error of the paired gap.
    Instances without figures have no bars.
    """
    from matplotlib.figure import Figure

    from warehouse_sim.plotting import save_figure_atomic

    rows = [_row(i) for i in INSTANCES]
    series: list[tuple[str, list[float], list[float] | None]] = [
        (name, [100 * r.rules[name][1] if r.rules[name] else np.nan for r in rows], None) for name in RULES
    ]
    for algo in ALGOS:
        learned = [r.learned[algo] for r in rows]
        series.append((algo.upper(), [100 * v[1] if v else np.nan for v in learned], [100 * v[2] if v else 0.0 for v in learned]))
    fig = Figure(figsize=(12, 4.2), layout="tight")
    ax = fig.subplots()
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    for k, (label, gaps, errors) in enumerate(series):
        ax.bar(x + (k - (len(series) - 1) / 2) * width, gaps, width, yerr=errors, label=label, capsize=2)
    ax.axhline(100 * GOAL_GAP, color="black", linestyle="--", linewidth=1, label=f"goal: {100 * GOAL_GAP:.0f}%")
    ax.set_xticks(x, INSTANCES, rotation=45)
    ax.set_ylabel("average cost above the optimum (%)")
    ax.set_title("Lost-sales test bed (Zipkin 2008): gap to the exact optimum per instance")
    ax.legend(fontsize=8, ncol=len(series) + 1)
    save_figure_atomic(fig, path)


def cbs_agreement(instance: str, episodes: int = 10) -> dict[str, Any]:
    """How often the published PPO policy orders what capped base-stock orders in the same state.

    Plays the ONNX policy on the judged episodes of seeds ``0..episodes-1`` and asks the best
    capped base-stock rule (its parameters from ``exact.json``) for its order in each state
    PPO visits.

    Returns:
        ``{"instance", "episodes", "periods", "same" (share of periods with the same order),
        "differences" (PPO's order minus the rule's, in units -> share of the periods
        where they differ)}``.

    Raises:
        ValueError: for ``episodes < 1``.
        FileNotFoundError: without ``exact.json`` or a published PPO policy.
    """
    import gymnasium as gym

    import warehouse_sim  # noqa: F401 - registers the ids
    from warehouse_sim.operations.baselines import CappedBaseStockRule
    from warehouse_sim.policies.inventory import InventoryRulePolicy
    from warehouse_sim.policies.onnx_policy import OnnxPolicy

    if episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {episodes}")
    folder = RESULTS / instance
    parameters = json.loads((folder / "exact.json").read_text())["capped-base-stock"]["parameters"]
    rule = InventoryRulePolicy(
        CappedBaseStockRule(*(np.asarray(parameters[k]) for k in ("order_up_to", "cap", "price_idx"))), "capped-base-stock"
    )
    ppo = OnnxPolicy(folder / "ppo" / "policy.onnx")
    env = gym.make(ENV_ID, **env_kwargs(instance))
    quantities = np.asarray(env.unwrapped.task.scenario.skus[0].order_quantities)
    orders: list[tuple[int, int]] = []
    try:
        for seed in range(episodes):
            obs, _ = env.reset(seed=seed)
            rule.reset(env)
            done = False
            while not done:
                action = int(np.asarray(ppo.act(obs)).reshape(-1)[0])
                orders.append((int(quantities[action]), int(quantities[int(np.asarray(rule.act(obs)).reshape(-1)[0])])))
                obs, _, terminated, truncated, _ = env.step(action)
                done = terminated or truncated
    finally:
        env.close()
    differ = [a - b for a, b in orders if a != b]
    units, counts = np.unique(differ, return_counts=True)
    return {
        "instance": instance,
        "episodes": episodes,
        "periods": len(orders),
        "same": 1.0 - len(differ) / len(orders),
        "differences": {int(u): float(c) / len(differ) for u, c in zip(units, counts, strict=True)},
    }


def bounds(instances: list[str]) -> list[str]:
    """Optimal costs with the shipped bounds and with on hand up to 40 and orders 0..20 (equal: the bounds do not bind).

    Also the time and peak memory of each solve (the wide L=4 instance is the largest the
    solver is asked for: 7,973,721 states x 21 actions).
    """
    from warehouse_sim.operations import load_scenario
    from warehouse_sim.operations.mdp import SingleSkuMdp

    out = []
    for instance in instances:
        scenario = load_scenario(scenario_name(instance))
        sku = scenario.skus[0]
        wide = dataclasses.replace(
            scenario, skus=(dataclasses.replace(sku, capacity=40, order_quantities=tuple(range(21))),)
        )
        figures = []
        for s in (scenario, wide):
            mdp = SingleSkuMdp(s)
            started = time.perf_counter()
            gain = mdp.solve().gain
            figures.append(
                f"{cost_offset(instance) - gain:.6f} ({mdp.n_states:,} states x {mdp.n_actions} actions, "
                f"{time.perf_counter() - started:.0f} s, peak RSS {_peak_rss_mb():.0f} MB)"
            )
        out.append(f"{instance}: optimal cost {figures[0]}; on hand <= 40 and orders 0..20: {figures[1]}")
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="table", choices=("table", "exact", "train", "publish", "bounds", "plot", "agreement"))
    parser.add_argument("--only", action="append", choices=INSTANCES, help="this instance only (repeatable)")
    parser.add_argument("--algo", choices=ALGOS, default="ppo")
    parser.add_argument("--timesteps", type=int, default=None, help="override the training budget")
    parser.add_argument(
        "--hyperparams", type=Path, default=None,
        help="train, publish: the hyperparameter file of the entry (default training/hyperparams/<algo>-lost-sales.yml)",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed")
    parser.add_argument(
        "--keep-better",
        action="store_true",
        help="train, publish: replace the published policy only if this run did better on the validation seeds",
    )
    parser.add_argument("--episodes", type=int, default=10, help="agreement: judged episodes to play (seeds 0..N-1)")
    parser.add_argument("--out", type=Path, default=RESULTS / "gaps.png", help="plot: the PNG to write")
    parser.add_argument("--run", type=Path, default=None, help="publish: the finished run folder (default runs/lost-sales/<algo>-<instance>)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = _parser()
    args = parser.parse_args(argv)
    instances = args.only or list(INSTANCES)
    if args.command == "table":
        print(table())
        return 0
    if args.command == "plot":
        plot(args.out)
        print(f"wrote {args.out}")
        return 0
    if args.command == "bounds":
        for line in bounds(instances):
            print(line, flush=True)
        return 0
    if args.command == "agreement":
        for instance in instances:
            if not (RESULTS / instance / "ppo" / "policy.onnx").is_file():
                continue
            try:
                found = cbs_agreement(instance, args.episodes)
            except (ValueError, FileNotFoundError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            differences = ", ".join(f"{u:+d}: {share:.1%}" for u, share in found["differences"].items())
            print(f"{instance}: PPO orders as capped base-stock in {found['same']:.1%} of {found['periods']} periods"
                  + (f"; where not, PPO minus the rule ({differences})" if differences else ""), flush=True)
        return 0
    for instance in instances:
        started = time.perf_counter()
        if args.command == "exact":
            result = exact(instance)
            folder = RESULTS / instance
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / "exact.json", json.dumps(result, indent=1) + "\n")
            summary = ", ".join(f"{k} {result[k]['average_cost']:.4f}" for k in ("optimal", *RULES))
        else:
            try:
                if args.command == "publish":
                    run = args.run or RUNS / f"{args.algo}-{instance}"
                    report = publish(instance, args.algo, run, keep_better=args.keep_better, hyperparams=args.hyperparams)
                else:
                    report = train_one(
                        instance, args.algo, timesteps=args.timesteps, seed=args.seed, keep_better=args.keep_better,
                        hyperparams=args.hyperparams,
                    )
            except (ValueError, FileNotFoundError) as exc:  # also RunFolderError: a missing or corrupt run folder
                print(f"error: {exc}", file=sys.stderr)
                return 2
            costs = episode_costs(report, instance)
            summary = f"{args.algo} mean cost {np.mean(costs):.4f} over {len(costs)} episodes"
        print(f"{instance}: {summary} ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
