"""Evaluate any policy (exported ONNX, SB3 model, or classical baseline) on seeded episodes.

Episode ``i`` of an evaluation starts from ``env.reset(seed=seed + i)``, so two
policies evaluated with the same seed face the same episodes (same starts, same
goals, same demand draws up to the policies' own influence). The report holds the
mean, standard error and 95% confidence interval (Student t) of the return and of
every numeric scalar KPI in the episode's final ``info`` (nested dicts such as the
inventory env's ``cumulative`` are flattened to ``"cumulative.profit"``), and, with a
reference policy, the same figures for it and the ratio of the means.

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
from warehouse_sim.policies.base import Policy, PolicySpaceError, check_spaces
from warehouse_sim.policies.registry import make_baseline

#: Keys of ``info`` that are not episode KPIs: wrapper bookkeeping, and the inventory
#: env's ``period`` (the last period's flows; ``cumulative`` holds the episode's).
_NOT_KPIS = frozenset({"TimeLimit.truncated", "terminal_observation", "episode", "_episode", "period"})

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


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


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (``df >= 1``)."""
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959963984540054  # Cornish-Fisher expansion; error < 1e-4 beyond 30 degrees of freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """Mean, sample standard deviation, standard error and 95% t-interval of ``values``.

    With a single value the spread figures are ``None``.
    """
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    mean = float(x.mean()) if n else float("nan")
    if n < 2:
        return {"n": n, "mean": mean, "std": None, "stderr": None, "ci95": None, "min": mean, "max": mean}
    std = float(x.std(ddof=1))
    stderr = std / math.sqrt(n)
    half = t_quantile_975(n - 1) * stderr
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "stderr": stderr,
        "ci95": [mean - half, mean + half],
        "min": float(x.min()),
        "max": float(x.max()),
    }


def load_policy(spec: str, env: gym.Env[Any, Any]) -> Policy:
    """Build the policy named by ``spec`` for ``env`` and check it fits the env's spaces.

    Args:
        spec: ``POLICY.onnx`` (onnxruntime only), ``MODEL.zip`` or a run folder (SB3),
            or ``baseline:NAME`` (see :data:`warehouse_sim.policies.BASELINES`).
        env: The environment it will act in.

    Raises:
        ValueError: for an unknown baseline or an unrecognised spec.
        FileNotFoundError: for a missing file.
        warehouse_sim.policies.PolicySpaceError: if the policy was made for other spaces.
        warehouse_sim.policies.onnx_policy.PolicyLoadError: for a corrupt file.
    """
    if spec.startswith("baseline:"):
        policy = make_baseline(spec.removeprefix("baseline:"), env)
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
        exported = getattr(policy, "metadata", {}).get("env_kwargs")
        hint = f" (it was exported for env kwargs {json.dumps(exported)})" if exported else ""
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
    return {
        "return": summarize([r.episode_return for r in results]),
        "length": summarize([r.length for r in results]),
        "kpis": {name: summarize([r.kpis[name] for r in results]) for name in sorted(names)},
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
        policy: ``POLICY.onnx``, ``MODEL.zip``, a run folder, or ``baseline:NAME``.
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


def format_report(report: Mapping[str, Any]) -> str:
    """A short human-readable summary of an :func:`evaluate` report."""

    def line(name: str, stats: Mapping[str, Any], ratio: float | None = None) -> str:
        text = f"  {name:<28} {stats['mean']:>12.4g}"
        if stats["ci95"] is not None:
            text += f"  ± {stats['stderr']:.3g} (95% CI {stats['ci95'][0]:.4g} .. {stats['ci95'][1]:.4g})"
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
