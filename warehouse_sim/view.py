"""Watch a policy act: live in the PyBullet GUI, or recorded headless to a video.

Physics envs (those with a ``"human"`` render mode) open the PyBullet GUI with a text
overlay of the KPIs, paced at the env's ``render_fps``; with ``record`` they render
``rgb_array`` frames headless (KPI text stamped on each frame) into an ``.mp4`` or
``.gif``: one frame per step, or, for envs whose step spans a long stretch of simulated
time and that offer ``recent_frames()`` (Fulfilment-v0), every frame captured during
the step, stamped with the simulated clock and the KPIs of that moment. Envs without physics (Inventory-v0) show a live matplotlib plot of the
episode instead, and ``record`` writes the plot's frames.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.evaluation import kpi_scalars, load_policy, run_episode
from warehouse_sim.policies.registry import BASELINES

#: KPIs shown first in the overlay when present (the rest follow alphabetically).
_FIRST_KPIS = (
    "is_success", "spl", "collisions", "cumulative.profit", "cumulative.fill_rate", "orders_shipped", "orders_late",
    "robot_utilisation",
)
_MAX_OVERLAY_KPIS = 6


def default_policy(env_id: str) -> str:
    """The baseline shown when no policy is given: the env's own baseline, else random."""
    for name, spec in BASELINES.items():
        if env_id in spec.env_ids:
            return f"baseline:{name}"
    return "baseline:random"


def overlay_lines(step: int, episode_return: float, info: Mapping[str, Any]) -> list[str]:
    """The overlay text: step, return so far and the leading KPIs of ``info``."""
    kpis = kpi_scalars(info)
    names = [k for k in _FIRST_KPIS if k in kpis] + sorted(k for k in kpis if k not in _FIRST_KPIS)
    lines = [f"step {step}   return {episode_return:.2f}"]
    lines += [f"{name} {kpis[name]:.3g}" for name in names[:_MAX_OVERLAY_KPIS]]
    return lines


def _stamp_text(frame: np.ndarray, lines: list[str]) -> np.ndarray:
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(frame[..., :3]))
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        x, y = 6, 4 + 12 * i
        draw.text((x + 1, y + 1), line, fill=(255, 255, 255))
        draw.text((x, y), line, fill=(0, 0, 0))
    return np.asarray(image)


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
        A one-line summary (episodes, steps, returns, the video written).

    Raises:
        ValueError: for a bad record suffix, unknown baseline, or mismatched spaces.
    """
    record_path = Path(record) if record is not None else None
    if record_path is not None and record_path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"--record must end with .mp4 or .gif, got {record_path}")
    policy = policy or default_policy(env_id)
    kwargs = dict(env_kwargs or {})
    physics = _has_gui(env_id)
    render_mode = ("rgb_array" if record_path is not None else "human") if physics else None
    env = gym.make(env_id, render_mode=render_mode, **kwargs)
    try:
        agent = load_policy(policy, env)
        fps = float(env.metadata.get("render_fps") or 10)
        video_fps = float(env.metadata.get("video_fps") or fps)
        sink: _PhysicsSink | _PlotSink = (
            _PhysicsSink(env, fps, live=record_path is None) if physics else _PlotSink(live=record_path is None)
        )
        returns, steps = _run(env, agent, sink, episodes=episodes, seed=seed, max_steps=max_steps)
        summary = f"{policy} on {env_id}: {len(returns)} episode(s), {steps} steps, returns {', '.join(f'{r:.2f}' for r in returns)}"
        if record_path is not None:
            _write_video(record_path, sink.frames, video_fps)
            summary += f"; recorded {len(sink.frames)} frames to {record_path}"
        return summary
    finally:
        env.close()


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
) -> tuple[list[float], int]:
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
    return returns, total_steps


class _PhysicsSink:
    """GUI with a text overlay (live), or ``rgb_array`` frames with stamped text (record)."""

    def __init__(self, env: gym.Env[Any, Any], fps: float, *, live: bool) -> None:
        self.env, self.period, self.live = env, 1.0 / fps, live
        self.frames: list[np.ndarray] = []
        self._overlay: Any | None = None
        self._next = time.perf_counter()
        if live:
            from warehouse_sim.sim.overlay import TextOverlay, look_at

            client = _physics_client(env)
            layout = getattr(env.unwrapped, "layout", None)
            if client is not None and layout is not None:
                width, depth = layout.size  # metres
                look_at(client, target=(width / 2, depth / 2, 0.0), distance=0.9 * max(width, depth), pitch=-65.0)
                # Lines beyond the far wall, the first farthest (highest on screen).
                top = depth + 0.3 + 1.0 * _MAX_OVERLAY_KPIS
                self._overlay = TextOverlay(client, position=(0.05 * width, top, 1.0), line_step=(0.0, -1.0, 0.0))
            elif client is not None:
                self._overlay = TextOverlay(client)

    def start(self, env: gym.Env[Any, Any]) -> None:
        self._next = time.perf_counter()

    def step(self, record: dict[str, Any], lines: list[str]) -> None:
        if self.live:
            if self._overlay is not None:
                self._overlay.show(lines)
            self._next += self.period
            time.sleep(max(0.0, self._next - time.perf_counter()))
        else:
            captured: list[tuple[float, np.ndarray, dict[str, Any]]] = getattr(
                self.env.unwrapped, "recent_frames", lambda: []
            )()
            if not captured:
                self.frames.append(_stamp_text(np.asarray(self.env.render()), lines))
            for sim_s, frame, kpis in captured:  # a long step filmed as it ran, with the KPIs of the moment
                clock = f"sim time {int(sim_s // 3600):d}:{int(sim_s % 3600 // 60):02d}:{int(sim_s % 60):02d}"
                live = overlay_lines(record["step"], 0.0, kpis)[1:]  # no return: the step is not over
                self.frames.append(_stamp_text(frame, [clock, *live]))


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
        draw_inventory(self._fig, self._trace)
        self._fig.suptitle("   ".join(lines[:3]), fontsize=9)
        if self.live:
            self._plt.pause(0.001)
        else:
            self._fig.canvas.draw()
            self.frames.append(np.asarray(self._fig.canvas.buffer_rgba())[..., :3].copy())  # type: ignore[attr-defined]


def _write_video(path: Path, frames: list[Any], fps: float) -> None:
    """Write ``frames`` to ``path`` (``.mp4`` via ffmpeg, ``.gif`` via Pillow) through a temporary file."""
    import imageio.v2 as imageio

    if not frames:
        raise ValueError("no frames to record")
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")
    try:
        if path.suffix.lower() == ".gif":
            imageio.mimsave(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            even = [f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2] for f in frames]
            imageio.mimsave(tmp, even, fps=fps, macro_block_size=1)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
