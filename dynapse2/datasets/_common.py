"""Argument checks, seeding and raster helpers shared by the generators."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks


# --- argument checks -------------------------------------------------------------------------
def positive_int(fn: str, name: str, v: Any, minimum: int = 1) -> int:
    """An integer >= ``minimum``: TypeError for another kind, ValueError below."""
    return checks.integer(fn, name, v, lo=minimum)


def in_range(
    fn: str, name: str, v: Any, lo: float, hi: float, *, lo_open: bool = False, unit: str = ""
) -> float:
    """A real number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``): TypeError for another
    kind (a string, None, an array), ValueError outside (naming the range and the unit)."""
    f = checks.number(fn, name, v, finite=False)
    ok = np.isfinite(f) and (f > lo if lo_open else f >= lo) and f <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"{fn}: {name} = {v!r}{unit} must be in {left}{lo:g}, {hi:g}]")
    return f


def generator(fn: str, key: Any) -> np.random.Generator:
    """A NumPy generator seeded by a ``jax.random`` key or a non-negative int."""
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"{fn}: key = {key!r} must be a jax.random key or an int >= 0")
        return np.random.default_rng(int(key))
    dtype = getattr(key, "dtype", None)  # a key is an array; anything else is refused below
    try:
        if dtype is None:
            raise TypeError
        if jnp.issubdtype(dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        data = np.asarray(key, dtype=np.uint32)
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{fn}: key = {key!r} must be a jax.random key or an int >= 0") from None
    return np.random.default_rng(data.ravel().tolist())


def labels(rng: np.random.Generator, n_samples: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n_samples) % n_classes).astype(np.int32)


def raster(
    n_steps: int, n_channels: int, sample: np.ndarray, t: np.ndarray, c: np.ndarray, n_samples: int
) -> np.ndarray:
    """Accumulate events (sample, step, channel) into float32 counts."""
    x = np.zeros((n_samples, n_steps, n_channels), np.float32)
    np.add.at(x, (sample, t, c), 1.0)
    return x
