"""The runtime of exported networks: the ONNX sidecar format and a one-thread inference session.

An export is two files: ``POLICY.onnx`` (observation batch in, deterministic action
batch out) and its sidecar ``POLICY.json`` (env id, env kwargs, spaces, normalisation,
versions, the sha256 of the ONNX file itself and of the source model; for a MaskablePPO
policy, ``action_mask``: where in the observation the graph reads the mask it applies),
written by :func:`warehouse_sim.export.export_onnx`.

Loading checks that the two belong together and that the network can act: the ONNX
file's sha256 equals the sidecar's (a flipped byte or a sidecar of another export is
refused; version-1 sidecars, written before the hash was recorded, are accepted with a
logged warning), the graph's input and output match the sidecar's spaces (shape and
type), and the actions on probe observations (zeros and draws within the observation
bounds) are finite and inside the action space. A network with NaN weights, or a DQN
graph next to a PPO sidecar, fails at load time, not at its first step.

This module needs only numpy, json and onnxruntime, so every layer that runs exported
networks can use it: the policy interface (:mod:`warehouse_sim.policies.onnx_policy`)
and the fleet's Navigation-policy driver (:mod:`warehouse_sim.tasks.fulfilment.drivers`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

#: ``format`` field of a sidecar, and the version this code writes.
SIDECAR_FORMAT = "warehouse_sim.onnx_policy"
SIDECAR_VERSION = 2
#: Versions this code reads (1: no ``onnx_sha256``).
READABLE_VERSIONS = (1, 2)
#: Probe observations run through every network at load time.
N_PROBES = 16

_log = logging.getLogger(__name__)


class PolicyLoadError(ValueError):
    """A policy file is corrupt, truncated, of the wrong version, or inconsistent with its sidecar."""


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
    if data.get("format_version") not in READABLE_VERSIONS:
        raise PolicyLoadError(
            f"{path} has sidecar format version {data.get('format_version')!r}; this warehouse_sim reads "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
        )
    return data


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bounds(space: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(low, high)`` of a sidecar Box description (``"inf"`` strings included)."""
    shape = tuple(int(n) for n in space["shape"])
    low = np.array([float(v) for v in space["low"]], dtype=np.float64).reshape(shape)
    high = np.array([float(v) for v in space["high"]], dtype=np.float64).reshape(shape)
    return low, high


def probe_observations(space: dict[str, Any], n: int = N_PROBES) -> np.ndarray:
    """Zeros, then ``n - 1`` draws within the bounds of a sidecar Box (fixed seed; unbounded sides span 1)."""
    low, high = _bounds(space)
    lo = np.where(np.isfinite(low), low, np.minimum(np.where(np.isfinite(high), high, 1.0) - 1.0, 0.0))
    hi = np.where(np.isfinite(high), high, lo + 1.0)
    draws = np.random.default_rng(0).uniform(lo, hi, size=(n - 1, *low.shape))
    return np.concatenate([np.zeros((1, *low.shape)), draws]).astype(np.float32)


def _expected_output(action_space: dict[str, Any]) -> tuple[str, tuple[int, ...]]:
    """The ONNX element type and per-observation shape of the action output for a sidecar action space."""
    kind = action_space.get("type")
    if kind == "Box":
        return "tensor(float)", tuple(int(n) for n in action_space["shape"])
    if kind == "Discrete":
        return "tensor(int64)", ()
    if kind == "MultiDiscrete":
        return "tensor(int64)", tuple(int(n) for n in action_space["shape"])
    raise PolicyLoadError(f"unsupported action space type {kind!r} in the sidecar")


def _check_actions(actions: np.ndarray, action_space: dict[str, Any]) -> str | None:
    """Why ``actions`` (a batch) are not valid actions of ``action_space``, or ``None``."""
    if not np.isfinite(actions).all():
        return "non-finite actions (NaN or infinity)"
    kind = action_space["type"]
    if kind == "Box":
        low, high = _bounds(action_space)
        slack = 1e-5 * (1.0 + np.maximum(np.abs(low), np.abs(high)))
        ok = bool(((actions >= low - slack) & (actions <= high + slack)).all())
    elif kind == "Discrete":
        ok = bool(((actions >= 0) & (actions < int(action_space["n"]))).all())
    else:
        nvec = np.array(action_space["nvec"], dtype=np.int64).reshape(action_space["shape"])
        ok = bool(((actions >= 0) & (actions < nvec)).all())
    return None if ok else "actions outside the action space"


class OnnxSession:
    """An exported network with its sidecar, run by onnxruntime on one CPU thread.

    Args:
        path: The ``.onnx`` file; its sidecar ``.json`` must sit next to it.

    Attributes:
        path: The ``.onnx`` file.
        metadata: The sidecar (env id, env kwargs, spaces, normalisation, versions, source).
        observation_shape: Shape of one observation, from the sidecar.

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
        self._check_hash()
        try:
            self.observation_shape = tuple(int(n) for n in self.metadata["observation_space"]["shape"])
            output_type, output_shape = _expected_output(self.metadata["action_space"])
        except (KeyError, TypeError, ValueError):
            raise PolicyLoadError(f"{sidecar_path(self.path)} has no valid observation_space and action_space") from None
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
        if tuple(inputs[0].shape[1:]) != self.observation_shape or inputs[0].type != "tensor(float)":
            raise PolicyLoadError(
                f"{self.path} takes {inputs[0].type} observations of shape {tuple(inputs[0].shape[1:])}, "
                f"its sidecar says float observations of shape {self.observation_shape}"
            )
        if tuple(outputs[0].shape[1:]) != output_shape or outputs[0].type != output_type:
            raise PolicyLoadError(
                f"{self.path} outputs {outputs[0].type} actions of shape {tuple(outputs[0].shape[1:])}, but its sidecar's "
                f"{self.metadata['action_space']['type']} action space needs {output_type} of shape {output_shape}"
            )
        self._probe(output_shape)

    def _check_hash(self) -> None:
        recorded = self.metadata.get("onnx_sha256")
        if recorded is None:
            _log.warning("%s: sidecar version 1 records no ONNX hash; re-export to protect the file", sidecar_path(self.path))
            return
        actual = sha256_file(self.path)
        if actual != recorded:
            raise PolicyLoadError(
                f"{self.path} does not match its sidecar (sha256 {actual[:12]}..., the sidecar records {str(recorded)[:12]}...): "
                "the file was modified or corrupted, or the sidecar belongs to another export"
            )

    def _probe(self, output_shape: tuple[int, ...]) -> None:
        """Run probe observations and check the actions (see the module docstring)."""
        probes = probe_observations(self.metadata["observation_space"])
        try:
            actions = self.run(probes)
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise PolicyLoadError(f"ONNX policy {self.path} fails on a probe observation: {str(exc).splitlines()[0]}") from None
        if actions.shape != (len(probes), *output_shape):
            raise PolicyLoadError(f"{self.path} gives actions of shape {actions.shape[1:]} for one observation, expected {output_shape}")
        problem = _check_actions(actions, self.metadata["action_space"])
        if problem is not None:
            raise PolicyLoadError(f"{self.path} gives {problem} on probe observations: the network is corrupt or diverged")

    def run(self, observations: np.ndarray) -> np.ndarray:
        """The network's output for a batch of observations, shape ``(batch, *observation_shape)``."""
        obs = np.asarray(observations, dtype=np.float32)
        return self._session.run(None, {self._input: obs})[0]
