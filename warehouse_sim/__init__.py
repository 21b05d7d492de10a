"""warehouse_sim: a robotic warehouse simulation suite for reinforcement learning.

Importing the package registers the Gymnasium environments (see
:mod:`warehouse_sim.registration`). It never imports torch or Stable-Baselines3.
"""

from warehouse_sim.registration import ENV_IDS, register_envs

__version__ = "0.1.0"
__all__ = ["ENV_IDS", "__version__", "register_envs"]

register_envs()
