"""dynapse2: simulate, train, quantize and deploy spiking networks on the Dynap-SE2 chip.

The layers of the package, each importing only the ones above it in this list:
``physics`` (pure circuit equations), ``nn`` (modules and simulation backends),
``train``, ``hardware`` (chip facts, quantization, configuration, samna), ``plot``. The one
exception is ``dynapse2.hardware.chip``, the single module of chip facts (limits, tables,
names; it imports nothing), which every layer may read.
"""

from dynapse2.errors import FileFormatError
from dynapse2.nn import CURRENTS, DynapSim, Linear, Module, Sequential, default_currents

__version__ = "0.1.0"
__all__ = [
    "CURRENTS",
    "DynapSim",
    "FileFormatError",
    "Linear",
    "Module",
    "Sequential",
    "default_currents",
]
