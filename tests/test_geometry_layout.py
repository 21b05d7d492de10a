"""Layouts: generator, ASCII maps, presets, validation, grid/world conversion, pick faces."""

from __future__ import annotations

import numpy as np
import pytest

from warehouse_sim.geometry.layout import PRESET_PARAMS, LayoutParams, from_ascii, generate, make_layout

MAP = """
#########
#..R....#
#..R..P.#
#.......#
#########
"""


@pytest.mark.parametrize("name", list(PRESET_PARAMS))
def test_presets_build_and_are_consistent(name: str) -> None:
    layout = make_layout(name)
    grid = layout.occupancy
    assert grid.dtype == bool and grid.shape == layout.shape
    assert grid[0].all() and grid[-1].all() and grid[:, 0].all() and grid[:, -1].all()
    assert len(layout.reachable_from(tuple(layout.free_cells[0]))) == len(layout.free_cells)
    assert layout.station_faces and layout.dock_cells
    for face in layout.pick_faces:
        assert not grid[face.cell]
        rack_cell = layout.racks[face.rack_id].cells[face.slot]
        assert abs(rack_cell[0] - face.cell[0]) + abs(rack_cell[1] - face.cell[1]) == 1
        # the yaw points from the face to its rack cell
        rx, ry = layout.cell_to_world(*rack_cell)
        assert np.isclose(np.arctan2(ry - face.y, rx - face.x), face.yaw)
    sizes = [len(make_layout(n).free_cells) for n in ("small", "medium", "large")]
    assert sizes == sorted(sizes)


def test_grid_world_conversion_round_trips() -> None:
    layout = generate(LayoutParams(cell_size=0.8))
    for row, col in layout.free_cells:
        x, y = layout.cell_to_world(int(row), int(col))
        assert layout.world_to_cell(x, y) == (row, col)
        assert layout.world_to_cell(x + 0.39, y - 0.39) == (row, col)
    assert layout.cell_to_world(0, 0) == (0.4, 0.4)
    assert layout.size == (layout.shape[1] * 0.8, layout.shape[0] * 0.8)


def test_ascii_round_trip_and_row_order() -> None:
    layout = from_ascii(MAP)
    assert from_ascii(layout.to_ascii()) == layout
    assert layout.shape == (5, 9)
    assert layout.rows[1][3] == "R"  # first text line after the wall is row 1 (south)
    assert [r.cells for r in layout.racks] == [((1, 3), (2, 3))]
    assert {f.slot for f in layout.slot_faces(0, 1)} == {1}
    assert layout.station_faces


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("", "rows"),
        ("###\n#.\n###", "rows"),
        ("#####\n#.X.#\n#####", "rows"),
        ("#####\n#.R..\n#####", "rows"),
        ("#####\n#...#\n#####", "rows"),  # no rack
        ("#######\n#.R#..#\n#######", "rows"),  # disconnected free cells
    ],
)
def test_invalid_maps_raise_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        from_ascii(text)


def test_invalid_cell_size_and_params_raise() -> None:
    with pytest.raises(ValueError, match="cell_size"):
        from_ascii(MAP, cell_size=0.0)
    for name, bad in [("rack_rows", 0), ("aisle_width", -1), ("rack_length", 1.5), ("cell_size", -1.0),
                      ("station_width", 99)]:
        with pytest.raises(ValueError, match=name):
            LayoutParams(**{name: bad})
    with pytest.raises(ValueError, match="layout"):
        make_layout("huge")


def test_slot_faces_validate_arguments() -> None:
    layout = make_layout("small")
    assert len(layout.slot_faces(0, 1)) == 2  # aisles on both sides
    assert len(layout.slot_faces(0, 0)) == 3  # an end slot also faces the cross aisle
    with pytest.raises(ValueError, match="rack_id"):
        layout.slot_faces(99, 0)
    with pytest.raises(ValueError, match="slot"):
        layout.slot_faces(0, 99)
