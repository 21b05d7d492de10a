"""Tabular Q-learning and SARSA on the exact MDP of a small single-SKU scenario.

The textbook baselines the deep agents must surpass. They learn from sampled periods of
:class:`~warehouse_sim.operations.mdp.SingleSkuMdp` (the same dynamics as Inventory-v0's
period, without the env's overhead), in episodes of ``horizon`` periods from the initial
state, with epsilon-greedy exploration (epsilon decays linearly from ``epsilon_start`` to
``epsilon_end`` over the first ``explore_fraction`` of the steps), a per-(state, action)
step size ``1 / visits^step_exponent``, and discount ``gamma``. Rewards are profit /
``reward_scale``. The result is the greedy policy table.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Literal

import numpy as np

from warehouse_sim.operations.mdp import SingleSkuMdp, poisson_pmf

Method = Literal["q-learning", "sarsa"]


@dataclass(frozen=True)
class TabularConfig:
    """Hyperparameters of :func:`train_tabular` (validated)."""

    steps: int = 1_000_000
    gamma: float = 0.99
    epsilon_start: float = 1.0
    epsilon_end: float = 0.02
    explore_fraction: float = 0.8
    step_exponent: float = 0.6
    reward_scale: float = 100.0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps must be >= 1, got {self.steps}")
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must be in (0, 1), got {self.gamma}")
        if not 0.0 <= self.epsilon_end <= self.epsilon_start <= 1.0:
            raise ValueError("need 0 <= epsilon_end <= epsilon_start <= 1")
        if not 0.0 < self.explore_fraction <= 1.0:
            raise ValueError(f"explore_fraction must be in (0, 1], got {self.explore_fraction}")
        if not 0.5 < self.step_exponent <= 1.0:
            raise ValueError(f"step_exponent must be in (0.5, 1], got {self.step_exponent}")
        if self.reward_scale <= 0:
            raise ValueError(f"reward_scale must be > 0, got {self.reward_scale}")


def train_tabular(
    mdp: SingleSkuMdp, method: Method, *, seed: int, horizon: int = 200, config: TabularConfig | None = None
) -> np.ndarray:
    """Learn Q by Q-learning or SARSA; return the greedy policy table, shape ``(n_states,)``.

    Args:
        mdp: The single-SKU MDP to learn on.
        method: ``"q-learning"`` (off-policy max target) or ``"sarsa"`` (on-policy target).
        seed: Seed of every random draw (demand and exploration).
        horizon: Episode length (periods) before returning to the initial state.
        config: Hyperparameters (default :class:`TabularConfig`).
    """
    if method not in ("q-learning", "sarsa"):
        raise ValueError(f"method must be 'q-learning' or 'sarsa', got {method!r}")
    cfg = config or TabularConfig()
    rng = np.random.default_rng(seed)
    n_a, n_p, n_q = mdp.n_actions, mdp.n_p, mdp.n_q
    sku = mdp.scenario.skus[0]
    d_cap = int(max(mdp.rates) * 4 + 60)
    cdfs = [np.cumsum(poisson_pmf(lam, d_cap)).tolist() for lam in mdp.rates]
    prices = (mdp.prices / cfg.reward_scale).tolist()
    order_cost = (mdp.order_cost / cfg.reward_scale).tolist()
    hold, pen = sku.holding_cost / cfg.reward_scale, sku.penalty / cfg.reward_scale
    qty = mdp.quantities.tolist()
    cap, n_pipe, rest_mod = mdp.capacity, mdp.n_pipelines, mdp.n_pipelines // n_q
    q_table = np.zeros((mdp.n_states, n_a))
    rows: list[list[float]] = q_table.tolist()
    visits = [[0] * n_a for _ in range(mdp.n_states)]
    gamma, expo = cfg.gamma, cfg.step_exponent
    explore_steps = max(1, int(cfg.steps * cfg.explore_fraction))
    chunk = 65_536

    def greedy(row: list[float]) -> int:
        return row.index(max(row))

    def epsilon(step: int) -> float:
        frac = min(1.0, step / explore_steps)
        return cfg.epsilon_start + (cfg.epsilon_end - cfg.epsilon_start) * frac

    def choose(row: list[float], eps: float, u_explore: float, u_action: float) -> int:
        return int(u_action * n_a) if u_explore < eps else greedy(row)

    state, t_ep = mdp.initial_state, 0
    uniforms: list[list[float]] = []
    action = choose(rows[state], epsilon(0), *rng.random(2).tolist())
    for step in range(cfg.steps):
        if not uniforms:
            uniforms = rng.random((chunk, 3)).tolist()
        u_demand, u_explore, u_action = uniforms.pop()
        eps = epsilon(step)
        if method == "q-learning":
            action = choose(rows[state], eps, u_explore, u_action)
        x, rest = divmod(state, n_pipe)
        a0, tail = divmod(rest, rest_mod)
        p, q = action % n_p, action // n_p
        y = min(x + qty[a0], cap)
        d = bisect.bisect_right(cdfs[p], u_demand)
        sales = d if d < y else y
        x2 = y - sales
        reward = prices[p] * sales - order_cost[q] - hold * x2 - pen * (d - sales)
        nxt = x2 * n_pipe + tail * n_q + q
        row = rows[state]
        visits[state][action] += 1
        alpha = visits[state][action] ** -expo
        if method == "q-learning":
            target = reward + gamma * max(rows[nxt])
        else:  # SARSA: the next action is drawn now, with this step's exploration draws
            next_action = choose(rows[nxt], eps, u_explore, u_action)
            target = reward + gamma * rows[nxt][next_action]
        # the horizon is a truncation, not an outcome: always bootstrap
        row[action] += alpha * (target - row[action])
        t_ep += 1
        if t_ep >= horizon:
            state, t_ep = mdp.initial_state, 0
            if method == "sarsa":
                action = choose(rows[state], eps, *rng.random(2).tolist())
        else:
            state = nxt
            if method == "sarsa":
                action = next_action
    table = np.array(rows)
    return table.argmax(axis=1)
