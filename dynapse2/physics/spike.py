"""The spike nonlinearity and its surrogate gradient.

Forward: a Heaviside step of the normalised distance to threshold x = (I_mem - I_spkthr) /
I_spkthr. Backward (JAX only): the fast-sigmoid derivative 1 / (1 + slope |x|)^2, which keeps
gradients with respect to weights in units of the unit weight current well scaled.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

SURROGATE_SLOPE: float = 10.0
"""Default slope of the fast-sigmoid surrogate (per unit of normalised distance)."""


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def spike_jax(x: jax.Array, slope: float = SURROGATE_SLOPE) -> jax.Array:
    """Heaviside H(x) with a fast-sigmoid surrogate derivative (JAX)."""
    return (x > 0).astype(x.dtype)


@spike_jax.defjvp
def _spike_jvp(slope, primals, tangents):
    (x,) = primals
    (dx,) = tangents
    return spike_jax(x, slope), dx / (1.0 + slope * jnp.abs(x)) ** 2


def spike_numpy(x: np.ndarray, slope: float = SURROGATE_SLOPE) -> np.ndarray:
    """Heaviside H(x) (NumPy reference; no gradient)."""
    return (x > 0).astype(x.dtype)
