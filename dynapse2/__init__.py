"""dynapse2: simulate, train, quantize and deploy spiking networks on the Dynap-SE2 chip.

The layers of the package, each importing only the ones above it in this list:
``checks``, ``errors``, ``atomic`` (helpers), ``physics`` (pure circuit equations and the
chip's physical facts they need), ``solvers``, ``nn`` (modules and simulation backends),
``train``, ``hardware`` (chip tables, quantization, configuration, boards, samna), then
``nir``, ``datasets``, ``plot`` and ``doctor``. The one exception: ``Module.to_hardware()``
and ``Module.to_config()`` import the hardware layer inside the method. No two modules import
each other, directly or around a loop. The contracts are in ``pyproject.toml``
(``lint-imports``).
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
