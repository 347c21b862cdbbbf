"""What a simulation strategy receives of a DynapSim: its circuit values, state and weights.

:class:`SimParams` is a pytree (an equinox module) made from the module's fields at each call
(:meth:`DynapSim.sim_params <dynapse2.nn.DynapSim.sim_params>`), so gradients, ``jit`` and
``vmap`` pass through it to the module. The strategies of a run plan
(:mod:`dynapse2.nn.plan`) take it instead of the module, so they do not depend on it.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from dynapse2.solvers import AbstractSolver

STATE_NDIM = {"imem": 1, "isyn": 2, "iahp": 1, "timer": 1, "spikes": 1}
"""State variables of a population and their number of axes, unbatched."""


def effective_values(
    nominal: dict[str, Any], factors: dict[str, jax.Array] | None, n: int
) -> dict[str, jax.Array]:
    """Every current (A), capacitance (F) and ``Iscale`` (A) per neuron, ``(n,)`` float32 each:
    the ``nominal`` values times the mismatch ``factors`` (none: the nominal values)."""
    out = {k: jnp.broadcast_to(jnp.asarray(v, jnp.float32), (n,)) for k, v in nominal.items()}
    if factors is None:
        return out
    return {k: v * factors[k] for k, v in out.items()}


class SimParams(eqx.Module):
    """The values a run of ``n`` neurons needs (see the module docstring).

    ``nominal``: currents ``(n,)`` (A), capacitances (F) and ``Iscale`` (A);
    ``mismatch_factors``: ``(n,)`` per name of ``nominal``, or ``None``; ``w_rec``: dense
    ``(n, n, 4)`` or :class:`~dynapse2.nn.connectivity.SparseWeights`, or ``None``;
    ``state``: the initial state (:data:`STATE_NDIM`, optionally with a leading batch axis);
    the rest: the module's static simulation parameters (solver and its step options)."""

    nominal: dict[str, Any]
    mismatch_factors: dict[str, jax.Array] | None
    w_rec: Any
    state: dict[str, jax.Array]
    n: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)
    kappa: float = eqx.field(static=True)
    Ut: float = eqx.field(static=True)
    Io: float = eqx.field(static=True)
    Vth: float = eqx.field(static=True)
    rec_types: tuple[int, ...] = eqx.field(static=True)
    solver: AbstractSolver = eqx.field(static=True)
    synapse_model: str = eqx.field(static=True)
    detach_feedback: bool = eqx.field(static=True)
    detach_reset: bool = eqx.field(static=True)
    surrogate: str = eqx.field(static=True)
    surrogate_slope: float = eqx.field(static=True)
    positive_feedback: bool = eqx.field(static=True)

    def effective_values(self) -> dict[str, jax.Array]:
        """:func:`effective_values` of this population."""
        return effective_values(self.nominal, self.mismatch_factors, self.n)
