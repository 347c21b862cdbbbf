"""Dynap-SE2 hardware: chip facts, bias generator, quantizers, configuration, mapper, board.

Public API (samna is imported only when a board is opened, never by importing this package):

- configuration tree: :class:`Configuration`, :class:`Chip`, :class:`Core`,
  :class:`Parameter`, :class:`InputRoute`, :class:`OutputRoute` (``cfg.save`` /
  ``Configuration.load`` for JSON); :func:`changes` (-> :class:`Changes`: what differs
  between two configurations, which the boards use to apply only that);
- quantization: :func:`quantize_current`, :func:`quantize_parameters`,
  :func:`quantize_weights`, :func:`fake_quantize`, :func:`fake_quantize_levels`,
  :func:`quantization_aware` (-> :class:`QuantizationAware`, a ``fit`` transform);
- mapping: :func:`map_network` (-> :class:`NetworkMapping` with ``config``, ``placement``,
  the quantized ``network``; ``activity=`` :func:`source_rates` fits the weight levels
  where the drive is), :func:`config_from_network`, :func:`quantize_network`,
  :func:`network_from_config`, :func:`place`, :class:`Placement`;
- events: :func:`encode_input`, :func:`decode_output`;
- board: :func:`to_hardware`, :class:`DynapseBoard`, :class:`VirtualBoard` (an emulated
  Stack board), :func:`leaky_configuration`, :func:`calibrate` (-> :class:`Calibration`,
  whose ``simulator`` predicts the board), :func:`open_device` (-> a
  :class:`~dynapse2.hardware.samna_current.StackBoard` on current samna),
  :func:`samna_status`, :class:`HardwareUnavailableError`, :func:`to_samna`,
  :func:`from_samna`;
- samna's own JSON without samna: :func:`save_samna_json`, :func:`load_samna_json`
  (:func:`to_samna_json`, :func:`from_samna_json`; :func:`adopt_cookies` on the board side).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and IDEs see them; imported lazily below
    from dynapse2.hardware.activity import source_rates
    from dynapse2.hardware.bias import (
        ParameterTable,
        current,
        current_range,
        quantize_current,
        quantize_parameters,
    )
    from dynapse2.hardware.calibration import Calibration, calibrate
    from dynapse2.hardware.config import (
        Chip,
        Configuration,
        Core,
        InputRoute,
        OutputRoute,
        Parameter,
    )
    from dynapse2.hardware.config_diff import Changes, changes
    from dynapse2.hardware.device import DynapseBoard, leaky_configuration, open_device, to_hardware
    from dynapse2.hardware.events import decode_output, encode_input
    from dynapse2.hardware.mapper import Placement, default_positions, place
    from dynapse2.hardware.network import (
        NetworkMapping,
        config_from_network,
        map_network,
        network_from_config,
        quantize_network,
    )
    from dynapse2.hardware.quantization_aware import QuantizationAware, quantization_aware
    from dynapse2.hardware.samna_backend import (
        HardwareUnavailableError,
        from_samna,
        samna_status,
        to_samna,
    )
    from dynapse2.hardware.samna_json import (
        adopt_cookies,
        from_samna_json,
        load_samna_json,
        save_samna_json,
        to_samna_json,
    )
    from dynapse2.hardware.virtual_board import VirtualBoard
    from dynapse2.hardware.weights import (
        QuantizedWeights,
        fake_quantize,
        fake_quantize_levels,
        quantize_weights,
    )

# Lazy exports: a name is imported on first use, so importing ``dynapse2.hardware`` imports
# none of its submodules and never samna. JAX comes with the package itself (``dynapse2``
# exports the module system); of the submodules, only those in JAX_FREE import no JAX (nor
# equinox, optax or samna) themselves, which tests/test_layers.py checks.
JAX_FREE: tuple[str, ...] = (
    "bias",
    "chip",
    "config",
    "config_diff",
    "config_io",
    "config_tree",
    "drain",
    "events",
    "mapper",
    "masks",
    "samna_json",
    "samna_json_tables",
)
_EXPORTS: dict[str, str] = {
    "source_rates": "activity",
    "ParameterTable": "bias",
    "current": "bias",
    "current_range": "bias",
    "quantize_current": "bias",
    "quantize_parameters": "bias",
    "Calibration": "calibration",
    "calibrate": "calibration",
    "Changes": "config_diff",
    "changes": "config_diff",
    "Chip": "config",
    "Configuration": "config",
    "Core": "config",
    "InputRoute": "config",
    "OutputRoute": "config",
    "Parameter": "config",
    "DynapseBoard": "device",
    "leaky_configuration": "device",
    "to_hardware": "device",
    "VirtualBoard": "virtual_board",
    "decode_output": "events",
    "encode_input": "events",
    "Placement": "mapper",
    "default_positions": "mapper",
    "place": "mapper",
    "NetworkMapping": "network",
    "config_from_network": "network",
    "map_network": "network",
    "network_from_config": "network",
    "quantize_network": "network",
    "QuantizationAware": "quantization_aware",
    "quantization_aware": "quantization_aware",
    "adopt_cookies": "samna_json",
    "from_samna_json": "samna_json",
    "load_samna_json": "samna_json",
    "save_samna_json": "samna_json",
    "to_samna_json": "samna_json",
    "HardwareUnavailableError": "samna_backend",
    "from_samna": "samna_backend",
    "open_device": "device",
    "samna_status": "samna_backend",
    "to_samna": "samna_backend",
    "QuantizedWeights": "weights",
    "fake_quantize": "weights",
    "fake_quantize_levels": "weights",
    "quantize_weights": "weights",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"dynapse2.hardware.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dynapse2.hardware' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__all__ = [
    "Calibration",
    "calibrate",
    "Changes",
    "changes",
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
    "QuantizationAware",
    "QuantizedWeights",
    "config_from_network",
    "current",
    "current_range",
    "decode_output",
    "default_positions",
    "encode_input",
    "fake_quantize",
    "fake_quantize_levels",
    "from_samna",
    "map_network",
    "network_from_config",
    "open_device",
    "place",
    "quantization_aware",
    "quantize_current",
    "quantize_network",
    "quantize_parameters",
    "quantize_weights",
    "samna_status",
    "save_samna_json",
    "source_rates",
    "load_samna_json",
    "to_samna_json",
    "from_samna_json",
    "adopt_cookies",
    "leaky_configuration",
    "VirtualBoard",
    "to_hardware",
    "to_samna",
]
