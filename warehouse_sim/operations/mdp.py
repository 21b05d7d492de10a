"""The exact Markov decision process of a single-SKU scenario, solved at scale.

State at a decision (between periods): ``(n, a_0, ..., a_{L-1})``. ``n`` is the net
inventory at the end of the last period: units on hand in lost-sales mode (``0..C``),
on hand minus backlog in backorder mode (``-B..C``, ``B`` = ``max_backlog``); ``a_k`` is
the order-level index of the lot arriving ``k`` periods after the next period starts
(``a_0`` arrives at its start). Encoded as one integer
``(n - n_min) * Q^L + sum_k a_k * Q^(L-1-k)`` (``Q`` order levels, ``n_min = 0`` or ``-B``).
Actions are encoded as in Inventory-v0's ``Discrete`` space:
``quantity_level * n_prices + price_level``.

A period from state ``s`` with price ``p`` and quantity ``q``: the backlog is
``b = max(-n, 0)``, the lot ``a_0`` arrives, ``y = min(max(n, 0) + qty[a_0], C)`` units are
on hand (the excess is written off) and ``m = y - b`` is the net stock facing demand
``D ~ Poisson(lambda_p)``. Sales are ``b + min(D, m)`` (lost sales: ``min(D, y)``), the next
net inventory ``max(m - D, n_min)`` and the next state ``(max(m - D, n_min), a_1, ...,
a_{L-1}, q)``; the profit is ``price * sales - c * qty[q] - K [qty[q] > 0] - h (m - D)^+ -
penalty (D - m)^+`` (units lost, or backlogged at the end of the period). This is exactly what
:meth:`OperationsModel.step_period` does for such a scenario; in backorder mode a backlog
deeper than ``B`` is the one approximation (it is kept at ``B``, its penalty still charged
in full; :meth:`SingleSkuMdp.boundary_mass` says how often a policy goes there).

The solver never builds the ``states x actions`` table: the value of a state depends on
``(m, a_1..a_{L-1})`` only, and the expectation over demand is one product of the
``(N x N)`` lower-triangular demand matrix with the value array, so one Bellman update
costs ``O(N^2 Q^L + N Q^L (Q + P))`` time and a few arrays of ``N Q^L`` floats (lead time 4,
17 order levels and on hand 0..36: 3.1 million states, ~0.1 s per update on one core).

:meth:`SingleSkuMdp.solve` finds the average-reward optimum by relative value
iteration; :meth:`SingleSkuMdp.evaluate` gives any stationary policy table's exact
expected profit over a finite horizon from the initial state and
:meth:`SingleSkuMdp.average_reward` its long-run mean; :meth:`SingleSkuMdp.simulate` runs
many policies at once with common random numbers (for searches).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from warehouse_sim.operations.catalogue import Scenario

#: Largest state space the solver accepts (a value array of this many floats is 160 MB).
MAX_STATES = 20_000_000

#: ``(on hand or net inventory, pipeline levels) -> action`` per simulated row, for :meth:`SingleSkuMdp.simulate`.
ActionFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


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


def check_exact_scenario(scenario: Scenario) -> None:
    """Raise ``ValueError`` unless the exact MDP (and the baselines built on it) can model ``scenario``.

    Needed: one SKU with a per-SKU capacity, 0 among its order quantities, a fixed lead
    time, stationary Poisson demand (the default ``poisson`` model, no seasonality, no
    promotion slots), and a shared capacity (if any) no smaller than the SKU's.
    """
    if scenario.n_skus != 1:
        raise ValueError("the exact MDP needs a single-SKU scenario")
    sku = scenario.skus[0]
    if sku.capacity is None:
        raise ValueError("the exact MDP needs a per-SKU capacity")
    if scenario.shared_capacity is not None and scenario.shared_capacity < sku.capacity:
        raise ValueError("the exact MDP needs shared_capacity >= the SKU capacity (or none)")
    if len(set(scenario.seasonality)) > 1:
        raise ValueError("the exact MDP needs a scenario without seasonality")
    if 0 not in sku.order_quantities:
        raise ValueError("the exact MDP needs 0 among the order quantities")
    if scenario.demand.model != "poisson":
        raise ValueError(
            f"the exact MDP assumes Poisson demand; scenario {scenario.name!r} has the {scenario.demand.model!r} demand model"
        )
    if scenario.demand.substitutes:
        raise ValueError("the exact MDP models one SKU: no demand substitution")
    if scenario.promotion_slots:
        raise ValueError("the exact MDP has no promotion slots (promotion_slots must be 0)")
    if sku.lead_time_pmf is not None:
        raise ValueError("the exact MDP needs a fixed lead time (no lead_time_pmf)")


class SingleSkuMdp:
    """The exact MDP of a single-SKU scenario (see the module docstring).

    Args:
        scenario: A scenario :func:`check_exact_scenario` accepts, lost sales or backorders.
        max_backlog: Backorder mode: the deepest backlog ``B`` the state space holds
            (default: mean demand over ``lead_time + 1`` periods at the lowest price plus
            ten standard deviations, at least 10). Not allowed in lost-sales mode.

    Raises:
        ValueError: if the scenario is not of that kind, or the state space exceeds
            :data:`MAX_STATES`.
    """

    def __init__(self, scenario: Scenario, *, max_backlog: int | None = None) -> None:
        check_exact_scenario(scenario)
        sku = scenario.skus[0]
        assert sku.capacity is not None
        self.scenario = scenario
        self.capacity = C = sku.capacity
        self.lead_time = L = sku.lead_time
        self.backorder = scenario.mode == "backorder"
        self.quantities = np.array(sku.order_quantities, dtype=np.int64)
        self.prices = np.array(sku.prices)
        self.n_q = Q = self.quantities.size
        self.n_p = P = self.prices.size
        self.n_actions = Q * P
        self.n_pipelines = Q**L
        self._rest = Q ** (L - 1)
        self.rates = np.array([sku.demand_rate(p) for p in self.prices]) * scenario.seasonality[0]
        if not self.backorder and max_backlog is not None:
            raise ValueError("max_backlog applies to backorder scenarios only")
        if self.backorder:
            if max_backlog is None:
                mean = float(self.rates.max()) * (L + 1)
                max_backlog = max(10, int(math.ceil(mean + 10.0 * math.sqrt(mean))))
            if isinstance(max_backlog, bool) or not isinstance(max_backlog, int) or max_backlog < 1:
                raise ValueError(f"max_backlog must be an integer >= 1, got {max_backlog!r}")
        #: Deepest backlog held (0 in lost-sales mode); the net inventory runs from -max_backlog to C.
        self.max_backlog = B = max_backlog or 0
        self.n_min = -B
        self.n_levels = N = C + B + 1
        self.n_states = N * self.n_pipelines
        if self.n_states > MAX_STATES:
            raise ValueError(f"MDP too large for exact solution: {self.n_states} states (at most {MAX_STATES})")
        self.zero_level = int(np.flatnonzero(self.quantities == 0)[0])
        self.initial_state = self.encode(sku.initial_on_hand, np.full(L, self.zero_level))
        net = np.arange(-B, C + 1)
        #: Backlog per net-inventory index, shape ``(N,)``.
        self.backlog = np.maximum(-net, 0)
        on_hand_after = np.minimum(np.maximum(net, 0)[:, None] + self.quantities[None, :], C)
        #: Index (net stock ``m`` minus ``n_min``) facing demand, per (net inventory, arriving level), shape ``(N, Q)``.
        self.m_index = on_hand_after - self.backlog[:, None] + B
        #: Next net inventory given the net stock facing demand, per price: ``demand[p, m, n']``, shape ``(P, N, N)``.
        self.demand = np.zeros((P, N, N))
        #: Expected profit of the period before order cost and backlog revenue, per (price, m), shape ``(P, N)``.
        self.stock_reward = np.zeros((P, N))
        m = np.arange(N) - B
        k = np.arange(C + 1)
        for p, lam in enumerate(self.rates):
            pmf = poisson_pmf(lam, N)
            tail = np.maximum(1.0 - np.concatenate([[0.0], np.cumsum(pmf)])[:N], 0.0)
            for i in range(N):  # net stock m = i - B meets demand D: next index max(i - D, 0)
                self.demand[p, i, 1 : i + 1] = pmf[:i][::-1]
                self.demand[p, i, 0] = tail[i]
            # sales from y >= 0 units: P(sales = k | y) is P(D = k) for k < y and P(D >= y) at k = y
            sales_pmf = np.zeros((C + 1, C + 1))
            for y in range(C + 1):
                sales_pmf[y, :y] = pmf[:y]
                sales_pmf[y, y] = tail[y]
            expected_sales = np.concatenate([m[:B].astype(float), sales_pmf @ k])  # E[min(D, m)] = m for m < 0
            expected_lost = lam - expected_sales
            self.stock_reward[p] = (
                self.prices[p] * expected_sales
                - sku.penalty * expected_lost
                - sku.holding_cost * (m - expected_sales)
            )
        #: Cost of each quantity level, shape (Q,).
        self.order_cost = sku.unit_cost * self.quantities + scenario.fixed_order_cost * (self.quantities > 0)

    # ------------------------------------------------------------------ encoding
    def encode(self, net_inventory: int, pipeline_levels: np.ndarray) -> int:
        """State index of net inventory ``n`` (on hand in lost-sales mode) and pipeline levels ``(a_0, ..., a_{L-1})``."""
        index = int(net_inventory) - self.n_min
        for a in pipeline_levels:
            index = index * self.n_q + int(a)
        return index

    def state_of(self, on_hand: int, pipeline_units: np.ndarray, backlog: int = 0) -> int:
        """State index from on-hand units, pipeline units (each a quantity level) and backlog.

        Raises:
            ValueError: if a pipeline amount is not one of the order levels, or the net
                inventory is outside the state space.
        """
        levels = np.searchsorted(self.quantities, pipeline_units)
        if (levels >= self.n_q).any() or not np.array_equal(self.quantities[np.minimum(levels, self.n_q - 1)], pipeline_units):
            raise ValueError(f"pipeline {pipeline_units} is not made of order levels {self.quantities}")
        net = int(on_hand) - int(backlog)
        if not self.n_min <= net <= self.capacity:
            raise ValueError(f"net inventory {net} outside [{self.n_min}, {self.capacity}]")
        return self.encode(net, levels[: self.lead_time])

    def _split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per state: net-inventory index, arriving level ``a_0`` and the rest of the pipeline, each ``(n_states,)``."""
        s = np.arange(self.n_states)
        return s // self.n_pipelines, (s // self._rest) % self.n_q, s % self._rest

    # ------------------------------------------------------------------ Bellman operator
    def _continuation(self, values: np.ndarray, p: int) -> np.ndarray:
        """``stock_reward + E[V(next)] - order cost`` per (m, rest, quantity) at price ``p``, shape ``(N, R, Q)``."""
        N, R, Q = self.n_levels, self._rest, self.n_q
        expected = (self.demand[p] @ values.reshape(N, R * Q)).reshape(N, R, Q)
        return expected + self.stock_reward[p][:, None, None] - self.order_cost[None, None, :]

    def _backlog_revenue(self, p: int) -> np.ndarray:
        """Revenue of the backlog served at price ``p`` per net-inventory index, shape ``(N, 1, 1)``."""
        return (self.prices[p] * self.backlog)[:, None, None]

    def _bellman(self, values: np.ndarray, *, policy: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """``(T V, greedy policy or None)``, both shape ``(n_states,)``.

        The greedy action is the first maximiser in action order (``np.argmax`` over
        ``quantity * n_prices + price``).
        """
        N, Q, R, P = self.n_levels, self.n_q, self._rest, self.n_p
        best = np.full((N, Q, R), -np.inf)
        action = np.zeros((N, Q, R), dtype=np.int64) if policy else None
        for p in range(P):
            cont = self._continuation(values, p)
            value = cont.max(axis=2)[self.m_index] + self._backlog_revenue(p)  # (N, Q, R)
            if action is not None:
                candidate = cont.argmax(axis=2)[self.m_index] * P + p
                tie = value == best
                action = np.where(value > best, candidate, np.where(tie, np.minimum(action, candidate), action))
            best = np.maximum(best, value)
        return best.reshape(-1), None if action is None else action.reshape(-1)

    def q_values(self, values: np.ndarray) -> np.ndarray:
        """Q(s, a) for relative values ``values``, shape ``(n_states, n_actions)`` (small instances: tests, tabular checks)."""
        N, Q, R, P = self.n_levels, self.n_q, self._rest, self.n_p
        q = np.empty((N, Q, R, Q, P))
        for p in range(P):
            q[..., p] = self._continuation(values, p)[self.m_index] + self._backlog_revenue(p)[..., None]
        return q.reshape(self.n_states, self.n_actions)

    def solve(self, *, tolerance: float = 1e-9, max_iterations: int = 20_000) -> DpSolution:
        """Relative value iteration (damped 1/2 for aperiodicity) to the average-reward optimum.

        Stops when the span of ``T V - V`` is below ``tolerance`` (bounds on the gain).

        Raises:
            RuntimeError: if it does not converge within ``max_iterations``.
        """
        values = np.zeros(self.n_states)
        for iteration in range(1, max_iterations + 1):
            new, _ = self._bellman(values)
            diff = new - values
            lo, hi = diff.min(), diff.max()
            if hi - lo < tolerance * max(1.0, abs(hi)):
                _, policy = self._bellman(values, policy=True)
                assert policy is not None
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
            values, _ = self._bellman(values)
        return float(values[self.initial_state])

    # ------------------------------------------------------------------ policy evaluation
    def expected_rewards(self, policy: np.ndarray) -> np.ndarray:
        """Expected one-period profit of each state under a policy table, shape (n_states,)."""
        n_idx, a0, _ = self._split()
        price, qty = policy % self.n_p, policy // self.n_p
        reward = self.stock_reward[price, self.m_index[n_idx, a0]] - self.order_cost[qty]
        return reward + self.prices[price] * self.backlog[n_idx] if self.backorder else reward

    def _transition(self, policy: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The map ``distribution -> next distribution`` over states under a policy table."""
        N, Q, R, P = self.n_levels, self.n_q, self._rest, self.n_p
        n_idx, a0, rest = self._split()
        key = ((self.m_index[n_idx, a0] * R + rest) * Q + policy // P) * P + policy % P
        prices = [p for p in range(P) if np.any(policy % P == p)]

        def step(dist: np.ndarray) -> np.ndarray:
            mass = np.bincount(key, weights=dist, minlength=N * R * Q * P).reshape(N, R * Q, P)
            new = np.zeros((N, R * Q))
            for p in prices:
                new += self.demand[p].T @ mass[:, :, p]
            return new.reshape(-1)

        return step

    def evaluate(self, policy: np.ndarray, horizon: int, initial_state: int | None = None) -> float:
        """Exact expected total profit of a stationary policy table over ``horizon`` periods.

        Propagates the state distribution from ``initial_state`` (default: the scenario's).
        """
        rewards = self.expected_rewards(policy)
        step = self._transition(policy)
        dist = np.zeros(self.n_states)
        dist[self.initial_state if initial_state is None else initial_state] = 1.0
        total = 0.0
        for _ in range(horizon):
            total += float(dist @ rewards)
            dist = step(dist)
        return total

    def stationary(self, policy: np.ndarray, *, tolerance: float = 1e-10, max_iterations: int = 100_000) -> np.ndarray:
        """The long-run state distribution of a policy table from the initial state, shape ``(n_states,)``.

        Power iteration on the lazy chain (each step half stays), which converges on
        periodic chains too, until the L1 change is below ``tolerance``.

        Raises:
            RuntimeError: if it does not converge within ``max_iterations``.
        """
        step = self._transition(policy)
        dist = np.zeros(self.n_states)
        dist[self.initial_state] = 1.0
        for _ in range(max_iterations):
            new = 0.5 * (dist + step(dist))
            if np.abs(new - dist).sum() < tolerance:
                return new
            dist = new
        raise RuntimeError(f"the state distribution did not converge in {max_iterations} iterations")

    def average_reward(self, policy: np.ndarray, *, tolerance: float = 1e-10) -> float:
        """Exact long-run mean profit per period of a policy table, from the initial state."""
        return float(self.stationary(policy, tolerance=tolerance) @ self.expected_rewards(policy))

    def boundary_mass(self, policy: np.ndarray) -> float:
        """Long-run probability that a policy holds the deepest backlog ``B`` (0 in lost-sales mode)."""
        if not self.backorder:
            return 0.0
        return float(self.stationary(policy)[: self.n_pipelines].sum())

    # ------------------------------------------------------------------ simulation
    def demand_draws(self, *, episodes: int, horizon: int, seed: int) -> np.ndarray:
        """Demand per price level, period and episode from one set of uniforms, shape ``(P, horizon, episodes)``."""
        rng = np.random.default_rng(seed)
        uniforms = rng.random((horizon, episodes))
        d_cap = int(max(self.rates) * 4 + 60)
        cdf = np.cumsum(np.stack([poisson_pmf(lam, d_cap) for lam in self.rates]), axis=1)
        return np.stack([np.searchsorted(cdf[p], uniforms) for p in range(self.n_p)])

    def table_actions(self, policies: np.ndarray) -> ActionFn:
        """:data:`ActionFn` of policy tables, shape ``(n_policies, n_states)``, for :meth:`simulate`."""
        weights = self.n_q ** np.arange(self.lead_time - 1, -1, -1)
        rows = np.arange(policies.shape[0])[:, None]

        def act(net: np.ndarray, pipe: np.ndarray) -> np.ndarray:
            return policies[rows, (net - self.n_min) * self.n_pipelines + pipe @ weights]

        return act

    def simulate(
        self, policies: np.ndarray | ActionFn, *, n_policies: int | None = None, episodes: int, horizon: int, seed: int
    ) -> np.ndarray:
        """Mean profit per period of many policies, with common random numbers.

        Args:
            policies: Policy tables, shape ``(n_policies, n_states)``, or an
                :data:`ActionFn` mapping net inventory ``(n_policies, episodes)`` and pipeline
                levels ``(n_policies, episodes, L)`` to actions ``(n_policies, episodes)``.
            n_policies: The number of policies (only with an action function).
            episodes: Episodes per policy (the same demand uniforms for every policy).
            horizon: Periods per episode, from the initial state.
            seed: Seed of the uniforms.

        Returns:
            Mean profit per period per policy, shape ``(n_policies,)``.
        """
        if isinstance(policies, np.ndarray):
            n, act = policies.shape[0], self.table_actions(policies)
        elif n_policies is None:
            raise ValueError("simulate needs n_policies with an action function")
        else:
            n, act = n_policies, policies
        demand = self.demand_draws(episodes=episodes, horizon=horizon, seed=seed)
        L, C = self.lead_time, self.capacity
        sku = self.scenario.skus[0]
        x = np.full((n, episodes), sku.initial_on_hand, dtype=np.int64)
        pipe = np.full((n, episodes, L), self.zero_level, dtype=np.int64)
        profit = np.zeros((n, episodes))
        cols = np.arange(episodes)[None, :]
        for t in range(horizon):
            action = act(x, pipe)
            p, q = action % self.n_p, action // self.n_p
            d = demand[p, t, cols]
            if self.backorder:
                backlog = np.maximum(-x, 0)
                net = np.minimum(np.maximum(x, 0) + self.quantities[pipe[:, :, 0]], C) - backlog
                left = net - d
                sales = backlog + np.minimum(d, net)
                x = np.maximum(left, self.n_min)
                profit += (
                    self.prices[p] * sales
                    - self.order_cost[q]
                    - sku.holding_cost * np.maximum(left, 0)
                    - sku.penalty * np.maximum(-left, 0)
                )
            else:
                y = np.minimum(x + self.quantities[pipe[:, :, 0]], C)
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
