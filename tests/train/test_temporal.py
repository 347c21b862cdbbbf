"""The timing task: a rate-only readout is at chance, a trained network solves it."""

import jax
import optax
import pytest
from seeds import sweep

from dynapse2.datasets import ordered_bursts, train_test_split
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import evaluate, fit, max_imem_loss, rate_baseline_accuracy


def _run(seed, n_samples, epochs, pool, lr=0.02, **task):
    """``(rate-readout accuracy, trained network accuracy)`` on a held-out quarter; every key
    (data, split, initial weights, batch order) derives from ``seed``."""
    keys = jax.random.split(jax.random.PRNGKey(seed), 4)
    x, y = ordered_bursts(n_samples, key=keys[0], **task)
    xtr, ytr, xte, yte = train_test_split(x, y, 0.25, key=keys[1])
    rate_acc = rate_baseline_accuracy(xtr, ytr, xte, yte)
    net = Sequential(Linear((20, 2 * pool), key=keys[2]), DynapSim(2 * pool))
    loss = max_imem_loss(pool)
    net, _ = fit(
        net,
        xtr,
        ytr,
        loss,
        epochs=epochs,
        batch_size=32,
        optimizer=optax.adam(lr),
        key=keys[3],
        trainable=("weights", "Itau_gaba", "Itau_ampa", "Itau_mem"),
        progress=False,
    )
    return rate_acc, evaluate(net, xte, yte, loss)[1]


SHORT = dict(duration=0.12, onset=(0.01, 0.05), background_rate=0.0)


@pytest.mark.parametrize("seed", sweep())
def test_rate_readout_at_chance_network_above_it(seed):
    # A shorter, noise-free version of the task, to stay within a few seconds; 50 test
    # samples. Pools of 4: with pools of 2 (and lr 0.01 .. 0.05) 2-3 of 12 seeds stayed at
    # 0.58-0.68, their outputs all firing and so all at the same peak current.
    rate_acc, net_acc = _run(seed, 200, 20, 4, lr=0.02, **SHORT)
    # 12 seeds: rate readout min 0.36, median 0.44, max 0.50 (chance 0.5, binomial std 0.07
    # at 50 samples: the bound is 3.5 std above chance); network min = max = 1.00.
    assert rate_acc < 0.75
    assert net_acc >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_rate_readout_at_chance_network_solves_it(seed):
    rate_acc, net_acc = _run(seed, n_samples=800, epochs=30, pool=4)  # 200 test samples
    # 4 seeds: rate readout 0.45 / 0.495 / 0.51 (min / median / max; binomial std 0.035 at
    # chance); network 0.78 / 0.86 / 1.00 (with background noise the one-layer network does
    # not solve the task at every seed: a known limit, see issue 12's note)
    assert rate_acc < 0.62
    assert net_acc >= 0.7
