"""Gymnasium registration of every warehouse_sim environment.

The ids are public interface (``shared/DESIGN.md``). Entry points are strings, so
registering imports neither PyBullet nor the environment modules.
"""

from __future__ import annotations

import gymnasium as gym

#: Environment id -> (entry point, max_episode_steps).
_SPECS: dict[str, tuple[str, int | None]] = {
    "warehouse_sim/Navigation-v0": ("warehouse_sim.envs.navigation:NavigationEnv", 500),
    "warehouse_sim/Inventory-v0": ("warehouse_sim.envs.inventory:InventoryEnv", None),
    "warehouse_sim/Picking-v0": ("warehouse_sim.envs.picking:PickingEnv", 100),
    "warehouse_sim/Fulfilment-v0": ("warehouse_sim.envs.fulfilment:FulfilmentEnv", None),
    # a factory: it loads the pricing policy, which the envs layer may not import
    "warehouse_sim/FleetDispatch-v0": ("warehouse_sim:fleet_dispatch_env", None),
}

ENV_IDS: tuple[str, ...] = tuple(_SPECS)


def register_envs() -> None:
    """Register every environment id with Gymnasium (idempotent)."""
    for env_id, (entry_point, max_steps) in _SPECS.items():
        if env_id in gym.registry:
            continue
        gym.register(id=env_id, entry_point=entry_point, max_episode_steps=max_steps)
