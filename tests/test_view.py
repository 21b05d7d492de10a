"""``warehouse-sim view``: headless recording, and the live GUI under a display (xvfb-run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest

from warehouse_sim.view import default_policy, overlay_lines, view

NAV = "warehouse_sim/Navigation-v0"
INV = "warehouse_sim/Inventory-v0"


def test_default_policy_is_the_envs_own_baseline() -> None:
    assert default_policy(NAV) == "baseline:astar"
    assert default_policy("CartPole-v1") == "baseline:random"


def test_overlay_shows_step_return_and_leading_kpis() -> None:
    lines = overlay_lines(12, 3.25, {"spl": 0.0, "is_success": False, "collisions": 1, "goal": (1, 2)})
    assert lines == ["step 12   return 3.25", "is_success 0", "spl 0", "collisions 1"]


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
