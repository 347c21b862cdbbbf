"""Atomic file writes: :func:`atomic_write`, the one way the package writes a file.

Configurations, samna JSON and checkpoints are streamed into a temporary file in the target
directory, flushed and fsync'ed, then moved over the target with ``os.replace`` (and the
directory fsync'ed where the platform allows it). If anything fails on the way, the
temporary file is removed and a previous file at the target is left untouched.

No litter: a temporary file is named ``.<target name>.<pid>.<random>.tmp`` after the process
that writes it. A process killed mid-write (``SIGKILL``, preemption) cannot remove its own, so
every save first removes the temporary files of the same target whose process no longer runs;
those of a live process (a concurrent saver of the same path) are left alone. (A process id
is checked on this machine only: savers on other hosts of a shared file system are assumed
alive, and their files are kept.)
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
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{path}: not written: the directory {directory} does not exist")
    name = os.path.basename(path)
    _remove_stale(directory, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=directory)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it runs
        return True
    return True


def _remove_stale(directory: str, name: str) -> None:
    """Remove the temporary files of target ``name`` left by processes that no longer run."""
    prefix = f".{name}."
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(".tmp")):
            continue
        pid = entry[len(prefix) :].split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, entry))
            except FileNotFoundError:
                pass  # another saver removed it first
