"""Figures of one evaluated episode and of learning curves (matplotlib, Agg backend).

Functions return a :class:`matplotlib.figure.Figure`; :func:`save_figure_atomic` writes
it through a temporary file, so a failed save never leaves a partial image. Axes state
their units (units of stock, currency units, metres, simulated seconds).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from warehouse_sim._files import atomic_path
from warehouse_sim._format import plain
from warehouse_sim.evaluation import EpisodeResult

if TYPE_CHECKING:
    import gymnasium as gym
    from matplotlib.figure import Figure

#: Per-SKU series drawn for inventory episodes: (info["period"] key, panel label with units).
INVENTORY_SERIES: tuple[tuple[str, str], ...] = (
    ("on_hand", "stock on hand\n(units, end of period)"),
    ("on_order", "pipeline\n(units on order)"),
    ("price", "price\n(currency units)"),
    ("demand", "demand\n(units per period)"),
    ("lost", "lost sales\n(units per period)"),
)
#: Line styles: the policy solid, the reference (``--against``) dashed.
_STYLES = ({"ls": "-", "lw": 1.6}, {"ls": "--", "lw": 1.3})
#: Colours per SKU (and for totals).
_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _new_figure(n_panels: int, *, width: float = 10.0, panel_height: float = 2.0) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, panel_height * n_panels + 0.6), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def plot_episode(
    episode: EpisodeResult,
    env: gym.Env[Any, Any],
    *,
    name: str = "policy",
    reference: EpisodeResult | None = None,
    reference_name: str | None = None,
    title: str = "",
) -> Figure:
    """Draw the KPIs of a traced episode (:func:`warehouse_sim.evaluation.trace_episode`), with a reference.

    ``reference`` is another policy's traced episode on the same seed (same demand
    draws, same start and goal), drawn dashed on the same axes. Inventory-style episodes
    (``info["period"]``: Inventory-v0, Fulfilment-v0) show stock, pipeline, price,
    demand and lost sales per period (one line per SKU, totals beyond five SKUs) and the
    cumulative profit, in units and currency units; the title gives each profit and
    states the reward scale (the return is profit / ``reward_scale``). Navigation
    episodes (records with ``"pose"``) show the trajectories on the map and the
    straight-line distance to the goal over time. Fulfilment episodes show, per SKU
    class, the mean price, stock on hand and pipeline, and the order backlog, the
    fleet's utilisation per decision epoch and the cumulative profit, over the shift
    clock (:func:`fulfilment_series`). Other envs: reward and return.
    """
    runs = [(name, episode)] + ([(reference_name or "reference", reference)] if reference is not None else [])
    for label, run in runs:
        if not run.trace:
            raise ValueError(f"the episode of {label} has no trace (run it with trace=True)")
    first = (episode.trace or [{}])[0]
    info = first.get("info", {})
    if isinstance(info.get("period"), dict):
        fig = _plot_fulfilment(runs, env) if "backlog" in info else _plot_inventory(runs, env)
    elif "pose" in first:
        fig = _plot_navigation(runs, env)
    else:
        fig = _plot_generic(runs)
    heading = "\n".join(_run_summary(label, run, env) for label, run in runs)
    fig.suptitle(f"{title}\n{heading}".strip(), fontsize=9)
    return fig


def _reward_scale(env: gym.Env[Any, Any]) -> float | None:
    """Money per unit of reward, for envs with an operations model."""
    base: Any = env.unwrapped
    task = getattr(base, "task", None)
    scale = getattr(task, "reward_scale", None)
    return float(scale) if scale is not None else None


def _run_summary(label: str, run: EpisodeResult, env: gym.Env[Any, Any]) -> str:
    """One title line: the profit in currency units (with the reward scale) or the return, and the length."""
    last = run.trace[-1]["info"] if run.trace else {}
    scale = _reward_scale(env)
    if isinstance(last.get("cumulative"), dict) and scale is not None:
        profit = float(last["cumulative"]["profit"])
        return f"{label}: profit {plain(profit)} currency units (return {plain(run.episode_return)} = profit / reward_scale {plain(scale)}), {run.length} steps"
    extra = ""
    if "is_success" in last:
        extra = f", success {bool(last['is_success'])}, SPL {plain(float(last.get('spl', 0.0)), 3)}"
    return f"{label}: return {plain(run.episode_return)}, {run.length} steps{extra}"


def _period_label(env: gym.Env[Any, Any]) -> str:
    model = getattr(env.unwrapped, "model", None)
    hours = getattr(getattr(model, "scenario", None), "period_hours", None)
    if hours is None:
        return "period"
    return f"period ({plain(hours * 60)} simulated minutes)" if hours < 1 else f"period ({plain(hours)} simulated hours)"


def _plot_inventory(runs: Sequence[tuple[str, EpisodeResult]], env: gym.Env[Any, Any]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 1.9 * (len(INVENTORY_SERIES) + 1) + 1.2), layout="constrained")
    draw_inventory(fig, [(label, run.trace or []) for label, run in runs], period_label=_period_label(env))
    return fig


def draw_inventory(
    fig: Figure, traces: Sequence[tuple[str, Sequence[dict[str, Any]]]], *, period_label: str = "period"
) -> None:
    """Clear ``fig`` and draw the inventory panels of ``traces`` (``(label, trace)``; also used live by ``view``).

    The first trace is drawn solid, a second (a reference on the same seed) dashed.
    """
    fig.clear()
    axes = fig.subplots(len(INVENTORY_SERIES) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for run, ((label, trace), style) in enumerate(zip(traces, _STYLES, strict=False)):
        periods = np.arange(1, len(trace) + 1)
        for ax, (key, ylabel) in zip(axes, INVENTORY_SERIES, strict=False):
            values = np.array([np.atleast_1d(r["info"]["period"][key]) for r in trace], dtype=np.float64)
            if values.shape[1] > 5:
                values = values.sum(axis=1, keepdims=True) if key != "price" else values.mean(axis=1, keepdims=True)
                names = ["mean over SKUs" if key == "price" else "all SKUs"]
            else:
                names = [f"SKU {i}" for i in range(values.shape[1])]
            # One series per run: a colour per run; several SKUs: a colour per SKU, the run by line style.
            colours = _COLOURS[run:] if values.shape[1] == 1 else _COLOURS
            for column, sku, colour in zip(values.T, names, colours, strict=False):
                kind = {"drawstyle": "steps-post"} if key in ("on_hand", "on_order", "price") else {}
                shown = f"{sku} ({short_label(label)})" if len(traces) > 1 else sku
                ax.plot(periods, column, color=colour, label=shown, **style, **kind)
            ax.set_ylabel(ylabel, fontsize=8)
        profit = [float(r["info"]["cumulative"]["profit"]) for r in trace]
        axes[-1].plot(periods, profit, color="black", label=short_label(label), **style)
    for ax in axes[:-1]:
        if len(ax.get_lines()) > 1:
            ax.legend(fontsize=6, loc="upper right", ncol=2)
    axes[-1].set_ylabel("cumulative profit\n(currency units)", fontsize=8)
    axes[-1].axhline(0.0, color="grey", lw=0.6)
    axes[-1].legend(fontsize=7, loc="upper left")
    axes[-1].set_xlabel(period_label)


#: Fulfilment panels: (:func:`fulfilment_series` key, panel label with units).
FULFILMENT_SERIES: tuple[tuple[str, str], ...] = (
    ("price", "price per class\n(mean, currency units)"),
    ("on_hand", "stock on hand per class\n(units, end of epoch)"),
    ("on_order", "pipeline per class\n(units on order)"),
    ("backlog", "backlog\n(open orders, end of epoch)"),
    ("utilisation", "fleet utilisation\n(busy share, per epoch)"),
    ("profit", "cumulative profit\n(currency units)"),
)
#: Fulfilment series that hold for a whole epoch (drawn as steps); the others are end-of-epoch states.
_PER_EPOCH = frozenset({"price", "utilisation"})


def fulfilment_series(trace: Sequence[dict[str, Any]], classes: np.ndarray) -> dict[str, np.ndarray]:
    """The series of a traced Fulfilment episode that :func:`plot_episode` draws.

    Args:
        trace: Per-step records (``info`` of every decision epoch).
        classes: ``(n_skus,)`` price class of each SKU (0 = A, the fastest movers).

    Returns:
        ``hours`` ``(T,)`` shift clock at the end of each epoch; ``price`` ``(T, n_classes)``
        mean price of the class's SKUs; ``on_hand`` and ``on_order`` ``(T, n_classes)``
        units summed over the class; ``backlog`` ``(T,)`` open orders; ``utilisation``
        ``(T,)`` the fleet's busy share within each epoch (from the cumulative
        ``robot_utilisation``); ``profit`` ``(T,)`` cumulative profit.
    """
    classes = np.asarray(classes)
    n_classes = int(classes.max()) + 1
    seconds = np.array([float(r["info"]["sim_time_s"]) for r in trace])
    out: dict[str, np.ndarray] = {"hours": seconds / 3600.0}
    for key in ("price", "on_hand", "on_order"):
        values = np.array([np.asarray(r["info"]["period"][key], dtype=np.float64) for r in trace])
        per_class = np.stack([values[:, classes == k].sum(axis=1) for k in range(n_classes)], axis=1)
        out[key] = per_class / np.bincount(classes, minlength=n_classes) if key == "price" else per_class
    busy = np.array([float(r["info"]["robot_utilisation"]) for r in trace]) * seconds  # robot-seconds / n
    out["utilisation"] = np.diff(busy, prepend=0.0) / np.diff(seconds, prepend=0.0)
    out["backlog"] = np.array([float(r["info"]["backlog"]) for r in trace])
    out["profit"] = np.array([float(r["info"]["cumulative"]["profit"]) for r in trace])
    return out


def _plot_fulfilment(runs: Sequence[tuple[str, EpisodeResult]], env: gym.Env[Any, Any]) -> Figure:
    base: Any = env.unwrapped
    classes = np.asarray(base.task.classes)
    fig, axes = _new_figure(len(FULFILMENT_SERIES), panel_height=1.7)
    for (label, run), style in zip(runs, _STYLES, strict=False):
        series = fulfilment_series(run.trace or [], classes)
        edges = np.concatenate([[0.0], series["hours"]])
        for ax, (key, ylabel) in zip(axes, FULFILMENT_SERIES, strict=True):
            values = series[key]
            columns = values.T if values.ndim == 2 else values[None, :]
            for k, column in enumerate(columns):
                name = f"class {'ABCDEFGH'[k] if k < 8 else k}" if values.ndim == 2 else short_label(label)
                shown = f"{name} ({short_label(label)})" if values.ndim == 2 and len(runs) > 1 else name
                colour = _COLOURS[k % len(_COLOURS)] if values.ndim == 2 else "black"
                if key in _PER_EPOCH:  # decided for, or measured over, the epoch: a step across it
                    ax.stairs(column, edges, color=colour, label=shown, baseline=None, **style)
                else:  # a state at the end of each epoch
                    ax.plot(series["hours"], column, color=colour, label=shown, marker=".", ms=3, **style)
            ax.set_ylabel(ylabel, fontsize=8)
    for ax in axes[:-1]:
        ax.legend(fontsize=6, loc="upper right", ncol=2)
    axes[-1].legend(fontsize=7, loc="upper left")
    axes[-1].axhline(0.0, color="grey", lw=0.6)
    axes[-1].set_xlabel("shift clock (simulated hours)")
    return fig


def short_label(label: str) -> str:
    """A legend label: a policy file as its last two path parts (``dqn-inventory/policy.onnx``), anything else as is."""
    path = Path(label)
    return str(Path(*path.parts[-2:])) if len(path.parts) > 2 else label


def _plot_navigation(runs: Sequence[tuple[str, EpisodeResult]], env: gym.Env[Any, Any]) -> Figure:
    from matplotlib.figure import Figure

    nav: Any = env.unwrapped
    layout = nav.layout
    goal = np.array(layout.cell_to_world(*nav.goal_cell))
    width, depth = layout.size
    fig = Figure(figsize=(11, 5.4), layout="constrained")
    ax_map, ax_dist = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ax_map.imshow(
        layout.occupancy, origin="lower", extent=(0, width, 0, depth), cmap="Greys", vmin=0, vmax=1.6, alpha=0.9
    )
    for (label, run), style, colour in zip(runs, _STYLES, ("tab:blue", "tab:orange"), strict=False):
        trace = run.trace or []
        poses = np.array([r["pose"][:2] for r in trace], dtype=np.float64)
        ax_map.plot(poses[:, 0], poses[:, 1], color=colour, label=short_label(label), **style)
        ax_map.plot(*poses[0], "o", color="tab:green")
        t = np.arange(1, len(trace) + 1) * float(getattr(nav, "sim_seconds_per_step", 1.0))
        ax_dist.plot(t, np.linalg.norm(poses - goal, axis=1), color=colour, label=short_label(label), **style)
    ax_map.plot(*goal, "*", color="tab:red", ms=12, label="goal")
    ax_map.set_xlabel("x (m)")
    ax_map.set_ylabel("y (m)")
    ax_map.set_aspect("equal")
    ax_map.legend(fontsize=8, loc="upper right")
    ax_dist.set_xlabel("simulated time (s)")
    ax_dist.set_ylabel("straight-line distance to goal (m)")
    ax_dist.legend(fontsize=8)
    return fig


def _plot_generic(runs: Sequence[tuple[str, EpisodeResult]]) -> Figure:
    fig, axes = _new_figure(2)
    for (label, run), style in zip(runs, _STYLES, strict=False):
        rewards = np.array([r["reward"] for r in run.trace or []])
        t = np.arange(1, len(rewards) + 1)
        axes[0].plot(t, rewards, label=short_label(label), **style)
        axes[1].plot(t, np.cumsum(rewards), label=short_label(label), **style)
    axes[0].set_ylabel("reward")
    axes[1].set_ylabel("return so far")
    axes[1].set_xlabel("step")
    axes[1].legend(fontsize=8)
    return fig


def read_monitor(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episodes from the SB3 Monitor CSVs in ``folder``, in wall-clock order.

    Returns:
        ``(timesteps, returns, wall_time_s)``: cumulative env steps at each episode's
        end (summed over all envs), the episode's return, and seconds since training
        started.
    """
    rows: list[tuple[float, float, int]] = []
    for file in sorted(Path(folder).glob("*.monitor.csv")):
        with file.open() as f:
            header = json.loads(f.readline().lstrip("#"))
            t0 = float(header.get("t_start", 0.0))
            for row in csv.DictReader(f):
                rows.append((t0 + float(row["t"]), float(row["r"]), int(row["l"])))
    if not rows:
        raise FileNotFoundError(f"no monitor logs (*.monitor.csv) in {folder}")
    rows.sort()
    wall = np.array([r[0] for r in rows])
    return np.cumsum([r[2] for r in rows]), np.array([r[1] for r in rows]), wall - wall[0]


