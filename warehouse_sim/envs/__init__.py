"""Gymnasium environments: the only ``gymnasium.Env`` subclasses. Modules load lazily via registration entry points."""
