"""warehouse_sim: a robotic warehouse simulation suite for reinforcement learning.

Importing the package registers the Gymnasium environments (see
:mod:`warehouse_sim.registration`). It never imports torch or Stable-Baselines3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from warehouse_sim.registration import ENV_IDS, register_envs

if TYPE_CHECKING:
    from warehouse_sim.envs.fleet import FleetEnv
    from warehouse_sim.envs.fleet_dispatch import FleetDispatchEnv

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "__version__", "fleet_dispatch_env", "fleet_env", "register_envs"]


def fleet_env(
    scenario: str = "warehouse-medium",
    *,
    pricing: str = "baseline:horizon",
    candidates: int = 8,
    rule: str = "nearest",
    stay_s: float = 0.0,
    **kwargs: Any,
) -> FleetEnv:
    """The fleet as agents: a PettingZoo ``ParallelEnv`` of a Fulfilment-v0 warehouse (needs the ``multiagent`` extra).

    Args:
        scenario: Fulfilment-v0 scenario (name or path).
        pricing: The epoch policy for prices and restocking: ``baseline:NAME``,
            ``POLICY.onnx`` or ``MODEL.zip`` of Fulfilment-v0 (as ``warehouse-sim evaluate
            --policy``).
        candidates: Candidate items per deciding robot (``K``).
        rule: Reference dispatch rule (its choice is each robot's first candidate).
        stay_s: With ``stay_s > 0`` a robot may also *stay* where it is for ``stay_s``
            simulated seconds instead of driving home (action ``K + 1``); 0: no such action.
        **kwargs: Further Fulfilment-v0 keyword arguments (``fidelity``, ``n_robots``,
            ``shift_hours``, ``render_mode``, ...).

    Returns:
        A :class:`warehouse_sim.envs.fleet.FleetEnv` (see its docstring for the spec).

    Raises:
        warehouse_sim._optional.MissingExtraError: without PettingZoo or greenlet.
        ValueError: for invalid arguments (as Fulfilment-v0's, and ``candidates``, ``rule``, ``stay_s``).
    """
    import gymnasium as gym

    from warehouse_sim._optional import require_extra

    require_extra("multiagent", "pettingzoo", "greenlet")
    from warehouse_sim.envs.fleet import FleetEnv
    from warehouse_sim.evaluation import load_policy

    env = gym.make("warehouse_sim/Fulfilment-v0", scenario=scenario, **kwargs)
    try:
        return FleetEnv(env, load_policy(pricing, env), candidates=candidates, rule=rule, stay_s=stay_s)
    except BaseException:
        env.close()
        raise

register_envs()


def fleet_dispatch_env(scenario: str = "warehouse-medium", **kwargs: Any) -> FleetDispatchEnv:
    """Each step, one free robot of the fleet chooses its next job: one policy for all robots (needs ``multiagent``).

    The entry point of the Gymnasium id ``warehouse_sim/FleetDispatch-v0``: a single-agent view of :func:`fleet_env` (the
    same arguments) for one policy shared by all robots, e.g. sb3-contrib's
    ``MaskablePPO``; :class:`warehouse_sim.envs.fleet_dispatch.FleetDispatchEnv` is the spec.

    Raises:
        warehouse_sim._optional.MissingExtraError: without PettingZoo or greenlet.
        ValueError: for invalid arguments (as :func:`fleet_env`'s).
    """
    fleet = fleet_env(scenario, **kwargs)
    from warehouse_sim.envs.fleet_dispatch import FleetDispatchEnv

    try:
        return FleetDispatchEnv(fleet)
    except BaseException:
        fleet.close()
        raise