def read_evaluations(run_dir: str | Path) -> list[dict[str, Any]]:
    """The periodic evaluations of a run (``evaluations.jsonl``), in order."""
    path = Path(run_dir) / "evaluations.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_learning_curve(
    run_dir: str | Path,
    *,
    title: str = "",
    kpi: str | None = None,
    reference: float | None = None,
    reference_label: str = "baseline",
    window: int = 50,
) -> Figure:
    """Learning curve of a run, as a matplotlib figure.

    Training episode return (moving average over ``window`` episodes, from the monitor logs) and the periodic deterministic evaluations, against
    timesteps; optionally one evaluation KPI (e.g. ``"is_success"``) on a second panel
    with a reference level (e.g. the baseline's).
    """
    steps, returns, _ = read_monitor(Path(run_dir) / "monitor")
    evaluations = read_evaluations(run_dir)
    fig, axes = _new_figure(2 if kpi else 1, width=8.0, panel_height=3.0)
    ax = axes[0]
    k = max(1, min(window, len(returns)))
    smooth = np.convolve(returns, np.ones(k) / k, mode="valid")
    ax.plot(steps, returns, color="tab:blue", alpha=0.15, lw=0.8)
    ax.plot(steps[k - 1 :], smooth, color="tab:blue", label=f"training (mean of {k} episodes)")
    if evaluations:
        ax.plot([e["timesteps"] for e in evaluations], [e["return"] for e in evaluations], "o-", color="tab:orange", ms=3, label="evaluation (deterministic)")
    ax.set_ylabel("episode return")
    ax.legend(fontsize=8)
    if kpi:
        values = [(e["timesteps"], e["kpis"][kpi]) for e in evaluations if kpi in e["kpis"]]
        if values:
            axes[1].plot(*zip(*values, strict=False), "o-", color="tab:orange", ms=3, label="evaluation")
        if reference is not None:
            axes[1].axhline(reference, color="black", ls="--", lw=1, label=reference_label)
        axes[1].set_ylabel(kpi)
        axes[1].legend(fontsize=8)
    axes[-1].set_xlabel("timesteps")
    if title:
        fig.suptitle(title)
    return fig


