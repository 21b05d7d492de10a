"""``warehouse_sim/Navigation-v0``: one mobile robot drives to a pick face."""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from warehouse_sim.envs.core import WarehouseEnv
from warehouse_sim.geometry.layout import Layout
from warehouse_sim.sim.render import TopDownRenderer, camera_image
from warehouse_sim.tasks.navigation import DISCRETE_ACTIONS, NavigationConfig, NavigationTask


class NavigationEnv(WarehouseEnv[np.ndarray, Any]):
    """Drive a differential-drive robot through the warehouse to a random pick face.

    ## Description

    The robot (a 0.5 m cylinder, top speed 1 m/s, 2 rad/s, acceleration-limited) drives
    through the aisles of a layout (racks, walls, a pick/pack station) to the aisle cell
    in front of a rack slot, the goal pick face, optionally among ``n_obstacle_robots``
    other robots that drive their own A* routes. Physics at 240 Hz, velocity writes at
    60 Hz, one decision every 0.1 s (10 Hz); one ``step`` is 24 physics substeps.

    ## Action Space

    - ``continuous=True``: ``Box(-1, 1, (2,), float32)`` = (linear velocity / ``v_max``,
      angular velocity / ``omega_max``), positive omega turns left. Values beyond the
      bounds are clipped to them.
    - ``continuous=False``: ``Discrete(7)``: 0 stop, 1 forward, 2 forward-left arc,
      3 forward-right arc, 4 turn left, 5 turn right, 6 reverse at half speed
      (:data:`~warehouse_sim.tasks.navigation.DISCRETE_ACTIONS`).

    NaN/inf, wrongly shaped or out-of-range discrete actions raise ``ValueError`` and
    change nothing.

    ## Observation Space

    A flat ``float32`` Box; ``n = n_rays`` (default 16), ``Box(24,)`` by default:

    | index | meaning | range |
    |---|---|---|
    | 0 .. n-1 | lidar ranges / ``lidar_range`` (ray k at angle 2*pi*k/n counter-clockwise from the heading, from the robot centre) | [0, 1] |
    | n | straight-line goal distance / floor diagonal | [0, 1] |
    | n+1, n+2 | sin, cos of the goal bearing in the robot frame | [-1, 1] |
    | n+3 | measured forward speed / ``v_max`` | [-1, 1] |
    | n+4 | measured yaw rate / ``omega_max`` | [-1, 1] |
    | n+5 | route hint distance / (2 * ``route_lookahead``) (only with ``route_hint``) | [0, 1] |
    | n+6, n+7 | sin, cos of the route hint bearing in the robot frame (only with ``route_hint``) | [-1, 1] |

    The route hint is the point ~``route_lookahead`` m (default 2 m) ahead on the shortest
    (A*) path from the robot to the goal, as a fleet manager would send it.

    ## Rewards

    Per step: ``progress_weight`` x (decrease of the shortest-path distance to the goal,
    metres; the grid A* path cost, interpolated between cells), minus ``time_penalty``,
    minus ``collision_penalty`` if the step ends in contact with a rack, wall, the station
    or another robot, plus ``success_bonus`` on arrival.

    ## Starting State

    The goal is a uniformly drawn pick face. The robot starts at rest in a free cell
    drawn uniformly among those at least ``min_start_distance`` metres (shortest path)
    from the goal, jittered by up to 20% of a cell in x and y, with a uniform heading.
    Obstacle robots start at rest at the centres of random free cells, outside the 3 x 3
    cells around the agent's start cell and each other and off the goal cell, with
    uniform headings (robots that find no room are parked off the floor). Everything is drawn from
    ``np_random``; the scene is restored from a saved state, not rebuilt.

    ## Episode End

    Terminated on arrival (within ``goal_tolerance`` of the pick-face centre) and, if
    ``terminate_on_collision`` (default), at the first collision; truncated by the
    registered time limit (500 steps = 50 s, ample for ``small`` and ``medium``; pass
    ``max_episode_steps=1500`` to ``gym.make`` for ``large``) or with
    ``info["reason"] = "physics_error"`` if the physics diverges.

    ## Information

    ``is_success``, ``collisions`` (contact onsets this episode), ``path_length`` (metres
    driven), ``shortest_path_length`` (metres, start to goal), ``spl`` (success weighted
    by path length; 0 until success, so its value at episode end is the episode's SPL),
    ``goal`` (rack id, slot).

    ## Version History

    - v0: initial release.

    Args:
        render_mode: ``None``, ``"human"`` (PyBullet GUI) or ``"rgb_array"``.
        layout: Layout preset (``"small"``, ``"medium"``, ``"large"``) or a :class:`Layout`.
        continuous: Box actions (True) or the Discrete set (False).
        route_hint: Include the route hint in the observation.
        n_obstacle_robots: Other robots driving their own A* routes (they stop for
            obstacles ahead but may still hit the agent).
        terminate_on_collision: End the episode at the first collision.
        render_view: ``"topdown"`` (fast raster) or ``"camera"`` (3-D TinyRenderer).
        render_size: ``(width, height)`` of ``rgb_array`` frames in pixels.
        **task_kwargs: Further :class:`~warehouse_sim.tasks.navigation.NavigationConfig`
            fields (``control_hz``, ``physics_hz``, ``n_rays``, reward weights, ...).

    Raises:
        ValueError: naming the argument, for any invalid argument.
    """

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        layout: str | Layout = "small",
        continuous: bool = True,
        route_hint: bool = True,
        n_obstacle_robots: int = 0,
        terminate_on_collision: bool = True,
        render_view: Literal["topdown", "camera"] = "topdown",
        render_size: tuple[int, int] = (480, 480),
        **task_kwargs: Any,
    ) -> None:
        self._check_render_mode(render_mode)
        if not isinstance(continuous, (bool, np.bool_)):
            raise ValueError(f"continuous must be a bool, got {continuous!r}")
        if render_view not in ("topdown", "camera"):
            raise ValueError(f"render_view must be 'topdown' or 'camera', got {render_view!r}")
        if not (
            isinstance(render_size, (tuple, list)) and len(render_size) == 2
            and all(isinstance(v, int) and v >= 16 for v in render_size)
        ):
            raise ValueError(f"render_size must be (width, height) integers >= 16, got {render_size!r}")
        unknown = set(task_kwargs) - set(NavigationConfig.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown argument(s): {', '.join(sorted(unknown))}")
        self.config = NavigationConfig(
            layout=layout, route_hint=route_hint, n_obstacle_robots=n_obstacle_robots,
            terminate_on_collision=terminate_on_collision, **task_kwargs,
        )
        self.continuous = bool(continuous)
        self.render_view = render_view
        self.render_size = (int(render_size[0]), int(render_size[1]))
        self.metadata = {**self.metadata, "render_fps": self.config.control_hz}
        n = self.config.n_rays
        low = np.concatenate([np.zeros(n), [0.0, -1, -1, -1, -1], [0.0, -1, -1] if route_hint else []])
        self.observation_space = spaces.Box(low.astype(np.float32), np.ones_like(low, dtype=np.float32), dtype=np.float32)
        self.action_space: spaces.Space[Any] = (
            spaces.Box(-1.0, 1.0, (2,), dtype=np.float32) if self.continuous else spaces.Discrete(len(DISCRETE_ACTIONS))
        )
        self.task: NavigationTask = NavigationTask(self.config, continuous=self.continuous, gui=render_mode == "human")
        self._renderer: TopDownRenderer | None = None

    # ------------------------------------------------------------------ privileged state (baselines, viewers)
    @property
    def layout(self) -> Layout:
        """The warehouse layout."""
        return self.task.layout

    @property
    def agent_pose(self) -> tuple[float, float, float]:
        """The agent's ``(x, y, yaw)`` in metres and radians, world frame."""
        x, y, yaw, _ = self.task.poses[0]
        return float(x), float(y), float(yaw)

    @property
    def goal_cell(self) -> tuple[int, int]:
        """The goal pick face's cell ``(row, col)``."""
        self._check_open()
        if self.task.goal is None:
            raise gym.error.ResetNeeded("call reset() first")
        return self.task.goal.cell

    def _render_frame(self) -> np.ndarray:
        width, height = self.render_size
        if self.render_view == "camera":
            return camera_image(self.task.client, self.layout, width, height)
        if self._renderer is None:
            self._renderer = TopDownRenderer(self.layout, width, height, robot_radius=self.config.robot.radius)
        task = self.task
        goal = (task.goal.x, task.goal.y) if task.goal is not None else None
        waypoint = task.route_waypoint() if task.goal is not None and self.config.route_hint else None
        return self._renderer.render(task.poses, goal=goal, waypoint=waypoint)
