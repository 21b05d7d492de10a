"""White-box physics tests: world, robots, lidar, collisions (PyBullet DIRECT)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest

from warehouse_sim.geometry.kinematics import RobotParams
from warehouse_sim.geometry.layout import make_layout
from warehouse_sim.sim.client import PhysicsClient
from warehouse_sim.sim.lidar import Lidar, LidarParams
from warehouse_sim.sim.robot import DiffDriveRobots
from warehouse_sim.sim.world import build_world

PHYSICS_HZ, DRIVE_HZ = 240, 60


@pytest.fixture
def scene() -> Iterator[tuple[PhysicsClient, object, DiffDriveRobots]]:
    client = PhysicsClient(time_step=1.0 / PHYSICS_HZ, gravity=0.0)
    layout = make_layout("small")
    world = build_world(client, layout)
    robots = DiffDriveRobots(client, 3, RobotParams())
    yield client, world, robots
    client.close()


def _drive(client: PhysicsClient, robots: DiffDriveRobots, ticks: int) -> Iterator[np.ndarray]:
    """Yield the poses after every physics substep."""
    for _ in range(ticks):
        robots.drive(1.0 / DRIVE_HZ, 1, 0)
        for _ in range(PHYSICS_HZ // DRIVE_HZ):
            client.step()
            yield robots.poses()


def _clearance(layout, x: float, y: float) -> float:  # type: ignore[no-untyped-def]
    """Distance in metres from (x, y) to the nearest blocked cell."""
    best = math.inf
    cs = layout.cell_size
    for r, c in np.argwhere(layout.occupancy):
        dx = max(c * cs - x, 0.0, x - (c + 1) * cs)
        dy = max(r * cs - y, 0.0, y - (r + 1) * cs)
        best = min(best, math.hypot(dx, dy))
    return best


def test_world_is_a_few_compound_bodies(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    assert min(world.floor, world.walls, world.racks, world.station, world.dock, *robots.ids) >= 0
    assert client.n_bodies == 5 + 3  # one compound body for all racks, one for all walls
    assert world.static_ids == {world.walls, world.racks, world.station}


def test_robot_cannot_pass_through_a_rack_at_top_speed(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    layout = world.layout
    # west of the first rack (column 3), facing east, 1 m run-up at full speed
    x0, y0 = layout.cell_to_world(4, 1)
    robots.place(0, x0, y0, 0.0)
    robots.command_one(0, robots.params.v_max, 0.0)
    min_clearance = math.inf
    hit = False
    for poses in _drive(client, robots, 3 * DRIVE_HZ):
        x = poses[0, 0]
        assert x < 3.0, "robot centre entered the rack column"
        min_clearance = min(min_clearance, _clearance(layout, poses[0, 0], poses[0, 1]))
        hit = hit or world.racks in robots.touching_one(0, frozenset((world.floor,)))
    assert hit
    assert min_clearance > robots.params.radius - 0.02  # at most 2 cm of solver penetration
    assert robots.applied[0, 0] == pytest.approx(robots.params.v_max)  # still pushing


def test_displacement_per_physics_step_is_bounded(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    layout = world.layout
    rng = np.random.default_rng(1)
    for i, cell in enumerate([(2, 2), (7, 8), (5, 1)]):
        robots.place(i, *layout.cell_to_world(*cell), float(rng.uniform(-3, 3)))
    dt = 1.0 / PHYSICS_HZ
    vmax = robots.params.v_max
    prev = robots.poses()
    for k in range(40):  # random commands, many of them into racks and walls
        robots.command(rng.uniform(-1.5, 1.5, 3), rng.uniform(-3, 3, 3))
        for poses in _drive(client, robots, 6):
            step = np.hypot(poses[:, 0] - prev[:, 0], poses[:, 1] - prev[:, 1])
            assert (step <= vmax * dt * (1 + 1e-6) + 1e-9).all(), (k, step, vmax * dt)
            prev = poses
    assert np.isfinite(prev).all()
    assert np.allclose(prev[:, 3], robots.z0, atol=1e-3)  # planar: no drift in height


def test_acceleration_limits(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    robots.place(0, *world.layout.cell_to_world(2, 2), 0.0)
    robots.command_one(0, 5.0, -9.0)  # clipped to the limits
    p = robots.params
    assert robots.targets[0].tolist() == [p.v_max, -p.omega_max]
    robots.drive(1.0 / DRIVE_HZ, 1, 0)
    assert robots.applied[0, 0] == pytest.approx(p.accel_max / DRIVE_HZ)
    assert robots.applied[0, 1] == pytest.approx(-p.alpha_max / DRIVE_HZ)


def test_lidar_ranges_match_geometry(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    layout = world.layout
    x, y = layout.cell_to_world(2, 1)  # the west wall's inner face is at x = 1
    robots.place(0, x, y, math.pi)  # facing west
    lidar = Lidar(client, LidarParams(n_rays=8, max_range=4.0, start_offset=0.27))
    poses = robots.poses()
    ranges = np.array(lidar.scan(poses[:1]))
    assert ranges.shape == (1, 8)
    assert ranges[0, 0] == pytest.approx(x - 1.0, abs=1e-3)  # ray 0 = straight ahead
    assert ((ranges >= 0.27) & (ranges <= 4.0)).all()
    both = np.array(lidar.scan(poses[:2]))  # many robots: one batch
    assert both.shape == (2, 8)
    np.testing.assert_array_equal(both[0], ranges[0])


def test_robot_collision_is_reported(scene) -> None:  # type: ignore[no-untyped-def]
    client, world, robots = scene
    x, y = world.layout.cell_to_world(2, 2)
    robots.place(0, x, y, 0.0)
    robots.place(1, x + 1.0, y, math.pi)
    robots.command(np.array([1.0, 1.0, 0.0]), np.zeros(3))
    for _ in _drive(client, robots, 60):
        pass
    touching = robots.touching(frozenset((world.floor,)))
    assert robots.ids[1] in touching[0] and robots.ids[0] in touching[1]


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="v_max"):
        RobotParams(v_max=0.0)
    with pytest.raises(ValueError, match="n_rays"):
        LidarParams(n_rays=0)
    with pytest.raises(ValueError, match="max_range"):
        LidarParams(max_range=0.1)
    with pytest.raises(ValueError, match="time_step"):
        PhysicsClient(time_step=0.0)
