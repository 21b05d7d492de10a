"""Typed training configuration, loaded from rl-baselines3-zoo-shaped YAML files.

``training/hyperparams/<algo>.yml`` holds one entry per environment id::

    warehouse_sim/Navigation-v0:
      n_timesteps: 300_000        # write 1_000_000, not 1e6 (YAML reads 1e6 as a string)
      policy: MlpPolicy
      n_envs: 8
      normalize: true             # or {norm_obs: true, norm_reward: false, clip_obs: 10.0}
      env_kwargs: {continuous: false}
      policy_kwargs: {net_arch: [64, 64], activation_fn: tanh}
      learning_rate: lin_3.0e-4   # a float, or "lin_<float>" for a linear decay to 0
      n_steps: 256                # ... any constructor argument of the algorithm

The file is read with ``yaml.safe_load`` and every key is checked against a fixed
list, so nothing in it is ever evaluated as code (the zoo's ``policy_kwargs:
"dict(...)"`` strings become plain YAML mappings here).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from warehouse_sim._checks import check_int, check_real
from warehouse_sim._yaml import read_yaml
from warehouse_sim.policies.sb3_policy import ON_POLICY_ALGOS
from warehouse_sim.training.algo_args import check_algo_args
from warehouse_sim.training.ray_cluster import RayEnvConfig
from warehouse_sim.training.shaping import REWARD_SHAPINGS
from warehouse_sim.training.warm_start import WarmStartConfig

Algo = Literal["ppo", "dqn", "qrdqn", "ppo_mask"]
VecEnvKind = Literal["auto", "subproc", "dummy", "ray"]

ALGOS: tuple[str, ...] = get_args(Algo)
_Settings = TypeVar("_Settings")
#: SB3 policy names (the observation space decides which one fits; checked when the run starts).
POLICIES: tuple[str, ...] = ("MlpPolicy", "CnnPolicy", "MultiInputPolicy")

#: Keys of ``policy_kwargs``.
_POLICY_KWARGS = frozenset({"net_arch", "activation_fn", "ortho_init", "log_std_init", "n_quantiles"})
#: ``policy_kwargs.activation_fn`` names -> the ``torch.nn`` class they stand for (see :func:`activation_class`).
ACTIVATIONS: dict[str, str] = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU"}


def activation_class(name: str) -> type[Any]:
    """The ``torch.nn`` module class of an activation name in :data:`ACTIVATIONS` (imports torch)."""
    import torch

    return getattr(torch.nn, ACTIVATIONS[name])


#: Keys of an entry that are not algorithm constructor arguments.
_RUN_KEYS = frozenset(
    {
        "n_timesteps", "policy", "n_envs", "normalize", "env_kwargs", "policy_kwargs", "vec_env",
        "eval_freq", "n_eval_episodes", "checkpoint_freq", "final_eval_episodes", "torch_threads", "warm_start",
        "reward_shaping", "eval_seed", "keep_best", "against", "target", "ray",
    }
)  # fmt: skip


@dataclass(frozen=True)
class NormalizeConfig:
    """``VecNormalize`` settings (observation normalisation is folded into ONNX exports).

    Attributes:
        norm_obs: Normalise observations by running mean and variance.
        norm_reward: Scale rewards by the running standard deviation of the return.
        clip_obs: Clip normalised observations to ``[-clip_obs, clip_obs]``.
        clip_reward: Clip scaled rewards to ``[-clip_reward, clip_reward]``.
    """

    norm_obs: bool = True
    norm_reward: bool = False
    clip_obs: float = 10.0
    clip_reward: float = 10.0

    def __post_init__(self) -> None:
        if not self.clip_obs > 0:
            raise ValueError(f"normalize.clip_obs must be positive, got {self.clip_obs!r}")
        if not self.clip_reward > 0:
            raise ValueError(f"normalize.clip_reward must be positive, got {self.clip_reward!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run except its seed and output folder.

    Attributes:
        env_id: Gymnasium id, e.g. ``"warehouse_sim/Navigation-v0"``.
        algo: ``"ppo"``, ``"dqn"``, ``"qrdqn"`` (sb3-contrib's quantile-regression DQN) or
            ``"ppo_mask"`` (sb3-contrib's ``MaskablePPO``, for envs with ``action_masks()``).
        n_timesteps: Total environment steps (summed over the parallel envs).
        n_envs: Parallel environments.
        vec_env: ``"subproc"`` (one process per env), ``"dummy"`` (all in this process),
            ``"ray"`` (envs in Ray actors, on a cluster:
            :mod:`~warehouse_sim.training.ray_vec_env`), or ``"auto"``: dummy for one env
            or on a machine with at most two cores, subproc otherwise.
        policy: SB3 policy name.
        normalize: ``VecNormalize`` settings, or ``None`` for raw observations.
        env_kwargs: Keyword arguments of ``gym.make``.
        policy_kwargs: ``net_arch``, ``activation_fn`` (a name from :data:`ACTIVATIONS`),
            ``ortho_init``, ``log_std_init``, ``n_quantiles``.
        algo_kwargs: Constructor arguments of the algorithm (learning rate, batch size, ...).
        eval_freq: Evaluate every this many timesteps (0: never during training).
        n_eval_episodes: Episodes per periodic evaluation.
        eval_seed: Seed of the first periodic-evaluation episode (``eval_seed``,
            ``eval_seed + 1``, ...). With ``keep_best`` these are validation episodes:
            keep them disjoint from the seeds the final model is judged on.
        keep_best: The run's model is the periodically evaluated one with the best mean
            return (a warm-started run's start included) rather than the last one, like
            SB3's ``EvalCallback(best_model_save_path=...)``. Needs ``eval_freq > 0``.
        checkpoint_freq: Save a checkpoint every this many timesteps (0: never).
        final_eval_episodes: Episodes of the evaluation written to ``eval.json``.
        torch_threads: Threads torch may use (one is fastest on a shared CPU).
        warm_start: PPO and MaskablePPO only: imitate a baseline before training
            (:class:`~warehouse_sim.training.warm_start.WarmStartConfig`), or ``None``.
        reward_shaping: A shaping of the training reward (a name from
            :data:`~warehouse_sim.training.shaping.REWARD_SHAPINGS`), or ``None``.
            Monitor files and evaluations keep the env's own reward.
        against: A baseline name (``baseline:NAME`` on the command line) evaluated on
            the final evaluation's seeds; ``eval.json`` then holds its figures and the
            ratios of the means, and the command line judges the run against it.
        target: KPI name -> the smallest acceptable ratio of the policy's mean to the
            ``against`` baseline's (e.g. ``{is_success: 0.9}``); ``eval.json`` says
            whether the run met it.
        ray: With ``vec_env: ray``: envs per actor, CPUs per actor, restarts
            (:class:`~warehouse_sim.training.ray_cluster.RayEnvConfig`); ``None``: its defaults.
    """

    env_id: str
    algo: Algo
    n_timesteps: int
    n_envs: int = 1
    vec_env: VecEnvKind = "auto"
    policy: str = "MlpPolicy"
    normalize: NormalizeConfig | None = None
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    policy_kwargs: Mapping[str, Any] = field(default_factory=dict)
    algo_kwargs: Mapping[str, Any] = field(default_factory=dict)
    eval_freq: int = 10_000
    n_eval_episodes: int = 10
    eval_seed: int = 0
    keep_best: bool = False
    checkpoint_freq: int = 10_000
    final_eval_episodes: int = 20
    torch_threads: int = 1
    warm_start: WarmStartConfig | None = None
    reward_shaping: str | None = None
    against: str | None = None
    target: Mapping[str, float] = field(default_factory=dict)
    ray: RayEnvConfig | None = None

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise ValueError(f"algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        for name in ("n_timesteps", "n_envs", "n_eval_episodes", "final_eval_episodes", "torch_threads"):
            check_int(name, getattr(self, name))
        for name in ("eval_freq", "checkpoint_freq", "eval_seed"):
            check_int(name, getattr(self, name), low=0)
        if not isinstance(self.keep_best, bool):
            raise ValueError(f"keep_best must be true or false, got {self.keep_best!r}")
        if self.keep_best and self.eval_freq == 0:
            raise ValueError("keep_best needs periodic evaluations (eval_freq > 0)")
        if self.vec_env not in get_args(VecEnvKind):
            raise ValueError(f"vec_env must be one of {', '.join(get_args(VecEnvKind))}, got {self.vec_env!r}")
        if not isinstance(self.env_kwargs, Mapping):
            raise ValueError(f"env_kwargs must be a mapping, got {self.env_kwargs!r}")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        check_algo_args(self.algo, self.algo_kwargs, n_envs=self.n_envs)
        _check_policy_kwargs(self.policy_kwargs)
        if self.reward_shaping is not None and self.reward_shaping not in REWARD_SHAPINGS:
            raise ValueError(f"unknown reward_shaping {self.reward_shaping!r}; known: {', '.join(REWARD_SHAPINGS)}")
        if self.warm_start is not None:
            _check_warm_start(self)
        _check_verdict(self)
        if self.ray is not None and not isinstance(self.ray, RayEnvConfig):
            raise ValueError(f"ray must be a RayEnvConfig, got {self.ray!r}")

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """Return a copy with ``changes`` applied (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved_vec_env(self) -> Literal["subproc", "dummy", "ray"]:
        """The vectorised-env kind ``"auto"`` resolves to on this machine."""
        if self.vec_env != "auto":
            return self.vec_env
        return "subproc" if self.n_envs > 1 and (os.cpu_count() or 1) > 2 else "dummy"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (the ``config`` section of a run folder's ``config.yaml``)."""
        data = asdict(self)
        for key in ("env_kwargs", "policy_kwargs", "algo_kwargs", "target"):
            data[key] = _plain(getattr(self, key))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: for unknown or invalid fields.
        """
        data = dict(data)
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown config field(s): {', '.join(unknown)}")
        normalize = data.get("normalize")
        if normalize is not None:
            data["normalize"] = NormalizeConfig(**normalize)
        if data.get("warm_start") is not None:
            data["warm_start"] = _warm_start_config(data["warm_start"])
        if data.get("ray") is not None:
            data["ray"] = _ray_config(data["ray"])
        return cls(**data)


def _settings(cls: type[_Settings], name: str, value: Any, example: str) -> _Settings:
    """The frozen dataclass ``cls`` from the mapping ``value`` of the hyperparameter ``name``."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping such as {example}, got {value!r}")
    unknown = sorted(set(value) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"unknown {name} key(s): {', '.join(unknown)}")
    return cls(**value)


