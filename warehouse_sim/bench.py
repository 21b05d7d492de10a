"""Environment throughput and its overhead over the bare physics of the same scene.

Protocol for physics envs: the unwrapped env has ``has_physics = True`` and
``bare_physics_step(self) -> None`` (:class:`warehouse_sim.envs.core.WarehouseEnv`) that
performs exactly the PyBullet work of one ``env.step`` (the same velocity writes and
state reads, the same number of ``stepSimulation`` substeps, the same contact queries and
the same ``rayTestBatch``) with precomputed arguments and no env, task or wrapper code.
The overhead ratio is then ``time(env.step) / time(bare_physics_step)``, both measured in
one process on the same scene, so machine noise mostly cancels. Envs without physics
report ``None`` for the bare rate and the ratio. Envs that
expose ``sim_seconds_per_step`` (simulated seconds one step advances) also get the
simulation speed in simulated seconds per wall second.

Env steps are timed through ``gym.make`` (its wrappers included) with random actions from
the action space seeded with ``seed``, headless (``render_mode=None``), resetting when an
episode ends (reset time excluded from the step rate). Each env step is followed by one
timed ``bare_physics_step`` on the scene that step left, so both see the same states
(motion, contacts) and the same machine load.
"""

from __future__ import annotations

import platform
import time
from importlib import metadata
from typing import Any

import gymnasium as gym
import numpy as np

import warehouse_sim


def _versions() -> dict[str, str]:
    out = {"warehouse_sim": warehouse_sim.__version__, "python": platform.python_version()}
    for pkg in ("numpy", "gymnasium", "pybullet"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def run_bench(env_id: str, *, env_kwargs: dict[str, Any] | None = None, steps: int = 5_000, seed: int = 0) -> dict[str, Any]:
    """Time ``env.step`` and the bare physics of the same scene.

    Args:
        env_id: A registered environment id.
        env_kwargs: Constructor keyword arguments.
        steps: Env steps to time (>= 10); the bare physics is timed for as many steps.
        seed: Seed of the env resets and of the random actions.

    Returns:
        A JSON-ready dict: ``env_id``, ``env_kwargs``, ``steps``, ``steps_per_s``,
        ``bare_physics_steps_per_s`` (or None), ``overhead_ratio`` (env time / bare
        time, or None), ``sim_seconds_per_wall_second`` (or None), ``reset_ms``
        (median), ``versions``.

    Raises:
        ValueError: for ``steps < 10``.
    """
    if steps < 10:
        raise ValueError(f"steps must be >= 10, got {steps}")
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        env.action_space.seed(seed)
        actions = [env.action_space.sample() for _ in range(steps)]
        reset_times = []
        t0 = time.perf_counter()
        env.reset(seed=seed)
        reset_times.append(time.perf_counter() - t0)
        base: Any = env.unwrapped
        bare = base.bare_physics_step if getattr(base, "has_physics", False) else None
        env_time, bare_time = 0.0, 0.0
        perf = time.perf_counter
        step = env.step
        for action in actions:
            t0 = perf()
            _, _, terminated, truncated, _ = step(action)
            env_time += perf() - t0
            if bare is not None:  # interleaved: the bare work runs on the same scene states
                t0 = perf()
                bare()
                bare_time += perf() - t0
            if terminated or truncated:
                t0 = perf()
                env.reset()
                reset_times.append(perf() - t0)
        for _ in range(max(0, 20 - len(reset_times))):
            t0 = perf()
            env.reset()
            reset_times.append(perf() - t0)
        sim_dt = getattr(env.unwrapped, "sim_seconds_per_step", None)
    finally:
        env.close()
    steps_per_s = steps / env_time
    return {
        "env_id": env_id,
        "env_kwargs": dict(env_kwargs or {}),
        "steps": steps,
        "steps_per_s": steps_per_s,
        "bare_physics_steps_per_s": steps / bare_time if bare_time else None,
        "overhead_ratio": env_time / bare_time if bare_time else None,
        "sim_seconds_per_wall_second": steps_per_s * sim_dt if sim_dt else None,
        "reset_ms": float(np.median(reset_times) * 1e3),
        "versions": _versions(),
    }


def format_bench(result: dict[str, Any]) -> str:
    """One human-readable paragraph for a :func:`run_bench` result."""
    lines = [f"{result['env_id']}  {result['env_kwargs'] or ''}".rstrip()]
    lines.append(f"  env steps/s:           {result['steps_per_s']:,.0f}")
    if result["bare_physics_steps_per_s"] is not None:
        lines.append(f"  bare physics steps/s:  {result['bare_physics_steps_per_s']:,.0f}")
        lines.append(f"  overhead ratio:        {result['overhead_ratio']:.3f}  (env step time / bare physics time)")
    else:
        lines.append("  bare physics:          n/a (no physics)")
    if result["sim_seconds_per_wall_second"] is not None:
        lines.append(f"  sim s per wall s:      {result['sim_seconds_per_wall_second']:,.0f}")
    lines.append(f"  reset (median):        {result['reset_ms']:.3f} ms")
    return "\n".join(lines)


def reset_memory(env_id: str, *, env_kwargs: dict[str, Any] | None = None, resets: int = 1_000, seed: int = 0) -> dict[str, float]:
    """Resident memory before and after ``resets`` resets of one env (Linux ``/proc``).

    Returns:
        ``{"rss_before_mb", "rss_after_mb", "growth_mb", "reset_ms"}`` (mean reset time).
    """
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        env.reset(seed=seed)
        for _ in range(20):  # warm caches (goal fields, allocator pools) first
            env.reset()
        before = _rss_mb()
        t0 = time.perf_counter()
        for _ in range(resets):
            env.reset()
        elapsed = time.perf_counter() - t0
        after = _rss_mb()
    finally:
        env.close()
    return {"rss_before_mb": before, "rss_after_mb": after, "growth_mb": after - before, "reset_ms": elapsed / resets * 1e3}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import resource

    return pages * resource.getpagesize() / 2**20
