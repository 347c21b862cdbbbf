"""Simulation backends of DynapSim: one contract, two numerical implementations.

- ``"jax"``: ``jax.lax.scan`` over time inside ``equinox.filter_jit``, float32, differentiable
  through the surrogate spike.
- ``"numpy"``: a plain loop in float64 NumPy, the reference the JAX backend is tested against.

Both build the same step (:func:`dynapse2.physics.step.step`) from the same circuit constants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2.physics.soma import membrane_voltage
from dynapse2.physics.step import JAX_OPS, NUMPY_OPS, Ops, State, circuit, step

if TYPE_CHECKING:
    from dynapse2.nn.dynapsim import DynapSim

BACKENDS: tuple[str, ...] = ("jax", "numpy")
STATE_NDIM = {"imem": 1, "isyn": 2, "iahp": 1, "timer": 1, "spikes": 1}


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` while it is being traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def check_input(x: Any, typed: bool) -> None:
    """Raise ``ValueError`` for non-finite input, or negative typed event counts."""
    a = _concrete(x)
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


def _body(ops: Ops, m: DynapSim, c: Any, w: Any, typed: bool, record: bool) -> Callable:
    xp = ops.xp
    n, k = m.n, len(m.rec_types)

    def body(s: State, x_t: Any) -> tuple[State, Any]:
        if typed:
            cols = [x_t[..., t] for t in range(4)]
        else:
            zero = xp.zeros_like(x_t)
            cols = [xp.maximum(x_t, 0), zero, xp.maximum(-x_t, 0), zero]
        if w is not None:
            rec = (s.spikes @ w).reshape(*s.spikes.shape[:-1], n, k)
            for j, t in enumerate(m.rec_types):
                cols[t] = cols[t] + rec[..., j]
        s = step(
            ops,
            c,
            s,
            xp.stack(cols, axis=-1),
            m.dt,
            kappa=m.kappa,
            io=m.Io,
            synapse_model=m.synapse_model,
            detach_feedback=m.detach_feedback,
            detach_reset=m.detach_reset,
            slope=m.surrogate_slope,
        )
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    return body


def _recurrent_matrix(m: DynapSim, xp: Any, dtype: Any) -> Any:
    if m.w_rec is None or not m.rec_types:
        return None
    w = xp.asarray(m.w_rec, dtype=dtype)[:, :, list(m.rec_types)]
    return w.reshape(m.n, m.n * len(m.rec_types))


def _package(m: DynapSim, xp: Any, s: State, out: Any, record: bool, batched: bool):
    """Turn the time-major scan outputs into ``(spikes, state, record)``."""
    tm = lambda a: xp.moveaxis(a, 0, 1)  # noqa: E731  (T, B, ...) -> (B, T, ...)
    un = (lambda a: a) if batched else (lambda a: a[0])  # noqa: E731
    new_state = {k: un(v) for k, v in s._asdict().items()}
    if not record:
        return un(tm(out)), new_state, {}
    imem, isyn, iahp, spikes = (tm(a) for a in out)
    rec = {
        "imem": imem,
        "vmem": membrane_voltage(xp, imem, m.kappa, m.Ut, m.Io),
        **{f"i{t}": isyn[..., j] for j, t in enumerate(("ampa", "nmda", "gaba", "shunt"))},
        "iahp": iahp,
        "spikes": spikes,
    }
    return un(spikes), new_state, {k: un(v) for k, v in rec.items()}


@eqx.filter_jit
def _scan(m: DynapSim, x: jax.Array, typed: bool, record: bool, batched: bool):
    c = circuit(jnp, m.effective_values(), m.kappa, m.Ut, m.Vth)
    s0 = _batched_state(m, x.shape[0], jnp, jnp.float32)
    w = _recurrent_matrix(m, jnp, jnp.float32)
    s, out = jax.lax.scan(_body(JAX_OPS, m, c, w, typed, record), s0, jnp.moveaxis(x, 1, 0))
    return _package(m, jnp, s, out, record, batched)


def run_jax(m: DynapSim, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with JAX (float32, jit, lax.scan). Shapes as :meth:`DynapSim.evolve`."""
    check_input(x, typed)
    x = jnp.asarray(x, jnp.float32)
    return _scan(m, x if batched else x[None], typed, record, batched)


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
