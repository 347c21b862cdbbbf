"""Simulation backends of DynapSim: one contract, two numerical implementations.

- ``"jax"``: ``jax.lax.scan`` over time inside ``equinox.filter_jit``, float32, differentiable
  through the surrogate spike.
- ``"numpy"``: a plain loop in float64 NumPy, the reference the JAX backend is tested against.

Both advance the same circuit constants with the module's solver (:mod:`dynapse2.solvers`): the
JAX backend through the solver's fast layout, the NumPy one through its reference layout.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name
from jax.sharding import PartitionSpec

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.parallel import split_axes
from dynapse2.nn.recurrence import (
    FANOUT_MIN_BATCH,
    Recurrence,
    concrete,
    fanout_columns,
    make_recurrence,
    product_transposed,
    uses_cam_fanout,
)
from dynapse2.physics.fused import FusedState
from dynapse2.physics.soma import membrane_voltage
from dynapse2.physics.step import JAX_OPS, NUMPY_OPS, Ops, State, circuit
from dynapse2.physics.synapses import SIGNED_TYPES, SYNAPSE_TYPES, split_signed

if TYPE_CHECKING:
    from dynapse2.nn.dynapsim import DynapSim

BACKENDS: tuple[str, ...] = ("jax", "numpy")
STATE_NDIM = {"imem": 1, "isyn": 2, "iahp": 1, "timer": 1, "spikes": 1}


def check_input(x: Any, typed: bool) -> None:
    """Raise ``ValueError`` for non-finite input, or negative typed event counts."""
    a = concrete(x)
    if a is None:
        return
    if not np.isfinite(a).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"DynapSim: input x{list(idx)} = {float(a[idx])!r}; input must be finite")
    if typed and (a < 0).any():
        idx = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise ValueError(
            f"DynapSim: input x{list(idx)} = {float(a[idx])!r} is negative; typed event counts "
            f"(..., n, 4) must be >= 0 (pass a signed (..., n) input to drive GABA)"
        )


def _batched_state(m: DynapSim, batch: int, xp: Any, dtype: Any) -> State:
    out = {}
    for k, nd in STATE_NDIM.items():
        v = xp.asarray(getattr(m, k), dtype=dtype)
        if v.ndim == nd:
            v = xp.broadcast_to(v, (batch, *v.shape))
        elif v.ndim != nd + 1 or v.shape[0] != batch:
            raise ValueError(
                f"DynapSim: state {k} has shape {v.shape}; expected {v.shape[-nd:]} or "
                f"({batch}, ...) for a batch of {batch}"
            )
        out[k] = v
    return State(**out)


def step_options(m: DynapSim) -> dict[str, Any]:
    """Keyword options of the step of m's solver (:class:`~dynapse2.solvers.AbstractSolver`)."""
    return {
        "kappa": m.kappa,
        "io": m.Io,
        "synapse_model": m.synapse_model,
        "detach_feedback": m.detach_feedback,
        "detach_reset": m.detach_reset,
        "slope": m.surrogate_slope,
        "surrogate": m.surrogate,
        # only when off: a solver that does not honour it yet is refused by DynapSim
        **({} if m.positive_feedback else {"positive_feedback": False}),
    }


def _body(ops: Ops, m: DynapSim, c: Any, w: Any, typed: bool, record: bool) -> Callable:
    xp = ops.xp
    n, k = m.n, len(m.rec_types)
    advance = m.solver.reference_stepper(ops, c, m.dt, **step_options(m))

    def body(s: State, x_t: Any) -> tuple[State, Any]:
        if typed:
            cols = [x_t[..., t] for t in range(4)]
        else:
            cols = [xp.zeros_like(x_t)] * len(SYNAPSE_TYPES)
            cols[SIGNED_TYPES[0]], cols[SIGNED_TYPES[1]] = split_signed(xp, x_t)
        if w is not None:
            rec = (s.spikes @ w).reshape(*s.spikes.shape[:-1], n, k)
            for j, t in enumerate(m.rec_types):
                cols[t] = cols[t] + rec[..., j]
        s = advance(s, xp.stack(cols, axis=-1))
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    return body


def _recurrent_matrix(m: DynapSim, xp: Any, dtype: Any) -> Any:
    """Dense ``(n, n * k)`` recurrent matrix of the active types (column = post * k + j)."""
    if m.w_rec is None or not m.rec_types:
        return None
    w = m.w_rec.to_dense() if isinstance(m.w_rec, SparseWeights) else m.w_rec
    w = xp.asarray(w, dtype=dtype)[:, :, list(m.rec_types)]
    return w.reshape(m.n, m.n * len(m.rec_types))


