"""Presynaptic activity for activity-weighted weight quantization.

A postsynaptic neuron's input current is ``sum_i s_i(t) w_i``: quantizing ``w_i`` to
``q_i`` changes its mean drive by ``sum_i r_i (w_i - q_i)`` (``r_i`` the rate of source
``i``). The unweighted fit of a core's 16 levels treats a weight of a silent source like one
of a source firing at 300 Hz, and nearest rounding drops every weight below half the
smallest level: on a core dominated by large weights, a neuron's small weights from its
busiest sources can all go, and their drive with them (all of one sign).
``map_network(net, activity=...)`` uses the rates in two places:

1. the fit of each core's levels weighs each connection's squared error by ``r_i**2``
   (:data:`POWER`): the expected square of the mean drive's error when the rounding errors
   of different connections are independent and of zero mean;
2. the rounding (:data:`DRIVE`), given the levels, keeps each neuron's mean drive per
   synapse type: errors below the smallest level are not independent, so every weight
   starts at its nearest level and then, per neuron and type, weights move to their other
   neighbouring level while that shrinks ``|sum_i r_i (|w_i| - q_i)|``
   (``quantize_weights(..., rates=)``).

Pruning to the CAM's 64 entries (``prune=True``) then keeps the connections of largest
``r_i |w_i|``. The rates are the mean rates (Hz) of the network's input channels and of each
population's neurons, as :func:`source_rates` returns them from sample input (training data:
the rates the deployed network will see). On the ten NIR graphs of
``benchmarks/nir_fidelity.py`` this choice was measured against the alternatives (weights
``r``, nearest rounding) by ``benchmarks/nir_quantize_activity.py`` (benchmarks/README.md,
"NIR import fidelity").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dynapse2.nn import DynapSim, Sequential
from dynapse2.nn.module import Module
from dynapse2.nn.sequential import population_pairs

__all__ = ["DRIVE", "POWER", "check_activity", "source_rates"]

POWER = 2
"""Exponent of the rates in the weights of the squared errors: ``importance = rate**POWER``
(2: the mean drive's error; measured against 1 in ``benchmarks/nir_quantize_activity.py``)."""


DRIVE = True
"""Whether the rounding keeps each neuron's mean drive (per synapse type) with ``activity``
instead of taking every weight's nearest level (measured against nearest rounding in
``benchmarks/nir_quantize_activity.py``)."""


def _sizes(net: Module, where: str) -> tuple[int, ...]:
    """``(n_in, n_0, n_1, ...)``: input channels, then each population's neurons."""
    pairs = population_pairs(net, where)
    lin, first = pairs[0]
    n_in = first.n if lin is None else int(lin.shape[0])
    return (n_in, *(sim.n for _, sim in pairs))


def check_activity(where: str, net: Module, activity: Any) -> tuple[np.ndarray, ...]:
    """``activity`` checked against ``net``: a sequence of ``1 + n_populations`` arrays,
    ``(n_in,)`` then ``(n_k,)`` for population ``k``, finite and ``>= 0`` (Hz). Returns them
    as float64 arrays.

    Raises:
        ValueError: naming ``where``, the entry, its shape or first bad value and what is
            allowed.
    """
    sizes = _sizes(net, where)
    want = ", ".join(f"({n},)" for n in sizes)
    if isinstance(activity, np.ndarray | str) or not isinstance(activity, Sequence):
        raise ValueError(
            f"{where}: activity must be a sequence of {len(sizes)} arrays of rates in Hz "
            f"(input channels, then each population): shapes {want}; got "
            f"{type(activity).__name__}"
        )
    if len(activity) != len(sizes):
        raise ValueError(
            f"{where}: activity has {len(activity)} entries; expected {len(sizes)} (input "
            f"channels, then each of the {len(sizes) - 1} population(s)): shapes {want}"
        )
    out = []
    for k, (a, n) in enumerate(zip(activity, sizes, strict=True)):
        what = "the input channels" if k == 0 else f"population {k - 1}"
        try:
            v = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where}: activity[{k}] ({what}) is not numeric: {e}") from None
        if v.shape != (n,):
            raise ValueError(
                f"{where}: activity[{k}] ({what}) must have shape ({n},), got {v.shape}"
            )
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{where}: activity[{k}][{i}] ({what}) = {v[i]}; rates must be finite and >= 0 Hz"
            )
        out.append(v)
    return tuple(out)


def source_rates(net: Module, x: Any) -> tuple[np.ndarray, ...]:
    """Mean rates (Hz) of ``net``'s input channels and of each population's neurons on the
    sample input ``x``, simulated once as ``net`` is (its floats, its mismatch): the
    ``activity`` of :func:`~dynapse2.hardware.network.map_network`.

    Args:
        net: a network ``map_network`` accepts.
        x: ``(batch, time, n_in)`` or ``(time, n_in)`` input event counts per step of the
            first population's ``dt`` (training data, not the test set).

    Returns:
        ``(n_in,)`` then ``(n_k,)`` per population: events per second, averaged over the
        batch and the steps.

    Raises:
        ValueError: ``net`` is not a network ``map_network`` accepts, ``x`` does not have
            ``n_in`` channels or has negative or non-finite counts.
    """
    where = "source_rates"
    sizes = _sizes(net, where)
    pairs = population_pairs(net, where)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim not in (2, 3) or x.shape[-1] != sizes[0] or x.shape[-2] == 0:
        raise ValueError(
            f"{where}: x must be (batch, time, {sizes[0]}) or (time, {sizes[0]}) input "
            f"event counts, got shape {x.shape}"
        )
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{where}: x must hold finite event counts >= 0")
    x3 = x if x.ndim == 3 else x[None]
    dt = float(pairs[0][1].dt)
    per_step = 1.0 / (x3.shape[0] * x3.shape[1] * dt)
    out = [x3.sum(axis=(0, 1)).astype(np.float64) * per_step]
    if isinstance(net, Sequential):
        _, _, rec = net(x3, record=True)
        names = [n for n, m in zip(net.names, net.modules, strict=True) if isinstance(m, DynapSim)]
        spikes = [np.asarray(rec[f"{n}_output"]) for n in names]
    else:
        spikes = [np.asarray(net(x3)[0])]
    for s, (_, sim) in zip(spikes, pairs, strict=True):
        out.append(s.sum(axis=(0, 1)).astype(np.float64) / (s.shape[0] * s.shape[1] * sim.dt))
    return tuple(out)
