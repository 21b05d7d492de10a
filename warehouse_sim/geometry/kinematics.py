"""Body and drive limits of the warehouse's mobile robots (numpy-free plain data).

Shared by the physics robots (:mod:`warehouse_sim.sim.robot`) and by anything that moves
robots by kinematics alone, so neither needs the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from warehouse_sim._checks import check_real


@dataclass(frozen=True)
class RobotParams:
    """Body and drive limits of a robot (all > 0).

    Attributes:
        radius: Cylinder radius in metres.
        height: Cylinder height in metres.
        mass: Mass in kg.
        v_max: Top linear speed in m/s (both directions).
        omega_max: Top angular speed in rad/s.
        accel_max: Linear acceleration limit in m/s^2.
        alpha_max: Angular acceleration limit in rad/s^2.
    """

    radius: float = 0.25
    height: float = 0.25
    mass: float = 20.0
    v_max: float = 1.0
    omega_max: float = 2.0
    accel_max: float = 2.5
    alpha_max: float = 8.0

    def __post_init__(self) -> None:
        for name in ("radius", "height", "mass", "v_max", "omega_max", "accel_max", "alpha_max"):
            check_real(name, getattr(self, name), strict=True)
