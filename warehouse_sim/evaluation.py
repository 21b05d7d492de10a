"""Evaluate any policy (exported ONNX, SB3 model, or classical baseline) on seeded episodes.

Episode ``i`` of an evaluation starts from ``env.reset(seed=seed + i)``, so two
policies evaluated with the same seed face the same episodes (same starts, same
goals, same demand draws up to the policies' own influence). The report holds the
mean, standard deviation, standard error and a 95% confidence interval of the mean of
the return, the length and every numeric scalar KPI in the episode's final ``info``
(nested dicts such as the inventory env's ``cumulative`` are flattened to
``"cumulative.profit"``), and, with a reference policy, the same figures for it and the
ratio of the means.

The intervals respect what is possible: a KPI whose every value is 0 or 1 (a success
rate, a proportion) gets the Wilson score interval, inside [0, 1]; every other figure
the percentile bootstrap interval of the mean (:data:`BOOTSTRAP_RESAMPLES` resamples of
the episodes, drawn with a fixed seed so reports are reproducible), which stays inside
the range of the observed values and so inside any bound the figure obeys (no negative
collision count, no fill rate above 1).

Evaluating an ONNX policy imports neither torch nor Stable-Baselines3.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim
from warehouse_sim._checks import check_int
from warehouse_sim._format import plain
from warehouse_sim.policies.base import Policy, PolicySpaceError, check_spaces
from warehouse_sim.policies.registry import make_baseline

#: Policy spec prefix of a PPO model that samples its actions (``sample:MODEL.zip``; see :func:`load_policy`).
SAMPLE_PREFIX = "sample:"
#: Keys of ``info`` that are not episode KPIs: wrapper bookkeeping, and the inventory
#: env's ``period`` (the last period's flows; ``cumulative`` holds the episode's).
_NOT_KPIS = frozenset({"TimeLimit.truncated", "terminal_observation", "episode", "_episode", "period"})

#: Percentile bootstrap of a mean: resamples, and the seed of their fixed draw.
BOOTSTRAP_RESAMPLES = 4_000
BOOTSTRAP_SEED = 0
#: Two-sided 95% normal quantile (Wilson interval).
_Z95 = 1.959963984540054


@dataclass
class EpisodeResult:
    """One evaluated episode.

    Attributes:
        seed: The ``reset`` seed.
        episode_return: Sum of rewards.
        length: Number of steps.
        kpis: Numeric scalars of the final ``info`` (see :func:`kpi_scalars`).
        trace: Per-step records ``{"step", "reward", "action", "info"}`` when asked for.
    """

    seed: int
    episode_return: float
    length: int
    kpis: dict[str, float]
    trace: list[dict[str, Any]] | None = field(default=None, repr=False)


def kpi_scalars(info: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Every finite numeric scalar of ``info`` (bools as 0/1), nested dicts flattened with dots."""
    out: dict[str, float] = {}
    for key, value in info.items():
        if key in _NOT_KPIS or str(key).startswith("_"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(kpi_scalars(value, prefix=f"{name}."))
        elif isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)) or (
            isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biuf"
        ):
            number = float(value)
            if math.isfinite(number):
                out[name] = number
    return out


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion ``successes / n`` (within [0, 1])."""
    p = successes / n
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_indices(n: int) -> np.ndarray:
    """The resampled episode indices shared by every figure of a report: ``int64[BOOTSTRAP_RESAMPLES, n]``."""
    return np.random.default_rng(BOOTSTRAP_SEED).integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))


def summarize(values: Sequence[float], *, resamples: np.ndarray | None = None) -> dict[str, Any]:
    """Mean, sample standard deviation, standard error and 95% interval of the mean of ``values``.

    Args:
        values: One value per episode.
        resamples: Bootstrap indices (:func:`bootstrap_indices`); drawn afresh (same
            fixed seed) when ``None``.

    Returns:
        ``{"n", "mean", "std", "stderr", "ci95", "ci95_method", "min", "max"}``;
        ``ci95_method`` is ``"wilson"`` (all values 0 or 1) or ``"bootstrap"``. With a
        single value the spread figures are ``None``.
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "stderr": None, "ci95": None, "ci95_method": None, "min": mean, "max": mean}
    std = float(x.std(ddof=1))
    if np.isin(x, (0.0, 1.0)).all():
        low, high, method = *wilson_interval(float(x.sum()), n), "wilson"
    else:
        means = x[resamples if resamples is not None else bootstrap_indices(n)].mean(axis=1)
        low, high = (float(q) for q in np.percentile(means, [2.5, 97.5]))
        method = "bootstrap"
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "stderr": std / math.sqrt(n),
        "ci95": [low, high],
        "ci95_method": method,
        "min": float(x.min()),
        "max": float(x.max()),
    }


