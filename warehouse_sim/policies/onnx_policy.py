"""Exported ONNX policies behind the policy interface, with onnxruntime and numpy only (no torch, no SB3).

The files and the inference session are :mod:`warehouse_sim.onnx_runtime`'s; this
module adds the Gymnasium spaces recorded in the sidecar and the :class:`Policy` API.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.onnx_runtime import OnnxSession, PolicyLoadError
from warehouse_sim.policies.base import Policy


def space_to_dict(space: gym.Space[Any]) -> dict[str, Any]:
    """Describe a Box, Discrete or MultiDiscrete space as JSON-safe data (infinities as strings)."""
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": [_float_to_json(v) for v in space.low.ravel().tolist()],
            "high": [_float_to_json(v) for v in space.high.ravel().tolist()],
        }
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.ravel().tolist(), "shape": list(space.shape)}
    raise ValueError(f"unsupported space for export: {space}")


def space_from_dict(data: dict[str, Any]) -> gym.Space[Any]:
    """Inverse of :func:`space_to_dict`.

    Raises:
        PolicyLoadError: for a malformed description.
    """
    try:
        kind = data["type"]
        if kind == "Box":
            shape = tuple(int(n) for n in data["shape"])
            low = np.array([float(v) for v in data["low"]], dtype=data["dtype"]).reshape(shape)
            high = np.array([float(v) for v in data["high"]], dtype=data["dtype"]).reshape(shape)
            return gym.spaces.Box(low=low, high=high, shape=shape, dtype=np.dtype(data["dtype"]))
        if kind == "Discrete":
            return gym.spaces.Discrete(int(data["n"]), start=int(data.get("start", 0)))
        if kind == "MultiDiscrete":
            return gym.spaces.MultiDiscrete(np.array(data["nvec"], dtype=np.int64).reshape(data["shape"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyLoadError(f"malformed space description {data!r}: {exc}") from None
    raise PolicyLoadError(f"unsupported space type {kind!r}")


def _float_to_json(value: float) -> float | str:
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


class OnnxPolicy(Policy):
    """A deterministic policy exported to ONNX, evaluated with onnxruntime on one CPU thread.

    Args:
        path: The ``.onnx`` file; its sidecar ``.json`` must sit next to it.

    Attributes:
        metadata: The sidecar (env id, env kwargs, spaces, normalisation, versions, source).

    Raises:
        FileNotFoundError: if either file is missing.
        PolicyLoadError: if either file is corrupt or they do not belong together.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._session = OnnxSession(self.path)
        self.metadata = self._session.metadata
        self.observation_space: gym.Space[Any] = space_from_dict(self.metadata["observation_space"])
        self.action_space: gym.Space[Any] = space_from_dict(self.metadata["action_space"])

    def act_batch(self, observations: np.ndarray) -> np.ndarray:
        """Actions for a batch of observations, shape ``(batch, *obs_shape)``."""
        return self._session.run(observations)

    def act(self, observation: Any) -> Any:
        """Return the deterministic action: a float32 array (Box), an int (Discrete) or an int64 array."""
        obs = np.asarray(observation, dtype=np.float32)
        if obs.shape != self.observation_space.shape:
            raise ValueError(f"observation of shape {obs.shape}, the policy expects {self.observation_space.shape}")
        action = self.act_batch(obs[None])[0]
        if isinstance(self.action_space, gym.spaces.Discrete):
            return int(action) + int(self.action_space.start)
        if isinstance(self.action_space, gym.spaces.MultiDiscrete):
            return action.astype(np.int64)
        return action.astype(self.action_space.dtype, copy=False)

