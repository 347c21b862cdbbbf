"""Losses and readouts: pure functions of a network's ``(output, record, target)``.

A loss takes what a call ``net(x, record=True)`` returns, ``output`` (spikes,
``(batch, T, n_out)``) and ``record`` (nested dict of state traces), plus the batch's
``target``, and returns a scalar. Two readouts turn a run into class scores:

- **spike counts** (:func:`spike_count_logits`): the number of output spikes per neuron. Simple
  and what the chip reports, but gives no gradient signal while no output neuron fires, and
  ties when several fire equally often.
- **maximum membrane current** (:func:`max_imem_logits`): ``log(max_t I_mem / I_spkthr)`` per
  output neuron. It is graded below threshold, so a network that does not yet fire still
  learns, and it saturates near 0 once a neuron reaches threshold (I_mem is reset after a
  spike), so a neuron that fires early and often is not rewarded more than one that just
  reaches threshold. The log maps the ~1e5 dynamic range of subthreshold currents to a few
  units of logit; dividing by ``I_spkthr`` only shifts all logits equally. This is the default
  readout of the examples.

On a board (:func:`dynapse2.train.fit` with ``in_the_loop=InTheLoop(board)``, or
:func:`~dynapse2.train.evaluate` of a :class:`~dynapse2.hardware.DynapseBoard`) only spikes
exist: use a loss that reads the output alone, :func:`spike_count_loss` or
:func:`first_spike_loss`.

Each loss carries a ``predict`` attribute (its readout's argmax) and ``needs_record`` (whether
it reads the record), which :func:`dynapse2.train.fit` uses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.core  # jax.core.Tracer: a submodule that `import jax` does not declare
import jax.numpy as jnp
import optax

from dynapse2 import checks
from dynapse2.physics.constants import ISPKTHR

__all__ = [
    "Loss",
    "accuracy",
    "first_spike_logits",
    "first_spike_loss",
    "firing_rate_regulariser",
    "max_imem_cross_entropy",
    "max_imem_logits",
    "max_imem_loss",
    "output_imem",
    "predict_max_imem",
    "predict_spike_count",
    "rate_mse",
    "spike_count_cross_entropy",
    "spike_count_logits",
    "spike_count_loss",
    "weighted_sum",
]

Loss = Callable[[jax.Array, dict, jax.Array], jax.Array]
"""``loss(output, record, target) -> scalar``."""


# --- argument checks (Python-level options only; traced arrays are never inspected) --------
_POSITIVE = {"lo": 0.0, "lo_open": True}


def _option(where: str, name: str, value: Any, **allowed: Any) -> Any:
    """A scalar option given by the user, checked (and converted to ``float``) by
    :func:`dynapse2.checks.number`; a traced value (an option differentiated or vmapped over
    inside ``jax.jit`` / ``jax.grad``) passes unchecked."""
    if isinstance(value, jax.core.Tracer):
        return value
    return checks.number(where, name, value, **allowed)


def _pool_option(where: str, pool: Any) -> int:
    return checks.integer(where, "pool", pool, lo=1)


def _spike_array(where: str, output: Any) -> Any:
    """``output`` must be a real array ``(..., T, n)`` (NumPy or JAX, traced or not: only its
    static shape and dtype are read)."""
    kind = getattr(getattr(output, "dtype", None), "kind", None)
    if not hasattr(output, "shape") or kind not in ("b", "i", "u", "f"):
        raise TypeError(
            f"{where}: output must be an array of spikes (batch, T, n), got "
            f"{type(output).__name__}" + (f" of dtype {output.dtype}" if kind else "")
        )
    if len(output.shape) < 2:
        raise ValueError(
            f"{where}: output has shape {tuple(output.shape)}; expected (batch, T, n) or (T, n)"
        )
    return output


# --- readouts --------------------------------------------------------------------------------
def output_imem(record: dict[str, Any]) -> jax.Array:
    """The membrane current trace of the last DynapSim in ``record``: ``(batch, T, n)`` (A).

    ``record`` is a DynapSim record (with key ``"imem"``) or a Sequential record (sub-records
    under module names, in order).

    Raises:
        TypeError: ``record`` is not a dict (the second value of ``net(x, record=True)``).
        KeyError: no membrane trace in the record (was the network called with
            ``record=True``, and does it contain a DynapSim?).
    """
    if not isinstance(record, Mapping):
        raise TypeError(
            f"output_imem: record must be a dict of state traces (the second value of "
            f"net(x, record=True)), got {type(record).__name__}"
        )
    return _output_imem(record)


def _output_imem(record: Mapping[str, Any]) -> jax.Array:
    if "imem" in record:
        return record["imem"]
    for v in reversed(list(record.values())):
        if isinstance(v, Mapping):
            try:
                return _output_imem(v)
            except KeyError:
                continue
    raise KeyError(
        f"no 'imem' trace in the record (keys {sorted(record)}); call the network with "
        f"record=True and end it with a DynapSim"
    )


def spike_count_logits(output: jax.Array, scale: float = 1.0) -> jax.Array:
    """Spike counts per output neuron times ``scale``: ``(batch, T, n)`` -> ``(batch, n)``."""
    scale = _option("spike_count_logits", "scale", scale, **_POSITIVE)
    return _spike_count_logits(_spike_array("spike_count_logits", output), scale)


def _spike_count_logits(output: jax.Array, scale: Any) -> jax.Array:
    return scale * jnp.sum(output, axis=-2)


def _pool(v: jax.Array, pool: int) -> jax.Array:
    """Mean over consecutive groups of ``pool`` neurons: ``(batch, n)`` -> ``(batch, n/pool)``
    (``pool`` checked by the caller)."""
    if pool == 1:
        return v
    if v.shape[-1] % pool:
        raise ValueError(f"pool = {pool} does not divide the {v.shape[-1]} output neurons")
    return v.reshape(*v.shape[:-1], v.shape[-1] // pool, pool).mean(-1)


def max_imem_logits(record: dict[str, Any], ispkthr: float = ISPKTHR, pool: int = 1) -> jax.Array:
    """``log(max_t I_mem / ispkthr)`` of each output neuron: ``(batch, n / pool)``
    (dimensionless).

    ``ispkthr`` (A, > 0) only shifts every logit by the same amount (softmax ignores it); it
    sets the zero at the spike threshold so the values read as "nats below threshold". With
    ``pool = k`` each class is read from ``k`` consecutive neurons (class ``c`` from neurons
    ``c k .. c k + k - 1``) and its logit is their mean: a population readout whose
    device mismatch averages out.
    """
    ispkthr = _option("max_imem_logits", "ispkthr", ispkthr, **_POSITIVE)
    pool = _pool_option("max_imem_logits", pool)
    return _max_imem_logits(record, ispkthr, pool)


def _max_imem_logits(record: dict[str, Any], ispkthr: Any, pool: int) -> jax.Array:
    return _pool(jnp.log(jnp.max(output_imem(record), axis=-2) / ispkthr), pool)


def predict_spike_count(output: jax.Array, record: dict[str, Any]) -> jax.Array:
    """Predicted class: the output neuron with most spikes (ties: lowest index), ``(batch,)``."""
    return jnp.argmax(_spike_count_logits(_spike_array("predict_spike_count", output), 1.0), -1)


def predict_max_imem(output: jax.Array, record: dict[str, Any], pool: int = 1) -> jax.Array:
    """Predicted class: the output neuron (or pool, see :func:`max_imem_logits`) of largest
    peak membrane current, ``(batch,)``."""
    pool = _pool_option("predict_max_imem", pool)
    return jnp.argmax(_max_imem_logits(record, ISPKTHR, pool), axis=-1)


def accuracy(
    output: jax.Array,
    record: dict[str, Any],
    target: jax.Array,
    predict: Callable[[jax.Array, dict], jax.Array] = predict_spike_count,
) -> jax.Array:
    """Fraction of samples whose predicted class equals ``target`` (``(batch,)`` ints)."""
    if not callable(predict):
        raise TypeError(
            f"accuracy: predict = {predict!r} must be a callable predict(output, record), "
            f"got {type(predict).__name__}"
        )
    if target is None or isinstance(target, str | bytes):
        raise TypeError(
            f"accuracy: target = {target!r} must be an array of class indices (batch,), "
            f"got {type(target).__name__}"
        )
    predicted = predict(output, record)
    if tuple(jnp.shape(target)) != tuple(jnp.shape(predicted)):
        raise ValueError(
            f"accuracy: target has shape {tuple(jnp.shape(target))}; the predicted classes "
            f"have shape {tuple(jnp.shape(predicted))} (one class index per sample)"
        )
    return jnp.mean(predicted == target)


# --- losses ----------------------------------------------------------------------------------
def spike_count_cross_entropy(
    output: jax.Array, record: dict[str, Any], target: jax.Array, scale: float = 1.0
) -> jax.Array:
    """Softmax cross-entropy of ``scale`` x output spike counts against integer ``target``
    ``(batch,)``; mean over the batch (nats)."""
    scale = _option("spike_count_cross_entropy", "scale", scale, **_POSITIVE)
    logits = _spike_count_logits(_spike_array("spike_count_cross_entropy", output), scale)
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


spike_count_cross_entropy.predict = predict_spike_count  # type: ignore[attr-defined]
spike_count_cross_entropy.needs_record = False  # type: ignore[attr-defined]


def max_imem_cross_entropy(
    output: jax.Array,
    record: dict[str, Any],
    target: jax.Array,
    ispkthr: float = ISPKTHR,
    temperature: float = 1.0,
    pool: int = 1,
) -> jax.Array:
    """Softmax cross-entropy of :func:`max_imem_logits` / ``temperature`` against integer
    ``target`` ``(batch,)``; mean over the batch (nats). Needs ``record``. For ``pool > 1``
    use :func:`max_imem_loss`, which also sets the matching predictor."""
    where = "max_imem_cross_entropy"
    ispkthr = _option(where, "ispkthr", ispkthr, **_POSITIVE)
    temperature = _option(where, "temperature", temperature, **_POSITIVE)
    pool = _pool_option(where, pool)
    return _max_imem_cross_entropy(record, target, ispkthr, temperature, pool)


def _max_imem_cross_entropy(
    record: dict[str, Any], target: jax.Array, ispkthr: Any, temperature: Any, pool: int
) -> jax.Array:
    logits = _max_imem_logits(record, ispkthr, pool) / temperature
    return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()


max_imem_cross_entropy.predict = predict_max_imem  # type: ignore[attr-defined]
max_imem_cross_entropy.needs_record = True  # type: ignore[attr-defined]


def max_imem_loss(pool: int = 1, temperature: float = 1.0, ispkthr: float = ISPKTHR) -> Loss:
    """:func:`max_imem_cross_entropy` with these settings, and a ``predict`` that reads the
    same pools. ``pool``: output neurons per class (>= 1); ``temperature`` and ``ispkthr``
    (A): > 0. The options are checked here, once, not by every call of the loss."""
    pool = _pool_option("max_imem_loss", pool)
    temperature = _option("max_imem_loss", "temperature", temperature, **_POSITIVE)
    ispkthr = _option("max_imem_loss", "ispkthr", ispkthr, **_POSITIVE)

    def loss(output: jax.Array, record: dict, target: jax.Array) -> jax.Array:
        return _max_imem_cross_entropy(record, target, ispkthr, temperature, pool)

    def predict(output: jax.Array, record: dict) -> jax.Array:
        return jnp.argmax(_max_imem_logits(record, ISPKTHR, pool), axis=-1)

    loss.predict = predict  # type: ignore[attr-defined]
    loss.needs_record = True  # type: ignore[attr-defined]
    return loss


def spike_count_loss(pool: int = 1, scale: float = 1.0) -> Loss:
    """Softmax cross-entropy of ``scale`` x the spike count of each class's pool of ``pool``
    consecutive output neurons (mean over the pool), with the matching ``predict``. Reads the
    output only, so it works on a board. ``pool`` >= 1, ``scale`` > 0."""
    pool = _pool_option("spike_count_loss", pool)
    scale = _option("spike_count_loss", "scale", scale, **_POSITIVE)

    def logits(output: jax.Array) -> jax.Array:
        return _pool(_spike_count_logits(output, scale), pool)

    def loss(output: jax.Array, record: dict, target: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy_with_integer_labels(logits(output), target).mean()

    def predict(output: jax.Array, record: dict) -> jax.Array:
        return jnp.argmax(logits(output), axis=-1)

    predict.needs_record = False  # type: ignore[attr-defined]
    loss.predict = predict  # type: ignore[attr-defined]
    loss.needs_record = False  # type: ignore[attr-defined]
    return loss


def first_spike_logits(output: jax.Array, tau_steps: float = 20.0, pool: int = 1) -> jax.Array:
    """``log(e^{-T/tau} + sum_t s_t e^{-t/tau})`` per output neuron (mean over pools of
    ``pool``), ``(batch, T, n) -> (batch, n / pool)``: a smooth first-spike-time readout in
    which a spike ``tau_steps`` (> 0) time steps earlier counts ``e`` times more; a neuron
    that never fires sits at ``-T / tau``."""
    tau_steps = _option("first_spike_logits", "tau_steps", tau_steps, **_POSITIVE)
    pool = _pool_option("first_spike_logits", pool)
    return _first_spike_logits(_spike_array("first_spike_logits", output), tau_steps, pool)


def _first_spike_logits(output: jax.Array, tau_steps: Any, pool: int) -> jax.Array:
    steps = output.shape[-2]
    w = jnp.exp(-jnp.arange(steps, dtype=jnp.float32) / tau_steps)
    score = jnp.einsum("...tn,t->...n", output, w)
    return _pool(jnp.log(jnp.exp(-steps / tau_steps) + score), pool)


def first_spike_loss(pool: int = 1, tau_steps: float = 20.0, temperature: float = 1.0) -> Loss:
    """Softmax cross-entropy of :func:`first_spike_logits` / ``temperature``: the target
    class's pool should fire first. Reads the output only, so it works on a board.
    ``pool`` >= 1; ``tau_steps`` and ``temperature`` > 0."""
    pool = _pool_option("first_spike_loss", pool)
    tau_steps = _option("first_spike_loss", "tau_steps", tau_steps, **_POSITIVE)
    temperature = _option("first_spike_loss", "temperature", temperature, **_POSITIVE)

    def loss(output: jax.Array, record: dict, target: jax.Array) -> jax.Array:
        logits = _first_spike_logits(output, tau_steps, pool) / temperature
        return optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()

    def predict(output: jax.Array, record: dict) -> jax.Array:
        return jnp.argmax(_first_spike_logits(output, tau_steps, pool), axis=-1)

    predict.needs_record = False  # type: ignore[attr-defined]
    loss.predict = predict  # type: ignore[attr-defined]
    loss.needs_record = False  # type: ignore[attr-defined]
    return loss


def _rates(output: jax.Array, dt: float) -> jax.Array:
    """Firing rates (Hz) ``(batch, n)`` of spikes ``(batch, T, n)`` at time step ``dt`` (s)."""
    return jnp.sum(output, axis=-2) / (output.shape[-2] * dt)


def rate_mse(
    output: jax.Array, record: dict[str, Any], target: jax.Array, dt: float = 1e-3
) -> jax.Array:
    """Mean squared error (Hz^2) between output firing rates and ``target`` rates (Hz),
    ``(batch, n)``; ``dt`` (> 0) is the time step (s) of ``output`` ``(batch, T, n)``."""
    dt = _option("rate_mse", "dt", dt, **_POSITIVE)
    output = _spike_array("rate_mse", output)
    rates = _rates(output, dt)
    return jnp.mean((rates - target) ** 2)


rate_mse.predict = None  # type: ignore[attr-defined]
rate_mse.needs_record = False  # type: ignore[attr-defined]


def firing_rate_regulariser(
    output: jax.Array,
    record: dict[str, Any],
    target: Any = None,
    dt: float = 1e-3,
    low: float = 0.0,
    high: float = 100.0,
) -> jax.Array:
    """Squared distance (Hz^2, mean over batch and neurons) of each neuron's firing rate from
    the band ``[low, high]`` Hz (``0 <= low <= high``, ``high > 0``); zero inside it. ``dt``
    (> 0) is the time step (s). ``target`` is ignored (the signature is that of every loss,
    so it combines with :func:`weighted_sum`)."""
    where = "firing_rate_regulariser"
    dt = _option(where, "dt", dt, **_POSITIVE)
    low = _option(where, "low", low, lo=0.0)
    high = _option(where, "high", high, **_POSITIVE)
    if isinstance(low, float) and isinstance(high, float) and low > high:  # both untraced
        raise ValueError(f"{where}: low = {low!r} must be <= high = {high!r}")
    output = _spike_array(where, output)
    rates = _rates(output, dt)
    return jnp.mean(jnp.maximum(low - rates, 0) ** 2 + jnp.maximum(rates - high, 0) ** 2)


firing_rate_regulariser.predict = None  # type: ignore[attr-defined]
firing_rate_regulariser.needs_record = False  # type: ignore[attr-defined]


def weighted_sum(*terms: tuple[Loss, float]) -> Loss:
    """A loss ``sum_k w_k * loss_k(output, record, target)`` of ``(loss, weight)`` pairs:
    each loss a callable ``loss(output, record, target)``, each weight a finite real number.

    Its ``predict`` is the first term's, and it needs the record if any term does.
    """
    if not terms:
        raise ValueError("weighted_sum: give at least one (loss, weight) pair")
    pairs = []
    for k, term in enumerate(terms):
        if not isinstance(term, tuple | list) or len(term) != 2:
            raise TypeError(
                f"weighted_sum: terms[{k}] = {term!r} must be a (loss, weight) pair, "
                f"got {type(term).__name__}"
            )
        f, w = term
        if not callable(f):
            raise TypeError(
                f"weighted_sum: terms[{k}] loss = {f!r} must be a callable "
                f"loss(output, record, target), got {type(f).__name__}"
            )
        pairs.append((f, _option("weighted_sum", f"terms[{k}] weight", w)))

    def total(output: jax.Array, record: dict, target: jax.Array) -> jax.Array:
        out = jnp.zeros(())
        for f, w in pairs:
            out = out + w * f(output, record, target)
        return out

    total.predict = getattr(pairs[0][0], "predict", None)  # type: ignore[attr-defined]
    total.needs_record = any(  # type: ignore[attr-defined]
        getattr(f, "needs_record", True) for f, _ in pairs
    )
    return total
