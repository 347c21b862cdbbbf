"""Device mismatch for training and evaluation: a fresh draw for every DynapSim of a network.

``DynapSim.resample_mismatch(key)`` returns the module unchanged when it was built with
``mismatch=0``, so it cannot put mismatch on a nominal network. :func:`with_mismatch` does:
it sets ``mismatch_factors`` directly (the frozen per-neuron factors ``1 + s N(0, 1)``,
clipped at ``MISMATCH_FLOOR``, drawn by the same function DynapSim uses).
"""

from __future__ import annotations

import equinox as eqx
import jax

from dynapse2.nn import DynapSim, Module
from dynapse2.nn.dynapsim import _draw_mismatch  # no public API draws factors at a given s
from dynapse2.train.trainable import modules

__all__ = ["with_mismatch"]


def with_mismatch(net: Module, key: jax.Array, fraction: float) -> Module:
    """Return ``net`` with a fresh mismatch draw of relative standard deviation ``fraction``
    on every DynapSim (each module its own sub-key), whatever mismatch it was built with.

    ``fraction = 0`` returns ``net`` unchanged. The modules' nominal currents (the trainable
    parameters) are untouched; only the frozen ``mismatch_factors`` change. The static
    ``mismatch`` field keeps its construction value.

    Raises:
        ValueError: ``fraction`` outside [0, 1).
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"with_mismatch: fraction = {fraction!r} must be in [0, 1)")
    if fraction == 0:
        return net
    sims = [(get, m) for get, m in modules(net) if isinstance(m, DynapSim)]
    if not sims:
        return net
    keys = jax.random.split(key, len(sims))
    return eqx.tree_at(
        lambda t: [get(t).mismatch_factors for get, _ in sims],
        net,
        [_draw_mismatch(k, m.n, fraction) for k, (_, m) in zip(keys, sims, strict=True)],
        is_leaf=lambda v: v is None,
    )
