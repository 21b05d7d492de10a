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

An env built with ``fidelity="fast"`` (Fulfilment-v0) has no physics to compare with;
its reference is the same env with ``fidelity="physics"``: both envs are reset with the
same seeds and given the same actions, their steps interleaved, and the report adds the
physics rate and the speed-up (physics step time / fast step time).

Env steps are timed through ``gym.make`` (its wrappers included) with random actions from
the action space seeded with ``seed``, headless (``render_mode=None``), resetting when an
episode ends (reset time excluded from the step rate). Each env step is followed by one
timed ``bare_physics_step`` on the scene that step left, so both see the same states
(motion, contacts) and the same machine load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim._format import plain
from warehouse_sim.provenance import versions

#: Env steps ``bench`` times by default: about a minute or less per env on a 2-core machine
#: (the bare physics is timed for as many steps, interleaved).
DEFAULT_STEPS: dict[str, int] = {
    "warehouse_sim/Navigation-v0": 3_000,
    "warehouse_sim/Picking-v0": 2_000,
    "warehouse_sim/Inventory-v0": 20_000,
    "warehouse_sim/Fulfilment-v0": 10,
    "warehouse_sim/FleetDispatch-v0": 2_000,
}
#: Default for envs not listed above.
FALLBACK_STEPS = 1_000


def default_steps(env_id: str) -> int:
    """The default number of env steps ``bench`` times for ``env_id`` (see :data:`DEFAULT_STEPS`)."""
    return DEFAULT_STEPS.get(env_id, FALLBACK_STEPS)


def run_bench(
    env_id: str,
    *,
    env_kwargs: dict[str, Any] | None = None,
    steps: int | None = None,
    seed: int = 0,
    progress: Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Time ``env.step`` and the bare physics of the same scene.

    Args:
        env_id: A registered environment id.
        env_kwargs: Constructor keyword arguments.
        steps: Env steps to time (>= 1; default :func:`default_steps`); the bare physics
            is timed for as many steps.
        seed: Seed of the env resets and of the random actions.
        progress: Called with 1 after each timed step (e.g. a progress bar's ``update``).

    Returns:
        A JSON-ready dict: ``env_id``, ``env_kwargs``, ``steps``, ``steps_per_s``,
        ``bare_physics_steps_per_s`` (or None), ``overhead_ratio`` (env time / bare
        time, or None), ``sim_seconds_per_wall_second`` (or None), ``reset_ms``
        (median), ``versions``; for a fast-fidelity env also
        ``physics_fidelity_steps_per_s`` and ``fidelity_speedup`` (else None).

    Raises:
        ValueError: for ``steps < 1``.
    """
    steps = default_steps(env_id) if steps is None else steps
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    env = gym.make(env_id, **(env_kwargs or {}))
    physics: gym.Env[Any, Any] | None = None
    try:
        if getattr(env.unwrapped, "fidelity", None) == "fast":
            physics = gym.make(env_id, **{**(env_kwargs or {}), "fidelity": "physics"})
            physics.reset(seed=seed)
        env.action_space.seed(seed)
        actions = [env.action_space.sample() for _ in range(steps)]
        reset_times = []
        t0 = time.perf_counter()
        env.reset(seed=seed)
        reset_times.append(time.perf_counter() - t0)
        base: Any = env.unwrapped
        bare = base.bare_physics_step if getattr(base, "has_physics", False) else None
        env_time, bare_time, physics_time = 0.0, 0.0, 0.0
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
            if physics is not None:  # interleaved: the same action on the physics fidelity
                t0 = perf()
                _, _, done, cut, _ = physics.step(action)
                physics_time += perf() - t0
                if done or cut:
                    physics.reset()
            if terminated or truncated:
                t0 = perf()
                env.reset()
                reset_times.append(perf() - t0)
            if progress is not None:
                progress(1)
        for _ in range(max(0, 20 - len(reset_times))):
            t0 = perf()
            env.reset()
            reset_times.append(perf() - t0)
        sim_dt = getattr(env.unwrapped, "sim_seconds_per_step", None)
    finally:
        env.close()
        if physics is not None:
            physics.close()
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
        "physics_fidelity_steps_per_s": steps / physics_time if physics_time else None,
        "fidelity_speedup": physics_time / env_time if physics_time else None,
        "versions": versions("numpy", "gymnasium", "pybullet"),
    }


def format_bench(result: dict[str, Any]) -> str:
    """One human-readable paragraph for a :func:`run_bench` result (four significant figures)."""
    lines = [f"{result['env_id']}  {result['env_kwargs'] or ''}".rstrip() + f"  ({result['steps']:,} steps)"]
    lines.append(f"  env steps/s:           {plain(result['steps_per_s'])}")
    if result["bare_physics_steps_per_s"] is not None:
        lines.append(f"  bare physics steps/s:  {plain(result['bare_physics_steps_per_s'])}")
        lines.append(f"  overhead ratio:        {result['overhead_ratio']:.3f}  (env step time / bare physics time)")
    else:
        lines.append("  bare physics:          n/a (no physics)")
    if result.get("fidelity_speedup") is not None:
        lines.append(f"  physics fidelity:      {plain(result['physics_fidelity_steps_per_s'])} steps/s (same seeds and actions)")
        lines.append(f"  fast / physics speed:  {result['fidelity_speedup']:.1f}x")
    if result["sim_seconds_per_wall_second"] is not None:
        lines.append(f"  sim s per wall s:      {plain(result['sim_seconds_per_wall_second'])}")
    lines.append(f"  reset (median):        {plain(result['reset_ms'])} ms")
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
