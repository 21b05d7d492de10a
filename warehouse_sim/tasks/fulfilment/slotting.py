"""Where things live on the floor: robots' home cells, SKUs' rack slots, SKUs' price classes."""

from __future__ import annotations

import numpy as np

from warehouse_sim.geometry.layout import Layout
from warehouse_sim.geometry.reservations import FleetPlanner
from warehouse_sim.operations.catalogue import Scenario

Cell = tuple[int, int]


def home_cells(layout: Layout, n: int) -> list[Cell]:
    """``n`` parking cells for idle robots, out of the way, nearest the pack station first.

    Candidates are free cells that are no pick face, pack-station face or dock cell and
    touch a wall; cells beside the side walls (the outer columns) come first.

    Raises:
        ValueError: if the layout has fewer than ``n`` such cells.
    """
    reserved = {f.cell for f in layout.pick_faces} | set(layout.station_faces) | set(layout.dock_cells)
    n_rows, n_cols = layout.shape
    station = layout.station_faces[0] if layout.station_faces else (1, n_cols // 2)
    near_special = {
        (r + dr, c + dc) for r, c in set(layout.station_faces) | set(layout.dock_cells)
        for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
    }
    candidates = []
    for r, c in layout.free_cells:
        cell = (int(r), int(c))
        if cell in reserved or cell in near_special:
            continue
        if not any(layout.chars[r + dr, c + dc] == "#" for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))):
            continue
        side = 0 if c in (1, n_cols - 2) else 1
        candidates.append((side, abs(r - station[0]) + abs(c - station[1]), cell))
    candidates.sort()
    if len(candidates) < n:
        raise ValueError(f"n_robots={n} exceeds the {len(candidates)} home cells of layout {layout.name!r}")
    return [cell for _, _, cell in candidates[:n]]


def assign_slots(layout: Layout, scenario: Scenario) -> list[tuple[Cell, ...]]:
    """Pick faces of each SKU's rack slot: fast movers (highest base rate) nearest the pack station.

    Returns:
        Per SKU (catalogue order) the pick-face cells of its slot.

    Raises:
        ValueError: if the layout has fewer rack slots than the catalogue has SKUs.
    """
    planner = FleetPlanner(layout.occupancy)
    station = layout.station_faces[0]
    slots = []
    for rack in layout.racks:
        for slot in range(rack.n_slots):
            faces = tuple(f.cell for f in layout.slot_faces(rack.rack_id, slot))
            dist = min(or_far(planner.distance(station, f)) for f in faces)
            slots.append((dist, rack.rack_id, slot, faces))
    if len(slots) < scenario.n_skus:
        raise ValueError(f"layout {layout.name!r} has {len(slots)} rack slots for {scenario.n_skus} SKUs")
    slots.sort()
    order = sorted(range(scenario.n_skus), key=lambda i: (-scenario.skus[i].base_rate, i))
    out: list[tuple[Cell, ...]] = [()] * scenario.n_skus
    for rank, i in enumerate(order):
        out[i] = slots[rank][3]
    return out


def or_far(distance: int | None) -> int:
    """A grid distance, with unreachable (None) as a very large number."""
    return 10**9 if distance is None else distance


def price_classes(scenario: Scenario, n_classes: int) -> np.ndarray:
    """Class index per SKU: SKUs ranked by base rate and cut into ``n_classes`` near-equal groups (A, B, C...)."""
    n_classes = min(n_classes, scenario.n_skus)
    order = sorted(range(scenario.n_skus), key=lambda i: (-scenario.skus[i].base_rate, i))
    classes = np.empty(scenario.n_skus, dtype=np.int64)
    for rank, i in enumerate(order):
        classes[i] = rank * n_classes // scenario.n_skus
    return classes
