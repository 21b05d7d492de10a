"""The fleet as agents: the PettingZoo ParallelEnv (warehouse_sim.fleet_env) and Fulfilment-v0's action masks."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("pettingzoo")
pytest.importorskip("greenlet")
from pettingzoo.test import parallel_api_test, parallel_seed_test  # noqa: E402

import warehouse_sim  # noqa: E402
from warehouse_sim.envs.fleet import FleetEnv  # noqa: E402
from warehouse_sim.evaluation import evaluate, load_policy  # noqa: E402
from warehouse_sim.operations.orders import OrderState  # noqa: E402
from warehouse_sim.tasks.fulfilment import DISPATCH_RULES  # noqa: E402
from warehouse_sim.tasks.fulfilment.agents import N_GLOBAL, N_PER_CANDIDATE, NO_JOB, AgentDispatch, rule_choice  # noqa: E402

ENV_ID = "warehouse_sim/Fulfilment-v0"
KPIS = ("orders_shipped", "orders_late", "order_cycle_time_s", "robot_utilisation", "distance_m", "backlog", "collisions")


def _tiny(**kwargs: Any) -> FleetEnv:
    return warehouse_sim.fleet_env("warehouse-tiny", fidelity=kwargs.pop("fidelity", "fast"), **kwargs)


def _rule_actions(obs: dict[str, dict[str, np.ndarray]]) -> dict[str, int]:
    return {a: rule_choice(o["observation"], o["action_mask"]) for a, o in obs.items()}


def _random_actions(env: FleetEnv, obs: dict[str, dict[str, np.ndarray]], rng: np.random.Generator) -> dict[str, int]:
    """A uniformly random allowed action per agent."""
    return {a: int(rng.choice(np.flatnonzero(o["action_mask"]))) for a, o in obs.items()}


# ---------------------------------------------------------------------------- PettingZoo's own checks
@pytest.mark.parametrize(("fidelity", "stay_s"), [("fast", 0.0), ("physics", 0.0), ("fast", 30.0), ("physics", 30.0)])
def test_parallel_api_test_passes(fidelity: str, stay_s: float) -> None:
    env = _tiny(fidelity=fidelity, stay_s=stay_s)
    parallel_api_test(env, num_cycles=1000)
    env.close()


def test_parallel_seed_test_passes() -> None:
    parallel_seed_test(_tiny)


def test_same_seed_same_shift_other_seed_other_shift() -> None:
    def shift(seed: int) -> list[Any]:
        env = warehouse_sim.fleet_env("warehouse-small", fidelity="fast")
        rng = np.random.default_rng(7)
        obs, _ = env.reset(seed=seed)
        trace: list[Any] = []
        while env.agents:
            actions = _random_actions(env, obs, rng)
            obs, rewards, *_ = env.step(actions)
            trace.append((actions, {a: o["observation"].tobytes() for a, o in obs.items()}, rewards["robot_0"]))
        env.close()
        return trace

    first = shift(5)
    assert shift(5) == first
    assert shift(6) != first


# ---------------------------------------------------------------------------- masks
def test_spaces_agents_and_masks_never_all_zero() -> None:
    env = warehouse_sim.fleet_env("warehouse-small", fidelity="fast", candidates=4)
    obs, infos = env.reset(seed=1)
    n = env.task.fleet.n
    assert env.possible_agents == [f"robot_{r}" for r in range(n)] and env.agents == env.possible_agents
    assert env.action_space("robot_0") == gym.spaces.Discrete(5)
    rng = np.random.default_rng(0)
    deciding_steps = 0
    while env.agents:
        assert set(obs) == set(env.agents)
        for agent, o in obs.items():
            assert env.observation_space(agent).contains(o)
            mask = o["action_mask"]
            assert mask.dtype == np.int8 and mask.any() and mask[NO_JOB] == 1
            if infos[agent]["deciding"]:
                assert mask[1:].any(), "a deciding robot has a candidate it may take"
            else:
                assert not mask[1:].any() and not o["observation"][11:].any()  # no candidates shown
        deciding_steps += any(i["deciding"] for i in infos.values())
        obs, _, _, _, infos = env.step(_random_actions(env, obs, rng))
    assert deciding_steps > 50
    env.close()


def test_masked_actions_are_never_executed() -> None:
    """Agents that always send a forbidden action when there is one: no robot ever gets work."""
    env = warehouse_sim.fleet_env("warehouse-small", fidelity="fast")
    obs, _ = env.reset(seed=2)
    sent = 0
    info: dict[str, Any] = {}
    while env.agents:
        actions = {}
        for agent, o in obs.items():
            forbidden = np.flatnonzero(o["action_mask"] == 0)
            actions[agent] = int(forbidden[-1]) if forbidden.size else NO_JOB
            sent += bool(forbidden.size)
        obs, _, _, _, infos = env.step(actions)
        assert all(job is None for job in env.task.jobs.jobs)
        info = infos["robot_0"].get("fulfilment", info)
    assert sent > 0 and env.masked_actions == sent
    assert info["orders_shipped"] == 0 and info["robot_utilisation"] == 0.0
    env.close()


@pytest.mark.parametrize("fidelity", ["fast", "physics"])
def test_a_robot_that_stays_stands_where_it_is_until_its_hold_is_over(fidelity: str) -> None:
    """Robots without the rule's work stay; they are not sent home, and are asked home-or-stay when the hold ends."""
    stay_s, k = 20.0, 4
    env = warehouse_sim.fleet_env("warehouse-small", fidelity=fidelity, candidates=k, stay_s=stay_s, shift_hours=0.5)
    stay = k + 1
    assert env.action_space("robot_0") == gym.spaces.Discrete(k + 2) and env.dispatch.stay_action == stay
    fleet, jobs = env.task.fleet, env.task.jobs
    obs, infos = env.reset(seed=1)
    holds: dict[int, tuple[float, tuple[int, int]]] = {}  # robot -> (hold end, cell)
    homebound_asks = 0
    while env.agents:
        now = env.task.now_s
        for r, (end, cell) in list(holds.items()):
            if jobs.jobs[r] is not None or now >= end:
                del holds[r]
            else:
                assert fleet.cell(r) == cell and fleet.idle(r), "a held robot without a job moved"
        actions = {}
        for agent, o in obs.items():
            r, mask = int(agent.removeprefix("robot_")), o["action_mask"]
            assert mask[stay] == (infos[agent]["deciding"] and fleet.cell(r) != fleet.homes[r])
            if infos[agent]["deciding"] and not mask[1 : k + 1].any():
                homebound_asks += 1
                assert jobs.homebound(r, now) and mask[stay] == 1
            choice = rule_choice(o["observation"], mask, stay=stay)
            if choice == stay:
                holds[r] = (now + stay_s, fleet.cell(r))
            elif choice != NO_JOB:  # it takes work (or, without a plan now, is asked again)
                holds.pop(r, None)
            actions[agent] = choice
        obs, _, _, _, infos = env.step(actions)
        env.task.model.check_invariants()
    assert env.dispatch.stays > 0 and homebound_asks > 0 and env.masked_actions == 0
    env.close()


