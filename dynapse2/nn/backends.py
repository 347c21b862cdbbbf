"""Simulation backends of DynapSim: one contract, two numerical implementations.

- ``"jax"``: ``jax.lax.scan`` over time inside ``equinox.filter_jit``, float32, differentiable
  through the surrogate spike; the recurrence, the loop and the sharding are the strategies
  of the run's plan (:mod:`dynapse2.nn.plan`).
- ``"numpy"``: a plain loop in float64 NumPy with the dense recurrent matrix, the reference
  the JAX backend is tested against.

Both advance the same circuit constants with the module's solver (:mod:`dynapse2.solvers`): the
JAX backend through the solver's fast layout, the NumPy one through its reference layout.
Both take a :class:`~dynapse2.nn.params.SimParams`, not the module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp
import numpy as np

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.inputs import check_input, concrete
from dynapse2.nn.params import SimParams
from dynapse2.nn.simulate import batched_state, package, step_input, step_options
from dynapse2.physics.step import NUMPY_OPS, Ops, State, circuit
from dynapse2.physics.synapses import ALL_TYPES, SIGNED_TYPES

BACKENDS: tuple[str, ...] = ("jax", "numpy")

__all__ = ["BACKENDS", "run_jax", "run_numpy", "step_options"]


def _body(ops: Ops, p: SimParams, c: Any, w: Any, typed: bool, record: bool) -> Callable:
    xp = ops.xp
    n, k = p.n, len(p.rec_types)
    advance = p.solver.reference_stepper(ops, c, p.dt, **step_options(p))

    ext = ALL_TYPES if typed else SIGNED_TYPES

    def body(s: State, x_t: Any) -> tuple[State, Any]:
        xs = tuple(x_t[..., t] for t in ext) if typed else x_t
        rec = None
        if w is not None:
            r = (s.spikes @ w).reshape(*s.spikes.shape[:-1], n, k)
            rec = [r[..., j] for j in range(k)]
        inp = step_input(xp, xs, typed, ext, rec, p.rec_types)
        zero = xp.zeros_like(s.imem)
        s = advance(s, xp.stack([inp.get(t, zero) for t in ALL_TYPES], axis=-1))
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    return body


def _recurrent_matrix(p: SimParams, xp: Any, dtype: Any) -> Any:
    """Dense ``(n, n * k)`` recurrent matrix of the active types (column = post * k + j)."""
    if p.w_rec is None or not p.rec_types:
        return None
    w = p.w_rec.to_dense() if isinstance(p.w_rec, SparseWeights) else p.w_rec
    w = xp.asarray(w, dtype=dtype)[:, :, list(p.rec_types)]
    return w.reshape(p.n, p.n * len(p.rec_types))


def input_types(x: Any, typed: bool) -> tuple[int, ...]:
    """Synapse types the input can drive: those with a nonzero entry when ``x`` is concrete,
    else every type of its layout (typed: all four; signed: AMPA and GABA)."""
    a = concrete(x)
    if a is None:
        return ALL_TYPES if typed else SIGNED_TYPES
    if typed:
        return tuple(t for t in ALL_TYPES if a[..., t].any())
    return tuple(t for t, v in zip(SIGNED_TYPES, ((a > 0).any(), (a < 0).any()), strict=True) if v)


def integrated_types(p: SimParams, ext: tuple[int, ...]) -> tuple[int, ...]:
    """Synapse types to integrate: those with input (external or recurrent) and those whose
    current is not at I_0 (all four when the state is traced). Any other type stays at I_0
    exactly (its decay max(I_0 (1 - dt/tau), I_0) = I_0), so leaving it out is exact."""
    isyn = concrete(p.state["isyn"])
    held = (
        set(ALL_TYPES) if isyn is None else {t for t in ALL_TYPES if (isyn[..., t] != p.Io).any()}
    )
    return tuple(sorted(set(ext) | set(p.rec_types) | held))


def run_jax(p: SimParams, x: Any, plan: Any):
    """Simulate with JAX (float32, jit, lax.scan) as ``plan`` (a
    :class:`~dynapse2.nn.plan.Plan`) says: its recurrence, scan and sharding strategies.
    Shapes as :meth:`DynapSim.evolve <dynapse2.nn.DynapSim.evolve>`; a sharded input gives
    results sharded the same way."""
    check_input(x, plan.typed)
    ext = input_types(x, plan.typed)
    types = integrated_types(p, ext)
    x = jnp.asarray(x, jnp.float32)
    args = (plan.typed, plan.record, plan.batched, ext, types, plan.scan, plan.recurrence)
    return plan.sharding.run(p, x, *args)


def run_numpy(p: SimParams, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with NumPy in float64 (the reference). Shapes as :meth:`DynapSim.evolve`."""
    check_input(x, typed)
    x = np.asarray(x, np.float64)
    x = x if batched else x[None]
    vals = {k: np.asarray(v, np.float64) for k, v in p.effective_values().items()}
    c = circuit(np, vals, p.kappa, p.Ut, p.Vth)
    s = batched_state(p, x.shape[0], np, np.float64)
    w = _recurrent_matrix(p, np, np.float64)
    body = _body(NUMPY_OPS, p, c, w, typed, record)
    outs = []
    for t in range(x.shape[1]):
        s, o = body(s, x[:, t])
        outs.append(o)
    out = tuple(np.stack(a) for a in zip(*outs, strict=True)) if record else np.stack(outs)
    return package(p, np, s, out, record, batched)