def _package(
    m: DynapSim, xp: Any, s: State, out: Any, record: bool, batched: bool, time_major: bool = True
):
    """Turn the scan outputs (time-major, or batch-major ``(B, T, ...)``) into ``(spikes,
    state, record)``."""
    if time_major:
        tm = lambda a: xp.moveaxis(a, 0, 1)  # noqa: E731  (T, B, ...) -> (B, T, ...)
    else:
        tm = lambda a: a  # noqa: E731
    un = (lambda a: a) if batched else (lambda a: a[0])  # noqa: E731
    new_state = {k: un(v) for k, v in s._asdict().items()}
    if not record:
        return un(tm(out)), new_state, {}
    imem, isyn, iahp, spikes = (tm(a) for a in out)
    rec = {
        "imem": imem,
        "vmem": membrane_voltage(xp, imem, m.kappa, m.Ut, m.Io),
        **{f"i{t}": isyn[..., j] for j, t in enumerate(SYNAPSE_TYPES)},
        "iahp": iahp,
        "spikes": spikes,
    }
    return un(spikes), new_state, {k: un(v) for k, v in rec.items()}


_SAVE_REC = jax.checkpoint_policies.save_only_these_names("recurrent_input")


def _scan_with_grad(
    body: Callable, rec: Recurrence | None, args: tuple, length: int, spikes_of: Callable
) -> tuple:
    """``lax.scan`` of ``body(p, s, x_t, r_t)`` over time, where ``r_t`` is the recurrent
    input ``rec.product(s.spikes, W)`` (``None`` without recurrence), with a custom gradient.

    The forward value is that of the plain scan. Its reverse mode differs from JAX's
    default transpose of ``lax.scan`` in three ways, none of which changes the maths (only the
    order of float32 sums):

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

    Args:
        body: ``(p, state, x_t, r_t) -> (state, out_t)``.
        args: ``(p, initial state, xs)``, differentiable; ``xs`` batch-major (leaves
            ``(B, T, ...)``), and so are the stacked outputs returned.
        spikes_of: time-major stacked outputs -> spikes ``(T, B, n)``.

    Without differentiation the loop reads and writes the batch-major arrays in place (no
    transposes); the differentiated forward and backward scans run time-major.
    """

    to_time = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 1, 0))  # (B, T, ..) -> (T, B, ..)
    to_batch = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 0, 1))

    def run(w: Any, args: tuple, z: Any, wt: jax.Array | None = None) -> tuple:
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

        if z is not None:  # differentiated: store the state and r_t per step, recompute the rest
            step = jax.checkpoint(step, policy=_SAVE_REC)
        return jax.lax.scan(step, f0, (xs, z), length=length)

    def run_in_place(w: Any, args: tuple) -> tuple:
        # the forward without differentiation: reads x_t and writes the outputs of step t in
        # place in the batch-major arrays (no (T, B, ...) <-> (B, T, ...) transposes, each a
        # copy of the whole input or output)
        p, f0, xs = args

        def step(s: Any, x_t: Any) -> tuple:
            return body(p, s, x_t, None if rec is None else rec.product(s.spikes, w))

        x0 = jax.tree.map(lambda a: a[:, 0], xs)
        shapes = jax.eval_shape(step, f0, x0)[1]
        bufs = jax.tree.map(
            lambda o: jnp.zeros((o.shape[0], length, *o.shape[1:]), o.dtype), shapes
        )

        def loop(t: Any, c: tuple) -> tuple:
            s, bufs = c
            x_t = jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, t, 1, False), xs)
            s, o = step(s, x_t)
            put = lambda b, o: jax.lax.dynamic_update_index_in_dim(b, o, t, 1)  # noqa: E731
            return s, jax.tree.map(put, bufs, o)

        return jax.lax.fori_loop(0, length, loop, (f0, bufs))

    @jax.custom_vjp
    def scan(w: Any, args: tuple) -> tuple:
        return run_in_place(w, args)

    def fwd(w: Any, args: tuple) -> tuple:
        p, f0, xs = args
        xs = to_time(xs)
        batch = f0.imem.shape[0]
        wide = lambda a: jnp.broadcast_to(a, (batch, *a.shape)) if jnp.ndim(a) == 1 else a  # noqa: E731
        p_b = jax.tree.map(wide, p)
        if rec is None:
            z = wt = None
        else:
            shape = jax.eval_shape(rec.product, f0.spikes, w)
            z = jnp.zeros((length, *shape.shape), shape.dtype)
            wt = rec.transposed(w)
        out, vjp = jax.vjp(lambda pb, f0, xs, z: run(w, (pb, f0, xs), z, wt), p_b, f0, xs, z)
        if rec is None:
            return (out[0], to_batch(out[1])), (vjp, None, w)
        spikes = spikes_of(out[1])
        prev = jnp.concatenate([f0.spikes[None].astype(spikes.dtype), spikes[:-1]])
        return (out[0], to_batch(out[1])), (vjp, prev, w)

    def bwd(res: tuple, ct: tuple) -> tuple:
        vjp, prev, w = res
        d_pb, d_f0, d_xs, g = vjp((ct[0], to_time(ct[1])))
        d_xs = to_batch(d_xs)
        narrow = lambda d: d.sum(axis=0) if jnp.ndim(d) == 2 else d  # noqa: E731
        d_p = jax.tree.map(narrow, d_pb)
        d_w = None if rec is None else rec.weight_grad(prev, g, w)
        return d_w, (d_p, d_f0, d_xs)

    scan.defvjp(fwd, bwd)
    return scan(None if rec is None else rec.weights, args)