def test_colliding_choices_go_to_the_first_robot_and_the_others_are_asked_again() -> None:
    """Every robot wants the most urgent item it may take: one takes it, the others are asked again."""
    env = gym.make(ENV_ID, scenario="warehouse-small", fidelity="fast")
    task = env.unwrapped.task
    rounds: list[tuple[float, list[int]]] = []
    slack = [N_GLOBAL + N_PER_CANDIDATE * k + 5 for k in range(4)]

    def most_urgent(robots: list[int], observations: list[np.ndarray], masks: list[np.ndarray]) -> list[int]:
        rounds.append((task.now_s, list(robots)))
        return [1 + int(np.argmin(np.where(m[1:] > 0, o[slack], np.inf))) for o, m in zip(observations, masks, strict=True)]

    dispatch = AgentDispatch(task, most_urgent, candidates=4)
    task.jobs.dispatcher = dispatch
    policy = load_policy("baseline:horizon", env)
    obs, _ = env.reset(seed=0)
    policy.reset(env)
    for _ in range(4):
        obs, *_ = env.step(policy.act(obs))
    assert dispatch.collisions > 0 and dispatch.masked_actions == 0
    asked_again = [
        (t, robots) for (t0, before), (t, robots) in zip(rounds, rounds[1:], strict=False)
        if t == t0 and set(robots) < set(before)
    ]
    assert asked_again, "robots whose choice collided were asked again at the same moment"
    task.model.check_invariants()
    env.close()


