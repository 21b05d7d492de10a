"""Physics layer: the only code that imports PyBullet. Knows nothing of Gymnasium or money.

It builds bodies from the numpy-only grid geometry of :mod:`warehouse_sim.geometry`.
Submodules are imported explicitly, so importing this package loads no PyBullet.
"""