@eqx.filter_jit
def _scan(
    m: DynapSim,
    x: jax.Array,
    typed: bool,
    record: bool,
    batched: bool,
    ext: tuple[int, ...],
    types: tuple[int, ...],
    custom_grad: bool = True,
    fan_cols: jax.Array | None = None,
    neurons: tuple[str, int] | None = None,
):
    """The JAX simulation of ``m`` on batched input ``x`` (see :func:`run_jax`); ``neurons``:
    ``m`` is one device's block of neurons inside ``jax.shard_map`` (see
    :func:`make_recurrence`)."""
    io = m.Io
    c = circuit(jnp, m.effective_values(), m.kappa, m.Ut, m.Vth)
    p = m.solver.prepare(jnp, c, m.dt, types)
    options = step_options(m)
    batch = x.shape[0]
    s0 = _batched_state(m, batch, jnp, jnp.float32)
    f0 = FusedState(s0.imem, tuple(s0.isyn[..., t] for t in types), s0.iahp, s0.timer, s0.spikes)
    rec = make_recurrence(m, fan_cols, neurons)
    rec_slot = {t: j for j, t in enumerate(m.rec_types)}
    if typed:
        xs = tuple(x[..., t] for t in ext)  # (B, T, n) each
    else:
        xs = x

    def body(p: Any, s: FusedState, x_t: Any, r: Any):
        if typed:
            inp = dict(zip(ext, x_t, strict=True))
        else:
            inp = dict(zip(SIGNED_TYPES, split_signed(jnp, x_t), strict=True))
            inp = {t: v for t, v in inp.items() if t in ext}
        if r is not None:
            r = rec.split(r)
            for t, j in rec_slot.items():
                inp[t] = inp[t] + r[j] if t in inp else r[j]
        s = m.solver.step(
            JAX_OPS, p, s, tuple(inp.get(t) for t in types), m.dt, types=types, **options
        )
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    if not custom_grad:  # JAX's own reverse mode through the scan (reference for the tests)
        step = lambda s, x_t: body(p, s, x_t, rec and rec.product(s.spikes, rec.weights))  # noqa: E731
        f, out = jax.lax.scan(step, f0, jax.tree.map(lambda a: jnp.moveaxis(a, 1, 0), xs))
        out = jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), out)
    else:
        spikes_of = (lambda o: o[3]) if record else (lambda o: o)  # noqa: E731
        f, out = _scan_with_grad(body, rec, (p, f0, xs), x.shape[1], spikes_of)

    def full_isyn(isyn: tuple, rest: jax.Array, shape: tuple) -> jax.Array:
        cols = dict(zip(types, isyn, strict=True))
        return jnp.stack(
            [cols[t] if t in cols else jnp.broadcast_to(rest[..., t], shape) for t in range(4)],
            axis=-1,
        )

    s = State(f.imem, full_isyn(f.isyn, s0.isyn, f.imem.shape), f.iahp, f.timer, f.spikes)
    if record:
        imem, isyn, iahp, spikes = out
        held = jnp.full((1, 1, 1, 4), io, jnp.float32)
        out = (imem, full_isyn(isyn, held, imem.shape), iahp, spikes)
    return _package(m, jnp, s, out, record, batched, time_major=False)


