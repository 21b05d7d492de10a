"""The ``astar`` baseline for Navigation: A* on the occupancy grid + pure pursuit.

It reads privileged state from ``env.unwrapped`` (layout, goal cell, robot pose), plans
once per episode and follows the smoothed path; it slows down for obstacles seen by the
lidar straight ahead. Its actions are valid in both action modes of the env.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.geometry.paths import PathFollower, PursuitParams, plan_route
from warehouse_sim.policies.base import Policy
from warehouse_sim.tasks.navigation import DISCRETE_ACTIONS


class AStarPolicy(Policy):
    """Plans with A* at reset, then tracks the path with a pure-pursuit controller.

    Args:
        env: A ``warehouse_sim/Navigation-v0`` env (possibly wrapped).
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        unwrapped: Any = env.unwrapped
        self._env = unwrapped
        if not hasattr(unwrapped, "agent_pose"):
            raise ValueError("the astar baseline needs a warehouse_sim/Navigation-v0 env")
        cfg = unwrapped.config
        self.action_space = env.action_space
        self._v_max, self._w_max = cfg.robot.v_max, cfg.robot.omega_max
        self._params = PursuitParams(
            v_max=cfg.robot.v_max, omega_max=cfg.robot.omega_max, goal_tolerance=0.5 * cfg.goal_tolerance,
        )
        self._radius = cfg.robot.radius + 0.05
        self._n_rays = cfg.n_rays
        angles = np.linspace(0.0, 2.0 * math.pi, cfg.n_rays, endpoint=False)
        self._front = np.abs((angles + math.pi) % (2 * math.pi) - math.pi) <= math.radians(40)
        self._stop_range = (cfg.robot.radius + 0.35) / cfg.lidar_range
        self._discrete = np.asarray(DISCRETE_ACTIONS)
        self._follower: PathFollower | None = None

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Plan the route of the episode that ``env`` just started."""
        self._env = env.unwrapped
        x, y, _ = self._env.agent_pose
        route = plan_route(self._env.layout, (x, y), self._env.goal_cell, radius=self._radius)
        if route:
            route[0] = (x, y)  # start from the robot itself, not its cell centre
        self._follower = PathFollower(route, self._params) if route else None

    def act(self, observation: Any) -> Any:
        """The next action: ``[v, omega]`` normalised (Box) or the nearest discrete action."""
        if self._follower is None:
            v, w = 0.0, 0.0
        else:
            x, y, yaw = self._env.agent_pose
            v, w = self._follower.command(x, y, yaw)
            obs = np.asarray(observation)
            if v > 0 and obs[: self._n_rays][self._front].min() < self._stop_range:
                v = 0.0
        a = np.array([v / self._v_max, w / self._w_max], dtype=np.float32)
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(np.argmin(((self._discrete - a) ** 2).sum(axis=1)))
        return a


def make_astar_policy(env: gym.Env[Any, Any]) -> AStarPolicy:
    """Factory for ``baseline:astar``."""
    return AStarPolicy(env)
