"""The constructor arguments each algorithm takes from a hyperparameter file, with their valid ranges.

Ranges follow Stable-Baselines3's documentation of ``PPO``, ``DQN`` and sb3-contrib's
``QRDQN`` (a discount in [0, 1], a positive learning rate, a batch of at least one
sample, ...). SB3 itself accepts most out-of-range values and fails (or silently does
nothing useful) much later; here each one is a ``ValueError`` naming the argument before a
run folder exists. No SB3 import: the checks are plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from warehouse_sim._checks import check_int, check_real
from warehouse_sim.policies.sb3_policy import ON_POLICY_ALGOS

Check = Callable[[str, Any], Any]

#: Constant learning rates and clip ranges may instead be ``"lin_<float>"``: a linear decay to 0.
SCHEDULE_PREFIX = "lin_"


def _real(low: float = 0.0, high: float | None = None, *, strict: bool = False, schedule: bool = False) -> Check:
    def check(name: str, value: Any) -> Any:
        if schedule and isinstance(value, str):
            start = parse_schedule(name, value)
            check_real(name, start, low=low, high=high, strict=strict)
            return value
        if isinstance(value, str):
            raise ValueError(f"{name} must be a number{' (or lin_<float> for a schedule)' if schedule else ''}, got {value!r}")
        return check_real(name, value, low=low, high=high, strict=strict)

    return check


def _int(low: int = 1, high: int | None = None, *, also: tuple[int, ...] = ()) -> Check:
    def check(name: str, value: Any) -> Any:
        if value in also and not isinstance(value, bool):
            return value
        return check_int(name, value, low=low, high=high)

    return check


def _optional(inner: Check) -> Check:
    def check(name: str, value: Any) -> Any:
        return None if value is None else inner(name, value)

    return check


def _bool(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _train_freq(name: str, value: Any) -> Any:
    """An int >= 1 (env steps), or ``[n, "step" | "episode"]``."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[1] not in ("step", "episode"):
            raise ValueError(f"{name} must be an integer or [n, step|episode], got {value!r}")
        check_int(name, value[0])
        return value
    return check_int(name, value)


def parse_schedule(name: str, value: str) -> float:
    """The start value of ``"lin_<float>"``.

    Raises:
        ValueError: naming ``name`` if ``value`` is not of that form.
    """
    try:
        if not value.startswith(SCHEDULE_PREFIX):
            raise ValueError
        return float(value[len(SCHEDULE_PREFIX) :])
    except ValueError:
        raise ValueError(f"{name} must be a number (or lin_<float> for a schedule), got {value!r}") from None


_COMMON: dict[str, Check] = {
    "learning_rate": _real(strict=True, high=1.0, schedule=True),
    "gamma": _real(high=1.0),
    "batch_size": _int(high=10**7),
    "max_grad_norm": _real(strict=True, high=1e6),
}

#: Algorithm -> argument name -> check (returns the value or raises ``ValueError`` naming it).
ALGO_ARGS: dict[str, dict[str, Check]] = {
    "ppo": {
        **_COMMON,
        "n_steps": _int(high=10**7),
        "n_epochs": _int(high=10_000),
        "gae_lambda": _real(high=1.0),
        "clip_range": _real(strict=True, high=1.0, schedule=True),
        "clip_range_vf": _optional(_real(strict=True, high=1e6)),
        "normalize_advantage": _bool,
        "ent_coef": _real(high=1.0),
        "vf_coef": _real(high=1e3),
        "use_sde": _bool,
        "sde_sample_freq": _int(low=-1, high=10**7),
        "target_kl": _optional(_real(strict=True, high=1e3)),
    },
    "dqn": {
        **_COMMON,
        "buffer_size": _int(high=10**8),
        "learning_starts": _int(low=0, high=10**9),
        "tau": _real(strict=True, high=1.0),
        "train_freq": _train_freq,
        "gradient_steps": _int(high=10**4, also=(-1,)),
        "n_steps": _int(high=1_000),
        "target_update_interval": _int(high=10**8),
        "exploration_fraction": _real(high=1.0),
        "exploration_initial_eps": _real(high=1.0),
        "exploration_final_eps": _real(high=1.0),
    },
}
ALGO_ARGS["qrdqn"] = {k: v for k, v in ALGO_ARGS["dqn"].items() if k != "n_steps"}
#: MaskablePPO takes PPO's arguments except state-dependent exploration (a Gaussian-only feature).
ALGO_ARGS["ppo_mask"] = {k: v for k, v in ALGO_ARGS["ppo"].items() if k not in ("use_sde", "sde_sample_freq")}


def check_algo_args(algo: str, args: Mapping[str, Any], *, n_envs: int) -> None:
    """Check every constructor argument of ``algo`` in ``args``, and the combinations SB3 asserts on.

    Args:
        algo: ``"ppo"``, ``"dqn"``, ``"qrdqn"`` or ``"ppo_mask"``.
        args: Argument name -> value, as read from a hyperparameter file.
        n_envs: Parallel envs (PPO's rollout is ``n_steps * n_envs`` steps).

    Raises:
        ValueError: naming the first unknown or out-of-range argument.
    """
    allowed = ALGO_ARGS[algo]
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {algo} hyperparameter(s): {', '.join(unknown)}")
    for name, value in args.items():
        allowed[name](name, value)
    if algo in ON_POLICY_ALGOS:
        rollout = int(args.get("n_steps", 2048)) * n_envs
        if rollout < 2:
            raise ValueError(f"n_steps x n_envs must be at least 2 (PPO's rollout), got {rollout}")
        if args.get("normalize_advantage", True) and int(args.get("batch_size", 64)) < 2:
            raise ValueError("batch_size must be at least 2 when normalize_advantage is true (a one-sample advantage has no spread)")