def _external_types(x: Any, typed: bool) -> tuple[int, ...]:
    """Synapse types the input can drive: those with a nonzero entry when ``x`` is concrete,
    else every type of its layout (typed: all four; signed: AMPA and GABA)."""
    a = concrete(x)
    if a is None:
        return tuple(range(len(SYNAPSE_TYPES))) if typed else SIGNED_TYPES
    if typed:
        return tuple(t for t in range(4) if a[..., t].any())
    return tuple(t for t, v in zip(SIGNED_TYPES, ((a > 0).any(), (a < 0).any()), strict=True) if v)


def _computed_types(m: DynapSim, ext: tuple[int, ...]) -> tuple[int, ...]:
    """Synapse types to integrate: those with input (external or recurrent) and those whose
    current is not at I_0 (all four when the state is traced). Any other type stays at I_0
    exactly (its decay max(I_0 (1 - dt/tau), I_0) = I_0), so leaving it out is exact."""
    isyn = concrete(m.isyn)
    held = set(range(4)) if isyn is None else {t for t in range(4) if (isyn[..., t] != m.Io).any()}
    return tuple(sorted(set(ext) | set(m.rec_types) | held))


def run_jax(m: DynapSim, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with JAX (float32, jit, lax.scan). Shapes as :meth:`DynapSim.evolve`.

    An input whose batch axis is sharded across devices (see
    :func:`dynapse2.nn.parallel.shard_batch`) runs each device's batch elements on that
    device; one whose neuron axis is sharded (:func:`dynapse2.nn.parallel.shard_neurons`,
    possibly with the batch axis too) runs each device's block of neurons on that device.
    Either way the arrays returned are sharded the same way."""
    check_input(x, typed)
    ext = _external_types(x, typed)
    types = _computed_types(m, ext)
    split = split_axes(x, np.ndim(x) - (2 if typed else 1), batched)
    x = jnp.asarray(x, jnp.float32)
    if split is not None and split[2] is not None:
        mesh, batch_axis, neuron_axis = split
        local_batch = x.shape[0] // (mesh.shape[batch_axis] if batch_axis else 1)
        fan = (
            fanout_columns(m, mesh.shape[neuron_axis])
            if (batched and local_batch >= FANOUT_MIN_BATCH) or uses_cam_fanout(m)
            else None
        )
        return _neuron_sharded_scan(
            m, x, typed, record, batched, ext, types, fan, mesh, batch_axis, neuron_axis
        )
    if split is not None:  # the batch split: the table of one device's share of the batch
        mesh, axis = split[0], split[1]
        local_batch = x.shape[0] // mesh.shape[axis]
        fan = fanout_columns(m) if local_batch >= FANOUT_MIN_BATCH or uses_cam_fanout(m) else None
        return _sharded_scan(m, x, typed, record, ext, types, fan, mesh, axis)
    fan = (
        fanout_columns(m)
        if (batched and x.shape[0] >= FANOUT_MIN_BATCH) or uses_cam_fanout(m)
        else None
    )
    return _scan(m, x if batched else x[None], typed, record, batched, ext, types, True, fan)


@eqx.filter_jit
def _sharded_scan(m: DynapSim, x: jax.Array, typed, record, ext, types, fan, mesh, axis):
    """:func:`_scan` under ``jax.shard_map``: the batch axis of ``x`` (and of a batched
    state) split along mesh axis ``axis``, everything else replicated (also the fan-out
    table ``fan``, so that each device sums the recurrent input as one device does)."""
    state = {k: getattr(m, k) for k in STATE_NDIM}
    dyn, static = eqx.partition(m.set_attributes(dict.fromkeys(state)), eqx.is_array)
    batch_spec = PartitionSpec(axis)
    state_specs = {
        k: batch_spec if jnp.ndim(v) == STATE_NDIM[k] + 1 else PartitionSpec()
        for k, v in state.items()
    }

    def local(dyn: Any, state: dict, x: jax.Array, fan: Any):
        mod = eqx.combine(dyn, static).set_attributes(state)
        return _scan(mod, x, typed, record, True, ext, types, True, fan)

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(PartitionSpec(), state_specs, batch_spec, PartitionSpec()),
        out_specs=batch_spec,
        check_vma=False,  # the replicated initial state becomes per-device in the scan
    )
    return run(dyn, state, x, fan)


@eqx.filter_jit
def _neuron_sharded_scan(
    m: DynapSim,
    x: jax.Array,
    typed: bool,
    record: bool,
    batched: bool,
    ext: tuple[int, ...],
    types: tuple[int, ...],
    fan_cols: jax.Array | None,
    mesh: Any,
    batch_axis: str | None,
    axis: str,
):
    """:func:`_scan` under ``jax.shard_map`` with the neuron axis split along mesh axis
    ``axis``: each device simulates a contiguous block of ``n / shards`` neurons (their
    input, state, per-neuron currents and mismatch factors, and the columns of ``w_rec`` of
    its postsynaptic neurons: dense ``w_rec[:, block]``, or the block's rows of
    ``SparseWeights``). Each step all-gathers the previous step's spikes of every device
    (:func:`make_recurrence`). The batch axis is also split along ``batch_axis`` if given.
    ``fan_cols``: one fan-out table per block, ``(shards, n, width)``
    (:func:`fanout_columns`), or ``None``."""
    from dynapse2.nn.dynapsim import _replace  # noqa: PLC0415  (dynapsim imports this module)

    shards = mesh.shape[axis]
    n_local = m.n // shards
    b = batch_axis if batched else None
    state = {k: getattr(m, k) for k in STATE_NDIM}
    dyn, static = eqx.partition(m.set_attributes(dict.fromkeys(state)), eqx.is_array)

    def per_neuron(a: Any) -> PartitionSpec:  # currents, mismatch factors: (n,) or scalar
        split = jnp.ndim(a) >= 1 and jnp.shape(a)[0] == m.n
        return PartitionSpec(axis) if split else PartitionSpec()

    dyn_specs = jax.tree.map(per_neuron, dyn)
    if m.w_rec is not None:  # dense (pre, post, 4): post split; sparse (post, fan_in): rows
        w_spec = (
            PartitionSpec(axis) if isinstance(m.w_rec, SparseWeights) else PartitionSpec(None, axis)
        )
        dyn_specs = eqx.tree_at(lambda d: d.w_rec, dyn_specs, w_spec)

    def state_spec(k: str, lead: tuple) -> PartitionSpec:
        return PartitionSpec(*lead, axis, *(None,) * (STATE_NDIM[k] - 1))

    state_specs = {
        k: state_spec(k, () if jnp.ndim(v) == STATE_NDIM[k] else (b,)) for k, v in state.items()
    }
    x_spec = PartitionSpec(*((b, None) if batched else (None,)), axis, *((None,) if typed else ()))
    out_spec = PartitionSpec(*((b, None) if batched else (None,)), axis)
    new_state_specs = {k: state_spec(k, (b,) if batched else ()) for k in STATE_NDIM}

    def local(dyn: Any, state: dict, x: jax.Array, cols: jax.Array | None):
        mod = _replace(eqx.combine(dyn, static).set_attributes(state), n=n_local)
        xb = x if batched else x[None]
        cols = jax.tree.map(lambda a: a[0], cols)  # this block's table (or None)
        return _scan(mod, xb, typed, record, batched, ext, types, True, cols, (axis, shards))

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(dyn_specs, state_specs, x_spec, PartitionSpec(axis)),
        out_specs=(out_spec, new_state_specs, out_spec),
        check_vma=False,  # the initial state becomes per-device in the scan, as above
    )
    return run(dyn, state, x, fan_cols)


def run_numpy(m: DynapSim, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with NumPy in float64 (the reference). Shapes as :meth:`DynapSim.evolve`."""
    check_input(x, typed)
    x = np.asarray(x, np.float64)
    x = x if batched else x[None]
    vals = {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()}
    c = circuit(np, vals, m.kappa, m.Ut, m.Vth)
    s = _batched_state(m, x.shape[0], np, np.float64)
    w = _recurrent_matrix(m, np, np.float64)
    body = _body(NUMPY_OPS, m, c, w, typed, record)
    outs = []
    for t in range(x.shape[1]):
        s, o = body(s, x[:, t])
        outs.append(o)
    out = tuple(np.stack(a) for a in zip(*outs, strict=True)) if record else np.stack(outs)
    return _package(m, np, s, out, record, batched)
