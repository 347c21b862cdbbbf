"""The spike nonlinearity and its surrogate gradient.

Forward: a Heaviside step H(I_mem - I_spkthr). Backward (JAX only), with r = I_mem / I_spkthr
(dimensionless), the derivative of a fast sigmoid of one of two distances to threshold:

- ``"log"`` (default): of u = ln r, i.e. dH/dr ~ 1 / (r (1 + slope |u|)^2). The DPI soma
  is multiplicative (dI_mem/dw is proportional to I_mem), so a surrogate of the *linear*
  distance hands a subthreshold neuron a gradient scaled by r (~1e-5 at rest): hidden
  layers of deep networks receive almost no gradient, fall silent and training collapses.
  In the log domain the factor 1 / r cancels that scale and the gradient reaches every
  layer.
- ``"linear"``: of x = r - 1, dH/dr ~ 1 / (1 + slope |x|)^2 (the classic fast sigmoid; fine
  for one layer driven by its inputs, vanishing through hidden DPI layers).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

SURROGATES: tuple[str, ...] = ("log", "linear")
"""Distances to threshold the surrogate derivative can be a fast sigmoid of."""

SURROGATE_SLOPES: dict[str, float] = {"log": 1.0, "linear": 10.0}
"""Default fast-sigmoid slope per surrogate (per unit of its distance)."""


@partial(jax.custom_jvp, nondiff_argnums=(2, 3))
def spike_jax(
    imem: jax.Array, ithr: jax.Array, slope: float = 1.0, surrogate: str = "log"
) -> jax.Array:
    """Spikes H(I_mem - I_spkthr) (A, broadcast shapes) with a fast-sigmoid surrogate (JAX).

    The surrogate is the derivative with respect to r = I_mem / I_spkthr, computed from the
    ratio itself (not from 1 + (I_mem - I_spkthr) / I_spkthr, which loses the ratio of a
    neuron at rest to float32 cancellation).
    """
    return (imem > ithr).astype(imem.dtype)


@spike_jax.defjvp
def _spike_jvp(slope, surrogate, primals, tangents):
    imem, ithr = primals
    dimem, dithr = tangents
    r = imem / ithr
    if surrogate == "log":
        r = jnp.maximum(r, 1e-20)  # a neuron at exactly zero current
        grad = 1.0 / (r * (1.0 + slope * jnp.abs(jnp.log(r))) ** 2)
    else:
        grad = 1.0 / (1.0 + slope * jnp.abs(r - 1.0)) ** 2
    dr = (dimem - r * dithr) / ithr
    return spike_jax(imem, ithr, slope, surrogate), grad * dr


def spike_numpy(
    imem: np.ndarray, ithr: np.ndarray, slope: float = 1.0, surrogate: str = "log"
) -> np.ndarray:
    """Spikes H(I_mem - I_spkthr) (NumPy reference; no gradient)."""
    return (imem > ithr).astype(imem.dtype)
