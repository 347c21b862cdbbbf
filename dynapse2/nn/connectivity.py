"""Chip-shaped sparse connectivity: at most ``fan_in`` inputs per postsynaptic neuron.

A Dynap-SE2 neuron listens to at most 64 presynaptic neurons, through 64 CAM entries that
each hold a presynaptic address and a synapse type. :class:`SparseWeights` stores recurrent
weights in that shape, one row per postsynaptic neuron:

- ``pre``: ``(n_post, fan_in)`` int32, presynaptic neuron index of each entry;
- ``syn_type``: ``(n_post, fan_in)`` int8, synapse type (0 AMPA, 1 NMDA, 2 GABA, 3 SHUNT);
- ``weight``: ``(n_post, fan_in)`` float32, non-negative weight in units of I_scale.

Unused entries have weight 0 (and ``pre`` 0, ``syn_type`` 0). Memory and time per simulated
step grow as n x fan_in, not n^2. Entries repeating the same (pre, type) add up, as CAM entries
do. ``weight`` is the only floating-point leaf: filter with ``equinox.is_inexact_array`` to
train it (``pre`` and ``syn_type`` are integer leaves; padded entries have weight 0 and are
trainable like any other entry, i.e. a free CAM slot listening to neuron ``pre``).

``DynapSim(n, has_rec=True, w_rec=SparseWeights...)`` accepts it wherever a dense ``w_rec``
is accepted, and simulates the same network (identical spikes up to float32 summation order).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2.physics.chip import N_CAM as FAN_IN
from dynapse2.physics.synapses import N_SYNAPSE_TYPES, typed_from_signed


class SparseWeights(eqx.Module):
    """Recurrent weights as per-postsynaptic-neuron CAM entries (see the module docstring)."""

    pre: jax.Array
    syn_type: jax.Array
    weight: jax.Array

    def __init__(self, pre: Any, syn_type: Any, weight: Any):
        pre, syn_type = np.asarray(pre), np.asarray(syn_type)
        w = jnp.asarray(weight, jnp.float32)
        if not (pre.ndim == 2 and pre.shape == syn_type.shape == w.shape):
            raise ValueError(
                f"SparseWeights: pre {pre.shape}, syn_type {syn_type.shape} and weight "
                f"{w.shape} must have one equal shape (n_post, fan_in)"
            )
        if pre.size and (pre.min() < 0 or not np.issubdtype(pre.dtype, np.integer)):
            raise ValueError("SparseWeights: pre must hold non-negative integer neuron indices")
        if syn_type.size and (syn_type.min() < 0 or syn_type.max() > 3):
            raise ValueError("SparseWeights: syn_type must be in 0..3 (AMPA, NMDA, GABA, SHUNT)")
        self.pre = jnp.asarray(pre, jnp.int32)
        self.syn_type = jnp.asarray(syn_type, jnp.int8)
        self.weight = w

    @property
    def n_post(self) -> int:
        """Number of postsynaptic neurons (rows)."""
        return self.pre.shape[0]

    @property
    def fan_in(self) -> int:
        """Entries per postsynaptic neuron (64 for a chip-shaped table)."""
        return self.pre.shape[1]

    @classmethod
    def from_dense(cls, w: Any, fan_in: int = FAN_IN) -> SparseWeights:
        """Build from a dense ``(n_pre, n_post, 4)`` non-negative array, or a signed
        ``(n_pre, n_post)`` one (positive -> AMPA, negative -> GABA with weight |w|).

        Raises ``ValueError`` when a neuron has more than ``fan_in`` nonzero inputs.
        """
        a = np.asarray(w, np.float64)
        if a.ndim == 2:
            a = typed_from_signed(a)
        if a.ndim != 3 or a.shape[-1] != 4:
            raise ValueError(
                f"SparseWeights.from_dense: w has shape {a.shape}; expected "
                "(n_pre, n_post, 4) or (n_pre, n_post)"
            )
        if (a < 0).any():
            raise ValueError("SparseWeights.from_dense: typed weights must be >= 0")
        n_post = a.shape[1]
        per_post = np.moveaxis(a, 1, 0).reshape(n_post, -1)  # (n_post, n_pre * 4)
        counts = (per_post != 0).sum(axis=1)
        if counts.size and counts.max() > fan_in:
            k = int(np.argmax(counts))
            raise ValueError(
                f"SparseWeights.from_dense: neuron {k} has {int(counts[k])} inputs; at most "
                f"fan_in = {fan_in}"
            )
        pre = np.zeros((n_post, fan_in), np.int32)
        typ = np.zeros((n_post, fan_in), np.int8)
        wt = np.zeros((n_post, fan_in), np.float32)
        for j in range(n_post):
            (flat,) = np.nonzero(per_post[j])
            pre[j, : flat.size], typ[j, : flat.size] = flat // 4, flat % 4
            wt[j, : flat.size] = per_post[j, flat]
        return cls(pre, typ, wt)

    def to_dense(self, n_pre: int | None = None) -> jax.Array:
        """The dense ``(n_pre, n_post, 4)`` weights (``n_pre`` defaults to ``n_post``)."""
        n_pre = self.n_post if n_pre is None else n_pre
        post = jnp.broadcast_to(jnp.arange(self.n_post)[:, None], self.pre.shape)
        out = jnp.zeros((n_pre, self.n_post, 4), jnp.float32)
        return out.at[self.pre, post, self.syn_type.astype(jnp.int32)].add(self.weight)

    def types(self) -> tuple[int, ...]:
        """Synapse types with at least one nonzero weight (needs concrete values)."""
        t, w = np.asarray(self.syn_type), np.asarray(self.weight)
        return tuple(int(k) for k in range(N_SYNAPSE_TYPES) if ((t == k) & (w != 0)).any())

    def by_type(self, types: tuple[int, ...]) -> jax.Array:
        """``(len(types), n_post, fan_in)`` weights, entry weights masked to each type."""
        return jnp.stack([jnp.where(self.syn_type == t, self.weight, 0.0) for t in types])
