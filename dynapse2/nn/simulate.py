"""One run of a population in JAX: the time loop of the solver's step, the recurrent input
added to the synapses each step, and the results packaged as ``DynapSim.evolve`` returns
them. The recurrence and the loop are the plan's strategies (:mod:`dynapse2.nn.recurrence`,
:mod:`dynapse2.nn.scan`), passed in."""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from dynapse2.nn.params import STATE_NDIM, SimParams
from dynapse2.physics.fused import FusedState
from dynapse2.physics.soma import membrane_voltage
from dynapse2.physics.step import JAX_OPS, State, circuit
from dynapse2.physics.synapses import (
    ALL_TYPES,
    N_SYNAPSE_TYPES,
    SIGNED_TYPES,
    SYNAPSE_TYPES,
    split_signed,
)


def step_options(m: Any) -> dict[str, Any]:
    """Keyword options of the step of the solver (:class:`~dynapse2.solvers.AbstractSolver`)
    of ``m`` (a ``DynapSim`` or its :class:`~dynapse2.nn.params.SimParams`)."""
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


def step_input(
    xp: Any, x_t: Any, typed: bool, ext: tuple[int, ...], rec: Any, rec_types: tuple[int, ...]
) -> dict[int, Any]:
    """The input of one step per driven synapse type, ``{type: (..., n)}`` (units of I_scale):
    the external input ``x_t`` (typed: one array per type of ``ext``; signed: one array, split
    into AMPA and GABA, of which the types in ``ext`` are kept) plus the recurrent input
    ``rec`` (one array per entry of ``rec_types``, or ``None``). Both backends' loops."""
    if typed:
        inp = dict(zip(ext, x_t, strict=True))
    else:
        split = zip(SIGNED_TYPES, split_signed(xp, x_t), strict=True)
        inp = {t: v for t, v in split if t in ext}
    if rec is not None:
        for j, t in enumerate(rec_types):
            inp[t] = inp[t] + rec[j] if t in inp else rec[j]
    return inp


def batched_state(p: SimParams, batch: int, xp: Any, dtype: Any) -> State:
    """The initial state of ``p`` with a leading batch axis of ``batch``."""
    out = {}
    for k, nd in STATE_NDIM.items():
        v = xp.asarray(p.state[k], dtype=dtype)
        if v.ndim == nd:
            v = xp.broadcast_to(v, (batch, *v.shape))
        elif v.ndim != nd + 1 or v.shape[0] != batch:
            raise ValueError(
                f"DynapSim: state {k} has shape {v.shape}; expected {v.shape[-nd:]} or "
                f"({batch}, ...) for a batch of {batch}"
            )
        out[k] = v
    return State(**out)


def package(
    p: SimParams, xp: Any, s: State, out: Any, record: bool, batched: bool, time_major: bool = True
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
        "vmem": membrane_voltage(xp, imem, p.kappa, p.Ut, p.Io),
        **{f"i{t}": isyn[..., j] for j, t in enumerate(SYNAPSE_TYPES)},
        "iahp": iahp,
        "spikes": spikes,
    }
    return un(spikes), new_state, {k: un(v) for k, v in rec.items()}


@eqx.filter_jit
def simulate(
    p: SimParams,
    x: jax.Array,
    typed: bool,
    record: bool,
    batched: bool,
    ext: tuple[int, ...],
    types: tuple[int, ...],
    scan: Any,
    recurrence: Any,
    table: Any = None,
    neurons: tuple[str, int] | None = None,
):
    """The JAX simulation of ``p`` on batched input ``x`` ``(B, T, n[, 4])``.

    ``ext``: the synapse types the input drives; ``types``: those integrated (the rest stay
    at I_0); ``scan``, ``recurrence``: the strategies (``recurrence`` ``None``: no recurrent
    input); ``table``: the recurrence's host-built table; ``neurons``: ``p`` is one device's
    block of neurons inside ``jax.shard_map`` (see :mod:`dynapse2.nn.recurrence`)."""
    io = p.Io
    c = circuit(jnp, p.effective_values(), p.kappa, p.Ut, p.Vth)
    prep = p.solver.prepare(jnp, c, p.dt, types)
    options = step_options(p)
    batch = x.shape[0]
    s0 = batched_state(p, batch, jnp, jnp.float32)
    f0 = FusedState(s0.imem, tuple(s0.isyn[..., t] for t in types), s0.iahp, s0.timer, s0.spikes)
    rec = None if recurrence is None else recurrence.build(p, table, neurons)
    if typed:
        xs = tuple(x[..., t] for t in ext)  # (B, T, n) each
    else:
        xs = x

    def body(prep: Any, s: FusedState, x_t: Any, r: Any):
        if r is not None:
            assert rec is not None  # r is only fed when there is a recurrence
            r = rec.split(r)
        inp = step_input(jnp, x_t, typed, ext, r, p.rec_types)
        s = p.solver.step(
            JAX_OPS, prep, s, tuple(inp.get(t) for t in types), p.dt, types=types, **options
        )
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    spikes_of = (lambda o: o[3]) if record else (lambda o: o)  # noqa: E731
    f, out = scan.run(body, rec, (prep, f0, xs), x.shape[1], spikes_of)

    def full_isyn(isyn: tuple, rest: jax.Array, shape: tuple) -> jax.Array:
        cols = dict(zip(types, isyn, strict=True))
        return jnp.stack(
            [cols[t] if t in cols else jnp.broadcast_to(rest[..., t], shape) for t in ALL_TYPES],
            axis=-1,
        )

    s = State(f.imem, full_isyn(f.isyn, s0.isyn, f.imem.shape), f.iahp, f.timer, f.spikes)
    if record:
        imem, isyn, iahp, spikes = out
        held = jnp.full((1, 1, 1, N_SYNAPSE_TYPES), io, jnp.float32)
        out = (imem, full_isyn(isyn, held, imem.shape), iahp, spikes)
    return package(p, jnp, s, out, record, batched, time_major=False)
