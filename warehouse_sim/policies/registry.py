"""Named classical baselines, addressed on the command line as ``baseline:NAME``.

Each entry is a lazily imported factory ``factory(env) -> Policy`` plus the env ids it
supports, so importing this module imports no baseline code.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from warehouse_sim.policies.base import Policy


@dataclass(frozen=True)
class BaselineSpec:
    """Where a baseline lives and which environments it can drive."""

    factory: str  #: "module:function", called as ``function(env) -> Policy``
    env_ids: tuple[str, ...]
    description: str


BASELINES: dict[str, BaselineSpec] = {
    "random": BaselineSpec(
        "warehouse_sim.policies.random_policy:make_random_policy",
        (),
        "uniform random actions (any env)",
    ),
    "astar": BaselineSpec(
        "warehouse_sim.policies.navigation:make_astar_policy",
        ("warehouse_sim/Navigation-v0",),
        "A* on the occupancy grid + path-following controller",
    ),
    "scripted": BaselineSpec(
        "warehouse_sim.policies.picking:make_scripted_policy",
        ("warehouse_sim/Picking-v0",),
        "IK waypoints: over the item, descend with suction, lift, over the tote, release",
    ),
    "optimal": BaselineSpec(
        "warehouse_sim.policies.inventory:make_optimal_policy",
        ("warehouse_sim/Inventory-v0",),
        "exact optimum of a small single-SKU instance (relative value iteration)",
    ),
    "sS": BaselineSpec(
        "warehouse_sim.policies.inventory:make_ss_policy",
        ("warehouse_sim/Inventory-v0",),
        "best (s, S) restocking at the best fixed price",
    ),
    "base-stock": BaselineSpec(
        "warehouse_sim.policies.inventory:make_base_stock_policy",
        ("warehouse_sim/Inventory-v0",),
        "best order-up-to level at the best fixed price",
    ),
    "capped-base-stock": BaselineSpec(
        "warehouse_sim.policies.inventory:make_capped_base_stock_policy",
        ("warehouse_sim/Inventory-v0",),
        "best capped base-stock (order up to S, at most r per period; Xin 2021) at the best fixed price",
    ),
    "constant-order": BaselineSpec(
        "warehouse_sim.policies.inventory:make_constant_order_policy",
        ("warehouse_sim/Inventory-v0",),
        "best constant order quantity at the best fixed price",
    ),
    "myopic-price": BaselineSpec(
        "warehouse_sim.policies.inventory:make_myopic_price_policy",
        ("warehouse_sim/Inventory-v0",),
        "price e/(e-1) x unit cost (nearest level), best (s, S) at that price",
    ),
    "heuristic": BaselineSpec(
        "warehouse_sim.policies.fulfilment:make_heuristic_policy",
        ("warehouse_sim/Fulfilment-v0",),
        "(s, S) restocking, myopic prices per SKU class, nearest-robot dispatch",
    ),
    "horizon": BaselineSpec(
        "warehouse_sim.policies.fulfilment:make_horizon_policy",
        ("warehouse_sim/Fulfilment-v0",),
        "the heuristic, ordering no more than the rest of the shift is expected to sell",
    ),
    "newsvendor": BaselineSpec(
        "warehouse_sim.policies.fulfilment:make_newsvendor_policy",
        ("warehouse_sim/Fulfilment-v0",),
        "horizon with reorder points at the class prices and a cap at the 15% quantile of the rest of the shift's demand",
    ),
    "rule": BaselineSpec(
        "warehouse_sim.policies.fleet_dispatch:make_rule_policy",
        ("warehouse_sim/FleetDispatch-v0",),
        "every robot takes the reference rule's choice (env kwarg rule: fifo, edd, nearest)",
    ),
    "rule_stay": BaselineSpec(
        "warehouse_sim.policies.fleet_dispatch:make_rule_stay_policy",
        ("warehouse_sim/FleetDispatch-v0",),
        "the rule's choice; a robot without it stays where it is (env kwarg stay_s > 0)",
    ),
    "q-learning": BaselineSpec(
        "warehouse_sim.policies.inventory:make_q_learning_policy",
        ("warehouse_sim/Inventory-v0",),
        "tabular Q-learning on the single-SKU MDP (trained when built, seed 0)",
    ),
    "sarsa": BaselineSpec(
        "warehouse_sim.policies.inventory:make_sarsa_policy",
        ("warehouse_sim/Inventory-v0",),
        "tabular SARSA on the single-SKU MDP (trained when built, seed 0)",
    ),
}


def make_baseline(name: str, env: gym.Env[Any, Any]) -> Policy:
    """Build the baseline called ``name`` for ``env``.

    Raises:
        ValueError: for an unknown name, or a baseline that does not support the env.
    """
    try:
        spec = BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; known: {', '.join(sorted(BASELINES))}") from None
    env_id = env.spec.id if env.spec is not None else None
    if spec.env_ids and env_id not in spec.env_ids:
        raise ValueError(f"baseline {name!r} supports {', '.join(spec.env_ids)}, not {env_id}")
    module_name, func_name = spec.factory.split(":")
    factory = getattr(importlib.import_module(module_name), func_name)
    return factory(env)
