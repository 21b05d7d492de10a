"""The PyBullet GUI as ``warehouse-sim view`` uses it: a camera framing the scene and a text overlay."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from warehouse_sim.sim.client import PhysicsClient, bullet_of

#: Bodies larger than this (metres) are ground planes, not part of the scene to frame.
_MAX_BODY_EXTENT_M = 200.0
#: Bodies whose top is below this height (metres) are parked out of sight under the floor.
_HIDDEN_BELOW_M = -0.5


def scene_bounds(client: PhysicsClient) -> tuple[np.ndarray, np.ndarray]:
    """The axis-aligned box around every visible body of the scene.

    Ground planes (larger than 200 m) and bodies parked under the floor (spare items
    waiting below it) are left out.

    Returns:
        ``(low, high)``: world ``(x, y, z)`` corners in metres.

    Raises:
        ValueError: for an empty scene.
    """
    bullet = bullet_of(client)
    boxes = []
    for index in range(bullet.getNumBodies()):
        body = bullet.getBodyUniqueId(index)
        for link in range(-1, bullet.getNumJoints(body)):
            low, high = (np.asarray(corner, dtype=float) for corner in bullet.getAABB(body, link))
            if (high - low).max() < _MAX_BODY_EXTENT_M and high[2] > _HIDDEN_BELOW_M:
                boxes.append((low, high))
    if not boxes:
        raise ValueError("the scene has no bodies to frame")
    return np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0)


def frame_scene(client: PhysicsClient, *, pitch: float = -60.0) -> tuple[np.ndarray, np.ndarray]:
    """Point the GUI camera so the whole scene (:func:`scene_bounds`) fills the view; return its bounds."""
    low, high = scene_bounds(client)
    size = high - low
    centre = (low + high) / 2.0
    # PyBullet's GUI camera has a ~60 degree field of view: this distance keeps the
    # larger horizontal side (and the height, for tall scenes such as the arm) in view.
    distance = 0.75 * max(size[0], size[1], 1.5 * size[2]) + 0.3
    look_at(client, target=(float(centre[0]), float(centre[1]), float(low[2])), distance=distance, pitch=pitch)
    return low, high


class TextOverlay:
    """Lines of text fixed above the scene, replaced in place on every :meth:`show`.

    Args:
        client: The physics client whose GUI shows the text.
        position: World ``(x, y, z)`` in metres of the first line.
        line_step: World offset ``(dx, dy, dz)`` in metres from one line to the next.
        size: PyBullet text size.
    """

    def __init__(
        self,
        client: PhysicsClient,
        *,
        position: tuple[float, float, float] = (0.0, 0.0, 3.0),
        line_step: tuple[float, float, float] = (0.0, 0.0, -0.35),
        size: float = 1.3,
    ) -> None:
        self._client = client
        self._position = position
        self._step = line_step
        self._size = size
        self._ids: list[int] = []

    def show(self, lines: Sequence[str]) -> None:
        """Display ``lines`` (replacing what was shown; extra old lines are removed)."""
        bullet = bullet_of(self._client)
        for i, text in enumerate(lines):
            kwargs = {"replaceItemUniqueId": self._ids[i]} if i < len(self._ids) else {}
            where = [p + i * d for p, d in zip(self._position, self._step, strict=True)]
            item = bullet.addUserDebugText(text, where, textColorRGB=[0.05, 0.05, 0.05], textSize=self._size, **kwargs)
            if i >= len(self._ids):
                self._ids.append(item)
        for item in self._ids[len(lines) :]:
            bullet.removeUserDebugItem(item)
        del self._ids[len(lines) :]


def look_at(client: PhysicsClient, *, target: tuple[float, float, float], distance: float, yaw: float = 0.0, pitch: float = -60.0) -> None:
    """Point the GUI camera at world ``target`` (metres) from ``distance`` metres, angles in degrees."""
    bullet_of(client).resetDebugVisualizerCamera(
        cameraDistance=distance, cameraYaw=yaw, cameraPitch=pitch, cameraTargetPosition=list(target)
    )
