"""NIR (Neuromorphic Intermediate Representation) import and export for Dynap-SE2 networks.

``from_nir`` turns a NIR graph (from snnTorch, Norse, spyx, Rockpool, ...) into a
``Sequential`` of ``Linear`` and ``DynapSim`` layers; ``to_nir`` writes a dynapse2 network as a
NIR graph (``CubaLIF`` approximations plus the exact DynapSim parameters in the metadata). The
mapping and where it breaks are documented in :mod:`dynapse2.nir.convert`;
:func:`dynapse2.nir.reference.simulate` runs a graph in NIR's own semantics (float64), the
yardstick the import is measured against. Needs the optional
dependency ``nir`` (``pip install "dynapse2[nir]"``); it is imported on first use.
"""

from dynapse2.nir.convert import (
    ImportReport,
    ReportRow,
    dpi_currents,
    from_nir,
    runaway_current,
    to_nir,
)

__all__ = [
    "ImportReport",
    "ReportRow",
    "dpi_currents",
    "from_nir",
    "runaway_current",
    "to_nir",
]
