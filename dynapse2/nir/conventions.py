"""How exporters write a discrete-time neuron into NIR's continuous-time parameters, and the
graph in NIR's own semantics (:mod:`dynapse2.nir.reference`) that a given exporter meant.

NIR reads a spike as 1 for one step of ``dt`` (a delta of area dt), so the discrete-time
neuron ``I <- alpha I + W s``, ``V <- beta V + I`` (snnTorch's ``Synaptic``, spyx's
``CuBaLIF``) is the ``CubaLIF`` with tau_syn = dt / (1 - alpha), tau_mem = dt / (1 - beta),
**r = tau_mem / dt and w_in = tau_syn / dt** (each spike then lifts I by W, each step's I lifts
V by I, as there). The conventions :func:`dynapse2.nir.from_nir` knows:

- ``"auto"`` (default): ``"spyx"`` where the graph carries spyx 1.0's fingerprint at the
  given ``dt`` (:func:`detect`), else ``"nir"``; the import report says which was used and why.
- ``"nir"``: the parameters mean what the NIR specification says; nothing changes.
- ``"snntorch"``: snnTorch 1.0's ``export_to_nir`` writes NIR parameters (r = tau_mem / dt,
  w_in = tau_syn / dt, ``Leaky``: r = tau / dt) with its step hard-coded to
  :data:`SNNTORCH_DT` = 1e-4 s, so the graph is read as ``"nir"`` and ``dt`` must be 1e-4 s
  (any other step changes the network: an error says so).
- ``"spyx"``: spyx 1.0's ``spyx.nir.to_nir(model, ..., dt)`` writes tau = dt / (1 - beta) (and
  tau_syn = dt / (1 - alpha)) as NIR asks, but **r = beta** where NIR needs tau / dt, **no
  w_in** (NIR's default 1) where it needs tau_syn / dt, and for ``IF`` r = 1 where it needs
  1 / dt; read as NIR, its PSPs are ~(1 - beta)(1 - alpha) of spyx's and the network is
  silent. This convention rewrites ``LIF``/``CubaLIF``/``IF`` nodes (nested recurrent
  subgraphs included) with r = tau_mem / dt, w_in = tau_syn / dt (``IF``: r = 1 / dt). It
  also checks the step: beta = r, so dt_export = tau_mem (1 - r) must equal ``dt``. spyx
  clips alpha and beta to [0, 1] in its forward pass (not in its export): a decay below 0
  reads as 0 (tau = dt); beta >= 1 (no leak; tau_mem <= 0 or infinite in the graph) has no
  DPI equivalent and is rejected, naming the node and the value. What stays approximate
  (reported): spyx resets by subtraction (``V <- V - threshold``) and writes no v_reset; the
  import resets to v_leak, as the DPI does. spyx also takes the spike from the previous
  step's V (one step of delay per layer), which NIR does not represent.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from dynapse2 import checks
from dynapse2.nir._package import nir_package

CONVENTIONS = ("auto", "nir", "snntorch", "spyx")
"""The ``convention`` values of :func:`dynapse2.nir.from_nir`."""
SNNTORCH_DT = 1e-4
"""The step (s) snnTorch 1.0's ``export_to_nir`` hard-codes into its time constants."""
SPYX_NOTE = (
    "spyx convention: r = tau_mem/dt, w_in = tau_syn/dt (graph: r = beta, w_in = 1); spyx "
    "resets by subtraction -> resets to v_leak"
)
DT_RTOL = 1e-3
"""Relative tolerance of the export step recovered from a spyx node (float32 parameters)."""


