"""NIR node types as :func:`dynapse2.nir.from_nir` reads them: which it imports, which it
rejects (and why, and what the user can do), the checks made before any work, and a neuron
node's parameters in ``CubaLIF`` form."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dynapse2.nir._package import nir_package
from dynapse2.nir.mapping import IMPORT_SOLVER, TAU_MEM_MAX, refractory_period
from dynapse2.solvers import SOLVERS

NEURONS = ("CubaLIF", "LIF", "IF", "CubaLI", "LI")
WEIGHTS = ("Affine", "Linear")
PASS = ("Scale",)
REJECTED = {
    "Conv1d": "convolutions have no Dynap-SE2 equivalent (connections are per-neuron CAM "
    "entries, no weight sharing)",
    "Conv2d": "convolutions have no Dynap-SE2 equivalent (connections are per-neuron CAM "
    "entries, no weight sharing)",
    "SumPool2d": "pooling has no Dynap-SE2 equivalent",
    "AvgPool2d": "pooling has no Dynap-SE2 equivalent",
    "Delay": "DynapSim has no programmable axonal delays",
    "Flatten": "reshaping is not a chip operation (populations are flat)",
    "Threshold": "a bare threshold without a neuron has no chip equivalent",
    "I": "a non-leaky integrator without threshold has no chip equivalent",
}
FIX = {
    "Conv1d": "unroll it into an Affine (dense) layer before export, or run it on the host",
    "Conv2d": "unroll it into an Affine (dense) layer before export, or run it on the host",
    "SumPool2d": "unroll it into an Affine layer before export, or run it on the host",
    "AvgPool2d": "unroll it into an Affine layer before export, or run it on the host",
    "Delay": "remove the delay (or approximate it by a slow synapse) before export",
    "Flatten": "export a flat (1-d) model",
    "Threshold": "export a LIF/CubaLIF neuron instead",
    "I": "export an LI or LIF neuron instead",
}


def node_type(node: Any) -> str:
    """The NIR type of ``node`` (its class name)."""
    return type(node).__name__


def reject(name: str, node: Any, why: str, fix: str) -> ValueError:
    """The error for node ``name``: its type, why it cannot be imported, what to do."""
    return ValueError(f"from_nir: node {name!r} ({node_type(node)}): {why}; {fix}")


def check_types(graph: Any, prefix: str = "") -> None:
    """Raise :func:`reject`'s error for the first node (nested graphs included) that the chip
    cannot run, of an unknown type, or with parameters no DPI neuron has."""
    nir = nir_package()
    for key, node in graph.nodes.items():
        name = prefix + key
        t = node_type(node)
        if isinstance(node, nir.NIRGraph):
            check_types(node, name + ".")
        elif t in REJECTED:
            raise reject(name, node, "the chip cannot run it: " + REJECTED[t], FIX[t])
        elif t not in NEURONS + WEIGHTS + PASS + ("Input", "Output", "Identity"):
            raise reject(
                name,
                node,
                "unknown node type, no Dynap-SE2 mapping",
                f"supported types are {sorted(NEURONS + WEIGHTS + PASS)} (plus Input/Output)",
            )
        elif t in NEURONS:
            p = lif_params(node)
            shape = np.shape(p.tau_mem)
            if len(shape) != 1:
                raise reject(name, node, f"parameters of shape {shape}", "export a flat model")
            if p.v_threshold is not None and (p.v_threshold <= p.v_leak).any():
                raise reject(
                    name,
                    node,
                    "v_threshold <= v_leak: the neuron would fire at rest, the DPI soma cannot",
                    "export thresholds above the leak potential",
                )
            for k, tau in (("tau_mem", p.tau_mem), ("tau_syn", p.tau_syn)):
                bad = None if tau is None else ~(np.isfinite(tau) & (tau > 0))
                if tau is not None and bad is not None and bad.any():
                    raise reject(
                        name,
                        node,
                        f"{k} has {int(bad.sum())} value(s) <= 0 or not finite (e.g. "
                        f"{float(tau[bad][0])!r} s), which no leaky neuron has",
                        "export positive time constants (a decay factor beta > 1, which "
                        "tau = dt / (1 - beta) turns negative, is clipped by some simulators "
                        "but not by their exporters)",
                    )


@dataclass
class LifParams:
    """A NIR neuron node in ``CubaLIF`` form, per neuron (float64 ``(n,)``; seconds, NIR
    volts): ``v_threshold`` and ``v_reset`` are None for a readout (``LI``/``CubaLI``),
    ``tau_syn`` None for a node without a synapse until :func:`lif_params` is given ``dt``."""

    tau_mem: np.ndarray
    r: np.ndarray
    v_leak: np.ndarray
    w_in: np.ndarray
    v_threshold: np.ndarray | None
    v_reset: np.ndarray | None
    tau_syn: np.ndarray | None
    approx: list[str] = field(default_factory=list)
    """Notes of what this form (and, with ``dt``, the time-constant bounds) approximates."""


def _arr(v: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, np.float64))


def lif_params(node: Any, dt: float | None = None, solver: str = IMPORT_SOLVER) -> LifParams:
    """``node`` (``CubaLIF``, ``LIF``, ``IF``, ``CubaLI`` or ``LI``) in ``CubaLIF`` form. With
    ``dt`` (s), also the bounds of the import run by ``solver`` (a name of
    :data:`dynapse2.solvers.SOLVERS`): a missing synapse gets tau_syn = the solver's
    ``min_tau_steps`` dt (8 for ExponentialEuler, 10 for Euler), time constants below that are
    raised, membrane taus above :data:`~dynapse2.nir.mapping.TAU_MEM_MAX` lowered (an ``IF``
    gets it, with R' = R tau)."""
    t = node_type(node)
    cuba = t.startswith("Cuba")
    notes: list[str] = []
    if t == "IF":
        n = _arr(node.r).shape
        tau_mem = np.full(n, TAU_MEM_MAX)
        p = LifParams(tau_mem, _arr(node.r) * tau_mem, np.zeros(n), np.ones(n),
                      _arr(node.v_threshold), _arr(node.v_reset), None, notes)  # fmt: skip
        notes.append(f"no leak -> tau_mem {tau_mem[0]:.3g} s")
    else:
        tau_mem = _arr(node.tau_mem if cuba else node.tau)
        spiking = t in ("CubaLIF", "LIF")
        p = LifParams(
            tau_mem,
            _arr(node.r),
            _arr(node.v_leak),
            _arr(node.w_in) if cuba else np.ones_like(tau_mem),
            _arr(node.v_threshold) if spiking else None,
            _arr(node.v_reset) if spiking else None,
            _arr(node.tau_syn) if cuba else None,
            notes,
        )
    if dt is None:
        return p
    steps = SOLVERS[solver].min_tau_steps
    floor = steps * dt
    if p.tau_syn is None:
        p.tau_syn = np.full_like(p.tau_mem, floor)
        notes.append(f"no synapse -> DPI tau_syn = {steps:g} dt")
    for k in ("tau_syn", "tau_mem"):
        tau = getattr(p, k)
        low = tau < floor
        if low.any():
            setattr(p, k, np.maximum(tau, floor))
            notes.append(f"{k} < {steps:g} dt raised ({int(low.sum())} neurons)")
    high = p.tau_mem > TAU_MEM_MAX * (1 + 1e-9)
    if high.any() and t != "IF":
        p.tau_mem = np.minimum(p.tau_mem, TAU_MEM_MAX)
        notes.append(f"tau_mem > {TAU_MEM_MAX:.3g} s lowered ({int(high.sum())} neurons)")
    if p.v_reset is not None and not np.allclose(p.v_reset, p.v_leak):
        notes.append("v_reset != v_leak: resets to v_leak")
    if solver == "euler":
        notes.append("no refractory -> Euler: one refractory step after each spike")
    else:
        notes.append(f"no refractory -> t_ref = {refractory_period(solver, dt) * 1e6:g} us")
    return p
