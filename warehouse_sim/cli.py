"""The ``warehouse-sim`` command line: a thin adapter over functions that return data.

Every error a user can cause (bad arguments, unknown ids, missing or corrupt files,
mismatched spaces) prints one line to stderr and exits with code 2: no traceback and
no partial output file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym

import warehouse_sim
from warehouse_sim.registration import ENV_IDS

EXIT_USAGE = 2


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


def _cmd_envs(args: argparse.Namespace) -> int:
    for env_id in ENV_IDS:
        env = gym.make(env_id)
        try:
            print(f"{env_id}\n  observation: {env.observation_space}\n  action:      {env.action_space}")
        finally:
            env.close()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from warehouse_sim.bench import format_bench, run_bench

    env_ids = [args.env] if args.env else [e for e in ENV_IDS]
    results = [run_bench(env_id, env_kwargs=args.env_kwargs, steps=args.steps, seed=args.seed) for env_id in env_ids]
    for result in results:
        print(format_bench(result))
    if args.json:
        _write_json_atomic(args.json, results if len(results) > 1 else results[0])
    return 0


def _write_json_atomic(path: str, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and ``os.replace``."""
    import os
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``warehouse-sim``."""
    parser = argparse.ArgumentParser(prog="warehouse-sim", description=warehouse_sim.__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {warehouse_sim.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("envs", help="list the environments with their spaces")
    p.set_defaults(func=_cmd_envs)

    p = sub.add_parser("bench", help="env steps/s and the ratio to the bare physics of the same scene")
    _add_env_args(p, default="")
    p.add_argument("--steps", type=int, default=5_000, help="env steps to time")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except KeyboardInterrupt:
        print("warehouse-sim: interrupted", file=sys.stderr)
        return 130
    except (CliError, ValueError, TypeError, KeyError, FileNotFoundError, gym.error.Error) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"warehouse-sim {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
