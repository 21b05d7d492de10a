"""Figures of one evaluated episode and of learning curves (matplotlib, Agg backend).

Functions return a :class:`matplotlib.figure.Figure`; :func:`save_figure_atomic` writes
it through a temporary file, so a failed save never leaves a partial image.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from warehouse_sim.evaluation import EpisodeResult

if TYPE_CHECKING:
    import gymnasium as gym
    from matplotlib.figure import Figure

#: Per-SKU series drawn for inventory episodes: (info["period"] key, panel title).
INVENTORY_SERIES: tuple[tuple[str, str], ...] = (
    ("on_hand", "stock on hand (units, end of period)"),
    ("on_order", "pipeline (units on order)"),
    ("price", "price"),
    ("demand", "demand (units)"),
    ("lost", "lost sales (units)"),
)


def _new_figure(n_panels: int, *, width: float = 10.0, panel_height: float = 2.0) -> tuple[Figure, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, panel_height * n_panels + 0.6), layout="constrained")
    axes = fig.subplots(n_panels, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def plot_episode(episode: EpisodeResult, env: gym.Env[Any, Any], *, title: str = "") -> Figure:
    """Draw the KPIs of a traced episode (:func:`warehouse_sim.evaluation.trace_episode`).

    Inventory episodes (``info["period"]``): stock, pipeline, price, demand and lost
    sales per period, one line per SKU (totals beyond five SKUs), plus cumulative
    profit. Navigation episodes (records with ``"pose"``): the trajectory on the map and
    the straight-line distance to the goal over time. Other envs: reward and return.
    """
    if episode.trace is None or not episode.trace:
        raise ValueError("the episode has no trace (run it with trace=True)")
    first = episode.trace[0]["info"]
    if isinstance(first.get("period"), dict):
        fig = _plot_inventory(episode.trace)
    elif "pose" in episode.trace[0]:
        fig = _plot_navigation(episode.trace, env)
    else:
        fig = _plot_generic(episode.trace)
    fig.suptitle(f"{title}\nreturn {episode.episode_return:.4g}, {episode.length} steps".strip())
    return fig


def _plot_inventory(trace: Sequence[dict[str, Any]]) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10.0, 2.0 * (len(INVENTORY_SERIES) + 1) + 0.6), layout="constrained")
    draw_inventory(fig, trace)
    return fig


def draw_inventory(fig: Figure, trace: Sequence[dict[str, Any]]) -> None:
    """Clear ``fig`` and draw the inventory panels of ``trace`` (also used live by ``view``)."""
    fig.clear()
    periods = np.arange(1, len(trace) + 1)
    axes = fig.subplots(len(INVENTORY_SERIES) + 1, 1, sharex=True, squeeze=False)[:, 0]
    for ax, (key, label) in zip(axes, INVENTORY_SERIES, strict=False):
        values = np.array([np.atleast_1d(r["info"]["period"][key]) for r in trace], dtype=np.float64)
        if values.shape[1] > 5:
            values = values.sum(axis=1, keepdims=True) if key != "price" else values.mean(axis=1, keepdims=True)
            names = ["mean over SKUs" if key == "price" else "all SKUs"]
        else:
            names = [f"SKU {i}" for i in range(values.shape[1])]
        step = key in ("on_hand", "on_order", "price")
        for column, name in zip(values.T, names, strict=False):
            if step:
                ax.step(periods, column, where="post", label=name)
            else:
                ax.plot(periods, column, label=name)
        ax.set_ylabel(label, fontsize=8)
        if len(names) > 1:
            ax.legend(fontsize=7, loc="upper right")
    profit = [float(r["info"]["cumulative"]["profit"]) for r in trace]
    axes[-1].plot(periods, profit, color="black")
    axes[-1].set_ylabel("cumulative profit", fontsize=8)
    axes[-1].set_xlabel("period")


def _plot_navigation(trace: Sequence[dict[str, Any]], env: gym.Env[Any, Any]) -> Figure:
    from matplotlib.figure import Figure

    nav: Any = env.unwrapped
    layout = nav.layout
    poses = np.array([r["pose"][:2] for r in trace], dtype=np.float64)
    goal = np.array(layout.cell_to_world(*nav.goal_cell))
    width, depth = layout.size
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax_map, ax_dist = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ax_map.imshow(
        layout.occupancy, origin="lower", extent=(0, width, 0, depth), cmap="Greys", vmin=0, vmax=1.6, alpha=0.9
    )
    ax_map.plot(poses[:, 0], poses[:, 1], color="tab:blue", lw=1.5, label="trajectory")
    ax_map.plot(*poses[0], "o", color="tab:green", label="start")
    ax_map.plot(*goal, "*", color="tab:red", ms=12, label="goal")
    ax_map.set_xlabel("x (m)")
    ax_map.set_ylabel("y (m)")
    ax_map.set_aspect("equal")
    ax_map.legend(fontsize=8, loc="upper right")
    t = np.arange(1, len(trace) + 1)
    ax_dist.plot(t, np.linalg.norm(poses - goal, axis=1), color="tab:blue")
    ax_dist.set_xlabel("step")
    ax_dist.set_ylabel("straight-line distance to goal (m)")
    last = trace[-1]["info"]
    ax_dist.set_title(
        f"success {bool(last.get('is_success'))}, collisions {last.get('collisions', 0)}, SPL {last.get('spl', 0):.2f}",
        fontsize=9,
    )
    return fig


def _plot_generic(trace: Sequence[dict[str, Any]]) -> Figure:
    fig, axes = _new_figure(2)
    rewards = np.array([r["reward"] for r in trace])
    t = np.arange(1, len(trace) + 1)
    axes[0].plot(t, rewards)
    axes[0].set_ylabel("reward")
    axes[1].plot(t, np.cumsum(rewards))
    axes[1].set_ylabel("return so far")
    axes[1].set_xlabel("step")
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
    """Save ``fig`` to ``path`` (format from the suffix) via a temporary file and ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
