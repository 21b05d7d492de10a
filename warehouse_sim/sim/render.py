"""Images of the warehouse: a fast top-down raster (default) and the 3-D TinyRenderer camera.

The raster draws the layout once into a background image and, per frame, copies it and
stamps discs for the robots, a heading tick and markers: ~1 ms per 480x480 frame on one
core, against ~3 frames/s for PyBullet's TinyRenderer at that size. Image row 0 is the
northern edge (+y up, +x right), so the picture reads like a map.
"""

from __future__ import annotations

import math

import numpy as np

from warehouse_sim._checks import check_int
from warehouse_sim.geometry.layout import DOCK, FREE, RACK, STATION, WALL, Layout
from warehouse_sim.sim._pybullet import p
from warehouse_sim.sim.client import PhysicsClient, bullet_of

_CELL_RGB: dict[str, tuple[int, int, int]] = {
    FREE: (205, 205, 200),
    WALL: (70, 70, 80),
    RACK: (225, 140, 30),
    STATION: (50, 115, 215),
    DOCK: (70, 175, 80),
}
AGENT_RGB = (200, 30, 30)
OTHER_RGB = (40, 40, 40)
GOAL_RGB = (150, 30, 200)
ROUTE_RGB = (30, 150, 150)
#: Robots coloured by their current job (Fulfilment-v0 frames).
JOB_RGB: dict[str, tuple[int, int, int]] = {"pick": (35, 105, 235), "putaway": (25, 160, 60), "idle": (120, 120, 120)}


class TopDownRenderer:
    """Draws the layout and robots as an RGB array with numpy.

    Args:
        layout: The layout to draw.
        width: Image width in pixels (>= 16).
        height: Image height in pixels (>= 16).
        robot_radius: Robot disc radius in metres.
    """

    def __init__(self, layout: Layout, width: int = 480, height: int = 480, *, robot_radius: float = 0.25) -> None:
        for name, value in (("width", width), ("height", height)):
            check_int(name, value, low=16)
        self.layout = layout
        self.width, self.height = width, height
        size_x, size_y = layout.size
        self.scale = min(width / size_x, height / size_y)  # pixels per metre
        self._off_x = (width - size_x * self.scale) / 2
        self._off_y = (height - size_y * self.scale) / 2
        # background: each pixel takes the colour of the cell under its centre
        bg = np.full((height, width, 3), 255, dtype=np.uint8)
        px = (np.arange(width) + 0.5 - self._off_x) / self.scale
        py = (height - (np.arange(height) + 0.5) - self._off_y) / self.scale
        inside_x = (px >= 0) & (px < size_x)
        inside_y = (py >= 0) & (py < size_y)
        cols = np.clip((px // layout.cell_size).astype(int), 0, layout.shape[1] - 1)
        rows = np.clip((py // layout.cell_size).astype(int), 0, layout.shape[0] - 1)
        palette = {ch: np.array(rgb, dtype=np.uint8) for ch, rgb in _CELL_RGB.items()}
        chars = layout.chars[rows[:, None], cols[None, :]]
        for ch, rgb in palette.items():
            bg[(chars == ch) & inside_y[:, None] & inside_x[None, :]] = rgb
        self.background = bg
        r = max(int(round(robot_radius * self.scale)), 2)
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        self._disc = np.argwhere(xx * xx + yy * yy <= r * r) - r
        self._radius_px = r

    def to_pixel(self, x: float, y: float) -> tuple[int, int]:
        """Pixel ``(row, col)`` of world point ``(x, y)`` in metres."""
        return int(self.height - (self._off_y + y * self.scale)), int(self._off_x + x * self.scale)

    def _stamp(self, img: np.ndarray, offsets: np.ndarray, x: float, y: float, rgb: tuple[int, int, int]) -> None:
        pr, pc = self.to_pixel(x, y)
        rr = offsets[:, 0] + pr
        cc = offsets[:, 1] + pc
        ok = (rr >= 0) & (rr < self.height) & (cc >= 0) & (cc < self.width)
        img[rr[ok], cc[ok]] = rgb

    def render(
        self, poses: np.ndarray, *, goal: tuple[float, float] | None = None,
        waypoint: tuple[float, float] | None = None, colors: np.ndarray | None = None,
    ) -> np.ndarray:
        """Draw one frame.

        Args:
            poses: ``(n, >=3)`` robot ``x, y, yaw`` (metres, radians); robot 0 is drawn as
                the agent unless ``colors`` are given.
            goal: Goal point in metres, drawn as a ring.
            waypoint: Route hint point in metres, drawn as a dot.
            colors: ``(n, 3)`` RGB per robot (e.g. by job), instead of agent red / others dark.

        Returns:
            ``(height, width, 3)`` uint8 RGB image (a new array).
        """
        img = self.background.copy()
        if goal is not None:
            ring = self._disc[np.abs(np.hypot(*self._disc.T) - self._radius_px * 0.8) < 1.2]
            self._stamp(img, ring, goal[0], goal[1], GOAL_RGB)
        if waypoint is not None:
            self._stamp(img, self._disc[np.hypot(*self._disc.T) <= self._radius_px * 0.3], waypoint[0], waypoint[1], ROUTE_RGB)
        r_m = self._radius_px / self.scale
        for i in range(poses.shape[0] - 1, -1, -1):
            x, y, yaw = float(poses[i, 0]), float(poses[i, 1]), float(poses[i, 2])
            rgb = tuple(int(c) for c in colors[i]) if colors is not None else (AGENT_RGB if i == 0 else OTHER_RGB)
            self._stamp(img, self._disc, x, y, rgb)  # type: ignore[arg-type]
            for t in np.linspace(0.0, r_m, self._radius_px + 1):  # heading tick
                pr, pc = self.to_pixel(x + t * math.cos(yaw), y + t * math.sin(yaw))
                if 0 <= pr < self.height and 0 <= pc < self.width:
                    img[pr, pc] = (255, 255, 255)
        return img


def camera_image(client: PhysicsClient, layout: Layout, width: int = 320, height: int = 240) -> np.ndarray:
    """A 3-D view over the whole layout from PyBullet's TinyRenderer (slow: ~3 frames/s at 720x480).

    Returns:
        ``(height, width, 3)`` uint8 RGB image.
    """
    size_x, size_y = layout.size
    target = (size_x / 2, size_y / 2, 0.0)
    distance = 0.9 * max(size_x, size_y) + 2.0
    bc = bullet_of(client)
    view = bc.computeViewMatrixFromYawPitchRoll(target, distance, yaw=0.0, pitch=-60.0, roll=0.0, upAxisIndex=2)
    proj = bc.computeProjectionMatrixFOV(fov=60.0, aspect=width / height, nearVal=0.1, farVal=distance * 3)
    _, _, rgba, _, _ = bc.getCameraImage(width, height, view, proj, renderer=p.ER_TINY_RENDERER)
    return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[..., :3].copy()
