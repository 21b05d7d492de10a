"""The robots as agents: each free robot chooses its next job among candidate work items.

:class:`AgentDispatch` is a :class:`~warehouse_sim.tasks.fulfilment.jobs.Dispatcher`: set
on a task's job board, it replaces the dispatch rule. At each dispatch moment (every
control tick on the physics clock, at the events of the fast one) with free robots, it

1. computes the pairs the reference rule (``rule``, ``"nearest"`` by default) would make
   for the free robots; the robots are taken in the rule's pair order, then the robots
   the rule leaves without work, by index;
2. offers each of them, before anyone decides, ``K`` candidate items: the rule's choice
   for that robot first (if it has one), then the other waiting items by due time, then
   grid distance from the robot;
3. asks them together, through a ``decide(robots, observations, masks)`` callback, for
   one action each: ``0`` takes no new job now (the robot is asked again at the next
   dispatch moment), ``k`` in ``1..K`` takes candidate ``k``. A mask (``int8``,
   ``K + 1``) allows ``0`` always and candidate ``k`` if the slot is filled and the item
   is not *held*: taken by another robot at this moment. A robot whose candidates are
   all empty or held is not asked. A masked choice is never executed: it counts in
   :attr:`AgentDispatch.masked_actions` and takes no job;

   With ``stay_s > 0`` there is one more action, ``K + 1``: *stay*, take no job and
   stand where it is for ``stay_s`` simulated seconds instead of driving home
   (:meth:`JobBoard.hold`; it may take work meanwhile). Its mask entry is set when the
   robot is away from its home cell. Robots are then also asked when they are
   *homebound* (no job, away from home and not held: they just finished a job, or their
   hold or a failed plan's wait is over) even without a candidate: ``0`` drives home,
   ``K + 1`` stays. A held robot that takes no job (``0``) stays until its hold is over;
4. executes the actions in the robots' order. Two robots choosing the same item: the
   earlier takes it; the later ones are asked again at once (a new round of step 3, the
   item now held), until no choice collides.

A robot that takes an item is planned to it by :meth:`JobBoard.assign`, the same
hook the dispatch rules use; when no plan is found now, the robot stays free and the item
waits (both are offered again at the next moment). With every robot choosing the rule's
choice (:func:`rule_choice`), no choices collide and the board makes exactly the rule's
assignments in the rule's order: the shift is the one Fulfilment-v0 runs with that rule.

Observation of a robot (``float32``, clipped to ``[-10, 10]``), ``G = 11`` own and
global features then ``F = 12`` features per candidate slot (zeros for an empty slot):

| index | meaning (units) |
|---|---|
| 0 | shift elapsed (fraction) |
| 1 | pick lines waiting / (4 n_robots) |
| 2 | put-away trips waiting / n_robots |
| 3 | robots without a job / n_robots |
| 4 | open orders (not shipped, not lost) / (4 n_robots) |
| 5, 6 | the robot's cell: row / rows, column / columns |
| 7 | the robot is in its home cell (0/1) |
| 8 | grid distance from the robot to the pack station / (rows + columns) |
| 9 | the robot is deciding now (0/1; robots not deciding see no candidates) |
| 10 | candidates it may take / K |
| G + F k + 0 | slot filled (0/1) |
| G + F k + 1 | a pick line (1) or a put-away trip (0) |
| G + F k + 2 | grid distance robot -> item source / (rows + columns) |
| G + F k + 3 | grid distance source -> destination (pack station, or the SKU's slot) / (rows + columns) |
| G + F k + 4 | age: minutes since the item became available (order placement, receipt) / 10 |
| G + F k + 5 | due slack: minutes until its due time / 60 (negative: late) |
| G + F k + 6 | SKU index / n_skus |
| G + F k + 7 | units / 10 |
| G + F k + 8 | taking it leaves no line of its order waiting (0/1; put-aways 0) |
| G + F k + 9 | other lines of its order waiting / 4 |
| G + F k + 10 | the reference rule's choice for this robot (0/1) |
| G + F k + 11 | other free robots nearer to its source / n_robots |
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from warehouse_sim.tasks.fulfilment.dispatch import DISPATCH_RULES, WorkItem
from warehouse_sim.tasks.fulfilment.jobs import JobBoard
from warehouse_sim.tasks.fulfilment.slotting import or_far

if TYPE_CHECKING:
    from warehouse_sim.tasks.fulfilment.task import FulfilmentTask

N_GLOBAL = 11
N_PER_CANDIDATE = 12
#: Index, within a candidate slot, of the "reference rule's choice" flag.
RULE_FLAG = 10
#: Bound of every observation entry.
OBSERVATION_BOUND = 10.0
#: The action that takes no new job.
NO_JOB = 0
#: ``decide(robots, observations, masks) -> actions`` asks the deciding robots for one
#: action each (``observations[i]``, ``masks[i]`` and ``actions[i]`` belong to ``robots[i]``).
Decide = Callable[[list[int], list[np.ndarray], list[np.ndarray]], Sequence[int]]


def observation_size(candidates: int) -> int:
    """Length of a robot's observation with ``candidates`` slots: ``G + F K``."""
    return N_GLOBAL + N_PER_CANDIDATE * candidates


