"""Ray without SB3: reaching a cluster, how envs are spread over actors, and the env actor.

The env actors import this module (``EnvActor`` is what they run), so it imports neither
SB3 nor torch: an actor starts in the time its envs take to build. Ray itself is imported
when needed (:func:`import_ray`), never at module import.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np

from warehouse_sim._checks import check_int, check_real

#: How to install Ray with what training needs.
RAY_INSTALL_HINT = 'pip install ".[train,ray]"'


class RayClusterError(ConnectionError):
    """The Ray cluster cannot host the env actors, or lost one for good."""


@dataclass(frozen=True)
class RayEnvConfig:
    """How the envs of ``vec_env: ray`` are spread over actors (the ``ray`` hyperparameter).

    Attributes:
        envs_per_actor: Envs stepped together in one actor. ``None``: as few per actor
            as lets every actor get its CPUs from what the cluster has free when the
            run starts (``ceil(n_envs / actors)`` with ``actors = free CPUs // num_cpus``).
        num_cpus: CPUs Ray reserves for each actor (fractions allowed; 0: no reservation).
        max_restarts: Restarts of a lost actor before the run fails (Ray's ``max_restarts``).
        start_timeout_s: Seconds to wait for the actors to start, or for a lost actor to
            come back, before failing with :class:`RayClusterError`.
    """

    envs_per_actor: int | None = None
    num_cpus: float = 1.0
    max_restarts: int = 3
    start_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        if self.envs_per_actor is not None:
            check_int("ray.envs_per_actor", self.envs_per_actor)
        check_real("ray.num_cpus", self.num_cpus)
        check_int("ray.max_restarts", self.max_restarts, low=0)
        check_real("ray.start_timeout_s", self.start_timeout_s, strict=True)

    def split(self, n_envs: int, free_cpus: float) -> list[range]:
        """Assign env indices ``0..n_envs-1`` to actors, as evenly as possible (the first ones get one more).

        Args:
            n_envs: Number of envs.
            free_cpus: CPUs the cluster has free (used when ``envs_per_actor`` is ``None``).

        Returns:
            One range of consecutive env indices per actor.
        """
        if self.envs_per_actor is not None:
            n_actors = math.ceil(n_envs / self.envs_per_actor)
        elif self.num_cpus > 0:
            n_actors = max(1, min(n_envs, int(free_cpus // self.num_cpus)))
        else:
            n_actors = n_envs
        size, extra = divmod(n_envs, n_actors)
        bounds = np.cumsum([0] + [size + (i < extra) for i in range(n_actors)])
        return [range(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def import_ray() -> ModuleType:
    """Import and return the ``ray`` module.

    Raises:
        gymnasium.error.DependencyNotInstalled: if Ray is not installed (the message
            names :data:`RAY_INSTALL_HINT`).
    """
    try:
        import ray
    except ImportError:
        raise gym.error.DependencyNotInstalled(f"Ray is not installed: {RAY_INSTALL_HINT}") from None
    return ray


def probe_address(address: str | None, *, timeout_s: float = 10.0) -> None:
    """Fail fast if nothing listens at a ``HOST:PORT`` (or ``ray://HOST:PORT``) Ray address.

    ``ray.init`` keeps retrying an address where no cluster answers for many minutes;
    this opens (and closes) one TCP connection instead. ``None`` and ``"auto"`` are not
    probed (Ray resolves them at once).

    Raises:
        RayClusterError: if the address is malformed or nothing accepts a connection there.
    """
    if address is None or address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise RayClusterError(f"a Ray address is HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise RayClusterError(f"no Ray cluster at {address}: {exc.strerror or exc}") from None


def init_ray(address: str | None) -> bool:
    """Connect this process to Ray unless it is connected already.

    Args:
        address: A cluster address (``"HOST:PORT"``, ``"auto"`` for the cluster that
            ``ray start`` runs on this machine, ``"ray://..."``), or ``None`` to start a
            local Ray for this process (unless ``RAY_ADDRESS`` names a cluster).

    Returns:
        ``True`` if this call connected (the caller shuts Ray down when done).

    Raises:
        gymnasium.error.DependencyNotInstalled: if Ray is not installed.
        RayClusterError: if no cluster answers at ``address`` (see :func:`probe_address`).
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    probe_address(address)
    options: dict[str, Any] = {"address": address, "logging_level": logging.ERROR, "log_to_driver": False}
    if address is None and not os.environ.get("RAY_ADDRESS"):
        options["include_dashboard"] = False  # a local Ray for this process: no web dashboard
    try:
        ray.init(**options)
    except ConnectionError as exc:
        raise RayClusterError(f"no Ray cluster at {address!r}: {' '.join(str(exc).split())}") from None
    return True


class EnvActor:
    """The envs of one Ray actor (run by Ray as ``ray.remote(EnvActor)``).

    Results go back pickled, so the driver gets fresh, writable arrays (Ray's zero-copy
    arrays are read-only), as from ``SubprocVecEnv``'s pipes.

    Args:
        env_fns: The cloudpickled list of this actor's env factories (closures and
            functions of ``__main__`` travel by value), called here, in the actor's process.
    """

    def __init__(self, env_fns: bytes) -> None:
        envs = [fn() for fn in cloudpickle.loads(env_fns)]
        if not all(isinstance(env, gym.Env) for env in envs):  # old gym API: SB3's shim, as SubprocVecEnv
            from stable_baselines3.common.vec_env.patch_gym import _patch_env

            envs = [_patch_env(env) for env in envs]
        self.envs: list[gym.Env[Any, Any]] = envs
        #: Per env, the info of its latest reset (sent with every step, as SubprocVecEnv's worker does).
        self.reset_infos: list[dict[str, Any]] = [{} for _ in self.envs]

    def node_id(self) -> str:
        """The id of the Ray node this actor runs on."""
        import ray

        return str(ray.get_runtime_context().get_node_id())

    def spaces(self) -> tuple[gym.Space[Any], gym.Space[Any]]:
        """``(observation_space, action_space)`` of the first env."""
        return self.envs[0].observation_space, self.envs[0].action_space

    def step(self, actions: Sequence[Any]) -> bytes:
        """Step every env with its action; reset the envs whose episode ended.

        Returns:
            Pickled list of ``(obs, reward, done, info, reset_info)`` per env, as
            ``SubprocVecEnv``'s worker sends them.
        """
        results = []
        for i, (env, action) in enumerate(zip(self.envs, actions, strict=True)):
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if done:
                info["terminal_observation"] = obs
                obs, self.reset_infos[i] = env.reset()
            results.append((obs, reward, done, info, self.reset_infos[i]))
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)

    def reset(self, seeds: Sequence[int | None], options: Sequence[dict[str, Any]]) -> bytes:
        """Reset every env with its seed and options; pickled list of ``(obs, reset_info)``."""
        results = [
            env.reset(seed=seed, **({"options": opts} if opts else {}))
            for env, seed, opts in zip(self.envs, seeds, options, strict=True)
        ]
        self.reset_infos = [reset_info for _, reset_info in results]
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)

    def render(self, local: Sequence[int]) -> bytes:
        """Pickled list of ``env.render()`` for the envs ``local``."""
        return pickle.dumps([self.envs[i].render() for i in local], protocol=pickle.HIGHEST_PROTOCOL)

    def get_attr(self, name: str, local: Sequence[int]) -> bytes:
        """Pickled list of ``env.get_wrapper_attr(name)`` for the envs ``local``."""
        return pickle.dumps([self.envs[i].get_wrapper_attr(name) for i in local], protocol=pickle.HIGHEST_PROTOCOL)

    def has_attr(self, name: str) -> bool:
        """Whether every env has the attribute ``name`` (on any wrapper)."""
        try:
            for env in self.envs:
                env.get_wrapper_attr(name)
        except AttributeError:
            return False
        return True

    def set_attr(self, name: str, value: Any, local: Sequence[int]) -> bytes:
        """``setattr(env, name, value)`` on the outer wrapper of the envs ``local``; pickled ``None`` per env."""
        for i in local:
            setattr(self.envs[i], name, value)
        return pickle.dumps([None for _ in local])

    def env_method(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], local: Sequence[int]) -> bytes:
        """Pickled list of ``env.get_wrapper_attr(name)(*args, **kwargs)`` for the envs ``local``."""
        results = [self.envs[i].get_wrapper_attr(name)(*args, **kwargs) for i in local]
        return pickle.dumps(results, protocol=pickle.HIGHEST_PROTOCOL)

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], local: Sequence[int]) -> bytes:
        """Pickled list: whether each env in ``local`` is wrapped in ``wrapper_class``."""
        from stable_baselines3.common.env_util import is_wrapped

        return pickle.dumps([is_wrapped(self.envs[i], wrapper_class) for i in local])

    def close(self) -> None:
        """Close every env."""
        for env in self.envs:
            env.close()
