"""The timing task: a rate-only readout is at chance, a trained network solves it."""

import jax
import numpy as np
import optax
import pytest
from seeds import N_SEEDS, sweep

from dynapse2.datasets import ordered_bursts, train_test_split
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import evaluate, fit, max_imem_loss, rate_baseline_accuracy


def _run(seed, n_samples, epochs, pool, lr=0.02, rec=False, history=False, **task):
    """``(rate-readout accuracy, trained network accuracy)`` on a held-out quarter (and the
    ``fit`` history and trained net if ``history``); every key (data, split, initial weights,
    batch order) derives from ``seed``. ``rec``: recurrent weights (``has_rec=True``, from
    zero, AMPA and GABA); ``lr=None``: ``fit``'s default optimizer."""
    keys = jax.random.split(jax.random.PRNGKey(seed), 4)
    x, y = ordered_bursts(n_samples, key=keys[0], **task)
    xtr, xte, ytr, yte = train_test_split(x, y, 0.25, key=keys[1])
    rate_acc = rate_baseline_accuracy(xtr, ytr, xte, yte)
    n = 2 * pool
    net = Sequential(Linear((20, n), key=keys[2]), DynapSim(n, has_rec=rec))
    loss = max_imem_loss(pool)
    net, h = fit(
        net,
        xtr,
        ytr,
        loss,
        epochs=epochs,
        batch_size=32,
        optimizer=None if lr is None else optax.adam(lr),
        key=keys[3],
        trainable=("weights", "Itau_gaba", "Itau_ampa", "Itau_mem"),
        progress=False,
    )
    acc = evaluate(net, xte, yte, loss)[1]
    return (rate_acc, acc, h, net) if history else (rate_acc, acc)


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
@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_rate_readout_at_chance_network_solves_it(seed):
    # The task of examples/temporal.py (200 ms, 5 Hz background), fit's default optimizer,
    # a recurrent network (w_rec from zero). The feed-forward network does not solve it at
    # every seed: 4 seeds at Adam 2e-2 (this test until issue 12) 0.78 / 0.86 / 1.00; 12
    # seeds at the default (Adam 1e-2) 0.735 / 0.99 / 1.00, 3 of them below 0.85.
    rate_acc, net_acc = _run(seed, n_samples=800, epochs=30, pool=4, lr=None, rec=True)
    print(f"seed {seed}: rate readout {rate_acc:.3f}, network {net_acc:.3f}")
    # 12 seeds, 200 test samples: rate readout 0.450 / 0.488 / 0.535 (chance 0.5, binomial
    # std 0.035: the bound is 3.4 std above chance)
    assert rate_acc < 0.62
    # 12 seeds: network 0.975 / 0.995 / 1.00 (the bound is 15 samples below the worst seed)
    assert net_acc >= 0.9


@pytest.mark.parametrize("seed", sweep())
def test_a_recurrent_network_trains_on_the_short_task(seed):
    """Issue 12: a recurrent network trains on the temporal task as stably as a feed-forward
    one, with ``fit``'s default optimizer (see ``benchmarks/recurrent.py``)."""
    _, acc, h, net = _run(seed, 200, 20, 4, lr=None, rec=True, history=True, **SHORT)
    loss = np.asarray(h.loss)
    rise = float(np.max(loss - np.minimum.accumulate(loss)))  # above the running minimum
    w = np.asarray(net[1].w_rec)
    print(f"seed {seed}: acc {acc:.2f}, loss {loss[0]:.3f} -> {loss[-1]:.3f}, rise {rise:.3f}, "
          f"w_rec max {w.max():.3f} mean {w[..., (0, 2)].mean():.3f}")  # fmt: skip
    assert np.isfinite(loss).all()
    # 12 seeds: last / first epoch's loss min / median / max 0.002 / 0.039 / 0.173
    assert loss[-1] < 0.5 * loss[0]
    # 12 seeds: largest rise of the epoch loss above its running minimum 0.000 / 0.016 /
    # 0.140 nats (a recurrent run that went wrong on the full task with plain Adam 1e-2 rose
    # 0.59 and stayed at 0.5-0.7)
    assert rise < 0.35
    # 12 seeds: test accuracy 0.98 / 1.00 / 1.00 (50 samples, chance 0.5)
    assert acc >= 0.8
    # the recurrent weights trained (from zero); 12 seeds: max w_rec 0.043 / 0.057 / 0.073
    assert w.max() > 0.02
