"""A dense, signed linear layer: the trainable feed-forward weights of a network."""

from __future__ import annotations

from typing import Any

import jax
import jax.core  # jax.core.Tracer: a submodule that `import jax` does not declare
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.nn.module import Module, parameter, simulation


class Linear(Module):
    """``y = x @ weight (+ bias)`` over the last axis.

    Args:
        shape: ``(n_in, n_out)``.
        weight: signed weights of shape ``(n_in, n_out)``, in units of the next layer's unit
            weight current; ``None`` draws them from N(0, 1/n_in) with ``key``.
        has_bias: add a trainable bias of shape ``(n_out,)``.
        key: ``jax.random`` key of the initial draw; required when ``weight`` is None (the
            draw decides the result, so there is no default key).

    Input ``(..., n_in)``, for example ``(batch, T, n_in)`` spike counts; output ``(..., n_out)``.
    """

    weight: jax.Array = parameter()
    bias: jax.Array | None = parameter()
    n_in: int = simulation()
    n_out: int = simulation()

    def __init__(
        self,
        shape: tuple[int, int],
        weight: Any = None,
        has_bias: bool = False,
        key: jax.Array | None = None,
    ):
        if not (isinstance(shape, tuple | list) and len(shape) == 2):
            raise TypeError(f"Linear: shape = {shape!r} must be a pair (n_in, n_out)")
        n_in = checks.integer("Linear", "shape[0] (n_in)", shape[0], lo=1)
        n_out = checks.integer("Linear", "shape[1] (n_out)", shape[1], lo=1)
        checks.boolean("Linear", "has_bias", has_bias)
        if weight is None:
            if key is None:
                raise TypeError(
                    "Linear: key is required when weight is None (the initial weights are "
                    "drawn with it): pass key=jax.random.PRNGKey(seed), or weight="
                )
            if not hasattr(key, "dtype"):
                raise TypeError(
                    f"Linear: key = {key!r} must be a jax.random key (jax.random.PRNGKey(seed))"
                )
            weight = jax.random.normal(key, (n_in, n_out)) / jnp.sqrt(n_in)
        kind = (
            getattr(getattr(weight, "dtype", None), "kind", None) or np.asarray(weight).dtype.kind
        )
        if kind not in "biuf":
            raise TypeError(
                f"Linear: weight must be an array of real numbers, got dtype kind {kind!r} "
                f"({type(weight).__name__})"
            )
        weight = jnp.asarray(weight, dtype=jnp.float32)
        if weight.shape != (n_in, n_out):
            raise ValueError(
                f"Linear: weight has shape {weight.shape}; expected (n_in, n_out) = {(n_in, n_out)}"
            )
        if not isinstance(weight, jax.core.Tracer) and not bool(jnp.isfinite(weight).all()):
            bad = np.argwhere(~np.isfinite(np.asarray(weight)))[0].tolist()
            raise ValueError(
                f"Linear: weight[{bad[0]}, {bad[1]}] = {float(weight[tuple(bad)])} is not "
                "finite; weights must be finite numbers"
            )
        self.weight = weight
        self.bias = jnp.zeros((n_out,), jnp.float32) if has_bias else None
        self.n_in, self.n_out = n_in, n_out

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_in, self.n_out)

    def parameters(self) -> dict[str, Any]:
        p = super().parameters()
        return p if self.bias is not None else {"weight": p["weight"]}

    def evolve(self, x: Any, record: bool = False) -> tuple[jax.Array, dict, dict]:
        """``x @ weight (+ bias)``: ``(..., n_in)`` (event counts or spikes) ->
        ``(..., n_out)`` (in units of the next population's ``Iscale``); ``({}, {})``
        state and record."""
        kind = getattr(getattr(x, "dtype", None), "kind", None) or np.asarray(x).dtype.kind
        if kind not in "biuf":
            raise TypeError(
                f"Linear: input has dtype kind {kind!r} ({type(x).__name__}); expected real "
                "numbers or booleans (event counts, spikes)"
            )
        x = jnp.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.n_in:
            raise ValueError(
                f"Linear: input has shape {x.shape}; expected (..., n_in) with n_in = {self.n_in}"
            )
        y = x @ self.weight
        if self.bias is not None:
            y = y + self.bias
        return y, {}, {}

    def __repr__(self) -> str:
        return f"Linear(shape={self.shape}, has_bias={self.bias is not None})"
