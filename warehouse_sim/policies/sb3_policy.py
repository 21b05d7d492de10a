"""Stable-Baselines3 models behind the :class:`~warehouse_sim.policies.base.Policy` interface.

Stable-Baselines3 and torch are imported only when a model is loaded. A model saved
in a run folder (``model.zip``, or a checkpoint's ``model.zip``) finds its
``VecNormalize`` statistics in ``vecnormalize.pkl`` next to it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.onnx_runtime import PolicyLoadError
from warehouse_sim.policies.base import Policy

#: File name of the ``VecNormalize`` statistics next to a model.
VECNORMALIZE_FILE = "vecnormalize.pkl"

#: SB3 warns on loading every n-step DQN that its (saved, correct) n-step buffer is "custom".
NSTEP_LOAD_WARNING = r"`n_steps=\d+` is ignored because a custom `replay_buffer_class` \(`NStepReplayBuffer`\)"

#: Module of the SB3 policy class -> algorithm name.
_POLICY_MODULES = {
    "stable_baselines3.common.policies": "ppo",
    "stable_baselines3.ppo.policies": "ppo",
    "stable_baselines3.dqn.policies": "dqn",
    "sb3_contrib.qrdqn.policies": "qrdqn",
    "sb3_contrib.common.maskable.policies": "ppo_mask",
}
#: Algorithms of sb3-contrib (the others are Stable-Baselines3's).
CONTRIB_ALGOS = ("qrdqn", "ppo_mask")
#: Actor-critic algorithms that learn from rollouts (no replay buffer).
ON_POLICY_ALGOS = ("ppo", "ppo_mask")


def algo_class(algo: str) -> type[Any]:
    """Return the SB3 class of ``"ppo"``, ``"dqn"``, ``"qrdqn"`` or ``"ppo_mask"`` (``MaskablePPO``; imports SB3)."""
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "dqn":
        from stable_baselines3 import DQN

        return DQN
    if algo == "qrdqn":
        from sb3_contrib import QRDQN

        return QRDQN
    if algo == "ppo_mask":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
    raise ValueError(f"unknown algorithm {algo!r}")


def detect_algo(model_path: str | Path) -> str:
    """Read which algorithm saved ``model_path`` from the zip's ``data`` entry (no unpickling).

    Raises:
        FileNotFoundError: if the file does not exist.
        PolicyLoadError: if it is not an SB3 model of a supported algorithm.
    """
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
        raise PolicyLoadError(f"corrupt or truncated model file {path}: {exc}") from None
    module = data.get("policy_class", {}).get("__module__") if isinstance(data, dict) else None
    if module not in _POLICY_MODULES:
        raise PolicyLoadError(f"{path}: unsupported policy class module {module!r} (PPO, DQN, QR-DQN and MaskablePPO are supported)")
    return _POLICY_MODULES[module]


def resolve_model_path(path: str | Path) -> Path:
    """``RUN_DIR`` -> ``RUN_DIR/model.zip``; a file path is returned as is."""
    path = Path(path)
    return path / "model.zip" if path.is_dir() else path


def load_normalizer(path: str | Path, observation_space: Any) -> Any:
    """Load ``VecNormalize`` statistics saved by SB3 and check they fit ``observation_space``.

    Unpickling a damaged file can raise almost anything (``ModuleNotFoundError``,
    ``MemoryError``, ``OverflowError``, ...): every failure is one
    :class:`~warehouse_sim.onnx_runtime.PolicyLoadError`. The file must be trusted
    (pickle runs code): only load statistics you or your training runs wrote.

    Args:
        path: ``vecnormalize.pkl``.
        observation_space: The model's observation space (the statistics' shape).

    Returns:
        The ``VecNormalize`` (no venv attached), training mode off.

    Raises:
        PolicyLoadError: for a corrupt file, another kind of object, or statistics of
            another shape or with non-finite values.
    """
    import pickle

    from stable_baselines3.common.vec_env import VecNormalize

    path = Path(path)
    try:
        with path.open("rb") as f:
            normalizer = pickle.load(f)  # noqa: S301 - SB3's own format for VecNormalize
    except Exception as exc:  # noqa: BLE001 - a damaged pickle raises anything
        raise PolicyLoadError(f"corrupt normalisation statistics {path}: {type(exc).__name__}: {exc}") from None
    if not isinstance(normalizer, VecNormalize):
        raise PolicyLoadError(f"{path} holds a {type(normalizer).__name__}, not VecNormalize statistics")
    problem = _normalizer_problem(vars(normalizer), getattr(observation_space, "shape", None))
    if problem is not None:
        raise PolicyLoadError(f"corrupt normalisation statistics {path}: {problem}")
    normalizer.training = False
    return normalizer


#: Attributes ``VecNormalize.normalize_obs`` reads (a missing one sends its ``__getattr__`` into a
#: recursion); ``obs_rms`` too, which SB3 creates only with ``norm_obs``.
_NORMALIZER_FIELDS = ("norm_obs", "clip_obs", "epsilon", "training")


def _normalizer_problem(state: dict[str, Any], shape: tuple[int, ...] | None) -> str | None:
    """What is wrong with an unpickled ``VecNormalize``'s attributes, or ``None``."""
    missing = [name for name in _NORMALIZER_FIELDS if name not in state]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(state["norm_obs"], bool):
        return f"norm_obs is {state['norm_obs']!r}"
    clip, epsilon = state["clip_obs"], state["epsilon"]
    if not (isinstance(clip, (int, float)) and np.isfinite(clip) and clip > 0):
        return f"clip_obs is {clip!r}"
    if not (isinstance(epsilon, (int, float)) and np.isfinite(epsilon) and epsilon >= 0):
        return f"epsilon is {epsilon!r}"
    if not state["norm_obs"]:
        return None
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    if "obs_rms" not in state:
        return "missing obs_rms"
    if not isinstance(state["obs_rms"], RunningMeanStd):
        return f"obs_rms is a {type(state['obs_rms']).__name__}"
    try:
        mean = np.asarray(state["obs_rms"].mean, dtype=np.float64)
        var = np.asarray(state["obs_rms"].var, dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - a damaged object may fail in any way
        return f"{type(exc).__name__}: {exc}"
    if mean.shape != shape or var.shape != shape:
        return f"statistics of shape {mean.shape}, the model takes observations of shape {shape}"
    if not (np.isfinite(mean).all() and np.isfinite(var).all() and (var >= 0).all()):
        return "non-finite or negative statistics"
    return None


def load_sb3_model(model_path: str | Path, *, algo: str | None = None) -> tuple[Any, Any | None]:
    """Load an SB3 model and the ``VecNormalize`` saved next to it (or ``None``).

    Args:
        model_path: ``model.zip`` or a run folder.
        algo: The algorithm; detected from the file when ``None``.

    Returns:
        ``(model, vecnormalize)``; the latter has no venv attached and is only used for
        its ``normalize_obs`` (training mode off).

    Raises:
        FileNotFoundError: if the model does not exist.
        PolicyLoadError: if it (or its statistics file) is corrupt.
        warehouse_sim._optional.MissingExtraError: without the ``train`` extra.
    """
    from warehouse_sim._optional import require_extra

    require_extra("train", "stable_baselines3", "torch", *(("sb3_contrib",) if algo in CONTRIB_ALGOS else ()))
    path = resolve_model_path(model_path)
    algo = algo or detect_algo(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NSTEP_LOAD_WARNING)
            model = algo_class(algo).load(path, device="cpu")
    except Exception as exc:  # noqa: BLE001 - a damaged zip or pickle raises anything
        raise PolicyLoadError(f"cannot load {algo} model {path}: {type(exc).__name__}: {exc}") from None
    stats = path.parent / VECNORMALIZE_FILE
    normalizer = load_normalizer(stats, model.observation_space) if stats.is_file() else None
    return model, normalizer


class SB3Policy(Policy):
    """A trained SB3 model acting deterministically (``predict(deterministic=True)``), or sampling.

    A ``MaskablePPO`` model is given the env's ``action_masks()`` at every step (the env
    of the last :meth:`reset`).

    With ``sample=True`` (PPO and MaskablePPO only) the policy draws each action from
    the model's action distribution instead of taking its mode: per dimension from the
    categorical probabilities (Discrete, MultiDiscrete), or the Gaussian mean plus its
    standard deviation times a normal draw, clipped to the bounds (Box). The draws come
    from a numpy generator seeded at every :meth:`reset` from the env's random state just
    after its reset, so an episode with the same reset seed replays exactly (in any
    process), and torch's global generator is never touched.

    Args:
        model: A PPO, DQN, QR-DQN or MaskablePPO model.
        normalizer: The ``VecNormalize`` whose observation statistics the model was
            trained with, or ``None``.
        sample: Draw actions from the policy's distribution instead of its mode.

    Raises:
        ValueError: with ``sample=True`` for a value-based model (DQN, QR-DQN: no action
            distribution) or a state-dependent-exploration or squashed Gaussian policy.
    """

    def __init__(self, model: Any, normalizer: Any | None = None, *, sample: bool = False) -> None:
        self.model = model
        self.normalizer = normalizer
        self.observation_space = model.observation_space
        self.action_space = model.action_space
        self.sample = sample
        self._masked = "action_masks" in inspect.signature(model.predict).parameters
        self._env: Any = None
        self._rng = np.random.default_rng(0)
        if sample:
            policy = model.policy
            if not hasattr(policy, "get_distribution"):
                raise ValueError(f"{type(model).__name__} acts greedily on its values and has no action distribution to sample")
            if getattr(policy, "use_sde", False) or getattr(policy, "squash_output", False):
                raise ValueError("sampling a state-dependent-exploration or squashed Gaussian policy is not supported")

    def reset(self, env: gym.Env[Any, Any]) -> None:
        """Remember ``env`` (for action masks) and, when sampling, seed the draws from its random state."""
        self._env = env.unwrapped
        if self.sample:
            self._rng = np.random.default_rng(episode_seed(self._env))

    @classmethod
    def load(cls, path: str | Path, *, sample: bool = False) -> SB3Policy:
        """Load ``MODEL.zip`` (or a run folder) with its normalisation statistics."""
        return cls(*load_sb3_model(path), sample=sample)

    def normalize(self, observations: np.ndarray) -> np.ndarray:
        """Apply the training-time observation normalisation (identity without one)."""
        if self.normalizer is None:
            return observations
        return self.normalizer.normalize_obs(observations)

    def act(self, observation: Any) -> Any:
        """Return the action for one observation: the mode, or a draw with ``sample=True``."""
        obs = self.normalize(np.asarray(observation))
        masks = None
        if self._masked:
            if self._env is None or not hasattr(self._env, "action_masks"):
                raise RuntimeError("a MaskablePPO policy needs reset(env) with an env that has action_masks()")
            masks = self._env.action_masks()
        if self.sample:
            action = self._draw(obs, masks)
        elif masks is not None:
            action, _ = self.model.predict(obs, deterministic=True, action_masks=masks)
        else:
            action, _ = self.model.predict(obs, deterministic=True)
        if np.ndim(action) == 0:
            return int(action)
        return action

    def _draw(self, obs: np.ndarray, masks: np.ndarray | None) -> Any:
        """One action drawn from the policy's distribution at ``obs`` (already normalised)."""
        import torch

        policy = self.model.policy
        obs_tensor, _ = policy.obs_to_tensor(obs)
        with torch.no_grad():
            dist = policy.get_distribution(obs_tensor) if masks is None else policy.get_distribution(obs_tensor, action_masks=masks)
        space = self.action_space
        if isinstance(space, gym.spaces.Box):
            mean = dist.distribution.mean[0].numpy().astype(np.float64)
            std = dist.distribution.stddev[0].numpy().astype(np.float64)
            drawn = mean + std * self._rng.standard_normal(mean.shape)
            return np.clip(drawn, space.low, space.high).astype(space.dtype).reshape(space.shape)
        parts = dist.distribution if isinstance(dist.distribution, list) else [dist.distribution]
        picks = [_draw_categorical(self._rng, part.probs[0].numpy()) for part in parts]
        if isinstance(space, gym.spaces.Discrete):
            return picks[0] + int(space.start)
        return np.array(picks, dtype=np.int64).reshape(self.model.action_space.shape)


def episode_seed(env: gym.Env[Any, Any]) -> int:
    """A 128-bit seed derived from ``env``'s random state, without drawing from it.

    Read right after ``env.reset(seed=s)`` it depends on ``s`` only, so whatever draws
    from it replays the episode; after an unseeded reset it differs from episode to episode.
    """
    state = json.dumps(env.unwrapped.np_random.bit_generator.state, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(state.encode()).digest()[:16], "little")


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> int:
    """Index drawn with probabilities ``probs`` (float32 rounding renormalised away)."""
    cumulative = np.cumsum(probs, dtype=np.float64)
    return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"), len(probs) - 1))
