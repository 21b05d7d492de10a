"""The import rules of shared/DESIGN.md, enforced on the source tree.

Layers (each imports only those below it)::

    cli -> training / export / evaluation -> envs -> tasks -> sim | operations
                                                              sim -> geometry

``sim`` is the only code that imports pybullet; ``operations`` and ``geometry`` are
numpy-only and independent of each other; torch, Stable-Baselines3 and Ray are imported
lazily (inside functions), never at module import time, and Ray only in the training layer.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "warehouse_sim"
HEAVY = ("torch", "stable_baselines3", "sb3_contrib", "ray", "optuna")
#: Modules made of SB3 subclasses (e.g. ``BaseCallback``), which import SB3 at module level.
#: Only functions import them, so no import chain from ``warehouse_sim`` reaches SB3
#: (checked below by importing every other module).
SB3_MODULES = ("training/callbacks.py", "training/ray_vec_env.py")
#: Heavy dependencies that only one layer may import (lazily): Ray (and Optuna, Tune's
#: search algorithm) are the training layer's engine.
ONLY_IN = {"ray": "training", "optuna": "training"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "assets" not in p.parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # also look inside top-level if/try blocks (not functions)
        nodes = [n for top in tree.body if not isinstance(top, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(top)]
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _forbidden(layer: str) -> tuple[str, ...]:
    own = "warehouse_sim."
    pybullet = ("pybullet", "pybullet_data", "pybullet_utils", own + "sim._pybullet")
    rules = {
        "operations": (*pybullet, "gymnasium", *HEAVY, own + "sim", own + "geometry", own + "tasks", own + "envs",
                       own + "policies"),
        "geometry": (*pybullet, "gymnasium", *HEAVY, own + "sim", own + "operations", own + "tasks", own + "envs",
                     own + "policies"),
        "sim": ("gymnasium", *HEAVY, own + "operations", own + "tasks", own + "envs", own + "policies"),
        "tasks": (*HEAVY, *pybullet, own + "envs", own + "policies", own + "cli"),
        "envs": (*HEAVY, *pybullet, own + "policies", own + "cli"),
    }
    return rules.get(layer, pybullet)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_respects_layering(path: Path) -> None:
    forbidden = _forbidden(_layer(path))
    bad = sorted(
        name
        for name in _imports(path, top_level_only=False)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}, forbidden in layer {_layer(path)!r}"


@pytest.mark.parametrize("path", [p for p in _modules() if _layer(p) != "sim"], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_raw_pybullet_outside_sim(path: Path) -> None:
    """Above ``sim``, physics goes through PhysicsClient's methods and sim objects, never its PyBullet handle."""
    tree = ast.parse(path.read_text(), filename=str(path))
    handle = sorted(
        {f"line {node.lineno}" for node in ast.walk(tree)
         if (isinstance(node, ast.Attribute) and node.attr in ("_bc", "_handle"))
         or (isinstance(node, ast.ImportFrom) and any(a.name == "bullet_of" for a in node.names))
         or (isinstance(node, ast.Name) and node.id == "bullet_of")}
    )
    assert not handle, f"{path.relative_to(PACKAGE)} reaches the PyBullet handle at {handle}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_heavy_dependencies_are_imported_lazily(path: Path) -> None:
    if str(path.relative_to(PACKAGE)) in SB3_MODULES:
        return
    eager = sorted(
        n for n in _imports(path, top_level_only=True) if any(n == h or n.startswith(h + ".") for h in HEAVY)
    )
    assert not eager, f"{path.relative_to(PACKAGE)} imports {eager} at module level"


def test_no_module_but_the_sb3_ones_loads_sb3_or_torch_when_imported() -> None:
    names = [
        "warehouse_sim." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in _modules()
        if str(p.relative_to(PACKAGE)) not in SB3_MODULES and p.name != "__main__.py"
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = [m for m in ('torch', 'stable_baselines3', 'sb3_contrib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_ray_is_imported_only_by_the_training_layer(path: Path) -> None:
    layer = _layer(path)
    bad = sorted(
        name
        for name in _imports(path, top_level_only=False)
        for dependency, owner in ONLY_IN.items()
        if (name == dependency or name.startswith(dependency + ".")) and layer != owner
    )
    assert not bad, f"{path.relative_to(PACKAGE)} imports {bad} outside the layer that owns it"


def test_import_and_make_do_not_load_torch() -> None:
    code = (
        "import sys, gymnasium as gym, warehouse_sim\n"
        "for env_id in warehouse_sim.ENV_IDS:\n"
        "    gym.make(env_id).close()\n"
        "assert not [m for m in ('torch', 'stable_baselines3', 'ray') if m in sys.modules], sys.modules.keys()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