def load_policy(spec: str, env: gym.Env[Any, Any]) -> Policy:
    """Build the policy named by ``spec`` for ``env`` and check it fits the env's spaces.

    Args:
        spec: ``POLICY.onnx`` (onnxruntime only), ``MODEL.zip`` or a run folder (SB3),
            ``sample:MODEL.zip`` or ``sample:RUN`` (a PPO model drawing its actions from its
            distribution, seeded per episode: see :class:`~warehouse_sim.policies.sb3_policy.SB3Policy`),
            or ``baseline:NAME`` (see :data:`warehouse_sim.policies.BASELINES`).
        env: The environment it will act in.

    Raises:
        ValueError: for an unknown baseline, an unrecognised spec, or ``sample:`` with
            anything but a PPO or MaskablePPO model.
        FileNotFoundError: for a missing file.
        warehouse_sim.policies.PolicySpaceError: if the policy was made for other spaces.
        warehouse_sim.policies.onnx_policy.PolicyLoadError: for a corrupt file.
    """
    if spec.startswith("baseline:"):
        policy = make_baseline(spec.removeprefix("baseline:"), env)
    elif spec.startswith(SAMPLE_PREFIX):
        path = Path(spec.removeprefix(SAMPLE_PREFIX))
        if not (path.suffix == ".zip" or path.is_dir()):
            raise ValueError(f"{SAMPLE_PREFIX} takes an SB3 PPO model (MODEL.zip or a run folder), got {path}"
                             + (" (an ONNX export holds only the deterministic action)" if path.suffix == ".onnx" else ""))
        from warehouse_sim.policies.sb3_policy import SB3Policy

        policy = SB3Policy.load(path, sample=True)
    else:
        path = Path(spec)
        if path.suffix == ".onnx":
            from warehouse_sim.policies.onnx_policy import OnnxPolicy

            policy = OnnxPolicy(path)
        elif path.suffix == ".zip" or path.is_dir():
            from warehouse_sim.policies.sb3_policy import SB3Policy

            policy = SB3Policy.load(path)
        elif not path.exists():
            raise FileNotFoundError(f"policy not found: {spec} (expected POLICY.onnx, MODEL.zip or baseline:NAME)")
        else:
            raise ValueError(f"cannot tell what kind of policy {spec} is (expected POLICY.onnx, MODEL.zip or baseline:NAME)")
    try:
        check_spaces(policy, env)
    except PolicySpaceError as exc:
        metadata = getattr(policy, "metadata", {})
        hint = ""
        if "env_id" in metadata:
            kwargs = metadata.get("env_kwargs") or {}
            hint = f" (it was exported for {metadata['env_id']}" + (f" with env kwargs {json.dumps(kwargs)})" if kwargs else ")")
        raise PolicySpaceError(f"{exc}{hint}") from None
    return policy


