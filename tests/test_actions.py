"""Action validation shared by the envs (`warehouse_sim.envs._actions`): the per-step fast path and its edges."""

from __future__ import annotations

import numpy as np
import pytest

from warehouse_sim.envs._actions import BoxAction


def test_an_action_inside_the_bounds_comes_back_as_a_copy_of_its_dtype() -> None:
    check = BoxAction((2,), -1.0, 1.0)
    for dtype in (np.float16, np.float32, np.float64):
        action = np.array([0.25, -1.0], dtype=dtype)
        out = check(action)
        assert out is not action and out.dtype == dtype
        np.testing.assert_array_equal(out, action)


def test_an_action_outside_the_bounds_is_clipped() -> None:
    out = BoxAction((2,), np.array([-1.0, 0.0]), np.array([1.0, 2.0]))(np.array([3.0, -0.5], dtype=np.float32))
    assert out.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("bounds", [(-1.0, 1.0), (-np.inf, np.inf)])
def test_nan_and_inf_are_refused_whatever_the_bounds(bad: float, bounds: tuple[float, float]) -> None:
    with pytest.raises(ValueError, match="finite"):
        BoxAction((2,), *bounds)(np.array([0.0, bad]))


@pytest.mark.parametrize("shape", [(2, 1), (1, 2), (3,), ()])
def test_another_shape_is_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        BoxAction((2,), -1.0, 1.0)(np.zeros(shape))


def test_other_numbers_become_float64() -> None:
    check = BoxAction((2,), -1.0, 1.0)
    for action in ([0, 1], np.array([0.5, 0.25], dtype=object), (0.5, -0.5)):
        out = check(action)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, np.asarray(action, dtype=np.float64))
