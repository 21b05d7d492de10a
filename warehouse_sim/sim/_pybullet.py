"""The one import of PyBullet, with its native console chatter silenced.

PyBullet's C code writes a build banner to stderr on import and ``argv[0]=`` to stdout on
every connection, straight to the file descriptors. That would break the CLI's contract
(one error line on stderr, clean stdout), so both happen inside
:func:`~warehouse_sim._native.quiet_native_output`.
Every ``sim`` module imports ``p`` from here.
"""

from __future__ import annotations

from warehouse_sim._native import quiet_native_output

with quiet_native_output():
    import pybullet as p
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient

__all__ = ["BulletClient", "p", "pybullet_data", "quiet_native_output"]
