"""Training envs in Ray actors: Stable-Baselines3's ``VecEnv`` with the envs on a Ray cluster.

``vec_env: ray`` (or ``warehouse-sim train --vec-env ray [--ray-address ADDR]``) puts the
``n_envs`` training envs into Ray actors instead of local processes. Each actor holds
``envs_per_actor`` envs and steps them as one batch, so a vectorised step costs one actor
round trip per actor, not one per env. The actors are scheduled with Ray's ``SPREAD``
strategy: on a cluster they land on different nodes. The learner (SB3, torch) stays in
the calling process; so do ``VecNormalize``, checkpoints and the monitor files.

Behaviour matches SB3's ``SubprocVecEnv`` (tested side by side on the same seeds):
``seed`` then ``reset`` seeds env ``i`` with ``seed + i``; ``reset_infos``; automatic
resets with ``info["terminal_observation"]`` and ``info["TimeLimit.truncated"]``;
``render``/``get_images``; ``get_attr``/``set_attr``/``env_method``/``env_is_wrapped``.
Arrays are fresh, writable copies.

Fault tolerance: an actor whose process or node dies is restarted by Ray (up to
``max_restarts`` times, building its envs anew). The step that was in flight ends the
episodes of all the actor's envs as truncated: ``done=True``, reward 0,
``info["TimeLimit.truncated"] = True``, ``info["terminal_observation"]`` = the last
observation the agent saw, ``info["actor_restarted"] = True`` and
``info["reason"] = "actor_restarted"``; the returned observation starts a new episode
(seeded from the vec env's seed, the env index and the restart count). The event is
logged as a warning. A lost ``reset`` is repeated with the same seeds. The interrupted
episodes do not appear in the monitor files (they never ended); nothing else is lost.
Other calls (``get_attr``, ``env_method``, ...) to a lost actor raise
:class:`RayClusterError`.

Monitor files: the envs in the actors are wrapped in SB3's ``Monitor`` without a file;
this process writes each finished episode (``info["episode"]``) to the run folder's
``monitor/<session>-<rank>.monitor.csv``, so the files are where the run folder is, not
on the worker nodes.

This module subclasses SB3's ``VecEnv``, so it imports SB3: the training layer imports it
lazily, when a run uses ``vec_env: ray``. Ray is imported when a vec env is made.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import ResultsWriter
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.subproc_vec_env import _stack_obs

from warehouse_sim.training.ray_cluster import EnvActor, RayClusterError, RayEnvConfig, import_ray, init_ray

logger = logging.getLogger(__name__)

#: ``info`` key (and ``info["reason"]``) of an episode ended by the loss of its actor.
ACTOR_RESTARTED = "actor_restarted"
#: Seconds between attempts to reach an actor that Ray is restarting.
_RETRY_PERIOD_S = 0.5


def make_ray_vec_env(
    env_fns: Sequence[Callable[[], gym.Env[Any, Any]]],
    *,
    config: RayEnvConfig | None = None,
    address: str | None = None,
    monitor_files: Sequence[str] | None = None,
    env_id: str = "",
) -> Any:
    """Build a ``VecEnv`` whose envs live in Ray actors (see the module docstring).

    Connects to Ray first if this process is not connected (:func:`init_ray`); such a
    connection is closed again by the vec env's ``close()``.

    Args:
        env_fns: One factory per env, pickled to the actors (cloudpickle: closures work).
        config: Actors, CPUs, restarts (default :class:`RayEnvConfig`).
        address: The Ray cluster to connect to if not connected (``None``: local Ray).
        monitor_files: Per env, a path (without ``.monitor.csv``) of the SB3 monitor
            file this process writes from ``info["episode"]``; ``None``: none.
        env_id: Env id written in the monitor files' header.

    Returns:
        An SB3 ``VecEnv`` (``RayVecEnv``); also has ``actor_nodes()`` (the Ray node id of
        each actor) and ``restarts`` (restarts seen per actor).

    Raises:
        gymnasium.error.DependencyNotInstalled: if Ray is not installed.
        RayClusterError: no cluster at ``address``, or the actors did not start within
            ``config.start_timeout_s``.
    """
    return RayVecEnv(env_fns, config=config or RayEnvConfig(), address=address, monitor_files=monitor_files, env_id=env_id)


class RayVecEnv(VecEnv):
    """SB3 ``VecEnv`` over envs in Ray actors; see :mod:`warehouse_sim.training.ray_vec_env`."""

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env[Any, Any]]],
        *,
        config: RayEnvConfig,
        address: str | None,
        monitor_files: Sequence[str] | None,
        env_id: str,
    ) -> None:
        self._ray = import_ray()
        self._owns_ray = init_ray(address)
        self._config = config
        self._actors: list[Any] = []
        self.closed = False
        try:
            self._slices = config.split(len(env_fns), self._ray.available_resources().get("CPU", 0.0))
            remote = self._ray.remote(EnvActor).options(
                num_cpus=config.num_cpus,
                max_restarts=config.max_restarts,
                max_task_retries=0,
                scheduling_strategy="SPREAD",
            )
            self._actors = [remote.remote(cloudpickle.dumps([env_fns[i] for i in envs])) for envs in self._slices]
            spaces = self._wait_started()
        except BaseException:
            self._release()
            raise
        self._owner = [(a, j) for a, envs in enumerate(self._slices) for j in range(len(envs))]
        self.restarts = [0] * len(self._actors)
        self._seed_base: int | None = None
        self._last_obs: list[Any] = [None] * len(env_fns)
        self._pending: list[Any] | None = None
        self._t_start = time.time()
        self._writers = (
            [ResultsWriter(path, header={"t_start": self._t_start, "env_id": env_id}) for path in monitor_files]
            if monitor_files is not None
            else None
        )
        super().__init__(len(env_fns), *spaces)

    def _wait_started(self) -> tuple[gym.Space[Any], gym.Space[Any]]:
        refs = [actor.spaces.remote() for actor in self._actors]
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=self._config.start_timeout_s)
        if len(ready) < len(refs):
            free = self._ray.available_resources().get("CPU", 0.0)
            raise RayClusterError(
                f"only {len(ready)} of {len(refs)} env actors started within {self._config.start_timeout_s:g} s "
                f"(each asks for {self._config.num_cpus:g} CPU, the cluster has {free:g} free): "
                "set ray.envs_per_actor or ray.num_cpus, or add nodes"
            )
        spaces: tuple[gym.Space[Any], gym.Space[Any]] = self._ray.get(refs[0])
        return spaces

    def actor_nodes(self) -> list[str]:
        """The Ray node id of each actor, in actor order."""
        return [str(n) for n in self._ray.get([actor.node_id.remote() for actor in self._actors])]

    @property
    def actor_envs(self) -> list[range]:
        """The env indices held by each actor."""
        return list(self._slices)

    # -- seeding, reset, step ---------------------------------------------------------

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """As ``VecEnv.seed``; also the root of the seeds of restarted actors' envs."""
        seeds = super().seed(seed)
        self._seed_base = seeds[0]
        return seeds

    def reset(self) -> Any:
        """Reset every env with the seeds/options set since the last reset (used once)."""
        refs = [
            actor.reset.remote([self._seeds[i] for i in envs], [self._options[i] for i in envs])
            for actor, envs in zip(self._actors, self._slices, strict=True)
        ]
        results: list[Any] = []
        for a, ref in enumerate(refs):
            try:
                results.extend(pickle.loads(self._ray.get(ref)))
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.ObjectLostError) as exc:
                envs = self._slices[a]
                self._note_restart(a, exc, "its reset is repeated with the same seeds")
                seeds, options = [self._seeds[i] for i in envs], [self._options[i] for i in envs]
                results.extend(self._call_restarted(a, "reset", seeds, options))
        obs, self.reset_infos = zip(*results, strict=True)  # type: ignore[assignment]
        self._last_obs = list(obs)
        self._reset_seeds()
        self._reset_options()
        return _stack_obs(obs, self.observation_space)

    def step_async(self, actions: np.ndarray) -> None:
        """Send each actor the actions of its envs (one remote call per actor)."""
        self._pending = [
            actor.step.remote(actions[envs.start : envs.stop])
            for actor, envs in zip(self._actors, self._slices, strict=True)
        ]

    def step_wait(self) -> Any:
        """Collect the actors' batches; a lost actor's episodes end truncated (see the module)."""
        assert self._pending is not None, "step_wait() without step_async()"
        refs, self._pending = self._pending, None
        results: list[Any] = []
        for a, ref in enumerate(refs):
            try:
                results.extend(pickle.loads(self._ray.get(ref)))
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.ObjectLostError) as exc:
                results.extend(self._truncate_lost(a, exc))
        obs, rewards, dones, infos, self.reset_infos = zip(*results, strict=True)  # type: ignore[assignment]
        self._last_obs = list(obs)
        if self._writers is not None:
            self._write_episodes(infos)
        return _stack_obs(obs, self.observation_space), np.stack(rewards), np.stack(dones), list(infos)

    def _truncate_lost(self, a: int, exc: Exception) -> list[tuple[Any, float, bool, dict[str, Any], dict[str, Any]]]:
        envs = self._slices[a]
        self._note_restart(a, exc, f"the episodes of envs {envs.start}..{envs.stop - 1} end truncated")
        seeds = [self._restart_seed(i, self.restarts[a]) for i in envs]
        reset = self._call_restarted(a, "reset", seeds, [{} for _ in envs])
        results = []
        for i, (obs, reset_info) in zip(envs, reset, strict=True):
            info = {
                "TimeLimit.truncated": True,
                "terminal_observation": self._last_obs[i],
                ACTOR_RESTARTED: True,
                "reason": ACTOR_RESTARTED,
            }
            results.append((obs, 0.0, True, info, reset_info))
        return results

    def _note_restart(self, a: int, exc: Exception, consequence: str) -> None:
        self.restarts[a] += 1
        if self.restarts[a] > self._config.max_restarts:
            raise RayClusterError(
                f"env actor {a} was lost {self.restarts[a]} times (ray.max_restarts is {self._config.max_restarts})"
            ) from exc
        logger.warning(
            "env actor %d (envs %d..%d) was lost or unreachable (%s); Ray restarts it (restart %d of at most %d) and %s",
            a, self._slices[a].start, self._slices[a].stop - 1, type(exc).__name__, self.restarts[a],
            self._config.max_restarts, consequence,
        )  # fmt: skip

    def _restart_seed(self, env_index: int, restart: int) -> int | None:
        if self._seed_base is None:
            return None
        state = np.random.SeedSequence([self._seed_base, env_index, restart]).generate_state(1)
        return int(state[0])

    def _call_restarted(self, a: int, method: str, *args: Any) -> Any:
        """Call ``method`` on actor ``a`` once Ray has restarted it; unpickle the result."""
        deadline = time.monotonic() + self._config.start_timeout_s
        while True:
            remaining = deadline - time.monotonic()
            try:
                ref = getattr(self._actors[a], method).remote(*args)
                return pickle.loads(self._ray.get(ref, timeout=max(remaining, 0.0)))
            except self._ray.exceptions.ActorUnavailableError:
                if remaining <= 0:
                    break
                time.sleep(_RETRY_PERIOD_S)
            except self._ray.exceptions.ActorDiedError as exc:
                raise RayClusterError(f"env actor {a} died and Ray could not restart it: {exc}") from None
            except self._ray.exceptions.GetTimeoutError:
                break
        raise RayClusterError(
            f"env actor {a} did not come back within {self._config.start_timeout_s:g} s (no free CPU on the cluster?)"
        )

    def _write_episodes(self, infos: Sequence[dict[str, Any]]) -> None:
        assert self._writers is not None
        for writer, info in zip(self._writers, infos, strict=True):
            episode = info.get("episode")
            if episode is not None:
                writer.write_row({"r": episode["r"], "l": episode["l"], "t": round(time.time() - self._t_start, 6)})

    # -- everything else SubprocVecEnv offers ------------------------------------------

    def _gather(self, indices: Any, call: Callable[[Any, list[int]], Any]) -> list[Any]:
        """One ``call(actor, local indices)`` per actor holding envs in ``indices``; results in request order."""
        order = [int(i) for i in self._get_indices(indices)]
        by_actor: dict[int, list[int]] = {}
        for i in order:
            a, j = self._owner[i]
            by_actor.setdefault(a, []).append(j)
        groups = list(by_actor.items())
        values = self._get_all([call(self._actors[a], local) for a, local in groups])
        per_actor = {a: iter(pickle.loads(v)) for (a, _), v in zip(groups, values, strict=True)}
        return [next(per_actor[self._owner[i][0]]) for i in order]

    def _get_all(self, refs: list[Any]) -> list[Any]:
        """``ray.get`` for calls other than step/reset: a lost actor is a :class:`RayClusterError`."""
        try:
            return list(self._ray.get(refs))
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.ObjectLostError) as exc:
            raise RayClusterError(f"an env actor was lost during the call: {type(exc).__name__}") from exc

    def get_images(self) -> Sequence[np.ndarray | None]:
        """``render()`` of every env (``rgb_array`` mode), as ``SubprocVecEnv``."""
        if self.render_mode != "rgb_array":
            import warnings

            warnings.warn(
                f"The render mode is {self.render_mode}, but this method assumes it is `rgb_array` to obtain images.",
                stacklevel=2,
            )
            return [None for _ in range(self.num_envs)]
        return self._gather(None, lambda actor, local: actor.render.remote(local))

    def has_attr(self, attr_name: str) -> bool:
        """Whether every env has ``attr_name``."""
        return all(self._get_all([actor.has_attr.remote(attr_name) for actor in self._actors]))

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """``env.get_wrapper_attr(attr_name)`` of each env in ``indices``."""
        return self._gather(indices, lambda actor, local: actor.get_attr.remote(attr_name, local))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """``setattr`` on each env in ``indices``."""
        self._gather(indices, lambda actor, local: actor.set_attr.remote(attr_name, value, local))

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        """Call ``method_name`` of each env in ``indices``."""
        return self._gather(
            indices, lambda actor, local: actor.env_method.remote(method_name, method_args, method_kwargs, local)
        )

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: Any = None) -> list[bool]:
        """Whether each env in ``indices`` is wrapped in ``wrapper_class``."""
        return self._gather(indices, lambda actor, local: actor.env_is_wrapped.remote(wrapper_class, local))

    def close(self) -> None:
        """Close the envs, end the actors, and disconnect from Ray if this vec env connected. Idempotent."""
        if self.closed:
            return
        self.closed = True
        refs = [actor.close.remote() for actor in self._actors]
        try:
            self._ray.get(refs, timeout=self._config.start_timeout_s)
        except (self._ray.exceptions.RayError, TimeoutError):
            logger.warning("some env actors could not close their envs (lost or stuck); ending them anyway")
        if self._writers is not None:
            for writer in self._writers:
                writer.close()
        self._release()

    def _release(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor, no_restart=True)
        self._actors = []
        if self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False
