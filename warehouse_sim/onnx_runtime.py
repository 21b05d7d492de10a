"""The runtime of exported networks: the ONNX sidecar format and a one-thread inference session.

An export is two files: ``POLICY.onnx`` (observation batch in, deterministic action
batch out) and its sidecar ``POLICY.json`` (env id, env kwargs, spaces, normalisation,
versions, hash of the source model), written by :func:`warehouse_sim.export.export_onnx`.

This module needs only numpy, json and onnxruntime, so every layer that runs exported
networks can use it: the policy interface (:mod:`warehouse_sim.policies.onnx_policy`)
and the fleet's Navigation-policy driver (:mod:`warehouse_sim.tasks.fulfilment.drivers`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: ``format`` field of a sidecar, and the version this code reads.
SIDECAR_FORMAT = "warehouse_sim.onnx_policy"
SIDECAR_VERSION = 1


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
    if data.get("format_version") != SIDECAR_VERSION:
        raise PolicyLoadError(
            f"{path} has sidecar format version {data.get('format_version')!r}; this warehouse_sim reads {SIDECAR_VERSION}"
        )
    return data


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
        try:
            self.observation_shape = tuple(int(n) for n in self.metadata["observation_space"]["shape"])
        except (KeyError, TypeError, ValueError):
            raise PolicyLoadError(f"{sidecar_path(self.path)} has no valid observation_space") from None
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
        if tuple(inputs[0].shape[1:]) != self.observation_shape:
            raise PolicyLoadError(
                f"{self.path} takes observations of shape {tuple(inputs[0].shape[1:])}, "
                f"its sidecar says {self.observation_shape}"
            )

    def run(self, observations: np.ndarray) -> np.ndarray:
        """The network's output for a batch of observations, shape ``(batch, *observation_shape)``."""
        obs = np.asarray(observations, dtype=np.float32)
        return self._session.run(None, {self._input: obs})[0]
