"""The ``warehouse-sim`` command line: a thin adapter over functions that return data.

Every error a user can cause (bad arguments, unknown ids, missing or corrupt files,
mismatched spaces, an output path that cannot be written, a missing optional extra, no
display for the GUI) prints one line to stderr and exits with code 2: no traceback and
no partial output file. Output paths are checked before the work that fills them.
SIGINT/SIGTERM stop ``train`` with a checkpoint and one line saying how to resume
(exit code 128 + the signal number).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shlex
import sys
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import gymnasium as gym

import warehouse_sim
from warehouse_sim._checks import check_int
from warehouse_sim._files import check_writable, write_json_atomic
from warehouse_sim._format import duration, plain
from warehouse_sim._optional import MissingExtraError, require_extra
from warehouse_sim.registration import ENV_IDS

EXIT_USAGE = 2
#: Modules ``train`` and ``export`` need (the ``train`` extra).
TRAIN_MODULES = ("stable_baselines3", "torch", "tensorboard")
EXPORT_MODULES = ("stable_baselines3", "torch", "onnx")


class CliError(Exception):
    """An error caused by the user's input: reported as one line, exit code 2."""


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"--env-kwargs is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--env-kwargs must be a JSON object")
    return value


def _add_env_args(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    parser.add_argument("--env", default=default, required=default is None, help="environment id")
    parser.add_argument(
        "--env-kwargs", type=_json_object, default={}, metavar="JSON", help="constructor keyword arguments"
    )


def _quote(path: str | Path) -> str:
    return shlex.quote(str(path))


# ---------------------------------------------------------------------------- envs
def _cmd_envs(args: argparse.Namespace) -> int:
    from gymnasium.envs.registration import load_env_creator

    from warehouse_sim.policies.base import describe_space
    from warehouse_sim.policies.registry import BASELINES

    for env_id in ENV_IDS:
        creator = load_env_creator(str(gym.spec(env_id).entry_point))
        summary = (creator.__doc__ or "").strip().splitlines()[0]
        try:
            env = gym.make(env_id)
        except MissingExtraError as exc:
            print(f"{env_id}\n  {summary}\n  ({exc})")
            continue
        try:
            observation, action = describe_space(env.observation_space), describe_space(env.action_space)
        finally:
            env.close()
        if "continuous" in inspect.signature(creator).parameters:
            discrete = gym.make(env_id, continuous=False)
            action += f"; continuous=False: {describe_space(discrete.action_space)}"
            discrete.close()
        baselines = sorted(name for name, spec in BASELINES.items() if env_id in spec.env_ids or not spec.env_ids)
        print(f"{env_id}\n  {summary}\n  observation  {observation}\n  action       {action}")
        listed = f"{', '.join(baselines)}  (as\xa0--policy\xa0baseline:NAME)"  # the hint never split over lines
        lines = textwrap.fill(listed, width=120, initial_indent="  baselines    ", subsequent_indent=" " * 15,
                              break_on_hyphens=False)
        print(lines.replace("\xa0", " "))
    return 0


# ---------------------------------------------------------------------------- bench
def _cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from warehouse_sim.bench import default_steps, format_bench, run_bench

    if args.json:
        check_writable(args.json, what="--json")
    env_ids = [args.env] if args.env else list(ENV_IDS)
    for env_id in env_ids:
        _check_env_id(env_id)
    results = []
    for env_id in env_ids:
        steps = args.steps or default_steps(env_id)
        print(f"timing {env_id}: {steps:,} env steps (and the bare physics of each)", file=sys.stderr, flush=True)
        with tqdm(total=steps, unit="step", file=sys.stderr, leave=False, disable=None) as bar:
            result = run_bench(env_id, env_kwargs=args.env_kwargs, steps=steps, seed=args.seed, progress=bar.update)
        print(format_bench(result), flush=True)
        results.append(result)
    if args.json:
        write_json_atomic(args.json, results if len(results) > 1 else results[0])
        print(f"results written to {args.json}")
    return 0


# ---------------------------------------------------------------------------- train
def _cmd_train(args: argparse.Namespace) -> int:
    require_extra("train", *TRAIN_MODULES)
    from warehouse_sim.evaluation import format_report
    from warehouse_sim.training import load_train_config, resume, train
    from warehouse_sim.training.config import hyperparams_dir
    from warehouse_sim.training.runner import MAX_SEED

    command = shlex.join(["warehouse-sim", *sys.argv[1:]])
    progress = sys.stdout.isatty() if args.progress is None else args.progress
    on_progress = None if progress else _print_progress
    if args.resume is not None:
        given = [f"--{k.replace('_', '-')}" for k in _TRAIN_RUN_OPTIONS if getattr(args, k) is not None]
        if given:
            raise CliError(f"--resume continues a run with its own settings; drop {', '.join(given)}")
        if not os.path.isdir(args.resume):
            raise CliError(f"--resume: no run folder {args.resume}")
        print(f"resuming {args.resume}", flush=True)
        result = resume(
            args.resume, progress_bar=progress, verbose=args.verbose, command=command, on_progress=on_progress,
            ray_address=args.ray_address,
        )
    else:
        env_id = args.env or DEFAULT_TRAIN_ENV
        algo = args.algo or "ppo"
        _check_env_id(env_id)
        quickstart = args.env is None and args.algo is None and args.hyperparams is None
        hyperparams = hyperparams_dir() / QUICKSTART_FILE if quickstart else args.hyperparams
        config = load_train_config(algo, env_id, path=hyperparams)
        config = config.with_overrides(
            n_timesteps=args.timesteps,
            n_envs=args.n_envs,
            vec_env=args.vec_env,
            env_kwargs={**config.env_kwargs, **args.env_kwargs} if args.env_kwargs else None,
            final_eval_episodes=args.eval_episodes,
        )
        seed = check_int("seed", 0 if args.seed is None else args.seed, low=0, high=MAX_SEED)
        out = args.out or os.path.join("runs", f"{algo}-{env_id.split('/')[-1]}-{time.strftime('%Y%m%d-%H%M%S')}")
        print(f"training {algo.upper()} on {env_id} for {config.n_timesteps:,} timesteps -> {out}", flush=True)
        result = train(
            config, out_dir=out, seed=seed, progress_bar=progress, verbose=args.verbose, command=command,
            on_progress=on_progress, ray_address=args.ray_address,
        )
    report = result.eval_report
    print(f"trained {result.timesteps:,} timesteps in {duration(result.wall_time_s)}; run folder: {result.run_dir}")
    print(format_report(report))
    print(_verdict(report))
    print("next:")
    for line in _next_commands(result.run_dir, report):
        print(f"  {line}")
    return 0


def _print_progress(progress: Any) -> None:
    """One line per report (``train`` without a terminal): steps, share, rate, ETA, machine load."""
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    busy = f"; machine busy (load {load:.1f} on {cores} cores)" if load > cores else ""
    share = 100 * progress.timesteps / progress.total
    print(
        f"  {progress.timesteps:,} / {progress.total:,} timesteps ({share:.0f}%), {plain(progress.steps_per_s, 3)} steps/s, "
        f"ETA {duration(progress.eta_s)}{busy}",
        flush=True,
    )


def _verdict(report: Mapping[str, Any]) -> str:
    """Whether the trained policy is good: against the configured target and baseline, if any."""
    target = report.get("target")
    against = report.get("against", {}).get("policy")
    if target is None:
        if against is None:
            return "result: no target configured; compare it with a baseline with the evaluate command below"
        return f"result: return ratio to {against} {report['ratio']['return']:.3f} (no target configured)"
    parts = [
        f"{name} {plain(k['policy'] if k['policy'] is not None else float('nan'))} vs {against} "
        f"{plain(k['baseline'] if k['baseline'] is not None else float('nan'))} (needs >= {k['min_ratio']:g} x)"
        for name, k in target["kpis"].items()
    ]
    verdict = "target met" if target["met"] else "target NOT met: train longer (--timesteps) or tune the hyperparameters"
    return f"result: {verdict}: {'; '.join(parts)}"


def _next_commands(run_dir: Path, report: Mapping[str, Any]) -> list[str]:
    """What to try with a finished run folder: export, evaluate against a baseline, watch."""
    from warehouse_sim.view import default_policy

    env_id, kwargs = report["env_id"], report.get("env_kwargs") or {}
    env_args = f"--env {env_id}" + (f" --env-kwargs {_quote(json.dumps(kwargs))}" if kwargs else "")
    against = report.get("against", {}).get("policy") or default_policy(env_id)
    onnx = run_dir / "policy.onnx"
    return [
        f"warehouse-sim export {_quote(run_dir)} --out {_quote(onnx)}",
        f"warehouse-sim evaluate {env_args} --policy {_quote(onnx)} --episodes 100 --against {against} "
        f"--out {_quote(run_dir / 'report.json')} --plot {_quote(run_dir / 'episode.png')}",
        f"warehouse-sim view {env_args} --policy {_quote(run_dir / 'model.zip')}",
    ]


#: Options of ``train`` that define a new run (refused together with ``--resume``).
_TRAIN_RUN_OPTIONS = ("env", "algo", "timesteps", "seed", "n_envs", "out", "hyperparams", "vec_env", "eval_episodes")
DEFAULT_TRAIN_ENV = "warehouse_sim/Navigation-v0"
#: Hyperparameters of ``warehouse-sim train`` without --env/--algo/--hyperparams: PPO on
#: Navigation-v0 for a few minutes on a laptop (ppo.yml holds the 1.2M-step reference).
QUICKSTART_FILE = "ppo-quickstart.yml"


def _check_env_id(env_id: str) -> None:
    if env_id not in gym.registry:
        known = ", ".join(ENV_IDS)
        raise CliError(f"unknown environment {env_id!r} (known: {known})")


# ---------------------------------------------------------------------------- export
def _cmd_export(args: argparse.Namespace) -> int:
    if not os.path.exists(args.source):
        raise CliError(f"no such run folder or model: {args.source}")
    if not args.out.endswith(".onnx"):
        raise CliError(f"--out must end with .onnx, got {args.out}")
    check_writable(args.out, what="--out")
    if args.env is not None:
        _check_env_id(args.env)
    require_extra("train", *EXPORT_MODULES)
    from warehouse_sim.export import export_onnx

    result = export_onnx(args.source, args.out, env_id=args.env, env_kwargs=args.env_kwargs)
    meta = result.metadata
    print(
        f"exported {meta['algo']} policy for {meta['env_id']} -> {result.onnx_path} (+ {result.sidecar_path.name}); "
        f"observation normalisation {'folded in' if meta['normalization'] else 'none'}"
    )
    return 0


# ---------------------------------------------------------------------------- evaluate
def _check_output(path: str | None, suffixes: tuple[str, ...], option: str) -> None:
    if path is None:
        return
    if not path.lower().endswith(suffixes):
        raise CliError(f"{option} must end with {' or '.join(suffixes)}, got {path}")
    check_writable(path, what=option)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from warehouse_sim.evaluation import evaluate, format_report, trace_episode

    _check_env_id(args.env)
    _check_output(args.out, (".json",), "--out")
    _check_output(args.plot, (".png", ".pdf", ".svg"), "--plot")
    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    if args.against is not None and not args.against.startswith("baseline:"):
        raise CliError(f"--against takes baseline:NAME, got {args.against}")
    if args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    report = evaluate(
        args.env, args.policy, env_kwargs=args.env_kwargs, episodes=args.episodes, seed=args.seed, against=args.against,
        jobs=args.jobs,
    )
    figure = None
    if args.plot:
        from warehouse_sim.plotting import plot_episode

        episode, env = trace_episode(args.env, args.policy, env_kwargs=args.env_kwargs, seed=args.seed)
        try:
            reference = None
            if args.against is not None:
                reference, ref_env = trace_episode(args.env, args.against, env_kwargs=args.env_kwargs, seed=args.seed)
                ref_env.close()
            figure = plot_episode(
                episode, env, name=args.policy, reference=reference, reference_name=args.against,
                title=f"{args.env}, seed {args.seed}",
            )
        finally:
            env.close()
    print(format_report(report))
    if args.out:
        write_json_atomic(args.out, report)
        print(f"report written to {args.out}")
    if figure is not None:
        from warehouse_sim.plotting import save_figure_atomic

        save_figure_atomic(figure, args.plot)
        print(f"plot of episode seed {args.seed} written to {args.plot}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from warehouse_sim.plotting import plot_curves_with_band, save_figure_atomic
    from warehouse_sim.training.sweep import (
        CURVES_FILE,
        RESULTS_FILE,
        SETTINGS_FILE,
        format_sweep,
        learning_curves,
        load_sweep_spec,
        read_sweep_spec,
        resume_sweep,
        run_sweep,
    )

    if args.resume is not None:
        if args.out is not None:
            raise CliError("--resume continues the sweep in its own folder; drop --out")
        if args.spec is not None and load_sweep_spec(args.spec) != read_sweep_spec(args.resume):
            raise CliError(f"{args.spec} is not the sweep in {args.resume} (drop SWEEP.yaml to resume it as it is)")
        result = resume_sweep(args.resume, address=args.address)
    elif args.spec is None:
        raise CliError("give SWEEP.yaml, or --resume DIR")
    else:
        spec = load_sweep_spec(args.spec)
        out = args.out or os.path.join("sweeps", f"{spec.algo}-{spec.env_id.split('/')[-1]}-{time.strftime('%Y%m%d-%H%M%S')}")
        print(f"sweep of {spec.algo.upper()} on {spec.env_id} -> {out}", flush=True)
        result = run_sweep(spec, out, address=args.address)
    figure = plot_curves_with_band(
        learning_curves(result), title=f"{result.spec.algo.upper()} on {result.spec.env_id}: learning curves per setting"
    )
    save_figure_atomic(figure, result.sweep_dir / CURVES_FILE)
    print(format_sweep(result))
    print(f"tables: {result.sweep_dir / SETTINGS_FILE}, {result.sweep_dir / RESULTS_FILE}; curves: {result.sweep_dir / CURVES_FILE}")
    return 0 if all(t.status == "done" for t in result.trials) else 1


# ---------------------------------------------------------------------------- view
def _cmd_view(args: argparse.Namespace) -> int:
    from warehouse_sim.sim.client import GuiInUseError, GuiUnavailableError
    from warehouse_sim.view import view

    _check_env_id(args.env)
    _check_output(args.record, (".mp4", ".gif"), "--record")
    if args.episodes < 1:
        raise CliError(f"--episodes must be at least 1, got {args.episodes}")
    try:
        summary = view(
            args.env,
            policy=args.policy,
            env_kwargs=args.env_kwargs,
            record=args.record,
            episodes=args.episodes,
            seed=args.seed,
            max_steps=args.max_steps,
        )
    except (GuiUnavailableError, GuiInUseError) as exc:
        again = shlex.join(["xvfb-run", "-a", "warehouse-sim", *sys.argv[1:]])
        raise CliError(f"{exc}. To watch on a virtual display: {again}; or record headless with --record FILE.mp4") from None
    print(summary)
    return 0


# ---------------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``warehouse-sim``."""
    parser = _Parser(prog="warehouse-sim", description=(warehouse_sim.__doc__ or "").splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {warehouse_sim.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("envs", help="list the environments: what each is, its spaces, its baselines")
    p.set_defaults(func=_cmd_envs)

    p = sub.add_parser("bench", help="env steps/s and the ratio to the bare physics of the same scene")
    _add_env_args(p, default="")
    p.add_argument("--steps", type=_positive_int, default=None, help="env steps to time (default: about a minute's worth per env)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser(
        "train",
        help="train PPO/DQN headless into a run folder",
        description="Train headless with hyperparameters from training/hyperparams/<algo>.yml. "
        f"Without arguments: PPO on {DEFAULT_TRAIN_ENV} with training/hyperparams/{QUICKSTART_FILE} "
        "(a few minutes), then its evaluation. Ctrl-C saves a checkpoint and prints the --resume command.",
    )
    p.add_argument("--env", default=None, help=f"environment id (default {DEFAULT_TRAIN_ENV})")
    p.add_argument(
        "--env-kwargs", type=_json_object, default={}, metavar="JSON", help="constructor keyword arguments (merged over the hyperparameter file's)"
    )
    p.add_argument(
        "--algo", choices=("ppo", "dqn", "qrdqn", "ppo_mask"), default=None,
        help="algorithm (default ppo; qrdqn and ppo_mask, MaskablePPO, need sb3-contrib)",
    )
    p.add_argument("--timesteps", type=_positive_int, default=None, help="total env steps (default: the hyperparameter file's)")
    p.add_argument("--seed", type=int, default=None, help="seed of the model and the training envs (default 0)")
    p.add_argument("--n-envs", type=_positive_int, default=None, help="parallel envs (default: the hyperparameter file's)")
    p.add_argument("--vec-env", choices=("auto", "subproc", "dummy", "ray"), default=None, help="SubprocVecEnv, DummyVecEnv, or envs in Ray actors (auto: subproc for several envs on more than 2 cores)")
    p.add_argument("--ray-address", default=None, metavar="ADDR", help="with --vec-env ray: the Ray cluster (HOST:PORT, or auto for the one `ray start` runs here; default: a local Ray for the run)")
    p.add_argument("--out", default=None, metavar="DIR", help="new run folder (default runs/<algo>-<env>-<time>)")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue a killed or interrupted run from its last checkpoint")
    p.add_argument("--hyperparams", default=None, metavar="FILE", help="hyperparameter YAML (default training/hyperparams/<algo>.yml)")
    p.add_argument("--eval-episodes", type=_positive_int, default=None, help="episodes of the final evaluation")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a terminal; otherwise a line every 5%%)")
    p.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="SB3 log verbosity")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("export", help="export a trained policy to ONNX with a JSON sidecar")
    p.add_argument("source", metavar="RUN_OR_MODEL", help="run folder or model.zip")
    p.add_argument("--out", required=True, metavar="POLICY.onnx", help="the ONNX file (the sidecar POLICY.json goes next to it)")
    p.add_argument("--env", default=None, help="env id to record (default: the run's; must have the model's spaces)")
    p.add_argument("--env-kwargs", type=_json_object, default=None, metavar="JSON", help="env kwargs to record (default: the run's)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("evaluate", help="evaluate a policy (ONNX, SB3 model or baseline) on seeded episodes")
    _add_env_args(p, default=None)
    p.add_argument("--policy", required=True, help="POLICY.onnx, MODEL.zip, a run folder, sample:MODEL.zip "
                   "(PPO drawing its actions, seeded per episode), or baseline:NAME")
    p.add_argument("--episodes", type=int, default=10, help="number of episodes (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the first episode; episode i uses seed + i")
    p.add_argument("--against", default=None, metavar="baseline:NAME", help="reference evaluated on the same seeds (and drawn in --plot)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes for the episodes (same report; default 1)")
    p.add_argument("--out", default=None, metavar="REPORT.json", help="write the report as JSON")
    p.add_argument("--plot", default=None, metavar="FILE.png", help="plot the KPIs over the first episode (with --against's on the same seed)")
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser(
        "sweep",
        help="Ray Tune over seeds and hyperparameters of a train config: one run folder per trial, ranked",
        description="Run the trials of SWEEP.yaml (see warehouse_sim.training.sweep) on Ray Tune, locally or on a "
        "Ray cluster; write one run folder per trial, results.csv/settings.csv (best first) and learning_curves.png.",
    )
    p.add_argument("spec", nargs="?", default=None, metavar="SWEEP.yaml", help="the sweep (optional with --resume)")
    p.add_argument("--address", default=None, metavar="ADDR", help="Ray cluster (HOST:PORT, or auto; default: a local Ray)")
    p.add_argument("--out", default=None, metavar="DIR", help="new sweep folder (default sweeps/<algo>-<env>-<time>)")
    p.add_argument("--resume", default=None, metavar="DIR", help="continue the sweep in DIR after its driver stopped")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("view", help="watch a policy in the PyBullet GUI (live plot for Inventory), or record a video")
    _add_env_args(p, default=None)
    p.add_argument("--policy", default=None, help="POLICY.onnx, MODEL.zip or baseline:NAME (default: the env's baseline)")
    p.add_argument("--record", default=None, metavar="FILE.mp4|.gif", help="record headless to a video instead of showing")
    p.add_argument("--episodes", type=int, default=1, help="episodes to run (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps in total")
    p.set_defaults(func=_cmd_view)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _interrupted(exc: Any) -> str:
    """The one line ``train`` prints when SIGINT/SIGTERM stopped it: where the checkpoint is, how to resume."""
    if exc.run_dir is None:
        return f"interrupted by {exc.signal_name}"
    again = f"warehouse-sim train --resume {_quote(exc.run_dir)}"
    if exc.checkpoint is None:
        return f"interrupted by {exc.signal_name} before the first checkpoint; start the run again with: {again}"
    return (
        f"interrupted by {exc.signal_name} at {exc.timesteps:,} of {exc.total:,} timesteps; checkpoint saved in "
        f"{exc.checkpoint}; continue with: {again}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt as exc:
        from warehouse_sim.training.control import TrainingInterrupted

        if isinstance(exc, TrainingInterrupted):
            print(f"warehouse-sim {args.command}: {_interrupted(exc)}", file=sys.stderr)
            return exc.exit_code
        print(f"warehouse-sim {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, TypeError, KeyError, OSError, MissingExtraError, gym.error.Error) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        one_line = " ".join(str(message).split())  # e.g. numpy reprs of space bounds span lines
        print(f"warehouse-sim {args.command}: error: {one_line}", file=sys.stderr)
        return EXIT_USAGE
