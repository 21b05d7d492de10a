"""Warm-start a PPO actor-critic by imitating a baseline before reinforcement learning.

When environment steps are expensive (a Fulfilment-v0 step simulates 15 minutes of a
robot fleet: about one wall second), PPO from a uniform random policy cannot reach a
good operating point in the steps a run can afford. A standard remedy is to start from
a policy that imitates a known controller (behaviour cloning) and let PPO improve on
it. This module does that in three steps:

1. :func:`collect_demonstrations` runs a classical baseline (``baseline:NAME``) on
   seeded episodes, in parallel worker processes, recording observations, actions and
   discounted returns-to-go;
2. the observation normaliser (``VecNormalize``) starts from the demonstrations'
   mean and variance, and its reward normaliser from the spread of their returns;
3. :func:`pretrain` fits the actor to the demonstrated actions (cross-entropy with
   label smoothing, so the policy keeps exploring) and the critic to the returns, in
   the scale PPO will train it on (normalised rewards, if the run normalises them).

Nothing here writes to disk; the runner records the summary in the run folder.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import gymnasium as gym
import numpy as np

from warehouse_sim._checks import check_int, check_real

#: Seeds of demonstration episode ``i`` are ``seed + DEMO_SEED_OFFSET + i``: far from
#: the evaluation seeds (0, 1, ...) so a policy is never scored on episodes it imitated.
DEMO_SEED_OFFSET = 1_000_000
#: Observation features whose variance over the demonstrations is below this keep unit
#: variance in the normaliser (see :func:`pretrain`).
CONSTANT_VAR = 1e-6
#: Where a discrete clone's label smoothing goes (:attr:`WarmStartConfig.smoothing`).
SMOOTHINGS = ("uniform", "adjacent")


@dataclass(frozen=True)
class WarmStartConfig:
    """Behaviour-cloning warm start of a PPO run (the ``warm_start`` hyperparameter).

    Attributes:
        baseline: Name of the baseline to imitate (``baseline:NAME`` on the command line).
        episodes: Demonstration episodes (run in parallel on ``n_envs`` processes).
        epochs: Passes over the demonstrations for the actor and the critic.
        batch_size: Minibatch size of the supervised fit.
        learning_rate: Adam learning rate of the supervised fit.
        label_smoothing: Discrete actions: probability mass taken from each demonstrated
            choice and spread over others (0: plain cross-entropy). Keeps the cloned
            policy stochastic enough for PPO to explore around it.
        smoothing: Where ``label_smoothing`` goes: ``"uniform"`` over all choices of the
            action dimension (cross-entropy's own label smoothing), or ``"adjacent"``, half
            to the choice below and half to the one above (all of it to the one that
            exists at either end). For ordered choices such as order quantities
            0..16: the clone then tries "one unit less" and "one unit more" often
            instead of every quantity rarely.
    """

    baseline: str
    episodes: int = 16
    epochs: int = 200
    batch_size: int = 64
    learning_rate: float = 1.0e-3
    label_smoothing: float = 0.1
    smoothing: str = "uniform"

    def __post_init__(self) -> None:
        if not isinstance(self.baseline, str) or not self.baseline:
            raise ValueError(f"warm_start.baseline must be a baseline name, got {self.baseline!r}")
        for name in ("episodes", "epochs", "batch_size"):
            check_int(f"warm_start.{name}", getattr(self, name))
        check_real("warm_start.learning_rate", self.learning_rate, strict=True)
        if isinstance(self.label_smoothing, bool) or not isinstance(self.label_smoothing, (int, float)) or not (
            0.0 <= self.label_smoothing < 1.0
        ):
            raise ValueError(f"warm_start.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if self.smoothing not in SMOOTHINGS:
            raise ValueError(f"warm_start.smoothing must be one of {', '.join(SMOOTHINGS)}, got {self.smoothing!r}")


@dataclass(frozen=True)
class Demonstrations:
    """Transitions of a baseline, stacked over episodes.

    Attributes:
        observations: ``float32[n, *obs_shape]``, raw (not normalised).
        actions: ``[n, *action_shape]`` as the env takes them.
        returns: ``float64[n]`` discounted return-to-go from each observation.
        episode_returns: ``float64[episodes]`` undiscounted return of each episode.
        rewards: ``float64[n]`` the (shaped) reward of each transition.
        lengths: ``int64[episodes]`` transitions per episode, in order.
    """

    observations: np.ndarray
    actions: np.ndarray
    returns: np.ndarray
    episode_returns: np.ndarray
    rewards: np.ndarray
    lengths: np.ndarray


def _demo_episode(
    env_id: str, env_kwargs: Mapping[str, Any], baseline: str, seed: int, gamma: float, reward_shaping: str | None
) -> tuple[np.ndarray, ...]:
    """One baseline episode: (observations, actions, shaped returns-to-go, the env's own episode return, shaped rewards)."""
    import warehouse_sim  # noqa: F401 - registers the ids in a fresh worker
    from warehouse_sim.policies.registry import make_baseline
    from warehouse_sim.training.shaping import shape_reward

    env = shape_reward(gym.make(env_id, **dict(env_kwargs)), reward_shaping, gamma)
    try:
        obs, _ = env.reset(seed=seed)
        policy = make_baseline(baseline, env)
        policy.reset(env)
        observations, actions, rewards = [], [], []
        episode_return = 0.0
        done = False
        while not done:
            action = policy.act(obs)
            observations.append(obs)
            actions.append(np.asarray(action))
            obs, reward, terminated, truncated, info = env.step(action)
            rewards.append(float(reward))
            episode_return += float(info.get("reward_unshaped", reward))
            done = terminated or truncated
    finally:
        env.close()
    returns = _returns_to_go(np.array(rewards), gamma)
    return np.stack(observations).astype(np.float32), np.stack(actions), returns, np.array(episode_return), np.array(rewards)


def _returns_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """``float64[n]`` discounted sums of ``rewards[t:]`` of one episode."""
    returns = np.zeros(len(rewards))
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def collect_demonstrations(
    env_id: str,
    env_kwargs: Mapping[str, Any],
    baseline: str,
    *,
    episodes: int,
    seed: int,
    gamma: float,
    reward_shaping: str | None = None,
    jobs: int = 1,
) -> Demonstrations:
    """Run ``baseline`` for ``episodes`` episodes (seeds ``seed + DEMO_SEED_OFFSET + i``).

    Args:
        env_id: Environment id.
        env_kwargs: Its keyword arguments.
        baseline: Baseline name (see :data:`warehouse_sim.policies.BASELINES`).
        episodes: Number of episodes.
        seed: Run seed.
        gamma: Discount of the returns-to-go.
        reward_shaping: The training run's reward shaping
            (:mod:`warehouse_sim.training.shaping`): the returns-to-go the critic is fitted
            to are of the shaped reward; ``episode_returns`` stay the env's own.
        jobs: Worker processes (1: in this process).

    Raises:
        ValueError: for an unknown baseline or one that does not support ``env_id``.
    """
    seeds = [seed + DEMO_SEED_OFFSET + i for i in range(episodes)]
    args = [(env_id, dict(env_kwargs), baseline, s, gamma, reward_shaping) for s in seeds]
    if jobs <= 1:
        parts = [_demo_episode(*a) for a in args]
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            parts = list(pool.map(_demo_episode, *zip(*args, strict=False)))
    return Demonstrations(
        observations=np.concatenate([p[0] for p in parts]),
        actions=np.concatenate([p[1] for p in parts]),
        returns=np.concatenate([p[2] for p in parts]),
        episode_returns=np.array([float(p[3]) for p in parts]),
        rewards=np.concatenate([p[4] for p in parts]),
        lengths=np.array([len(p[4]) for p in parts], dtype=np.int64),
    )


def pretrain(model: Any, demos: Demonstrations, config: WarmStartConfig, *, seed: int) -> dict[str, Any]:
    """Fit ``model``'s actor to the demonstrated actions and its critic to their returns.

    The observation normaliser of ``model`` (if any) is first set to the
    demonstrations' mean and variance (features constant in them get unit variance)
    and the fit uses normalised observations, as PPO will. If it normalises rewards,
    it starts from the demonstrations' returns too, and the critic learns their
    returns-to-go in normalised rewards (see :func:`normalised_returns`): the scale
    PPO's value targets will have, so its first updates do not spend themselves
    refitting the critic.

    Args:
        model: A Stable-Baselines3 ``PPO`` or sb3-contrib ``MaskablePPO`` (actor-critic
            policy) with its env attached.
        demos: What to imitate.
        config: Epochs, batch size, learning rate, label smoothing.
        seed: Seeds the minibatch order.

    Returns:
        A summary: demonstration size and mean episode return, final losses, and the
        share of demonstrated actions the cloned policy's deterministic action matches
        (``action_accuracy``, all action dimensions equal; ``dimension_accuracy``, per
        dimension).

    Raises:
        ValueError: for a model without an actor-critic policy, or demonstrations whose
            shapes do not fit it.
    """
    import torch
    import torch.nn.functional as F
    policy = model.policy
    if not _is_actor_critic(policy):
        raise ValueError("warm start needs an actor-critic policy (PPO, MaskablePPO)")
    if demos.observations.shape[1:] != model.observation_space.shape:
        raise ValueError(f"demonstration observations {demos.observations.shape[1:]} do not fit {model.observation_space}")
    started = time.perf_counter()
    normalizer = model.get_vec_normalize_env()
    observations = demos.observations
    if normalizer is not None and normalizer.norm_obs:
        rms, raw = normalizer.obs_rms, observations.astype(np.float64)
        rms.mean, rms.var, rms.count = raw.mean(axis=0), raw.var(axis=0), float(len(raw))
        # A feature the baseline never varies (a price level it always picks) would get a
        # near-zero variance and blow up to the clip value as soon as PPO explores it.
        rms.var[rms.var < CONSTANT_VAR] = 1.0
        observations = normalizer.normalize_obs(observations)
    space = model.action_space
    obs_t = torch.as_tensor(observations, dtype=torch.float32)
    act_t = torch.as_tensor(demos.actions.reshape(len(demos.actions), -1))
    targets = normalised_returns(demos, normalizer) if normalizer is not None and normalizer.norm_reward else demos.returns
    ret_t = torch.as_tensor(targets, dtype=torch.float32)
    if isinstance(space, gym.spaces.MultiDiscrete):
        splits = [int(n) for n in space.nvec.ravel()]
    elif isinstance(space, gym.spaces.Discrete):
        splits = [int(space.n)]
    else:
        splits = []

    def actor_loss(obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if not splits:  # Box: maximum likelihood of the Gaussian
            return -policy.get_distribution(obs).log_prob(actions.float()).mean()
        features: Any = policy.extract_features(obs, policy.pi_features_extractor)
        logits = policy.action_net(policy.mlp_extractor.forward_actor(features))
        start = int(getattr(space, "start", 0)) if isinstance(space, gym.spaces.Discrete) else 0
        loss: torch.Tensor = sum(
            cross_entropy(chunk, actions[:, d].long() - start) for d, chunk in enumerate(torch.split(logits, splits, dim=1))
        ) / len(splits)  # type: ignore[assignment]
        return loss

    def cross_entropy(logits: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
        if config.smoothing == "adjacent":
            return F.cross_entropy(logits, adjacent_targets(choice, logits.shape[1], config.label_smoothing))
        return F.cross_entropy(logits, choice, label_smoothing=config.label_smoothing)

    optimiser = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    generator = torch.Generator().manual_seed(seed)
    n = len(obs_t)
    policy.set_training_mode(True)
    a_loss = v_loss = torch.zeros(())
    for _ in range(config.epochs):
        for batch in torch.randperm(n, generator=generator).split(config.batch_size):
            a_loss = actor_loss(obs_t[batch], act_t[batch])
            v_loss = F.mse_loss(policy.predict_values(obs_t[batch]).flatten(), ret_t[batch])
            optimiser.zero_grad()
            (a_loss + 0.5 * v_loss).backward()
            optimiser.step()
    policy.set_training_mode(False)
    with torch.no_grad():
        predicted, _, _ = policy(obs_t, deterministic=True)
    predicted = predicted.reshape(n, -1).cpu().numpy()
    wanted = act_t.numpy()
    if splits:
        equal = predicted.astype(np.int64) == wanted.astype(np.int64)
        accuracy, dim_accuracy = float(equal.all(axis=1).mean()), float(equal.mean())
    else:
        accuracy = dim_accuracy = float("nan")
    return {
        "baseline": config.baseline,
        "episodes": int(demos.episode_returns.size),
        "transitions": int(n),
        "demo_return_mean": float(demos.episode_returns.mean()),
        "actor_loss": float(a_loss.item()),
        "value_loss": float(v_loss.item()),
        "action_accuracy": accuracy,
        "dimension_accuracy": dim_accuracy,
        "pretrain_wall_time_s": round(time.perf_counter() - started, 3),
    }


def normalised_returns(demos: Demonstrations, normalizer: Any) -> np.ndarray:
    """Start ``normalizer``'s return statistics from ``demos``; their returns-to-go in its rewards.

    SB3's ``VecNormalize`` divides each reward by the standard deviation of the
    discounted running sum of rewards (reset at each episode's start, discounted by
    its ``gamma``) over every step it has seen, then clips it to ``clip_reward``. Its
    statistics start here from those sums over the demonstrations, as PPO's first
    steps would have extended them.

    Args:
        demos: The demonstrations (their ``rewards`` and ``lengths``).
        normalizer: The model's ``VecNormalize`` with ``norm_reward``; its ``ret_rms``
            is overwritten.

    Returns:
        ``float64[n]``: the discounted returns-to-go of the normalised, clipped rewards.
    """
    gamma = float(normalizer.gamma)
    episodes = np.split(demos.rewards, np.cumsum(demos.lengths)[:-1])
    sums = []
    for rewards in episodes:
        running = 0.0
        for reward in rewards:
            running = running * gamma + reward
            sums.append(running)
    rms = normalizer.ret_rms
    rms.mean, rms.var, rms.count = float(np.mean(sums)), float(np.var(sums)), float(len(sums))
    scale = np.sqrt(rms.var + normalizer.epsilon)
    clip = normalizer.clip_reward
    return np.concatenate([_returns_to_go(np.clip(rewards / scale, -clip, clip), gamma) for rewards in episodes])


def adjacent_targets(choice: Any, n: int, eps: float) -> Any:
    """Targets that keep ``1 - eps`` on each choice and give ``eps`` to its neighbours.

    Args:
        choice: ``int64[batch]`` torch tensor of choices in ``0..n-1``.
        n: Number of choices (> 1).
        eps: Mass moved to the neighbours, half to ``choice - 1`` and half to
            ``choice + 1``; all of it to the one neighbour of ``0`` and of ``n - 1``.

    Returns:
        ``float32[batch, n]`` torch tensor; each row sums to 1.
    """
    import torch

    rows = torch.arange(len(choice))
    below, above = choice > 0, choice < n - 1
    share = torch.where(below & above, eps / 2, eps).float()
    probs = torch.zeros((len(choice), n))
    probs[rows, choice] = 1.0 - eps
    probs[rows[below], choice[below] - 1] += share[below]
    probs[rows[above], choice[above] + 1] += share[above]
    return probs


def _is_actor_critic(policy: Any) -> bool:
    """Whether ``policy`` is SB3's ``ActorCriticPolicy`` or sb3-contrib's ``MaskableActorCriticPolicy`` (outside SB3's class tree)."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    if isinstance(policy, ActorCriticPolicy):
        return True
    try:
        from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    except ImportError:
        return False
    return isinstance(policy, MaskableActorCriticPolicy)
