"""Reward shaping for training (wrappers): stock booked as an asset, and the time orders wait.

``stock_value`` (the operations envs) is potential-based:

In the operations envs a replenishment order is paid when it is placed, and its revenue
comes lead time plus selling time later: an agent learning from the raw profit sees
every order as an immediate loss and must learn from delayed sales that it pays off, so
an untrained critic biases it towards buying too little (stock-outs). The shaping
here books stock as an asset instead (accrual accounting): with the potential

    Phi(s) = sum_i unit_cost_i * owned_i / reward_scale

(``owned``: units on hand, in the dock, picked but not yet shipped, and on order)
and ``F = gamma * Phi(s') - Phi(s)`` (``Phi = 0`` after a terminal step), an order is
neutral when placed, a sale earns its margin over cost, and what is still owned when
the episode terminates is charged at its cost at the end. Potential-based shaping
leaves the optimal policies unchanged (Ng, Harada & Russell, 1999); with
``gamma = 1`` the shaped and raw returns of an episode differ only by the constant
``Phi(s_0)``.

``order_time`` (``FleetDispatch-v0``) is not: it changes the objective on purpose, from
profit alone to profit less the time customers wait. Each step is charged
:data:`ORDER_HOUR_COST` per order-hour the open orders spent in the warehouse during it
(open orders x simulated hours elapsed, counted at the start of the step). Over a shift
that sum is the orders' total time in the warehouse (Little's law), so with the orders
shipped set by demand, it is what a dispatcher that shortens the mean order cycle time
reduces; dispatch moves profit little.

The wrappers go *outside* SB3's ``Monitor``, so episode returns in the monitor files,
the learning curve and every evaluation stay the raw profit.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from warehouse_sim._checks import check_real


class StockValueShaping(gym.Wrapper[Any, Any, Any, Any]):
    """Add ``gamma * Phi(s') - Phi(s)``, ``Phi`` = stock owned valued at unit cost (see the module).

    ``info["reward_unshaped"]`` keeps the env's own reward of the step.

    Args:
        env: An Inventory-v0 or Fulfilment-v0 env (possibly wrapped): its ``unwrapped.task``
            has an operations ``model`` and a ``reward_scale``.
        gamma: The learner's discount, in (0, 1].

    Raises:
        ValueError: for another env or a discount outside (0, 1].
    """

    def __init__(self, env: gym.Env[Any, Any], gamma: float) -> None:
        super().__init__(env)
        check_real("gamma", gamma, strict=True)
        if gamma > 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")
        task: Any = getattr(env.unwrapped, "task", None)
        if not (hasattr(task, "model") and hasattr(task, "reward_scale") and hasattr(task.model, "unit_cost")):
            raise ValueError(
                f"reward_shaping 'stock_value' needs an env with an operations model (Inventory-v0, Fulfilment-v0), "
                f"not {env.spec.id if env.spec else type(env.unwrapped).__name__}"
            )
        self.gamma = float(gamma)
        self._task = task
        self._potential = 0.0

    def potential(self) -> float:
        """``Phi`` of the current state: owned stock (on hand, dock, in process, on order) at unit cost, in reward units."""
        m = self._task.model
        units = m.on_hand + m.dock + m.in_process + m.on_order
        return float(np.dot(m.unit_cost, units)) / self._task.reward_scale

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env and remember ``Phi(s_0)``."""
        obs, info = self.env.reset(**kwargs)
        self._potential = self.potential()
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and add the shaping term to its reward."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        after = 0.0 if terminated else self.potential()
        info["reward_unshaped"] = float(reward)
        shaped = float(reward) + self.gamma * after - self._potential
        self._potential = after
        return obs, shaped, terminated, truncated, info


#: Reward units charged per order-hour spent open in the warehouse (``order_time``). An
#: order leaves the open set when it ships *or is lost*, so the charge must stay well below
#: an order's worth or letting orders go pays: with Fulfilment-v0's ``reward_scale`` (1,000
#: currency units) an order earns ~0.021 (a shift's profit over its orders) and costs 0.005
#: more when it turns late, while 2 minutes open cost 0.0017 here; a 10-robot shift of
#: ~2,800 orders is charged ~4.6 against a profit of ~58. (At 1.0 per order-hour PPO learnt
#: to stop serving: 295 orders shipped instead of 2,781.)
ORDER_HOUR_COST = 0.05


class OrderTimeShaping(gym.Wrapper[Any, Any, Any, Any]):
    """Subtract :data:`ORDER_HOUR_COST` x open orders x simulated hours of each step (see the module).

    ``info["reward_unshaped"]`` keeps the env's own reward of the step.

    Args:
        env: A ``FleetDispatch-v0`` env (possibly wrapped): its ``unwrapped.task`` tells
            the open orders and the simulated clock.
        gamma: Unused (the signature of every shaping).

    Raises:
        ValueError: for another env.
    """

    def __init__(self, env: gym.Env[Any, Any], gamma: float) -> None:
        super().__init__(env)
        task: Any = getattr(env.unwrapped, "task", None)
        if not (hasattr(env.unwrapped, "action_mask_slice") and hasattr(task, "open_orders")):
            raise ValueError(
                "reward_shaping 'order_time' needs warehouse_sim/FleetDispatch-v0, "
                f"not {env.spec.id if env.spec else type(env.unwrapped).__name__}"
            )
        self._task = task
        self._clock = (0.0, 0)  # (simulated s, open orders) at the start of the step

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Reset the env and start the clock."""
        obs, info = self.env.reset(**kwargs)
        self._clock = (self._task.now_s, len(self._task.open_orders()))
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and charge the order-hours of the step."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        start_s, open_orders = self._clock
        now_s = self._task.now_s
        info["reward_unshaped"] = float(reward)
        shaped = float(reward) - ORDER_HOUR_COST * open_orders * (now_s - start_s) / 3600.0
        self._clock = (now_s, len(self._task.open_orders()))
        return obs, shaped, terminated, truncated, info


#: Wrapper of each ``reward_shaping`` value of a training config (None: the env's own reward).
_SHAPINGS: dict[str, Any] = {"stock_value": StockValueShaping, "order_time": OrderTimeShaping}
REWARD_SHAPINGS = tuple(_SHAPINGS)


def shape_reward(env: gym.Env[Any, Any], shaping: str | None, gamma: float) -> gym.Env[Any, Any]:
    """Wrap ``env`` in the named shaping (``None``: return it unchanged).

    Raises:
        ValueError: for an unknown name or an env the shaping does not apply to.
    """
    if shaping is None:
        return env
    if shaping not in _SHAPINGS:
        raise ValueError(f"unknown reward_shaping {shaping!r}; known: {', '.join(REWARD_SHAPINGS)}")
    return _SHAPINGS[shaping](env, gamma)