def _warm_start_config(value: Any) -> WarmStartConfig:
    if isinstance(value, Mapping) and "baseline" not in value:
        raise ValueError("warm_start needs a baseline")
    return _settings(WarmStartConfig, "warm_start", value, "{baseline: heuristic}")


def _ray_config(value: Any) -> RayEnvConfig:
    return _settings(RayEnvConfig, "ray", value, "{envs_per_actor: 4}")


def _check_warm_start(config: TrainConfig) -> None:
    from warehouse_sim.policies.registry import BASELINES

    warm = config.warm_start
    if not isinstance(warm, WarmStartConfig):
        raise ValueError(f"warm_start must be a WarmStartConfig, got {warm!r}")
    if config.algo not in ON_POLICY_ALGOS:
        raise ValueError(f"warm_start needs PPO or MaskablePPO (an actor-critic policy), not {config.algo}")
    if warm.baseline not in BASELINES:
        raise ValueError(f"warm_start: unknown baseline {warm.baseline!r}; known: {', '.join(sorted(BASELINES))}")
    supported = BASELINES[warm.baseline].env_ids
    if supported and config.env_id not in supported:
        raise ValueError(f"warm_start: baseline {warm.baseline!r} supports {', '.join(supported)}, not {config.env_id}")


def _check_verdict(config: TrainConfig) -> None:
    from warehouse_sim.policies.registry import BASELINES

    if config.against is not None:
        if config.against not in BASELINES:
            raise ValueError(f"against: unknown baseline {config.against!r}; known: {', '.join(sorted(BASELINES))}")
        supported = BASELINES[config.against].env_ids
        if supported and config.env_id not in supported:
            raise ValueError(f"against: baseline {config.against!r} supports {', '.join(supported)}, not {config.env_id}")
    if not isinstance(config.target, Mapping):
        raise ValueError(f"target must map KPI names to minimum ratios, got {config.target!r}")
    if config.target and config.against is None:
        raise ValueError("target compares the policy with a baseline: set against as well")
    for kpi, ratio in config.target.items():
        check_real(f"target.{kpi}", ratio, strict=True, high=100.0)


