"""Grid path planning and path following (pure numpy/Python, no PyBullet).

Graph: the free cells of an occupancy grid, **8-connected** with step costs of 1 cell
(orthogonal) and sqrt(2) cells (diagonal); a diagonal step is allowed only when both
orthogonal cells beside it are free (no corner cutting past racks). Costs are returned in
metres (cells x ``cell_size``). :func:`astar` and :func:`distance_field` search this same
graph, so the A* path cost from any cell equals the distance field's value there.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from warehouse_sim._checks import check_real
from warehouse_sim.geometry.layout import NEIGHBOURS_8, Layout

_SQRT2 = math.sqrt(2.0)
Cell = tuple[int, int]


def _neighbours(occupancy: np.ndarray, cell: Cell) -> list[tuple[Cell, float]]:
    n_rows, n_cols = occupancy.shape
    r, c = cell
    out: list[tuple[Cell, float]] = []
    for dr, dc in NEIGHBOURS_8:
        nr, nc = r + dr, c + dc
        if not (0 <= nr < n_rows and 0 <= nc < n_cols) or occupancy[nr, nc]:
            continue
        if dr and dc:
            if occupancy[r + dr, c] or occupancy[r, c + dc]:
                continue
            out.append(((nr, nc), _SQRT2))
        else:
            out.append(((nr, nc), 1.0))
    return out


def astar(occupancy: np.ndarray, start: Cell, goal: Cell) -> list[Cell]:
    """Shortest 8-connected path from ``start`` to ``goal`` (both included).

    Args:
        occupancy: ``(n_rows, n_cols)`` bool grid, True = blocked.
        start: Start cell ``(row, col)``.
        goal: Goal cell ``(row, col)``.

    Returns:
        The cells of the path in order; ``[]`` if the goal is unreachable.

    Raises:
        ValueError: if ``start`` or ``goal`` is blocked or outside the grid.
    """
    for name, cell in (("start", start), ("goal", goal)):
        r, c = cell
        if not (0 <= r < occupancy.shape[0] and 0 <= c < occupancy.shape[1]) or occupancy[r, c]:
            raise ValueError(f"{name} cell {cell} is blocked or outside the grid")

    def h(cell: Cell) -> float:  # octile distance: admissible and consistent
        dr, dc = abs(cell[0] - goal[0]), abs(cell[1] - goal[1])
        return max(dr, dc) + (_SQRT2 - 1.0) * min(dr, dc)

    g = {start: 0.0}
    parent: dict[Cell, Cell] = {}
    frontier = [(h(start), 0, start)]
    tie = 1
    closed: set[Cell] = set()
    while frontier:
        _, _, cell = heapq.heappop(frontier)
        if cell == goal:
            path = [cell]
            while cell in parent:
                cell = parent[cell]
                path.append(cell)
            return path[::-1]
        if cell in closed:
            continue
        closed.add(cell)
        for nxt, cost in _neighbours(occupancy, cell):
            new_g = g[cell] + cost
            if new_g < g.get(nxt, math.inf):
                g[nxt] = new_g
                parent[nxt] = cell
                heapq.heappush(frontier, (new_g + h(nxt), tie, nxt))
                tie += 1
    return []


def distance_field(occupancy: np.ndarray, goal: Cell) -> np.ndarray:
    """Shortest-path cost (in cells) from every cell to ``goal`` (Dijkstra on the same graph).

    Returns:
        ``(n_rows, n_cols)`` float64 array; ``inf`` at blocked or unreachable cells.
    """
    dist = np.full(occupancy.shape, np.inf)
    dist[goal] = 0.0
    frontier = [(0.0, goal)]
    while frontier:
        d, cell = heapq.heappop(frontier)
        if d > dist[cell]:
            continue
        for nxt, cost in _neighbours(occupancy, cell):
            nd = d + cost
            if nd < dist[nxt]:
                dist[nxt] = nd
                heapq.heappush(frontier, (nd, nxt))
    return dist


class GoalField:
    """Geodesic distance and route to one goal cell, for any world point.

    Precomputes the distance field to the goal and, for each free cell, its downhill
    neighbour; queries then cost a few microseconds.

    Args:
        layout: The layout (grid and cell size).
        goal: The goal cell ``(row, col)``.
    """

    def __init__(self, layout: Layout, goal: Cell) -> None:
        self.layout = layout
        self.goal = goal
        occupancy = layout.occupancy
        self.cells_dist = distance_field(occupancy, goal) * layout.cell_size
        n_rows, n_cols = occupancy.shape
        # downhill neighbour of each cell as a flat index row * n_cols + col (itself at the goal)
        nxt = np.arange(n_rows * n_cols, dtype=np.int32)
        for r, c in layout.free_cells:
            best, best_d = (int(r), int(c)), self.cells_dist[r, c]
            for cell, _ in _neighbours(occupancy, (int(r), int(c))):
                if self.cells_dist[cell] < best_d:
                    best, best_d = cell, self.cells_dist[cell]
            nxt[r * n_cols + c] = best[0] * n_cols + best[1]
        self._next = nxt
        self.cells_dist.setflags(write=False)
        # plain lists for the per-step queries (scalar access ~5x cheaper than numpy's)
        self._rows: list[list[float]] = self.cells_dist.tolist()
        self._flat: list[float] = self.cells_dist.ravel().tolist()
        self._next_flat: list[int] = nxt.tolist()
        self._n_cols = n_cols
        self._goal_flat = goal[0] * n_cols + goal[1]

    def nearest_node(self, x: float, y: float) -> tuple[Cell, float]:
        """The free cell near ``(x, y)`` that minimises straight distance + field value.

        Candidates are the 3 x 3 cells around the point's cell.

        Returns:
            ``(cell, geodesic distance in metres)``; distance ``inf`` if none is reachable.
        """
        r, c = self.layout.world_to_cell(x, y)
        rows = self._rows
        n_rows, n_cols = len(rows), len(rows[0])
        cs = self.layout.cell_size
        hypot = math.hypot
        best, best_total = (r, c), math.inf
        for rr in range(max(r - 1, 0), min(r + 2, n_rows)):
            row = rows[rr]
            cy = (rr + 0.5) * cs  # the cell centre, as Layout.cell_to_world computes it
            for cc in range(max(c - 1, 0), min(c + 2, n_cols)):
                d = row[cc]
                if d < best_total:
                    total = d + hypot((cc + 0.5) * cs - x, cy - y)
                    if total < best_total:
                        best, best_total = (rr, cc), total
        return best, best_total

    def distance(self, x: float, y: float) -> float:
        """Geodesic distance in metres from world point ``(x, y)`` to the goal cell centre."""
        return self.nearest_node(x, y)[1]

    def waypoint(self, x: float, y: float, lookahead: float) -> tuple[float, float]:
        """The route point about ``lookahead`` metres ahead of ``(x, y)`` on the shortest path.

        Follows the downhill chain of cells from :meth:`nearest_node` until the field has
        dropped by ``lookahead`` (or the goal is reached) and returns that cell's centre.
        """
        (r, c), d = self.nearest_node(x, y)
        return self.follow(r, c, d - lookahead)

    def follow(self, row: int, col: int, target: float) -> tuple[float, float]:
        """Centre ``(x, y)`` of the first cell downhill from ``(row, col)`` whose field value is <= ``target`` metres (or the goal)."""
        n_cols, goal = self._n_cols, self._goal_flat
        k = row * n_cols + col
        dist, nxt = self._flat, self._next_flat
        while k != goal and dist[k] > target:
            k = nxt[k]
        return self.layout.cell_to_world(*divmod(k, n_cols))


def segment_clear(layout: Layout, a: tuple[float, float], b: tuple[float, float], *, radius: float) -> bool:
    """Whether a disc of ``radius`` metres sweeping from ``a`` to ``b`` (world, metres) misses every blocked cell."""
    ax, ay = a
    bx, by = b
    length = math.hypot(bx - ax, by - ay)
    n = max(int(length / (0.25 * layout.cell_size)) + 1, 2)
    occupancy = layout.occupancy
    cs = layout.cell_size
    for t in np.linspace(0.0, 1.0, n):
        x, y = ax + t * (bx - ax), ay + t * (by - ay)
        r0, c0 = layout.world_to_cell(x - radius, y - radius)
        r1, c1 = layout.world_to_cell(x + radius, y + radius)
        for rr in range(r0, r1 + 1):
            for cc in range(c0, c1 + 1):
                if occupancy[rr, cc]:
                    # distance from the point to the blocked square
                    dx = max(cc * cs - x, 0.0, x - (cc + 1) * cs)
                    dy = max(rr * cs - y, 0.0, y - (rr + 1) * cs)
                    if dx * dx + dy * dy < radius * radius:
                        return False
    return True


def smooth_path(layout: Layout, cells: list[Cell], *, radius: float) -> list[tuple[float, float]]:
    """Turn a cell path into few world waypoints by line-of-sight shortcutting.

    Args:
        layout: The layout the path was planned on.
        cells: A path from :func:`astar`.
        radius: Clearance in metres the shortcut segments must keep from blocked cells.

    Returns:
        World waypoints ``[(x, y), ...]`` from the first to the last cell centre.
    """
    points = [layout.cell_to_world(*cell) for cell in cells]
    if len(points) <= 2:
        return points
    out = [points[0]]
    i = 0
    while i < len(points) - 1:
        j = len(points) - 1
        while j > i + 1 and not segment_clear(layout, points[i], points[j], radius=radius):
            j -= 1
        out.append(points[j])
        i = j
    return out


def wrap_angle(angle: float) -> float:
    """Wrap an angle in radians to ``[-pi, pi)``."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


