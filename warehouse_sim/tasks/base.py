"""The task contract: what every environment runs, whatever it simulates.

A :class:`Task` turns actions into commands for the layers below (the physics of
:mod:`warehouse_sim.sim`, the operations model of :mod:`warehouse_sim.operations`),
advances them, and reads back observation, reward, episode outcome and KPIs. The
Gymnasium side (spaces, seeding, action validation, the closed and needs-reset checks,
rendering) is :class:`warehouse_sim.envs.core.WarehouseEnv`'s; an env is a thin adapter
that builds its task and spaces. The lifecycle, as in dm_control's composer ``Task``::

    task.reset(rng)                  # a new episode; rng is the env's np_random
    task.apply(action)               # a validated action of the env's action space
    outcome = task.advance()         # simulate one step: reward, terminated, truncated
    task.observation(), task.info()  # fresh objects, never views of internal buffers
    task.close()                     # idempotent

Randomness flows from the ``rng`` given to :meth:`Task.reset`; tasks keep no other
generator. A task whose episode ends on a runtime fault (physics divergence) reports it
as ``truncated`` with ``reason`` set, its books closed.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

from warehouse_sim.sim.client import PhysicsClient

#: Why an episode was truncated by a runtime fault (``info["reason"]``).
PHYSICS_ERROR = "physics_error"


class StepOutcome(NamedTuple):
    """What one :meth:`Task.advance` produced.

    Attributes:
        reward: The step's reward (env units).
        terminated: The episode reached a terminal state of the task.
        truncated: The episode was cut short: by a runtime fault (``reason`` set) or at
            the end of the task's own horizon (time limits set at registration are the
            ``TimeLimit`` wrapper's business, not the task's).
        reason: Why it was truncated by a fault (:data:`PHYSICS_ERROR`), else None.
    """

    reward: float
    terminated: bool = False
    truncated: bool = False
    reason: str | None = None


class Task(abc.ABC):
    """One task of the suite; see the module docstring for the lifecycle.

    Attributes:
        has_physics: Whether :meth:`advance` steps PyBullet (then :meth:`bare_physics_step`
            is the benchmark floor of one step).
        sim_seconds_per_step: Simulated seconds one :meth:`advance` covers.
    """

    has_physics: ClassVar[bool] = False
    sim_seconds_per_step: float

    @abc.abstractmethod
    def reset(self, rng: np.random.Generator) -> None:
        """Start an episode; ``rng`` (the env's ``np_random``) is the episode's one source of randomness."""

    @abc.abstractmethod
    def apply(self, action: Any) -> None:
        """Set the commands of the next step from ``action``, already validated against the env's action space."""

    @abc.abstractmethod
    def advance(self) -> StepOutcome:
        """Simulate one step with the commands last applied."""

    @abc.abstractmethod
    def observation(self) -> Any:
        """The current observation: a fresh array (or dict of arrays)."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """The KPIs of the episode so far (a fresh dict)."""

    def bare_physics_step(self) -> None:
        """The PyBullet work of one :meth:`advance` with no task code (``warehouse-sim bench``'s floor).

        Raises:
            NotImplementedError: for tasks without physics.
        """
        raise NotImplementedError(f"{type(self).__name__} simulates no physics")

    def close(self) -> None:  # noqa: B027 - tasks without resources have nothing to release
        """Release what the task holds (idempotent)."""


@contextlib.contextmanager
def physics_scene(*, gui: bool, physics_hz: int, planar: bool) -> Iterator[PhysicsClient]:
    """Open the physics client of a task: the one place every env's PyBullet client is created.

    The client is closed again if building the scene inside the block fails; otherwise
    it stays open and belongs to the caller (who closes it in its ``close``).

    Args:
        gui: Open the PyBullet GUI (``render_mode="human"``) instead of DIRECT mode.
        physics_hz: Physics steps per simulated second.
        planar: Robots on the floor plane: gravity off (the robots ride just above the
            floor, see :mod:`warehouse_sim.sim.robot`); otherwise Earth gravity.

    Yields:
        The open client.
    """
    client = PhysicsClient(gui=gui, time_step=1.0 / physics_hz, gravity=0.0 if planar else -9.81)
    try:
        yield client
    except BaseException:
        client.close()
        raise
