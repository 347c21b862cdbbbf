"""The Yin-Yang data set (Kriener, Goeltz & Petrovici 2021): three classes of points in a disc.

A small two-dimensional task that a linear classifier cannot solve (the published shallow
reference reaches 64.3 %) but a one-hidden-layer network can (a 4-120-3 ANN reaches 98.7 %):
the standard test of whether a spiking network trains through a hidden layer. The published
generator rules, reproduced here:

- points ``(x, y)`` are drawn uniformly in the square ``[0, 2 r_big]^2`` and kept if they lie
  in the disc of radius ``r_big`` about ``(r_big, r_big)``;
- the two dots have radius ``r_small`` and centres ``(r_big / 2, r_big)`` (left) and
  ``(3 r_big / 2, r_big)`` (right); with ``d_l``, ``d_r`` the distances to them a point is
  *yin* when ``d_r <= r_small``, or ``r_small < d_l <= r_big / 2``, or
  ``y > r_big and d_r > r_big / 2``; it is a *dot* (class 2) when ``d_r < r_small`` or
  ``d_l < r_small``; otherwise class ``int(is_yin)`` (the published ``int(is_yin)`` rule: yang
  is class 0, yin class 1);
- a sample first picks its class, then draws points until one of that class is found
  (rejection sampling), so the classes are balanced although their areas differ;
- each point is presented as ``(x, y, 1 - x, 1 - y)``, so every input carries the same mean
  and the network needs no bias to tell a small coordinate from a large one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import generator, in_range, labels, positive_int

__all__ = ["YIN_YANG_CLASSES", "yin_yang", "yin_yang_class"]

YIN_YANG_CLASSES: tuple[str, str, str] = ("yang", "yin", "dot")
"""Class names by label, as the published generator's ``int(is_yin)`` rule numbers them."""


def yin_yang_class(x: Any, y: Any, r_small: float = 0.1, r_big: float = 0.5) -> np.ndarray:
    """The class (0 yang, 1 yin, 2 dot) of points ``(x, y)`` of the disc, elementwise.

    Args:
        x, y: coordinates, arrays of one shape (points outside the disc get a class too; the
            generator never draws them).
        r_small: radius of the two dots. r_big: radius of the disc.

    Returns:
        int32 array of the broadcast shape of ``x`` and ``y``.
    """
    r_big = in_range("yin_yang_class", "r_big", r_big, 0.0, np.inf, lo_open=True)
    r_small = in_range("yin_yang_class", "r_small", r_small, 0.0, r_big / 4, lo_open=True)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    is_yin = (
        (d_right <= r_small)
        | ((d_left > r_small) & (d_left <= 0.5 * r_big))
        | ((y > r_big) & (d_right > 0.5 * r_big))
    )
    is_dot = (d_right < r_small) | (d_left < r_small)
    return np.where(is_dot, 2, is_yin.astype(np.int64)).astype(np.int32)


def yin_yang(
    n_samples: int, key: Any, *, r_small: float = 0.1, r_big: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Points of the Yin-Yang data set and their classes (see the module docstring).

    Args:
        n_samples: number of points (>= 3).
        key: ``jax.random`` key or int seed; the same key gives the same points.
        r_small: radius of the dots, in ``(0, r_big / 4]`` so that the dots lie inside their
            half-discs. r_big: radius of the disc (> 0); coordinates lie in ``[0, 2 r_big]``.

    Returns:
        ``points``: ``(n_samples, 4)`` float32 ``(x, y, 1 - x, 1 - y)`` (for the default
        ``r_big = 0.5`` every entry lies in [0, 1]); ``y``: ``(n_samples,)`` int32 labels
        (0 yang, 1 yin, 2 dot), balanced (each class ``n_samples // 3`` or one more times)
        and shuffled.

    Raises:
        ValueError: an argument out of its range.
    """
    fn = "yin_yang"
    n_samples = positive_int(fn, "n_samples", n_samples, 3)
    r_big = in_range(fn, "r_big", r_big, 0.0, np.inf, lo_open=True)
    r_small = in_range(fn, "r_small", r_small, 0.0, r_big / 4, lo_open=True)
    rng = generator(fn, key)
    y = labels(rng, n_samples, 3)
    xy = np.empty((n_samples, 2))
    for c in range(3):
        want = np.flatnonzero(y == c)
        found: list[np.ndarray] = []
        n_found = 0
        while n_found < want.size:
            p = rng.random((max(64, 4 * (want.size - n_found)), 2)) * 2.0 * r_big
            inside = np.hypot(p[:, 0] - r_big, p[:, 1] - r_big) <= r_big
            p = p[inside]
            p = p[yin_yang_class(p[:, 0], p[:, 1], r_small, r_big) == c]
            found.append(p)
            n_found += len(p)
        xy[want] = np.concatenate(found)[: want.size]
    points = np.concatenate([xy, 1.0 - xy], axis=1).astype(np.float32)
    return points, y
