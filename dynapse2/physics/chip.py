"""Layout of the Dynap-SE2 that the simulator needs: cores, neurons per core, CAM entries.

Defined once here, below the module system (:mod:`dynapse2.nn` groups neurons by core and
caps a neuron's fan-in at the CAM size); :mod:`dynapse2.hardware.chip` re-exports them with
the rest of the chip's facts. Source: Richter et al. 2024 (DYNAP-SE2).
"""

from __future__ import annotations

N_CORES: int = 4
"""Cores per chip."""
N_NEURONS_PER_CORE: int = 256
"""Neurons per core; every neuron of a core shares the core's parameter group."""
N_NEURONS_PER_CHIP: int = N_CORES * N_NEURONS_PER_CORE
N_CAM: int = 64
"""CAM entries (incoming synapses) per neuron."""
