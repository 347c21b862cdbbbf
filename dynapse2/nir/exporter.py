"""A dynapse2 network as a NIR graph (:func:`to_nir`): each population as a ``CubaLIF``
(a readout as a ``CubaLI``), the inverse of :mod:`dynapse2.nir.mapping`, with the exact module
parameters in the metadata (:mod:`dynapse2.nir.roundtrip`)."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from dynapse2.nir._package import nir_package
from dynapse2.nir.mapping import READOUT_FLOOR, READOUT_SPAN, SPKTHR_MAX, charge, leak_node
from dynapse2.nir.roundtrip import FORMAT, linear_metadata, population_metadata
from dynapse2.nn.dynapsim import DynapSim
from dynapse2.nn.sequential import population_pairs
from dynapse2.physics.dpi import time_constant
from dynapse2.physics.synapses import signed_from_typed

__all__ = ["to_nir"]


def _is_readout(m: DynapSim) -> bool:
    """A non-spiking readout: the thresholded soma with its threshold at the top of the range."""
    return not m.positive_feedback and float(np.min(m.Ispkthr)) >= SPKTHR_MAX * (1 - 1e-6)


def to_nir(net: Any) -> Any:
    """A dynapse2 network (``Sequential`` of ``[Linear,] DynapSim`` pairs, or one ``DynapSim``)
    as a ``nir.NIRGraph``.

    Each population becomes a ``CubaLIF`` (tau_syn = AMPA tau, tau_mem = C_mem U_T / (kappa
    I_sum), R = 1, v_leak = v_reset = 0, v_threshold = 1, w_in = 1: the inverse of the import
    mapping, with alpha = Ispkthr); a readout (``positive_feedback=False`` and the threshold at
    the top of the range) a ``CubaLI`` (the inverse with readout_range = 1),
    each ``Linear`` an ``Affine`` whose bias carries the population's DC current, recurrence a
    flat cycle through a ``Linear`` node ``w_rec_<i>`` (signed AMPA - GABA; NMDA/SHUNT
    recurrence is in the metadata only). The exact module parameters (float32 arrays of every
    current, ``w_rec``, mismatch factors; JSON of every setting in
    :data:`~dynapse2.nn.dynapsim.SETTINGS`: the solver by name, ``plan_options``, the backend)
    are in each node's metadata, so :func:`from_nir` rebuilds the network bit for bit
    (metadata without a solver, written before it was saved, reads as ``Euler()``).

    Raises:
        ValueError: ``net`` is not such a chain (naming the module), or ends with a ``Linear``
            (:func:`~dynapse2.nn.sequential.population_slots`); a population with sparse
            ``w_rec``.
    """
    nir = nir_package()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    pairs = population_pairs(net, "to_nir", "NIR export needs neurons last")
    n_in = pairs[0][0].n_in if pairs[0][0] is not None else pairs[0][1].n
    nodes["input"] = nir.Input(input_type={"input": np.array([n_in])})
    prev = "input"
    for i, (lin, m) in enumerate(pairs):
        if m.w_rec is not None and not isinstance(m.w_rec, jnp.ndarray | np.ndarray):
            raise ValueError(f"to_nir: population {i} has sparse w_rec; convert it to dense first")
        pop = f"pop_{i}"
        nodes[pop], k_syn, bias = _population(nir, m, lin)
        if lin is not None:
            nodes[f"affine_{i}"] = _affine(nir, lin, m.dt, k_syn, bias)
            edges += [(prev, f"affine_{i}"), (f"affine_{i}", pop)]
        else:
            edges.append((prev, pop))
        if m.w_rec is not None:
            signed = signed_from_typed(np.asarray(m.w_rec, np.float64))
            nodes[f"w_rec_{i}"] = nir.Linear(weight=(signed / k_syn[None, :]).T)
            edges += [(pop, f"w_rec_{i}"), (f"w_rec_{i}", pop)]
        prev = pop
    nodes["output"] = nir.Output(output_type={"output": np.array([pairs[-1][1].n])})
    edges.append((prev, "output"))
    meta = {"dynapse2.format": FORMAT, "dt": float(pairs[0][1].dt)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _population(nir: Any, m: DynapSim, lin: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """The ``CubaLIF`` (readout: ``CubaLI``) node of population ``m`` (fed by ``lin``, whose
    settings go in the metadata too), its NIR weight unit ``k_syn`` (units of ``m.Iscale`` per
    NIR weight, ``(n,)``) and the NIR bias that carries its DC above the leak offset ``(n,)``."""
    n = m.n
    tau_syn = np.asarray(m.tau_ampa, np.float64)
    isum = leak_node(m.Itau_mem, m.Io)
    tau_mem = time_constant(m.capacitances["C_mem"], isum, m.kappa, m.Ut)
    gain = np.asarray(m.Igain_mem, np.float64) / isum
    offset = isum  # the DC that cancels the leak node (the DC above it is a bias)
    readout = _is_readout(m)
    if not readout:
        alpha = np.asarray(m.Ispkthr, np.float64)
    else:  # the inverse of the import with readout_range = 1
        alpha = np.full(n, READOUT_SPAN)
        rest = READOUT_SPAN + READOUT_FLOOR * float(np.max(m.Igain_mem))
        offset = isum + rest / gain
    j = charge(m.Igain_ampa, m.Itau_ampa, m.Iscale, m.t_pulse, tau_syn)
    k_syn = alpha * m.dt / (gain * tau_syn * j)
    bias = (np.asarray(m.Idc, np.float64) - offset) * gain / alpha
    meta = population_metadata(m, lin)
    common = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=np.ones(n), v_leak=np.zeros(n))
    if not readout:
        node = nir.CubaLIF(
            **common,
            v_threshold=np.ones(n),
            v_reset=np.zeros(n),
            w_in=np.ones(n),
            metadata=meta,
        )
    else:
        node = nir.CubaLI(**common, w_in=np.ones(n), metadata=meta)
    return node, k_syn, bias


def _affine(nir: Any, lin: Any, dt: float, k_syn: np.ndarray, bias: np.ndarray) -> Any:
    """``lin`` as an ``Affine`` node in NIR units (``k_syn`` per NIR weight, ``(n,)``), its
    bias the population's ``bias`` plus ``lin``'s per-step bias as a rate; ``dt`` (s)."""
    w = np.asarray(lin.weight, np.float64)
    b = bias.copy()
    if lin.bias is not None:  # a per-step count -> a NIR rate (events per second)
        b = b + np.asarray(lin.bias, np.float64) / (k_syn * dt)
    lmeta = linear_metadata(lin)
    return nir.Affine(weight=(w / k_syn[None, :]).T, bias=b, metadata=lmeta)
