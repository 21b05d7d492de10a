"""The fast fleet executor: robots move along their planned cells by event times, no physics.

The same planner, reservations and plan-order execution as the physics executor
(:class:`~warehouse_sim.tasks.fulfilment.physics_fleet.PhysicsFleet`); what changes is how
long a move from one cell to the next takes. Each move falls in one of eight classes,
by the turn it starts with (``ahead``, ``side`` = 90 degrees, ``back`` = 180), whether
the robot starts it at speed (``rolling``: its last move passed straight through and
this one follows in the same control tick) or from ``rest``, and whether it ``pass``-es
straight through the next cell or ``stop``-s there (a corner, a planned wait, the plan's
end). Each class takes a calibrated number of seconds (:data:`MOVE_CLASSES`; measured on
the physics executor by ``training/calibrate_fast.py`` and stored with the scenario),
rounded to control ticks with the remainder carried to the robot's next move, so the
long-run mean is exact and no randomness is drawn.

The executor is event-driven: :meth:`FastFleet.control_at` only touches the robots
that arrive at that tick and the robots waiting to move, and :meth:`FastFleet.next_event`
tells the task when the fleet next needs a tick, so the task skips the quiet ticks.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.tasks.fulfilment.executor import FleetExecutor

Cell = tuple[int, int]

_TURNS = ("ahead", "side", "back")
#: The move classes, ``"<turn>-<start>-<end>"``; a rolling start only comes with no turn.
MOVE_CLASSES: tuple[str, ...] = tuple(
    f"{turn}-{start}-{end}"
    for turn in _TURNS
    for start in (("rest", "rolling") if turn == "ahead" else ("rest",))
    for end in ("stop", "pass")
)
_NORTH = (1, 0)  # robots start facing +y, i.e. towards higher rows


def move_class(heading: Cell, step: Cell, rolling: bool, passes: bool) -> str:
    """The class of a move: ``heading`` the robot's last move (cell delta), ``step`` this one's.

    Args:
        heading: ``(d_row, d_col)`` of the robot's previous move (north at the start).
        step: ``(d_row, d_col)`` of this move.
        rolling: The robot starts the move at speed.
        passes: The plan continues straight through the cell the move ends in.
    """
    dot = heading[0] * step[0] + heading[1] * step[1]
    turn = "ahead" if dot == 1 else ("back" if dot == -1 else "side")
    start = "rolling" if rolling and turn == "ahead" else "rest"
    return f"{turn}-{start}-{'pass' if passes else 'stop'}"


def classify_moves(moves: Iterable[tuple[int, int, int, Sequence[Cell]]]) -> dict[str, list[int]]:
    """Durations in control ticks of logged physics moves, by class (what the fast executor is calibrated on).

    Args:
        moves: ``(robot, start tick, arrival tick, path)`` of every completed cell move, in
            the order they completed (:attr:`PhysicsFleet.move_log` records them); ``path``
            holds the plan's cells from the move's start, at least two.

    Returns:
        Move class -> the durations of its moves, in ticks.
    """
    out: dict[str, list[int]] = {}
    last: dict[int, tuple[Cell, bool, int]] = {}  # robot -> (step, passes, arrival tick) of its last move
    for robot, start, arrival, path in moves:
        step = (path[1][0] - path[0][0], path[1][1] - path[0][1])
        passes = len(path) >= 3 and (path[2][0] - path[1][0], path[2][1] - path[1][1]) == step
        heading, rolled, arrived = last.get(robot, (_NORTH, False, -1))
        out.setdefault(move_class(heading, step, rolled and arrived == start, passes), []).append(arrival - start)
        last[robot] = (step, passes, arrival)
    return out


def check_move_seconds(move_seconds: Mapping[str, float]) -> dict[str, float]:
    """Validate calibrated move times: every class of :data:`MOVE_CLASSES`, each a positive finite number of seconds.

    Raises:
        ValueError: naming the missing, unknown or bad class.
    """
    if not isinstance(move_seconds, Mapping):
        raise ValueError(f"move_seconds must be a mapping of move class to seconds, got {move_seconds!r}")
    unknown = sorted(set(move_seconds) - set(MOVE_CLASSES))
    missing = sorted(set(MOVE_CLASSES) - set(move_seconds))
    if unknown or missing:
        raise ValueError(f"move_seconds: unknown classes {unknown}, missing classes {missing} (classes: {list(MOVE_CLASSES)})")
    out = {}
    for key, value in move_seconds.items():
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 60
        if not ok:
            raise ValueError(f"move_seconds[{key!r}] must be a number of seconds in (0, 60], got {value!r}")
        out[key] = float(value)
    return out


class FastFleet(FleetExecutor):
    """Robots that execute the plans by calibrated move times (see the module docstring).

    Args:
        layout: The floor.
        homes: Home cell per robot.
        params: Robot body and drive limits (the body radius for pictures).
        control_hz: Control ticks per simulated second.
        move_seconds: Seconds per move class (:func:`check_move_seconds`).
    """

    def __init__(
        self, layout: Layout, homes: Sequence[Cell], params: RobotParams, *, control_hz: int,
        move_seconds: Mapping[str, float],
    ) -> None:
        super().__init__(layout, homes, params, control_dt=1.0 / control_hz)
        ticks = {k: v * control_hz for k, v in check_move_seconds(move_seconds).items()}
        # control ticks per move by (heading . step, rolling, passes): move_class without the strings
        self._move_ticks = {
            (dot, rolling, passes): ticks[move_class((1, 0), (dot, 1 - abs(dot)), rolling, passes)]
            for dot in (1, 0, -1)
            for rolling in (False, True)
            for passes in (False, True)
        }
        self.reset()

    # ------------------------------------------------------------------ state
    def _reset_motion(self) -> None:
        n = self.n
        self._tick = 0
        self._arrival = [0] * n  # the control tick at which a robot in transit reaches its next cell
        self._start = [0] * n  # when its current move started
        self._heading: list[Cell] = [_NORTH] * n
        self._rolling = [False] * n  # its last move passed straight through, arriving at _arrived[r]
        self._arrived = [-1] * n
        self._carry = [0.0] * n  # ticks owed to (or by) the robot's next move, from rounding
        self._events: list[tuple[int, int]] = []  # heap of (arrival tick, robot)
        self._waiting: set[int] = set()  # not in transit, with plan steps left (new plans, blocked robots)
        self._recheck = False
        self.just_idle: list[int] = []

    def send(self, robot: int, goals: Sequence[Cell], now_s: float) -> Cell | None:
        """Plan an idle robot (see :meth:`FleetExecutor.send`); it starts moving at the next :meth:`control_at`."""
        goal = super().send(robot, goals, now_s)
        if goal is not None:
            self._waiting.add(robot)
        return goal

    # ------------------------------------------------------------------ the clock
    def control_at(self, tick: int) -> None:
        """The control tick ``tick``: arrivals due now advance their plans, waiting robots start if they may.

        Robots are handled in index order, as the physics controller does; robots that
        finish their plan are listed in :attr:`just_idle` (the jobs look at them at the
        next tick).
        """
        self._tick = tick
        planner, events, waiting = self.planner, self._events, self._waiting
        in_transit, arrival = self._in_transit, self._arrival
        candidates = set(waiting)
        while events and events[0][0] <= tick:
            candidates.add(heapq.heappop(events)[1])
        self.just_idle = []
        changed = False
        for r in sorted(candidates):
            while True:
                if in_transit[r]:
                    if arrival[r] > tick:
                        break
                    planner.advance(r)
                    in_transit[r] = False
                    self._arrived[r] = tick
                    self.moves += 1
                    self.distance_m += self.layout.cell_size
                    changed = True
                    continue
                if planner.is_idle(r):
                    waiting.discard(r)
                    self.just_idle.append(r)
                    break
                if not planner.may_enter(r):
                    waiting.add(r)
                    break
                here, nxt = planner.cell(r), planner.ahead(r, 1)
                assert nxt is not None
                if nxt == here:  # a planned wait: nothing to drive
                    planner.advance(r)
                    changed = True
                    continue
                self._start_move(r, here, nxt, tick)
                break
        # a robot blocked earlier in this tick may enter once a later one has moved on
        self._recheck = changed and bool(self._waiting)

    def _start_move(self, r: int, here: Cell, nxt: Cell, tick: int) -> None:
        step = (nxt[0] - here[0], nxt[1] - here[1])
        after = self.planner.ahead(r, 2)
        passes = after is not None and (after[0] - nxt[0], after[1] - nxt[1]) == step
        rolling = self._rolling[r] and self._arrived[r] == tick
        heading = self._heading[r]
        ticks = self._move_ticks[heading[0] * step[0] + heading[1] * step[1], rolling, passes] + self._carry[r]
        whole = max(1, int(ticks + 0.5))
        self._carry[r] = ticks - whole
        self._heading[r] = step
        self._rolling[r] = passes
        self._in_transit[r] = True
        self._waiting.discard(r)
        self._start[r] = tick
        self._arrival[r] = tick + whole
        heapq.heappush(self._events, (tick + whole, r))

    def next_event(self) -> int | None:
        """The next control tick at which the fleet needs :meth:`control_at` (None: not until someone is sent)."""
        if self._recheck:
            return self._tick + 1
        return self._events[0][0] if self._events else None

    def run_until(self, start: int, limit: int) -> int:
        """Run the fleet's own ticks in ``[start, limit)`` until one leaves a robot idle.

        Between the task's ticks the robots only carry on with their plans; the task
        needs to look again only when a robot has finished its plan (its job sees that at
        the next tick).

        Returns:
            ``limit``, or the tick after the one at which robots became idle (they are in
            :attr:`just_idle`).
        """
        while True:
            tick = self.next_event()
            if tick is None or tick >= limit:
                self._tick = limit
                return limit
            self.control_at(max(tick, start))
            if self.just_idle:
                return self._tick + 1

    # ------------------------------------------------------------------ the executor protocol
    def control(self) -> None:
        """One control tick on the task's per-tick clock (the event loop calls :meth:`control_at` instead)."""
        self.control_at(self._tick)

    def advance(self) -> None:
        """One control interval passes."""
        self._tick += 1

    def advance_to(self, tick: int) -> None:
        """The clock jumps to control tick ``tick`` (nothing in between needs the fleet: :meth:`next_event`)."""
        self._tick = tick

    def check(self) -> bool:
        """Nothing collides and nothing diverges without physics."""
        return True

    def poses(self) -> np.ndarray:
        """``(n, 4)`` poses ``(x, y, yaw, z)``: in transit, interpolated between the two cell centres."""
        out = np.zeros((self.n, 4))
        for r in range(self.n):
            x, y = self.layout.cell_to_world(*self.planner.cell(r))
            if self._in_transit[r]:
                nx, ny = self.layout.cell_to_world(*self.planner.ahead(r, 1))  # type: ignore[misc]
                f = min(1.0, (self._tick - self._start[r]) / max(self._arrival[r] - self._start[r], 1))
                x, y = x + f * (nx - x), y + f * (ny - y)
            out[r] = x, y, math.atan2(self._heading[r][0], self._heading[r][1]), self.params.height / 2
        return out
