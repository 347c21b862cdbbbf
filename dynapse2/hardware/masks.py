"""Bit masks <-> their bits, defined once: a CAM entry's 4-bit weight mask (bit k selects the
base weight current Iw_k) and a destination's core mask (bit k selects core k).

samna and its JSON hold a mask as a list of booleans, bit 0 first; the configuration and the
quantizers hold it as an integer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["bit_table", "bits_mask", "mask_bits", "masks_of"]


def mask_bits(mask: int, n: int) -> tuple[bool, ...]:
    """The ``n`` bits of integer ``mask`` as booleans, bit 0 first."""
    return tuple(bool((mask >> k) & 1) for k in range(n))


def bits_mask(bits: Iterable[Any]) -> int:
    """The integer whose bit ``k`` is ``bool(bits[k])``: the inverse of :func:`mask_bits`."""
    return sum(int(bool(b)) << k for k, b in enumerate(bits))


def bit_table(n: int) -> np.ndarray:
    """``(2**n, n)`` int64 table: row ``m`` holds the bits of mask ``m`` (0/1, bit 0 first)."""
    return (np.arange(1 << n)[:, None] >> np.arange(n)) & 1


def masks_of(bits: Any) -> np.ndarray:
    """Vectorised :func:`bits_mask`: ``(..., n)`` booleans (or 0/1) -> ``(...)`` int masks."""
    bits = np.asarray(bits)
    return bits @ (1 << np.arange(bits.shape[-1]))
