"""Physics layer: the only code that imports PyBullet. Knows nothing of Gymnasium or money."""

from warehouse_sim.sim.client import PhysicsClient

__all__ = ["PhysicsClient"]