def detect(graph: Any, dt: float) -> tuple[str, str]:
    """The convention ``graph``'s neuron nodes were written in, and why (for the report).

    ``"spyx"`` where every ``LIF`` and ``CubaLIF`` node, nested ones included (at least one),
    carries spyx 1.0's fingerprint at this ``dt``: r < 1 and tau_mem (1 - r) = ``dt`` (within
    :data:`DT_RTOL`) for every neuron (r = beta, tau_mem = dt / (1 - beta)), and a
    ``CubaLIF``'s w_in = 1 (not written). A graph in NIR's own parameters meets this only if
    each neuron's r happens to equal 1 - dt / tau_mem. ``"nir"`` otherwise (snnTorch's graphs
    are NIR parameters); if the graph has the fingerprint at another step (one export step
    dt_e for all neurons), a ``UserWarning`` names dt_e: imported as NIR, such a graph is
    near silent.

    Args:
        graph: a ``nir.NIRGraph``.
        dt: the import's step (s).
    """
    nir = nir_package()
    steps, fits = [], True
    for node in _neurons(graph, nir):
        r = np.asarray(node.r, np.float64)
        tau = np.asarray(node.tau if type(node).__name__ == "LIF" else node.tau_mem, np.float64)
        w_in = np.asarray(getattr(node, "w_in", 1.0), np.float64)
        if not ((r < 1).all() and np.isfinite(tau).all() and (w_in == 1).all()):
            return "nir", "not spyx's fingerprint (r < 1, w_in = 1): NIR parameters"
        step = np.ravel(tau * (1 - r) * np.ones_like(r))
        steps.append(step)
        fits = fits and bool((np.abs(step - dt) <= DT_RTOL * dt).all())
    if not steps:
        return "nir", "no LIF or CubaLIF node: NIR parameters"
    n = sum(s.size for s in steps)
    if fits:
        return "spyx", (
            f"detected spyx 1.0's export: r < 1, w_in = 1 and tau_mem (1 - r) = dt = {dt:g} s "
            f"on all {n} neurons of {len(steps)} node(s)"
        )
    every = np.concatenate(steps)
    if np.ptp(every) <= DT_RTOL * abs(every[0]):
        warnings.warn(
            f"from_nir: every neuron has r < 1, w_in = 1 and tau_mem (1 - r) = "
            f"{float(every[0]):g} s, spyx 1.0's export at dt = {float(every[0]):g} s, not the dt = "
            f"{dt:g} s given; read as NIR parameters its PSPs are ~(1 - r) of spyx's. Import "
            "with that dt (convention 'auto' or 'spyx'), or pass convention='nir' to silence",
            UserWarning,
            stacklevel=3,
        )
    return "nir", "not spyx's fingerprint at this dt: NIR parameters"


def _neurons(graph: Any, nir: Any) -> list[Any]:
    """The ``LIF`` and ``CubaLIF`` nodes of ``graph``, nested graphs included."""
    out = []
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            out += _neurons(node, nir)
        elif type(node).__name__ in ("LIF", "CubaLIF"):
            out.append(node)
    return out


def describe(convention: str) -> str:
    """One line for the import report: how the graph's parameters were read."""
    return {
        "nir": "NIR parameters read as the NIR specification states them (convention 'nir')",
        "snntorch": f"snnTorch convention: NIR parameters, dt = {SNNTORCH_DT:g} s as exported",
        "spyx": "spyx convention: r = tau_mem/dt, w_in = tau_syn/dt (IF: r = 1/dt) replace "
        "spyx's r = beta, w_in = 1",
    }[convention]


def to_nir_semantics(graph: Any, dt: float, convention: str) -> tuple[Any, dict[str, str]]:
    """``graph`` as a graph in NIR's semantics, and per rewritten neuron node (dotted name
    for nested ones) a note of what the convention changed.

    Args:
        graph: a ``nir.NIRGraph`` written by the exporter ``convention`` names.
        dt: the import's step (s); for ``"snntorch"`` it must be :data:`SNNTORCH_DT`, for
            ``"spyx"`` the ``dt`` that ``spyx.nir.to_nir`` was given.
        convention: one of :data:`CONVENTIONS` (see the module docstring).

    Raises:
        ValueError: an unknown convention, a ``dt`` the exporter did not use, or a spyx
            node with beta >= 1; the message names the node, the parameter and its value.
    """
    checks.choice("from_nir", "convention", convention, CONVENTIONS)
    if convention == "auto":
        convention = detect(graph, dt)[0]
    if convention == "nir":
        return graph, {}
    if convention == "snntorch":
        if abs(dt - SNNTORCH_DT) > 1e-9 * SNNTORCH_DT:
            raise ValueError(
                f"from_nir: convention = 'snntorch' needs dt = {SNNTORCH_DT!r} s (snnTorch 1.0's "
                f"export_to_nir writes tau = dt / (1 - beta), r = tau_mem / dt, w_in = tau_syn "
                f"/ dt with dt = {SNNTORCH_DT!r} s); got dt = {dt!r}. Use convention = 'nir' "
                "to run the graph's NIR equations at another step"
            )
        return graph, {}
    notes: dict[str, str] = {}
    return _spyx(graph, dt, "", notes), notes


