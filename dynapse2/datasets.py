"""Generated spike-raster tasks for training and testing (nothing is downloaded).

Every generator returns ``(x, y)``: ``x`` of shape ``(n_samples, T, n_channels)``, float32 spike
counts per time bin of ``dt`` seconds, and ``y`` of shape ``(n_samples,)``, int32 class labels,
balanced (each class appears ``n_samples // n_classes`` or one more times) and shuffled.

Randomness comes from ``key``: a ``jax.random`` key or a non-negative int. The same key always
gives the same data; generation itself runs in NumPy (event lists are easier there).

- :func:`frozen_noise`: each class is one fixed Poisson raster ("frozen noise"); a sample is
  its class's raster with every spike jittered in time, some spikes dropped and some spurious
  spikes added. Rates and timing both carry the class.
- :func:`ordered_bursts`: two channel groups A and B each fire one burst; class 0 is A then B,
  class 1 is B then A. Every channel emits exactly the same number of burst spikes in both
  classes, so spike counts per channel carry no information: only timing does.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["frozen_noise", "ordered_bursts", "train_test_split"]


# --- argument checks -------------------------------------------------------------------------
def _positive_int(fn: str, name: str, v: Any, minimum: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
        raise ValueError(f"{fn}: {name} = {v!r} must be an integer >= {minimum}")
    return int(v)


def _in_range(
    fn: str, name: str, v: Any, lo: float, hi: float, *, lo_open: bool = False, unit: str = ""
) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        f = float("nan")
    ok = np.isfinite(f) and (f > lo if lo_open else f >= lo) and f <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"{fn}: {name} = {v!r}{unit} must be in {left}{lo:g}, {hi:g}]")
    return f


def _rng(fn: str, key: Any) -> np.random.Generator:
    """A NumPy generator seeded by a ``jax.random`` key or a non-negative int."""
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        if key < 0:
            raise ValueError(f"{fn}: key = {key!r} must be a jax.random key or an int >= 0")
        return np.random.default_rng(int(key))
    try:
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        data = np.asarray(key, dtype=np.uint32)
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"{fn}: key = {key!r} must be a jax.random key or an int >= 0") from None
    return np.random.default_rng(data.ravel().tolist())


def _labels(rng: np.random.Generator, n_samples: int, n_classes: int) -> np.ndarray:
    return rng.permutation(np.arange(n_samples) % n_classes).astype(np.int32)


def _raster(
    n_steps: int, n_channels: int, sample: np.ndarray, t: np.ndarray, c: np.ndarray, n_samples: int
) -> np.ndarray:
    """Accumulate events (sample, step, channel) into float32 counts."""
    x = np.zeros((n_samples, n_steps, n_channels), np.float32)
    np.add.at(x, (sample, t, c), 1.0)
    return x


# --- frozen noise ----------------------------------------------------------------------------
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
    n_classes = _positive_int(fn, "n_classes", n_classes, 2)
    n_channels = _positive_int(fn, "n_channels", n_channels)
    dt = _in_range(fn, "dt", dt, 0.0, np.inf, lo_open=True, unit=" s")
    duration = _in_range(fn, "duration", duration, dt, np.inf, unit=" s")
    rate = _in_range(fn, "rate", rate, 0.0, 1.0 / dt, lo_open=True, unit=" Hz")
    n_samples = _positive_int(fn, "n_samples", n_samples, n_classes)
    jitter = _in_range(fn, "jitter", jitter, 0.0, np.inf, unit=" s")
    drop = _in_range(fn, "drop", drop, 0.0, 1.0)
    add = _in_range(fn, "add", add, 0.0, 1.0 / dt, unit=" Hz")
    rng = _rng(fn, key)
    n_steps = max(1, round(duration / dt))

    prototypes = rng.random((n_classes, n_steps, n_channels)) < rate * dt
    y = _labels(rng, n_samples, n_classes)
    sample, t, c = np.nonzero(prototypes[y])
    keep = rng.random(t.shape) >= drop
    sample, t, c = sample[keep], t[keep], c[keep]
    if jitter > 0:
        shift = np.rint(rng.normal(0.0, jitter / dt, t.shape)).astype(np.int64)
        t = np.clip(t + shift, 0, n_steps - 1)
    x = _raster(n_steps, n_channels, sample, t, c, n_samples)
    if add > 0:
        x += (rng.random(x.shape) < add * dt).astype(np.float32)
    return x, y


# --- ordered bursts (a timing task) ----------------------------------------------------------
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
    n_samples = _positive_int(fn, "n_samples", n_samples, 2)
    n_channels = _positive_int(fn, "n_channels", n_channels, 2)
    dt = _in_range(fn, "dt", dt, 0.0, np.inf, lo_open=True, unit=" s")
    duration = _in_range(fn, "duration", duration, dt, np.inf, unit=" s")
    spikes_per_burst = _positive_int(fn, "spikes_per_burst", spikes_per_burst)
    burst_duration = _in_range(fn, "burst_duration", burst_duration, dt, duration, unit=" s")
    gap = _in_range(fn, "gap", gap, 0.0, duration, unit=" s")
    background_rate = _in_range(fn, "background_rate", background_rate, 0.0, 1 / dt, unit=" Hz")
    if len(onset) != 2:
        raise ValueError(f"{fn}: onset = {onset!r} must be a pair (earliest, latest) in s")
    lo = _in_range(fn, "onset[0]", onset[0], 0.0, duration, unit=" s")
    hi = _in_range(fn, "onset[1]", onset[1], lo, duration, unit=" s")
    if hi + gap + burst_duration > duration * (1 + 1e-9):
        raise ValueError(
            f"{fn}: the second burst ends at onset[1] + gap + burst_duration = "
            f"{hi + gap + burst_duration:g} s, after duration = {duration:g} s; shorten "
            f"onset, gap or burst_duration, or lengthen duration"
        )
    rng = _rng(fn, key)
    n_steps = max(1, round(duration / dt))
    width = max(1, round(burst_duration / dt))
    gap_steps = round(gap / dt)
    n_a = n_channels // 2

    y = _labels(rng, n_samples, 2)
    t0 = np.rint(rng.uniform(lo, hi, n_samples) / dt).astype(np.int64)
    start_a = np.where(y == 0, t0, t0 + gap_steps)  # (n_samples,)
    start_b = np.where(y == 0, t0 + gap_steps, t0)
    start = np.where(np.arange(n_channels) < n_a, start_a[:, None], start_b[:, None])
    offsets = rng.integers(0, width, (n_samples, n_channels, spikes_per_burst))
    t = np.minimum(start[..., None] + offsets, n_steps - 1)
    sample = np.broadcast_to(np.arange(n_samples)[:, None, None], t.shape)
    chan = np.broadcast_to(np.arange(n_channels)[None, :, None], t.shape)
    x = _raster(n_steps, n_channels, sample.ravel(), t.ravel(), chan.ravel(), n_samples)
    if background_rate > 0:
        x += (rng.random(x.shape) < background_rate * dt).astype(np.float32)
    return x, y


# --- splitting -------------------------------------------------------------------------------
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
    test_fraction = _in_range(fn, "test_fraction", test_fraction, 0.0, 1.0, lo_open=True)
    if test_fraction >= 1.0:
        raise ValueError(f"{fn}: test_fraction = {test_fraction!r} must be in (0, 1)")
    n_test = min(max(1, round(test_fraction * n)), n - 1)
    perm = _rng(fn, key).permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]