def plot_curves_with_band(
    curves: Sequence[tuple[str, Sequence[tuple[np.ndarray, np.ndarray]]]],
    *,
    title: str = "",
    ylabel: str = "evaluation return",
) -> Figure:
    """Learning curves of several settings, each over several seeds: mean line, min-max band.

    Args:
        curves: Per setting, its label and per seed ``(timesteps, values)`` (shapes ``(n,)``,
            timesteps increasing). The seeds' curves are interpolated onto the timesteps of
            all of them, within the range they share.
        title: Figure title.
        ylabel: Label of the y axis.
    """
    fig, axes = _new_figure(1, width=8.0, panel_height=4.0)
    ax = axes[0]
    for label, runs in curves:
        runs = [(x, y) for x, y in runs if len(x)]
        if not runs:
            continue
        lo, hi = max(x[0] for x, _ in runs), min(x[-1] for x, _ in runs)
        grid = np.unique(np.concatenate([x for x, _ in runs]))
        grid = grid[(grid >= lo) & (grid <= hi)] if hi >= lo else runs[0][0]
        values = np.array([np.interp(grid, x, y) for x, y in runs])
        (line,) = ax.plot(grid, values.mean(axis=0), "o-", ms=3, label=f"{label} ({len(runs)} seeds)")
        if len(runs) > 1:
            ax.fill_between(grid, values.min(axis=0), values.max(axis=0), color=line.get_color(), alpha=0.2)
    ax.set_xlabel("timesteps")
    ax.set_ylabel(f"{ylabel}\n(line: mean over seeds, band: min-max)")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def save_figure_atomic(fig: Figure, path: str | Path, *, dpi: int = 110) -> None:
    """Save ``fig`` to ``path`` (format from the suffix) atomically (see :func:`warehouse_sim._files.atomic_path`)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
