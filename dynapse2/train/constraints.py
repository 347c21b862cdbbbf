"""The projection applied after every optimizer step: keep a network realisable on the chip.

- Trained currents: set to the mean over their parameter group (``DynapSim.groups``; on the
  chip a core's neurons share one bias value), then clipped into
  ``[I_min, I_max]``, the smallest nonzero and largest current the bias generator can produce
  (:func:`dynapse2.physics.bias_generator.current_range`). Leak currents ``Itau_*`` are also bounded
  above so that every DPI time constant ``tau = C U_T / (kappa I_tau)`` stays at least
  ``solver.min_tau_steps * dt``, the shortest the module's solver accepts (10 dt for
  ``Euler()``, 8 dt for ``ExponentialEuler()``; see :mod:`dynapse2.solvers`):
  ``I_tau <= C U_T / (kappa min_tau_steps dt)`` (:meth:`DynapSim.max_leak_current`).
- Weights (``Linear`` weights and biases, and ``w_rec``, in units of the unit weight current
  ``Iscale``): clipped to ``|w| <= weight_bound``; ``w_rec`` (per synapse type, its sign
  given by the type; dense, or the weights of its CAM entries) also to ``>= 0``.

Why ``weight_bound = 15`` (:data:`WEIGHT_BOUND`): a core realises a weight as the sum of its
base currents selected by a 4-bit CAM mask. With base currents of 1, 2, 4 and 8 units those
sums are exactly the integers 0..15, so 15 units is the largest weight that keeps a resolution
of one unit; larger weights force larger bases and a coarser grid for every synapse of the
core. (The base currents themselves, SYAM_W0..3, reach ~0.5 uA, i.e. ~50 units each, so the
bound is a resolution choice, not a physical limit; pass ``weight_bound`` to change it.)
"""

from __future__ import annotations

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.core  # jax.core.Tracer: a submodule that `import jax` does not declare
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.nn import CURRENTS, DynapSim, Linear, Module
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.dynapsim import TAU_OF
from dynapse2.physics.bias_generator import current_range
from dynapse2.train.trainable import WEIGHTS, modules

__all__ = ["WEIGHT_BOUND", "current_bounds", "group_mean", "project"]

WEIGHT_BOUND: float = 15.0
"""Default bound on |weight| in units of the unit weight current (4 bits of a unit base)."""

_LEAKS = {i for _, i in TAU_OF.values()}  # "Itau_ampa", ..., "Itau_mem", "Itau_ahp"


def current_bounds(m: DynapSim, name: str) -> tuple[float, float]:
    """``(lo, hi)`` (A) a trained current ``name`` of ``m`` is kept within: the bias
    generator's range, and for leak currents the upper bound that keeps tau >=
    ``m.solver.min_tau_steps * dt`` (10 dt for ``Euler()``)."""
    if not isinstance(m, DynapSim):
        raise TypeError(f"current_bounds: m must be a DynapSim, got {type(m).__name__}")
    checks.choice("current_bounds", "name", name, CURRENTS)
    lo, hi = current_range(name)
    if name in _LEAKS:
        hi = min(hi, m.max_leak_current(name))
    return lo, hi


def group_mean(values: jax.Array, groups: Sequence[int]) -> jax.Array:
    """Replace each entry of ``values`` ``(n,)`` by the mean over its group (``groups``: ``n``
    ints >= 0); returns ``(n,)``. ``values`` may be traced (only its static shape is read).

    Raises:
        TypeError: ``values`` is not an array of real numbers, or ``groups`` not integers.
        ValueError: ``values`` is not one-dimensional, or ``groups`` not ``n`` ints >= 0.
    """
    kind = getattr(getattr(values, "dtype", None), "kind", None)
    if not hasattr(values, "shape") or kind not in ("b", "i", "u", "f"):
        raise TypeError(
            f"group_mean: values must be an array (n,) of real numbers, got {type(values).__name__}"
        )
    if len(values.shape) != 1:
        raise ValueError(f"group_mean: values has shape {tuple(values.shape)}; expected (n,)")
    try:
        g = np.asarray(groups)
    except (TypeError, ValueError):  # ragged
        g = np.asarray(None)
    if g.ndim == 1 and not g.size:  # [] reads as float
        g = g.astype(int)
    if g.dtype.kind not in ("i", "u"):
        raise TypeError(
            f"group_mean: groups must be a sequence of ints, got {type(groups).__name__}"
            + (f" of dtype {g.dtype}" if g.dtype != object else "")
        )
    if g.shape != tuple(values.shape):
        raise ValueError(
            f"group_mean: groups has shape {g.shape}; expected ({values.shape[0]},), one group "
            f"per value"
        )
    if g.size and g.min() < 0:
        raise ValueError(f"group_mean: groups must be >= 0, got {g.min()}")
    if not g.size:
        return values
    k = int(g.max()) + 1
    sums = jax.ops.segment_sum(values, g, num_segments=k)
    counts = np.bincount(g, minlength=k).astype(np.float32)
    return (sums / np.maximum(counts, 1))[g]


def project(net: Module, trainable: Sequence[str], weight_bound: float = WEIGHT_BOUND) -> Module:
    """Return ``net`` with its trained leaves projected onto what the chip can hold (see the
    module docstring). Untrained leaves are returned unchanged. Pure; jit-compatible."""
    if not isinstance(weight_bound, jax.core.Tracer):  # traced under jit: checked by fit
        checks.number("project", "weight_bound", weight_bound, lo=0, lo_open=True)
    getters, values = [], []
    for get, m in modules(net):
        if WEIGHTS in trainable and isinstance(m, Linear):
            getters.append(lambda t, g=get: g(t).weight)
            values.append(jnp.clip(m.weight, -weight_bound, weight_bound))
            if m.bias is not None:
                getters.append(lambda t, g=get: g(t).bias)
                values.append(jnp.clip(m.bias, -weight_bound, weight_bound))
        if isinstance(m, DynapSim):
            w_rec = m.w_rec
            if WEIGHTS in trainable and w_rec is not None:
                if isinstance(w_rec, SparseWeights):  # chip-shaped: the weights of its entries
                    getters.append(lambda t, g=get: g(t).w_rec.weight)
                    values.append(jnp.clip(w_rec.weight, 0.0, weight_bound))
                else:
                    getters.append(lambda t, g=get: g(t).w_rec)
                    values.append(jnp.clip(w_rec, 0.0, weight_bound))
            for name in trainable:
                if name in CURRENTS:
                    lo, hi = current_bounds(m, name)
                    getters.append(lambda t, g=get, k=name: getattr(g(t), k))
                    values.append(jnp.clip(group_mean(getattr(m, name), m.groups), lo, hi))
    if not getters:
        return net
    return eqx.tree_at(lambda t: [g(t) for g in getters], net, values)
