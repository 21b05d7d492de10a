"""Silencing native code that writes straight to the standard file descriptors.

PyBullet's C code prints a build banner, ``argv[0]=`` on every connection and, with its
GUI, graphics-driver and thread-shutdown messages (from its own threads, at any time).
Python's ``sys.stdout`` cannot catch those: :func:`quiet_native_output` points file
descriptors 1 and 2 at ``os.devnull`` for the duration of a block.
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
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
