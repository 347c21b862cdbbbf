"""The timing task: a rate-only readout is at chance, a trained network solves it."""

import jax
import optax
import pytest

from dynapse2.datasets import ordered_bursts, train_test_split
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import evaluate, fit, max_imem_loss, rate_baseline_accuracy


def _run(n_samples, epochs, pool, lr=0.02, **task):
    x, y = ordered_bursts(n_samples, key=0, **task)
    xtr, ytr, xte, yte = train_test_split(x, y, 0.25, key=1)
    rate_acc = rate_baseline_accuracy(xtr, ytr, xte, yte)
    net = Sequential(Linear((20, 2 * pool), key=jax.random.PRNGKey(1)), DynapSim(2 * pool))
    loss = max_imem_loss(pool)
    net, _ = fit(
        net,
        xtr,
        ytr,
        loss,
        epochs=epochs,
        batch_size=32,
        optimizer=optax.adam(lr),
        key=jax.random.PRNGKey(2),
        trainable=("weights", "Itau_gaba", "Itau_ampa", "Itau_mem"),
        progress=False,
    )
    return rate_acc, evaluate(net, xte, yte, loss)[1]


def test_rate_readout_at_chance_network_above_it():
    # a shorter, noise-free version of the task, to stay within a few seconds
    rate_acc, net_acc = _run(
        200, 20, 2, lr=0.05, duration=0.12, onset=(0.01, 0.05), background_rate=0.0
    )
    assert rate_acc < 0.6
    assert net_acc >= 0.7


@pytest.mark.slow
def test_rate_readout_at_chance_network_solves_it():
    rate_acc, net_acc = _run(n_samples=800, epochs=30, pool=4)
    assert rate_acc < 0.62
    assert net_acc >= 0.9
