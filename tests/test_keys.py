"""Randomness that decides a result needs an explicit key (as in equinox): no silent
``PRNGKey(0)``. A missing key is a TypeError naming the function and the parameter."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dynapse2 import DynapSim, Linear, Sequential, train
from dynapse2 import hardware as hw

K1, K2 = jax.random.PRNGKey(1), jax.random.PRNGKey(2)
NET = Sequential(Linear((3, 4), key=K1), DynapSim(4))
X, Y = np.zeros((4, 5, 3), np.float32), np.zeros(4, int)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Linear((2, 3)), r"Linear: key is required when weight is None"),
        (lambda: DynapSim(2, mismatch=0.1), r"DynapSim: key is required when mismatch = 0.1 > 0"),
        (
            lambda: train.fit(NET, X, Y, train.max_imem_loss(), epochs=1, progress=False),
            r"fit: key is required \(it shuffles the batches",
        ),
        (
            lambda: train.evaluate(NET, X, Y, train.max_imem_loss(), mismatch=0.1),
            r"evaluate: key is required when mismatch = 0.1 > 0",
        ),
        (
            lambda: hw.network_from_config(hw.map_network(NET).config, mismatch=0.1),
            r"network_from_config: key is required when mismatch = 0.1 > 0",
        ),
    ],
    ids=["Linear", "DynapSim", "fit", "evaluate", "network_from_config"],
)
def test_a_missing_key_is_named(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_the_key_decides_the_draw():
    a, b = Linear((3, 4), key=K1).weight, Linear((3, 4), key=K2).weight
    assert np.array_equal(a, Linear((3, 4), key=K1).weight) and not np.array_equal(a, b)
    ma = DynapSim(8, mismatch=0.2, key=K1).mismatch_factors
    mb = DynapSim(8, mismatch=0.2, key=K2).mismatch_factors
    assert np.array_equal(
        ma["Itau_mem"], DynapSim(8, mismatch=0.2, key=K1).mismatch_factors["Itau_mem"]
    )
    assert not np.array_equal(ma["Itau_mem"], mb["Itau_mem"])


def test_no_key_is_needed_where_nothing_is_drawn():
    assert np.array_equal(Linear((2, 2), weight=np.eye(2)).weight, np.eye(2))
    assert DynapSim(2).mismatch_factors is None
    loss, _ = train.evaluate(NET, X, Y, train.max_imem_loss())  # no mismatch: deterministic
    assert loss == train.evaluate(NET, X, Y, train.max_imem_loss())[0]
