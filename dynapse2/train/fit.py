"""The training loop: optax over the trainable leaves, one jitted step, projection after
every step, validation, early stopping, callbacks, checkpoints, resumption."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm.auto import tqdm

from dynapse2 import checks
from dynapse2.nn import Module
from dynapse2.train import checkpoint as ckpt
from dynapse2.train.constraints import project
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
from dynapse2.train.options import Checkpointing, InTheLoop, Robustness, moved_keywords
from dynapse2.train.trainable import (
    WEIGHTS,
    check_trainable,
    from_optimizer_space,
    to_optimizer_space,
    trainable_mask,
)

__all__ = ["Checkpointing", "EpochEnd", "InTheLoop", "Robustness", "default_optimizer", "fit"]


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


NOMINAL = Robustness()  # fit's default: the nominal network, identity, WEIGHT_BOUND
NO_CHECKPOINTS = Checkpointing()  # fit's default: no saving, no resuming
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
    return project(net, trainable, weight_bound), opt_state, value, correct, _finite(grads)


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
    return project(net, trainable, bound), opt_state, value, correct, _finite(grads)


def _finite(grads: Any) -> Any:
    """Whether each gradient leaf is finite everywhere (a pytree of scalar booleans)."""
    return jax.tree.map(lambda g: jnp.all(jnp.isfinite(g)), grads)


def _check_finite(value: float, finite: Any, epoch: int, step: int) -> None:
    """Refuse a step whose loss or gradient is not finite, naming the epoch, the step and
    the parameters whose gradient is NaN or infinite (a NaN gradient can leave the loss
    finite: a neuron whose input weights are NaN only falls silent)."""
    where = f"at epoch {epoch}, step {step} (0-based)"
    if not math.isfinite(value):
        raise FloatingPointError(
            f"fit: loss is {value} {where}; lower the learning rate, or check the data and the loss"
        )
    flags = jax.tree_util.tree_flatten_with_path(finite)[0]
    bad = [jax.tree_util.keystr(path) for path, ok in flags if not bool(ok)]
    if bad:
        raise FloatingPointError(
            f"fit: the gradient of {', '.join(bad)} is not finite {where} (the loss is "
            f"{value}); the step was not applied (with Checkpointing, resume from the last "
            f"epoch's checkpoint); lower the learning rate, or try solver=Euler() or a "
            f"smaller surrogate slope"
        )


class _Deployed:
    """The board of a chip-in-the-loop run: re-maps the network after every step and applies
    the configuration; sets the calibrated mismatch on the simulation."""

    def __init__(self, options: InTheLoop, net: Module):
        hardware = options.board
        if tuple(hardware.shape) != tuple(net.shape):
            raise ValueError(
                f"fit: the board runs a network of shape {hardware.shape}; net has shape "
                f"{net.shape}"
            )
        self.kwargs = dict(options.mapping)
        self.hw = hardware
        self.update(net)
        self.calibration, self.config = options.calibration, self.hw.config

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
    epochs: int, batch_size: int, early_stopping: Any, validation: Any, progress: bool
) -> None:
    checks.integer("fit", "epochs", epochs, lo=0)
    checks.integer("fit", "batch_size", batch_size, lo=1)
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


def _check_options(robustness: Any, checkpointing: Any, in_the_loop: Any) -> None:
    """Each options object of its class (``in_the_loop`` may be None)."""
    for name, value, kind in (
        ("robustness", robustness, Robustness),
        ("checkpointing", checkpointing, Checkpointing),
        ("in_the_loop", in_the_loop, InTheLoop),
    ):
        if not isinstance(value, kind) and not (kind is InTheLoop and value is None):
            none = " or None" if kind is InTheLoop else ""
            raise TypeError(
                f"fit: {name} = {value!r} must be a {kind.__name__}(...){none} "
                f"(dynapse2.train.{kind.__name__})"
            )


def _run_key(key: Any, resume: ckpt.Checkpoint | None) -> jax.Array:
    """The run's key: ``key``, or on resume the checkpoint's; else a TypeError."""
    check_key("fit", key)
    if key is not None:
        return key
    if resume is None or resume.key is None:
        raise TypeError(
            "fit: key is required (it shuffles the batches and draws the mismatch): pass "
            "key=jax.random.PRNGKey(seed); a resumed run may leave it out to continue with "
            "the checkpoint's key"
        )
    return resume.key


def _check_in_the_loop(
    in_the_loop: InTheLoop | None, loss: Callable, predict: Any, mismatch: float
) -> None:
    if in_the_loop is None:
        return
    check_board_loss(loss, predict, "fit")
    if mismatch > 0:
        raise ValueError(
            f"fit: Robustness(mismatch = {mismatch!r}) with in_the_loop: the board has its own "
            "mismatch (pass InTheLoop(calibration=) to simulate it)"
        )


@dataclass
class _Run:
    """The state of a run between epochs: the network, the optimizer state, the history, the
    first epoch to run and the best network so far (early stopping)."""

    net: Module
    opt_state: Any
    history: History
    start: int
    best: Module | None


def _initial_run(
    net: Module, optimizer: Any, trainable: tuple, mask: Any, weight_bound: float, resume: Any
) -> _Run:
    """A fresh run of ``net`` (projected onto the chip's constraints), or the checkpoint's."""
    if resume is None:  # a resumed net is already projected (projecting again may round)
        net = project(net, trainable, weight_bound)
    params = eqx.filter(net, mask)
    opt_state = optimizer.init(to_optimizer_space(params, net, trainable))
    if resume is None:
        return _Run(net, opt_state, History(), 0, None)
    treedef = jax.tree_util.tree_structure(opt_state)
    if treedef.num_leaves != len(resume.opt_state_leaves):
        raise ValueError(
            f"fit: the checkpoint's optimizer state has {len(resume.opt_state_leaves)} "
            f"leaves; this optimizer and trainable set need {treedef.num_leaves}"
        )
    opt_state = jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(v) for v in resume.opt_state_leaves]
    )
    return _Run(net, opt_state, copy.deepcopy(resume.history), resume.epoch, resume.best)


class _Static(NamedTuple):
    """The static arguments of :func:`_step`, in its order (hashable: one compilation per
    distinct tuple)."""

    mask: Any
    trainable: tuple
    loss: Callable
    predict: Predict | None
    record: bool
    optimizer: Any
    mismatch: float
    transform: Callable[[Module], Module]
    weight_bound: float


@dataclass(frozen=True)
class _Steps:
    """What every training step of a run shares: the data, the batching, the compiled step's
    static arguments and the board (None in simulation)."""

    x: np.ndarray
    y: np.ndarray
    batch_size: int
    steps: int
    static_args: _Static
    board: _Deployed | None

    def step(self, run: _Run, idx: np.ndarray, key: jax.Array, where: tuple[int, int]) -> tuple:
        """One step on the samples ``idx`` at ``where = (epoch, step)``; updates ``run``
        unless the loss or a gradient is not finite (then raises, see :func:`_check_finite`);
        returns ``(loss, n_correct)``."""
        xb, yb = jnp.asarray(self.x[idx]), jnp.asarray(self.y[idx])
        a = self.static_args
        if self.board is None:
            net, opt_state, value, c, finite = _step(run.net, run.opt_state, xb, yb, key, *a)
        else:
            board_out = jnp.asarray(np.asarray(self.board.hw(self.x[idx])[0]), jnp.float32)
            net, opt_state, value, c, finite = _hardware_step(
                run.net,
                run.opt_state,
                xb,
                yb,
                board_out,
                a.mask,
                a.trainable,
                a.loss,
                a.predict,
                a.optimizer,
                a.transform,
                a.weight_bound,
            )
        value = float(value)
        _check_finite(value, finite, *where)
        run.net, run.opt_state = net, opt_state
        if self.board is not None:
            self.board.update(run.net)
        return value, c

    def epoch(self, run: _Run, key: jax.Array, epoch: int, bar: Any) -> tuple[float, float]:
        """One epoch over a fresh permutation; ``(mean loss, accuracy)``."""
        n = self.x.shape[0]
        perm_key, step_key = jax.random.split(jax.random.fold_in(key, epoch))
        perm = np.asarray(jax.random.permutation(perm_key, n))
        losses, correct = [], 0.0
        for s in range(self.steps):
            idx = perm[s * self.batch_size : (s + 1) * self.batch_size]
            value, c = self.step(run, idx, jax.random.fold_in(step_key, s), (epoch, s))
            losses.append(value)
            correct += float(c)
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{value:.4f}")
        predicts = self.static_args.predict is not None
        n_seen = self.steps * self.batch_size
        return float(np.mean(losses)), (correct / n_seen if predicts else float("nan"))


def _validate(
    run: _Run,
    steps: _Steps,
    validation: tuple,
    loss: Callable,
    epoch: int,
    early_stopping: int | None,
    best_loss: float,
) -> tuple[dict[str, str], bool, float]:
    """Score the validation set, record it, keep the best network; returns the progress
    bar's fields, whether to stop early and the best validation loss so far."""
    x_val, y_val = validation
    pred, transform = steps.static_args.predict, steps.static_args.transform
    vl, va = evaluate(
        run.net if steps.board is None else steps.board.hw,
        x_val,
        y_val,
        loss,
        batch_size=steps.batch_size,
        predict=pred,
        transform=transform if steps.board is None else None,
    )
    run.history.val_loss.append(vl)
    run.history.val_accuracy.append(va)
    stop = False
    if vl < best_loss:
        best_loss, run.best, run.history.best_epoch = vl, run.net, epoch
    elif early_stopping is not None and epoch - (run.history.best_epoch or 0) >= early_stopping:
        run.history.stopped_early = stop = True
    return {"val_loss": f"{vl:.4f}", "val_acc": f"{va:.3f}"}, stop, best_loss


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
    predict: Predict | None = None,
    progress: bool = True,
    robustness: Robustness = NOMINAL,
    checkpointing: Checkpointing = NO_CHECKPOINTS,
    in_the_loop: InTheLoop | None = None,
    **moved: Any,
) -> tuple[Module, History]:
    """Train ``net`` on ``(x, y)`` with gradient descent through the surrogate spikes.

    Each step: take a batch; build the network from the trained leaves; apply the
    robustness transform; if ``robustness.mismatch > 0`` draw a fresh device mismatch;
    simulate with ``record`` as the loss needs; compute ``loss(output, record, y_batch)`` and
    its gradient; apply the optimizer; project the trained leaves onto what the chip can hold
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
        key: ``jax.random`` key of shuffling and mismatch draws; required, except on resume
            (then default the checkpoint's key). Epoch ``e`` uses ``fold_in(key, e)``, so a run
            is reproducible and resumable.
        validation: ``(x_val, y_val)`` evaluated after every epoch (nominal, no mismatch;
            the robustness transform applied).
        early_stopping: patience in epochs: stop when the validation loss has not improved
            for this many epochs, and return the weights of the best epoch.
        callback: called as ``callback(EpochEnd(...))`` after every epoch; returning True
            stops training.
        trainable: ``"weights"`` and/or DynapSim current names (see
            :mod:`dynapse2.train.trainable`).
        predict: class predictor for the accuracy (default: the loss's ``predict``).
        progress: show a tqdm progress bar (loss and accuracy).
        robustness: :class:`~dynapse2.train.Robustness`: the mismatch drawn every step, the
            transform applied in the loss (e.g. fake quantization) and the weight bound
            (default: nominal network, identity, :data:`~dynapse2.train.WEIGHT_BOUND`).
        checkpointing: :class:`~dynapse2.train.Checkpointing`: where to save after every
            epoch and the checkpoint to resume from (default: neither).
        in_the_loop: :class:`~dynapse2.train.InTheLoop`: train with a board in the forward
            pass (default: in simulation).

    Returns:
        ``(trained_net, history)``.

    Raises:
        TypeError: a keyword of earlier versions that moved into an options object (the
            message names its new home: ``mismatch``, ``transform``, ``weight_bound``,
            ``checkpoint_path``, ``resume``, ``hardware``, ``calibration``, ``mapping``); a
            missing key.
        TypeError, ValueError: bad data or arguments (checked before any work).
        FloatingPointError: a non-finite loss or gradient; the message names the epoch, the
            step and the parameters whose gradient is not finite.
    """
    moved_keywords("fit", moved)
    _check_args(epochs, batch_size, early_stopping, validation, progress)
    _check_options(robustness, checkpointing, in_the_loop)
    resume = checkpointing.resume
    key = _run_key(key, resume)
    trainable = check_trainable(trainable)
    net = resume.net if resume is not None else net
    x, y = check_data(net, x, y)
    _check_in_the_loop(in_the_loop, loss, predict, robustness.mismatch)
    if validation is not None:
        validation = check_data(net, *validation, name="validation x")
    optimizer = default_optimizer() if optimizer is None else optimizer
    run, steps = _prepare(
        net, x, y, loss, optimizer, batch_size, trainable, predict, robustness, resume, in_the_loop
    )
    epoch_end = _AfterEpoch(loss, validation, early_stopping, callback, checkpointing.path)
    _train(run, steps, key, epochs, epoch_end, progress)
    if early_stopping is not None and run.best is not None:
        run.net = run.best
        if steps.board is not None:
            steps.board.update(run.net)
    return run.net, run.history


