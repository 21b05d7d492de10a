"""The one import of PyBullet, with its native console chatter silenced.

PyBullet's C code writes a build banner to stderr on import and ``argv[0]=`` to stdout on
every connection, straight to the file descriptors. That would break the CLI's contract
(one error line on stderr, clean stdout), so both happen inside :func:`quiet_native_output`.
Every ``sim`` module imports ``p`` from here.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_output() -> Iterator[None]:
    """Send file descriptors 1 and 2 to ``os.devnull`` for the duration of the block."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = (os.dup(1), os.dup(2))
    except (OSError, ValueError, AttributeError):  # no usable standard streams: nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


with quiet_native_output():
    import pybullet as p
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient

__all__ = ["BulletClient", "p", "pybullet_data", "quiet_native_output"]
