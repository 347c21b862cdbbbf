"""Scan strategies: how a run loops over time, and how its reverse mode is taken.

One contract: ``run(body, rec, args, length, spikes_of) -> (final state, stacked outputs)``,
a ``lax.scan``-like loop of ``body(p, s, x_t, r_t) -> (s, out_t)`` where ``r_t`` is the
recurrent input ``rec.product(s.spikes, W)`` (``None`` without recurrence, ``rec`` a
:class:`~dynapse2.nn.products.Recurrence`); ``args = (p, initial state, xs)`` with ``xs``
batch-major (leaves ``(B, T, ...)``), and so are the stacked outputs returned;
``spikes_of``: time-major stacked outputs -> spikes ``(T, B, n)``.

- :class:`CustomGradScan` (the default): the forward reads and writes the batch-major arrays
  in place; its reverse mode forms the recurrent weight gradient once after the loop.
- :class:`PlainScan`: ``lax.scan`` and JAX's own reverse mode (the reference the tests hold
  the custom one against).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
from jax.ad_checkpoint import checkpoint_name

from dynapse2.nn.products import Recurrence, product_transposed

_to_time = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 1, 0))  # (B, T, ..) -> (T, B, ..)
_to_batch = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 0, 1))


@dataclass(frozen=True)
class PlainScan:
    """``lax.scan`` over time-major inputs, differentiated by JAX's own transpose."""

    name: ClassVar[str] = "plain"
    summary: ClassVar[str] = "lax.scan, JAX's own reverse mode"

    def run(
        self, body: Callable, rec: Recurrence | None, args: tuple, length: int, spikes_of: Callable
    ) -> tuple:
        p, f0, xs = args
        step = lambda s, x_t: body(p, s, x_t, rec and rec.product(s.spikes, rec.weights))  # noqa: E731
        f, out = jax.lax.scan(step, f0, _to_time(xs))
        return f, _to_batch(out)

    def __str__(self) -> str:
        return self.name


_SAVE_REC = jax.checkpoint_policies.save_only_these_names("recurrent_input")


@dataclass(frozen=True)
class CustomGradScan:
    """The plain scan's forward value, with a reverse mode that differs from JAX's default
    transpose of ``lax.scan`` in three ways, none of which changes the maths (only the order
    of float32 sums):

    - recurrent weights: the default adds the step's weight gradient ``s_t^T g_t`` to an
      ``(n, k n)`` accumulator at every step (reading and writing all of it). Here the
      backward scan only produces ``g_t``, the cotangent of ``r_t`` (as the cotangent of a zero
      input added to it), and the weight gradient is formed once afterwards from the stored
      spikes: ``dW = sum_t s_t^T g_t`` (:attr:`Recurrence.weight_grad`, one matrix product
      over all steps and batch elements). The cotangent of the presynaptic spikes
      (``g_t W^T``) stays inside the scan.
    - per-neuron parameters ``p`` (``(n,)`` leaves) are broadcast to ``(B, n)`` before the
      scan, so that the backward step accumulates their cotangents element-wise and the sum
      over the batch happens once afterwards (instead of one reduction per parameter and step).
    - the step is rematerialised (``jax.checkpoint``): the scan stores the state and ``r_t``
      of each step (a few ``(B, n)`` arrays) and recomputes the element-wise update in the
      backward pass, instead of storing every intermediate.

    Without differentiation the loop reads and writes the batch-major arrays in place (no
    transposes); the differentiated forward and backward scans run time-major.
    """

    name: ClassVar[str] = "custom_grad"
    summary: ClassVar[str] = (
        "in-place forward; reverse mode with one weight-gradient product after the loop"
    )

    def run(
        self, body: Callable, rec: Recurrence | None, args: tuple, length: int, spikes_of: Callable
    ) -> tuple:
        @jax.custom_vjp
        def scan(w: Any, args: tuple) -> tuple:
            return _in_place(body, rec, w, args, length)

        def fwd(w: Any, args: tuple) -> tuple:
            return _forward_with_residuals(body, rec, w, args, length, spikes_of)

        def bwd(res: tuple, ct: tuple) -> tuple:
            return _backward(rec, res, ct)

        scan.defvjp(fwd, bwd)
        return scan(None if rec is None else rec.weights, args)

    def __str__(self) -> str:
        return self.name


