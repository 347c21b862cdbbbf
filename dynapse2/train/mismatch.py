"""Device mismatch for training and evaluation: a fresh draw for every DynapSim of a network
(:meth:`DynapSim.resample_mismatch` with an explicit fraction, so that nominal networks get
mismatch too)."""

from __future__ import annotations

import equinox as eqx
import jax

from dynapse2 import checks
from dynapse2.nn import DynapSim, Module
from dynapse2.train.trainable import modules

__all__ = ["with_mismatch"]


def with_mismatch(net: Module, key: jax.Array, fraction: float) -> Module:
    """Return ``net`` with a fresh mismatch draw of relative standard deviation ``fraction``
    on every DynapSim (each module its own sub-key), whatever mismatch it was built with.

    ``fraction = 0`` returns ``net`` unchanged. The modules' nominal currents (the trainable
    parameters) are untouched; only the frozen ``mismatch_factors`` change. The static
    ``mismatch`` field keeps its construction value.

    Raises:
        TypeError, ValueError: ``fraction`` not a number in [0, 1).
    """
    checks.mismatch("with_mismatch", "fraction", fraction)
    if fraction == 0:
        return net
    sims = [(get, m) for get, m in modules(net) if isinstance(m, DynapSim)]
    if not sims:
        return net
    keys = jax.random.split(key, len(sims))
    return eqx.tree_at(
        lambda t: [get(t) for get, _ in sims],
        net,
        [m.resample_mismatch(k, fraction) for k, (_, m) in zip(keys, sims, strict=True)],
    )
