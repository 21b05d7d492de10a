"""Hyperparameter and seed sweeps of ``train`` configs with Ray Tune (``warehouse-sim sweep``).

A sweep file names a hyperparameter entry (algorithm, env id, file), what to vary, and
how to run the trials::

    algo: ppo
    env: warehouse_sim/Inventory-v0
    hyperparams: training/hyperparams/ppo.yml   # optional: default the shipped <algo>.yml
    set: {n_timesteps: 100_000}                 # optional: fixed changes to the entry
    seeds: [0, 1, 2]                            # every setting is trained once per seed
    grid:                                       # every combination of these values
      learning_rate: [1.0e-4, 3.0e-4]
    distributions:                              # or values drawn per sample
      ent_coef: {loguniform: [1.0e-4, 1.0e-2]}  # uniform, loguniform, randint [low, high), choice
    num_samples: 1         # draws of the distributions (search: random), or Optuna trials
    search: random         # random (Tune's variant generator) or optuna
    metric: eval_return    # eval_return, best_eval_return or final_return
    mode: max              # or min
    resources: {cpu: 1}    # per trial (cpu, gpu)
    max_failures: 2        # a trial whose worker dies is retried this many times
    max_concurrent: 0      # trials at once (0: as many as the resources allow)

Keys of ``set``, ``grid`` and ``distributions`` are keys of the entry (``n_timesteps``,
``learning_rate``, ...), dotted for nested mappings (``env_kwargs.scenario``). A setting
is one combination of grid values and drawn values; each setting runs on every seed
(with Optuna through Tune's ``Repeater``, which reports the mean over the seeds to it).

Metrics (per trial, from its run folder): ``eval_return`` the last periodic evaluation's
mean return, ``best_eval_return`` the best of them, ``final_return`` the mean return of
the final evaluation (``eval.json``).

The sweep folder::

    resolved_sweep.yaml   the validated sweep, base entry included (what --resume reads)
    runs/<trial>/         one normal run folder per trial (warehouse_sim.training.runner)
    tune/                 Ray Tune's experiment (its state is what --resume restores)
    results.csv           one row per trial, best first
    settings.csv          one row per setting: the metric's mean and sd over the seeds, best first
    learning_curves.png   (written by the command line) evaluation return per setting, band over seeds

Each trial is :func:`~warehouse_sim.training.runner.train` in a Tune worker; a retried
trial (its worker died) or a trial of a resumed sweep continues its run folder from the
last checkpoint (:func:`~warehouse_sim.training.runner.resume`). On a multi-node cluster
the sweep folder must be on storage every node mounts at the same path (as Tune's
``storage_path``).

Ray is imported only by :func:`run_sweep`/:func:`resume_sweep` (and the trials).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import yaml

from warehouse_sim._files import write_text_atomic
from warehouse_sim.training.checkpoints import MODEL_FILE
from warehouse_sim.training.config import ALGOS, TrainConfig, config_from_entry, load_entry
from warehouse_sim.training.runner import CONFIG_FILE, EVAL_FILE

SWEEP_FILE = "resolved_sweep.yaml"
RUNS_DIR = "runs"
TUNE_DIR = "tune"
RESULTS_FILE = "results.csv"
SETTINGS_FILE = "settings.csv"
#: Written by ``warehouse-sim sweep``: :func:`learning_curves` drawn per setting.
CURVES_FILE = "learning_curves.png"
METRICS: tuple[str, ...] = ("eval_return", "best_eval_return", "final_return")
SEARCHES: tuple[str, ...] = ("random", "optuna")
DISTRIBUTIONS: tuple[str, ...] = ("uniform", "loguniform", "randint", "choice")
#: Keys of a trial's Tune config that are not hyperparameters.
_SEED_KEY = "seed"
_REPEAT_KEY = "__trial_index__"
_SPEC_KEYS = frozenset(
    {
        "algo", "env", "hyperparams", "set", "seeds", "grid", "distributions", "num_samples", "search", "metric",
        "mode", "resources", "max_failures", "max_concurrent",
    }
)  # fmt: skip


class SweepSpecError(ValueError):
    """A sweep file or sweep folder that cannot be used (the message names the field)."""


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep (see the module docstring for the file format).

    Attributes:
        algo: ``"ppo"``, ``"dqn"``, ``"qrdqn"`` or ``"ppo_mask"``.
        env_id: The env id of the entry.
        entry: The base hyperparameter entry, ``set`` applied (plain YAML data).
        seeds: Seeds every setting is trained with.
        grid: Hyperparameter (dotted key) -> values crossed with each other.
        distributions: Hyperparameter -> ``(kind, arguments)``, kind in :data:`DISTRIBUTIONS`.
        num_samples: Draws of the distributions (Tune's ``num_samples``; Optuna: trials per seed).
        search: ``"random"`` or ``"optuna"``.
        metric: The metric the settings are ranked on (:data:`METRICS`).
        mode: ``"max"`` or ``"min"``.
        resources: Per trial: ``{"cpu": ..., "gpu": ...}``.
        max_failures: Retries of a trial whose worker died.
        max_concurrent: Trials running at once (0: no limit beyond the resources).
    """

    algo: str
    env_id: str
    entry: Mapping[str, Any]
    seeds: tuple[int, ...] = (0,)
    grid: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)
    distributions: Mapping[str, tuple[str, tuple[Any, ...]]] = field(default_factory=dict)
    num_samples: int = 1
    search: str = "random"
    metric: str = "eval_return"
    mode: str = "max"
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    max_failures: int = 2
    max_concurrent: int = 0

    def __post_init__(self) -> None:
        if self.algo not in ALGOS:
            raise SweepSpecError(f"algo must be one of {', '.join(ALGOS)}, got {self.algo!r}")
        if self.env_id not in gym.registry:
            raise SweepSpecError(f"env: unknown environment {self.env_id!r}")
        if not self.seeds or not all(_is_int(s) and s >= 0 for s in self.seeds) or len(set(self.seeds)) < len(self.seeds):
            raise SweepSpecError(f"seeds must be a list of distinct non-negative integers, got {list(self.seeds)!r}")
        for key, values in self.grid.items():
            _check_key("grid", key)
            if not isinstance(values, tuple) or not values:
                raise SweepSpecError(f"grid.{key} must be a non-empty list of values, got {values!r}")
        for key, (kind, args) in self.distributions.items():
            _check_key("distributions", key)
            if key in self.grid:
                raise SweepSpecError(f"{key} is both in grid and in distributions")
            _check_distribution(key, kind, args)
        for name in ("num_samples",):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise SweepSpecError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("max_failures", "max_concurrent"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise SweepSpecError(f"{name} must be an integer >= 0, got {getattr(self, name)!r}")
        if self.search not in SEARCHES:
            raise SweepSpecError(f"search must be one of {', '.join(SEARCHES)}, got {self.search!r}")
        if self.search == "optuna" and (self.grid or not self.distributions):
            raise SweepSpecError(
                "search: optuna draws from distributions and takes no grid (write a grid as {choice: [...]})"
            )
        if self.metric not in METRICS:
            raise SweepSpecError(f"metric must be one of {', '.join(METRICS)}, got {self.metric!r}")
        if self.mode not in ("max", "min"):
            raise SweepSpecError(f"mode must be max or min, got {self.mode!r}")
        if not isinstance(self.resources, Mapping) or set(self.resources) - {"cpu", "gpu"}:
            raise SweepSpecError(f"resources must map cpu and/or gpu to numbers, got {self.resources!r}")
        for name, amount in self.resources.items():
            if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount >= 0:
                raise SweepSpecError(f"resources.{name} must be a non-negative number, got {amount!r}")
        self._check_configs()

    def _check_configs(self) -> None:
        """Build the config of every grid point, and of each distribution's bounds or choices."""
        first = {key: candidates[0] for key, candidates in self._candidates().items()}
        points = [dict(zip(self.grid, values, strict=True)) for values in itertools.product(*self.grid.values())]
        points += [{key: value} for key, candidates in self._candidates().items() for value in candidates]
        env_kwargs: list[dict[str, Any]] = []
        for point in points:
            config = self.config_for({**first, **point})
            kwargs = dict(config.env_kwargs)
            if kwargs not in env_kwargs:
                env_kwargs.append(kwargs)
        if self.metric != "final_return" and self.config_for(first).eval_freq == 0:
            raise SweepSpecError(f"metric {self.metric} needs periodic evaluations: eval_freq must be > 0")
        for kwargs in env_kwargs:
            try:
                gym.make(self.env_id, **kwargs).close()
            except (TypeError, ValueError) as exc:
                raise SweepSpecError(f"env_kwargs {kwargs}: {exc}") from None

    def _candidates(self) -> dict[str, tuple[Any, ...]]:
        """Values to validate per distribution: its bounds, or its choices."""
        out: dict[str, tuple[Any, ...]] = {}
        for key, (kind, args) in self.distributions.items():
            out[key] = tuple(args) if kind == "choice" else (args[0], args[1] - 1 if kind == "randint" else args[1])
        return out

    def config_for(self, setting: Mapping[str, Any]) -> TrainConfig:
        """The :class:`TrainConfig` of one setting (hyperparameter -> value).

        Raises:
            SweepSpecError: if the values do not make a valid config (naming the field).
        """
        entry = _plain(self.entry)  # a deep copy
        for key, value in setting.items():
            _set_dotted(entry, key, value)
        try:
            return config_from_entry(self.algo, self.env_id, entry)
        except (TypeError, ValueError) as exc:
            raise SweepSpecError(f"{json.dumps(_plain(setting))}: {exc}") from None

    def split_trial_config(self, config: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """A trial's Tune config -> ``(seed, setting)``."""
        setting = {k: v for k, v in config.items() if k not in (_SEED_KEY, _REPEAT_KEY)}
        seed = config[_SEED_KEY] if _SEED_KEY in config else self.seeds[int(config[_REPEAT_KEY])]
        return int(seed), setting

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (``resolved_sweep.yaml`` of a sweep folder); :meth:`from_dict` reads it back."""
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        data["grid"] = {k: list(v) for k, v in self.grid.items()}
        data["distributions"] = {k: {kind: list(args)} for k, (kind, args) in self.distributions.items()}
        data["entry"] = _plain(self.entry)
        data["resources"] = dict(self.resources)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepSpec:
        """Inverse of :meth:`to_dict`.

        Raises:
            SweepSpecError: for missing, unknown or invalid fields.
        """
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise SweepSpecError(f"unknown sweep field(s): {', '.join(unknown)}")
        fields = dict(data)
        fields["seeds"] = _tuple("seeds", fields.get("seeds", [0]))
        fields["grid"] = {str(k): _tuple(f"grid.{k}", v) for k, v in _mapping("grid", fields.get("grid")).items()}
        fields["distributions"] = {
            str(k): _distribution(str(k), v) for k, v in _mapping("distributions", fields.get("distributions")).items()
        }
        if not isinstance(fields.get("entry"), Mapping):
            raise SweepSpecError("entry must be a mapping of hyperparameters")
        try:
            return cls(**fields)
        except TypeError as exc:
            raise SweepSpecError(f"sweep: {exc}") from None


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file (see the module docstring).

    Raises:
        SweepSpecError: for anything that would make a trial fail, naming the field.
        FileNotFoundError: if the file (or its hyperparameter file) does not exist.
    """
    path = Path(path)
    document = _read_mapping(path)
    unknown = sorted(set(document) - _SPEC_KEYS)
    if unknown:
        raise SweepSpecError(f"{path}: unknown key(s) {', '.join(map(str, unknown))} (known: {', '.join(sorted(_SPEC_KEYS))})")
    for key in ("algo", "env"):
        if not isinstance(document.get(key), str):
            raise SweepSpecError(f"{path}: {key} is required (a string)")
    hyperparams = document.get("hyperparams")
    if hyperparams is not None and not isinstance(hyperparams, str):
        raise SweepSpecError(f"{path}: hyperparams must be a file path, got {hyperparams!r}")
    try:
        _, entry = load_entry(document["algo"], document["env"], path=hyperparams)
    except ValueError as exc:
        raise SweepSpecError(str(exc)) from None
    for key, value in _mapping("set", document.get("set")).items():
        _check_key("set", str(key))
        _set_dotted(entry, str(key), value)
    fields = {k: v for k, v in document.items() if k not in ("algo", "env", "hyperparams", "set")}
    return SweepSpec.from_dict({"algo": document["algo"], "env_id": document["env"], "entry": entry, **fields})


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialResult:
    """One trial of a sweep, read from its run folder.

    Attributes:
        name: The trial's name (Tune's trial folder name; also its run folder's name).
        setting: Hyperparameter -> value.
        seed: The run's seed.
        status: ``"done"`` (``model.zip`` written), ``"error"`` (failed after its
            retries), or ``"incomplete"``.
        metrics: ``timesteps``, :data:`METRICS` (NaN where not available), ``wall_time_s``.
        sessions: Training sessions of the run (more than one: resumed after a failure).
        run_dir: The run folder.
        error: The error of a failed trial, one line.
    """

    name: str
    setting: Mapping[str, Any]
    seed: int
    status: str
    metrics: Mapping[str, float]
    sessions: int
    run_dir: Path
    error: str = ""


@dataclass(frozen=True)
class SettingResult:
    """One setting over its seeds: the ranked unit of a sweep.

    Attributes:
        setting: Hyperparameter -> value.
        trials: Its trials, in seed order.
        mean: Mean of the sweep's metric over the trials that have it (NaN if none).
        std: Sample standard deviation of the metric (0 with one value, NaN with none).
    """

    setting: Mapping[str, Any]
    trials: tuple[TrialResult, ...]
    mean: float
    std: float


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes:
        sweep_dir: The sweep folder.
        spec: The sweep.
        settings: Settings, best first.
        trials: Trials, best first.
    """

    sweep_dir: Path
    spec: SweepSpec
    settings: tuple[SettingResult, ...]
    trials: tuple[TrialResult, ...]


def run_sweep(spec: SweepSpec, out_dir: str | Path, *, address: str | None = None) -> SweepResult:
    """Run a new sweep into the new (or empty) folder ``out_dir``; write its tables.

    Args:
        spec: The sweep.
        out_dir: The sweep folder (see the module docstring).
        address: The Ray cluster (``None``: a local Ray started for the sweep, unless
            ``RAY_ADDRESS`` names one).

    Raises:
        SweepSpecError: if ``out_dir`` exists and is not empty.
        gymnasium.error.DependencyNotInstalled: without Ray (or Optuna for ``search: optuna``).
        warehouse_sim.training.ray_cluster.RayClusterError: no cluster at ``address``.
    """
    sweep_dir = Path(out_dir).resolve()
    if sweep_dir.exists() and (not sweep_dir.is_dir() or any(sweep_dir.iterdir())):
        raise SweepSpecError(f"{out_dir} already exists and is not empty (use --resume to continue a sweep)")
    _import_tune(spec)
    with _ray_connection(address):
        sweep_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(sweep_dir / SWEEP_FILE, yaml.safe_dump(spec.to_dict(), sort_keys=False))
        with _quiet_tune():
            results = _new_tuner(spec, sweep_dir).fit()
    return _collect(spec, sweep_dir, results)


def resume_sweep(sweep_dir: str | Path, *, address: str | None = None) -> SweepResult:
    """Continue a sweep whose driver stopped (crash, kill, Ctrl-C) with Tune's restore.

    Finished trials are kept; unfinished and failed trials run again, each continuing
    its run folder from its last checkpoint.

    Raises:
        SweepSpecError: if the folder is not a sweep folder, or Tune has no state in it.
    """
    sweep_dir = Path(sweep_dir).resolve()
    spec = read_sweep_spec(sweep_dir)
    tune = _import_tune(spec)
    with _ray_connection(address):
        if not tune.Tuner.can_restore(str(sweep_dir / TUNE_DIR)):
            raise SweepSpecError(f"{sweep_dir} has no Tune state to restore (the sweep never started)")
        with _quiet_tune():
            tuner = tune.Tuner.restore(
                str(sweep_dir / TUNE_DIR), trainable=_trainable(spec, sweep_dir), resume_unfinished=True,
                resume_errored=True,
            )  # fmt: skip
            results = tuner.fit()
    return _collect(spec, sweep_dir, results)


def read_sweep_spec(sweep_dir: str | Path) -> SweepSpec:
    """The sweep of a sweep folder (its ``resolved_sweep.yaml``).

    Raises:
        SweepSpecError: if the folder has no readable ``resolved_sweep.yaml``.
    """
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise SweepSpecError(f"{sweep_dir} is not a sweep folder (no {SWEEP_FILE})")
    return SweepSpec.from_dict(_read_mapping(path))


def _read_mapping(path: Path) -> dict[str, Any]:
    """The YAML mapping in ``path`` (``yaml.safe_load``).

    Raises:
        SweepSpecError: if it is not valid YAML or not a mapping.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SweepSpecError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise SweepSpecError(f"{path} must be a mapping (algo, env, grid, ...)")
    return document


def _import_tune(spec: SweepSpec) -> Any:
    from warehouse_sim.training.ray_cluster import RAY_INSTALL_HINT, import_ray

    import_ray()
    try:
        from ray import tune
    except ImportError:
        raise gym.error.DependencyNotInstalled(f"Ray Tune is not installed: {RAY_INSTALL_HINT}") from None
    if spec.search == "optuna":
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise gym.error.DependencyNotInstalled(f"search: optuna needs Optuna: {RAY_INSTALL_HINT}") from None
    return tune


@contextmanager
def _ray_connection(address: str | None) -> Iterator[None]:
    """Connect to Ray for the sweep (and disconnect after, if this connected)."""
    import ray

    from warehouse_sim.training.ray_cluster import init_ray

    owned = init_ray(address)
    try:
        yield
    finally:
        if owned:
            ray.shutdown()


@contextmanager
def _quiet_tune() -> Iterator[None]:
    """Tune's console output off (its new reporter prints a table even at ``verbose=0``): library code never prints."""
    before = os.environ.get("RAY_AIR_NEW_OUTPUT")
    os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["RAY_AIR_NEW_OUTPUT"]
        else:
            os.environ["RAY_AIR_NEW_OUTPUT"] = before


def _param_space(spec: SweepSpec) -> dict[str, Any]:
    from ray import tune

    domains = {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}
    space: dict[str, Any] = {key: tune.grid_search(list(values)) for key, values in spec.grid.items()}
    for key, (kind, args) in spec.distributions.items():
        space[key] = tune.choice(list(args)) if kind == "choice" else domains[kind](*args)
    if spec.search == "random":
        space[_SEED_KEY] = tune.grid_search(list(spec.seeds))
    return space


def _new_tuner(spec: SweepSpec, sweep_dir: Path) -> Any:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    if spec.search == "optuna":
        from ray.tune.search import Repeater
        from ray.tune.search.optuna import OptunaSearch

        searcher: Any = Repeater(
            OptunaSearch(metric=spec.metric, mode=spec.mode, seed=spec.seeds[0]), repeat=len(spec.seeds), set_index=True
        )
        num_samples = spec.num_samples * len(spec.seeds)
    else:
        # Drawn values stay the same across the grid's seeds: a setting is trained on every seed.
        searcher = BasicVariantGenerator(constant_grid_search=True)
        num_samples = spec.num_samples
    return tune.Tuner(
        _trainable(spec, sweep_dir),
        param_space=_param_space(spec),
        tune_config=tune.TuneConfig(
            metric=spec.metric,
            mode=spec.mode,
            search_alg=searcher,
            num_samples=num_samples,
            max_concurrent_trials=spec.max_concurrent or None,
        ),
        run_config=tune.RunConfig(
            name=TUNE_DIR,
            storage_path=str(sweep_dir),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        ),
    )


def _trainable(spec: SweepSpec, sweep_dir: Path) -> Any:
    from ray import tune

    trainable = tune.with_parameters(sweep_trial, spec_data=spec.to_dict(), sweep_dir=str(sweep_dir))
    return tune.with_resources(trainable, {k: float(v) for k, v in spec.resources.items()})


def sweep_trial(config: dict[str, Any], *, spec_data: dict[str, Any], sweep_dir: str) -> None:
    """One trial, in a Tune worker: train (or continue) its run folder, reporting each evaluation."""
    from ray import tune

    from warehouse_sim.training.runner import resume, train

    spec = SweepSpec.from_dict(spec_data)
    seed, setting = spec.split_trial_config(config)
    run_dir = Path(sweep_dir) / RUNS_DIR / Path(tune.get_context().get_trial_dir()).name

    def report(_entry: dict[str, Any]) -> None:
        tune.report(run_metrics(run_dir))

    command = f"warehouse-sim sweep (trial {run_dir.name}: seed {seed}, {json.dumps(_plain(setting))})"
    if (run_dir / MODEL_FILE).is_file():
        pass  # finished before the driver recorded it
    elif (run_dir / CONFIG_FILE).is_file():
        resume(run_dir, command=command, on_evaluation=report)
    else:
        train(spec.config_for(setting), out_dir=run_dir, seed=seed, command=command, on_evaluation=report)
    tune.report(run_metrics(run_dir))


def run_metrics(run_dir: str | Path) -> dict[str, float]:
    """``timesteps``, :data:`METRICS` and ``wall_time_s`` of a run folder (NaN where not available yet)."""
    from warehouse_sim.plotting import read_evaluations

    run_dir = Path(run_dir)
    evaluations = read_evaluations(run_dir)
    returns = [float(e["return"]) for e in evaluations]
    metrics = {
        "timesteps": float(evaluations[-1]["timesteps"]) if evaluations else math.nan,
        "eval_return": returns[-1] if returns else math.nan,
        "best_eval_return": max(returns) if returns else math.nan,
        "final_return": math.nan,
        "wall_time_s": float(evaluations[-1]["wall_time_s"]) if evaluations else math.nan,
    }
    if (run_dir / EVAL_FILE).is_file():
        report = json.loads((run_dir / EVAL_FILE).read_text())
        metrics.update(
            final_return=float(report["return"]["mean"]),
            timesteps=float(report["timesteps"]),
            wall_time_s=float(report["wall_time_s"]),
        )
    return metrics


# -- results ---------------------------------------------------------------------------------


def _collect(spec: SweepSpec, sweep_dir: Path, results: Any) -> SweepResult:
    """Read every trial's run folder; rank; write ``results.csv`` and ``settings.csv``."""
    trials = []
    for result in results:
        seed, setting = spec.split_trial_config(result.config)
        name = Path(result.path).name
        run_dir = sweep_dir / RUNS_DIR / name
        done = (run_dir / MODEL_FILE).is_file()
        error = "" if done or result.error is None else " ".join(str(result.error).split())[:300]
        trials.append(
            TrialResult(
                name=name,
                setting=setting,
                seed=seed,
                status="done" if done else ("error" if error else "incomplete"),
                metrics=run_metrics(run_dir),
                sessions=_sessions(run_dir),
                run_dir=run_dir,
                error=error,
            )
        )
    sweep = rank(spec, sweep_dir, trials)
    _write_csv(sweep_dir / RESULTS_FILE, _trial_rows(sweep))
    _write_csv(sweep_dir / SETTINGS_FILE, _setting_rows(sweep))
    return sweep


def rank(spec: SweepSpec, sweep_dir: Path, trials: Sequence[TrialResult]) -> SweepResult:
    """Group trials into settings and order both best first by ``spec.metric`` (NaN last)."""
    sign = 1.0 if spec.mode == "max" else -1.0

    def order(value: float) -> tuple[bool, float]:
        return (math.isnan(value), -sign * value if not math.isnan(value) else 0.0)

    groups: dict[str, list[TrialResult]] = {}
    for trial in trials:
        groups.setdefault(json.dumps(_plain(trial.setting), sort_keys=True), []).append(trial)
    settings = []
    for members in groups.values():
        members.sort(key=lambda t: t.seed)
        values = np.array([t.metrics[spec.metric] for t in members], dtype=float)
        values = values[~np.isnan(values)]
        mean = float(values.mean()) if values.size else math.nan
        std = float(values.std(ddof=1)) if values.size > 1 else (0.0 if values.size else math.nan)
        settings.append(SettingResult(members[0].setting, tuple(members), mean, std))
    settings.sort(key=lambda s: order(s.mean))
    ranked_trials = sorted(trials, key=lambda t: order(t.metrics[spec.metric]))
    return SweepResult(sweep_dir, spec, tuple(settings), tuple(ranked_trials))


def _sessions(run_dir: Path) -> int:
    try:
        return len(yaml.safe_load((run_dir / CONFIG_FILE).read_text())["run"]["sessions"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return 0


def _params(sweep: SweepResult) -> list[str]:
    return [*sweep.spec.grid, *sweep.spec.distributions]


def _trial_rows(sweep: SweepResult) -> list[dict[str, Any]]:
    rows = []
    for trial in sweep.trials:
        row: dict[str, Any] = {"trial": trial.name, **{p: _cell(trial.setting.get(p)) for p in _params(sweep)}}
        row.update(seed=trial.seed, status=trial.status, **{k: _cell(v) for k, v in trial.metrics.items()})
        row.update(sessions=trial.sessions, run_dir=str(trial.run_dir), error=trial.error)
        rows.append(row)
    return rows


def _setting_rows(sweep: SweepResult) -> list[dict[str, Any]]:
    rows = []
    metric = sweep.spec.metric
    for rank_, setting in enumerate(sweep.settings, start=1):
        row: dict[str, Any] = {"rank": rank_, **{p: _cell(setting.setting.get(p)) for p in _params(sweep)}}
        row.update(
            {
                "seeds": len(setting.trials),
                "done": sum(t.status == "done" for t in setting.trials),
                f"{metric}_mean": _cell(setting.mean),
                f"{metric}_std": _cell(setting.std),
                f"{metric}_per_seed": " ".join(_cell(t.metrics[metric]) for t in setting.trials),
            }
        )
        rows.append(row)
    return rows


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return "" if value is None else str(value)


def _write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", newline="") as f:
        if rows:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, path)


def format_sweep(sweep: SweepResult) -> str:
    """The settings table, best first, as text (what ``warehouse-sim sweep`` prints)."""
    spec, metric = sweep.spec, sweep.spec.metric
    done = sum(t.status == "done" for t in sweep.trials)
    head = (
        f"sweep of {spec.algo.upper()} on {spec.env_id}: {_count(len(sweep.trials), 'trial')} ({done} done) in "
        f"{_count(len(sweep.settings), 'setting')} x {_count(len(spec.seeds), 'seed')}, ranked by {metric} ({spec.mode})"
    )
    rows = _setting_rows(sweep)
    if not rows:
        return head
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = [head, "  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    failed = [t for t in sweep.trials if t.status != "done"]
    lines += [f"{t.status}: {t.name}: {t.error or 'did not finish'}" for t in failed]
    return "\n".join(lines)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def learning_curves(sweep: SweepResult) -> list[tuple[str, list[tuple[np.ndarray, np.ndarray]]]]:
    """Per setting (best first): its label and, per seed, ``(timesteps, evaluation return)``.

    Runs without periodic evaluations contribute their monitor returns instead.
    """
    from warehouse_sim.plotting import read_evaluations, read_monitor

    curves = []
    for setting in sweep.settings:
        label = ", ".join(f"{k}={_cell(v)}" for k, v in setting.setting.items()) or "base config"
        per_seed = []
        for trial in setting.trials:
            evaluations = read_evaluations(trial.run_dir)
            if evaluations:
                per_seed.append(
                    (np.array([e["timesteps"] for e in evaluations], float), np.array([e["return"] for e in evaluations]))
                )
            elif (trial.run_dir / "monitor").is_dir():
                try:
                    steps, returns, _ = read_monitor(trial.run_dir / "monitor")
                except FileNotFoundError:
                    continue
                per_seed.append((steps.astype(float), returns))
        curves.append((label, per_seed))
    return curves


def _check_key(section: str, key: str) -> None:
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise SweepSpecError(f"{section}: bad hyperparameter name {key!r}")
    if key in (_SEED_KEY, "seeds"):
        raise SweepSpecError(f"{section}: list seeds under seeds, not as a hyperparameter")


def _check_distribution(key: str, kind: str, args: tuple[Any, ...]) -> None:
    if kind not in DISTRIBUTIONS:
        raise SweepSpecError(f"distributions.{key}: unknown distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})")
    if kind == "choice":
        if not args:
            raise SweepSpecError(f"distributions.{key}: choice needs a non-empty list")
        return
    numbers = len(args) == 2 and all(not isinstance(a, bool) and isinstance(a, (int, float)) for a in args)
    if not numbers or not args[0] < args[1]:
        raise SweepSpecError(f"distributions.{key}: {kind} needs [low, high] numbers with low < high, got {list(args)!r}")
    if kind == "loguniform" and args[0] <= 0:
        raise SweepSpecError(f"distributions.{key}: loguniform needs low > 0, got {args[0]!r}")
    if kind == "randint" and not all(_is_int(a) for a in args):
        raise SweepSpecError(f"distributions.{key}: randint needs integer bounds, got {list(args)!r}")


def _distribution(key: str, value: Any) -> tuple[str, tuple[Any, ...]]:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise SweepSpecError(f"distributions.{key} must be one {{kind: [arguments]}}, e.g. {{loguniform: [1.0e-4, 1.0e-2]}}")
    ((kind, args),) = value.items()
    return str(kind), _tuple(f"distributions.{key}.{kind}", args)


def _set_dotted(entry: dict[str, Any], key: str, value: Any) -> None:
    *path, last = key.split(".")
    node = entry
    for i, part in enumerate(path):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SweepSpecError(f"{key}: {'.'.join(path[: i + 1])} is {child!r}, not a mapping")
        node = child
    node[last] = value


def _tuple(name: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, (list, tuple)):
        raise SweepSpecError(f"{name} must be a list, got {value!r}")
    return tuple(value)


def _mapping(name: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SweepSpecError(f"{name} must be a mapping, got {value!r}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    """``value`` as plain JSON data (tuples become lists, numpy scalars Python numbers)."""
    return json.loads(json.dumps(value, default=lambda v: v.item() if isinstance(v, np.generic) else str(v)))