def _in_place(body: Callable, rec: Recurrence | None, w: Any, args: tuple, length: int) -> tuple:
    """The forward without differentiation: reads x_t and writes the outputs of step t in
    place in the batch-major arrays (no (T, B, ...) <-> (B, T, ...) transposes, each a copy
    of the whole input or output)."""
    p, f0, xs = args

    def step(s: Any, x_t: Any) -> tuple:
        return body(p, s, x_t, None if rec is None else rec.product(s.spikes, w))

    x0 = jax.tree.map(lambda a: a[:, 0], xs)
    shapes = jax.eval_shape(step, f0, x0)[1]
    bufs = jax.tree.map(lambda o: jnp.zeros((o.shape[0], length, *o.shape[1:]), o.dtype), shapes)

    def loop(t: Any, c: tuple) -> tuple:
        s, bufs = c
        x_t = jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, t, 1, False), xs)
        s, o = step(s, x_t)
        put = lambda b, o: jax.lax.dynamic_update_index_in_dim(b, o, t, 1)  # noqa: E731
        return s, jax.tree.map(put, bufs, o)

    return jax.lax.fori_loop(0, length, loop, (f0, bufs))


def _time_major_scan(
    body: Callable, rec: Recurrence | None, w: Any, args: tuple, z: Any, wt: Any, length: int
) -> tuple:
    """The differentiated forward: ``lax.scan`` over time-major ``xs`` and ``z`` (the zero
    input added to ``r_t``, whose cotangent is ``g_t``), the step rematerialised except the
    recurrent input; ``wt``: the materialised transpose of a dense product, or ``None``."""
    p, f0, xs = args

    def step(s: Any, xz: tuple) -> tuple:
        x_t, z_t = xz
        if rec is None:
            return body(p, s, x_t, None)
        if wt is None:
            r = rec.product(s.spikes, w)
        else:
            r = product_transposed(rec.product, s.spikes, w, wt)
        r = checkpoint_name(r, "recurrent_input")
        return body(p, s, x_t, r if z_t is None else r + z_t)

    if z is not None:  # store the state and r_t per step, recompute the rest
        step = jax.checkpoint(step, policy=_SAVE_REC)
    return jax.lax.scan(step, f0, (xs, z), length=length)


def _forward_with_residuals(
    body: Callable, rec: Recurrence | None, w: Any, args: tuple, length: int, spikes_of: Callable
) -> tuple:
    """The custom VJP's forward: per-neuron parameters broadcast over the batch, the
    time-major scan under ``jax.vjp``; residuals: its VJP, the presynaptic spikes of every
    step (for the weight gradient) and the weights."""
    p, f0, xs = args
    xs = _to_time(xs)
    batch = f0.imem.shape[0]
    wide = lambda a: jnp.broadcast_to(a, (batch, *a.shape)) if jnp.ndim(a) == 1 else a  # noqa: E731
    p_b = jax.tree.map(wide, p)
    if rec is None:
        z = wt = None
    else:
        shape = jax.eval_shape(rec.product, f0.spikes, w)
        z = jnp.zeros((length, *shape.shape), shape.dtype)
        wt = rec.transposed(w)

    def run(pb: Any, f0: Any, xs: Any, z: Any) -> tuple:
        return _time_major_scan(body, rec, w, (pb, f0, xs), z, wt, length)

    out, vjp = jax.vjp(run, p_b, f0, xs, z)
    if rec is None:
        return (out[0], _to_batch(out[1])), (vjp, None, w)
    spikes = spikes_of(out[1])
    prev = jnp.concatenate([f0.spikes[None].astype(spikes.dtype), spikes[:-1]])
    return (out[0], _to_batch(out[1])), (vjp, prev, w)


def _backward(rec: Recurrence | None, res: tuple, ct: tuple) -> tuple:
    """The custom VJP's backward: the scan's VJP, the batch sums of the per-neuron parameters'
    cotangents, and the weight gradient from the stored spikes and ``g_t``."""
    vjp, prev, w = res
    d_pb, d_f0, d_xs, g = vjp((ct[0], _to_time(ct[1])))
    d_xs = _to_batch(d_xs)
    narrow = lambda d: d.sum(axis=0) if jnp.ndim(d) == 2 else d  # noqa: E731
    d_p = jax.tree.map(narrow, d_pb)
    d_w = None if rec is None else rec.weight_grad(prev, g, w)
    return d_w, (d_p, d_f0, d_xs)


SCANS = {s.name: s for s in (CustomGradScan, PlainScan)}
"""Scan strategies by name (``PlanOptions(scan=name)``)."""
