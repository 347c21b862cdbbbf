"""NIR (Neuromorphic Intermediate Representation) import and export for Dynap-SE2 networks.

``from_nir`` turns a NIR graph (from snnTorch, Norse, spyx, Rockpool, ...) into a
``Sequential`` of ``Linear`` and ``DynapSim`` layers; ``to_nir`` writes a dynapse2 network as a
NIR graph (``CubaLIF`` approximations plus the exact DynapSim parameters in the metadata).

Modules: :mod:`~dynapse2.nir.importer` (``from_nir``), :mod:`~dynapse2.nir.exporter`
(``to_nir``), :mod:`~dynapse2.nir.conventions` (how snnTorch and spyx write their
parameters), :mod:`~dynapse2.nir.mapping` (the LIF -> DPI mapping and where it breaks),
:mod:`~dynapse2.nir.population`, :mod:`~dynapse2.nir.nodes`, :mod:`~dynapse2.nir.graph`,
:mod:`~dynapse2.nir.roundtrip`, :mod:`~dynapse2.nir.report`;
:func:`dynapse2.nir.reference.simulate` runs a graph in NIR's own semantics (float64), the
yardstick the import is measured against. Needs the optional dependency ``nir``
(``pip install "dynapse2[nir]"``); it is imported on first use.
"""

from dynapse2.nir.conventions import CONVENTIONS, to_nir_semantics
from dynapse2.nir.exporter import to_nir
from dynapse2.nir.importer import from_nir
from dynapse2.nir.mapping import dpi_currents, runaway_current
from dynapse2.nir.report import ImportReport, ReportRow

__all__ = [
    "CONVENTIONS",
    "ImportReport",
    "ReportRow",
    "dpi_currents",
    "from_nir",
    "runaway_current",
    "to_nir",
    "to_nir_semantics",
]
