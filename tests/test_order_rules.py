"""Business rules of the order book that the warehouse task uses: express due times and late charges."""

from __future__ import annotations

import numpy as np
import pytest

from warehouse_sim.operations import OperationsModel, OrderState, load_scenario
from warehouse_sim.operations.ledger import PENALTY


def _model_with_orders() -> tuple[OperationsModel, list]:  # type: ignore[type-arg]
    model = OperationsModel(load_scenario("catalogue-20"), put_away=True)
    model.start_period()
    rng = np.random.default_rng(0)
    orders = []
    while len(orders) < 3:
        orders += model.arrive_orders(1.0, rng)
    return model, orders


def test_expedite_sets_the_due_time_from_placement() -> None:
    model, orders = _model_with_orders()
    order = orders[0]
    model.expedite(order, 0.25)
    assert order.due_h == order.placed_h + 0.25


def test_expedite_refuses_an_order_past_placed_and_a_bad_delay() -> None:
    model, orders = _model_with_orders()
    with pytest.raises(ValueError, match="due_after_h"):
        model.expedite(orders[0], 0.0)
    model.lose(orders[1].id)
    due = orders[1].due_h
    with pytest.raises(ValueError, match="LOST"):
        model.expedite(orders[1], 0.1)
    assert orders[1].due_h == due and orders[1].state is OrderState.LOST


def test_a_late_order_is_charged_once_into_the_ledger() -> None:
    model, orders = _model_with_orders()
    order = orders[0]
    before = model.ledger.money[PENALTY]
    assert not model.charge_late(order.id, order.due_h - 0.01, 5.0)  # not yet due
    assert model.charge_late(order.id, order.due_h + 0.01, 5.0)
    assert not model.charge_late(order.id, order.due_h + 1.0, 5.0)  # never twice
    assert model.ledger.money[PENALTY] == before + 5.0

def test_reset_forgets_the_late_charges() -> None:
    model, orders = _model_with_orders()
    model.charge_late(orders[0].id, orders[0].due_h + 0.01, 5.0)
    model.reset()
    model.start_period()
    rng = np.random.default_rng(0)
    again = []
    while len(again) < 1:
        again += model.arrive_orders(1.0, rng)
    assert model.charge_late(again[0].id, again[0].due_h + 0.01, 5.0)