# ---------------------------------------------------------------------------- invariants
@pytest.mark.parametrize(("seed", "stay_s"), [(3, 0.0), (4, 0.0), (5, 20.0)])
def test_units_orders_and_money_hold_over_random_multi_agent_play(seed: int, stay_s: float) -> None:
    env = warehouse_sim.fleet_env("warehouse-small", fidelity="fast", stay_s=stay_s)
    task, model = env.task, env.task.model
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    states: dict[int, OrderState] = {}
    total = 0.0
    steps = 0
    while env.agents:
        obs, rewards, terminations, truncations, infos = env.step(_random_actions(env, obs, rng))
        steps += 1
        assert len(set(rewards.values())) == 1  # a shared reward
        total += rewards["robot_0"]
        model.check_invariants()  # units conserved, no negative stock, reservations, one state per order
        held = [id(job.item) for job in task.jobs.jobs if job is not None]
        assert len(held) == len(set(held)), "an item held by two robots"
        assert not set(held) & {id(it) for it in task.jobs.items}, "a held item still waiting"
        for order in model.book.orders.values():
            before = states.get(order.id)
            if before in (OrderState.SHIPPED, OrderState.LOST):
                assert order.state is before, f"terminal order {order.id} left {before.name}"
            if order.state is OrderState.SHIPPED:
                assert order.picked.all()
            states[order.id] = order.state
        if "fulfilment" in infos["robot_0"]:
            info = infos["robot_0"]["fulfilment"]
            assert total * task.reward_scale == pytest.approx(info["cumulative"]["profit"], rel=1e-9, abs=1e-6)
            assert info["orders_shipped"] == sum(1 for s in states.values() if s is OrderState.SHIPPED)
    assert all(terminations.values()) and not any(truncations.values())
    assert steps > 50 and env.dispatch.decisions > 0 and env.masked_actions == 0
    assert (env.dispatch.stays > 0) == (stay_s > 0)
    assert info["orders_shipped"] > 0
    env.close()


# ---------------------------------------------------------------------------- the rule's choice is the rule
def _fulfilment_shift(scenario: str, fidelity: str, rule: str, seed: int) -> tuple[float, dict[str, Any]]:
    env = gym.make(ENV_ID, scenario=scenario, fidelity=fidelity)
    policy = load_policy("baseline:horizon", env)
    task = env.unwrapped.task
    obs, info = env.reset(seed=seed)
    policy.reset(env)
    total, done = 0.0, False
    while not done:
        action = np.array(policy.act(obs))
        action[task.n_classes + task.model.n_skus] = DISPATCH_RULES.index(rule)
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        done = terminated or truncated
    env.close()
    return total, info


def _fleet_shift(scenario: str, fidelity: str, rule: str, seed: int, stay_s: float = 0.0) -> tuple[float, dict[str, Any]]:
    env = warehouse_sim.fleet_env(scenario, fidelity=fidelity, rule=rule, stay_s=stay_s)
    obs, infos = env.reset(seed=seed)
    total = 0.0
    while env.agents:
        obs, rewards, _, _, infos = env.step(_rule_actions(obs))
        total += rewards["robot_0"]
    env.close()
    assert env.dispatch.collisions == 0 and env.masked_actions == 0
    return total, infos["robot_0"]["fulfilment"]


@pytest.mark.parametrize(
    ("scenario", "fidelity", "rule", "stay_s"),
    [("warehouse-small", "fast", "fifo", 0.0), ("warehouse-small", "fast", "edd", 0.0),
     ("warehouse-small", "fast", "nearest", 0.0), ("warehouse-tiny", "physics", "nearest", 0.0),
     ("warehouse-small", "fast", "nearest", 30.0), ("warehouse-tiny", "physics", "fifo", 30.0)],
)
def test_every_robot_choosing_the_rules_choice_reproduces_fulfilment_with_that_rule(
    scenario: str, fidelity: str, rule: str, stay_s: float
) -> None:
    """The rule never stays: with the stay action offered, the rule's choices still make the rule's shift."""
    expected_return, expected = _fulfilment_shift(scenario, fidelity, rule, seed=3)
    got_return, got = _fleet_shift(scenario, fidelity, rule, seed=3, stay_s=stay_s)
    assert got_return == expected_return
    assert {k: got[k] for k in KPIS} == {k: expected[k] for k in KPIS}
    assert got["cumulative"]["profit"] == expected["cumulative"]["profit"]
    assert got["orders_shipped"] > 0



