"""Shuffling a data set into training and test sets."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import generator, in_range

__all__ = ["train_test_split"]


def train_test_split(
    x: Any, y: Any, test_fraction: float, key: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split samples into a training and a test set.

    Args:
        x: ``(n_samples, ...)`` inputs. y: ``(n_samples, ...)`` targets.
        test_fraction: fraction of samples in the test set, in (0, 1); the test set holds
            ``round(test_fraction * n_samples)`` samples, at least 1 and at most n_samples - 1.
        key: ``jax.random`` key or int seed.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` as NumPy arrays.
    """
    fn = "train_test_split"
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{fn}: x has shape {x.shape} and y {y.shape}; both need the same first (sample) axis"
        )
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"{fn}: need at least 2 samples to split, got {n}")
    test_fraction = in_range(fn, "test_fraction", test_fraction, 0.0, 1.0, lo_open=True)
    if test_fraction >= 1.0:
        raise ValueError(f"{fn}: test_fraction = {test_fraction!r} must be in (0, 1)")
    n_test = min(max(1, round(test_fraction * n)), n - 1)
    perm = generator(fn, key).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]
