"""Argument checks at the public boundary: one message format for every function.

Each check takes ``where`` (the function or class, e.g. ``"latency_encode"``), the
parameter's ``name`` and its ``value``, and returns the value converted (a Python ``float``,
``int``, ``bool`` or ``str``) or raises:

- ``TypeError`` for a value of the wrong kind (a string or None where a number belongs, a
  float where an integer belongs, an array where a scalar belongs):
  ``"where: name = '1e-3' must be a number, got str"``;
- ``ValueError`` for a value out of range or not an allowed option, naming the range or the
  options: ``"where: dt = -0.001 must be a finite number > 0"``,
  ``"where: mismatch = 1.5 must be in [0, 1)"``,
  ``"where: reduce = 'bogus' must be one of ['mean', 'median', 'raise']"``.

Checks run before any work, and options are checked even when the data would not use them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["boolean", "choice", "integer", "is_real", "mismatch", "number", "path"]


def is_real(v: Any) -> bool:
    """A real scalar: a Python int or float, or a NumPy / JAX scalar of integer or float kind
    (never a bool, a string, None or an array of more than one element)."""
    if isinstance(v, bool | np.bool_):
        return False
    if isinstance(v, int | float):
        return True
    kind = getattr(getattr(v, "dtype", None), "kind", None)
    return kind in ("i", "u", "f") and np.ndim(v) == 0


def _range(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi:g}"
    return ""


def number(
    where: str,
    name: str,
    value: Any,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    finite: bool = True,
) -> float:
    """A real number in the range (``lo_open``: ``> lo`` rather than ``>= lo``), finite
    unless ``finite=False``; as a Python float."""
    if not is_real(value):
        raise TypeError(f"{where}: {name} = {value!r} must be a number, got {type(value).__name__}")
    v = float(value)
    bad = (
        math.isnan(v)
        or (finite and math.isinf(v))
        or (lo is not None and (v <= lo if lo_open else v < lo))
        or (hi is not None and (v >= hi if hi_open else v > hi))
    )
    if bad:
        raise ValueError(
            f"{where}: {name} = {value!r} must be {_allowed(lo, hi, lo_open, hi_open, finite)}"
        )
    return v


def mismatch(where: str, name: str, value: Any, *, zero: bool = True) -> float:
    """A relative standard deviation of device mismatch: a number in [0, 1) (in (0, 1) with
    ``zero=False``); as a Python float."""
    return number(where, name, value, lo=0, hi=1, lo_open=not zero, hi_open=True)


def _allowed(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, finite: bool) -> str:
    """``in [0, 1)`` for a two-sided range (finite by itself), else ``a finite number > 0``."""
    if lo is not None and hi is not None:
        return _range(lo, hi, lo_open, hi_open)
    kind = "a finite number" if finite else "a number"
    one_sided = _range(lo, hi, lo_open, hi_open)
    return f"{kind} {one_sided}" if one_sided else kind


def integer(
    where: str, name: str, value: Any, *, lo: int | None = None, hi: int | None = None
) -> int:
    """An integer (Python or NumPy, not a bool or a float) in ``lo..hi``; as a Python int."""
    integral = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if not integral:
        raise TypeError(
            f"{where}: {name} = {value!r} must be an integer, got {type(value).__name__}"
        )
    v = int(value)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        allowed = (
            f"in {lo}..{hi}" if lo is not None and hi is not None else _range(lo, hi, False, False)
        )
        raise ValueError(f"{where}: {name} = {value!r} must be an integer {allowed}")
    return v


def boolean(where: str, name: str, value: Any) -> bool:
    """``True`` or ``False`` (a Python or NumPy bool; not 0, 1 or a string)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{where}: {name} = {value!r} must be True or False, got {type(value).__name__}"
        )
    return bool(value)


def choice(where: str, name: str, value: Any, allowed: Iterable[str]) -> str:
    """One of the ``allowed`` strings."""
    allowed = list(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{where}: {name} = {value!r} must be one of {allowed}")
    return value


def path(where: str, name: str, value: Any) -> str:
    """A file path (``str`` or ``os.PathLike``); as a ``str``."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(
            f"{where}: {name} = {value!r} must be a path (str or os.PathLike), "
            f"got {type(value).__name__}"
        )
    return os.fspath(value)
