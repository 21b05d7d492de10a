"""Re-evaluate every shipped result and check it reproduces its ``eval.json`` exactly.

Shipped results (``training/results/<name>/``) are promises: after any change, the
exported policy and the baseline it was compared with must score the same returns on the
same seeds. This re-runs both (the ONNX policy through onnxruntime, the baseline through
its policy factory) with the ``env_id``, ``env_kwargs`` and seeds recorded in
``eval.json`` and compares the per-episode returns::

    python training/check_results.py                    # every result
    python training/check_results.py --only ppo-fulfilment --jobs 2

It prints one line per result and exits 1 if any episode return differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from warehouse_sim.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "training" / "results"


def check(name: str, *, jobs: int) -> tuple[bool, str]:
    """Re-evaluate result ``name``; return (identical, a one-line summary)."""
    recorded: dict[str, Any] = json.loads((RESULTS / name / "eval.json").read_text())
    first, last = recorded["seeds"]
    common = {"env_kwargs": recorded["env_kwargs"], "episodes": last - first + 1, "seed": first, "jobs": jobs}
    t0 = time.perf_counter()
    lines, same = [], True
    specs = [("policy", str(RESULTS / name / "policy.onnx"), recorded["returns"])]
    if recorded.get("against"):
        specs.append(("against", recorded["against"]["policy"], recorded["against"]["returns"]))
    for label, spec, want in specs:
        got = evaluate(recorded["env_id"], spec, **common)["returns"]
        equal = got == want
        same &= equal
        lines.append(f"{label} {'identical' if equal else 'DIFFERENT'} (mean {sum(got) / len(got):.4f})")
    return same, f"{name}: {', '.join(lines)} [{time.perf_counter() - t0:.0f} s]"


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = sorted(p.name for p in RESULTS.iterdir() if (p / "eval.json").is_file())
    parser.add_argument("--only", action="append", choices=names, help="check only this result (repeatable)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes per evaluation")
    args = parser.parse_args(argv)
    ok = True
    for name in args.only or names:
        same, line = check(name, jobs=args.jobs)
        ok &= same
        print(line, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
