"""A NIR graph as a dynapse2 network: :func:`from_nir`.

``from_nir(graph_or_path, dt, *, convention="auto", report=False, backend="jax",
readout_range=1.0) -> Sequential`` (with ``report=True``: ``(Sequential, ImportReport)``;
``print(report)`` shows how the parameters were read and one row per NIR node: its type, what
it became, what was approximated). The graph is first read in NIR's semantics
(:mod:`dynapse2.nir.conventions`), checked (:mod:`dynapse2.nir.nodes`), reduced to a chain of
populations (:mod:`dynapse2.nir.graph`), and each population mapped onto the DPI
(:mod:`dynapse2.nir.mapping`, :mod:`dynapse2.nir.population`); populations written by
:func:`dynapse2.nir.to_nir` are rebuilt exactly from their metadata
(:mod:`dynapse2.nir.roundtrip`).
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from dynapse2 import checks
from dynapse2.errors import FileFormatError
from dynapse2.nir._package import nir_package
from dynapse2.nir.conventions import CONVENTIONS, describe, detect, to_nir_semantics
from dynapse2.nir.graph import chain, connections, flatten
from dynapse2.nir.mapping import BIAS_SKIPS_SYNAPSE, DC_PER_CORE, IMPORT_SOLVER
from dynapse2.nir.nodes import check_types, node_type
from dynapse2.nir.population import import_population
from dynapse2.nir.report import ImportReport
from dynapse2.nir.roundtrip import exact, rebuild
from dynapse2.nn.backends import BACKENDS
from dynapse2.nn.sequential import Sequential
from dynapse2.solvers import SOLVERS

__all__ = ["from_nir"]

_NIR_HINT = "write it with nir.write (e.g. nir.write(path, to_nir(net)))"


def from_nir(
    graph_or_path: Any,
    dt: float,
    *,
    convention: str = "auto",
    report: bool = False,
    backend: str = "jax",
    readout_range: float = 1.0,
    solver: str = IMPORT_SOLVER,
) -> Sequential | tuple[Sequential, ImportReport]:
    """A NIR graph (``nir.NIRGraph`` or a path to a ``.nir`` file) as a dynapse2 network.

    Args:
        graph_or_path: the graph, or a file read with ``nir.read``.
        dt: simulation time step (s); NIR stores none. It must be the exporter's step for
            weights and time constants to mean what they meant there.
        convention: how the exporter wrote its parameters, one of ``"auto"`` (default:
            ``"spyx"`` where the graph carries spyx 1.0's fingerprint at this ``dt``, else
            ``"nir"``; the report says which and why), ``"nir"`` (as the NIR specification
            states them), ``"snntorch"`` (the same, with dt = 1e-4 s
            checked) or ``"spyx"`` (spyx 1.0's r = beta, w_in = 1 rewritten as r = tau_mem /
            dt, w_in = tau_syn / dt; the export step checked); see
            :mod:`dynapse2.nir.conventions`.
        report: also return an :class:`ImportReport`.
        backend: backend of the DynapSim layers (``"jax"`` or ``"numpy"``); populations
            rebuilt from dynapse2 metadata keep their own.
        readout_range: the NIR potential (above v_leak) an LI/CubaLI readout maps to I_x, the
            top of the DPI's near-linear range; above it the readout saturates (it spikes and
            resets). Choose it above the largest potential the readout reaches.
        solver: the solver of the imported populations, ``"exponential_euler"`` (default:
            a spike inside the step and a restart at the next, as the NIR LIF; t_ref 1 us)
            or ``"euler"`` (one refractory step after each spike: rates fall below the
            reference as intervals shorten, -25 % at 6 steps); see
            :data:`dynapse2.nir.mapping.IMPORT_SOLVER`. Populations rebuilt from dynapse2
            metadata keep their own (as every setting of theirs).

    Returns:
        ``Sequential`` of ``[Linear,] DynapSim`` pairs (a recurrent population gets
        ``has_rec=True`` and a signed ``w_rec``); with ``report=True``, ``(net, report)``.
        Populations written by :func:`to_nir` are rebuilt exactly from their metadata.

    Raises:
        TypeError, ValueError: an argument of the wrong type or range (naming it), or a
            ``dt`` the ``convention``'s exporter did not use.
        ValueError: a node the chip cannot run, or a graph that is not a chain of populations
            (see :mod:`dynapse2.nir.nodes`, :mod:`dynapse2.nir.graph`); raised before
            anything is built.
        FileFormatError: (a ``ValueError``) a path whose content is not an importable NIR
            graph: not HDF5, truncated, corrupted, or a graph as above; the message starts
            with the path. A path that cannot be opened raises ``FileNotFoundError``,
            ``IsADirectoryError`` or ``PermissionError``.
    """
    nir = nir_package()
    checks.number("from_nir", "dt", dt, lo=0, lo_open=True)
    checks.choice("from_nir", "convention", convention, CONVENTIONS)
    checks.boolean("from_nir", "report", report)
    checks.choice("from_nir", "backend", backend, BACKENDS)
    checks.number("from_nir", "readout_range", readout_range, lo=0, lo_open=True)
    checks.choice("from_nir", "solver", solver, tuple(SOLVERS))
    options = _Options(convention, report, backend, readout_range, solver)
    if isinstance(graph_or_path, str | os.PathLike):
        return _from_file(graph_or_path, dt, options)
    if not isinstance(graph_or_path, nir.NIRGraph):
        raise TypeError(
            f"from_nir: graph_or_path must be a nir.NIRGraph or a path, got "
            f"{type(graph_or_path).__name__}"
        )
    return _from_graph(graph_or_path, dt, options)


class _Options(NamedTuple):
    convention: str
    report: bool
    backend: str
    readout_range: float
    solver: str


def _from_file(
    path: str | os.PathLike, dt: float, o: _Options
) -> Sequential | tuple[Sequential, ImportReport]:
    """:func:`from_nir` of a file: an unopenable path raises the ``OSError`` of ``open``;
    any content that is not an importable NIR graph raises :class:`FileFormatError`."""
    with open(path, "rb"):  # FileNotFoundError, IsADirectoryError, PermissionError
        pass
    try:
        graph = nir_package().read(os.fspath(path))
    except Exception as e:  # noqa: BLE001  (h5py and nir raise many types for a bad file)
        raise FileFormatError(
            path, f"not a readable NIR file (HDF5) ({type(e).__name__}: {e})", _NIR_HINT
        ) from None
    try:
        return _from_graph(graph, dt, o)
    except Exception as e:  # noqa: BLE001  (whatever a damaged graph trips over is the file's)
        raise FileFormatError(path, f"its graph cannot be imported: {e}", _NIR_HINT) from None


def _from_graph(graph: Any, dt: float, o: _Options) -> Sequential | tuple[Sequential, ImportReport]:
    convention, why = o.convention, ""
    if convention == "auto":
        convention, why = detect(graph, dt)
    graph, rewritten = to_nir_semantics(graph, dt, convention)
    check_types(graph)
    nodes, edges = flatten(graph)
    ins = [k for k, v in graph.nodes.items() if node_type(v) == "Input"]
    outs = [k for k, v in graph.nodes.items() if node_type(v) == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(
            f"from_nir: the graph has Input nodes {ins} and Output nodes {outs}; a Sequential "
            "needs exactly one of each"
        )
    conns = connections(nodes, edges, set(ins + outs))
    order = chain(nodes, conns, ins[0], outs[0])

    rep = ImportReport(convention=describe(convention) + (f" (auto: {why})" if why else ""))
    rep.add(ins[0], "Input", "network input (event counts per channel)")
    modules: list[Any] = []
    prev = ins[0]
    for name in order:
        node = nodes[name]
        ff, rec = conns[(prev, name)], conns.get((name, name))
        d = exact(node)
        if d is not None:
            mods, row = rebuild(node, d, ff, rec, nodes, dt, o.backend)
            modules += mods
            rep.add(name, node_type(node), row, "- (exact, from dynapse2 metadata)")
        else:
            mods, notes, scale = import_population(
                name, node, ff, rec, dt, o.backend, o.readout_range, o.solver
            )
            modules += mods
            if scale is not None:
                rep.readouts[name] = scale
            what = f"DynapSim({mods[-1].n}{', has_rec' if rec else ''})"
            if node_type(node) in ("LI", "CubaLI"):
                what += " readout (read I_mem)"
            notes = ([rewritten[name]] if name in rewritten else []) + notes
            rep.add(name, node_type(node), what, "; ".join(notes) or "-")
        for c, kind in ((ff, "input"), (rec, "recurrent")):
            for v in c.via if c else []:
                became = "Linear" if kind == "input" else "w_rec"
                note = "-"
                if node_type(nodes[v]) == "Affine" and kind == "input":
                    note = "bias -> Idc"
                    if node_type(node) in ("CubaLIF", "CubaLI"):
                        note += BIAS_SKIPS_SYNAPSE
                    if np.ptp(np.asarray(nodes[v].bias, np.float64)) > 0:
                        note += DC_PER_CORE
                if node_type(nodes[v]) == "Scale":
                    became, note = f"folded into {became}", "-"
                rep.add(v, node_type(nodes[v]), f"{became} of {name!r}", note)
        prev = name
    rep.add(outs[0], "Output", f"output of {order[-1]!r}")
    net = Sequential(*modules)
    return (net, rep) if o.report else net
