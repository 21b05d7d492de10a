"""Watch a policy act: live in the PyBullet GUI, or recorded headless to a video.

Physics envs (those with a ``"human"`` render mode) open the PyBullet GUI, the camera
framing the whole scene (every body's bounding box, for every env), with a text overlay
of the KPIs, paced at the env's ``render_fps``; Ctrl-C stops quietly with a summary.
With ``record`` they render ``rgb_array`` frames headless into an ``.mp4`` or ``.gif``:

- one frame per step, with a dark strip above it holding the KPIs under readable names
  (``success``, ``SPL``, ``path (m)``), in plain numbers;
- for envs whose step spans a long stretch of simulated time and that offer
  ``recent_frames()`` (Fulfilment-v0), every frame captured during the step, beside a
  side panel: the shift clock, profit so far, orders shipped / late / open, the robots
  by job (drawn in the same colours on the floor: pick, put-away, idle), and per SKU
  class a stock bar (on hand, in the dock, on order, against capacity) with its price
  level.

Envs without physics (Inventory-v0) show a live matplotlib plot of the episode instead,
and ``record`` writes the plot's frames.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim._files import atomic_path
from warehouse_sim._format import plain
from warehouse_sim._native import quiet_native_output
from warehouse_sim.evaluation import kpi_scalars, load_policy, run_episode
from warehouse_sim.policies.registry import BASELINES

#: KPIs shown first when present (the rest follow alphabetically), with readable labels
#: and how to show their values: "yes/no", "%" (a fraction), "int", or plain numbers.
_KPI_LABELS: dict[str, tuple[str, str]] = {
    "is_success": ("success", "yes/no"),
    "spl": ("SPL", ""),
    "collisions": ("collisions", "int"),
    "path_length": ("path (m)", ""),
    "shortest_path_length": ("shortest path (m)", ""),
    "cumulative.profit": ("profit so far", ""),
    "cumulative.fill_rate": ("fill rate", "%"),
    "orders_shipped": ("orders shipped", "int"),
    "orders_late": ("orders late", "int"),
    "backlog": ("open orders", "int"),
    "robot_utilisation": ("robot utilisation", "%"),
    "order_cycle_time_s": ("order cycle time (s)", ""),
    "distance_m": ("fleet distance (m)", ""),
}
_MAX_OVERLAY_KPIS = 6
#: Frame colours (RGB).
_PANEL_RGB, _TEXT_RGB, _DIM_RGB = (28, 30, 36), (240, 240, 240), (160, 165, 175)
_STOCK_RGB, _DOCK_RGB, _ORDER_RGB = (60, 180, 90), (235, 190, 60), (90, 150, 235)
PANEL_WIDTH = 320


def default_policy(env_id: str) -> str:
    """The baseline shown when no policy is given: the env's own baseline, else random."""
    for name, spec in BASELINES.items():
        if env_id in spec.env_ids:
            return f"baseline:{name}"
    return "baseline:random"


def kpi_text(name: str, value: float) -> str:
    """``name value`` as a person reads it: ``"success yes"``, ``"fill rate 95%"``, ``"profit so far 12,345"``."""
    label, kind = _KPI_LABELS.get(name, (_readable(name), ""))
    if kind == "yes/no":
        shown = "yes" if value else "no"
    elif kind == "%":
        shown = f"{100 * value:.0f}%"
    elif kind == "int":
        shown = f"{int(round(value)):,}"
    else:
        shown = plain(value, 3)
    return f"{label} {shown}"


def _readable(name: str) -> str:
    """``pick_time_s`` -> ``pick time (s)``, ``cumulative.revenue`` -> ``cumulative revenue``."""
    for suffix, unit in (("_s", "s"), ("_m", "m"), ("_kg", "kg")):
        if name.endswith(suffix):
            return f"{_readable(name.removesuffix(suffix))} ({unit})"
    return name.replace(".", " ").replace("_", " ")