def rule_choice(observation: np.ndarray, mask: np.ndarray, *, stay: int | None = None) -> int:
    """The action that follows the reference rule: its candidate if the robot has one it may take, else :data:`NO_JOB`.

    The rule never stays: a homebound robot without the rule's candidate drives home. With
    ``stay`` (the env's stay action, :attr:`AgentDispatch.stay_action`) such a robot stays
    where it is instead whenever the mask allows it (``baseline:rule_stay``).
    """
    obs, mask = np.asarray(observation), np.asarray(mask)
    k = (obs.size - N_GLOBAL) // N_PER_CANDIDATE
    flags = obs[N_GLOBAL + RULE_FLAG : N_GLOBAL + N_PER_CANDIDATE * k : N_PER_CANDIDATE]
    chosen = np.flatnonzero((flags > 0.5) & (mask[1 : k + 1] > 0))
    if chosen.size:
        return int(chosen[0]) + 1
    return stay if stay is not None and mask[stay] > 0.5 else NO_JOB


class AgentDispatch:
    """Free robots choose their next job (see the module docstring); set on ``task.jobs.dispatcher``.

    Args:
        task: The fulfilment task whose board it dispatches.
        decide: Asks the deciding robots for their actions (:data:`Decide`).
        candidates: Candidate slots ``K`` per robot (>= 1).
        rule: The reference rule whose choice is offered first and flagged.
        stay_s: Simulated seconds a robot that chooses to stay stands where it is; 0 (the
            default) offers no stay action.

    Attributes:
        candidates: ``K``.
        n_actions: ``K + 1``, or ``K + 2`` with the stay action.
        stay_action: ``K + 1`` with ``stay_s > 0``, else None.
        decisions: Actions asked for since :meth:`reset`.
        no_jobs: Of those, the ones that took no job (staying included).
        stays: Of those, the ones that stayed.
        masked_actions: Of those, the masked choices (not executed).
        collisions: Of those, the choices of an item an earlier robot took in the same
            round (the robot was asked again).

    Raises:
        ValueError: for a bad ``candidates`` or ``stay_s``, or an unknown rule.
    """

    def __init__(
        self, task: FulfilmentTask, decide: Decide, *, candidates: int = 8, rule: str = "nearest", stay_s: float = 0.0
    ) -> None:
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 1:
            raise ValueError(f"candidates must be an integer >= 1, got {candidates!r}")
        if rule not in DISPATCH_RULES:
            raise ValueError(f"rule must be one of {', '.join(DISPATCH_RULES)}, got {rule!r}")
        if isinstance(stay_s, bool) or not isinstance(stay_s, int | float) or not 0 <= stay_s < math.inf:
            raise ValueError(f"stay_s must be a finite number of seconds >= 0, got {stay_s!r}")
        self.task = task
        self.decide = decide
        self.candidates = candidates
        self.stay_s = float(stay_s)
        self.stay_action = candidates + 1 if stay_s > 0 else None
        self.n_actions = candidates + 1 + (self.stay_action is not None)
        self.rule = DISPATCH_RULES.index(rule)
        layout = task.layout
        rows, cols = layout.shape
        self._span = float(rows + cols)
        self._shape = (rows, cols)
        self._station = tuple(layout.station_faces)
        self._leg: dict[tuple[str, int], float] = {}  # (kind, sku) -> source -> destination cells
        self.reset()

    @property
    def observation_size(self) -> int:
        """Length of a robot's observation."""
        return observation_size(self.candidates)

    def reset(self) -> None:
        """Zero the counters (a new shift)."""
        self.decisions = 0
        self.no_jobs = 0
        self.stays = 0
        self.masked_actions = 0
        self.collisions = 0

    # ------------------------------------------------------------------ the dispatcher
    def __call__(self, board: JobBoard, free: list[int], now_s: float, rule: int) -> None:
        """One dispatch moment: the free robots choose (see the module docstring); ``rule`` is unused."""
        stay = self.stay_action
        if not board.items:  # no work: only homebound robots choose, between home and staying
            free = [] if stay is None else [r for r in free if board.homebound(r, now_s)]
            if not free:
                return
        pairs = board.rule_pairs(self.rule, free)
        ruled = {r: board.items[k] for r, k in pairs}
        asking = [r for r, _ in pairs] + [r for r in free if r not in ruled]
        offers = {r: self._candidates(board, r, ruled.get(r)) for r in asking}
        held: set[int] = set()  # ids of the items taken at this moment
        while asking:
            masks = {r: self._mask(board, r, offers[r], held) for r in asking}
            asking = [r for r in asking if masks[r][1 : self.candidates + 1].any()
                      or (stay is not None and board.homebound(r, now_s))]
            if not asking:
                return
            head, lines = self._global(board, now_s), self._waiting_lines(board)
            observations = [
                self._observation(board, r, offers[r], masks[r], ruled.get(r), free, now_s, head, lines) for r in asking
            ]
            actions = self.decide(asking, observations, [masks[r] for r in asking])
            again = []
            for r, chosen in zip(asking, actions, strict=True):
                action = int(chosen)
                self.decisions += 1
                if not (0 <= action < self.n_actions and masks[r][action]):
                    self.masked_actions += 1
                elif action == NO_JOB:
                    self.no_jobs += 1
                elif action == stay:
                    self.no_jobs += 1
                    self.stays += 1
                    board.hold(r, now_s + self.stay_s)
                elif id(item := offers[r][action - 1]) in held:
                    self.collisions += 1
                    again.append(r)
                elif board.assign(r, item, now_s):
                    held.add(id(item))
            asking = again

    def _mask(self, board: JobBoard, r: int, items: list[WorkItem], held: set[int]) -> np.ndarray:
        """Allowed actions of robot ``r`` offered ``items``: no job, each item nobody holds, stay away from home (``int8``)."""
        mask = np.zeros(self.n_actions, dtype=np.int8)
        mask[NO_JOB] = 1
        for k, item in enumerate(items):
            mask[k + 1] = id(item) not in held
        if self.stay_action is not None:
            fleet = board.fleet
            mask[self.stay_action] = fleet.cell(r) != fleet.homes[r]
        return mask

    def _candidates(self, board: JobBoard, r: int, ruled: WorkItem | None) -> list[WorkItem]:
        """Robot ``r``'s candidate items: the rule's choice first, then by due time and distance."""
        head = [ruled] if ruled is not None else []
        rest = heapq.nsmallest(
            self.candidates - len(head),
            (it for it in board.items if it is not ruled),
            key=lambda it: (it.due_s, board.distance(r, it)),
        )
        return head + rest

    # ------------------------------------------------------------------ observations
    def idle_observations(self, robots: Sequence[int]) -> list[np.ndarray]:
        """The observations of robots that are not deciding now: own and global features, no candidates."""
        board = self.task.jobs
        head = self._global(board, self.task.now_s)
        out = []
        for r in robots:
            obs = np.zeros(self.observation_size, dtype=np.float32)
            obs[:N_GLOBAL] = np.clip(self._robot_features(board, r, head, deciding=False, n_valid=0),
                                     -OBSERVATION_BOUND, OBSERVATION_BOUND)
            out.append(obs)
        return out

    def _global(self, board: JobBoard, now_s: float) -> np.ndarray:
        task = self.task
        n_r = board.fleet.n
        n_pick = sum(1 for it in board.items if it.kind == "pick")
        head = np.zeros(N_GLOBAL)
        head[0] = now_s / (task.scenario.shift_hours * 3600.0)
        head[1] = n_pick / (4.0 * n_r)
        head[2] = (len(board.items) - n_pick) / n_r
        head[3] = sum(1 for job in board.jobs if job is None) / n_r
        head[4] = len(task.open_orders()) / (4.0 * n_r)
        return head

    def _robot_features(
        self, board: JobBoard, r: int, head: np.ndarray, *, deciding: bool, n_valid: int
    ) -> np.ndarray:
        fleet = board.fleet
        row, col = fleet.cell(r)
        out = head.copy()
        out[5] = row / self._shape[0]
        out[6] = col / self._shape[1]
        out[7] = float(fleet.cell(r) == fleet.homes[r])
        out[8] = or_far(fleet.planner.distance_to_any((row, col), self._station)) / self._span
        out[9] = float(deciding)
        out[10] = n_valid / self.candidates
        return out

    @staticmethod
    def _waiting_lines(board: JobBoard) -> dict[int, int]:
        """Order id -> its pick lines waiting."""
        lines: dict[int, int] = {}
        for it in board.items:
            if it.kind == "pick":
                lines[it.order_id] = lines.get(it.order_id, 0) + 1
        return lines

    def _observation(
        self, board: JobBoard, r: int, items: list[WorkItem], mask: np.ndarray, ruled: WorkItem | None,
        free: Sequence[int], now_s: float, head: np.ndarray, waiting_lines: dict[int, int],
    ) -> np.ndarray:
        obs = np.zeros(self.observation_size)
        obs[:N_GLOBAL] = self._robot_features(board, r, head, deciding=True, n_valid=int(mask[1:].sum()))
        n_r, n_skus = board.fleet.n, self.task.model.n_skus
        for k, item in enumerate(items):
            f = obs[N_GLOBAL + N_PER_CANDIDATE * k : N_GLOBAL + N_PER_CANDIDATE * (k + 1)]
            mine = board.distance(r, item)
            others = waiting_lines.get(item.order_id, 0) - 1 if item.kind == "pick" else 0
            f[0] = 1.0
            f[1] = float(item.kind == "pick")
            f[2] = mine / self._span
            f[3] = self._second_leg(board, item) / self._span
            f[4] = (now_s - item.ready_s) / 600.0
            f[5] = (item.due_s - now_s) / 3600.0
            f[6] = item.sku / n_skus
            f[7] = item.units / 10.0
            f[8] = float(item.kind == "pick" and others == 0)
            f[9] = others / 4.0
            f[10] = float(item is ruled)
            f[11] = sum(1 for q in free if q != r and board.distance(q, item) < mine) / n_r
        return np.clip(obs, -OBSERVATION_BOUND, OBSERVATION_BOUND).astype(np.float32)

    def _second_leg(self, board: JobBoard, item: WorkItem) -> float:
        """Cells from the item's source to its destination (the pack station, or the SKU's slot), cached per SKU."""
        key = (item.kind, item.sku)
        leg = self._leg.get(key)
        if leg is None:
            planner = board.fleet.planner
            dest = self._station if item.kind == "pick" else tuple(board.slot_faces[item.sku])
            leg = float(min(or_far(planner.distance_to_any(s, dest)) for s in item.source))
            self._leg[key] = leg
        return leg
