"""The Dynap-SE2 configuration tree: a pure-Python mirror of samna's `samna.dynapse2` model.

Structure (samna 0.7.1.0 names in brackets)::

    Configuration                      [Dynapse2Configuration]
      .chips: list[Chip]               [.chips]
      .input_map / .output_map          (ours: network channels <-> tags and neurons)
    Chip                               [Dynapse2Chip]
      .cores: list[Core] (4)           [.cores]
      .global_parameters, .shared_parameters01/23, .sadc_group_parameters01/23 (3 dicts
      each), .bioamp_common_parameters, .bioamp_channel_parameters (8 dicts)
                                       [.global_parameters, ..., .bioamps.common_parameters,
                                        .bioamps.channel_parameters]
      .flags: dict[str, bool]          [enable_pg0_reference_monitor, ... attributes]
      .position: (x, y)                 (ours: grid coordinates, not sent to samna)
    Core                               [Dynapse2Core]
      .parameters: dict[str, Parameter] (52)       [.parameters]
      .monitored_neuron, .flags        [monitored_neuron, neuron_monitoring_on, ...]
      .neurons -> 256 Neuron views     [.neurons]
    Neuron view                        [Dynapse2Neuron]
      .synapses -> 64 Synapse views, .destinations -> 4 Destination views,
      .latch_<name> (14 latches)       [.latch_so_dc, ...]

Representation: a core stores its neurons as a struct of arrays (``syn_tag`` of shape
``(256, 64)`` and so on, ``dest_tag`` of shape ``(256, 4)``, ``latches`` of shape
``(256, 14)``), so that whole-chip validation, comparison and JSON are vectorised. The
``Neuron``/``Synapse``/``Destination`` objects are thin views that read and write these
arrays; their setters validate each value. Code that writes the arrays directly (a mapper)
calls :meth:`Configuration.validate` afterwards; saving and conversion validate anyway.

Encoding: a weight is a 4-bit mask whose bit ``i`` is samna's ``weight[i]`` (base weight
``SYAM_W{i}_P``); a destination's core mask has bit ``i`` = samna's ``core[i]``. A dendrite
is stored as samna's integer code (``DENDRITE_CODES``).

Tag rule: every tag is in ``0..TAG_MAX``. A reserved tag (2047, the Stack board's timing
probe) is refused in *active* entries only: a synapse whose dendrite is not ``none``, a
destination whose core mask is not empty, and every input/output route. An inactive entry
may hold any tag, so that a configuration read back from samna always loads. The reset
value of a tag is 0 (``RESET_TAG``), as in samna's ``Dynapse2Configuration()``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dynapse2.hardware import chip as C
from dynapse2.hardware import config_io
from dynapse2.hardware.config_tree import (
    _CORE_MASK_MAX,
    CHIP_PARAMETER_GROUPS,
    NEURON_FIELDS,
    Chip,
    Core,
    Destination,
    InputRoute,
    Neuron,
    OutputRoute,
    Parameter,
    Synapse,
    _check_channel,
    _check_scalar_int,
    _check_tag_route,
)

__all__ = [
    "Parameter",
    "Core",
    "Chip",
    "Configuration",
    "Neuron",
    "Synapse",
    "Destination",
    "InputRoute",
    "OutputRoute",
    "CHIP_PARAMETER_GROUPS",
    "NEURON_FIELDS",
]


# --- Configuration ------------------------------------------------------------------------
class Configuration:
    """A whole deployment: chips plus the network's input and output maps.

    Args:
        chips: the chips, in samna's ``Dynapse2Configuration.chips`` order (the board's chip
            order). Default: one reset chip, like samna's ``Dynapse2Configuration()``.
        input_map: input channel -> :class:`InputRoute` or a sequence of them (a channel
            may fan out to several chips).
        output_map: output channel -> :class:`OutputRoute`. Output tags must be distinct per
            chip so events decode unambiguously.
        meta: free JSON-serialisable metadata (string keys), kept by ``to_json``.

    Raises:
        ValueError: any value outside the chip's limits, naming its location.
    """

    __slots__ = ("chips", "input_map", "output_map", "meta")

    def __init__(
        self,
        chips: Sequence[Chip] | None = None,
        *,
        input_map: Mapping[int, InputRoute | Iterable[InputRoute]] | None = None,
        output_map: Mapping[int, OutputRoute] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        for name, value in (("input_map", input_map), ("output_map", output_map), ("meta", meta)):
            if value is not None and not isinstance(value, Mapping):
                raise TypeError(
                    f"Configuration: {name} must be a mapping (a dict) or None, got "
                    f"{type(value).__name__}"
                )
        if chips is not None and not isinstance(chips, Sequence):
            raise TypeError(
                "Configuration: chips must be a sequence of Chip or None, got "
                f"{type(chips).__name__}"
            )
        self.chips: list[Chip] = [Chip()] if chips is None else list(chips)
        self.input_map: dict[int, tuple[InputRoute, ...]] = dict(input_map or {})  # type: ignore[arg-type]
        self.output_map: dict[int, OutputRoute] = dict(output_map or {})
        self.meta: dict[str, Any] = dict(meta or {})
        self.validate()

    @classmethod
    def reset(cls, n_chips: int = 1) -> Configuration:
        """``n_chips`` chips in the reset state, at positions ``(i, 0)``."""
        return cls([Chip(position=(i, 0)) for i in range(n_chips)])

    def validate(self) -> None:
        """Check the whole tree and the maps against the chip's limits.

        Raises:
            ValueError: naming the location (chip/core/neuron/entry), field, value and range.
        """
        if len(self.chips) < 1 or not all(isinstance(c, Chip) for c in self.chips):
            raise ValueError("configuration: needs at least one Chip object")
        for i, chip in enumerate(self.chips):
            chip.validate(f"chip {i}")
        positions = [c.position for c in self.chips]
        if len(set(positions)) != len(positions):
            raise ValueError(f"configuration: chip positions must be distinct, got {positions}")
        n_chips = len(self.chips)
        inputs: dict[int, tuple[InputRoute, ...]] = {}
        for ch, routes in self.input_map.items():
            ch = _check_channel("input_map", ch)
            routes = (routes,) if isinstance(routes, InputRoute) else tuple(routes)
            if not routes:
                raise ValueError(f"input_map channel {ch}: needs at least one InputRoute")
            for r in routes:
                where = f"input_map channel {ch}"
                if not isinstance(r, InputRoute):
                    raise ValueError(f"{where}: {r!r} is not an InputRoute")
                _check_scalar_int(where, "chip", r.chip, 0, n_chips - 1)
                _check_tag_route(where, r.tag)
                _check_scalar_int(where, "core_mask", r.core_mask, 1, _CORE_MASK_MAX)
                _check_scalar_int(where, "x_hop", r.x_hop, C.HOP_MIN, C.HOP_MAX)
                _check_scalar_int(where, "y_hop", r.y_hop, C.HOP_MIN, C.HOP_MAX)
            inputs[ch] = routes
        self.input_map = dict(sorted(inputs.items()))
        outputs: dict[int, OutputRoute] = {}
        seen: dict[tuple[int, int], int] = {}
        for ch, r in self.output_map.items():
            ch = _check_channel("output_map", ch)
            where = f"output_map channel {ch}"
            if not isinstance(r, OutputRoute):
                raise ValueError(f"{where}: {r!r} is not an OutputRoute")
            _check_scalar_int(where, "chip", r.chip, 0, n_chips - 1)
            _check_scalar_int(where, "core", r.core, 0, C.N_CORES - 1)
            _check_scalar_int(where, "neuron", r.neuron, 0, C.N_NEURONS_PER_CORE - 1)
            _check_tag_route(where, r.tag)
            key = (int(r.chip), int(r.tag))
            if key in seen:
                raise ValueError(
                    f"{where}: tag = {r.tag} on chip {r.chip} is already output channel "
                    f"{seen[key]}; output tags must be distinct per chip"
                )
            seen[key] = ch
            outputs[ch] = r
        self.output_map = dict(sorted(outputs.items()))
        if not isinstance(self.meta, dict) or not all(isinstance(k, str) for k in self.meta):
            raise ValueError("configuration: meta must be a dict with string keys")

    def copy(self) -> Configuration:
        """A deep copy."""
        return copy.deepcopy(self)

    def to_json(self) -> str:
        """Compact, lossless JSON: only what differs from the reset state (see config_io)."""
        return config_io.to_json(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> Configuration:
        """Parse and validate JSON written by :meth:`to_json`."""
        return config_io.from_json(text, cls)

    def save(self, path: str) -> None:
        """Write :meth:`to_json` to ``path`` atomically (see config_io.save)."""
        config_io.save(self, path)

    @classmethod
    def load(cls, path: str) -> Configuration:
        """Read a file written by :meth:`save`."""
        return config_io.load(path, cls)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Configuration):
            return NotImplemented
        return (
            self.chips == other.chips
            and self.input_map == other.input_map
            and self.output_map == other.output_map
            and self.meta == other.meta
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Configuration({len(self.chips)} chips, {len(self.input_map)} inputs, "
            f"{len(self.output_map)} outputs)"
        )
