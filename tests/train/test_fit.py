"""The training loop: learning, one compilation, hooks, early stopping, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from train_helpers import small_net

from dynapse2.train import evaluate, fit, max_imem_cross_entropy, spike_count_cross_entropy

KW = dict(epochs=4, batch_size=16, optimizer=optax.adam(0.05), progress=False)


def test_a_small_task_learns_with_one_compilation(small_task):
    x, y = small_task
    seen = []
    net0 = small_net()
    before = evaluate(net0, x, y, max_imem_cross_entropy)
    net, h = fit(
        net0, x, y, max_imem_cross_entropy, callback=seen.append, validation=(x[:16], y[:16]), **KW
    )
    after = evaluate(net, x, y, max_imem_cross_entropy)
    assert h.epochs == 4 and len(h.val_loss) == 4 and len(h.accuracy) == 4
    assert after[0] < 0.5 * before[0]
    assert after[1] >= 0.9  # chance is 0.5
    assert [e.epoch for e in seen] == [1, 2, 3, 4]
    n = seen[0].compilations
    assert n <= 1 and [e.compilations for e in seen] == [n] * 4  # no recompilation per epoch
    assert seen[-1].history is h


def test_transform_is_applied_inside_the_loss(small_task):
    x, y = small_task
    calls = []

    def silence(net):  # zero input weights: nothing reaches the neurons, nothing is learnt
        calls.append(1)
        return net.set_attributes({"0_Linear": {"weight": net[0].weight * 0.0}})

    net0 = small_net()
    net, h = fit(net0, x, y, max_imem_cross_entropy, transform=silence, **{**KW, "epochs": 1})
    assert calls  # traced inside the step
    assert (np.asarray(net[0].weight) == np.asarray(net0[0].weight)).all()  # zero gradient
    assert h.accuracy[0] == pytest.approx(0.5, abs=0.2)


def test_any_optax_transformation_and_callback_stop(small_task):
    x, y = small_task
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1, momentum=0.9))
    net, h = fit(
        small_net(),
        x,
        y,
        spike_count_cross_entropy,
        optimizer=opt,
        epochs=5,
        batch_size=16,
        progress=False,
        callback=lambda e: e.epoch >= 2,
    )
    assert h.epochs == 2


def test_early_stopping_restores_the_best_weights(small_task):
    x, y = small_task
    snapshots = {}

    def keep(e):
        snapshots[e.epoch - 1] = e.net

    net, h = fit(
        small_net(),
        x,
        y,
        max_imem_cross_entropy,
        epochs=30,
        batch_size=16,
        optimizer=optax.sgd(3.0),
        validation=(x, y),
        early_stopping=1,
        callback=keep,
        progress=False,
    )
    assert h.stopped_early and h.epochs < 30
    assert h.best_epoch == int(np.argmin(h.val_loss)) and h.best_epoch < h.epochs - 1
    best = snapshots[h.best_epoch]
    assert (np.asarray(net[0].weight) == np.asarray(best[0].weight)).all()


def test_non_finite_loss_names_epoch_and_step(small_task):
    x, y = small_task

    def nan_loss(output, record, target):
        return jnp.sum(output) * jnp.nan

    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 0, step 0"):
        fit(small_net(), x, y, nan_loss, **KW)


@pytest.mark.parametrize(
    "change, err, text",
    [
        (
            lambda x, y: (x[..., :5], y),
            ValueError,
            r"x has shape \(48, 100, 5\); expected \(n_samples, T, n_channels\) "
            r"with n_channels = 10",
        ),
        (lambda x, y: (x[0], y), ValueError, r"x has shape \(100, 10\); expected"),
        (lambda x, y: (x, y + 1), ValueError, r"y: label 2 out of range; labels must be in 0..1"),
        (lambda x, y: (x, y[:5]), ValueError, r"y has shape \(5,\); expected \(48, ...\)"),
    ],
)
def test_bad_data_is_refused_before_work(small_task, change, err, text):
    x, y = change(*small_task)
    with pytest.raises(err, match=text):
        fit(small_net(), x, y, max_imem_cross_entropy, **KW)


def test_bad_arguments(small_task):
    x, y = small_task
    with pytest.raises(ValueError, match="early_stopping needs validation"):
        fit(small_net(), x, y, max_imem_cross_entropy, early_stopping=2, **KW)
    with pytest.raises(ValueError, match=r"mismatch = 1.2 must be in \[0, 1\)"):
        fit(small_net(), x, y, max_imem_cross_entropy, mismatch=1.2, **KW)
    with pytest.raises(ValueError, match="batch_size = 0 must be an integer >= 1"):
        fit(small_net(), x, y, max_imem_cross_entropy, **{**KW, "batch_size": 0})
    with pytest.raises(ValueError, match=r"validation x: label 5 out of range"):
        fit(small_net(), x, y, max_imem_cross_entropy, validation=(x, y * 0 + 5), **KW)


def test_mismatch_aware_training_trains_currents_tied(small_task):
    x, y = small_task
    tr = ("weights", "Itau_mem", "Igain_ampa")
    net0 = small_net(n_out=4, groups=(0, 0, 1, 1))
    x4 = x
    y4 = y * 2  # labels 0 and 2 of 4 outputs
    net, h = fit(
        net0,
        x4,
        y4,
        max_imem_cross_entropy,
        trainable=tr,
        mismatch=0.2,
        key=jax.random.PRNGKey(3),
        **{**KW, "epochs": 2},
    )
    m = net[1]
    assert not np.allclose(m.Itau_mem, net0[1].Itau_mem, rtol=1e-3, atol=0)
    assert m.Itau_mem[0] == m.Itau_mem[1] and m.Itau_mem[2] == m.Itau_mem[3]
    assert np.isfinite(h.loss).all()
