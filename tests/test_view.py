"""``warehouse-sim view``: headless recording, and the live GUI under a display (xvfb-run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from warehouse_sim.view import PANEL_WIDTH, default_policy, kpi_text, overlay_lines, view

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"


def test_default_policy_is_the_envs_own_baseline() -> None:
    assert default_policy(NAV) == "baseline:astar"
    assert default_policy("CartPole-v1") == "baseline:random"


def test_overlay_shows_step_return_and_leading_kpis_readably() -> None:
    lines = overlay_lines(12, 3.25, {"spl": 0.0, "is_success": False, "collisions": 1, "goal": (1, 2)})
    assert lines == ["step 12   return 3.25", "success no", "SPL 0", "collisions 1"]


def test_kpis_read_as_words_plain_numbers_and_money() -> None:
    # Issue 15 item 23: raw names (shortest_path_length), scientific notation, no money.
    assert kpi_text("shortest_path_length", 11.04) == "shortest path (m) 11"
    assert kpi_text("cumulative.profit", 14620.3) == "profit so far 14,620"
    assert kpi_text("cumulative.fill_rate", 0.953) == "fill rate 95%"
    assert kpi_text("pick_time_s", 1.35) == "pick time (s) 1.35"
    lines = overlay_lines(3, 49.77, {"cumulative": {"profit": 4977.0, "fill_rate": 0.9}, "orders_shipped": 1234})
    assert lines[1:] == ["profit so far 4,977", "fill rate 90%", "orders shipped 1,234"]
    assert not any("e+" in line for line in lines)


@pytest.mark.parametrize(("env_id", "suffix", "steps"), [(NAV, ".mp4", 15), (NAV, ".gif", 5), (INV, ".gif", 3)])
def test_record_writes_a_video_headless(env_id: str, suffix: str, steps: int, tmp_path: Path) -> None:
    out = tmp_path / f"video{suffix}"
    summary = view(env_id, record=out, max_steps=steps)
    assert f"recorded {steps} frames" in summary
    frames = imageio.mimread(out, memtest=False)
    assert len(frames) == steps
    assert frames[0].ndim == 3 and frames[0].dtype == np.uint8 and frames[0].std() > 0  # not blank
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


needs_display = pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs a display (run under xvfb-run -a)")


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("env_id", [NAV, INV])
def test_live_view_runs_under_a_display(env_id: str) -> None:
    # A subprocess: PyBullet allows one GUI per process.
    out = subprocess.run(
        [sys.executable, "-m", "warehouse_sim", "view", "--env", env_id, "--max-steps", "8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "8 steps" in out.stdout


def test_fulfilment_video_films_the_fleet_within_each_epoch(tmp_path: Path) -> None:
    # A step is a whole epoch (1 minute on warehouse-tiny): one frame every 20 simulated s.
    out = tmp_path / "fleet.mp4"
    kwargs = {"scenario": "warehouse-tiny", "frame_interval_s": 20}
    summary = view("warehouse_sim/Fulfilment-v0", env_kwargs=kwargs, record=out, max_steps=2)
    assert "recorded 6 frames" in summary
    frames = imageio.mimread(out, memtest=False)
    assert len(frames) == 6
    assert not np.array_equal(frames[0], frames[2])  # the clock stamp and the robots move


def test_fulfilment_frames_have_a_side_panel_and_robots_coloured_by_job(tmp_path: Path) -> None:
    # Issue 15 item 23: the business beside the floor; robots coloured pick / put-away / idle.
    import gymnasium as gym

    from warehouse_sim.sim.render import JOB_RGB
    from warehouse_sim.view import fulfilment_frame

    env = gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny", render_mode="rgb_array", frame_interval_s=5)
    try:
        env.reset(seed=0)
        floor = env.render()
        frames, jobs = [], []
        for _ in range(2):
            env.step(env.action_space.sample())
            for sim_s, frame, kpis in env.unwrapped.recent_frames():
                frames.append(fulfilment_frame(frame, sim_s, kpis, env))
                jobs.extend(kpis["operations"]["robot_jobs"])
                assert kpis["operations"]["on_hand"].shape == (env.unwrapped.model.n_skus,)
        assert "pick" in jobs
        floor_px = [f[:, : floor.shape[1]] for f in frames]
        assert any((f == JOB_RGB["pick"]).all(axis=-1).any() for f in floor_px)  # a picking robot, in its colour
        panel = frames[-1][:, floor.shape[1] :]
        assert frames[-1].shape[1] == floor.shape[1] + PANEL_WIDTH
        assert (panel > 200).all(axis=-1).sum() > 500  # light text on the dark panel
        assert not np.array_equal(frames[0][:, floor.shape[1] :], panel)  # clock, profit and stock change
    finally:
        env.close()


def test_frames_of_other_physics_envs_carry_the_kpis_in_a_strip_above(tmp_path: Path) -> None:
    import gymnasium as gym

    out = tmp_path / "nav.gif"
    view(NAV, record=out, max_steps=2)
    frame = imageio.mimread(out, memtest=False)[0]
    env = gym.make(NAV, render_mode="rgb_array")
    env.reset(seed=0)
    height = env.render().shape[0]
    env.close()
    strip = frame[: frame.shape[0] - height]
    assert strip.shape[0] > 30 and strip[..., :3].mean() < 80  # a dark strip ...
    assert (strip[..., :3] > 200).all(axis=-1).sum() > 100  # ... with light text


def test_live_view_without_a_display_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    # Issue 15 item 14: a 25-line traceback (exit 1) without a display.
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MPLBACKEND"] = "Agg"
    for env_id in (NAV, INV):
        out = subprocess.run(
            [sys.executable, "-m", "warehouse_sim", "view", "--env", env_id, "--max-steps", "2"],
            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path,
        )
        assert out.returncode == 2, out.stderr
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out.stderr
        assert "xvfb-run -a warehouse-sim view --env" in out.stderr and "--record" in out.stderr
        assert out.stdout == ""


@pytest.mark.gui
@needs_display
def test_ctrl_c_stops_the_live_view_quietly() -> None:
    # Issue 15 item 22: ~18 lines of PyBullet thread messages after Ctrl-C.
    import signal
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse_sim", "view", "--env", "warehouse_sim/Fulfilment-v0", "--env-kwargs",
         '{"scenario": "warehouse-tiny"}', "--episodes", "50"],  # still running when Ctrl-C comes (5 ended within 20 s on the CI machine)
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a user's Ctrl-C: the child must not inherit an ignored SIGINT from this test process
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(20)  # the GUI is up and the shift is running (an earlier Ctrl-C is as quiet: see view())
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=180)
    assert proc.returncode == 0, stderr
    assert stderr == "" and stdout.count("\n") == 1 and "stopped by Ctrl-C" in stdout, (stdout, stderr)


def test_fulfilment_frames_are_captured_only_when_rendering_rgb_arrays() -> None:
    import gymnasium as gym

    env = gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny", render_mode="rgb_array", frame_interval_s=15)
    env.reset(seed=0)
    assert env.unwrapped.recent_frames() == []
    env.step(env.action_space.sample())
    frames = env.unwrapped.recent_frames()
    assert [t for t, _, _ in frames] == [15.0, 30.0, 45.0, 60.0]
    assert frames[0][1].shape == env.render().shape
    assert frames[-1][2]["orders_shipped"] >= frames[0][2]["orders_shipped"]  # the KPIs of each moment
    env.close()
    plain = gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny")
    plain.reset(seed=0)
    plain.step(plain.action_space.sample())
    assert plain.unwrapped.recent_frames() == []
    plain.close()
    with pytest.raises(ValueError, match="frame_interval_s"):
        gym.make("warehouse_sim/Fulfilment-v0", scenario="warehouse-tiny", frame_interval_s=0)


@pytest.mark.parametrize("env_id", ["warehouse_sim/Fulfilment-v0", NAV, "warehouse_sim/Picking-v0"])
def test_the_camera_frames_each_envs_whole_scene(env_id: str) -> None:
    # Issue 15 item 22: the GUI camera was framed only for envs with a `layout` (Fulfilment: one corner, mostly sky).
    import gymnasium as gym

    from warehouse_sim.sim.overlay import scene_bounds
    from warehouse_sim.view import _physics_client

    env = gym.make(env_id)
    try:
        env.reset(seed=0)
        low, high = scene_bounds(_physics_client(env))
        layout = getattr(env.unwrapped, "layout", None)
        if layout is not None:  # the floor and its walls, not an infinite ground plane
            width, depth = layout.size
            assert -1.5 <= low[0] <= 0.0 and width <= high[0] <= width + 1.5
            assert -1.5 <= low[1] <= 0.0 and depth <= high[1] <= depth + 1.5
        else:  # the pick station: arm, shelf and tote, not the spare items parked under the floor
            assert (high - low)[:2].max() < 2.0 and high[2] < 2.0
    finally:
        env.close()


@pytest.mark.gui
@needs_display
def test_the_live_view_points_the_gui_camera_at_the_scene() -> None:
    code = (
        "import gymnasium as gym, numpy as np, warehouse_sim\n"
        "from warehouse_sim.sim.client import bullet_of\n"
        "from warehouse_sim.sim.overlay import scene_bounds\n"
        "from warehouse_sim.view import _PhysicsSink, _physics_client\n"
        "env = gym.make('warehouse_sim/Fulfilment-v0', scenario='warehouse-tiny', render_mode='human')\n"
        "env.reset(seed=0)\n"
        "_PhysicsSink(env, 4.0, live=True)\n"
        "low, high = scene_bounds(_physics_client(env))\n"
        "import time\n"
        "for _ in range(150):  # the GUI thread applies the camera command asynchronously\n"
        "    target = np.array(bullet_of(_physics_client(env)).getDebugVisualizerCamera()[11])\n"
        "    if np.allclose(target[:2], (low[:2] + high[:2]) / 2, atol=0.01):\n"
        "        break\n"
        "    time.sleep(0.1)\n"
        "assert np.allclose(target[:2], (low[:2] + high[:2]) / 2, atol=0.01), (target, low, high)\n"
        "env.close()\n"
        "print('framed')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("framed"), out.stderr
