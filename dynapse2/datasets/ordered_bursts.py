"""Ordered bursts: a task only spike timing can solve."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import generator, in_range, labels, positive_int, raster

__all__ = ["ordered_bursts"]


def ordered_bursts(
    n_samples: int,
    key: Any,
    *,
    n_channels: int = 20,
    duration: float = 0.2,
    dt: float = 1e-3,
    spikes_per_burst: int = 3,
    burst_duration: float = 0.01,
    gap: float = 0.02,
    onset: tuple[float, float] = (0.02, 0.1),
    background_rate: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Two bursts in order: the class is which channel group fires first.

    The channels are split into group A (the first ``n_channels // 2``) and group B (the rest).
    Every sample holds one burst of A and one of B: each channel of a group emits exactly
    ``spikes_per_burst`` spikes at uniformly random bins (with replacement) within
    ``burst_duration`` of its group's burst start. Class 0: A starts at ``t0``, B at
    ``t0 + gap``; class 1: B at ``t0``, A at ``t0 + gap``; ``t0`` is drawn uniformly from
    ``onset`` (s) per sample. Poisson background spikes at ``background_rate`` (Hz) are added
    to every channel of both classes alike.

    So the spike count of every channel has the same distribution in both classes (the burst
    part is even identical): a readout of counts or rates per channel is at chance (50 %), and
    only the order of the bursts in time tells the classes apart.

    Args:
        n_samples: number of samples (>= 2).
        key: ``jax.random`` key or int seed.
        n_channels: input channels (>= 2, even or odd).
        duration: sample length (s); ``T = round(duration / dt)``.
        dt: time step (s).
        spikes_per_burst: spikes per channel per burst (>= 1).
        burst_duration: width of a burst (s), at least ``dt``.
        gap: delay between the two burst starts (s), >= 0.
        onset: ``(earliest, latest)`` start of the first burst (s); the second burst must end
            within ``duration``: ``latest + gap + burst_duration <= duration``.
        background_rate: Poisson background rate per channel (Hz), ``0 <= rate * dt <= 1``.

    Returns:
        ``x``: ``(n_samples, T, n_channels)`` float32 spike counts; ``y``: ``(n_samples,)`` int32
        labels (0: A then B, 1: B then A), balanced and shuffled.

    Raises:
        ValueError: an argument out of its range, or bursts that do not fit into ``duration``.
    """
    fn = "ordered_bursts"
    n_samples = positive_int(fn, "n_samples", n_samples, 2)
    n_channels = positive_int(fn, "n_channels", n_channels, 2)
    dt = in_range(fn, "dt", dt, 0.0, np.inf, lo_open=True, unit=" s")
    duration = in_range(fn, "duration", duration, dt, np.inf, unit=" s")
    spikes_per_burst = positive_int(fn, "spikes_per_burst", spikes_per_burst)
    burst_duration = in_range(fn, "burst_duration", burst_duration, dt, duration, unit=" s")
    gap = in_range(fn, "gap", gap, 0.0, duration, unit=" s")
    background_rate = in_range(fn, "background_rate", background_rate, 0.0, 1 / dt, unit=" Hz")
    if len(onset) != 2:
        raise ValueError(f"{fn}: onset = {onset!r} must be a pair (earliest, latest) in s")
    lo = in_range(fn, "onset[0]", onset[0], 0.0, duration, unit=" s")
    hi = in_range(fn, "onset[1]", onset[1], lo, duration, unit=" s")
    if hi + gap + burst_duration > duration * (1 + 1e-9):
        raise ValueError(
            f"{fn}: the second burst ends at onset[1] + gap + burst_duration = "
            f"{hi + gap + burst_duration:g} s, after duration = {duration:g} s; shorten "
            f"onset, gap or burst_duration, or lengthen duration"
        )
    rng = generator(fn, key)
    n_steps = max(1, round(duration / dt))
    width = max(1, round(burst_duration / dt))
    gap_steps = round(gap / dt)
    n_a = n_channels // 2

    y = labels(rng, n_samples, 2)
    t0 = np.rint(rng.uniform(lo, hi, n_samples) / dt).astype(np.int64)
    start_a = np.where(y == 0, t0, t0 + gap_steps)  # (n_samples,)
    start_b = np.where(y == 0, t0 + gap_steps, t0)
    start = np.where(np.arange(n_channels) < n_a, start_a[:, None], start_b[:, None])
    offsets = rng.integers(0, width, (n_samples, n_channels, spikes_per_burst))
    t = np.minimum(start[..., None] + offsets, n_steps - 1)
    sample = np.broadcast_to(np.arange(n_samples)[:, None, None], t.shape)
    chan = np.broadcast_to(np.arange(n_channels)[None, :, None], t.shape)
    x = raster(n_steps, n_channels, sample.ravel(), t.ravel(), chan.ravel(), n_samples)
    if background_rate > 0:
        x += (rng.random(x.shape) < background_rate * dt).astype(np.float32)
    return x, y
