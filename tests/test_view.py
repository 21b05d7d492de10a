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