def _prepare(
    net: Module,
    x: np.ndarray,
    y: np.ndarray,
    loss: Callable,
    optimizer: Any,
    batch_size: int,
    trainable: tuple,
    predict: Predict | None,
    robustness: Robustness,
    resume: ckpt.Checkpoint | None,
    in_the_loop: InTheLoop | None,
) -> tuple[_Run, _Steps]:
    """The run's start (projected network, optimizer state, history) and what its steps
    share (the compiled step's static arguments, the board deployed with the network)."""
    pred = predictor(loss, predict)
    mask = trainable_mask(net, trainable)
    run = _initial_run(net, optimizer, trainable, mask, robustness.weight_bound, resume)
    board = None if in_the_loop is None else _Deployed(in_the_loop, run.net)
    transform = _identity if robustness.transform is None else robustness.transform
    if board is not None:
        transform = board.transform(transform)
    static_args = _Static(
        mask,
        trainable,
        loss,
        pred,
        record_needed(loss, pred),
        optimizer,
        float(robustness.mismatch),
        transform,
        float(robustness.weight_bound),
    )
    batch_size = min(batch_size, x.shape[0])
    return run, _Steps(x, y, batch_size, x.shape[0] // batch_size, static_args, board)


@dataclass(frozen=True)
class _AfterEpoch:
    """What happens after every epoch: validation (early stopping), checkpoint, callback."""

    loss: Callable
    validation: tuple | None
    early_stopping: int | None
    callback: Callable | None
    checkpoint_path: Any


def _train(
    run: _Run, steps: _Steps, key: jax.Array, epochs: int, end: _AfterEpoch, progress: bool
) -> None:
    """The epochs from ``run.start`` to ``epochs``: train, validate, record, save, call
    back; stop early when asked."""
    history = run.history
    traces_before = _TRACES[0]
    best_loss = history.val_loss[history.best_epoch] if history.best_epoch is not None else math.inf
    bar = tqdm(
        total=epochs * steps.steps,
        initial=run.start * steps.steps,
        disable=not progress,
        unit="step",
    )
    try:
        for epoch in range(run.start, epochs):
            mean_loss, accuracy = steps.epoch(run, key, epoch, bar)
            history.loss.append(mean_loss)
            history.accuracy.append(accuracy)
            post = {"loss": f"{history.loss[-1]:.4f}", "acc": f"{history.accuracy[-1]:.3f}"}
            stop = False
            if end.validation is not None:
                val_post, stop, best_loss = _validate(
                    run, steps, end.validation, end.loss, epoch, end.early_stopping, best_loss
                )
                post |= val_post
            bar.set_postfix({"epoch": epoch, **post})
            if end.checkpoint_path is not None:
                best = run.best if end.early_stopping is not None else None
                ckpt.save(
                    end.checkpoint_path, run.net, run.opt_state, history, epoch + 1, key, best
                )
            state = EpochEnd(
                epoch + 1, run.net, run.opt_state, history, key, _TRACES[0] - traces_before
            )
            if (end.callback is not None and end.callback(state)) or stop:
                break
    finally:
        bar.close()
