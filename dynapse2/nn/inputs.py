"""The input of DynapSim: its layout (typed or signed, batched or not) and its checks."""

from __future__ import annotations

from typing import Any

import numpy as np
from jax.core import Tracer

from dynapse2.physics.synapses import N_SYNAPSE_TYPES


def concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` while it is being traced."""
    if isinstance(x, Tracer):
        return None
    return np.asarray(x)


def check_input(x: Any, typed: bool) -> None:
    """Raise ``ValueError`` for non-finite input, or negative typed event counts (no check
    while ``x`` is traced)."""
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


def input_layout(x: Any, n: int) -> tuple[bool, bool]:
    """``(typed, batched)`` of an input ``x`` of a ``DynapSim`` of ``n`` neurons: typed
    ``(..., T, n, 4)`` event counts or signed ``(..., T, n)``, with or without a leading batch
    axis (a 3-d ``(T, 4, 4)`` input of n = 4 reads as typed). ``x``: an array, or a
    ``jax.ShapeDtypeStruct``. Raises ``TypeError`` / ``ValueError`` for other inputs."""
    kind = getattr(getattr(x, "dtype", None), "kind", None) or np.asarray(x).dtype.kind
    if kind not in "biuf":
        raise TypeError(
            f"DynapSim: input x has dtype kind {kind!r} ({type(x).__name__}); expected real "
            "numbers or booleans"
        )
    shape = tuple(np.shape(x))
    expected = f"expected (batch, T, n, 4), (T, n, 4), (batch, T, n) or (T, n) with n = {n}"
    if len(shape) == 4 and shape[-2:] == (n, N_SYNAPSE_TYPES):
        layout = True, True
    elif len(shape) == 3 and shape[-2:] == (n, N_SYNAPSE_TYPES):
        layout = True, False
    elif len(shape) == 3 and shape[-1] == n:
        layout = False, True
    elif len(shape) == 2 and shape[-1] == n:
        layout = False, False
    else:
        raise ValueError(f"DynapSim: input x has shape {shape}; {expected}")
    steps = shape[1] if layout[1] else shape[0]
    if steps == 0 or (layout[1] and shape[0] == 0):
        what = "no time steps" if steps == 0 else "an empty batch"
        raise ValueError(
            f"DynapSim: input x has shape {shape}: {what}; give at least one time step and "
            "one sample"
        )
    return layout
