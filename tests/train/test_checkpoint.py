"""Checkpoints: exact round trip, atomic writes, bit-identical resumption."""

import os

import jax
import numpy as np
import optax
import pytest
from train_helpers import small_net

from dynapse2 import FileFormatError
from dynapse2.train import (
    Checkpointing,
    History,
    Robustness,
    fit,
    load,
    max_imem_cross_entropy,
    save,
)
from dynapse2.train import checkpoint as ckpt_mod


def _leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)]


def _same(a, b):
    la, lb = _leaves(a), _leaves(b)
    return len(la) == len(lb) and all(
        x.dtype == y.dtype and x.shape == y.shape and (x == y).all()
        for x, y in zip(la, lb, strict=True)
    )


def test_round_trip_is_exact(tmp_path):
    net = small_net(has_rec=True, mismatch=0.2, key=jax.random.PRNGKey(5))
    opt = optax.adam(1e-2)
    state = opt.init(net[0].weight)
    hist = History(loss=[1.0, 0.5], accuracy=[0.5, float("nan")], best_epoch=1)
    path = tmp_path / "c.npz"
    save(path, net, state, hist, epoch=2, key=jax.random.PRNGKey(7), best=net)
    c = load(path, like=small_net(has_rec=True, mismatch=0.2, key=jax.random.PRNGKey(0)))
    assert _same(c.net, net) and _same(c.best, net)
    assert _same(c.opt_state_leaves, state)
    assert c.epoch == 2 and (np.asarray(c.key) == np.asarray(jax.random.PRNGKey(7))).all()
    assert c.history.loss == [1.0, 0.5] and np.isnan(c.history.accuracy[1])
    assert c.history.best_epoch == 1


def test_a_crash_mid_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    net = small_net()
    path = tmp_path / "c.npz"
    save(path, net, (), History(loss=[1.0]), epoch=1)
    before = path.read_bytes()

    def crash(f, arrays):
        f.write(b"half a checkpoint")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ckpt_mod, "_serialise_into", crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save(path, net, (), History(loss=[1.0, 0.1]), epoch=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # temporary file removed
    assert load(path, like=net).epoch == 1


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load(tmp_path / "missing.npz", like=small_net())
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(FileFormatError, match=r"other.npz: not a dynapse2 checkpoint"):
        load(tmp_path / "other.npz", like=small_net())


def test_resume_is_bit_identical(small_task, tmp_path):
    x, y = small_task
    kw = dict(
        batch_size=16,
        optimizer=optax.adam(0.05),
        key=jax.random.PRNGKey(11),
        robustness=Robustness(mismatch=0.1),
        trainable=("weights", "Itau_mem"),
        progress=False,
        validation=(x[:16], y[:16]),
    )
    straight, h2 = fit(small_net(), x, y, max_imem_cross_entropy, epochs=2, **kw)
    path = tmp_path / "run.npz"
    fit(
        small_net(), x, y, max_imem_cross_entropy, epochs=1, checkpointing=Checkpointing(path), **kw
    )
    c = load(path, like=small_net())
    assert c.epoch == 1
    resumed, h = fit(
        small_net(),
        x,
        y,
        max_imem_cross_entropy,
        epochs=2,
        checkpointing=Checkpointing(resume=c),
        **kw,
    )
    assert _same(resumed, straight)
    assert h.loss == h2.loss and h.val_loss == h2.val_loss
    # without a key, a resumed run continues with the checkpoint's
    no_key = {k: v for k, v in kw.items() if k != "key"}
    again, _ = fit(
        small_net(),
        x,
        y,
        max_imem_cross_entropy,
        epochs=2,
        checkpointing=Checkpointing(resume=c),
        **no_key,
    )
    assert _same(again, straight)
