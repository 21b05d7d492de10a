"""The PyBullet GUI as ``warehouse-sim view`` uses it: a camera framing the floor and a text overlay."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_sim.sim.client import PhysicsClient, bullet_of


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
