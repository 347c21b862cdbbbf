"""The timing task: a rate-only readout is at chance, a trained network solves it."""

import jax
import numpy as np
import optax
import pytest

from dynapse2.datasets import ordered_bursts, train_test_split
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import evaluate, fit, max_imem_loss


def logistic_regression_accuracy(x_train, y_train, x_test, y_test, steps=500, lr=0.5):
    """Test accuracy of a logistic regression on standardised spike counts per channel."""
    f_tr, f_te = x_train.sum(1), x_test.sum(1)
    mu, sd = f_tr.mean(0), f_tr.std(0) + 1e-6
    f_tr, f_te = (f_tr - mu) / sd, (f_te - mu) / sd
    w, b = np.zeros(f_tr.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(f_tr @ w + b)))
        w -= lr * f_tr.T @ (p - y_train) / len(y_train)
        b -= lr * np.mean(p - y_train)
    return float(np.mean(((f_te @ w + b) > 0) == y_test))


def _run(n_samples, epochs, pool, lr=0.02, **task):
    x, y = ordered_bursts(n_samples, key=0, **task)
    xtr, ytr, xte, yte = train_test_split(x, y, 0.25, key=1)
    rate_acc = logistic_regression_accuracy(xtr, ytr, xte, yte)
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