def run_episode(
    env: gym.Env[Any, Any],
    policy: Policy,
    seed: int,
    *,
    trace: bool = False,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> EpisodeResult:
    """Run one episode from ``env.reset(seed=seed)`` until it terminates or is truncated.

    Args:
        env: The environment (its time limit must end every episode).
        policy: Reset with the env after ``env.reset``, then asked for each action.
        seed: The reset seed.
        trace: Keep a per-step record (reward, action, info) in the result.
        on_step: Called with each per-step record (e.g. to draw a live view).
    """
    obs, info = env.reset(seed=seed)
    policy.reset(env)
    records: list[dict[str, Any]] = []
    total, steps, done = 0.0, 0, False
    while not done:
        action = policy.act(obs)
        obs, reward, terminated, truncated, info = env.step(action)
        total += float(reward)
        steps += 1
        done = terminated or truncated
        if trace or on_step is not None:
            record = {"step": steps, "reward": float(reward), "action": np.copy(action), "info": info}
            if trace:
                records.append(record)
            if on_step is not None:
                on_step(record)
    return EpisodeResult(seed, total, steps, kpi_scalars(info), records if trace else None)


def run_episodes(
    env: gym.Env[Any, Any], policy: Policy, *, episodes: int, seed: int = 0
) -> list[EpisodeResult]:
    """Run ``episodes`` episodes from seeds ``seed, seed + 1, ...``."""
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    return [run_episode(env, policy, seed + i) for i in range(episodes)]


def summarize_episodes(results: Sequence[EpisodeResult]) -> dict[str, Any]:
    """Statistics of the return, the length and every KPI present in all ``results``."""
    names = set(results[0].kpis)
    for result in results[1:]:
        names &= set(result.kpis)
    resamples = bootstrap_indices(len(results))
    return {
        "return": summarize([r.episode_return for r in results], resamples=resamples),
        "length": summarize([r.length for r in results], resamples=resamples),
        "kpis": {name: summarize([r.kpis[name] for r in results], resamples=resamples) for name in sorted(names)},
        "returns": [r.episode_return for r in results],
    }


def ratios(summary: Mapping[str, Any], reference: Mapping[str, Any]) -> dict[str, float | None]:
    """Ratio of the means (policy / reference) of the return and of each shared KPI.

    ``None`` where the reference mean is zero.
    """
    pairs = {"return": (summary["return"]["mean"], reference["return"]["mean"])}
    for name, stats in summary["kpis"].items():
        if name in reference["kpis"]:
            pairs[name] = (stats["mean"], reference["kpis"][name]["mean"])
    return {name: (a / b if b != 0 else None) for name, (a, b) in pairs.items()}


def evaluate(
    env_id: str,
    policy: str,
    *,
    env_kwargs: Mapping[str, Any] | None = None,
    episodes: int = 10,
    seed: int = 0,
    against: str | None = None,
    jobs: int = 1,
) -> dict[str, Any]:
    """Evaluate the policy ``policy`` (see :func:`load_policy`) and return the JSON report.

    Args:
        env_id: Gymnasium id.
        policy: ``POLICY.onnx``, ``MODEL.zip``, a run folder, ``sample:MODEL.zip``, or ``baseline:NAME``.
        env_kwargs: Keyword arguments of ``gym.make``.
        episodes: Number of episodes, from seeds ``seed, seed + 1, ...``.
        seed: The first seed.
        against: A reference policy spec (e.g. ``"baseline:optimal"``), evaluated on the
            same seeds; adds its figures and the ratios of the means.
        jobs: Worker processes the episodes are spread over (1: this process). Each
            worker episode builds its policy afresh, so the report equals the serial one
            for every policy whose actions depend only on the episode (all but
            ``baseline:random``, whose generator runs on across serial episodes).

    Returns:
        ``{"env_id", "env_kwargs", "policy", "episodes", "seeds", "return", "length",
        "kpis", "returns", ["against", "ratio"], "warehouse_sim_version"}``; each statistic
        is ``{"n", "mean", "std", "stderr", "ci95", "min", "max"}``.

    Raises:
        ValueError, FileNotFoundError, PolicySpaceError, PolicyLoadError: see
            :func:`load_policy`; all are raised before any episode runs.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    check_int("jobs", jobs)
    kwargs = dict(env_kwargs or {})
    env = gym.make(env_id, **kwargs)
    try:
        main = load_policy(policy, env)
        reference = load_policy(against, env) if against is not None else None
        if jobs > 1:
            env.close()
            return _evaluate_parallel(env_id, policy, kwargs, episodes=episodes, seed=seed, against=against, jobs=jobs)
        return evaluate_loaded(
            env,
            main,
            name=policy,
            env_kwargs=kwargs,
            episodes=episodes,
            seed=seed,
            reference=(against, reference) if against is not None and reference is not None else None,
        )
    finally:
        env.close()


def evaluate_loaded(
    env: gym.Env[Any, Any],
    policy: Policy,
    *,
    name: str,
    env_kwargs: Mapping[str, Any],
    episodes: int,
    seed: int = 0,
    reference: tuple[str, Policy] | None = None,
) -> dict[str, Any]:
    """:func:`evaluate` for a policy already built (e.g. a model being trained).

    Args:
        env: The environment, made with ``env_kwargs``.
        policy: The policy, already checked against the env's spaces.
        name: How the report names the policy.
        env_kwargs: Recorded in the report.
        episodes: Number of episodes, from seeds ``seed, seed + 1, ...``.
        seed: The first seed.
        reference: ``(name, policy)`` of a reference evaluated on the same seeds.
    """
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    results = run_episodes(env, policy, episodes=episodes, seed=seed)
    ref_results = None
    if reference is not None:
        ref_results = (reference[0], run_episodes(env, reference[1], episodes=episodes, seed=seed))
    return _report(env_id, env_kwargs, name, seed, results, ref_results)


def _report(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    name: str,
    seed: int,
    results: Sequence[EpisodeResult],
    reference: tuple[str, Sequence[EpisodeResult]] | None,
) -> dict[str, Any]:
    """The JSON report of :func:`evaluate` from the episodes' results."""
    report: dict[str, Any] = {
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs),
        "policy": name,
        "episodes": len(results),
        "seeds": [seed, seed + len(results) - 1],
        **summarize_episodes(results),
    }
    if reference is not None:
        ref_summary = summarize_episodes(reference[1])
        report["against"] = {"policy": reference[0], **ref_summary}
        report["ratio"] = ratios(report, ref_summary)
    report["warehouse_sim_version"] = warehouse_sim.__version__
    return report


