"""Generated data sets: shapes, balance, perturbation statistics, determinism, errors."""

import jax
import numpy as np
import pytest
from seeds import sweep

from dynapse2.datasets import frozen_noise, ordered_bursts, train_test_split

FN = dict(n_classes=3, n_channels=20, duration=0.2, dt=1e-3, rate=50.0, n_samples=30)


def test_frozen_noise_shapes_and_balanced_labels():
    x, y = frozen_noise(**FN, key=0)
    assert x.shape == (30, 200, 20) and x.dtype == np.float32
    assert y.shape == (30,) and np.issubdtype(y.dtype, np.integer)
    assert np.bincount(y).tolist() == [10, 10, 10]


@pytest.mark.parametrize("seed", sweep())
def test_frozen_noise_without_perturbation_repeats_the_class_raster(seed):
    x, y = frozen_noise(**FN, key=1 + seed)
    for c in range(3):
        samples = x[y == c]
        assert (samples == samples[0]).all()
    assert not (x[y == 0][0] == x[y == 1][0]).all()
    # 50 Hz requested. The samples repeat 3 class rasters of 200 x 20 bins at p = 0.05: 600
    # spikes expected, std 24, so the rate has std 2.0 Hz and the bounds are 7.5 sigma;
    # 12 seeds: min 46.1, median 49.1, max 55.5 Hz
    rate = x.mean() / FN["dt"]
    assert 35 < rate < 65


def test_frozen_noise_determinism_by_key():
    a = frozen_noise(**FN, key=jax.random.PRNGKey(3), jitter=2e-3, drop=0.1, add=5.0)
    b = frozen_noise(**FN, key=jax.random.PRNGKey(3), jitter=2e-3, drop=0.1, add=5.0)
    c = frozen_noise(**FN, key=jax.random.PRNGKey(4), jitter=2e-3, drop=0.1, add=5.0)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    assert not (a[0] == c[0]).all()


@pytest.mark.parametrize("seed", sweep())
def test_frozen_noise_drop_and_add_statistics(seed):
    base, _ = frozen_noise(**{**FN, "n_samples": 300}, key=5 + seed)
    dropped, _ = frozen_noise(**{**FN, "n_samples": 300}, key=5 + seed, drop=0.3)
    # each of ~60000 spikes kept with p = 0.7: std sqrt(0.21 / 60000) = 0.0019 (abs=0.02:
    # 10 sigma); 12 seeds: min 0.6989, median 0.6999, max 0.7015
    assert dropped.sum() / base.sum() == pytest.approx(0.7, abs=0.02)
    added, _ = frozen_noise(**{**FN, "n_samples": 300}, key=5 + seed, add=20.0)
    extra_rate = (added.sum() - base.sum()) / (added.size * FN["dt"])
    # 1.2e6 bins at p = 0.02: 24000 spikes expected, std 153, so std 0.13 Hz (rel=0.05:
    # 7.8 sigma); 12 seeds: min 19.78, median 19.98, max 20.17 Hz
    assert extra_rate == pytest.approx(20.0, rel=0.05)


@pytest.mark.parametrize("seed", sweep())
def test_frozen_noise_jitter_moves_spikes_by_the_requested_std(seed):
    kw = {**FN, "n_classes": 2, "n_channels": 1, "rate": 10.0, "n_samples": 400, "duration": 1.0}
    x0, y0 = frozen_noise(**kw, key=7 + seed)
    x1, y1 = frozen_noise(**kw, key=7 + seed, jitter=5e-3)
    assert (y0 == y1).all() and x0.sum() == x1.sum()  # jitter moves, never loses, spikes
    assert not (x0 == x1).all()
    # Per sample, the mean spike time shifts by ~ jitter / sqrt(n_spikes): compare the spread
    # of single-spike offsets via the class raster's spike times.
    t = np.arange(x0.shape[1])
    proto = x0[y0 == 0][0, :, 0]
    times = t[proto > 0]
    shifts = []
    for s in x1[y1 == 0][:, :, 0]:
        got = np.repeat(t, s.astype(int))
        if len(got) == len(times):
            shifts.append(got - times)  # sorted lists; valid when spikes are far apart
    std = np.std(np.concatenate(shifts)) * 1e-3
    # 12 seeds (6 to 20 spikes x 200 samples): min 4.63e-3, median 4.92e-3, max 5.09e-3 s,
    # spread 0.13e-3 s: the bounds are 8 spreads away
    assert 3.5e-3 < std < 6.5e-3


