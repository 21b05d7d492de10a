"""Policies: classical baselines, exported ONNX policies and SB3 models behind one interface."""

from warehouse_sim.policies.base import Policy, PolicySpaceError, check_spaces
from warehouse_sim.policies.registry import BASELINES, make_baseline

__all__ = ["BASELINES", "Policy", "PolicySpaceError", "check_spaces", "make_baseline"]
