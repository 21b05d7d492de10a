"""Warehouse layouts as data: a parametrised generator, ASCII maps, presets.

Pure numpy (no PyBullet), so every layer can use the layout, its occupancy grid and its
pick faces: the Navigation env, multi-robot planning and the Fulfilment env alike.

Grid and world coordinates (the one conversion in the project)
-----------------------------------------------------------------
The floor is a grid of square cells of side ``cell_size`` metres. Cell ``(row, col)``
covers ``x in [col * cell_size, (col + 1) * cell_size)`` and
``y in [row * cell_size, (row + 1) * cell_size)``; its centre is::

    x = (col + 0.5) * cell_size        y = (row + 0.5) * cell_size

so row 0 is the southern edge (smallest y) and rows grow towards +y (north), columns
towards +x (east). The world origin is the south-west corner of cell (0, 0). In an ASCII
map the *first* text line is row 0 (see :func:`from_ascii`); :meth:`Layout.to_ascii`
writes the same order. Use :meth:`Layout.cell_to_world` / :meth:`Layout.world_to_cell`,
never a hand-written formula.

ASCII legend
------------
``#`` wall, ``R`` rack (one storage slot per cell), ``P`` pick/pack station (solid
counter), ``D`` receiving dock (drivable floor zone), ``.`` free floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from warehouse_sim._checks import check_int

WALL = "#"
RACK = "R"
STATION = "P"
DOCK = "D"
FREE = "."
_LEGEND = frozenset((WALL, RACK, STATION, DOCK, FREE))

#: 8-connected neighbour offsets (d_row, d_col), the first four orthogonal.
NEIGHBOURS_8: tuple[tuple[int, int], ...] = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))


@dataclass(frozen=True)
class PickFace:
    """The aisle cell in front of one rack slot, where a robot stops to pick.

    Attributes:
        rack_id: Index of the rack in :attr:`Layout.racks`.
        slot: Slot index along the rack (0 = southern/western end).
        cell: The free aisle cell ``(row, col)`` in front of the slot.
        x: World x of the cell centre in metres.
        y: World y of the cell centre in metres.
        yaw: Heading in radians that faces the rack from the pick face.
    """

    rack_id: int
    slot: int
    cell: tuple[int, int]
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class Rack:
    """One rack: a straight run of rack cells, one storage slot per cell.

    Attributes:
        rack_id: Index in :attr:`Layout.racks`.
        cells: The rack's cells ``(row, col)`` in slot order.
    """

    rack_id: int
    cells: tuple[tuple[int, int], ...]

    @property
    def n_slots(self) -> int:
        """Number of storage slots (one per cell)."""
        return len(self.cells)


@dataclass(frozen=True)
class Layout:
    """A warehouse floor plan: an immutable character grid plus derived geometry.

    Build one with :func:`generate`, :func:`from_ascii` or a preset from :data:`PRESETS`.

    Args:
        rows: The map, one string per grid row, row 0 first (southern edge).
        cell_size: Side of a grid cell in metres.
        name: A label for reports.

    Raises:
        ValueError: naming the field, for an empty or ragged map, unknown characters,
            a border that is not wall, a non-positive cell size, no rack, no free cell,
            or free cells that are not all connected.
    """

    rows: tuple[str, ...]
    cell_size: float = 1.0
    name: str = "custom"

    def __post_init__(self) -> None:
        if not self.rows:
            raise ValueError("rows: the map is empty")
        width = len(self.rows[0])
        if width == 0 or any(len(r) != width for r in self.rows):
            raise ValueError("rows: all map rows must have the same non-zero length")
        bad = set("".join(self.rows)) - _LEGEND
        if bad:
            raise ValueError(f"rows: unknown map characters {sorted(bad)}; legend is '#RPD.'")
        if not (self.cell_size > 0 and np.isfinite(self.cell_size)):
            raise ValueError(f"cell_size must be positive, got {self.cell_size!r}")
        border = self.rows[0] + self.rows[-1] + "".join(r[0] + r[-1] for r in self.rows)
        if set(border) != {WALL}:
            raise ValueError("rows: the map border must be wall ('#') all round")
        if not self.racks:
            raise ValueError("rows: the map has no rack ('R')")
        free = self.free_cells
        if len(free) == 0:
            raise ValueError("rows: the map has no free cell")
        if len(self.reachable_from(tuple(free[0]))) != len(free):
            raise ValueError("rows: some free cells are unreachable from the others")
        if not self.pick_faces:
            raise ValueError("rows: no rack has a free aisle cell beside it (no pick face)")

    # ------------------------------------------------------------------ geometry
    @cached_property
    def shape(self) -> tuple[int, int]:
        """Grid shape ``(n_rows, n_cols)``."""
        return len(self.rows), len(self.rows[0])

    @cached_property
    def size(self) -> tuple[float, float]:
        """Floor extent ``(width_x, depth_y)`` in metres."""
        n_rows, n_cols = self.shape
        return n_cols * self.cell_size, n_rows * self.cell_size

    def cell_to_world(self, row: int, col: int) -> tuple[float, float]:
        """World ``(x, y)`` in metres of the centre of cell ``(row, col)``."""
        return (col + 0.5) * self.cell_size, (row + 0.5) * self.cell_size

    def world_to_cell(self, x: float, y: float) -> tuple[int, int]:
        """The cell ``(row, col)`` containing world point ``(x, y)`` (metres), clamped to the grid."""
        n_rows, n_cols = self.shape
        row = min(max(int(y // self.cell_size), 0), n_rows - 1)
        col = min(max(int(x // self.cell_size), 0), n_cols - 1)
        return row, col

    @cached_property
    def chars(self) -> np.ndarray:
        """The map as a ``(n_rows, n_cols)`` array of single characters."""
        return np.array([list(r) for r in self.rows])

    @cached_property
    def occupancy(self) -> np.ndarray:
        """Boolean ``(n_rows, n_cols)`` grid, True where a robot cannot drive (wall, rack, station)."""
        grid = np.isin(self.chars, [WALL, RACK, STATION])
        grid.setflags(write=False)
        return grid

    @cached_property
    def free_cells(self) -> np.ndarray:
        """``(n, 2)`` int array of the drivable cells ``(row, col)``, row-major order."""
        cells = np.argwhere(~self.occupancy)
        cells.setflags(write=False)
        return cells

    def is_free(self, row: int, col: int) -> bool:
        """Whether ``(row, col)`` is inside the grid and drivable."""
        n_rows, n_cols = self.shape
        return 0 <= row < n_rows and 0 <= col < n_cols and not self.occupancy[row, col]

    def reachable_from(self, cell: tuple[int, int]) -> set[tuple[int, int]]:
        """Free cells 4-connected to ``cell`` (flood fill)."""
        seen = {cell}
        stack = [cell]
        while stack:
            r, c = stack.pop()
            for dr, dc in NEIGHBOURS_8[:4]:
                nxt = (r + dr, c + dc)
                if nxt not in seen and self.is_free(*nxt):
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    # ------------------------------------------------------------------ features
    @cached_property
    def racks(self) -> tuple[Rack, ...]:
        """Racks: maximal straight runs of ``R`` cells (vertical runs first, then horizontal)."""
        is_rack = self.chars == RACK
        n_rows, n_cols = self.shape
        used = np.zeros_like(is_rack)
        racks: list[Rack] = []
        for col in range(n_cols):
            for row in range(n_rows):
                if is_rack[row, col] and not used[row, col]:
                    vertical = row + 1 < n_rows and is_rack[row + 1, col]
                    dr, dc = (1, 0) if vertical else (0, 1)
                    cells = []
                    r, c = row, col
                    while r < n_rows and c < n_cols and is_rack[r, c] and not used[r, c]:
                        cells.append((r, c))
                        used[r, c] = True
                        r, c = r + dr, c + dc
                    racks.append(Rack(len(racks), tuple(cells)))
        return tuple(racks)

    @cached_property
    def pick_faces(self) -> tuple[PickFace, ...]:
        """Every (rack slot, free side) pair: the free cell beside a rack cell, facing it.

        A slot with aisles on both sides has two pick faces. Ordered by rack, slot, side.
        """
        faces: list[PickFace] = []
        for rack in self.racks:
            for slot, (r, c) in enumerate(rack.cells):
                for dr, dc in NEIGHBOURS_8[:4]:
                    fr, fc = r + dr, c + dc
                    if self.is_free(fr, fc):
                        x, y = self.cell_to_world(fr, fc)
                        yaw = float(np.arctan2(-dr, -dc))
                        faces.append(PickFace(rack.rack_id, slot, (fr, fc), x, y, yaw))
        return tuple(faces)

    def slot_faces(self, rack_id: int, slot: int) -> tuple[PickFace, ...]:
        """The pick faces of one rack slot (one or two).

        Raises:
            ValueError: for an unknown rack or slot.
        """
        if not 0 <= rack_id < len(self.racks):
            raise ValueError(f"rack_id {rack_id} out of range [0, {len(self.racks)})")
        if not 0 <= slot < self.racks[rack_id].n_slots:
            raise ValueError(f"slot {slot} out of range for rack {rack_id}")
        return tuple(f for f in self.pick_faces if f.rack_id == rack_id and f.slot == slot)

    def cells_of(self, char: str) -> np.ndarray:
        """``(n, 2)`` int array of the cells holding map character ``char``."""
        return np.argwhere(self.chars == char)

    @cached_property
    def station_faces(self) -> tuple[tuple[int, int], ...]:
        """Free cells beside the pick/pack station, where robots drop picked items."""
        faces: list[tuple[int, int]] = []
        for r, c in self.cells_of(STATION):
            for dr, dc in NEIGHBOURS_8[:4]:
                cell = (int(r + dr), int(c + dc))
                if self.is_free(*cell) and cell not in faces:
                    faces.append(cell)
        return tuple(faces)

    @cached_property
    def dock_cells(self) -> tuple[tuple[int, int], ...]:
        """The receiving-dock cells (drivable)."""
        return tuple((int(r), int(c)) for r, c in self.cells_of(DOCK))

    def to_ascii(self) -> str:
        """The map as text, row 0 on the first line (inverse of :func:`from_ascii`)."""
        return "\n".join(self.rows)


def from_ascii(text: str, *, cell_size: float = 1.0, name: str = "custom") -> Layout:
    """Parse an ASCII map (legend in the module docstring); first line = row 0 (south).

    Blank leading/trailing lines and surrounding whitespace on each line are ignored.

    Raises:
        ValueError: as :class:`Layout`.
    """
    rows = tuple(line.strip() for line in text.strip().splitlines() if line.strip())
    return Layout(rows=rows, cell_size=cell_size, name=name)


@dataclass(frozen=True)
class LayoutParams:
    """Parameters of the generated rack-and-aisle layout.

    Racks run north-south (along +y), one cell wide, ``rack_length`` slots long, in
    ``rack_columns`` columns separated by aisles of ``aisle_width`` cells; ``rack_rows``
    blocks of racks are stacked along y, separated by cross aisles of ``cross_aisle_width``
    cells. A corridor of ``aisle_width`` cells runs inside the walls. The pick/pack station
    sits on the southern wall, the receiving dock on the northern wall.

    Attributes:
        rack_rows: Blocks of racks along y (>= 1).
        rack_columns: Racks per block along x (>= 1).
        rack_length: Slots per rack (>= 1).
        aisle_width: Aisle width in cells (>= 1).
        cross_aisle_width: Cross-aisle width in cells (>= 1).
        station_width: Pick/pack station width in cells (>= 1).
        dock_width: Receiving dock width in cells (>= 1).
        cell_size: Cell side in metres (> 0).
    """

    rack_rows: int = 1
    rack_columns: int = 3
    rack_length: int = 4
    aisle_width: int = 2
    cross_aisle_width: int = 2
    station_width: int = 2
    dock_width: int = 2
    cell_size: float = 1.0

    def __post_init__(self) -> None:
        for name in ("rack_rows", "rack_columns", "rack_length", "aisle_width", "cross_aisle_width",
                     "station_width", "dock_width"):
            check_int(name, getattr(self, name))
        if not (self.cell_size > 0 and np.isfinite(self.cell_size)):
            raise ValueError(f"cell_size must be positive, got {self.cell_size!r}")
        n_cols = 2 + self.aisle_width + self.rack_columns * (1 + self.aisle_width)
        for name in ("station_width", "dock_width"):
            if getattr(self, name) > n_cols - 2:
                raise ValueError(f"{name}={getattr(self, name)} does not fit the {n_cols - 2}-cell-wide floor")


def generate(params: LayoutParams, *, name: str = "generated") -> Layout:
    """Build the rack-and-aisle :class:`Layout` described by ``params``."""
    a = params.aisle_width
    n_cols = 2 + a + params.rack_columns * (1 + a)
    n_rows = 2 + 2 * a + params.rack_rows * params.rack_length + (params.rack_rows - 1) * params.cross_aisle_width
    grid = np.full((n_rows, n_cols), FREE)
    grid[0, :] = grid[-1, :] = WALL
    grid[:, 0] = grid[:, -1] = WALL
    for block in range(params.rack_rows):
        row0 = 1 + a + block * (params.rack_length + params.cross_aisle_width)
        for k in range(params.rack_columns):
            col = 1 + a + k * (1 + a)
            grid[row0 : row0 + params.rack_length, col] = RACK
    mid = n_cols // 2
    s0 = mid - params.station_width // 2
    grid[1, s0 : s0 + params.station_width] = STATION
    d0 = mid - params.dock_width // 2
    grid[n_rows - 2, d0 : d0 + params.dock_width] = DOCK
    return Layout(rows=tuple("".join(r) for r in grid), cell_size=params.cell_size, name=name)


#: Named layout parameters; ``make_layout(name)`` builds them.
PRESET_PARAMS: dict[str, LayoutParams] = {
    "small": LayoutParams(rack_rows=1, rack_columns=3, rack_length=4, aisle_width=2),
    "medium": LayoutParams(rack_rows=2, rack_columns=5, rack_length=6, aisle_width=2),
    "large": LayoutParams(rack_rows=3, rack_columns=10, rack_length=8, aisle_width=2, station_width=4, dock_width=4),
}


def make_layout(name: str) -> Layout:
    """Build the preset layout ``name`` (one of :data:`PRESET_PARAMS`).

    Raises:
        ValueError: for an unknown preset name.
    """
    try:
        params = PRESET_PARAMS[name]
    except KeyError:
        raise ValueError(f"layout: unknown preset {name!r}; known: {', '.join(PRESET_PARAMS)}") from None
    return generate(params, name=name)