def find_report(
    folder: str | Path, env_id: str, policy: str, *, env_kwargs: Mapping[str, Any], episodes: int, seed: int
) -> dict[str, Any] | None:
    """A report of :func:`evaluate` saved in ``folder`` (``*.json``) for exactly this evaluation, or ``None``.

    An evaluation is the same when the env id, the env kwargs, the policy spec and the
    seeds (``seed .. seed + episodes - 1``) are; files that are not such reports are
    skipped. Scripts use it to reuse costly evaluations (a physics Fulfilment-v0 shift
    takes minutes) rather than running them again.
    """
    wanted = {"env_id": env_id, "policy": policy, "env_kwargs": dict(env_kwargs), "seeds": [seed, seed + episodes - 1]}
    for file in sorted(Path(folder).glob("*.json")):
        try:
            report = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(report, dict) and all(report.get(key) == value for key, value in wanted.items()):
            return report
    return None


def _episode_worker(env_id: str, env_kwargs: Mapping[str, Any], spec: str, seed: int) -> EpisodeResult:
    """One episode of ``spec`` in a fresh env (a worker process of :func:`evaluate`)."""
    import warehouse_sim  # noqa: F401 - registers the ids in a fresh worker

    env = gym.make(env_id, **dict(env_kwargs))
    try:
        return run_episode(env, load_policy(spec, env), seed)
    finally:
        env.close()


