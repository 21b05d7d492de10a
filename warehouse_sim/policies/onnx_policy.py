"""Exported ONNX policies, run with onnxruntime and numpy only (no torch, no SB3).

An export is two files: ``POLICY.onnx`` (observation in, deterministic action out,
observation normalisation folded in) and its sidecar ``POLICY.json`` (env id, env
kwargs, spaces, normalisation, versions, hash of the source model), written by
:func:`warehouse_sim.export.export_onnx`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim.policies.base import Policy

#: ``format`` field of a sidecar, and the version this code reads.
SIDECAR_FORMAT = "warehouse_sim.onnx_policy"
SIDECAR_VERSION = 1


class PolicyLoadError(ValueError):
    """A policy file is corrupt, truncated, of the wrong version, or inconsistent with its sidecar."""


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


def sidecar_path(onnx_path: str | Path) -> Path:
    """The sidecar of ``POLICY.onnx``: ``POLICY.json`` next to it."""
    return Path(onnx_path).with_suffix(".json")


def read_sidecar(onnx_path: str | Path) -> dict[str, Any]:
    """Read and check the sidecar of ``onnx_path``.

    Raises:
        FileNotFoundError: if it does not exist.
        PolicyLoadError: if it is not a sidecar this version can read.
    """
    path = sidecar_path(onnx_path)
    if not path.is_file():
        raise FileNotFoundError(f"policy sidecar not found: {path} (written next to the .onnx by export)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PolicyLoadError(f"corrupt policy sidecar {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SIDECAR_FORMAT:
        raise PolicyLoadError(f"{path} is not a warehouse_sim policy sidecar")
    if data.get("format_version") != SIDECAR_VERSION:
        raise PolicyLoadError(
            f"{path} has sidecar format version {data.get('format_version')!r}; this warehouse_sim reads {SIDECAR_VERSION}"
        )
    return data


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
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"policy file not found: {self.path}")
        self.metadata = read_sidecar(self.path)
        self.observation_space = space_from_dict(self.metadata["observation_space"])
        self.action_space = space_from_dict(self.metadata["action_space"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise PolicyLoadError(f"corrupt ONNX policy {self.path}: {str(exc).splitlines()[0]}") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise PolicyLoadError(f"{self.path} must have one input and one output")
        self._input = inputs[0].name
        obs_shape = tuple(self.observation_space.shape or ())
        if tuple(inputs[0].shape[1:]) != obs_shape:
            raise PolicyLoadError(
                f"{self.path} takes observations of shape {tuple(inputs[0].shape[1:])}, its sidecar says {obs_shape}"
            )

    def act_batch(self, observations: np.ndarray) -> np.ndarray:
        """Actions for a batch of observations, shape ``(batch, *obs_shape)``."""
        obs = np.asarray(observations, dtype=np.float32)
        return self._session.run(None, {self._input: obs})[0]

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
