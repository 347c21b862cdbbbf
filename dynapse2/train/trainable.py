"""Which leaves of a network training changes, and the space the optimizer sees them in.

``trainable`` names what to train:

- ``"weights"``: every ``Linear`` weight (and bias) and every DynapSim ``w_rec``;
- any DynapSim current of :data:`dynapse2.nn.CURRENTS` (``"Itau_mem"``, ``"Igain_ampa"``, ...).

Currents span 1e-13..1e-6 A, far from the unit scale optimizers assume, so the optimizer works
on ``log(I / 1 A)`` of each trained current: one step of size ``lr`` changes a current by a
factor ``exp(lr)`` whatever its magnitude. Weights are trained as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp

from dynapse2.nn import CURRENTS, DynapSim, Linear, Module, Sequential

__all__ = ["WEIGHTS", "from_optimizer_space", "modules", "to_optimizer_space", "trainable_mask"]

WEIGHTS = "weights"
"""The name selecting every Linear weight and bias and every recurrent weight ``w_rec``."""

Getter = Callable[[Any], Any]


def modules(net: Module) -> Iterator[tuple[Getter, Module]]:
    """Every leaf module of ``net`` (Sequential containers are walked) with a getter that
    takes a tree of ``net``'s structure to that module's place."""

    def walk(m: Module, get: Getter) -> Iterator[tuple[Getter, Module]]:
        if isinstance(m, Sequential):
            for i, sub in enumerate(m.modules):
                yield from walk(sub, lambda t, i=i, g=get: g(t).modules[i])
        else:
            yield get, m

    yield from walk(net, lambda t: t)


def check_trainable(trainable: Sequence[str]) -> tuple[str, ...]:
    """Validate the names of ``trainable``; returns them as a tuple.

    Raises:
        ValueError: an unknown name (the message lists the allowed ones), or a bare string.
    """
    if isinstance(trainable, str):
        raise ValueError(
            f"trainable = {trainable!r} must be a sequence of names, e.g. ({trainable!r},)"
        )
    allowed = (WEIGHTS, *CURRENTS)
    bad = [t for t in trainable if t not in allowed]
    if bad:
        raise ValueError(f"trainable: unknown name(s) {bad}; allowed are {list(allowed)}")
    if not trainable:
        raise ValueError("trainable is empty; name at least one of " + str(list(allowed)))
    return tuple(trainable)


def _leaf_getters(net: Module, trainable: Sequence[str]) -> tuple[list[Getter], list[Getter]]:
    """Getters of the trained weight leaves and of the trained current leaves."""
    weights, currents = [], []
    for get, m in modules(net):
        if WEIGHTS in trainable and isinstance(m, Linear):
            weights.append(lambda t, g=get: g(t).weight)
            if m.bias is not None:
                weights.append(lambda t, g=get: g(t).bias)
        if isinstance(m, DynapSim):
            if WEIGHTS in trainable and m.w_rec is not None:
                weights.append(lambda t, g=get: g(t).w_rec)
            for name in trainable:
                if name in CURRENTS:
                    currents.append(lambda t, g=get, k=name: getattr(g(t), k))
    return weights, currents


def trainable_mask(net: Module, trainable: Sequence[str]) -> Any:
    """A tree of bools of ``net``'s structure, True at the trained leaves (for
    :func:`equinox.partition`).

    Raises:
        ValueError: unknown names, or names that select nothing in ``net`` (e.g. a current
            of a network without DynapSim).
    """
    trainable = check_trainable(trainable)
    weights, currents = _leaf_getters(net, trainable)
    if not weights and not currents:
        raise ValueError(
            f"trainable = {trainable} selects no parameter of this network ({type(net).__name__})"
        )
    mask = jax.tree_util.tree_map(lambda _: False, net)
    getters = weights + currents
    return eqx.tree_at(lambda t: [g(t) for g in getters], mask, [True] * len(getters))


def to_optimizer_space(params: Any, net: Module, trainable: Sequence[str]) -> Any:
    """Map the trained currents of ``params`` (a partition of ``net``) to ``log(I / A)``."""
    _, currents = _leaf_getters(net, trainable)
    if not currents:
        return params
    return eqx.tree_at(lambda t: [g(t) for g in currents], params, replace_fn=jnp.log)


def from_optimizer_space(params: Any, net: Module, trainable: Sequence[str]) -> Any:
    """Inverse of :func:`to_optimizer_space`."""
    _, currents = _leaf_getters(net, trainable)
    if not currents:
        return params
    return eqx.tree_at(lambda t: [g(t) for g in currents], params, replace_fn=jnp.exp)
