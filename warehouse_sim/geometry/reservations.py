"""Multi-robot path planning on the layout grid: prioritised space-time reservations.

Pure grid logic (numpy + heapq, no PyBullet): the Fulfilment task executes these plans
through the physics controller of each robot.

Time is counted in integer *plan steps*; one step is the time a robot needs to cross one
cell at the nominal speed. A plan is a list of cells, one per step, starting at the
robot's cell at its start step; repeating a cell is a wait. Robots are planned one at a
time (prioritised planning), each against the reservations of the robots planned before:

* vertex conflicts: two robots in one cell at one step;
* following conflicts: entering a cell that another robot occupies one step before.
  This also excludes swaps and rotations (robots cycling through each other's cells at
  once), which are conflict-free on a grid clock but deadlock when each robot must wait
  for the next one to leave its cell;
* parking: a robot stays in the last cell of its plan until it is given a new plan, so
  that cell is reserved from the plan's last step on, for ever; a plan may end in a cell
  only if nobody else visits it later.

Execution (:meth:`FleetPlanner.may_enter`) follows the plans' *order*, not their clock, so
a robot that falls behind (a slow turn, a bump) delays the robots that must pass after
it but never collides with them: a robot may enter a cell only when every visit of
another robot to that cell planned for an earlier or the same step has been completed.
This is the action-dependency execution of Hönig et al. (2019). It is deadlock-free
because, without following, every visit a robot waits for was planned for a strictly
earlier step than the robot's own current step: the robot furthest behind its plan is
never blocked. Cells are flat indices ``row * n_cols + col`` internally; the
public methods take and return ``(row, col)`` tuples.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Sequence

import numpy as np

Cell = tuple[int, int]

_UNREACHABLE = np.iinfo(np.int32).max
#: Expansions after which :meth:`FleetPlanner._search` checks whether the parked robots
#: alone cut the goal off (a failed search would otherwise spend its whole budget): first
#: cheaply (a small pocket around the goal or the start), then thoroughly (a flood).
_POCKET_AFTER = 32
_PROOF_AFTER = 400
#: Largest region (cells) the cheap check floods to prove a goal or start cut off.
_POCKET = 12


class FleetPlanner:
    """Prioritised space-time planning and order-preserving execution for a robot fleet.

    Args:
        occupancy: Boolean ``(n_rows, n_cols)`` grid, True where robots cannot drive
            (the layout's :attr:`~warehouse_sim.geometry.layout.Layout.occupancy`).
        horizon: Longest plan in steps; a goal not reached within it fails.
        max_expansions: Search budget per plan (A* node expansions); a search that
            exceeds it fails, so an unreachable goal costs bounded time.

    Raises:
        ValueError: for a non-2-D occupancy grid or non-positive ``horizon`` /
            ``max_expansions``.
    """

    def __init__(self, occupancy: np.ndarray, *, horizon: int = 400, max_expansions: int = 20_000) -> None:
        grid = np.asarray(occupancy, dtype=bool)
        if grid.ndim != 2 or grid.size == 0:
            raise ValueError(f"occupancy must be a non-empty 2-D grid, got shape {grid.shape}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        if max_expansions < 1:
            raise ValueError(f"max_expansions must be >= 1, got {max_expansions}")
        self._grid = grid
        self._n_cols = int(grid.shape[1])
        self.horizon = int(horizon)
        self.max_expansions = int(max_expansions)
        free = ~grid.ravel()
        n_rows, n_cols = grid.shape
        # The free 4-neighbours of each free cell, in a fixed order (the search's tie-break).
        self._neighbours: list[tuple[int, ...]] = []
        for idx in range(grid.size):
            r, c = divmod(idx, n_cols)
            succ = []
            if free[idx]:
                for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < n_rows and 0 <= cc < n_cols and free[rr * n_cols + cc]:
                        succ.append(rr * n_cols + cc)
            self._neighbours.append(tuple(succ))
        self._size = int(grid.size)
        # Packing of the search's heap entries (see _search): node keys below _span, the
        # depth tie-break in units of _d_unit (pushes per search), f in units of _f_unit.
        self._span = (self.horizon + 2) * self._size
        self._d_unit = 5 * self.max_expansions + 6
        self._f_unit = (self.horizon + 2) * self._d_unit
        #: (row, col) of each flat index, and the flat index of each free cell.
        self._cells: list[Cell] = [(i // n_cols, i % n_cols) for i in range(grid.size)]
        self._flat: dict[Cell, int] = {self._cells[i]: i for i in range(grid.size) if free[i]}
        self._dist_cache: dict[int, list[int]] = {}
        self._scaled_cache: dict[int, list[int]] = {}
        self._any_cache: dict[tuple[Cell, ...], list[int]] = {}
        self.reset(())

    # ------------------------------------------------------------------ state
    def reset(self, starts: Sequence[Cell], *, step: int = 0) -> None:
        """Forget every plan and park one robot per cell of ``starts`` at ``step``.

        Raises:
            ValueError: for a blocked or repeated start cell.
        """
        flat = [self._index(cell, "starts") for cell in starts]
        if len(set(flat)) != len(flat):
            raise ValueError("starts: two robots share a cell")
        self._plans: list[list[int]] = [[f] for f in flat]  # cells, one per step from _t0
        self._t0: list[int] = [step] * len(flat)
        self._end: list[int] = [step] * len(flat)  # the plan's last step
        self._progress: list[int] = [step] * len(flat)  # plan step the robot has reached
        # Reservation keys are integers: (step, cell) as step * size + cell (size: cells in
        # the grid). Moves need no keys of their own: a robot that leaves a cell at a step
        # holds it at that step, so the vertex reservations already rule out swaps.
        self._queues: dict[int, list[tuple[int, int]]] = {}  # cell -> sorted pending (step, robot)
        self._vertex: set[int] = set()  # pending (step, cell)
        self._entries: set[int] = set()  # (step, cell): a robot enters cell at step from another
        self._parked: dict[int, tuple[int, int]] = {}  # cell -> (from step, robot)
        for robot, f in enumerate(flat):
            self._add_visit(step, f, robot)
            self._parked[f] = (step, robot)

    @property
    def n_robots(self) -> int:
        """Number of robots."""
        return len(self._plans)

    def cell(self, robot: int) -> Cell:
        """The cell of the plan step ``robot`` has reached (its last cell when in transit)."""
        return self._cell(self._plans[robot][self._progress[robot] - self._t0[robot]])

    def progress(self, robot: int) -> int:
        """The plan step ``robot`` has reached."""
        return self._progress[robot]

    def is_idle(self, robot: int) -> bool:
        """Whether ``robot`` has completed its plan (it is parked in its last cell)."""
        return self._progress[robot] == self._end[robot]

    def goal(self, robot: int) -> Cell:
        """The last cell of the robot's plan."""
        return self._cell(self._plans[robot][-1])

    def remaining_path(self, robot: int) -> list[Cell]:
        """The cells from the robot's current step to the end of its plan (waits included)."""
        plan = self._plans[robot]
        return [self._cell(f) for f in plan[self._progress[robot] - self._t0[robot] :]]

    def next_cell(self, robot: int) -> Cell | None:
        """The cell of the robot's next plan step, or None when it is idle."""
        if self.is_idle(robot):
            return None
        return self._cell(self._plans[robot][self._progress[robot] + 1 - self._t0[robot]])

    def ahead(self, robot: int, k: int) -> Cell | None:
        """The cell of the plan step ``k`` steps after the one ``robot`` has reached, or None past the plan's end."""
        i = self._progress[robot] + k - self._t0[robot]
        plan = self._plans[robot]
        return self._cell(plan[i]) if i < len(plan) else None

    # ------------------------------------------------------------------ planning
    def distance(self, start: Cell, goal: Cell) -> int | None:
        """Shortest 4-connected path length in cells on the empty grid (None if unreachable)."""
        d = self._distances(self._index(goal, "goal"))[self._index(start, "start")]
        return None if d == _UNREACHABLE else d

    def distance_to_any(self, start: Cell, goals: tuple[Cell, ...]) -> int | None:
        """Shortest path length in cells from ``start`` to the nearest of ``goals`` on the empty grid (None if none is reachable)."""
        merged = self._any_cache.get(goals)
        if merged is None:
            fields = [self._distances(self._index(g, "goal")) for g in goals]
            merged = self._any_cache[goals] = [min(column) for column in zip(*fields, strict=True)] if fields else []
        d = merged[self._index(start, "start")] if merged else _UNREACHABLE
        return None if d == _UNREACHABLE else d

    def goal_available(self, goal: Cell, robot: int) -> bool:
        """Whether ``goal`` is not parked in by another robot (a plan to it may exist)."""
        entry = self._parked.get(self._index(goal, "goal"))
        return entry is None or entry[1] == robot

    def plan(self, robot: int, goal: Cell, step: int) -> list[Cell] | None:
        """Plan an idle ``robot`` from its cell to ``goal``, starting at ``step``, and reserve it.

        The robot must be idle (:meth:`is_idle`). The plan starts at
        ``max(step, progress(robot))`` and avoids every reservation of the other robots,
        including their parking cells, and ends in a cell nobody else visits later.

        Returns:
            The planned cells, one per step (the first is the current cell), or None if no
            plan was found within :attr:`horizon` steps and :attr:`max_expansions`
            expansions; on None the robot stays parked where it is.

        Raises:
            ValueError: if the robot is not idle or ``goal`` is blocked.
        """
        if not self.is_idle(robot):
            raise ValueError(f"robot {robot} is not idle; it can be replanned only at the end of its plan")
        g = self._index(goal, "goal")
        start = self._plans[robot][-1]
        t0 = max(int(step), self._progress[robot])
        entry = self._parked.get(g)
        if entry is not None and entry[1] != robot:
            return None
        # Lift the robot's own parking so that the search does not see itself.
        old_t = self._end[robot]
        del self._parked[start]
        self._remove_visit(old_t, start, robot)
        path = self._search(start, g, t0)
        if path is None:
            self._add_visit(old_t, start, robot)
            self._parked[start] = (old_t, robot)
            return None
        self._plans[robot] = path
        self._t0[robot] = t0
        self._end[robot] = t0 + len(path) - 1
        self._progress[robot] = t0
        size = self._size
        for k, f in enumerate(path):
            self._add_visit(t0 + k, f, robot)
            if k and path[k - 1] != f:
                self._entries.add((t0 + k) * size + f)
        self._parked[g] = (t0 + len(path) - 1, robot)
        return [self._cell(f) for f in path]

    def _search(self, start: int, goal: int, t0: int) -> list[int] | None:
        h = self._distances(goal)
        if h[start] == _UNREACHABLE:
            return None
        # A* over (cell, step) nodes: f = steps so far + remaining distance, ties broken by
        # depth (deeper first), then push order. A node enters the heap once (when it gets
        # its parent), so every pop is a new expansion. The heap holds plain ints: the
        # priority (f, -depth, push counter), times the node span, plus the node, keyed
        # as depth * size + cell from the start step t0.
        queue = self._queues.get(goal)
        goal_depth = queue[-1][0] + 1 - t0 if queue else 0  # nobody visits goal at or after this depth
        vertex, entries, nbrs = self._vertex, self._entries, self._neighbours
        since = {cell: s for cell, (s, _) in self._parked.items()}
        size, horizon, max_expansions = self._size, self.horizon, self.max_expansions
        span, f_unit, d_unit = self._span, self._f_unit, self._d_unit
        hs = self._scaled_distances(goal)
        base = t0 * size
        counter = 0
        push, pop = heapq.heappush, heapq.heappop
        # a node at depth d pushes its children with priority d_pri * (d + 1) + pri0 + hs[child]
        d_pri, pri0 = (f_unit - d_unit) * span, (horizon + 1) * d_unit * span
        open_heap = [pri0 + hs[start] + start]
        parent: dict[int, int] = {start: -1}
        expansions = 0
        # the expansion counts at which to look up: the two proofs, then the end of the budget
        checks = [n for n in (_POCKET_AFTER, _PROOF_AFTER) if n <= max_expansions] + [max_expansions + 1]
        check_at = checks.pop(0)
        while open_heap:
            local = pop(open_heap) % span
            depth, cell = divmod(local, size)
            if cell == goal and depth >= goal_depth:
                path = [cell]
                local = parent[local]
                while local >= 0:
                    path.append(local % size)
                    local = parent[local]
                path.reverse()
                return path
            expansions += 1
            if expansions >= check_at:
                if expansions > max_expansions or self._cut_off(start, goal, t0, thorough=check_at == _PROOF_AFTER):
                    return None
                check_at = checks.pop(0)
            if depth >= horizon:
                continue
            nd = depth + 1
            t_next = t0 + nd
            row = local + size - cell  # the next depth's node key of cell 0
            here = base + local - cell  # (step, cell 0) of this node, absolute
            there = here + size
            after = there + size
            pri = d_pri * nd + pri0
            # wait in place
            key = row + cell
            if key not in parent and there + cell not in vertex and after + cell not in entries:
                s = since.get(cell)
                if s is None or s > t_next:
                    parent[key] = local
                    counter += span
                    push(open_heap, pri + hs[cell] + counter + key)
            for nxt in nbrs[cell]:
                key = row + nxt
                if key in parent or there + nxt in vertex:
                    continue
                s = since.get(nxt)
                if s is not None and s <= t_next:
                    continue
                # No following, either way round: a cell is entered only if nobody is in
                # it one step before, and left before anybody else enters it (this also
                # rules out swaps and rotations, which would deadlock execution).
                if here + nxt in vertex or after + nxt in entries:
                    continue
                parent[key] = local
                counter += span
                push(open_heap, pri + hs[nxt] + counter + key)
        return None

    def _cut_off(self, start: int, goal: int, t0: int, *, thorough: bool) -> bool:
        """Whether the parked robots alone leave no plan from ``start`` at step ``t0`` to ``goal``.

        Both tests relax the search (True proves that no plan exists; False proves
        nothing): robots that park are walls from their parking step on, for ever, every
        other reservation is ignored and the robot may wait anywhere.

        The cheap test (``thorough=False``) walls off each parked cell the robot cannot
        reach before its parking step (one cell per step) and looks for a small region
        (at most ``_POCKET`` cells) around the goal or the start that the walls close.
        The thorough one floods the whole grid breadth-first: walls only appear, so
        arriving earlier never hurts and the flood gives each cell's earliest arrival. A
        parked cell is a wall from the step before its robot drives in (nobody may be in
        a cell one step before it is entered). The plan must end by stepping into
        ``goal`` from a neighbour after the goal's last visit by another robot (nobody may
        be in it one step before), so some neighbour must be reachable and not walled
        until then.
        """
        if start == goal:
            return False
        if not thorough:
            walls = {cell for cell, (s, _) in self._parked.items() if s <= t0 + self._distances(cell)[start]}
            return bool(walls) and (self._closed_pocket(goal, start, walls) or self._closed_pocket(start, goal, walls))
        size, entries, nbrs = self._size, self._entries, self._neighbours
        wall = {cell: s - 1 if s * size + cell in entries else s for cell, (s, _) in self._parked.items()}
        arrival, frontier, t = {start: t0}, [start], t0
        while frontier:
            t += 1
            reached = []
            for cell in frontier:
                for nxt in nbrs[cell]:
                    if nxt not in arrival and (nxt not in wall or wall[nxt] > t):
                        arrival[nxt] = t
                        reached.append(nxt)
            frontier = reached
        queue = self._queues.get(goal)
        after = queue[-1][0] + 1 if queue else t0  # the first step the robot may wait next to the goal
        return not any(c in arrival and (c not in wall or max(arrival[c], after) < wall[c]) for c in nbrs[goal])

    def _closed_pocket(self, cell: int, other: int, walls: set[int]) -> bool:
        """Whether ``cell`` lies in a region of at most ``_POCKET`` free cells, closed by ``walls``, without ``other``."""
        seen, stack, nbrs = {cell}, [cell], self._neighbours
        while stack:
            for nxt in nbrs[stack.pop()]:
                if nxt == other:
                    return False
                if nxt not in seen and nxt not in walls:
                    seen.add(nxt)
                    if len(seen) > _POCKET:
                        return False
                    stack.append(nxt)
        return True

    def _distances(self, goal: int) -> list[int]:
        """Grid distances in cells from every flat index to ``goal`` (breadth-first, cached per goal)."""
        cached = self._dist_cache.get(goal)
        if cached is not None:
            return cached
        dist = [_UNREACHABLE] * self._size
        dist[goal] = 0
        frontier = deque([goal])
        nbrs = self._neighbours
        while frontier:
            cell = frontier.popleft()
            d = dist[cell] + 1
            for nxt in nbrs[cell]:
                if dist[nxt] == _UNREACHABLE:
                    dist[nxt] = d
                    frontier.append(nxt)
        self._dist_cache[goal] = dist
        return dist

    def _scaled_distances(self, goal: int) -> list[int]:
        """:meth:`_distances` to ``goal`` in the search's heap units (cached per goal)."""
        cached = self._scaled_cache.get(goal)
        if cached is None:
            unit = self._f_unit * self._span
            cached = self._scaled_cache[goal] = [d * unit for d in self._distances(goal)]
        return cached

    # ------------------------------------------------------------------ execution
    def may_enter(self, robot: int) -> bool:
        """Whether ``robot`` may start moving to its next plan cell now.

        True when every visit of another robot to that cell planned for an earlier or the
        same step has been completed, and no other robot is parked there. Waits (the same
        cell again) are always allowed. False when the robot is idle.
        """
        k = self._progress[robot] + 1
        if k > self._end[robot]:  # idle
            return False
        nxt = self._plans[robot][k - self._t0[robot]]
        for t, other in self._queues.get(nxt, ()):
            if t > k:
                break
            if other != robot:
                return False
        park = self._parked.get(nxt)
        return park is None or park[1] == robot or park[0] > k

    def advance(self, robot: int) -> Cell:
        """Record that ``robot`` reached its next plan cell; return that cell.

        Call it when the physical robot has arrived (or immediately for a wait step),
        after :meth:`may_enter` allowed the move. Completed visits are released.

        Raises:
            ValueError: if the robot is idle.
        """
        k = self._progress[robot]
        if k == self._end[robot]:
            raise ValueError(f"robot {robot} is idle; nothing to advance")
        plan, t0 = self._plans[robot], self._t0[robot]
        self._remove_visit(k, plan[k - t0], robot)
        if plan[k - t0] != plan[k + 1 - t0]:
            self._entries.discard((k + 1) * self._size + plan[k + 1 - t0])
        self._progress[robot] = k + 1
        return self._cell(plan[k + 1 - t0])

    def reservations(self) -> list[tuple[int, Cell, int]]:
        """Pending vertex reservations as ``(step, cell, robot)``, sorted (for tests and debugging)."""
        out = [(t, self._cell(c), r) for c, q in self._queues.items() for t, r in q]
        return sorted(out)

    # ------------------------------------------------------------------ helpers
    def _add_visit(self, t: int, cell: int, robot: int) -> None:
        bisect.insort(self._queues.setdefault(cell, []), (t, robot))
        self._vertex.add(t * self._size + cell)

    def _remove_visit(self, t: int, cell: int, robot: int) -> None:
        queue = self._queues[cell]
        queue.remove((t, robot))
        if not queue:
            del self._queues[cell]
        self._vertex.discard(t * self._size + cell)

    def _index(self, cell: Cell, name: str) -> int:
        try:
            return self._flat[cell]
        except (KeyError, TypeError):
            pass
        r, c = int(cell[0]), int(cell[1])
        flat = self._flat.get((r, c))
        if flat is None:
            raise ValueError(f"{name}: cell {tuple(cell)} is outside the grid or blocked")
        return flat

    def _cell(self, flat: int) -> Cell:
        return self._cells[flat]
