"""The four synapse types of a Dynap-SE2 neuron and how a signed weight drives them.

Defined once: the order of the synapse-type axis (the last axis of typed inputs, typed
weights and ``State.isyn``), which types excite and which inhibit, and the split of a signed
weight into the two types it drives (positive -> AMPA, negative -> GABA with weight ``|w|``).

Functions take an array namespace ``xp`` (``numpy`` or ``jax.numpy``) where both backends use
them; shapes broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SYNAPSE_TYPES: tuple[str, ...] = ("ampa", "nmda", "gaba", "shunt")
"""Order of the synapse-type axis everywhere in the package (last axis of typed inputs)."""
N_SYNAPSE_TYPES: int = len(SYNAPSE_TYPES)
"""Synapse types per neuron (4)."""
AMPA, NMDA, GABA, SHUNT = (SYNAPSE_TYPES.index(t) for t in ("ampa", "nmda", "gaba", "shunt"))
"""Index of each synapse type on the synapse-type axis."""
ALL_TYPES: tuple[int, ...] = tuple(range(N_SYNAPSE_TYPES))
"""Every synapse type's index, in the order of the synapse-type axis: (0, 1, 2, 3)."""
EXCITATORY: tuple[str, ...] = ("ampa", "nmda")
INHIBITORY: tuple[str, ...] = ("gaba", "shunt")
SIGN: tuple[int, ...] = tuple(1 if t in EXCITATORY else -1 for t in SYNAPSE_TYPES)
"""Sign of each synapse type's effect on the membrane (+1 excites, -1 inhibits)."""
SIGNED_TYPES: tuple[int, int] = (AMPA, GABA)
"""The types a signed weight drives: its positive part AMPA, its negative part GABA."""


def split_signed(xp: Any, w: Any) -> tuple[Any, Any]:
    """The (AMPA, GABA) weights of signed weights ``w``: ``(max(w, 0), max(-w, 0))``."""
    return xp.maximum(w, 0), xp.maximum(-w, 0)


def typed_from_signed(w: Any) -> np.ndarray:
    """Signed weights ``(...)`` -> typed float64 weights ``(..., 4)``: the positive part on
    AMPA, the negative part on GABA (weight ``|w|``), NMDA and SHUNT zero."""
    w = np.asarray(w)
    out = np.zeros((*w.shape, N_SYNAPSE_TYPES))
    out[..., AMPA], out[..., GABA] = split_signed(np, w)
    return out


def signed_from_typed(w: Any) -> Any:
    """Typed weights ``(..., 4)`` -> signed ``(...)``: excitatory types add, inhibitory subtract
    (AMPA + NMDA - GABA - SHUNT). Inverts :func:`typed_from_signed`."""
    out = w[..., 0]
    for t in range(1, N_SYNAPSE_TYPES):
        out = out + w[..., t] if SIGN[t] > 0 else out - w[..., t]
    return out