def _check_policy_kwargs(policy_kwargs: Mapping[str, Any]) -> None:
    unknown = sorted(set(policy_kwargs) - _POLICY_KWARGS)
    if unknown:
        raise ValueError(f"unknown policy_kwargs key(s): {', '.join(unknown)}")
    activation = policy_kwargs.get("activation_fn")
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f"policy_kwargs.activation_fn must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    net_arch = policy_kwargs.get("net_arch")
    if net_arch is not None:
        layers = [*net_arch.get("pi", []), *net_arch.get("vf", [])] if isinstance(net_arch, Mapping) else net_arch
        if not isinstance(layers, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) and 0 < n <= 65_536 for n in layers
        ):
            raise ValueError(f"policy_kwargs.net_arch must list layer sizes in [1, 65536], got {net_arch!r}")
    if "ortho_init" in policy_kwargs and not isinstance(policy_kwargs["ortho_init"], bool):
        raise ValueError(f"policy_kwargs.ortho_init must be true or false, got {policy_kwargs['ortho_init']!r}")
    if "log_std_init" in policy_kwargs:
        check_real("policy_kwargs.log_std_init", policy_kwargs["log_std_init"], low=-20.0, high=5.0)
    if "n_quantiles" in policy_kwargs:
        check_int("policy_kwargs.n_quantiles", policy_kwargs["n_quantiles"], high=1_000)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def hyperparams_dir() -> Path:
    """Return the folder holding ``ppo.yml``, ``dqn.yml``, ... .

    In a source checkout it is the repository's ``training/hyperparams``; an installed
    wheel ships it as ``warehouse_sim/hyperparams``.

    Raises:
        FileNotFoundError: if neither exists.
    """
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "hyperparams", package.parent / "training" / "hyperparams"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hyperparameter files not found (looked next to {package})")


