"""Shuffling a data set into training and test sets."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import generator, in_range

__all__ = ["train_test_split"]


def train_test_split(
    x: Any, y: Any, test_size: float | int = 0.25, *, key: Any = None, **renamed: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle and split samples into a training and a test set (scikit-learn's convention).

    Args:
        x: ``(n_samples, ...)`` inputs. y: ``(n_samples, ...)`` targets.
        test_size: a float in (0, 1), the fraction of samples in the test set (it holds
            ``round(test_size * n_samples)`` samples, at least 1 and at most n_samples - 1);
            or an int in 1 .. n_samples - 1, the number of test samples.
        key: ``jax.random`` key or int seed (required: the split is random).

    Returns:
        ``(x_train, x_test, y_train, y_test)`` as NumPy arrays, in scikit-learn's order.

    Raises:
        TypeError: the keyword ``test_fraction`` of earlier versions (now ``test_size``, and
            the order of the result is scikit-learn's), or another unknown keyword.
    """
    fn = "train_test_split"
    if "test_fraction" in renamed:
        raise TypeError(
            f"{fn}: test_fraction is now called test_size (scikit-learn's name), and the "
            "result is (x_train, x_test, y_train, y_test) in scikit-learn's order"
        )
    if renamed:
        raise TypeError(f"{fn}: unexpected keyword(s) {sorted(renamed)}")
    if key is None:
        raise TypeError(f"{fn}: key is required (a jax.random key or an int seed)")
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{fn}: x has shape {x.shape} and y {y.shape}; both need the same first (sample) axis"
        )
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"{fn}: need at least 2 samples to split, got {n}")
    if isinstance(test_size, int | np.integer) and not isinstance(test_size, bool):
        if not 1 <= test_size <= n - 1:
            raise ValueError(
                f"{fn}: test_size = {test_size!r} test samples must be in 1 .. {n - 1} "
                f"(n_samples - 1), or give a fraction in (0, 1)"
            )
        n_test = int(test_size)
    else:
        test_size = in_range(fn, "test_size", test_size, 0.0, 1.0, lo_open=True)
        if test_size >= 1.0:
            raise ValueError(f"{fn}: test_size = {test_size!r} must be in (0, 1)")
        n_test = min(max(1, round(test_size * n)), n - 1)
    perm = generator(fn, key).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], x[test], y[train], y[test]
