"""Evaluate a network on a data set: mean loss and accuracy, batched and jitted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.nn import Module
from dynapse2.train.losses import Loss, predict_spike_count
from dynapse2.train.mismatch import with_mismatch

__all__ = ["check_board_loss", "check_data", "check_key", "evaluate", "predictor"]

Predict = Callable[[jax.Array, dict], jax.Array]


def predictor(loss: Loss, predict: Predict | None = None) -> Predict | None:
    """The class predictor to score ``loss`` with: ``predict`` if given, else the loss's
    ``predict`` attribute (looked up through ``functools.partial``), else spike counts.
    ``None`` means the task has no classes (e.g. :func:`~dynapse2.train.losses.rate_mse`)."""
    if predict is not None:
        return predict
    f = loss
    while True:
        if hasattr(f, "predict"):
            return f.predict
        if not hasattr(f, "func"):
            return predict_spike_count
        f = f.func


def needs_record(loss: Loss) -> bool:
    """Whether ``loss`` reads the record (``needs_record`` attribute; True if unknown)."""
    f = loss
    while not hasattr(f, "needs_record") and hasattr(f, "func"):
        f = f.func
    return bool(getattr(f, "needs_record", True))


def record_needed(loss: Loss, predict: Predict | None) -> bool:
    """Whether scoring with ``loss`` and ``predict`` needs the network's record (a predictor
    says it does not with ``needs_record = False``)."""
    if predict in (None, predict_spike_count):
        return needs_record(loss)
    return needs_record(loss) or bool(getattr(predict, "needs_record", True))


def check_data(net: Module, x: Any, y: Any, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
    """Validate a data set against ``net`` before any work.

    ``x`` must be ``(n_samples, T, n_in)`` with ``n_in = net.shape[0]``; ``y`` must have
    ``n_samples`` rows; integer labels must lie in ``0..net.shape[1]-1``. Returns ``(x, y)`` as
    NumPy arrays (x float32).

    Raises:
        ValueError: wrong rank, channel count, sample count or label range (the message names
            the expected shape or range).
    """
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    n_in, n_out = net.shape
    if x.ndim != 3 or x.shape[-1] != n_in:
        raise ValueError(
            f"{name} has shape {x.shape}; expected (n_samples, T, n_channels) with "
            f"n_channels = {n_in} (the network's input size)"
        )
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} has shape {x.shape}; it needs at least one sample and step")
    label = "y" if name == "x" else f"labels of {name}"
    if y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{label} has shape {y.shape}; expected ({x.shape[0]}, ...) (one per sample)"
        )
    if not np.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or inf")
    if np.issubdtype(y.dtype, np.integer):
        if y.ndim != 1:
            raise ValueError(
                f"{label}: integer labels must have shape ({x.shape[0]},), got {y.shape}"
            )
        bad = (y < 0) | (y >= n_out)
        if bad.any():
            raise ValueError(
                f"{label}: label {int(y[bad][0])} out of range; labels must be in 0..{n_out - 1} "
                f"(the network has {n_out} outputs)"
            )
    return x, y


def check_board_loss(loss: Loss, predict: Predict | None, where: str) -> Predict | None:
    """The predictor of ``loss`` on a board; raise if scoring needs more than spikes."""
    pred = predictor(loss, predict)
    if record_needed(loss, pred):
        name = getattr(loss, "__name__", repr(loss))
        raise ValueError(
            f"{where}: the loss {name!r} (or its predictor) reads the network's record "
            "(membrane currents), which a board does not report; use a loss of the output "
            "spikes: spike_count_loss(pool) or first_spike_loss(pool)"
        )
    return pred


def _evaluate_board(net, x, y, loss, batch_size, predict, mismatch, transform):
    if mismatch > 0 or transform is not None:
        raise ValueError(
            "evaluate: a board has its own mismatch and runs its configuration as it is; "
            "mismatch= and transform= apply to simulations only"
        )
    pred = check_board_loss(loss, predict, "evaluate")
    total_loss, total_correct = 0.0, 0.0
    for i in range(0, x.shape[0], batch_size):
        out = jnp.asarray(np.asarray(net(x[i : i + batch_size])[0]), jnp.float32)
        yb = jnp.asarray(y[i : i + batch_size])
        total_loss += float(loss(out, {}, yb)) * out.shape[0]
        if pred is not None:
            total_correct += float(jnp.sum(pred(out, {}) == yb))
    n = x.shape[0]
    return total_loss / n, (total_correct / n if pred is not None else float("nan"))


@eqx.filter_jit
def _batch_metrics(net, x, y, loss, predict, record, mismatch, key, transform):
    if transform is not None:
        net = transform(net)
    if mismatch > 0:
        net = with_mismatch(net, key, mismatch)
    out, _, rec = net(x, record=record)
    correct = jnp.sum(predict(out, rec) == y) if predict is not None else jnp.float32(jnp.nan)
    return loss(out, rec, y), correct


def check_key(where: str, key: Any) -> None:
    """A ``jax.random`` key: a typed key or raw ``uint32`` key data of shape ``(2,)``."""
    if key is None:
        return
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jnp.issubdtype(dtype, jax.dtypes.prng_key):
        return
    if dtype is None or np.dtype(dtype) != np.uint32 or np.shape(key) != (2,):
        raise ValueError(
            f"{where}: key = {key!r} must be a jax.random key (jax.random.PRNGKey(seed) or "
            "jax.random.key(seed))"
        )


def evaluate(
    net: Module,
    x: Any,
    y: Any,
    loss: Loss,
    *,
    batch_size: int = 256,
    predict: Predict | None = None,
    mismatch: float = 0.0,
    key: jax.Array | None = None,
    transform: Callable[[Module], Module] | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``net`` on ``(x, y)``.

    ``net`` may be a board (:class:`~dynapse2.hardware.DynapseBoard`, real or virtual): it
    then runs unjitted, trial by trial, and ``loss`` must read the output spikes only.

    Args:
        net: the network. x: ``(n_samples, T, n_in)`` inputs. y: ``(n_samples,)`` labels (or
            regression targets).
        loss: ``loss(output, record, target) -> scalar`` (mean over a batch).
        batch_size: samples per jitted call.
        predict: class predictor (default: the loss's, see :func:`predictor`).
        mismatch: if > 0, evaluate under one fresh mismatch draw of this relative standard
            deviation from ``key`` (:func:`~dynapse2.train.mismatch.with_mismatch`).
        key: ``jax.random`` key of the mismatch draw (required when ``mismatch > 0``).
        transform: applied to the network before simulating (e.g. fake quantization).

    Returns:
        ``(loss, accuracy)``: the sample-weighted mean loss and the fraction of correct
        predictions in [0, 1] (NaN when there is no predictor).
    """
    checks.integer("evaluate", "batch_size", batch_size, lo=1)
    checks.mismatch("evaluate", "mismatch", mismatch)
    check_key("evaluate", key)
    x, y = check_data(net, x, y)
    if getattr(net, "on_board", False):
        return _evaluate_board(net, x, y, loss, batch_size, predict, mismatch, transform)
    if mismatch > 0 and key is None:
        raise TypeError(
            f"evaluate: key is required when mismatch = {mismatch!r} > 0 (the mismatch is "
            "drawn with it): pass key=jax.random.PRNGKey(seed)"
        )
    pred = predictor(loss, predict)
    rec = record_needed(loss, pred)
    total_loss, total_correct = 0.0, 0.0
    for i in range(0, x.shape[0], batch_size):
        xb, yb = jnp.asarray(x[i : i + batch_size]), jnp.asarray(y[i : i + batch_size])
        lb, cb = _batch_metrics(net, xb, yb, loss, pred, rec, float(mismatch), key, transform)
        total_loss += float(lb) * xb.shape[0]
        total_correct += float(cb)
    n = x.shape[0]
    return total_loss / n, (total_correct / n if pred is not None else float("nan"))
