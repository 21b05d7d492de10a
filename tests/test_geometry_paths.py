"""A*, distance fields, goal fields, smoothing and the path follower (no physics)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from warehouse_sim.geometry.layout import make_layout
from warehouse_sim.geometry.paths import (
    GoalField,
    PathFollower,
    PursuitParams,
    astar,
    distance_field,
    plan_route,
    segment_clear,
    smooth_path,
)


def _cost(path: list[tuple[int, int]]) -> float:
    return sum(math.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.pairwise(path))


def test_astar_is_optimal_and_agrees_with_the_distance_field() -> None:
    layout = make_layout("medium")
    grid = layout.occupancy
    rng = np.random.default_rng(0)
    free = layout.free_cells
    for _ in range(20):
        s, g = (tuple(int(v) for v in free[i]) for i in rng.integers(len(free), size=2))
        path = astar(grid, s, g)
        assert path[0] == s and path[-1] == g
        assert all(not grid[c] for c in path)
        for a, b in itertools.pairwise(path):
            dr, dc = b[0] - a[0], b[1] - a[1]
            assert max(abs(dr), abs(dc)) == 1
            if dr and dc:  # no corner cutting
                assert not grid[a[0] + dr, a[1]] and not grid[a[0], a[1] + dc]
        assert _cost(path) == pytest.approx(distance_field(grid, g)[s])


def test_astar_unreachable_and_invalid() -> None:
    grid = np.zeros((5, 5), dtype=bool)
    grid[:, 2] = True
    assert astar(grid, (0, 0), (0, 4)) == []
    with pytest.raises(ValueError, match="start"):
        astar(grid, (0, 2), (0, 0))


def test_goal_field_distance_and_waypoints() -> None:
    layout = make_layout("small")
    face = layout.pick_faces[0]
    field = GoalField(layout, face.cell)
    assert field.distance(face.x, face.y) == pytest.approx(0.0)
    for r, c in layout.free_cells:
        x, y = layout.cell_to_world(int(r), int(c))
        assert field.distance(x, y) <= field.cells_dist[r, c] + 1e-9
        wx, wy = field.waypoint(x, y, 2.0)
        assert field.distance(wx, wy) <= max(field.distance(x, y) - 1.0, 0.0) + 1e-9


def test_smoothed_route_keeps_clearance() -> None:
    layout = make_layout("small")
    free = layout.free_cells
    for k in range(0, len(free), 7):
        start = layout.cell_to_world(*(int(v) for v in free[k]))
        route = plan_route(layout, start, layout.pick_faces[3].cell, radius=0.3)
        assert route[0] == start and route[-1] == (layout.pick_faces[3].x, layout.pick_faces[3].y)
        for a, b in itertools.pairwise(route):
            assert segment_clear(layout, a, b, radius=0.3)
    cells = astar(layout.occupancy, (2, 1), (2, 11))
    assert len(smooth_path(layout, cells, radius=0.3)) == 2  # a straight corridor


def test_path_follower_reaches_the_goal_kinematically() -> None:
    layout = make_layout("small")
    route = plan_route(layout, layout.cell_to_world(1, 1), layout.pick_faces[-1].cell, radius=0.3)
    follower = PathFollower(route, PursuitParams())
    x, y, yaw, dt = *route[0], 0.0, 0.05
    for _ in range(2000):
        v, w = follower.command(x, y, yaw)
        assert abs(v) <= 1.0 and abs(w) <= 2.0
        x, y, yaw = x + v * math.cos(yaw) * dt, y + v * math.sin(yaw) * dt, yaw + w * dt
        if follower.done(x, y):
            break
    assert follower.done(x, y)
    with pytest.raises(ValueError, match="lookahead"):
        PursuitParams(lookahead=0.0)