def _spyx(graph: Any, dt: float, prefix: str, notes: dict[str, str]) -> Any:
    nir = nir_package()
    nodes = {}
    for key, node in graph.nodes.items():
        name = prefix + key
        t = type(node).__name__
        if isinstance(node, nir.NIRGraph):
            node = _spyx(node, dt, name + ".", notes)
        elif t in ("LIF", "CubaLIF"):
            tau_key = "tau" if t == "LIF" else "tau_mem"
            beta = np.asarray(node.r, np.float64)
            tau_mem = _spyx_tau(name, t, tau_key, np.asarray(getattr(node, tau_key)), beta, dt)
            thr = np.asarray(node.v_threshold, np.float64)
            common = dict(r=tau_mem / dt, v_leak=np.zeros_like(thr), v_threshold=thr,
                          v_reset=np.zeros_like(thr))  # fmt: skip
            if t == "LIF":
                node = nir.LIF(tau=tau_mem, **common)
            else:
                tau_syn = np.asarray(node.tau_syn, np.float64)
                alpha = 1 - dt / tau_syn  # the export step, checked on tau_mem above
                if (alpha >= 1).any() or not np.isfinite(tau_syn).all():
                    i = int(np.argmax((alpha >= 1) | ~np.isfinite(tau_syn)))
                    raise ValueError(
                        f"from_nir: node {name!r} ({t}), convention = 'spyx': tau_syn = "
                        f"{float(tau_syn[i])!r} s, i.e. alpha = 1 - dt / tau_syn = "
                        f"{float(alpha[i])!r} >= 1: a synapse without decay, which no DPI "
                        "synapse is; train with alpha < 1 (e.g. keep alpha fixed)"
                    )
                tau_syn = dt / (1 - np.clip(alpha, 0.0, 1.0))  # alpha < 0 runs as 0
                node = nir.CubaLIF(tau_mem=tau_mem, tau_syn=tau_syn, w_in=tau_syn / dt, **common)
            notes[name] = SPYX_NOTE
        elif t == "IF":
            thr = np.asarray(node.v_threshold, np.float64)
            zero = np.zeros_like(thr)
            node = nir.IF(r=np.full_like(thr, 1 / dt), v_threshold=thr, v_reset=zero)
            notes[name] = (
                "spyx convention: r = 1/dt (graph: r = 1); resets to 0, not by subtraction"
            )
        nodes[key] = node
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), metadata=dict(graph.metadata or {}))


def _spyx_tau(
    name: str, t: str, key: str, tau: np.ndarray, beta: np.ndarray, dt: float
) -> np.ndarray:
    """tau_mem (s) of a spyx node from its r = beta, after checking the export step."""
    tau = tau.astype(np.float64)
    if (beta >= 1).any() or not np.isfinite(tau).all():
        i = int(np.argmax((beta >= 1) | ~np.isfinite(tau)))
        raise ValueError(
            f"from_nir: node {name!r} ({t}), convention = 'spyx': r = beta = {float(beta[i])!r} "
            f"({key} = {float(tau[i])!r} s): beta >= 1 is a neuron without leak (spyx clips beta "
            "to 1 in its forward pass, not in its export), which no DPI soma is; train with "
            "beta < 1 (e.g. keep beta fixed)"
        )
    step = tau * (1 - beta)  # the dt spyx.nir.to_nir was given
    bad = np.abs(step - dt) > DT_RTOL * dt
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"from_nir: node {name!r} ({t}), convention = 'spyx': {key} = {float(tau[i])!r} s "
            f"and r = beta = {float(beta[i])!r} were exported with dt = {key} (1 - beta) = "
            f"{float(step[i])!r} s, not the dt = {dt!r} s given; import with the dt that "
            "spyx.nir.to_nir was called with"
        )
    beta = np.clip(beta, 0.0, 1.0)  # spyx's forward pass; beta < 0 runs as 0 (tau = dt)
    return dt / (1 - beta)
