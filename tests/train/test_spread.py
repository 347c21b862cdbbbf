"""Spread of results: statistics against NumPy, mismatch draws reproduced one by one."""

import jax
import numpy as np
import pytest

from dynapse2.datasets import frozen_noise
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import Spread, evaluate, mismatch_spread, spike_count_cross_entropy


def test_statistics_and_text():
    s = Spread([0.9, 0.95, 1.0])
    assert s.n == 3 and s.values == (0.9, 0.95, 1.0)
    assert s.mean == pytest.approx(0.95)
    assert s.std == pytest.approx(np.std([0.9, 0.95, 1.0], ddof=1))
    assert (s.min, s.max) == (0.9, 1.0)
    assert str(s) == "95.0 ± 5.0 % (min 90.0, max 100.0, n = 3)"
    assert Spread([2.0], percent=False).std == 0.0
    assert str(Spread([2.0], percent=False)) == "2.0 ± 0.0 (min 2.0, max 2.0, n = 1)"


def test_empty_is_an_error():
    with pytest.raises(ValueError, match="Spread: values is empty"):
        Spread([])


def test_mismatch_spread_is_evaluate_over_split_keys():
    x, y = frozen_noise(
        n_classes=2, n_channels=8, duration=0.05, dt=1e-3, rate=80.0, n_samples=16, key=0
    )
    net = Sequential(Linear((8, 2), key=jax.random.PRNGKey(1)), DynapSim(2))
    loss = spike_count_cross_entropy
    s = mismatch_spread(net, x, y, loss, mismatch=0.2, draws=3, key=7)
    keys = jax.random.split(jax.random.PRNGKey(7), 3)
    expected = [evaluate(net, x, y, loss, mismatch=0.2, key=k)[1] for k in keys]
    assert s.values == tuple(expected)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(mismatch=0.0), r"mismatch_spread: mismatch = 0.0 must be in \(0, 1\)"),
        (dict(mismatch=1.5), r"mismatch_spread: mismatch = 1.5 must be in \(0, 1\)"),
        (dict(mismatch=0.2, draws=0), "mismatch_spread: draws = 0 must be an integer >= 1"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    net = Sequential(Linear((8, 2), key=jax.random.PRNGKey(1)), DynapSim(2))
    with pytest.raises(ValueError, match=message):
        mismatch_spread(net, np.zeros((1, 5, 8)), np.zeros(1, int), None, **kwargs)


def test_batch_size_is_named_as_mismatch_spreads():
    net = Sequential(Linear((8, 2), key=jax.random.PRNGKey(1)), DynapSim(2))
    with pytest.raises(TypeError, match=r"mismatch_spread: batch_size = '2' must be an integer"):
        mismatch_spread(net, np.zeros((1, 5, 8)), np.zeros(1, int), None, mismatch=0.2,
                        batch_size="2")  # fmt: skip
    with pytest.raises(TypeError, match=r"Spread: percent = 1 must be True or False, got int"):
        Spread([0.5], percent=1)
