"""Export a trained SB3 policy to ONNX, with a JSON sidecar.

The ONNX graph maps a batch of raw observations ``observation: float32[batch, *obs_shape]``
to the deterministic action ``action``, exactly as ``model.predict(obs, deterministic=True)``
after ``VecNormalize`` would:

- observation normalisation ``clip((obs - mean) / sqrt(var + eps), -clip, clip)`` is
  folded in, computed in float64 like ``VecNormalize`` and then cast to float32;
- PPO with a Box action space: the Gaussian mean, clipped to the action bounds
  (or un-squashed when the policy squashes with tanh): ``float32[batch, *action_shape]``;
- PPO with a Discrete / MultiDiscrete action space: the argmax of the logits
  (per dimension): ``int64[batch]`` / ``int64[batch, n_dims]``;
- DQN: the argmax of the Q-values; QR-DQN: of the mean over quantiles: ``int64[batch]``.
  (Scores within float32 rounding of a tie may pick either action: see :data:`TIE_MARGIN`.)
- MaskablePPO (``ppo_mask``): PPO's argmax over the logits the action mask allows, the
  mask read from the raw observation (an env whose observation carries its mask, e.g.
  ``FleetDispatch-v0``, declares where with ``action_mask_slice``; the sidecar records
  it as ``action_mask: {start, stop}``): a masked action is never chosen (if every
  action is masked, the first is).

The sidecar ``POLICY.json`` records the env id and kwargs, both spaces, the
normalisation statistics, the library versions, the sha256 of the ONNX file and of the
source model (see :mod:`warehouse_sim.onnx_runtime`, which reads and checks it without
torch). An export is refused when the model's parameters are not finite, or when the env
recorded in the sidecar (``--env``, ``--env-kwargs``) does not have the model's spaces.

torch and Stable-Baselines3 are imported inside :func:`export_onnx` only.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim._files import atomic_path, write_json_atomic
from warehouse_sim._yaml import read_yaml
from warehouse_sim.onnx_runtime import SIDECAR_FORMAT, SIDECAR_VERSION, PolicyLoadError, sha256_file, sidecar_path
from warehouse_sim.policies.base import PolicySpaceError, describe_space, same_space
from warehouse_sim.policies.onnx_policy import space_to_dict
from warehouse_sim.policies.sb3_policy import detect_algo, load_sb3_model, resolve_model_path
from warehouse_sim.provenance import versions

#: ONNX opset of the exported graphs (the TorchScript exporter; torch 2.13's default
#: dynamo exporter needs onnxscript and fails on SB3's distributions).
OPSET = 17
INPUT_NAME = "observation"
OUTPUT_NAME = "action"
#: Relative score gaps below this are ties that float32 rounding may break either way.
TIE_MARGIN = 1e-6


@dataclass(frozen=True)
class ExportResult:
    """Paths and metadata of an export.

    Attributes:
        onnx_path: The ``.onnx`` file.
        sidecar_path: The ``.json`` sidecar next to it.
        metadata: The sidecar's content.
    """

    onnx_path: Path
    sidecar_path: Path
    metadata: dict[str, Any]


def _find_run_config(model_path: Path) -> dict[str, Any] | None:
    """The ``config`` section of the run folder holding ``model_path`` (model or checkpoint)."""
    for folder in (model_path.parent, *model_path.parents[1:3]):
        file = folder / "config.yaml"
        if file.is_file():
            try:
                data = read_yaml(file, what="run config")
            except ValueError:
                return None
            return data.get("config") if isinstance(data, dict) else None
    return None


def _normalisation(normalizer: Any | None) -> dict[str, Any] | None:
    if normalizer is None or not normalizer.norm_obs:
        return None
    rms = normalizer.obs_rms
    return {
        "mean": np.asarray(rms.mean, dtype=np.float64).ravel().tolist(),
        "var": np.asarray(rms.var, dtype=np.float64).ravel().tolist(),
        "epsilon": float(normalizer.epsilon),
        "clip_obs": float(normalizer.clip_obs),
    }


#: Logit given to masked actions (sb3-contrib's ``MaskableCategorical`` uses the same).
MASKED_LOGIT = -1e8


def _actor_module(model: Any, algo: str, normalisation: Mapping[str, Any] | None, mask: slice | None = None) -> Any:
    """A ``torch.nn.Module``: raw observation batch -> deterministic action batch (``mask``: where the observation holds the action mask)."""
    import torch

    policy = model.policy
    obs_space = model.observation_space
    action_space = model.action_space

    class DeterministicActor(torch.nn.Module):
        obs_mean: torch.Tensor
        obs_std: torch.Tensor
        low: torch.Tensor
        high: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.policy = policy
            self.normalise = normalisation is not None
            if normalisation is not None:
                shape = obs_space.shape
                mean = np.asarray(normalisation["mean"], dtype=np.float64).reshape(shape)
                std = np.sqrt(np.asarray(normalisation["var"], dtype=np.float64).reshape(shape) + normalisation["epsilon"])
                self.register_buffer("obs_mean", torch.as_tensor(mean))
                self.register_buffer("obs_std", torch.as_tensor(std))
                self.clip_obs = float(normalisation["clip_obs"])
            if isinstance(action_space, gym.spaces.Box):
                self.register_buffer("low", torch.as_tensor(action_space.low, dtype=torch.float32))
                self.register_buffer("high", torch.as_tensor(action_space.high, dtype=torch.float32))

        def _normalised(self, observation: torch.Tensor) -> torch.Tensor:
            obs = observation
            if self.normalise:
                obs = ((obs.double() - self.obs_mean) / self.obs_std).clamp(-self.clip_obs, self.clip_obs)
            return obs.float()

        def scores(self, observation: torch.Tensor) -> list[torch.Tensor]:
            """Discrete spaces: the scores argmax picks from, one ``[batch, n_i]`` tensor per action dimension."""
            obs = self._normalised(observation)
            if algo == "dqn":
                return [self.policy.q_net(obs)]
            if algo == "qrdqn":
                return [self.policy.quantile_net(obs).mean(dim=1)]
            logits = self._ppo_output(obs)
            if mask is not None:
                allowed = observation[:, mask.start : mask.stop] > 0.5
                logits = torch.where(allowed, logits, torch.full_like(logits, MASKED_LOGIT))
            if isinstance(action_space, gym.spaces.Discrete):
                return [logits]
            return list(torch.split(logits, [int(n) for n in action_space.nvec.ravel()], dim=1))

        def _ppo_output(self, obs: torch.Tensor) -> torch.Tensor:
            features = self.policy.extract_features(obs, self.policy.pi_features_extractor)
            return self.policy.action_net(self.policy.mlp_extractor.forward_actor(features))

        def forward(self, observation: torch.Tensor) -> torch.Tensor:
            if isinstance(action_space, gym.spaces.Box):
                out = self._ppo_output(self._normalised(observation))
                if self.policy.squash_output:
                    return self.low + 0.5 * (torch.tanh(out) + 1.0) * (self.high - self.low)
                return torch.maximum(torch.minimum(out, self.high), self.low)
            argmaxes = [torch.argmax(s, dim=1) for s in self.scores(observation)]
            if isinstance(action_space, gym.spaces.MultiDiscrete):
                return torch.stack(argmaxes, dim=1)
            return argmaxes[0]

    if algo == "ppo" and not isinstance(action_space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete)):
        raise ValueError(f"cannot export PPO with action space {action_space}")
    if mask is not None and not (isinstance(action_space, gym.spaces.Discrete) and mask.stop - mask.start == action_space.n):
        raise ValueError(f"an action mask of {mask.stop - mask.start} entries does not fit the action space {action_space}")
    return DeterministicActor().eval()


def sample_observations(space: gym.spaces.Box, n: int, seed: int = 0) -> np.ndarray:
    """``n`` observations drawn from ``space`` (normal where it is unbounded), float32."""
    box = gym.spaces.Box(space.low, space.high, dtype=np.float32)
    box.seed(seed)
    return np.stack([box.sample() for _ in range(n)]).astype(np.float32)


def decision_margins(model: Any, algo: str, normalizer: Any | None, observations: np.ndarray) -> np.ndarray:
    """Per observation, how far the chosen discrete action is from a tie: ``float32[batch]``.

    The gap between the best and second-best score (logit, Q-value or mean quantile)
    relative to ``1 + |best|``, the smallest over action dimensions. Where it is within
    float32 rounding (:data:`TIE_MARGIN`), torch and onnxruntime may legitimately pick
    different actions.
    """
    import torch

    actor = _actor_module(model, algo, _normalisation(normalizer))
    with torch.no_grad():
        return _margins(actor.scores(torch.as_tensor(observations, dtype=torch.float32))).numpy()


def _margins(scores: list[Any]) -> Any:
    """The smallest ``(best - runner-up) / (1 + |best|)`` over the per-dimension score tensors."""
    import torch

    top = [torch.topk(s, 2, dim=1).values for s in scores]
    return torch.stack([(t[:, 0] - t[:, 1]) / (1.0 + t[:, 0].abs()) for t in top], dim=1).min(dim=1).values


def export_onnx(
    source: str | Path,
    out: str | Path,
    *,
    env_id: str | None = None,
    env_kwargs: Mapping[str, Any] | None = None,
) -> ExportResult:
    """Export the deterministic policy of a run folder or ``MODEL.zip`` to ``out`` (``.onnx``).

    Args:
        source: A run folder, its ``model.zip``, or a checkpoint's ``model.zip``. The
            env id and kwargs come from the run's ``config.yaml`` when there is one.
        out: The ``.onnx`` path; the sidecar is written next to it with suffix ``.json``.
        env_id: The env id recorded in the sidecar (required without a run folder).
        env_kwargs: The env kwargs recorded in the sidecar (default: the run's).

    Raises:
        FileNotFoundError: if the model does not exist.
        PolicyLoadError: if it is corrupt.
        PolicySpaceError: if the env ``env_id`` with ``env_kwargs`` has other spaces than the model.
        ValueError: without an env id, for an output path not ending in ``.onnx``, for
            non-finite model parameters, or if onnxruntime disagrees with torch on the
            exported graph.
    """
    import torch

    out_path = Path(out)
    if out_path.suffix != ".onnx":
        raise ValueError(f"the output must be a .onnx file, got {out_path}")
    model_path = resolve_model_path(source)
    algo = detect_algo(model_path)
    run_config = _find_run_config(model_path) or {}
    env_id = env_id or run_config.get("env_id")
    if env_id is None:
        raise ValueError(f"{model_path} is not in a run folder: give the env id (--env)")
    kwargs = dict(env_kwargs if env_kwargs is not None else run_config.get("env_kwargs", {}))
    model, normalizer = load_sb3_model(model_path, algo=algo)
    if not isinstance(model.observation_space, gym.spaces.Box):
        raise ValueError(f"only Box observation spaces can be exported, got {model.observation_space}")
    mask = _check_env_fits(model, env_id, kwargs)
    if algo == "ppo_mask" and mask is None:
        raise ValueError(
            f"MaskablePPO needs its action mask at inference, and {env_id}'s observation does not carry it "
            "(no action_mask_slice): nothing exported"
        )
    for name, parameter in model.policy.named_parameters():
        if not torch.isfinite(parameter).all():
            raise ValueError(f"{model_path}: parameter {name} holds NaN or infinity (training diverged); nothing exported")
    normalisation = _normalisation(normalizer)
    applied = mask if algo == "ppo_mask" else None  # only MaskablePPO was trained with the mask
    actor = _actor_module(model, algo, normalisation, applied)

    dummy = torch.zeros((1, *model.observation_space.shape), dtype=torch.float32)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_path) as tmp_onnx:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                actor,
                (dummy,),
                str(tmp_onnx),
                dynamo=False,
                opset_version=OPSET,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            )
        _verify(tmp_onnx, actor, model.observation_space, model.action_space)
        metadata = _sidecar(model, algo, env_id, kwargs, normalisation, applied, onnx=tmp_onnx, source=model_path)
    side = sidecar_path(out_path)
    write_json_atomic(side, metadata)
    return ExportResult(out_path, side, metadata)


def _sidecar(
    model: Any, algo: str, env_id: str, env_kwargs: dict[str, Any], normalisation: dict[str, Any] | None,
    mask: slice | None, *, onnx: Path, source: Path,
) -> dict[str, Any]:
    """The sidecar of an export (see :mod:`warehouse_sim.onnx_runtime` for its format)."""
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "algo": algo,
        "observation_space": space_to_dict(model.observation_space),
        "action_space": space_to_dict(model.action_space),
        "normalization": normalisation,
        "action_mask": None if mask is None else {"start": mask.start, "stop": mask.stop},
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "opset": OPSET,
        "onnx_sha256": sha256_file(onnx),
        "source": {"path": str(source), "sha256": sha256_file(source)},
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions("stable_baselines3", "torch", "onnx", "onnxruntime"),
    }


def _check_env_fits(model: Any, env_id: str, env_kwargs: Mapping[str, Any]) -> slice | None:
    """Refuse to record an env whose spaces differ from the model's (its sidecar could never be used).

    Returns:
        Where the env's observation holds its action mask (``action_mask_slice``), or None.

    Raises:
        PolicySpaceError: naming both spaces, the env id and its kwargs.
    """
    env = gym.make(env_id, **dict(env_kwargs))
    try:
        for kind, ours, theirs in (
            ("observation", model.observation_space, env.observation_space),
            ("action", model.action_space, env.action_space),
        ):
            if not same_space(ours, theirs):
                raise PolicySpaceError(
                    f"the model's {kind} space {describe_space(ours)} does not match {env_id} with env kwargs "
                    f"{json.dumps(dict(env_kwargs))} ({describe_space(theirs)}): nothing exported"
                )
        mask = getattr(env.unwrapped, "action_mask_slice", None)
        return mask if isinstance(mask, slice) else None
    finally:
        env.close()


def _verify(path: Path, actor: Any, obs_space: gym.spaces.Box, action_space: gym.Space[Any]) -> None:
    """Check that onnxruntime computes what the torch module computes on sample observations."""
    import onnxruntime as ort
    import torch

    obs = sample_observations(obs_space, 64, seed=12345)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise PolicyLoadError(f"onnxruntime rejects the exported graph: {exc}") from None
    got = session.run(None, {INPUT_NAME: obs})[0]
    with torch.no_grad():
        want = actor(torch.as_tensor(obs)).numpy()
        if isinstance(action_space, gym.spaces.Box):
            ok = got.shape == want.shape and np.allclose(got, want, rtol=0.0, atol=1e-5)
        else:  # near-ties may round either way in float32
            clear = _margins(actor.scores(torch.as_tensor(obs))).numpy() > TIE_MARGIN
            ok = got.shape == want.shape and np.array_equal(got[clear], want[clear])
    if not ok:
        raise ValueError("the exported ONNX graph disagrees with the torch policy (onnxruntime vs torch)")
