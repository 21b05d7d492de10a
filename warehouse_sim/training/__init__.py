"""Headless training with Stable-Baselines3: typed hyperparameters, run folders, resume.

Importing this package imports neither torch nor Stable-Baselines3; :func:`train` and
:func:`resume` do.
"""

from warehouse_sim.training.config import NormalizeConfig, TrainConfig, load_train_config
from warehouse_sim.training.control import TrainingInterrupted, TrainProgress
from warehouse_sim.training.run_folder import RunFolderError
from warehouse_sim.training.runner import TrainResult, read_run_config, resume, train

__all__ = [
    "NormalizeConfig",
    "RunFolderError",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingInterrupted",
    "load_train_config",
    "read_run_config",
    "resume",
    "train",
]
