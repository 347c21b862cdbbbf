"""The one error of every file the library reads: :class:`FileFormatError`."""

from __future__ import annotations

import os

__all__ = ["FileFormatError"]


class FileFormatError(ValueError):
    """A file is not what its loader reads: truncated, corrupted, another format, a newer
    version, a field of the wrong type or range, or a network of another structure.

    Every loader of the package (configurations, checkpoints, samna JSON) raises this, and
    only this, for any content of an existing file; the message names the file, says what is
    wrong and what to do.

    Attributes:
        path: the file.
        problem: what is wrong, in words.
    """

    def __init__(self, path: str | os.PathLike, problem: str, hint: str = "") -> None:
        self.path, self.problem = os.fspath(path), problem
        super().__init__(f"{self.path}: {problem}" + (f" ({hint})" if hint else ""))
