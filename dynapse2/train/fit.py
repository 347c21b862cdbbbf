"""The training loop: optax over the trainable leaves, one jitted step, projection after
every step, validation, early stopping, callbacks, checkpoints, resumption."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from dynapse2 import checks
from dynapse2.nn import Module
from dynapse2.train import checkpoint as ckpt
from dynapse2.train.constraints import WEIGHT_BOUND, project
from dynapse2.train.evaluate import (
    Predict,
    check_board_loss,
    check_data,
    check_key,
    evaluate,
    predictor,
    record_needed,
)
from dynapse2.train.history import History
from dynapse2.train.mismatch import with_mismatch
from dynapse2.train.trainable import (
    WEIGHTS,
    check_trainable,
    from_optimizer_space,
    to_optimizer_space,
    trainable_mask,
)

__all__ = ["EpochEnd", "default_optimizer", "fit"]


@dataclass
class EpochEnd:
    """What a ``callback`` receives after each epoch.

    Attributes:
        epoch: number of completed epochs. net: the current network (projected).
        opt_state: the optimizer state. history: the run so far. key: the run's key.
        compilations: how many times the training step has been traced (compiled) during
            this call of ``fit`` so far: 1 (0 when an earlier call with the same loss,
            optimizer and settings already compiled it), and no more in later epochs.
    """

    epoch: int
    net: Module
    opt_state: Any
    history: History
    key: jax.Array
    compilations: int


_TRACES = [0]  # traces (compilations) of the training step, process-wide


@eqx.filter_jit
def _step(
    net,
    opt_state,
    x,
    y,
    key,
    mask,
    trainable,
    loss,
    predict,
    record,
    optimizer,
    mismatch,
    transform,
    weight_bound,
):
    """One training step ``-> (net, opt_state, loss, n_correct)``. Module-level so that calls
    of ``fit`` with the same (hashable) loss, optimizer and settings share one compilation."""
    _TRACES[0] += 1
    params, static = eqx.partition(net, mask)
    p = to_optimizer_space(params, net, trainable)

    def objective(p):
        n = eqx.combine(from_optimizer_space(p, net, trainable), static)
        n = transform(n)
        if mismatch > 0:
            n = with_mismatch(n, key, mismatch)
        out, _, rec = n(x, record=record)
        correct = jnp.sum(predict(out, rec) == y) if predict is not None else jnp.nan
        return loss(out, rec, y), correct

    (value, correct), grads = eqx.filter_value_and_grad(objective, has_aux=True)(p)
    updates, opt_state = optimizer.update(grads, opt_state, p)
    p = optax.apply_updates(p, updates)
    net = eqx.combine(from_optimizer_space(p, net, trainable), static)
    return project(net, trainable, weight_bound), opt_state, value, correct


@eqx.filter_jit
def _hardware_step(
    net, opt_state, x, y, board_out, mask, trainable, loss, predict, optimizer, transform, bound
):
    """One chip-in-the-loop step: the loss of the board's output spikes, the gradient of the
    simulation's (straight-through: the simulated spikes carry the board's values forward and
    their own surrogate gradient backward)."""
    _TRACES[0] += 1
    params, static = eqx.partition(net, mask)
    p = to_optimizer_space(params, net, trainable)

    def objective(p):
        n = transform(eqx.combine(from_optimizer_space(p, net, trainable), static))
        out, _, _ = n(x)
        out = out + jax.lax.stop_gradient(board_out - out)
        return loss(out, {}, y)

    value, grads = eqx.filter_value_and_grad(objective)(p)
    correct = jnp.sum(predict(board_out, {}) == y) if predict is not None else jnp.nan
    updates, opt_state = optimizer.update(grads, opt_state, p)
    p = optax.apply_updates(p, updates)
    net = eqx.combine(from_optimizer_space(p, net, trainable), static)
    return project(net, trainable, bound), opt_state, value, correct


class _Deployed:
    """The board of a chip-in-the-loop run: re-maps the network after every step and applies
    the configuration; sets the calibrated mismatch on the simulation."""

    def __init__(self, hardware: Any, net: Module, calibration: Any, mapping: dict | None):
        if not getattr(hardware, "on_board", False):
            raise ValueError(
                f"fit: hardware = {type(hardware).__name__} is not a board; pass the "
                "DynapseBoard that to_hardware(net, device) returned"
            )
        if tuple(hardware.shape) != tuple(net.shape):
            raise ValueError(
                f"fit: the board runs a network of shape {hardware.shape}; net has shape "
                f"{net.shape}"
            )
        self.kwargs = dict(mapping or {})
        self.hw = hardware
        self.update(net)
        self.calibration, self.config = calibration, self.hw.config

    def update(self, net: Module) -> None:
        self.hw.apply_network(net, **self.kwargs)  # the board maps: train never imports hardware

    def transform(self, user: Callable[[Module], Module]) -> Callable[[Module], Module]:
        """``user`` followed by the calibrated mismatch of the neurons the network occupies
        (the placement does not change when the weights do)."""
        if self.calibration is None:
            return user
        cal, cfg = self.calibration, self.config
        return lambda n: cal.apply(user(n), cfg)


def default_optimizer(
    learning_rate: float = 1e-2, recurrent_scale: float = 0.1
) -> optax.GradientTransformation:
    """``fit``'s default optimizer: Adam at ``learning_rate``, the steps of every recurrent
    weight ``w_rec`` scaled by ``recurrent_scale``.

    Adam moves every parameter by about ``learning_rate`` per step whatever the size of its
    gradient. For the recurrent weights that step is too large: at Adam 1e-2 they grow until
    the gradient through the recurrent loop explodes (its norm grows with the loop's strength:
    the largest over a training set, 2.5 without the loop, 39 with the trained one, 585 with
    it doubled), Adam takes a step of a few ``learning_rate`` along the exploded gradient and
    the training loss jumps (benchmarks/README.md, "Recurrent training"). With
    ``recurrent_scale = 0.1`` the recurrent weights learn at Adam 1e-3's pace and the
    training is as stable as a feed-forward network's; networks without ``w_rec`` train
    exactly as with ``optax.adam(learning_rate)``, and the optimizer state has the same
    structure (checkpoints are interchangeable).

    Raises:
        TypeError, ValueError: ``learning_rate`` or ``recurrent_scale`` is not a positive,
            finite number.
    """
    learning_rate = checks.number(
        "default_optimizer", "learning_rate", learning_rate, lo=0, lo_open=True
    )
    recurrent_scale = checks.number(
        "default_optimizer", "recurrent_scale", recurrent_scale, lo=0, lo_open=True
    )

    def init(params: Any) -> optax.EmptyState:
        del params
        return optax.EmptyState()

    def update(updates: Any, state: optax.OptState, params: Any = None) -> tuple[Any, Any]:
        del params

        def scale(path: Any, u: Any) -> Any:
            recurrent = any(getattr(k, "name", None) == "w_rec" for k in path)
            return -learning_rate * (recurrent_scale if recurrent else 1.0) * u

        return jax.tree_util.tree_map_with_path(scale, updates), state

    return optax.chain(optax.scale_by_adam(), optax.GradientTransformation(init, update))


def _identity(net: Module) -> Module:
    return net


def _check_args(
    epochs: int,
    batch_size: int,
    mismatch: float,
    early_stopping: Any,
    validation: Any,
    weight_bound: float,
    progress: bool,
) -> None:
    checks.integer("fit", "epochs", epochs, lo=0)
    checks.integer("fit", "batch_size", batch_size, lo=1)
    checks.mismatch("fit", "mismatch", mismatch)
    checks.number("fit", "weight_bound", weight_bound, lo=0, lo_open=True)
    checks.boolean("fit", "progress", progress)
    if early_stopping is not None:
        checks.integer(
            "fit", "early_stopping (a patience in epochs, or None)", early_stopping, lo=1
        )
        if validation is None:
            raise ValueError("fit: early_stopping needs validation=(x_val, y_val)")
    if validation is not None and not (
        isinstance(validation, tuple | list) and len(validation) == 2
    ):
        raise ValueError("fit: validation must be a pair (x_val, y_val)")


def fit(
    net: Module,
    x: Any,
    y: Any,
    loss: Callable,
    *,
    optimizer: optax.GradientTransformation | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    key: jax.Array | None = None,
    validation: tuple[Any, Any] | None = None,
    early_stopping: int | None = None,
    callback: Callable[[EpochEnd], bool | None] | None = None,
    trainable: Sequence[str] = (WEIGHTS,),
    mismatch: float = 0.0,
    transform: Callable[[Module], Module] | None = None,
    predict: Predict | None = None,
    weight_bound: float = WEIGHT_BOUND,
    checkpoint_path: str | os.PathLike | None = None,
    resume: ckpt.Checkpoint | None = None,
    progress: bool = True,
    hardware: Any = None,
    calibration: Any = None,
    mapping: dict[str, Any] | None = None,
) -> tuple[Module, History]:
    """Train ``net`` on ``(x, y)`` with gradient descent through the surrogate spikes.

    Each step: take a batch; build the network from the trained leaves; apply ``transform``;
    if ``mismatch > 0`` draw a fresh device mismatch; simulate with ``record`` as the loss
    needs; compute ``loss(output, record, y_batch)`` and its gradient; apply the optimizer;
    project the trained leaves onto what the chip can hold
    (:func:`dynapse2.train.constraints.project`). The step is compiled once per call of
    ``fit`` (the last incomplete batch of an epoch is dropped so every step has the same
    shape; samples are reshuffled every epoch, so all of them are used). Calls of ``fit``
    with the same loss, optimizer and transform objects reuse the compiled step.

    Args:
        net: the network (``Module``; ``Sequential``, ``Linear`` and ``DynapSim`` parts).
        x: ``(n_samples, T, n_in)`` input spike counts, ``n_in = net.shape[0]``.
        y: ``(n_samples,)`` integer labels in ``0..n_out-1``, or regression targets.
        loss: ``loss(output, record, target) -> scalar``, e.g.
            :func:`~dynapse2.train.losses.max_imem_cross_entropy`.
        optimizer: any optax gradient transformation (default :func:`default_optimizer`:
            Adam 1e-2, recurrent weights at a tenth of its steps). It sees weights as they
            are and trained currents as ``log(I / A)``.
        epochs: total number of epochs (a resumed run continues up to it).
        batch_size: samples per step (capped at ``n_samples``).
        key: ``jax.random`` key of shuffling and mismatch draws (default ``PRNGKey(0)``; on
            resume, the checkpoint's key). Epoch ``e`` uses ``fold_in(key, e)``, so a run is
            reproducible and resumable.
        validation: ``(x_val, y_val)`` evaluated after every epoch (nominal, no mismatch;
            ``transform`` applied).
        early_stopping: patience in epochs: stop when the validation loss has not improved
            for this many epochs, and return the weights of the best epoch.
        callback: called as ``callback(EpochEnd(...))`` after every epoch; returning True
            stops training.
        trainable: ``"weights"`` and/or DynapSim current names (see
            :mod:`dynapse2.train.trainable`).
        mismatch: relative standard deviation of device mismatch, drawn fresh every step (0:
            train on the nominal network).
        transform: ``Module -> Module`` applied to the network inside the loss before each
            forward pass, e.g. fake quantization of the weights with a straight-through
            gradient; default: identity. It must be jit-traceable.
        predict: class predictor for the accuracy (default: the loss's ``predict``).
        weight_bound: bound on |weight| (units of the unit weight current).
        checkpoint_path: if given, a checkpoint is saved there (atomically) after each epoch.
        resume: a :class:`~dynapse2.train.checkpoint.Checkpoint` to continue from: its net,
            optimizer state, history and epoch replace ``net`` and the start; with the same
            data, loss, optimizer and key the result is bit-identical to an uninterrupted run.
        progress: show a tqdm progress bar (loss and accuracy).
        hardware: chip-in-the-loop training: the
            :class:`~dynapse2.hardware.DynapseBoard` (real or virtual) that ``net`` was
            deployed to. Each batch runs on the board, and its output spikes enter the loss;
            the gradient is the simulation's on the same batch with the board's spikes
            substituted for the simulated ones (straight-through); after each step ``net``
            is quantized and mapped again and the configuration applied to the board. The
            loss must read spikes only (:func:`~dynapse2.train.losses.spike_count_loss`,
            :func:`~dynapse2.train.losses.first_spike_loss`); training accuracy and
            validation are the board's. At the end the board runs the returned network.
        calibration: with ``hardware``, a :class:`~dynapse2.hardware.Calibration` of the
            board: the gradient comes from the calibrated simulation.
        mapping: with ``hardware``, keyword arguments of
            :func:`~dynapse2.hardware.map_network` for the re-mapping (e.g. ``prune=True``).

    Returns:
        ``(trained_net, history)``.

    Raises:
        TypeError, ValueError: bad data or arguments (checked before any work).
        FloatingPointError: a non-finite loss; the message names the epoch and step.
    """
    _check_args(epochs, batch_size, mismatch, early_stopping, validation, weight_bound, progress)
    check_key("fit", key)
    trainable = check_trainable(trainable)
    if resume is not None:
        net = resume.net
    x, y = check_data(net, x, y)
    if hardware is None and (calibration is not None or mapping is not None):
        raise ValueError("fit: calibration= and mapping= need hardware= (chip-in-the-loop)")
    if hardware is not None:
        check_board_loss(loss, predict, "fit")
        if mismatch > 0:
            raise ValueError(
                f"fit: mismatch = {mismatch!r} with hardware=: the board has its own mismatch "
                "(pass calibration= to simulate it)"
            )
    if validation is not None:
        x_val, y_val = check_data(net, *validation, name="validation x")
    optimizer = default_optimizer() if optimizer is None else optimizer
    transform = _identity if transform is None else transform
    if key is None:
        key = resume.key if resume is not None and resume.key is not None else jax.random.PRNGKey(0)
    pred = predictor(loss, predict)
    record = record_needed(loss, pred)
    mask = trainable_mask(net, trainable)

    if resume is None:  # a resumed net is already projected (projecting again may round)
        net = project(net, trainable, weight_bound)
    board = _Deployed(hardware, net, calibration, mapping) if hardware is not None else None
    if board is not None:
        transform = board.transform(transform)
    params = eqx.filter(net, mask)
    opt_state = optimizer.init(to_optimizer_space(params, net, trainable))
    history, start, best = History(), 0, None
    if resume is not None:
        treedef = jax.tree_util.tree_structure(opt_state)
        if treedef.num_leaves != len(resume.opt_state_leaves):
            raise ValueError(
                f"fit: the checkpoint's optimizer state has {len(resume.opt_state_leaves)} "
                f"leaves; this optimizer and trainable set need {treedef.num_leaves}"
            )
        opt_state = jax.tree_util.tree_unflatten(
            treedef, [jnp.asarray(v) for v in resume.opt_state_leaves]
        )
        history, start, best = copy.deepcopy(resume.history), resume.epoch, resume.best

    n = x.shape[0]
    batch_size = min(batch_size, n)
    steps = n // batch_size
    traces_before = _TRACES[0]
    static_args = (
        mask,
        trainable,
        loss,
        pred,
        record,
        optimizer,
        float(mismatch),
        transform,
        float(weight_bound),
    )
    best_loss = history.val_loss[history.best_epoch] if history.best_epoch is not None else math.inf
    bar = tqdm(total=epochs * steps, initial=start * steps, disable=not progress, unit="step")
    try:
        for epoch in range(start, epochs):
            perm_key, step_key = jax.random.split(jax.random.fold_in(key, epoch))
            perm = np.asarray(jax.random.permutation(perm_key, n))
            losses, correct = [], 0.0
            for s in range(steps):
                idx = perm[s * batch_size : (s + 1) * batch_size]
                if board is None:
                    net, opt_state, value, c = _step(
                        net,
                        opt_state,
                        jnp.asarray(x[idx]),
                        jnp.asarray(y[idx]),
                        jax.random.fold_in(step_key, s),
                        *static_args,
                    )
                else:
                    board_out = jnp.asarray(np.asarray(board.hw(x[idx])[0]), jnp.float32)
                    net, opt_state, value, c = _hardware_step(
                        net,
                        opt_state,
                        jnp.asarray(x[idx]),
                        jnp.asarray(y[idx]),
                        board_out,
                        mask,
                        trainable,
                        loss,
                        pred,
                        optimizer,
                        transform,
                        float(weight_bound),
                    )
                    board.update(net)
                value = float(value)
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"fit: loss is {value} at epoch {epoch}, step {s} (0-based); lower the "
                        f"learning rate, or check the data and the loss"
                    )
                losses.append(value)
                correct += float(c)
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{value:.4f}")
            history.loss.append(float(np.mean(losses)))
            history.accuracy.append(correct / (steps * batch_size) if pred else float("nan"))
            post = {"loss": f"{history.loss[-1]:.4f}", "acc": f"{history.accuracy[-1]:.3f}"}
            stop = False
            if validation is not None:
                vl, va = evaluate(
                    net if board is None else board.hw,
                    x_val,
                    y_val,
                    loss,
                    batch_size=batch_size,
                    predict=pred,
                    transform=transform if board is None else None,
                )
                history.val_loss.append(vl)
                history.val_accuracy.append(va)
                post |= {"val_loss": f"{vl:.4f}", "val_acc": f"{va:.3f}"}
                if vl < best_loss:
                    best_loss, best, history.best_epoch = vl, net, epoch
                elif (
                    early_stopping is not None
                    and epoch - (history.best_epoch or 0) >= early_stopping
                ):
                    history.stopped_early = stop = True
            bar.set_postfix({"epoch": epoch, **post})
            if checkpoint_path is not None:
                ckpt.save(
                    checkpoint_path,
                    net,
                    opt_state,
                    history,
                    epoch + 1,
                    key,
                    best if early_stopping is not None else None,
                )
            if callback is not None and callback(
                EpochEnd(epoch + 1, net, opt_state, history, key, _TRACES[0] - traces_before)
            ):
                stop = True
            if stop:
                break
    finally:
        bar.close()
    if early_stopping is not None and best is not None:
        net = best
        if board is not None:
            board.update(net)
    return net, history
