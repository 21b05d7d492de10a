"""Physics layer: the only code that imports PyBullet. Knows nothing of Gymnasium or money.

Submodules are imported explicitly (``warehouse_sim.sim.layout`` is numpy-only, so layouts
and grids are usable without loading PyBullet).
"""
