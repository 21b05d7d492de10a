"""A text overlay in the PyBullet GUI (KPIs shown by ``warehouse-sim view``)."""

from __future__ import annotations

from collections.abc import Sequence

from warehouse_sim.sim.client import PhysicsClient


class TextOverlay:
    """Lines of text fixed above the scene, replaced in place on every :meth:`show`.

    Args:
        client: The physics client whose GUI shows the text.
        position: World ``(x, y, z)`` in metres of the first line.
        line_spacing: Vertical distance between lines in metres.
        size: PyBullet text size.
    """

    def __init__(
        self,
        client: PhysicsClient,
        *,
        position: tuple[float, float, float] = (0.0, 0.0, 3.0),
        line_spacing: float = 0.35,
        size: float = 1.3,
    ) -> None:
        self._client = client
        self._position = position
        self._spacing = line_spacing
        self._size = size
        self._ids: list[int] = []

    def show(self, lines: Sequence[str]) -> None:
        """Display ``lines`` (replacing what was shown; extra old lines are removed)."""
        bullet = self._client.bullet
        x, y, z = self._position
        for i, text in enumerate(lines):
            kwargs = {"replaceItemUniqueId": self._ids[i]} if i < len(self._ids) else {}
            item = bullet.addUserDebugText(
                text, [x, y, z - i * self._spacing], textColorRGB=[0.05, 0.05, 0.05], textSize=self._size, **kwargs
            )
            if i >= len(self._ids):
                self._ids.append(item)
        for item in self._ids[len(lines) :]:
            bullet.removeUserDebugItem(item)
        del self._ids[len(lines) :]