def overlay_lines(step: int, episode_return: float, info: Mapping[str, Any]) -> list[str]:
    """The overlay text: step, return so far and the leading KPIs of ``info``, readable."""
    kpis = kpi_scalars(info)
    names = [k for k in _KPI_LABELS if k in kpis] + sorted(k for k in kpis if k not in _KPI_LABELS)
    lines = [f"step {step}   return {plain(episode_return, 3)}"]
    lines += [kpi_text(name, kpis[name]) for name in names[:_MAX_OVERLAY_KPIS]]
    return lines


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def with_banner(frame: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """``frame`` with a dark strip above it holding ``lines`` in two columns (white text)."""
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
    font, line_h = _font(13), 16
    rows = (len(lines) + 1) // 2
    out = Image.new("RGB", (image.width, image.height + rows * line_h + 8), _PANEL_RGB)
    out.paste(image, (0, rows * line_h + 8))
    draw = ImageDraw.Draw(out)
    for i, line in enumerate(lines):
        draw.text((6 + (i // rows) * image.width // 2, 4 + (i % rows) * line_h), line, fill=_TEXT_RGB, font=font)
    return np.asarray(out)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def fulfilment_frame(frame: np.ndarray, sim_s: float, kpis: Mapping[str, Any], env: gym.Env[Any, Any]) -> np.ndarray:
    """A Fulfilment-v0 floor frame beside its side panel (see the module docstring).

    Args:
        frame: The top-down floor, robots coloured by job.
        sim_s: Simulated seconds since the shift started.
        kpis: The frame's KPIs (``recent_frames()``), with ``"operations"`` (``frame_state()``).
        env: The env (its task's SKU classes and price levels, the model's capacities).

    Returns:
        ``(height, width + PANEL_WIDTH, 3)`` uint8 RGB.
    """
    from PIL import Image, ImageDraw

    base: Any = env.unwrapped
    image = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
    panel = Image.new("RGB", (PANEL_WIDTH, max(image.height, 430)), _PANEL_RGB)
    draw = ImageDraw.Draw(panel)
    y = _draw_business(draw, sim_s, base.scenario.shift_hours * 3600.0, kpis)
    _draw_stock_classes(draw, y, base, kpis["operations"])
    out = Image.new("RGB", (image.width + PANEL_WIDTH, panel.height), _PANEL_RGB)
    out.paste(image, (0, 0))
    out.paste(panel, (image.width, 0))
    return np.asarray(out)


def _draw_business(draw: Any, sim_s: float, shift_s: float, kpis: Mapping[str, Any]) -> int:
    """The panel's top: clock, profit so far, orders, robots by job (with their floor colours); returns the next y."""
    from warehouse_sim.sim.render import JOB_RGB

    big, font = _font(17), _font(14)
    state = kpis["operations"]
    draw.text((10, 8), f"shift clock {_clock(sim_s)} / {_clock(shift_s)}", fill=_TEXT_RGB, font=big)
    draw.text((10, 36), f"profit so far  {plain(float(state['profit']))}", fill=_TEXT_RGB, font=big)
    orders = f"orders shipped {kpis['orders_shipped']:,}   late {kpis['orders_late']:,}   open {kpis['backlog']:,}"
    draw.text((10, 64), orders, fill=_TEXT_RGB, font=font)
    jobs, x, y = list(state["robot_jobs"]), 10, 88
    for kind, label in (("pick", "pick"), ("putaway", "put-away"), ("idle", "idle")):
        draw.rectangle((x, y + 3, x + 10, y + 13), fill=JOB_RGB[kind])
        text = f"{label} {jobs.count(kind)}"
        draw.text((x + 14, y), text, fill=_TEXT_RGB, font=font)
        x += 24 + int(draw.textlength(text, font=font))
    draw.line((10, y + 26, PANEL_WIDTH - 10, y + 26), fill=_DIM_RGB)
    return y + 34


def _draw_stock_classes(draw: Any, y: int, base: Any, state: Mapping[str, Any]) -> None:
    """Per SKU class: its price level among its levels, and a stock bar (on hand, dock, on order, capacity)."""
    task, font, small = base.task, _font(14), _font(12)
    skus = base.model.scenario.skus
    capacity = np.array([s.capacity if s.capacity is not None else 2 * max(s.order_quantities) for s in skus])
    for k in range(task.n_classes):
        members = np.flatnonzero(task.classes == k)
        level, levels = int(state["price_idx"][members].max()), int(task.n_price_levels[k])
        on_hand, dock, on_order = (int(np.asarray(state[key])[members].sum()) for key in ("on_hand", "dock", "on_order"))
        cap = int(capacity[members].sum())
        draw.text((10, y), f"class {chr(ord('A') + k)}  ({len(members)} SKUs)", fill=_TEXT_RGB, font=font)
        draw.text((170, y), "price", fill=_TEXT_RGB, font=font)
        for i in range(levels):  # the price level in force among the class's levels, lowest first
            cx = 220 + 14 * i
            draw.ellipse((cx, y + 4, cx + 9, y + 13), outline=_TEXT_RGB, fill=_TEXT_RGB if i == level else None)
        _stock_bar(draw, (10, y + 20, PANEL_WIDTH - 10, y + 34), on_hand, dock, on_order, cap)
        text = f"on hand {on_hand:,} · dock {dock:,} · on order {on_order:,} / cap {cap:,}"
        draw.text((10, y + 38), text, fill=_DIM_RGB, font=small)
        y += 62
    for colour, label in ((_STOCK_RGB, "on hand"), (_DOCK_RGB, "in the dock"), (_ORDER_RGB, "on order")):
        draw.rectangle((10, y + 3, 20, y + 13), fill=colour)
        draw.text((24, y), label, fill=_DIM_RGB, font=small)
        y += 16


def _stock_bar(draw: Any, box: tuple[int, int, int, int], on_hand: int, dock: int, on_order: int, capacity: int) -> None:
    """On hand and dock filled, on order outlined, against a capacity tick; scaled to fit all."""
    x0, y0, x1, y1 = box
    scale = (x1 - x0) / max(capacity, on_hand + dock + on_order, 1)
    draw.rectangle(box, outline=_DIM_RGB)
    x = float(x0)
    for units, colour, filled in ((on_hand, _STOCK_RGB, True), (dock, _DOCK_RGB, True), (on_order, _ORDER_RGB, False)):
        width = units * scale
        if width >= 1:
            draw.rectangle((x, y0 + 1, x + width, y1 - 1), fill=colour if filled else None, outline=colour)
        x += width
    tick = x0 + capacity * scale
    draw.line((tick, y0 - 3, tick, y1 + 3), fill=_TEXT_RGB, width=2)


def _physics_client(env: gym.Env[Any, Any]) -> Any | None:
    """The env's :class:`~warehouse_sim.sim.client.PhysicsClient`, if it exposes one via its task."""
    from warehouse_sim.sim.client import PhysicsClient

    client = getattr(getattr(env.unwrapped, "task", None), "client", None)
    return client if isinstance(client, PhysicsClient) else None


def view(
    env_id: str,
    *,
    policy: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
    record: str | Path | None = None,
    episodes: int = 1,
    seed: int = 0,
    max_steps: int | None = None,
) -> str:
    """Run ``policy`` on ``env_id`` for ``episodes`` episodes, shown live or recorded.

    Args:
        env_id: Gymnasium id.
        policy: ``POLICY.onnx``, ``MODEL.zip`` or ``baseline:NAME``; default
            :func:`default_policy`.
        env_kwargs: Keyword arguments of ``gym.make``.
        record: ``FILE.mp4`` or ``FILE.gif`` to record headless; ``None`` shows live.
        episodes: Episodes from seeds ``seed, seed + 1, ...``.
        seed: The first seed.
        max_steps: Stop after this many steps in total (episodes are cut short).

    Returns:
        A one-line summary (episodes, steps, returns, the video written, or that Ctrl-C
        stopped the live view).

    Raises:
        ValueError: for a bad record suffix, unknown baseline, or mismatched spaces.
        warehouse_sim.sim.client.GuiUnavailableError: for a live view without a display.
    """
    record_path = Path(record) if record is not None else None
    if record_path is not None and record_path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"--record must end with .mp4 or .gif, got {record_path}")
    policy = policy or default_policy(env_id)
    kwargs = dict(env_kwargs or {})
    physics = _has_gui(env_id)
    live = record_path is None
    if live and not physics:
        _require_plot_window()
    render_mode = ("human" if live else "rgb_array") if physics else None
    returns: list[float] = []
    steps, stopped = 0, False
    # The PyBullet GUI's threads print driver and shutdown messages at any time: not on our terminal.
    with quiet_native_output() if live and physics else contextlib.nullcontext():
        try:
            env = gym.make(env_id, render_mode=render_mode, **kwargs)
            try:
                agent = load_policy(policy, env)
                fps = float(env.metadata.get("render_fps") or 10)
                video_fps = float(env.metadata.get("video_fps") or fps)
                sink: _PhysicsSink | _PlotSink = _PhysicsSink(env, fps, live=live) if physics else _PlotSink(live=live)
                returns, steps, stopped = _run(env, agent, sink, episodes=episodes, seed=seed, max_steps=max_steps)
            finally:
                env.close()
        except KeyboardInterrupt:  # Ctrl-C while the live view starts or closes: as quiet as during the run
            if not live:
                raise
            stopped = True
    summary = f"{policy} on {env_id}: {len(returns)} episode(s), {steps} steps, returns {', '.join(plain(r) for r in returns)}"
    if stopped:
        return summary + "; stopped by Ctrl-C"
    if record_path is not None:
        _write_video(record_path, sink.frames, video_fps)
        summary += f"; recorded {len(sink.frames)} frames to {record_path}"
    return summary


def _require_plot_window() -> None:
    """Raise ``GuiUnavailableError`` if matplotlib cannot open a window (no display)."""
    import matplotlib

    from warehouse_sim.sim.client import GuiUnavailableError

    backend = matplotlib.get_backend().lower()
    if backend in ("agg", "pdf", "svg", "ps", "cairo", "template") or backend.startswith("module://matplotlib_inline"):
        raise GuiUnavailableError("the live plot needs a display: set DISPLAY, or run under `xvfb-run -a`")


def _has_gui(env_id: str) -> bool:
    """Whether the env class offers the ``"human"`` render mode (a PyBullet GUI)."""
    from gymnasium.envs.registration import load_env_creator

    entry_point = gym.spec(env_id).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    return "human" in getattr(creator, "metadata", {}).get("render_modes", [])


class _StepLimit(Exception):
    """Raised inside an episode when ``max_steps`` is reached."""


def _run(
    env: gym.Env[Any, Any], agent: Any, sink: Any, *, episodes: int, seed: int, max_steps: int | None
) -> tuple[list[float], int, bool]:
    """Run the episodes into ``sink``: ``(returns, steps, stopped by Ctrl-C)``."""
    returns: list[float] = []
    total_steps = 0
    for episode in range(episodes):
        state = {"return": 0.0}
        sink.start(env)

        def on_step(record: dict[str, Any], state: dict[str, float] = state) -> None:
            nonlocal total_steps
            total_steps += 1
            state["return"] += record["reward"]
            sink.step(record, overlay_lines(record["step"], state["return"], record["info"]))
            if max_steps is not None and total_steps >= max_steps:
                raise _StepLimit

        try:
            result = run_episode(env, agent, seed + episode, on_step=on_step)
            returns.append(result.episode_return)
        except _StepLimit:
            returns.append(state["return"])
            break
        except KeyboardInterrupt:
            if not sink.live:
                raise
            returns.append(state["return"])
            return returns, total_steps, True
    return returns, total_steps, False


class _PhysicsSink:
    """GUI with a framed camera and a text overlay (live), or frames with KPIs (record)."""

    def __init__(self, env: gym.Env[Any, Any], fps: float, *, live: bool) -> None:
        self.env, self.period, self.live = env, 1.0 / fps, live
        self.frames: list[np.ndarray] = []
        self._overlay: Any | None = None
        self._next = time.perf_counter()
        client = _physics_client(env) if live else None
        if client is not None:
            from warehouse_sim.sim.overlay import TextOverlay, frame_scene

            low, high = frame_scene(client)
            size = float(max(high[0] - low[0], high[1] - low[1]))
            step = 0.045 * size
            # Lines beyond the far edge of the scene, the first farthest (highest on screen).
            top = float(high[1]) + 0.3 * step + step * _MAX_OVERLAY_KPIS
            self._overlay = TextOverlay(
                client, position=(float(low[0]), top, float(high[2])), line_step=(0.0, -step, 0.0), size=1.4
            )

    def start(self, env: gym.Env[Any, Any]) -> None:
        self._next = time.perf_counter()

    def step(self, record: dict[str, Any], lines: list[str]) -> None:
        if self.live:
            if self._overlay is not None:
                self._overlay.show(lines)
            self._next += self.period
            time.sleep(max(0.0, self._next - time.perf_counter()))
            return
        captured: list[tuple[float, np.ndarray, dict[str, Any]]] = getattr(self.env.unwrapped, "recent_frames", lambda: [])()
        if not captured:
            self.frames.append(with_banner(np.asarray(self.env.render()), lines))
        for sim_s, frame, kpis in captured:  # a long step filmed as it ran, with the state of each moment
            self.frames.append(fulfilment_frame(frame, sim_s, kpis, self.env))


class _PlotSink:
    """A matplotlib plot of the episode so far: a live window, or frames for a video."""

    def __init__(self, *, live: bool) -> None:
        self.live = live
        self.frames: list[np.ndarray] = []
        self._trace: list[dict[str, Any]] = []
        if live:
            import matplotlib.pyplot as plt

            plt.ion()
            self._plt = plt
            self._fig = plt.figure(figsize=(9, 9), layout="constrained")
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            self._fig = Figure(figsize=(8, 8), dpi=60, layout="constrained")
            FigureCanvasAgg(self._fig)

    def start(self, env: gym.Env[Any, Any]) -> None:
        self._trace = []

    def step(self, record: dict[str, Any], lines: list[str]) -> None:
        from warehouse_sim.plotting import draw_inventory

        self._trace.append(record)
        draw_inventory(self._fig, [("policy", self._trace)])
        self._fig.suptitle("   ".join(lines[:3]), fontsize=9)
        if self.live:
            self._plt.pause(0.001)
        else:
            self._fig.canvas.draw()
            self.frames.append(np.asarray(self._fig.canvas.buffer_rgba())[..., :3].copy())  # type: ignore[attr-defined]


def _write_video(path: Path, frames: list[Any], fps: float) -> None:
    """Write ``frames`` to ``path`` (``.mp4`` via ffmpeg, ``.gif`` via Pillow) atomically.

    Raises:
        ValueError: without frames.
        OSError: naming ``path`` if the video cannot be written.
    """
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to record")
    try:
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".gif":
                imageio.mimsave(tmp, frames, duration=1000.0 / fps, loop=0)
            else:
                even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
                imageio.mimsave(tmp, even, fps=fps, macro_block_size=1)
    except (OSError, RuntimeError) as exc:  # imageio's ffmpeg writer raises both
        raise OSError(f"cannot write the video {path}: {' '.join(str(exc).split())[:200]}") from None
