"""``baseline:scripted`` for ``warehouse_sim/Picking-v0``: IK waypoints with a suction cup.

The waypoints, computed from the observation each step (the cup face is the TCP):

1. rise to the travel height (3 cm over the tallest item the bin may hold and both
   rims), move over the target, suction off;
2. descend onto the top face with suction on, until the target is held;
3. lift straight up to the carry height (the held item's bottom at the travel height);
4. move over the tote's centre at the carry height;
5. release (suction off) and stay until the item rests in the tote.

Each step moves toward the current waypoint by at most the env's ``max_step_m`` per
axis (Box actions), or along the axis with the largest remaining distance (Discrete).
Only the travel height uses the env's privileged data (rim heights and the tallest
catalogue item), read at construction.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.policies.base import Policy

#: Horizontal error (m) under which the cup descends / releases.
ALIGN = 0.012
#: How far below the top face the descent aims (pressing the cup on), metres.
PRESS = 0.01
#: Clearance (m) of the cup, or the held item's bottom, over the tallest obstacle while travelling.
CLEARANCE = 0.03


class ScriptedPickingPolicy(Policy):
    """Waypoint follower for ``PickingEnv`` (flat or goal-conditioned, Box or Discrete).

    Args:
        env: A ``Picking-v0`` env (possibly wrapped).
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        unwrapped: Any = env.unwrapped
        self._continuous = bool(unwrapped.continuous)
        self._step = float(unwrapped.config.max_step_m)
        layout = unwrapped.config.layout
        tallest = max(spec.size[2] for spec in unwrapped.task.station.items)
        self._travel_z = max(layout.bin.rim_z, layout.tote.rim_z, layout.bin.floor_z + tallest) + CLEARANCE
        self._released = False

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Start a new episode."""
        self._released = False

    def act(self, observation: Any) -> Any:
        """Return the action toward the current waypoint."""
        obs = np.asarray(observation["observation"] if isinstance(observation, dict) else observation, dtype=np.float64)
        tcp = obs[0:3]
        item = tcp + obs[9:12]
        tote = item + obs[16:19]
        height = obs[21]
        holding_target = obs[8] > 0.5
        carry_z = self._travel_z + height
        suction = True
        if holding_target:
            dxy = np.hypot(*(tote[:2] - tcp[:2]))
            if dxy < ALIGN and tcp[2] > carry_z - 0.02:
                self._released = True
                suction = False
                target = tcp
            elif tcp[2] < carry_z - 0.02 and dxy > 0.05:
                target = np.array((tcp[0], tcp[1], carry_z))
            else:
                target = np.array((tote[0], tote[1], carry_z))
        elif self._released:
            suction = False
            target = tcp
        else:
            top = item[2] + 0.5 * height
            descending = tcp[2] < self._travel_z - 0.02
            if np.hypot(*(item[:2] - tcp[:2])) > (2 * ALIGN if descending else ALIGN):
                suction = False
                if descending:  # rise before moving sideways over other items
                    target = np.array((tcp[0], tcp[1], self._travel_z))
                else:
                    target = np.array((item[0], item[1], self._travel_z))
            else:
                target = np.array((item[0], item[1], top - PRESS))
        return self._action(target - tcp, suction)

    def _action(self, error: np.ndarray, suction: bool) -> Any:
        scaled = np.clip(error / self._step, -1.0, 1.0)
        if self._continuous:
            return np.array((*scaled, 1.0 if suction else -1.0), dtype=np.float32)
        axis = int(np.argmax(np.abs(scaled)))
        move = 0 if abs(scaled[axis]) < 0.34 else 1 + 2 * axis + (0 if scaled[axis] > 0 else 1)
        return 2 * move + int(suction)


def make_scripted_policy(env: gym.Env[Any, Any]) -> ScriptedPickingPolicy:
    """Factory for ``baseline:scripted``."""
    return ScriptedPickingPolicy(env)
