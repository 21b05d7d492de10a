"""The exact Markov decision process of a small single-SKU lost-sales scenario.

State at a decision: ``(x, a_0, ..., a_{L-1})``: ``x`` units on hand at the end of the
last period, ``a_k`` the order-level index of the lot arriving ``k`` periods after the
next period starts (``a_0`` arrives at its start). Encoded as one integer
``x * Q^L + sum_k a_k * Q^(L-1-k)`` (``Q`` order levels). Actions are encoded as in
Inventory-v0's ``Discrete`` space: ``quantity_level * n_prices + price_level``.

A period from state ``s`` with price ``p`` and quantity ``q``:
``y = min(x + qty[a_0], C)``; demand ``D ~ Poisson(lambda_p)``; sales ``min(D, y)``;
next state ``(y - sales, a_1, ..., a_{L-1}, q)``; profit
``p * sales - c * qty[q] - K [qty[q] > 0] - h * (y - sales) - penalty * (D - sales)``.
This is exactly what :meth:`OperationsModel.step_period` does for such a scenario.

:meth:`SingleSkuMdp.solve` finds the average-reward optimum by relative value
iteration; :meth:`SingleSkuMdp.evaluate` gives any stationary policy table's exact
expected profit over a finite horizon from the initial state; :meth:`SingleSkuMdp.simulate`
runs many policy tables at once with common random numbers (for searches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from warehouse_sim.operations.catalogue import Scenario


def poisson_pmf(lam: float, n: int) -> np.ndarray:
    """P(D = k) for k = 0..n-1 (computed in log space)."""
    k = np.arange(n)
    log_fact = np.array([math.lgamma(i + 1) for i in range(n)])
    return np.exp(k * math.log(lam) - lam - log_fact) if lam > 0 else (k == 0).astype(float)


@dataclass(frozen=True)
class DpSolution:
    """The average-reward optimum.

    Attributes:
        gain: Optimal long-run mean profit per period (currency units).
        bias: Relative values per state, shape ``(n_states,)``.
        policy: Optimal action per state, shape ``(n_states,)``.
        iterations: Relative value iterations used.
    """

    gain: float
    bias: np.ndarray
    policy: np.ndarray
    iterations: int


class SingleSkuMdp:
    """Tables of the exact MDP of a single-SKU scenario (see the module docstring).

    Args:
        scenario: Single SKU, lost sales, a per-SKU capacity, no seasonality, 0 among
            the order quantities.

    Raises:
        ValueError: if the scenario is not of that kind.
    """

    def __init__(self, scenario: Scenario) -> None:
        if scenario.n_skus != 1:
            raise ValueError("the exact MDP needs a single-SKU scenario")
        sku = scenario.skus[0]
        if scenario.mode != "lost_sales":
            raise ValueError("the exact MDP supports lost-sales scenarios only")
        if sku.capacity is None:
            raise ValueError("the exact MDP needs a per-SKU capacity")
        if scenario.shared_capacity is not None and scenario.shared_capacity < sku.capacity:
            raise ValueError("the exact MDP needs shared_capacity >= the SKU capacity (or none)")
        if len(set(scenario.seasonality)) > 1:
            raise ValueError("the exact MDP needs a scenario without seasonality")
        if 0 not in sku.order_quantities:
            raise ValueError("the exact MDP needs 0 among the order quantities")
        self.scenario = scenario
        self.capacity = C = sku.capacity
        self.lead_time = L = sku.lead_time
        self.quantities = np.array(sku.order_quantities, dtype=np.int64)
        self.prices = np.array(sku.prices)
        self.n_q = Q = self.quantities.size
        self.n_p = P = self.prices.size
        self.n_actions = Q * P
        self.n_pipelines = Q**L
        self.n_states = (C + 1) * Q**L
        if self.n_states * self.n_actions > 5_000_000:
            raise ValueError(f"MDP too large for exact solution: {self.n_states} states x {self.n_actions} actions")
        self.zero_level = int(np.flatnonzero(self.quantities == 0)[0])
        self.rates = np.array([sku.demand_rate(p) for p in self.prices]) * scenario.seasonality[0]
        self.initial_state = self.encode(sku.initial_on_hand, np.full(L, self.zero_level))
        # Sales distribution given stock y: P(sales = k | y), k < y Poisson, k = y the tail.
        d_max = C + 1
        self.sales_pmf = np.zeros((P, C + 1, C + 1))
        expected_lost = np.zeros((P, C + 1))
        for p, lam in enumerate(self.rates):
            pmf = poisson_pmf(lam, d_max)
            tail = 1.0 - np.concatenate([[0.0], np.cumsum(pmf)])[: C + 1]
            for stock in range(C + 1):
                self.sales_pmf[p, stock, :stock] = pmf[:stock]
                self.sales_pmf[p, stock, stock] = max(tail[stock], 0.0)
            expected_lost[p] = lam - self.sales_pmf[p] @ np.arange(C + 1)
        k = np.arange(C + 1)
        expected_sales = self.sales_pmf @ k  # (P, C+1)
        y = np.arange(C + 1)
        #: Expected sales revenue, penalty and holding per (price level, stock y), shape (P, C+1).
        self.period_reward = (
            self.prices[:, None] * expected_sales
            - sku.penalty * expected_lost
            - sku.holding_cost * (y[None, :] - expected_sales)
        )
        #: Cost of each quantity level, shape (Q,).
        self.order_cost = sku.unit_cost * self.quantities + scenario.fixed_order_cost * (self.quantities > 0)
        # next on hand x' = y - sales: transition matrix from y to x', shape (P, C+1, C+1)
        self.next_x = np.zeros((P, C + 1, C + 1))
        for yy in range(C + 1):
            self.next_x[:, yy, yy - np.arange(yy + 1)] = self.sales_pmf[:, yy, : yy + 1]
        x = np.arange(C + 1)[:, None]
        #: Stock after arrivals per (x, a_0), shape (C+1, Q).
        self.stock_after_arrival = np.minimum(x + self.quantities[None, :], C)
        self._rest = Q ** (L - 1)

    # ------------------------------------------------------------------ encoding
    def encode(self, on_hand: int, pipeline_levels: np.ndarray) -> int:
        """State index of on-hand ``x`` and pipeline level indices ``(a_0, ..., a_{L-1})``."""
        index = int(on_hand)
        for a in pipeline_levels:
            index = index * self.n_q + int(a)
        return index

    def state_of(self, on_hand: int, pipeline_units: np.ndarray) -> int:
        """State index from on-hand units and pipeline units (each a quantity level).

        Raises:
            ValueError: if a pipeline amount is not one of the order levels or x > capacity.
        """
        levels = np.searchsorted(self.quantities, pipeline_units)
        if (levels >= self.n_q).any() or not np.array_equal(self.quantities[np.minimum(levels, self.n_q - 1)], pipeline_units):
            raise ValueError(f"pipeline {pipeline_units} is not made of order levels {self.quantities}")
        if not 0 <= on_hand <= self.capacity:
            raise ValueError(f"on hand {on_hand} outside [0, {self.capacity}]")
        return self.encode(on_hand, levels[: self.lead_time])

    # ------------------------------------------------------------------ Bellman operator
    def _q_values(self, values: np.ndarray) -> np.ndarray:
        """Q(s, a) for relative values ``values`` (n_states,), shape (n_states, n_actions)."""
        C, Q, P, R = self.capacity, self.n_q, self.n_p, self._rest
        v = values.reshape(C + 1, R, Q)  # next state (x', a_1..a_{L-1}, q)
        y = self.stock_after_arrival  # (C+1, Q) indexed by (x, a_0)
        q = np.empty((C + 1, Q, R, Q, P))  # (x, a_0, rest, quantity, price)
        for p in range(P):
            w = (self.next_x[p] @ v.reshape(C + 1, R * Q)).reshape(C + 1, R, Q)  # E[V | y, rest, q]
            q[..., p] = w[y] + self.period_reward[p][y][:, :, None, None]
        q -= self.order_cost[None, None, None, :, None]
        return q.reshape(self.n_states, self.n_actions)

    def solve(self, *, tolerance: float = 1e-9, max_iterations: int = 20_000) -> DpSolution:
        """Relative value iteration (damped 1/2 for aperiodicity) to the average-reward optimum.

        Stops when the span of ``T V - V`` is below ``tolerance`` (bounds on the gain).

        Raises:
            RuntimeError: if it does not converge within ``max_iterations``.
        """
        values = np.zeros(self.n_states)
        for iteration in range(1, max_iterations + 1):
            q = self._q_values(values)
            new = q.max(axis=1)
            diff = new - values
            lo, hi = diff.min(), diff.max()
            if hi - lo < tolerance * max(1.0, abs(hi)):
                policy = q.argmax(axis=1)
                return DpSolution(float(0.5 * (lo + hi)), new - new[self.initial_state], policy, iteration)
            values = 0.5 * values + 0.5 * (new - new[self.initial_state])
        raise RuntimeError(f"relative value iteration did not converge in {max_iterations} iterations")

    def finite_horizon_value(self, horizon: int) -> float:
        """Optimal expected total profit over ``horizon`` periods from the initial state.

        By backward induction (a time-dependent policy; e.g. it stops ordering once lots
        would arrive after the end). An upper bound for policies that do not see time.
        """
        values = np.zeros(self.n_states)
        for _ in range(horizon):
            values = self._q_values(values).max(axis=1)
        return float(values[self.initial_state])

    def expected_rewards(self, policy: np.ndarray) -> np.ndarray:
        """Expected one-period profit of each state under a policy table, shape (n_states,)."""
        Q = self.n_q
        s = np.arange(self.n_states)
        x, a0 = s // (Q ** self.lead_time), (s // self._rest) % Q
        y = self.stock_after_arrival[x, a0]
        return self.period_reward[policy % self.n_p, y] - self.order_cost[policy // self.n_p]

    def evaluate(self, policy: np.ndarray, horizon: int, initial_state: int | None = None) -> float:
        """Exact expected total profit of a stationary policy table over ``horizon`` periods.

        Propagates the state distribution from ``initial_state`` (default: the scenario's).
        """
        C, Q, R = self.capacity, self.n_q, self._rest
        s = np.arange(self.n_states)
        x, a0, rest = s // (Q ** self.lead_time), (s // R) % Q, s % R
        y = self.stock_after_arrival[x, a0]
        rewards = self.expected_rewards(policy)
        price, qty = policy % self.n_p, policy // self.n_p
        dist = np.zeros(self.n_states)
        dist[self.initial_state if initial_state is None else initial_state] = 1.0
        # group states by (price, quantity) once: mass to (y, rest) then through next_x
        members = [
            (p, q, np.flatnonzero((price == p) & (qty == q))) for p in range(self.n_p) for q in range(Q)
        ]
        groups = [(p, q, idx, y[idx] * R + rest[idx]) for p, q, idx in members if idx.size]
        total = 0.0
        for _ in range(horizon):
            total += float(dist @ rewards)
            new = np.zeros((C + 1, R, Q))
            for p, q, idx, yr in groups:
                mass = np.bincount(yr, weights=dist[idx], minlength=(C + 1) * R).reshape(C + 1, R)
                new[:, :, q] += self.next_x[p].T @ mass
            dist = new.reshape(-1)
        return total

    def simulate(
        self, policies: np.ndarray, *, episodes: int, horizon: int, seed: int
    ) -> np.ndarray:
        """Mean profit per period of many policy tables, with common random numbers.

        Args:
            policies: Policy tables, shape ``(n_policies, n_states)``.
            episodes: Episodes per policy (the same demand uniforms for every policy).
            horizon: Periods per episode, from the initial state.
            seed: Seed of the uniforms.

        Returns:
            Mean profit per period per policy, shape ``(n_policies,)``.
        """
        rng = np.random.default_rng(seed)
        uniforms = rng.random((horizon, episodes))
        d_cap = int(max(self.rates) * 4 + 60)
        cdf = np.cumsum(np.stack([poisson_pmf(lam, d_cap) for lam in self.rates]), axis=1)
        demand = np.stack([np.searchsorted(cdf[p], uniforms) for p in range(self.n_p)])  # (P, T, E)
        n = policies.shape[0]
        Q, L, C = self.n_q, self.lead_time, self.capacity
        sku = self.scenario.skus[0]
        x = np.full((n, episodes), sku.initial_on_hand, dtype=np.int64)
        pipe = np.full((n, episodes, L), self.zero_level, dtype=np.int64)
        weights = Q ** np.arange(L - 1, -1, -1)
        profit = np.zeros((n, episodes))
        rows = np.arange(n)[:, None]
        cols = np.arange(episodes)[None, :]
        for t in range(horizon):
            state = x * Q**L + pipe @ weights
            action = policies[rows, state]
            p, q = action % self.n_p, action // self.n_p
            y = np.minimum(x + self.quantities[pipe[:, :, 0]], C)
            d = demand[p, t, cols]
            sales = np.minimum(d, y)
            x = y - sales
            profit += (
                self.prices[p] * sales
                - self.order_cost[q]
                - sku.holding_cost * x
                - sku.penalty * (d - sales)
            )
            pipe = np.concatenate([pipe[:, :, 1:], q[:, :, None]], axis=2)
        return profit.mean(axis=1) / horizon