def _evaluate_parallel(
    env_id: str, policy: str, env_kwargs: Mapping[str, Any], *, episodes: int, seed: int, against: str | None, jobs: int
) -> dict[str, Any]:
    """:func:`evaluate` with the episodes (of the policy and the reference) spread over ``jobs`` processes."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    specs = [policy] if against is None else [policy, against]
    tasks = [(spec, seed + i) for spec in specs for i in range(episodes)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        done = list(pool.map(_episode_worker, *zip(*[(env_id, dict(env_kwargs), spec, s) for spec, s in tasks], strict=False)))
    results = done[:episodes]
    reference = (against, done[episodes:]) if against is not None else None
    return _report(env_id, env_kwargs, policy, seed, results, reference)


def trace_episode(
    env_id: str, policy: str, *, env_kwargs: Mapping[str, Any] | None = None, seed: int = 0
) -> tuple[EpisodeResult, gym.Env[Any, Any]]:
    """Run one traced episode and return it with the (still open) env, for plotting.

    Envs with an ``agent_pose`` (navigation) also record it in each step's ``"pose"``.
    The caller closes the env.
    """
    env = gym.make(env_id, **dict(env_kwargs or {}))
    base: Any = env.unwrapped

    def add_pose(record: dict[str, Any]) -> None:
        record["pose"] = tuple(base.agent_pose)

    try:
        result = run_episode(
            env, load_policy(policy, env), seed, trace=True, on_step=add_pose if hasattr(base, "agent_pose") else None
        )
    except BaseException:
        env.close()
        raise
    return result, env


def target_verdict(report: Mapping[str, Any], target: Mapping[str, float]) -> dict[str, Any]:
    """Whether a report with a reference (``against``) meets ``target``.

    Args:
        report: An :func:`evaluate` report with ``"against"``.
        target: KPI name -> the smallest acceptable ratio of the policy's mean to the
            reference's (the policy must reach ``ratio x`` the reference's mean).

    Returns:
        ``{"met": bool, "kpis": {name: {"policy", "baseline", "min_ratio", "met"}}}``;
        a KPI missing from either side is not met.
    """
    kpis: dict[str, Any] = {}
    for name, min_ratio in target.items():
        policy = report["kpis"].get(name, {}).get("mean")
        baseline = report["against"]["kpis"].get(name, {}).get("mean")
        met = policy is not None and baseline is not None and policy >= min_ratio * baseline
        kpis[name] = {"policy": policy, "baseline": baseline, "min_ratio": min_ratio, "met": met}
    return {"met": all(k["met"] for k in kpis.values()), "kpis": kpis}


def format_report(report: Mapping[str, Any]) -> str:
    """A short human-readable summary of an :func:`evaluate` report (plain numbers, no exponents)."""

    def line(name: str, stats: Mapping[str, Any], ratio: float | None = None) -> str:
        text = f"  {name:<28} {plain(stats['mean']):>12}"
        if stats["ci95"] is not None:
            low, high = stats["ci95"]
            text += f"  ± {plain(stats['stderr'], 3)} (95% CI {plain(low)} .. {plain(high)})"
        if ratio is not None:
            text += f"  ratio {ratio:.3f}"
        return text

    ratio = report.get("ratio", {})
    lines = [f"{report['policy']} on {report['env_id']}: {report['episodes']} episodes, seeds {report['seeds'][0]}..{report['seeds'][1]}"]
    lines.append(line("return", report["return"], ratio.get("return")))
    lines.append(line("length", report["length"]))
    lines += [line(name, stats, ratio.get(name)) for name, stats in report["kpis"].items()]
    if "against" in report:
        lines.append(f"reference {report['against']['policy']}:")
        lines.append(line("return", report["against"]["return"]))
        lines += [line(name, stats) for name, stats in report["against"]["kpis"].items()]
    return "\n".join(lines)