@dataclass(frozen=True)
class PursuitParams:
    """Gains and limits of :class:`PathFollower`.

    Attributes:
        lookahead: Pure-pursuit lookahead distance in metres (> 0).
        v_max: Top linear speed in m/s (> 0).
        omega_max: Top angular speed in rad/s (> 0).
        k_omega: Heading gain in 1/s (> 0).
        turn_in_place: Heading error in radians above which the robot stops and turns.
        goal_tolerance: Distance in metres at which the final waypoint counts as reached.
        slow_radius: Distance in metres to the goal below which speed ramps down (> 0).
    """

    lookahead: float = 0.7
    v_max: float = 1.0
    omega_max: float = 2.0
    k_omega: float = 3.0
    turn_in_place: float = 0.9
    goal_tolerance: float = 0.1
    slow_radius: float = 0.6

    def __post_init__(self) -> None:
        for name in ("lookahead", "v_max", "omega_max", "k_omega", "turn_in_place", "goal_tolerance", "slow_radius"):
            check_real(name, getattr(self, name), strict=True)


class PathFollower:
    """Pure-pursuit follower of a waypoint polyline for a differential-drive robot.

    Args:
        waypoints: World ``(x, y)`` points in metres, last = goal.
        params: Gains and limits.
    """

    def __init__(self, waypoints: list[tuple[float, float]], params: PursuitParams | None = None) -> None:
        if not waypoints:
            raise ValueError("waypoints must not be empty")
        self.params = params or PursuitParams()
        self.waypoints = [(float(x), float(y)) for x, y in waypoints]
        self._index = 0  # the segment (waypoints[i], waypoints[i + 1]) being followed

    @property
    def goal(self) -> tuple[float, float]:
        """The last waypoint."""
        return self.waypoints[-1]

    def done(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` is within the goal tolerance of the last waypoint."""
        gx, gy = self.goal
        return math.hypot(gx - x, gy - y) <= self.params.goal_tolerance

    def _target(self, x: float, y: float) -> tuple[float, float]:
        wps = self.waypoints
        # advance past waypoints already within the lookahead circle
        while self._index < len(wps) - 1 and math.hypot(wps[self._index + 1][0] - x, wps[self._index + 1][1] - y) < self.params.lookahead:
            self._index += 1
        if self._index >= len(wps) - 1:
            return wps[-1]
        (ax, ay), (bx, by) = wps[self._index], wps[self._index + 1]
        # point on the segment at lookahead distance beyond the projection of (x, y)
        sx, sy = bx - ax, by - ay
        seg = math.hypot(sx, sy)
        if seg < 1e-9:
            return bx, by
        t = ((x - ax) * sx + (y - ay) * sy) / seg
        t = min(max(t + self.params.lookahead, 0.0), seg)
        return ax + sx * t / seg, ay + sy * t / seg

    def command(self, x: float, y: float, yaw: float) -> tuple[float, float]:
        """Return ``(v, omega)`` in m/s and rad/s for a robot at ``(x, y, yaw)`` (world frame)."""
        p = self.params
        if self.done(x, y):
            return 0.0, 0.0
        tx, ty = self._target(x, y)
        err = wrap_angle(math.atan2(ty - y, tx - x) - yaw)
        omega = max(-p.omega_max, min(p.omega_max, p.k_omega * err))
        if abs(err) > p.turn_in_place:
            return 0.0, omega
        gx, gy = self.goal
        dist_goal = math.hypot(gx - x, gy - y)
        v = p.v_max * math.cos(err) * min(1.0, dist_goal / p.slow_radius + 0.2)
        return min(v, p.v_max), omega


def plan_route(
    layout: Layout, start_xy: tuple[float, float], goal: Cell, *, radius: float
) -> list[tuple[float, float]]:
    """A* from the cell holding ``start_xy`` to ``goal``, smoothed into world waypoints.

    The first waypoint is the start cell's centre, the last the goal cell's centre.

    Returns:
        Waypoints in metres; ``[]`` if the goal is unreachable.
    """
    start = layout.world_to_cell(*start_xy)
    if layout.occupancy[start]:
        return []
    cells = astar(layout.occupancy, start, goal)
    return smooth_path(layout, cells, radius=radius) if cells else []
