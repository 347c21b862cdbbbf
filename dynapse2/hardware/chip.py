"""Facts of the Dynap-SE2 chip: every limit, code and name table, defined once.

Nothing else in the package writes these numbers again; import them from here.
Sources: Richter et al. 2024 (DYNAP-SE2), the samna 0.7.1.0 object model.
"""

from __future__ import annotations

# --- Layout -----------------------------------------------------------------------------
N_CORES: int = 4
"""Cores per chip."""
N_NEURONS_PER_CORE: int = 256
"""Neurons per core; every neuron of a core shares the core's parameter group."""
N_NEURONS_PER_CHIP: int = N_CORES * N_NEURONS_PER_CORE
N_CAM: int = 64
"""CAM entries (incoming synapses) per neuron."""
N_SRAM: int = 4
"""SRAM destinations (outgoing routes) per neuron."""
N_WEIGHT_BITS: int = 4
"""Bits of a CAM entry's weight mask, one per base weight current Iw_0..Iw_3."""
N_TAG_BITS: int = 11
TAG_MAX: int = (1 << N_TAG_BITS) - 1
"""Largest tag value (2047)."""
RESERVED_TAGS: frozenset[int] = frozenset({TAG_MAX})
"""Tags the Stack board's host software reserves (2047 is its timing probe)."""
HOP_MIN: int = -7
HOP_MAX: int = 7
"""Range of x/y hops of an SRAM destination, in chips."""
GRID_SIZE: int = HOP_MAX - HOP_MIN + 1
"""Chips per side of the grid a chip can reach (15 x 15)."""

# --- Synapse (dendrite) types -----------------------------------------------------------
SYNAPSE_TYPES: tuple[str, ...] = ("ampa", "nmda", "gaba", "shunt")
"""Order of the synapse-type axis everywhere in the package (last axis of typed inputs)."""
EXCITATORY: tuple[str, ...] = ("ampa", "nmda")
INHIBITORY: tuple[str, ...] = ("gaba", "shunt")
DENDRITE_CODES: dict[str, int] = {"none": 0, "ampa": 1024, "gaba": 512, "nmda": 256, "shunt": 128}
"""samna's `Dendrite` enum values."""
