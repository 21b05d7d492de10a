"""File output shared by every writer: atomic replacement and up-front writability checks.

Every file warehouse_sim writes (reports, figures, videos, models, checkpoints, configs,
ONNX exports) goes through :func:`atomic_path`: it is written under a temporary name in
its own folder, flushed to disk (``fsync``) and renamed over the target with
``os.replace``. A crash or ``kill -9`` at any moment leaves the previous file or the
complete new one, never a partial file (shared/RELIABILITY.md). The temporary file is
created by ``open()`` (or by the library writing it), so it gets mode ``0o666`` minus the
user's umask, exactly as the target would if written directly (``tempfile.mkstemp``
would make it ``0o600``).

:func:`check_writable` is for the command line: it checks an output path *before* the
work that produces the file, naming the user's path.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _temporary_name(target: Path) -> Path:
    """A fresh hidden name next to ``target`` that keeps its suffix (libraries read formats from it)."""
    return target.with_name(f".{target.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{target.suffix}")


def _fsync(path: Path) -> None:
    """Flush ``path`` (a file, or a folder's entries) to disk; best effort for folders."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync a folder
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block succeeds, move it over ``path``.

    The block writes the file at the yielded path (with any library that takes a path:
    ``savefig``, ``model.save``, ``imageio``, ...). Afterwards the file is fsynced and
    renamed over ``path``; if the block raises, the temporary file is removed and
    ``path`` is untouched.

    Args:
        path: The final file.

    Yields:
        The temporary path, in the same folder and with the same suffix.
    """
    target = Path(path)
    tmp = _temporary_name(target)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync(target.parent)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically.

    Raises:
        ValueError: if ``data`` holds NaN or an infinity (not JSON), naming ``path``.
    """
    try:
        text = json.dumps(data, indent=2, allow_nan=False)
    except ValueError:
        raise ValueError(f"{path}: the data holds a non-finite number (NaN or infinity), which JSON cannot represent") from None
    write_text_atomic(path, text + "\n")


def check_writable(path: str | Path, *, what: str) -> Path:
    """Check that a file can be created at ``path``, before the work that produces it.

    The folder must exist and accept a new file (checked by creating and removing a
    probe file), and ``path`` must not be a folder.

    Args:
        path: The output file the user asked for.
        what: How the error names it, e.g. ``"--out"``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OSError: naming ``what`` and ``path``, with the reason.
    """
    target = Path(path)
    folder = target.absolute().parent
    if target.is_dir():
        raise IsADirectoryError(f"{what} {path} is a folder, not a file")
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} {path}: folder {folder} does not exist")
    probe = _temporary_name(target.absolute())
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise PermissionError(f"{what} {path} cannot be written: {exc.strerror or exc}") from None
    os.close(fd)
    probe.unlink(missing_ok=True)
    return target
