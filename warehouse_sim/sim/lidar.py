"""A planar 2-D lidar for many robots, done with one ``rayTestBatch`` call per scan.

Rays leave each robot at ``height`` metres above the floor from just outside its body
(``start_offset`` metres from its centre, so a robot never sees itself), evenly spread
over 360 degrees starting at the robot's heading and turning counter-clockwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from warehouse_sim._checks import check_int
from warehouse_sim.sim.client import PhysicsClient, bullet_of


@dataclass(frozen=True)
class LidarParams:
    """Lidar geometry.

    Attributes:
        n_rays: Rays per robot (>= 1).
        max_range: Range in metres measured from the robot centre (> start_offset).
        height: Ray height above the floor in metres (> 0).
        start_offset: Distance in metres from the robot centre where rays start (>= 0).
    """

    n_rays: int = 16
    max_range: float = 4.0
    height: float = 0.15
    start_offset: float = 0.27

    def __post_init__(self) -> None:
        check_int("n_rays", self.n_rays)
        if not (self.height > 0 and math.isfinite(self.height)):
            raise ValueError(f"height must be positive, got {self.height!r}")
        if not (self.start_offset >= 0 and math.isfinite(self.start_offset)):
            raise ValueError(f"start_offset must be >= 0, got {self.start_offset!r}")
        if not (self.max_range > self.start_offset and math.isfinite(self.max_range)):
            raise ValueError(f"max_range must exceed start_offset ({self.start_offset}), got {self.max_range!r}")


class Lidar:
    """Scans for any number of robots with one ``rayTestBatch``.

    Args:
        client: The physics client.
        params: Ray geometry.

    Attributes:
        angles: ``(n_rays,)`` ray angles in radians relative to the robot heading.
    """

    def __init__(self, client: PhysicsClient, params: LidarParams | None = None) -> None:
        self.client = client
        self.params = params or LidarParams()
        self.angles = np.linspace(0.0, 2.0 * math.pi, self.params.n_rays, endpoint=False)
        self._ray_test_batch = bullet_of(client).rayTestBatch
        self._unit = [(math.cos(a), math.sin(a)) for a in self.angles.tolist()]
        self._last: tuple[list[tuple[float, float, float]], list[tuple[float, float, float]]] = ([], [])

    def scan(self, poses: np.ndarray | Sequence[Sequence[float]]) -> list[list[float]]:
        """Cast the rays of every robot.

        Args:
            poses: ``(m, >=3)`` array (or rows of plain floats) whose first columns are
                ``x, y, yaw`` (metres, radians).

        Returns:
            Per robot, its ``n_rays`` ranges in metres from its centre, in
            ``[start_offset, max_range]`` (``max_range`` where nothing was hit), as plain
            floats (``np.array`` of them is ``(m, n_rays)``): this runs every step, where
            each numpy call costs about a microsecond after the physics.
        """
        pr = self.params
        r0, r1, z = pr.start_offset, pr.max_range, pr.height
        starts: list[tuple[float, float, float]] = []
        ends: list[tuple[float, float, float]] = []
        add_start, add_end, cos, sin = starts.append, ends.append, math.cos, math.sin
        # plain Python: ~3x faster than numpy for a few dozen rays (this runs every step)
        for row in poses.tolist() if isinstance(poses, np.ndarray) else poses:
            x, y, yaw = row[:3]
            c, s = cos(yaw), sin(yaw)
            for a, b in self._unit:
                dx, dy = c * a - s * b, s * a + c * b
                add_start((x + r0 * dx, y + r0 * dy, z))
                add_end((x + r1 * dx, y + r1 * dy, z))
        hits = self._ray_test_batch(starts, ends)
        self._last = (starts, ends)
        span, n = r1 - r0, pr.n_rays
        return [[r0 + h[2] * span for h in hits[k : k + n]] for k in range(0, len(hits), n)]

    def rescan(self) -> None:
        """Cast the rays of the last :meth:`scan` again, results unused (the benchmark floor's ray work)."""
        self._ray_test_batch(*self._last)