@pytest.mark.parametrize("rule", DISPATCH_RULES)
def test_fleet_dispatch_baseline_rule_reproduces_fulfilment_with_that_rule(rule: str) -> None:
    """FleetDispatch-v0 (the single-agent view) with ``baseline:rule``: the same shift too."""
    expected_return, expected = _fulfilment_shift("warehouse-tiny", "fast", rule, seed=2)
    report = evaluate("warehouse_sim/FleetDispatch-v0", "baseline:rule",
                      env_kwargs={"scenario": "warehouse-tiny", "fidelity": "fast", "rule": rule}, episodes=1, seed=2)
    assert report["returns"] == [pytest.approx(expected_return, abs=1e-9)]
    assert {k: report["kpis"][k]["mean"] for k in KPIS} == pytest.approx({k: float(expected[k]) for k in KPIS})
    assert report["kpis"]["orders_shipped"]["mean"] > 0
    assert report["kpis"]["masked_actions"]["mean"] == 0

# ---------------------------------------------------------------------------- errors and packaging
def test_bad_actions_and_arguments_raise_naming_the_problem() -> None:
    env = _tiny()
    with pytest.raises(gym.error.ResetNeeded):
        env.step({})
    obs, infos = env.reset(seed=0)
    deciding = [a for a, i in infos.items() if i["deciding"]]
    assert deciding
    before = env.task.now_s
    with pytest.raises(ValueError, match="deciding agents without an action"):
        env.step({})
    with pytest.raises(ValueError, match="integer in 0..8"):
        env.step(dict.fromkeys(env.agents, 9))
    with pytest.raises(ValueError, match="integer in 0..8"):
        env.step(dict.fromkeys(env.agents, 0.5))
    with pytest.raises(ValueError, match="unknown or finished agent 'robot_9'"):
        env.step({**dict.fromkeys(env.agents, 0), "robot_9": 0})
    assert env.task.now_s == before
    env.close()
    env.close()  # idempotent
    with pytest.raises(ValueError, match="candidates must be an integer"):
        _tiny(candidates=0)
    with pytest.raises(ValueError, match="rule must be one of"):
        _tiny(rule="random")
    for bad in (-1.0, float("nan"), float("inf"), True, "30"):
        with pytest.raises(ValueError, match="stay_s must be a finite number of seconds >= 0"):
            _tiny(stay_s=bad)
    with pytest.raises(ValueError, match="unknown baseline"):
        _tiny(pricing="baseline:nope")
    with pytest.raises(ValueError, match="Fulfilment-v0"):
        FleetEnv(gym.make("warehouse_sim/Inventory-v0"), load_policy("baseline:horizon", gym.make(ENV_ID, scenario="warehouse-tiny")))


def test_state_render_and_a_failing_pricing_policy() -> None:
    env = _tiny(render_mode="rgb_array")
    env.reset(seed=0)
    assert env.state_space.contains(env.state())
    frame = env.render()
    assert frame is not None and frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8

    class Broken:
        def reset(self, _env: gym.Env[Any, Any]) -> None:
            pass

        def act(self, _obs: Any) -> Any:
            raise RuntimeError("pricing failed")

    env.pricing = Broken()
    with pytest.raises(RuntimeError, match="pricing failed"):
        env.reset(seed=0)
    assert env.agents == []
    with pytest.raises(gym.error.ResetNeeded):
        env.step({})
    env.close()


def test_import_warehouse_sim_needs_neither_pettingzoo_nor_greenlet() -> None:
    code = "import sys, warehouse_sim; print(sorted(m for m in ('pettingzoo', 'greenlet') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---------------------------------------------------------------------------- Fulfilment-v0 masks, MaskablePPO
def test_fulfilment_action_masks_allow_every_choice() -> None:
    env = gym.make(ENV_ID, scenario="warehouse-tiny", fidelity="fast")
    env.reset(seed=0)
    mask = env.unwrapped.action_masks()
    assert mask.dtype == bool and mask.shape == (int(env.action_space.nvec.sum()),) and mask.all()
    env.close()


def test_maskable_ppo_learns_on_fulfilment(tmp_path) -> None:  # noqa: ANN001
    sb3_contrib = pytest.importorskip("sb3_contrib")
    import torch
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    vec = make_vec_env(ENV_ID, n_envs=1, seed=0, env_kwargs={"scenario": "warehouse-tiny", "fidelity": "fast"})
    model = sb3_contrib.MaskablePPO("MlpPolicy", vec, n_steps=64, batch_size=32, n_epochs=2, seed=0, device="cpu")
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    model.save(tmp_path / "model.zip")
    loaded = sb3_contrib.MaskablePPO.load(tmp_path / "model.zip", device="cpu")
    obs = vec.reset()
    masks = np.stack(vec.env_method("action_masks"))
    action, _ = loaded.predict(obs, action_masks=masks, deterministic=True)
    assert vec.action_space.contains(action[0])
    vec.close()
