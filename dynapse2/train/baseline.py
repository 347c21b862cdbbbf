"""A rate-only readout: the accuracy a classifier reaches from spike counts alone."""

from __future__ import annotations

import numpy as np

from dynapse2 import checks


def rate_baseline_accuracy(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    steps: int = 500,
    lr: float = 0.5,
) -> float:
    """Test accuracy of a logistic regression on standardised spike counts per channel.

    A task solved by this readout can be solved by rates; one it leaves at chance needs
    timing. Binary labels only.

    Args:
        x_train, x_test: spike rasters ``(n_samples, T, n_channels)``.
        y_train, y_test: labels ``(n_samples,)`` in {0, 1}.
        steps, lr: full-batch gradient-descent steps and learning rate.
    Returns:
        The fraction of ``x_test`` classified correctly.
    """
    checks.integer("rate_baseline_accuracy", "steps", steps, lo=1)
    checks.number("rate_baseline_accuracy", "lr", lr, lo=0, lo_open=True)
    if set(np.unique(y_train)) - {0, 1}:
        raise ValueError("rate_baseline_accuracy: labels must be 0 or 1")
    f_tr, f_te = np.asarray(x_train).sum(1), np.asarray(x_test).sum(1)
    mu, sd = f_tr.mean(0), f_tr.std(0) + 1e-6
    f_tr, f_te = (f_tr - mu) / sd, (f_te - mu) / sd
    w, b = np.zeros(f_tr.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(f_tr @ w + b)))
        w -= lr * f_tr.T @ (p - y_train) / len(y_train)
        b -= lr * np.mean(p - y_train)
    return float(np.mean(((f_te @ w + b) > 0) == y_test))
