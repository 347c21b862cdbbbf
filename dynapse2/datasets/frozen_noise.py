"""Frozen noise: one fixed Poisson raster per class, perturbed per sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import generator, in_range, labels, positive_int, raster

__all__ = ["frozen_noise"]


def frozen_noise(
    n_classes: int,
    n_channels: int,
    duration: float,
    dt: float,
    rate: float,
    n_samples: int,
    key: Any,
    *,
    jitter: float = 0.0,
    drop: float = 0.0,
    add: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Frozen-noise classification: one fixed Poisson raster per class, perturbed per sample.

    Args:
        n_classes: number of classes (>= 2).
        n_channels: input channels (>= 1).
        duration: length of a sample (s); ``T = round(duration / dt)`` steps (>= 1).
        dt: time step (s), > 0.
        rate: firing rate of each channel of a class's raster (Hz), with ``rate * dt <= 1``
            (each bin of the frozen raster holds at most one spike).
        n_samples: number of samples (>= n_classes).
        key: ``jax.random`` key or int seed.
        jitter: standard deviation (s) of a Gaussian shift applied independently to every
            spike of every sample, rounded to the nearest bin and clipped into the sample.
        drop: probability in [0, 1] that a spike of the class raster is removed from a sample.
        add: rate (Hz) of spurious Poisson spikes added to every channel of every sample, with
            ``add * dt <= 1``.

    Returns:
        ``x``: ``(n_samples, T, n_channels)`` float32 spike counts (a bin may hold more than
        one spike after jitter or additions); ``y``: ``(n_samples,)`` int32 labels in
        ``0..n_classes-1``, balanced and shuffled.

    Raises:
        ValueError: an argument out of its range (the message names it, its value and the
            allowed range).
    """
    fn = "frozen_noise"
    n_classes = positive_int(fn, "n_classes", n_classes, 2)
    n_channels = positive_int(fn, "n_channels", n_channels)
    dt = in_range(fn, "dt", dt, 0.0, np.inf, lo_open=True, unit=" s")
    duration = in_range(fn, "duration", duration, dt, np.inf, unit=" s")
    rate = in_range(fn, "rate", rate, 0.0, 1.0 / dt, lo_open=True, unit=" Hz")
    n_samples = positive_int(fn, "n_samples", n_samples, n_classes)
    jitter = in_range(fn, "jitter", jitter, 0.0, np.inf, unit=" s")
    drop = in_range(fn, "drop", drop, 0.0, 1.0)
    add = in_range(fn, "add", add, 0.0, 1.0 / dt, unit=" Hz")
    rng = generator(fn, key)
    n_steps = max(1, round(duration / dt))

    prototypes = rng.random((n_classes, n_steps, n_channels)) < rate * dt
    y = labels(rng, n_samples, n_classes)
    sample, t, c = np.nonzero(prototypes[y])
    keep = rng.random(t.shape) >= drop
    sample, t, c = sample[keep], t[keep], c[keep]
    if jitter > 0:
        shift = np.rint(rng.normal(0.0, jitter / dt, t.shape)).astype(np.int64)
        t = np.clip(t + shift, 0, n_steps - 1)
    x = raster(n_steps, n_channels, sample, t, c, n_samples)
    if add > 0:
        x += (rng.random(x.shape) < add * dt).astype(np.float32)
    return x, y
