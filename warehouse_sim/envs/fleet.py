"""The fleet as agents: a PettingZoo ``ParallelEnv`` in which each robot chooses its next job.

Needs the ``multiagent`` extra (PettingZoo, greenlet); build it with
:func:`warehouse_sim.fleet_env`. ``import warehouse_sim`` does not import this module.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from greenlet import greenlet
from gymnasium import spaces
from pettingzoo import ParallelEnv

from warehouse_sim.envs.fulfilment import FulfilmentEnv
from warehouse_sim.tasks.fulfilment.agents import NO_JOB, OBSERVATION_BOUND, AgentDispatch

AgentObservation = dict[str, np.ndarray]


class PricingPolicy(Protocol):
    """What sets prices, restocking (and promotions) each epoch: any warehouse_sim ``Policy`` for Fulfilment-v0."""

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Start a shift of ``env`` (already reset)."""

    def act(self, observation: Any) -> Any:
        """The Fulfilment-v0 action for the epoch that starts now."""


class _Request:
    """Robots asked to decide at one dispatch moment (what the shift hands to :meth:`FleetEnv.step`)."""

    def __init__(self, robots: list[int], observations: list[np.ndarray], masks: list[np.ndarray]) -> None:
        self.robots = robots
        self.observations = dict(zip(robots, observations, strict=True))
        self.masks = dict(zip(robots, masks, strict=True))