def load_train_config(algo: str, env_id: str, *, path: str | Path | None = None) -> TrainConfig:
    """Load the hyperparameters of ``algo`` for ``env_id`` into a :class:`TrainConfig`.

    Args:
        algo: ``"ppo"``, ``"dqn"``, ``"qrdqn"`` or ``"ppo_mask"``.
        env_id: Key of the entry in the file.
        path: The YAML file; default ``<hyperparams_dir()>/<algo>.yml``.

    Raises:
        ValueError: unknown algorithm, missing entry, malformed file or invalid values
            (the message names the field).
        FileNotFoundError: if the file does not exist.
    """
    file, entry = load_entry(algo, env_id, path=path)
    try:
        return config_from_entry(algo, env_id, entry)
    except ValueError as exc:
        raise ValueError(f"{file}, entry {env_id}: {exc}") from None


def load_entry(algo: str, env_id: str, *, path: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The file read and the raw entry of ``env_id`` in it (as written, not yet validated).

    Args and errors as :func:`load_train_config` (except invalid values, which
    :func:`config_from_entry` finds).
    """
    if algo not in ALGOS:
        raise ValueError(f"algo must be one of {', '.join(ALGOS)}, got {algo!r}")
    file = Path(path) if path is not None else hyperparams_dir() / f"{algo}.yml"
    if not file.is_file():
        shipped = sorted(p.stem for p in hyperparams_dir().glob("*.yml")) if path is None else []
        raise FileNotFoundError(f"no hyperparameter file {file}" + (f" (shipped: {', '.join(shipped)})" if shipped else ""))
    document = read_yaml(file, what="hyperparameter file")
    if not isinstance(document, dict):
        raise ValueError(f"{file} must map environment ids to hyperparameters")
    if env_id not in document:
        known = ", ".join(sorted(map(str, document))) or "none"
        raise ValueError(f"no {algo} hyperparameters for {env_id!r} in {file} (entries: {known})")
    entry = document[env_id]
    if not isinstance(entry, dict):
        raise ValueError(f"{file}: the entry {env_id!r} must be a mapping")
    return file, entry


def config_from_entry(algo: str, env_id: str, entry: Mapping[str, Any]) -> TrainConfig:
    """Build a :class:`TrainConfig` from one zoo-style entry (see the module docstring).

    Raises:
        ValueError: for invalid values, naming the field.
    """
    run = {k: v for k, v in entry.items() if k in _RUN_KEYS}
    algo_kwargs = {k: v for k, v in entry.items() if k not in _RUN_KEYS}
    if run.get("warm_start") is not None:
        run["warm_start"] = _warm_start_config(run["warm_start"])
    if run.get("ray") is not None:
        run["ray"] = _ray_config(run["ray"])
    normalize = run.pop("normalize", False)
    if normalize is True:
        normalize_config: NormalizeConfig | None = NormalizeConfig()
    elif normalize is False or normalize is None:
        normalize_config = None
    elif isinstance(normalize, Mapping):
        unknown = sorted(set(normalize) - set(NormalizeConfig.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown normalize key(s): {', '.join(unknown)}")
        normalize_config = NormalizeConfig(**normalize)
    else:
        raise ValueError(f"normalize must be true, false or a mapping, got {normalize!r}")
    for key in ("env_kwargs", "policy_kwargs", "target"):
        if not isinstance(run.get(key, {}), Mapping):
            raise ValueError(f"{key} must be a mapping, got {run[key]!r}")
    return TrainConfig(env_id=env_id, algo=algo, normalize=normalize_config, algo_kwargs=algo_kwargs, **run)  # type: ignore[arg-type]