def test_ordered_bursts_counts_are_identical_across_classes_without_background():
    x, y = ordered_bursts(40, key=0, background_rate=0.0)
    counts = x.sum(axis=1)
    assert (counts == 3).all()  # every channel: exactly spikes_per_burst in both classes
    assert np.bincount(y).tolist() == [20, 20]


def test_ordered_bursts_order_carries_the_class():
    x, y = ordered_bursts(40, key=1, background_rate=0.0, n_channels=10)
    t = np.arange(x.shape[1])[None, :]
    first_a = np.array([t[0][s[:, :5].sum(1) > 0].min() for s in x])
    first_b = np.array([t[0][s[:, 5:].sum(1) > 0].min() for s in x])
    assert ((first_a < first_b) == (y == 0)).all()


def test_train_test_split_partitions_the_samples():
    x = np.arange(20)[:, None, None] * np.ones((20, 2, 3))
    y = np.arange(20)
    xtr, xte, ytr, yte = train_test_split(x, y, 0.25, key=0)
    assert len(yte) == 5 and len(ytr) == 15
    assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(20))
    assert (xtr[:, 0, 0] == ytr).all()


@pytest.mark.parametrize(
    "kw, text",
    [
        ({"n_classes": 1}, "n_classes = 1 must be an integer >= 2"),
        ({"rate": 2000.0}, "rate = 2000.0 Hz must be in (0, 1000]"),
        ({"dt": -1.0}, "dt = -1.0 s must be in (0, inf]"),
        ({"drop": 1.5}, "drop = 1.5 must be in [0, 1]"),
        ({"jitter": -1e-3}, "jitter = -0.001 s must be in [0, inf]"),
        ({"n_samples": 2}, "n_samples = 2 must be an integer >= 3"),
    ],
)
def test_frozen_noise_errors(kw, text):
    with pytest.raises(ValueError, match="frozen_noise: " + __import__("re").escape(text)):
        frozen_noise(**{**FN, **kw}, key=0)


def test_ordered_bursts_and_split_errors():
    with pytest.raises(
        ValueError, match=r"ordered_bursts: the second burst ends at .* after duration"
    ):
        ordered_bursts(10, key=0, duration=0.1, onset=(0.0, 0.09))
    with pytest.raises(ValueError, match="ordered_bursts: n_channels = 1 must be an integer >= 2"):
        ordered_bursts(10, key=0, n_channels=1)
    with pytest.raises(ValueError, match="key = -1 must be a jax.random key or an int >= 0"):
        ordered_bursts(10, key=-1)
    with pytest.raises(ValueError, match=r"test_size = 1.0 must be in \(0, 1\)"):
        train_test_split(np.zeros((4, 1, 1)), np.zeros(4), 1.0, key=0)
    with pytest.raises(ValueError, match=r"test_size = 4 test samples must be in 1 \.\. 3"):
        train_test_split(np.zeros((4, 1, 1)), np.zeros(4), 4, key=0)
    with pytest.raises(TypeError, match="test_fraction is now called test_size"):
        train_test_split(np.zeros((4, 1, 1)), np.zeros(4), test_fraction=0.5, key=0)
    with pytest.raises(TypeError, match="key is required"):
        train_test_split(np.zeros((4, 1, 1)), np.zeros(4), 0.5)
    with pytest.raises(ValueError, match="same first"):
        train_test_split(np.zeros((4, 1, 1)), np.zeros(3), 0.5, key=0)