class FleetEnv(ParallelEnv[str, AgentObservation, int]):
    """One Fulfilment-v0 shift with every robot an agent that chooses its next job.

    The warehouse, both fidelities, its orders, stock and money are Fulfilment-v0's
    (a :class:`~warehouse_sim.envs.fulfilment.FulfilmentEnv` passed in); the epoch's
    prices, replenishment (and promotion slots) come from ``pricing``, a policy of
    Fulfilment-v0 (``baseline:horizon`` through :func:`warehouse_sim.fleet_env`), whose
    dispatch entry is replaced by the reference ``rule``. Waiting work goes to free robots
    by :class:`~warehouse_sim.tasks.fulfilment.agents.AgentDispatch`: its module
    docstring defines the candidates, the masks, the collision rounds and the
    observation table.

    ## Agents

    ``robot_0 .. robot_{n-1}``, all live from :meth:`reset` to the end of the shift.

    ## Steps

    A step ends at the next dispatch moment at which some robot may take work (the
    simulated time between two steps varies: a fraction of a second to minutes). The
    robots asked then are *deciding* (``info["deciding"]``); the others see their own and
    global features and the mask ``[1, 0, ..., 0]``.

    ## Action Space

    ``Discrete(K + 1)`` per agent: ``0`` takes no new job now, ``k`` takes candidate ``k``;
    with ``stay_s > 0``, ``Discrete(K + 2)``: ``K + 1`` *stays*, the robot takes no job
    and stands where it is for ``stay_s`` simulated seconds instead of driving home (a
    robot is then asked also when it has no job and would drive home, with only ``0``
    and ``K + 1`` open). Every live agent may send an action; deciding agents must. An
    action that the agent's mask forbids is not executed (the robot takes no job;
    :attr:`masked_actions` counts it); an action outside the space, a missing deciding
    agent or an unknown agent raise
    ``ValueError`` before anything changes.

    ## Observation Space

    ``Dict(observation=Box(-10, 10, (11 + 12 K,), float32), action_mask=Box(0, 1, (n,), int8))``
    with ``n`` the number of actions
    (PettingZoo's masking convention); :meth:`state` is the Fulfilment-v0 observation.

    ## Rewards

    Shared: every agent gets the profit of the epochs that ended during the step (those
    ended during :meth:`reset` count in the first step) divided by the scenario's
    ``reward_scale`` (Fulfilment-v0's reward), so each agent's return over a shift is the
    Fulfilment-v0 return of that shift.

    ## Episode End

    All agents terminate at the end of the shift (truncate on a physics error, as
    Fulfilment-v0); ``agents`` is then empty. Agents' infos carry ``"fulfilment"``, the
    Fulfilment-v0 info (KPIs) of the last epoch that ended, at the steps (and the reset)
    in which an epoch ended.

    Args:
        env: A Fulfilment-v0 env (possibly wrapped by ``gym.make``); the fleet env owns it
            and closes it.
        pricing: The epoch policy for Fulfilment-v0.
        candidates: ``K``, candidate items offered to each deciding robot (>= 1).
        rule: The reference dispatch rule (``"fifo"``, ``"edd"``, ``"nearest"``), whose
            choice is each robot's first candidate.
        stay_s: Seconds a robot that chooses to stay stands where it is; 0 (default): no
            stay action.

    Raises:
        ValueError: if ``env`` is not a Fulfilment-v0 env, for a bad ``candidates``,
            ``stay_s`` or rule.

    Attributes:
        dispatch: The dispatcher on the task's job board (its counters: decisions, no
            jobs, masked actions, collisions).
    """

    metadata = {"name": "warehouse_sim_fleet_v0", "render_modes": ["human", "rgb_array"], "is_parallelizable": True}

    def __init__(
        self, env: gym.Env[Any, Any], pricing: PricingPolicy, *, candidates: int = 8, rule: str = "nearest",
        stay_s: float = 0.0,
    ) -> None:
        fulfilment = env.unwrapped
        if not isinstance(fulfilment, FulfilmentEnv):
            raise ValueError(f"env must be a Fulfilment-v0 env, got {type(fulfilment).__name__}")
        self.env = env
        self.pricing = pricing
        self.task = fulfilment.task
        self.dispatch = AgentDispatch(self.task, self._decide, candidates=candidates, rule=rule, stay_s=stay_s)
        self.task.jobs.dispatcher = self.dispatch
        self.render_mode = fulfilment.render_mode
        self._rule_entry = self.task.n_classes + self.task.model.n_skus  # the action's dispatch entry
        k = self.dispatch.n_actions
        self.possible_agents = [f"robot_{r}" for r in range(self.task.fleet.n)]
        self.agents: list[str] = []
        obs_space = spaces.Dict({
            "observation": spaces.Box(-OBSERVATION_BOUND, OBSERVATION_BOUND, (self.dispatch.observation_size,), np.float32),
            "action_mask": spaces.Box(0, 1, (k,), np.int8),
        })
        self.observation_spaces = {a: obs_space for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(k) for a in self.possible_agents}
        self.state_space = fulfilment.observation_space
        self._idle_masked = 0
        self._idle_mask = np.zeros(k, dtype=np.int8)
        self._idle_mask[NO_JOB] = 1
        self._shift: greenlet | None = None
        self._request: _Request | None = None
        self._reward = 0.0
        self._ended = (False, False)
        self._epoch_info: dict[str, Any] | None = None

    @property
    def masked_actions(self) -> int:
        """Actions not executed because the agent's mask forbade them, since :meth:`reset`."""
        return self._idle_masked + self.dispatch.masked_actions

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> spaces.Space[Any]:
        """The ``Dict`` space of ``agent``'s observations (one object per agent)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space[Any]:
        """``Discrete(K + 1)``, or ``Discrete(K + 2)`` with the stay action (one object per agent)."""
        return self.action_spaces[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, AgentObservation], dict[str, dict[str, Any]]]:
        """Start a shift (``seed`` as Fulfilment-v0's) and run it to the first dispatch moment with a decision."""
        self._stop()
        obs, _ = self.env.reset(seed=seed, options=options)
        self.pricing.reset(self.env)
        self.dispatch.reset()
        self._idle_masked = 0
        self.agents = list(self.possible_agents)
        self._reward, self._ended, self._epoch_info = 0.0, (False, False), None
        self._shift = greenlet(self._run_shift)
        self._resume(obs)
        observations, infos = self._observations(), self._infos()
        self._epoch_info = None  # the reward of epochs run here goes with the first step's
        if self._request is None:  # a shift without a single decision
            self.agents = []
        return observations, infos

    def step(self, actions: dict[str, Any]) -> tuple[
        dict[str, AgentObservation], dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict[str, Any]]
    ]:
        """Execute the deciding robots' actions and run to the next dispatch moment with a decision.

        Raises:
            gymnasium.error.ResetNeeded: before :meth:`reset` or after the shift ended.
            ValueError: for an unknown agent, an action outside the action space or a deciding
                agent without an action (nothing changes).
        """
        request = self._request
        if request is None or not self.agents:
            raise gym.error.ResetNeeded("call reset() before step()")
        chosen = self._check_actions(actions, request)
        self._idle_masked += sum(1 for a, action in chosen.items() if action != NO_JOB and self._robot(a) not in request.robots)
        live = list(self.agents)
        self._resume([chosen[f"robot_{r}"] for r in request.robots])
        terminated, truncated = self._ended
        rewards = dict.fromkeys(live, self._reward)
        terminations = dict.fromkeys(live, terminated)
        truncations = dict.fromkeys(live, truncated)
        observations, infos = self._observations(live), self._infos(live)
        self._reward, self._epoch_info = 0.0, None
        if terminated or truncated:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def state(self) -> np.ndarray:
        """The Fulfilment-v0 observation of the warehouse now (``state_space``)."""
        return self.task.observation()

    def render(self) -> np.ndarray | None:
        """The Fulfilment-v0 frame (``render_mode="rgb_array"``), else None (``"human"``: the GUI shows the scene)."""
        frame = self.env.render()
        return frame if isinstance(frame, np.ndarray) else None

    def close(self) -> None:
        """End any shift in progress and close the Fulfilment-v0 env (idempotent)."""
        self._stop()
        self.agents = []
        self.env.close()

    # ------------------------------------------------------------------ the shift, in its own greenlet
    def _run_shift(self, obs: np.ndarray) -> None:
        """Epoch after epoch until the shift ends; the dispatcher switches out at each decision."""
        while True:
            action = np.array(self.pricing.act(obs), dtype=np.int64)
            action[self._rule_entry] = self.dispatch.rule
            obs, reward, terminated, truncated, info = self.env.step(action)
            self._reward += float(reward)
            self._epoch_info = info
            if terminated or truncated:
                self._ended = (bool(terminated), bool(truncated))
                return

    def _decide(self, robots: list[int], observations: list[np.ndarray], masks: list[np.ndarray]) -> list[int]:
        """The dispatcher's callback: hand the request to :meth:`step`'s caller, return its actions."""
        shift = self._shift
        if shift is None or greenlet.getcurrent() is not shift:
            raise RuntimeError("the fleet's dispatcher runs only inside FleetEnv.reset/step")
        actions: list[int] = shift.parent.switch(_Request(robots, observations, masks))
        return actions

    def _resume(self, value: Any) -> None:
        """Run the shift until it asks for decisions (kept in ``_request``) or ends."""
        assert self._shift is not None
        try:
            out = self._shift.switch(value)
        except BaseException:  # the shift failed (e.g. the pricing policy raised): it cannot go on
            self._shift, self._request, self.agents = None, None, []
            raise
        self._request = out if isinstance(out, _Request) else None
        if self._request is None:
            self._shift = None

    def _stop(self) -> None:
        """Abandon a shift in progress (its greenlet unwinds)."""
        if self._shift is not None and not self._shift.dead:
            self._shift.throw()
        self._shift, self._request = None, None

    # ------------------------------------------------------------------ views
    @staticmethod
    def _robot(agent: str) -> int:
        return int(agent.removeprefix("robot_"))

    def _check_actions(self, actions: dict[str, Any], request: _Request) -> dict[str, int]:
        if not isinstance(actions, dict):
            raise ValueError(f"actions must be a dict agent -> action, got {type(actions).__name__}")
        n = self.dispatch.n_actions
        chosen: dict[str, int] = {}
        for agent, action in actions.items():
            if agent not in self.agents:
                raise ValueError(f"unknown or finished agent {agent!r}; live agents: robot_0..robot_{len(self.possible_agents) - 1}")
            value = np.asarray(action)
            if value.shape != () or value.dtype.kind not in "iu" or not 0 <= int(value) < n:
                raise ValueError(f"action of {agent} must be an integer in 0..{n - 1}, got {action!r}")
            chosen[agent] = int(value)
        missing = [f"robot_{r}" for r in request.robots if f"robot_{r}" not in chosen]
        if missing:
            raise ValueError(f"deciding agents without an action: {', '.join(missing)}")
        return chosen

    def _observations(self, agents: list[str] | None = None) -> dict[str, AgentObservation]:
        request = self._request
        deciding = request.observations if request is not None else {}
        robots = [self._robot(a) for a in (self.agents if agents is None else agents)]
        idle = [r for r in robots if r not in deciding]
        out = {f"robot_{r}": {"observation": obs, "action_mask": self._idle_mask.copy()}
               for r, obs in zip(idle, self.dispatch.idle_observations(idle), strict=True)}
        if request is not None:
            out.update({f"robot_{r}": {"observation": request.observations[r], "action_mask": request.masks[r]}
                        for r in robots if r in deciding})
        return {f"robot_{r}": out[f"robot_{r}"] for r in robots}

    def _infos(self, agents: list[str] | None = None) -> dict[str, dict[str, Any]]:
        request = self._request
        deciding = set(request.robots) if request is not None else set()
        now = self.task.now_s
        infos: dict[str, dict[str, Any]] = {}
        for agent in self.agents if agents is None else agents:
            info: dict[str, Any] = {"deciding": self._robot(agent) in deciding, "sim_time_s": now}
            if self._epoch_info is not None:
                info["fulfilment"] = self._epoch_info
            infos[agent] = info
        return infos
