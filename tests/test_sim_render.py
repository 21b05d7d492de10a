"""The top-down raster and the 3-D camera image."""

from __future__ import annotations

import numpy as np

from warehouse_sim.geometry.layout import make_layout
from warehouse_sim.sim.client import PhysicsClient
from warehouse_sim.sim.render import AGENT_RGB, TopDownRenderer, camera_image
from warehouse_sim.sim.world import build_world


def test_topdown_draws_layout_and_robots() -> None:
    layout = make_layout("small")
    renderer = TopDownRenderer(layout, 320, 200)
    x, y = layout.cell_to_world(2, 2)
    img = renderer.render(np.array([[x, y, 0.5]]), goal=(6.5, 2.5), waypoint=(4.5, 2.5))
    assert img.shape == (200, 320, 3) and img.dtype == np.uint8
    assert len(np.unique(img.reshape(-1, 3), axis=0)) >= 6
    row, col = renderer.to_pixel(x, y)
    assert tuple(img[row + 2, col - 2]) == AGENT_RGB
    # +y is up: the dock (north) is drawn above the station (south)
    dock_row = renderer.to_pixel(*layout.cell_to_world(*layout.dock_cells[0]))[0]
    station_row = renderer.to_pixel(*layout.cell_to_world(*layout.station_faces[0]))[0]
    assert dock_row < station_row
    assert not np.shares_memory(img, renderer.background)


def test_camera_image_is_not_blank() -> None:
    client = PhysicsClient()
    try:
        layout = make_layout("small")
        build_world(client, layout)
        img = camera_image(client, layout, 64, 48)
    finally:
        client.close()
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and img.std() > 5
