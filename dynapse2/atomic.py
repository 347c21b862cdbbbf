"""Atomic file writes: :func:`atomic_write`, the one way the package writes a file.

Configurations, samna JSON and checkpoints are streamed into a temporary file in the target
directory, flushed and fsync'ed, then moved over the target with ``os.replace`` (and the
directory fsync'ed where the platform allows it). If anything fails on the way, the
temporary file is removed and a previous file at the target is left untouched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

__all__ = ["atomic_write"]


def atomic_write(
    path: str | os.PathLike, write: Callable[[IO[Any]], None], *, binary: bool = False
) -> None:
    """Call ``write(f)`` on a temporary file beside ``path`` and move it over ``path``.

    Args:
        path: the target file.
        write: writes the content into the open file ``f`` (text, UTF-8, or binary).
        binary: open the temporary file in binary mode.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename durable; not every platform can open a directory
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
