"""White-box tests of the pick station and the suction arm (sim layer, explicit item specs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from warehouse_sim.sim.arm import BREAK_DISTANCE, ArmConfig, SuctionArm, SuctionGripper
from warehouse_sim.sim.client import PhysicsClient, bullet_of
from warehouse_sim.sim.pick_station import BoxContainer, ItemSpec, PickStation, StationLayout

LIGHT = ItemSpec("light", (0.05, 0.05, 0.04), 0.5)
HEAVY = ItemSpec("heavy", (0.05, 0.05, 0.04), 3.0)
SUBSTEPS = 10


class Rig:
    """Client + station + arm + gripper, with one item placed in the bin."""

    def __init__(self, item: ItemSpec) -> None:
        self.client = PhysicsClient(time_step=1.0 / 240.0)
        self.station = PickStation(self.client, layout=StationLayout(), items=(item,))
        self.arm = SuctionArm(self.client, config=ArmConfig(payload_kg=2.0))
        self.gripper = SuctionGripper(self.arm)
        self.station.place_items((0,), np.random.default_rng(0))
        self.masses = {self.station.item_ids[0]: item.mass}
        self.item = item

    def item_position(self) -> tuple[float, float, float]:
        return self.station.item_pose(0)[0]

    def move_to(self, target: tuple[float, float, float], suction: bool, steps: int) -> None:
        for _ in range(steps):
            tcp = self.arm.tcp_state()[0]
            delta = tuple(float(np.clip(t - c, -0.03, 0.03)) for t, c in zip(target, tcp, strict=True))
            self.arm.command(tcp, delta)
            self.client.step(SUBSTEPS)
            self.gripper.update(suction, self.masses)

    def press_on_item(self) -> None:
        x, y, z = self.item_position()
        top = z + 0.5 * self.item.size[2]
        self.move_to((x, y, top + 0.06), False, 30)
        self.move_to((x, y, top - 0.01), True, 12)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def light_rig():
    rig = Rig(LIGHT)
    yield rig
    rig.close()


def test_suction_holds_a_light_item_and_lifts_it(light_rig: Rig) -> None:
    light_rig.press_on_item()
    assert light_rig.gripper.holding
    assert light_rig.gripper.held_body == light_rig.station.item_ids[0]
    z0 = light_rig.item_position()[2]
    x, y, _ = light_rig.arm.tcp_state()[0]
    light_rig.move_to((x, y, 0.35), True, 15)
    assert light_rig.gripper.holding
    assert light_rig.item_position()[2] > z0 + 0.1


def test_suction_off_releases_and_the_item_falls(light_rig: Rig) -> None:
    light_rig.press_on_item()
    x, y, _ = light_rig.arm.tcp_state()[0]
    light_rig.move_to((x, y, 0.35), True, 15)
    lifted = light_rig.item_position()[2]
    light_rig.move_to((x, y, 0.35), False, 15)
    assert not light_rig.gripper.holding
    assert light_rig.item_position()[2] < lifted - 0.1


def test_heavy_item_slips() -> None:
    rig = Rig(HEAVY)
    try:
        z0 = rig.item_position()[2]
        rig.press_on_item()
        assert not rig.gripper.holding
        assert rig.gripper.slipping_body == rig.station.item_ids[0]
        x, y, _ = rig.arm.tcp_state()[0]
        rig.move_to((x, y, 0.35), True, 15)
        assert rig.item_position()[2] == pytest.approx(z0, abs=0.01)
    finally:
        rig.close()


def test_a_held_item_pulled_off_its_pose_breaks_loose(light_rig: Rig) -> None:
    light_rig.press_on_item()
    assert light_rig.gripper.holding
    body = light_rig.station.item_ids[0]
    bc = bullet_of(light_rig.client)
    pos, orn = bc.getBasePositionAndOrientation(body)
    bc.resetBasePositionAndOrientation(body, (pos[0] + 2 * BREAK_DISTANCE, pos[1], pos[2]), orn)
    assert light_rig.gripper.update(True, light_rig.masses) is True
    assert not light_rig.gripper.holding


def test_no_suction_no_hold(light_rig: Rig) -> None:
    x, y, z = light_rig.item_position()
    light_rig.move_to((x, y, z + 0.5 * LIGHT.size[2] - 0.01), False, 40)
    assert not light_rig.gripper.holding


def test_tcp_target_is_clipped_to_the_workspace(light_rig: Rig) -> None:
    low = light_rig.arm.config.workspace_low
    for _ in range(40):
        tcp = light_rig.arm.tcp_state()[0]
        light_rig.arm.command(tcp, (-0.03, -0.03, 0.03))
        light_rig.client.step(SUBSTEPS)
    tcp = light_rig.arm.tcp_state()[0]
    assert tcp[0] >= low[0] - 0.01 and tcp[1] >= low[1] - 0.01
    assert tcp[2] <= light_rig.arm.config.workspace_high[2] + 0.01
    q = light_rig.arm.joint_positions()
    assert all(lo - 1e-3 <= v <= hi + 1e-3 for v, lo, hi in zip(q, light_rig.arm.lower, light_rig.arm.upper, strict=True))


def test_items_are_placed_flat_in_distinct_slots_and_unused_ones_parked() -> None:
    client = PhysicsClient(time_step=1.0 / 240.0)
    try:
        items = tuple(ItemSpec(f"i{i}", (0.04 + 0.01 * i, 0.05, 0.03), 0.2) for i in range(6))
        station = PickStation(client, layout=StationLayout(), items=items)
        station.place_items((4, 1, 2), np.random.default_rng(3))
        assert station.active == (4, 1, 2)
        bin_ = station.layout.bin
        xs = []
        for i in (4, 1, 2):
            pos, _ = station.item_pose(i)
            assert station.in_bin(pos)
            assert pos[2] == pytest.approx(bin_.floor_z + 0.015)
            xs.append(pos[1])
        assert min(abs(a - b) for a in xs for b in xs if a != b) > 0.05
        for i in (0, 3, 5):
            assert station.item_pose(i)[0][2] < 0
        client.step(48)
        for i in (4, 1, 2):
            assert station.in_bin(station.item_pose(i)[0])
    finally:
        client.close()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "x", "size": (0.0, 0.1, 0.1), "mass": 1.0}, "size"),
        ({"name": "x", "size": (0.1, 0.1, math.nan), "mass": 1.0}, "size"),
        ({"name": "x", "size": (0.1, 0.1, 0.1), "mass": 0.0}, "mass"),
    ],
)
def test_item_spec_validation(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        ItemSpec(**kwargs)


def test_layout_and_arm_config_validation() -> None:
    with pytest.raises(ValueError, match="inner_size"):
        BoxContainer(center=(0.5, 0.0), inner_size=(0.0, 0.2), floor_z=0.1, wall_height=0.05)
    with pytest.raises(ValueError, match="grid"):
        StationLayout(grid=(0, 3))
    with pytest.raises(ValueError, match="payload_kg"):
        ArmConfig(payload_kg=-1.0)
    with pytest.raises(ValueError, match="workspace_low"):
        ArmConfig(workspace_low=(0.9, -0.4, 0.05))
    client = PhysicsClient()
    try:
        with pytest.raises(ValueError, match="does not fit"):
            PickStation(client, layout=StationLayout(), items=(ItemSpec("big", (0.3, 0.3, 0.1), 1.0),))
    finally:
        client.close()
