"""The pick station of ``Picking-v0``: a shelf bin holding items, and a tote.

Frames and units: world frame, metres, kilograms, radians; the arm's base sits at the
world origin and the ground plane at ``z = 0``. The bin is an open-topped box on a
pedestal (the shelf), the tote an open-topped box on the ground. Both are static
compound bodies made of primitive boxes (cheap to build and to collide).

Items are rigid boxes. One body per :class:`ItemSpec` is created when the station is
built (creating collision shapes per reset would grow memory); items not used in an
episode are *parked*: made static (mass 0) below the ground, far from everything, so
they cost the solver nothing. :meth:`PickStation.place_items` activates and places
the items of an episode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from warehouse_sim.sim._pybullet import p
from warehouse_sim.sim.client import PhysicsClient, bullet_of

#: Height of the parking spot of unused items (below the ground plane), metres.
_PARK_Z = -2.0
#: Linear speed below which a body counts as at rest, m/s.
REST_SPEED = 0.05


@dataclass(frozen=True)
class ItemSpec:
    """One item (a SKU) as a rigid box.

    Attributes:
        name: SKU name, for reports.
        size: Box edge lengths (x, y, z) in metres, in the item's own frame.
        mass: Mass in kilograms.
    """

    name: str
    size: tuple[float, float, float]
    mass: float

    def __post_init__(self) -> None:
        if len(self.size) != 3 or not all(math.isfinite(s) and s > 0 for s in self.size):
            raise ValueError(f"ItemSpec.size must be three positive lengths in metres, got {self.size!r}")
        if not (math.isfinite(self.mass) and self.mass > 0):
            raise ValueError(f"ItemSpec.mass must be positive (kg), got {self.mass!r}")


@dataclass(frozen=True)
class BoxContainer:
    """An open-topped box (bin or tote) whose inner floor is at ``floor_z``.

    Attributes:
        center: Centre of the inner floor (x, y) in the world frame, metres.
        inner_size: Inner footprint (x, y) in metres.
        floor_z: Height of the top of the inner floor, metres.
        wall_height: Wall height above the floor, metres.
        wall_thickness: Wall and floor thickness, metres.
    """

    center: tuple[float, float]
    inner_size: tuple[float, float]
    floor_z: float
    wall_height: float
    wall_thickness: float = 0.01

    def __post_init__(self) -> None:
        if not all(s > 0 for s in self.inner_size):
            raise ValueError(f"BoxContainer.inner_size must be positive, got {self.inner_size!r}")
        if self.floor_z < self.wall_thickness:
            raise ValueError(f"BoxContainer.floor_z must be >= wall_thickness, got {self.floor_z!r}")
        if not (self.wall_height > 0 and self.wall_thickness > 0):
            raise ValueError("BoxContainer.wall_height and wall_thickness must be positive")

    @property
    def rim_z(self) -> float:
        """Height of the top of the walls, metres."""
        return self.floor_z + self.wall_height

    def contains_xy(self, x: float, y: float, margin: float = 0.0) -> bool:
        """Whether (x, y) lies inside the inner footprint shrunk by ``margin`` metres."""
        hx = 0.5 * self.inner_size[0] - margin
        hy = 0.5 * self.inner_size[1] - margin
        return abs(x - self.center[0]) <= hx and abs(y - self.center[1]) <= hy

    def contains(self, pos: tuple[float, float, float] | np.ndarray) -> bool:
        """Whether a point is inside the box: within the footprint, between floor and rim."""
        return self.contains_xy(pos[0], pos[1]) and self.floor_z - 0.01 <= pos[2] <= self.rim_z


@dataclass(frozen=True)
class StationLayout:
    """Where the bin and the tote stand (defaults fit a Panda at the origin).

    Attributes:
        bin: The shelf bin (on a pedestal reaching up to its floor).
        tote: The tote (on the ground).
        grid: Item slots in the bin, (rows along x, columns along y); one item per slot.
            One row, so that the hand (long along x) never overhangs a neighbour.
    """

    bin: BoxContainer = BoxContainer(center=(0.55, 0.24), inner_size=(0.20, 0.48), floor_z=0.10, wall_height=0.05)
    tote: BoxContainer = BoxContainer(center=(0.50, -0.28), inner_size=(0.26, 0.30), floor_z=0.02, wall_height=0.14)
    grid: tuple[int, int] = (1, 4)

    def __post_init__(self) -> None:
        if self.grid[0] < 1 or self.grid[1] < 1:
            raise ValueError(f"StationLayout.grid must be at least (1, 1), got {self.grid!r}")

    @property
    def n_slots(self) -> int:
        """Number of item slots in the bin."""
        return self.grid[0] * self.grid[1]

    @property
    def slot_size(self) -> tuple[float, float]:
        """Footprint (x, y) of one slot in metres."""
        return (self.bin.inner_size[0] / self.grid[0], self.bin.inner_size[1] / self.grid[1])

    def slot_center(self, slot: int) -> tuple[float, float]:
        """World (x, y) of the centre of ``slot`` (row-major over :attr:`grid`)."""
        row, col = divmod(slot, self.grid[1])
        sx, sy = self.slot_size
        x0 = self.bin.center[0] - 0.5 * self.bin.inner_size[0]
        y0 = self.bin.center[1] - 0.5 * self.bin.inner_size[1]
        return (x0 + (row + 0.5) * sx, y0 + (col + 0.5) * sy)

    def fits_slot(self, size: tuple[float, float, float], margin: float = 0.01) -> bool:
        """Whether an item of ``size`` fits a slot (either way round) with ``margin`` metres to spare."""
        sx, sy = self.slot_size
        a, b = size[0] + 2 * margin, size[1] + 2 * margin
        return (a <= sx and b <= sy) or (b <= sx and a <= sy)


def _box_inertia(mass: float, size: tuple[float, float, float]) -> tuple[float, float, float]:
    x, y, z = size
    return (mass * (y * y + z * z) / 12.0, mass * (x * x + z * z) / 12.0, mass * (x * x + y * y) / 12.0)


class PickStation:
    """Builds and manages the bin, the tote and the item bodies in one client.

    Args:
        client: The physics client to build into.
        layout: Bin and tote geometry.
        items: The item specs; one body is created per spec.

    Raises:
        ValueError: if ``items`` is empty or an item does not fit a bin slot.
    """

    def __init__(self, client: PhysicsClient, *, layout: StationLayout, items: tuple[ItemSpec, ...]) -> None:
        if not items:
            raise ValueError("items must not be empty")
        for spec in items:
            if not layout.fits_slot(spec.size):
                raise ValueError(f"item {spec.name!r} of size {spec.size} does not fit a bin slot {layout.slot_size}")
            if max(spec.size[0], spec.size[1]) > min(layout.tote.inner_size) - 0.02:
                raise ValueError(f"item {spec.name!r} of size {spec.size} does not fit the tote")
        self.client = client
        self.layout = layout
        self.items = items
        bc = bullet_of(client)
        self.ground = bc.createMultiBody(0, bc.createCollisionShape(p.GEOM_PLANE))
        self.bin = self._build_container(layout.bin, pedestal=True, rgba=(0.55, 0.45, 0.3, 1))
        self.tote = self._build_container(layout.tote, pedestal=False, rgba=(0.2, 0.4, 0.8, 1))
        self.item_ids: list[int] = []
        for i, spec in enumerate(items):
            half = [0.5 * s for s in spec.size]
            col = bc.createCollisionShape(p.GEOM_BOX, halfExtents=half)
            vis = bc.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=(0.85, 0.75, 0.55, 1))
            body = bc.createMultiBody(0.0, col, vis, self._park_position(i))
            bc.changeDynamics(body, -1, lateralFriction=0.6)
            self.item_ids.append(body)
        self._active: tuple[int, ...] = ()

    def _build_container(self, box: BoxContainer, *, pedestal: bool, rgba: tuple[float, ...]) -> int:
        bc = bullet_of(self.client)
        t = box.wall_thickness
        ix, iy = box.inner_size
        ox, oy = ix + 2 * t, iy + 2 * t
        wall_mid = box.floor_z + 0.5 * box.wall_height
        parts: list[tuple[tuple[float, float, float], tuple[float, float, float]]] = [
            ((0.5 * ox, 0.5 * oy, 0.5 * t), (0.0, 0.0, box.floor_z - 0.5 * t)),  # floor
            ((0.5 * t, 0.5 * oy, 0.5 * box.wall_height), (0.5 * (ix + t), 0.0, wall_mid)),
            ((0.5 * t, 0.5 * oy, 0.5 * box.wall_height), (-0.5 * (ix + t), 0.0, wall_mid)),
            ((0.5 * ox, 0.5 * t, 0.5 * box.wall_height), (0.0, 0.5 * (iy + t), wall_mid)),
            ((0.5 * ox, 0.5 * t, 0.5 * box.wall_height), (0.0, -0.5 * (iy + t), wall_mid)),
        ]
        if pedestal and box.floor_z - t > 0:
            h = box.floor_z - t
            parts.append(((0.5 * ox, 0.5 * oy, 0.5 * h), (0.0, 0.0, 0.5 * h)))
        half_extents = [list(h) for h, _ in parts]
        positions = [list(c) for _, c in parts]
        col = bc.createCollisionShapeArray(
            [p.GEOM_BOX] * len(parts), halfExtents=half_extents, collisionFramePositions=positions
        )
        vis = bc.createVisualShapeArray(
            [p.GEOM_BOX] * len(parts),
            halfExtents=half_extents,
            visualFramePositions=positions,
            rgbaColors=[list(rgba)] * len(parts),
        )
        return bc.createMultiBody(0.0, col, vis, [box.center[0], box.center[1], 0.0])

    @staticmethod
    def _park_position(index: int) -> list[float]:
        return [10.0 + 0.5 * index, 10.0, _PARK_Z]

    @property
    def active(self) -> tuple[int, ...]:
        """Indices (into :attr:`items`) of the items placed in the current episode."""
        return self._active

    def park_all(self) -> None:
        """Make every item static and move it to its parking spot below the ground."""
        bc = bullet_of(self.client)
        for i, body in enumerate(self.item_ids):
            bc.changeDynamics(body, -1, mass=0.0)
            bc.resetBasePositionAndOrientation(body, self._park_position(i), (0.0, 0.0, 0.0, 1.0))
        self._active = ()

    def place_items(self, item_indices: tuple[int, ...], rng: np.random.Generator) -> None:
        """Park all items, then place ``item_indices`` in distinct random bin slots.

        Each item lies flat on the bin floor at a random slot, jittered and yawed
        within the slot, at rest.

        Args:
            item_indices: Indices into :attr:`items`, at most :attr:`StationLayout.n_slots`.
            rng: The random generator (a child of the env's ``np_random``).

        Raises:
            ValueError: for more items than slots, or repeated/out-of-range indices.
        """
        layout = self.layout
        if len(item_indices) > layout.n_slots:
            raise ValueError(f"{len(item_indices)} items do not fit {layout.n_slots} bin slots")
        if len(set(item_indices)) != len(item_indices) or not all(0 <= i < len(self.items) for i in item_indices):
            raise ValueError(f"item indices must be distinct and in [0, {len(self.items)}), got {item_indices!r}")
        self.park_all()
        bc = bullet_of(self.client)
        slots = rng.permutation(layout.n_slots)[: len(item_indices)]
        sx, sy = layout.slot_size
        for index, slot in zip(item_indices, slots, strict=True):
            spec = self.items[index]
            yaw = 0.0 if spec.size[0] + 0.02 <= sx and spec.size[1] + 0.02 <= sy else 0.5 * math.pi
            yaw += float(rng.uniform(-0.15, 0.15))
            c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
            ex = c * spec.size[0] + s * spec.size[1]
            ey = s * spec.size[0] + c * spec.size[1]
            jx = max(0.0, 0.5 * (sx - ex) - 0.005)
            jy = max(0.0, 0.5 * (sy - ey) - 0.005)
            cx, cy = layout.slot_center(int(slot))
            pos = (cx + float(rng.uniform(-jx, jx)), cy + float(rng.uniform(-jy, jy)), layout.bin.floor_z + 0.5 * spec.size[2])
            body = self.item_ids[index]
            bc.changeDynamics(body, -1, mass=spec.mass, localInertiaDiagonal=_box_inertia(spec.mass, spec.size))
            bc.resetBasePositionAndOrientation(body, pos, bc.getQuaternionFromEuler((0.0, 0.0, yaw)))
            bc.resetBaseVelocity(body, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        self._active = tuple(item_indices)

    def item_pose(self, index: int) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
        """World position (m) and orientation quaternion (x, y, z, w) of item ``index``."""
        return bullet_of(self.client).getBasePositionAndOrientation(self.item_ids[index])

    def item_velocity(self, index: int) -> tuple[float, float, float]:
        """World linear velocity of item ``index`` in m/s."""
        return bullet_of(self.client).getBaseVelocity(self.item_ids[index])[0]

    def in_bin(self, pos: tuple[float, float, float] | np.ndarray) -> bool:
        """Whether a point is on or above the bin floor within its footprint (lifted counts)."""
        b = self.layout.bin
        return b.contains_xy(pos[0], pos[1]) and pos[2] >= b.floor_z - 0.01

    def camera_image(self, width: int, height: int) -> np.ndarray:
        """An RGB frame of the station from above and in front (TinyRenderer, no GPU).

        Returns:
            uint8 array of shape (height, width, 3).
        """
        bc = bullet_of(self.client)
        view = bc.computeViewMatrix(cameraEyePosition=(1.35, 0.0, 0.9), cameraTargetPosition=(0.45, 0.0, 0.1), cameraUpVector=(0, 0, 1))
        proj = bc.computeProjectionMatrixFOV(fov=50.0, aspect=width / height, nearVal=0.05, farVal=5.0)
        _, _, rgba, _, _ = bc.getCameraImage(width, height, view, proj, renderer=p.ER_TINY_RENDERER)
        return np.asarray(rgba, dtype=np.uint8).reshape(height, width, 4)[:, :, :3].copy()
