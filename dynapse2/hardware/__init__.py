"""Dynap-SE2 hardware: chip facts, bias generator, quantizers, configuration, mapper, board.

Public API (samna is imported only when a board is opened, never by importing this package):

- configuration tree: :class:`Configuration`, :class:`Chip`, :class:`Core`,
  :class:`Parameter`, :class:`InputRoute`, :class:`OutputRoute` (``cfg.save`` /
  ``Configuration.load`` for JSON);
- quantization: :func:`quantize_current`, :func:`quantize_parameters`,
  :func:`quantize_weights`, :func:`fake_quantize`;
- mapping: :func:`map_network` (-> :class:`NetworkMapping` with ``config``, ``placement``,
  the quantized ``network``), :func:`config_from_network`, :func:`quantize_network`,
  :func:`network_from_config`, :func:`place`, :class:`Placement`;
- events: :func:`encode_input`, :func:`decode_output`;
- board: :func:`to_hardware`, :class:`DynapseBoard`, :func:`open_device`,
  :func:`samna_status`, :class:`HardwareUnavailableError`, :func:`to_samna`,
  :func:`from_samna`.
"""

from dynapse2.hardware.bias import (
    ParameterTable,
    current,
    current_range,
    quantize_current,
    quantize_parameters,
)
from dynapse2.hardware.config import Chip, Configuration, Core, InputRoute, OutputRoute, Parameter
from dynapse2.hardware.device import DynapseBoard, to_hardware
from dynapse2.hardware.events import decode_output, encode_input
from dynapse2.hardware.mapper import Placement, default_positions, place
from dynapse2.hardware.network import (
    NetworkMapping,
    config_from_network,
    map_network,
    network_from_config,
    quantize_network,
)
from dynapse2.hardware.samna_backend import (
    HardwareUnavailableError,
    from_samna,
    open_device,
    samna_status,
    to_samna,
)
from dynapse2.hardware.weights import QuantizedWeights, fake_quantize, quantize_weights

__all__ = [
    "Chip",
    "Configuration",
    "Core",
    "DynapseBoard",
    "HardwareUnavailableError",
    "InputRoute",
    "NetworkMapping",
    "OutputRoute",
    "Parameter",
    "ParameterTable",
    "Placement",
    "QuantizedWeights",
    "config_from_network",
    "current",
    "current_range",
    "decode_output",
    "default_positions",
    "encode_input",
    "fake_quantize",
    "from_samna",
    "map_network",
    "network_from_config",
    "open_device",
    "place",
    "quantize_current",
    "quantize_network",
    "quantize_parameters",
    "quantize_weights",
    "samna_status",
    "to_hardware",
    "to_samna",
]
