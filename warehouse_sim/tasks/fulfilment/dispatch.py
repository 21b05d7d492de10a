"""Work waiting for a robot, and the dispatch rules that hand it to free robots.

A rule sees the waiting :class:`WorkItem` s, the free robots and a grid distance, and
returns ``(robot, item index)`` pairs; :data:`DISPATCH_RULES` orders them as the
Fulfilment-v0 action's dispatch index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Cell = tuple[int, int]

#: Dispatch rules, in the order of the action's dispatch index.
DISPATCH_RULES: tuple[str, ...] = ("fifo", "edd", "nearest")

_NEAREST_CANDIDATES = 40  # "nearest" considers the oldest this many waiting items


@dataclass
class WorkItem:
    """One robot trip waiting for a robot.

    Attributes:
        kind: ``"pick"`` (an order line) or ``"putaway"`` (dock to slot).
        sku: Catalogue index.
        units: Units carried.
        ready_s: When it became available (order placement or receipt), seconds since reset.
        due_s: When it is due, seconds since reset.
        source: Cells where the trip starts (pick faces, or dock cells).
        order_id: The order (pick lines), else -1.
        line: The order line (pick lines), else -1.
    """

    kind: str
    sku: int
    units: int
    ready_s: float
    due_s: float
    source: tuple[Cell, ...]
    order_id: int = -1
    line: int = -1


#: ``rule(items, free_robots, distance) -> [(robot, item index), ...]`` assigns waiting
#: items to free robots; ``distance(robot, item)`` is the grid distance in cells.
DispatchRule = Callable[[Sequence[WorkItem], Sequence[int], Callable[[int, WorkItem], float]], list[tuple[int, int]]]


def dispatch_fifo(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Oldest items first, each to the free robot with the lowest index."""
    order = sorted(range(len(items)), key=lambda k: (items[k].ready_s, k))
    return list(zip(robots, order, strict=False))


def dispatch_edd(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Earliest due date first, each to the free robot with the lowest index."""
    order = sorted(range(len(items)), key=lambda k: (items[k].due_s, k))
    return list(zip(robots, order, strict=False))


def dispatch_nearest(items: Sequence[WorkItem], robots: Sequence[int], distance: Callable[[int, WorkItem], float]) -> list[tuple[int, int]]:
    """Greedy nearest pairs: repeatedly the (free robot, item) pair with the shortest grid distance.

    Only the oldest :data:`_NEAREST_CANDIDATES` items are considered, which bounds the
    cost and the starvation of far items.
    """
    candidates = sorted(range(len(items)), key=lambda k: (items[k].ready_s, k))[:_NEAREST_CANDIDATES]
    pairs = sorted((distance(r, items[k]), r, k) for r in robots for k in candidates)
    used_r: set[int] = set()
    used_k: set[int] = set()
    out = []
    for _, r, k in pairs:
        if r not in used_r and k not in used_k:
            out.append((r, k))
            used_r.add(r)
            used_k.add(k)
    return out


DISPATCH: dict[str, DispatchRule] = {"fifo": dispatch_fifo, "edd": dispatch_edd, "nearest": dispatch_nearest}
