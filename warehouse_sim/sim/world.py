"""The static warehouse scene built from a :class:`~warehouse_sim.geometry.layout.Layout`.

Built once per env: the floor, the perimeter walls and all racks each as **one compound
multibody** of boxes (a compound body steps ~2x cheaper than one body per rack), the
pick/pack station as a solid counter and the receiving dock as a floor marking (visual
only).
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_sim.geometry.layout import DOCK, RACK, STATION, WALL, Layout
from warehouse_sim.sim._pybullet import p
from warehouse_sim.sim.client import PhysicsClient, bullet_of

COLOURS: dict[str, tuple[float, float, float, float]] = {
    "floor": (0.78, 0.78, 0.76, 1.0),
    "walls": (0.35, 0.35, 0.38, 1.0),
    "racks": (0.90, 0.55, 0.10, 1.0),
    "station": (0.20, 0.45, 0.85, 1.0),
    "dock": (0.25, 0.70, 0.30, 1.0),
}


@dataclass(frozen=True)
class WorldParams:
    """Heights of the static scene, in metres (all > 0)."""

    rack_height: float = 2.0
    wall_height: float = 1.0
    station_height: float = 0.9

    def __post_init__(self) -> None:
        for name in ("rack_height", "wall_height", "station_height"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class World:
    """The built scene: its layout and the PyBullet ids of its bodies.

    Attributes:
        layout: The layout it was built from.
        floor: Floor body id (top surface at z = 0).
        walls: Compound body of all wall boxes.
        racks: Compound body of all rack boxes.
        station: The pick/pack station counter (``-1`` if the layout has none).
        dock: The dock floor marking, visual only (``-1`` if the layout has none).
    """

    layout: Layout
    floor: int
    walls: int
    racks: int
    station: int
    dock: int

    @property
    def static_ids(self) -> frozenset[int]:
        """Ids of the solid static bodies a robot can hit (walls, racks, station)."""
        return frozenset(i for i in (self.walls, self.racks, self.station) if i >= 0)


def _runs(layout: Layout, char: str) -> list[tuple[int, int, int, int]]:
    """Axis-aligned rectangles ``(row0, col0, row1, col1)`` (inclusive) covering the ``char`` cells.

    Horizontal runs per row, merged downwards while identical: few boxes per layout.
    """
    mask = layout.chars == char
    n_rows, n_cols = mask.shape
    rects: list[tuple[int, int, int, int]] = []
    open_rects: dict[tuple[int, int], int] = {}  # (col0, col1) -> row0 of a rect still growing
    for row in range(n_rows + 1):
        runs: list[tuple[int, int]] = []
        if row < n_rows:
            col = 0
            while col < n_cols:
                if mask[row, col]:
                    start = col
                    while col < n_cols and mask[row, col]:
                        col += 1
                    runs.append((start, col - 1))
                else:
                    col += 1
        for key in list(open_rects):
            if key not in runs:
                rects.append((open_rects.pop(key), key[0], row - 1, key[1]))
        for key in runs:
            open_rects.setdefault(key, row)
    return rects


def _compound(
    client: PhysicsClient, layout: Layout, rects: list[tuple[int, int, int, int]], height: float, *,
    colour: tuple[float, float, float, float], collide: bool = True,
) -> int:
    if not rects:
        return -1
    bc = bullet_of(client)
    cs = layout.cell_size
    half_extents, positions = [], []
    for r0, c0, r1, c1 in rects:
        half_extents.append([(c1 - c0 + 1) * cs / 2, (r1 - r0 + 1) * cs / 2, height / 2])
        positions.append([(c0 + c1 + 1) * cs / 2, (r0 + r1 + 1) * cs / 2, height / 2])
    n = len(rects)
    col = (
        bc.createCollisionShapeArray(shapeTypes=[p.GEOM_BOX] * n, halfExtents=half_extents, collisionFramePositions=positions)
        if collide else -1
    )
    vis = bc.createVisualShapeArray(shapeTypes=[p.GEOM_BOX] * n, halfExtents=half_extents, visualFramePositions=positions)
    body = bc.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis)
    bc.changeVisualShape(body, -1, rgbaColor=colour)
    return body


def build_world(client: PhysicsClient, layout: Layout, params: WorldParams | None = None) -> World:
    """Build the static scene of ``layout`` in ``client``.

    Call once per client; resets never rebuild it.
    """
    params = params or WorldParams()
    bc = bullet_of(client)
    width, depth = layout.size
    floor_half = [width / 2 + 1.0, depth / 2 + 1.0, 0.05]
    floor = bc.createMultiBody(
        baseMass=0.0,
        baseCollisionShapeIndex=bc.createCollisionShape(p.GEOM_BOX, halfExtents=floor_half),
        baseVisualShapeIndex=bc.createVisualShape(p.GEOM_BOX, halfExtents=floor_half, rgbaColor=COLOURS["floor"]),
        basePosition=[width / 2, depth / 2, -0.05],
    )
    walls = _compound(client, layout, _runs(layout, WALL), params.wall_height, colour=COLOURS["walls"])
    racks = _compound(client, layout, _runs(layout, RACK), params.rack_height, colour=COLOURS["racks"])
    station = _compound(client, layout, _runs(layout, STATION), params.station_height, colour=COLOURS["station"])
    dock = _compound(client, layout, _runs(layout, DOCK), 0.01, colour=COLOURS["dock"], collide=False)
    return World(layout=layout, floor=floor, walls=walls, racks=racks, station=station, dock=dock)
