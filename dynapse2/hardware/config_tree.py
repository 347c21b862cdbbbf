"""The parts of a Dynap-SE2 configuration: parameters, cores (with their neuron, synapse and
destination views), chips, and the routes of network channels.

The structure, representation, encoding and tag rules are described in
:mod:`dynapse2.hardware.config`, which assembles these parts into a :class:`Configuration`
and re-exports them; the JSON format (:mod:`dynapse2.hardware.config_io`) reads and writes
them without importing that module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip as C
from dynapse2.hardware.masks import bits_mask, mask_bits

__all__ = [
    "Parameter",
    "Core",
    "Chip",
    "Neuron",
    "Synapse",
    "Destination",
    "InputRoute",
    "OutputRoute",
    "CHIP_PARAMETER_GROUPS",
]

_DENDRITE_NAMES: dict[int, str] = {code: name for name, code in C.DENDRITE_CODES.items()}
_MASK_MAX = (1 << C.N_WEIGHT_BITS) - 1
_CORE_MASK_MAX = (1 << C.N_CORES) - 1

CHIP_PARAMETER_GROUPS: dict[str, tuple[dict[str, str], int | None]] = {
    "global_parameters": (C.CHIP_GLOBAL_PARAMETERS, None),
    "shared_parameters01": (C.CHIP_SHARED_PARAMETERS, None),
    "shared_parameters23": (C.CHIP_SHARED_PARAMETERS, None),
    "sadc_group_parameters01": (C.CHIP_SADC_PARAMETERS, C.N_SADC_GROUPS),
    "sadc_group_parameters23": (C.CHIP_SADC_PARAMETERS, C.N_SADC_GROUPS),
    "bioamp_common_parameters": (C.CHIP_BIOAMP_COMMON_PARAMETERS, None),
    "bioamp_channel_parameters": (C.CHIP_BIOAMP_CHANNEL_PARAMETERS, C.N_BIOAMP_CHANNELS),
}
"""Chip-level parameter groups: attribute -> (name -> type table, number of dicts or None
for a single dict)."""


# --- Parameters ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """One bias-generator value: current ~ I_max(coarse) * fine / 255 (see chip.py).

    Attributes:
        coarse: coarse value, 0..BG_COARSE_MAX.
        fine: fine value, 0..BG_FINE_MAX.
        type: transistor type, "N" or "P".
    """

    coarse: int = 0
    fine: int = 0
    type: str = "N"

    def __post_init__(self) -> None:
        """Types only: the ranges are checked where the parameter is used, naming its place
        (chip, core, group)."""
        _check_fields_are_integers(self, ("coarse", "fine"))
        if not isinstance(self.type, str):
            raise TypeError(
                f"Parameter: type = {self.type!r} must be a string, 'N' or 'P', "
                f"got {type(self.type).__name__}"
            )


def _check_fields_are_integers(record: Any, fields: tuple[str, ...]) -> None:
    """TypeError naming the class, the field and the value unless each field holds an
    integer (ranges depend on where a record is used, and are checked there)."""
    for field in fields:
        checks.integer(type(record).__name__, field, getattr(record, field))


def _check_scalar_int(where: str, field: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: {field} = {value!r} must be an integer in {lo}..{hi}")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{where}: {field} = {int(value)} is outside the allowed range {lo}..{hi}")
    return int(value)


def _check_bool(where: str, field: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: {field} = {value!r} must be a bool")
    return bool(value)


def _check_parameter(where: str, name: str, value: Any, table_type: str) -> Parameter:
    if not isinstance(value, Parameter):
        raise ValueError(f"{where}: parameter {name} = {value!r} must be a Parameter")
    _check_scalar_int(where, f"parameter {name} coarse", value.coarse, 0, C.BG_COARSE_MAX)
    _check_scalar_int(where, f"parameter {name} fine", value.fine, 0, C.BG_FINE_MAX)
    if value.type not in C.PARAMETER_TYPES:
        raise ValueError(
            f"{where}: parameter {name} type = {value.type!r} must be one of {C.PARAMETER_TYPES}"
        )
    if value.type != table_type and name not in C.TYPE_SWITCHABLE_PARAMETERS:
        raise ValueError(
            f"{where}: parameter {name} type = {value.type!r}, but this parameter is fixed to "
            f"type {table_type!r}"
        )
    return Parameter(int(value.coarse), int(value.fine), str(value.type))


def reset_parameters(table: Mapping[str, str]) -> dict[str, Parameter]:
    """The reset state of a parameter group: coarse 0, fine 0, the table's transistor type."""
    return {name: Parameter(0, 0, t) for name, t in table.items()}


def _check_parameter_map(
    where: str, params: Mapping[str, Parameter] | None, table: Mapping[str, str]
) -> dict[str, Parameter]:
    """Validate one parameter dict (missing names take their reset value)."""
    out = reset_parameters(table)
    if params is None:
        return out
    if not isinstance(params, Mapping):
        raise ValueError(f"{where}: parameters must be a dict name -> Parameter")
    for name, value in params.items():
        if name not in table:
            raise ValueError(
                f"{where}: unknown parameter name {name!r}; known names: {', '.join(sorted(table))}"
            )
        out[name] = _check_parameter(where, name, value, table[name])
    return out


# --- Array fields -------------------------------------------------------------------------
# name -> (trailing shape, dtype, lo, hi, index names); bool fields have lo, hi = 0, 1.
_SYN_SHAPE = (C.N_NEURONS_PER_CORE, C.N_CAM)
_DEST_SHAPE = (C.N_NEURONS_PER_CORE, C.N_SRAM)
_ARRAY_FIELDS: dict[str, tuple[tuple[int, ...], Any, int, int, tuple[str, str]]] = {
    "syn_tag": (_SYN_SHAPE, np.int32, 0, C.TAG_MAX, ("neuron", "synapse")),
    "syn_dendrite": (
        _SYN_SHAPE,
        np.int32,
        0,
        max(C.DENDRITE_CODES.values()),
        ("neuron", "synapse"),
    ),
    "syn_weight": (_SYN_SHAPE, np.uint8, 0, _MASK_MAX, ("neuron", "synapse")),
    "syn_stp": (_SYN_SHAPE, np.bool_, 0, 1, ("neuron", "synapse")),
    "syn_precise_delay": (_SYN_SHAPE, np.bool_, 0, 1, ("neuron", "synapse")),
    "syn_mismatched_delay": (_SYN_SHAPE, np.bool_, 0, 1, ("neuron", "synapse")),
    "dest_tag": (_DEST_SHAPE, np.int32, 0, C.TAG_MAX, ("neuron", "destination")),
    "dest_core": (_DEST_SHAPE, np.uint8, 0, _CORE_MASK_MAX, ("neuron", "destination")),
    "dest_x_hop": (_DEST_SHAPE, np.int8, C.HOP_MIN, C.HOP_MAX, ("neuron", "destination")),
    "dest_y_hop": (_DEST_SHAPE, np.int8, C.HOP_MIN, C.HOP_MAX, ("neuron", "destination")),
    "latches": ((C.N_NEURONS_PER_CORE, len(C.NEURON_LATCHES)), np.bool_, 0, 1, ("neuron", "latch")),
}
SYNAPSE_FIELDS: tuple[str, ...] = tuple(k for k in _ARRAY_FIELDS if k.startswith("syn_"))
DESTINATION_FIELDS: tuple[str, ...] = tuple(k for k in _ARRAY_FIELDS if k.startswith("dest_"))
NEURON_FIELDS: tuple[str, ...] = tuple(_ARRAY_FIELDS)
"""Every per-neuron array field of a :class:`Core` (CAM, SRAM and latches)."""


def _locate(where: str, index: tuple[int, ...], names: tuple[str, str]) -> str:
    n, k = index
    second = f"latch {C.NEURON_LATCHES[k]}" if names[1] == "latch" else f"{names[1]} {k}"
    return f"{where}, neuron {n}, {second}"


def _field_label(name: str) -> str:
    return name.split("_", 1)[1] if name != "latches" else "latch"


def _check_array(where: str, name: str, value: Any) -> np.ndarray:
    shape, dtype, lo, hi, names = _ARRAY_FIELDS[name]
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ValueError(f"{where}: {name} has shape {arr.shape}, expected {shape}")
    if dtype is np.bool_:
        if arr.dtype.kind != "b":
            if arr.dtype.kind not in "iu" or not np.isin(arr, (0, 1)).all():
                raise ValueError(f"{where}: {name} must hold booleans, got dtype {arr.dtype}")
        return arr.astype(np.bool_, copy=True)
    if arr.dtype.kind not in "iub":
        raise ValueError(f"{where}: {name} must hold integers, got dtype {arr.dtype}")
    bad = (arr < lo) | (arr > hi)
    if name == "syn_dendrite":
        bad = ~np.isin(arr, list(C.DENDRITE_CODES.values()))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        v = int(arr[idx])
        allowed = (
            f"one of {sorted(C.DENDRITE_CODES.values())} ({C.DENDRITE_CODES})"
            if name == "syn_dendrite"
            else f"the allowed range {lo}..{hi}"
        )
        raise ValueError(
            f"{_locate(where, idx, names)}: {_field_label(name)} = {v} is outside {allowed}"
        )
    return arr.astype(dtype, copy=True)


def _check_reserved(where: str, tags: np.ndarray, active: np.ndarray, names: tuple[str, str]):
    bad = active & np.isin(tags, list(C.RESERVED_TAGS))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{_locate(where, idx, names)}: tag = {int(tags[idx])} is reserved by the board "
            f"(reserved: {sorted(C.RESERVED_TAGS)}); an active entry needs a tag in "
            f"0..{C.TAG_MAX} outside the reserved set"
        )


# --- Core ---------------------------------------------------------------------------------
class Core:
    """One core: its 52-parameter group and its 256 neurons stored as arrays.

    Args:
        parameters: BG name -> :class:`Parameter`; missing names take the reset value.
        monitored_neuron: samna's ``monitored_neuron`` (0..255).
        flags: samna's boolean core attributes (``chip.CORE_FLAGS``) -> bool.
        **arrays: ``syn_tag``, ``syn_dendrite`` (samna codes), ``syn_weight`` (4-bit mask),
            ``syn_stp``, ``syn_precise_delay``, ``syn_mismatched_delay`` of shape
            ``(256, 64)``; ``dest_tag``, ``dest_core`` (4-bit core mask), ``dest_x_hop``,
            ``dest_y_hop`` of shape ``(256, 4)``; ``latches`` of shape ``(256, 14)`` in the
            order of ``chip.NEURON_LATCHES``. Missing arrays take the reset value (zeros).

    Raises:
        ValueError: a value outside the chip's limits, naming its location.
    """

    __slots__ = ("parameters", "monitored_neuron", "flags", *_ARRAY_FIELDS)
    # The arrays of _ARRAY_FIELDS, declared for type checkers (checked below the class).
    syn_tag: np.ndarray
    syn_dendrite: np.ndarray
    syn_weight: np.ndarray
    syn_stp: np.ndarray
    syn_precise_delay: np.ndarray
    syn_mismatched_delay: np.ndarray
    dest_tag: np.ndarray
    dest_core: np.ndarray
    dest_x_hop: np.ndarray
    dest_y_hop: np.ndarray
    latches: np.ndarray

    def __init__(
        self,
        parameters: Mapping[str, Parameter] | None = None,
        *,
        monitored_neuron: int = 0,
        flags: Mapping[str, bool] | None = None,
        **arrays: Any,
    ) -> None:
        unknown = set(arrays) - set(_ARRAY_FIELDS)
        if unknown:
            raise TypeError(f"Core: unknown array fields {sorted(unknown)}")
        self.parameters: dict[str, Parameter] = dict(parameters or {})
        self.monitored_neuron: int = monitored_neuron
        self.flags: dict[str, bool] = dict(flags or {})
        for name, (shape, dtype, *_rest) in _ARRAY_FIELDS.items():
            setattr(self, name, arrays[name] if name in arrays else np.zeros(shape, dtype))
        self.validate("core")

    @classmethod
    def _unchecked(cls, parameters, monitored_neuron, flags, arrays) -> Core:
        """Build without validation (the caller validates the enclosing Configuration)."""
        core = cls.__new__(cls)
        core.parameters, core.monitored_neuron, core.flags = parameters, monitored_neuron, flags
        for name, (shape, dtype, *_rest) in _ARRAY_FIELDS.items():
            setattr(core, name, arrays[name] if name in arrays else np.zeros(shape, dtype))
        return core

    def validate(self, where: str = "core") -> None:
        """Check every value against the chip's limits (and normalise dtypes in place).

        Args:
            where: location prefix used in error messages, e.g. ``"chip 0, core 1"``.

        Raises:
            ValueError: naming the location, the field, the value and the allowed range.
        """
        self.parameters = _check_parameter_map(where, self.parameters, C.CORE_PARAMETERS)
        self.monitored_neuron = _check_scalar_int(
            where, "monitored_neuron", self.monitored_neuron, 0, C.N_NEURONS_PER_CORE - 1
        )
        flags = {name: False for name in C.CORE_FLAGS}
        for name, value in self.flags.items():
            if name not in flags:
                raise ValueError(f"{where}: unknown core flag {name!r}; known: {C.CORE_FLAGS}")
            flags[name] = _check_bool(where, f"flag {name}", value)
        self.flags = flags
        for name in _ARRAY_FIELDS:
            setattr(self, name, _check_array(where, name, getattr(self, name)))
        _check_reserved(where, self.syn_tag, self.syn_dendrite != 0, ("neuron", "synapse"))
        _check_reserved(where, self.dest_tag, self.dest_core != 0, ("neuron", "destination"))

    @property
    def neurons(self) -> tuple[Neuron, ...]:
        """The 256 neurons as views on this core's arrays."""
        return tuple(Neuron(self, i) for i in range(C.N_NEURONS_PER_CORE))

    def set_parameter(self, name: str, coarse: int, fine: int, type: str | None = None) -> None:
        """Set one BG parameter, validated (``type`` defaults to the table's type)."""
        if name not in C.CORE_PARAMETERS:
            raise ValueError(f"core: unknown parameter name {name!r}")
        t = C.CORE_PARAMETERS[name] if type is None else type
        self.parameters[name] = _check_parameter(
            "core", name, Parameter(coarse, fine, t), C.CORE_PARAMETERS[name]
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Core):
            return NotImplemented
        return (
            self.parameters == other.parameters
            and self.monitored_neuron == other.monitored_neuron
            and self.flags == other.flags
            and all(np.array_equal(getattr(self, f), getattr(other, f)) for f in _ARRAY_FIELDS)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        n_syn = int((self.syn_dendrite != 0).sum())
        n_dest = int((self.dest_core != 0).sum())
        return f"Core({n_syn} active synapses, {n_dest} active destinations)"


assert set(Core.__annotations__) >= set(_ARRAY_FIELDS), "declare every array field on Core"


# --- Views --------------------------------------------------------------------------------
class _Entries(tuple):
    """A neuron's CAM or SRAM entries: a tuple whose out-of-range index names the limit."""

    _what: str

    def __new__(cls, what: str, items: Iterable[Any]) -> _Entries:
        out = super().__new__(cls, items)
        out._what = what
        return out

    def __getitem__(self, i: Any) -> Any:
        try:
            return super().__getitem__(i)
        except IndexError:
            raise IndexError(
                f"a neuron has {len(self)} {self._what}, indices 0..{len(self) - 1}; got {i}"
            ) from None


class Neuron:
    """View of neuron ``index`` of ``core``: ``synapses``, ``destinations``, ``latch_<name>``."""

    __slots__ = ("core", "index")

    def __init__(self, core: Core, index: int) -> None:
        self.core = core
        self.index = index

    @property
    def synapses(self) -> tuple[Synapse, ...]:
        """The 64 CAM entries of this neuron."""
        return _Entries(
            "CAM entries (synapses)", (Synapse(self.core, self.index, k) for k in range(C.N_CAM))
        )

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """The 4 SRAM entries of this neuron."""
        return _Entries(
            "SRAM entries (destinations)",
            (Destination(self.core, self.index, k) for k in range(C.N_SRAM)),
        )

    def __repr__(self) -> str:
        on = [n for j, n in enumerate(C.NEURON_LATCHES) if self.core.latches[self.index, j]]
        return f"Neuron({self.index}, latches on: {on})"


def _latch_property(j: int, name: str) -> property:
    def get(self: Neuron) -> bool:
        return bool(self.core.latches[self.index, j])

    def set_(self: Neuron, value: bool) -> None:
        self.core.latches[self.index, j] = _check_bool(
            f"neuron {self.index}", f"latch {name}", value
        )

    return property(get, set_, doc=f"samna's ``latch_{name}`` (bool).")


for _j, _name in enumerate(C.NEURON_LATCHES):
    setattr(Neuron, f"latch_{_name}", _latch_property(_j, _name))


class _Entry:
    __slots__ = ("_owner", "neuron", "index")
    _prefix = ""
    _kind = ""

    def __init__(self, core: Core, neuron: int, index: int) -> None:
        self._owner = core
        self.neuron = neuron
        self.index = index

    @property
    def _where(self) -> str:
        return f"neuron {self.neuron}, {self._kind} {self.index}"

    def _get(self, field: str) -> Any:
        return getattr(self._owner, self._prefix + field)[self.neuron, self.index]

    def _set_int(self, field: str, value: Any) -> None:
        _shape, _dtype, lo, hi, _names = _ARRAY_FIELDS[self._prefix + field]
        v = _check_scalar_int(self._where, field, value, lo, hi)
        getattr(self._owner, self._prefix + field)[self.neuron, self.index] = v

    def _set_bool(self, field: str, value: Any) -> None:
        v = _check_bool(self._where, field, value)
        getattr(self._owner, self._prefix + field)[self.neuron, self.index] = v

    def _check_active_tag(self, tag: int, active: bool) -> None:
        if active and tag in C.RESERVED_TAGS:
            raise ValueError(
                f"{self._where}: tag = {tag} is reserved by the board for an active entry"
            )


def _bits_mask(where: str, field: str, bits: Any, n: int) -> int:
    if isinstance(bits, (int, np.integer)) and not isinstance(bits, bool):
        return _check_scalar_int(where, field, bits, 0, (1 << n) - 1)
    if not isinstance(bits, Iterable):
        raise TypeError(
            f"{where}: {field} must be {n} booleans or an integer mask, got {type(bits).__name__}"
        )
    items = list(bits)
    if len(items) != n:
        raise ValueError(f"{where}: {field} must have {n} booleans, got {len(items)}")
    return bits_mask([_check_bool(where, field, b) for b in items])


class Synapse(_Entry):
    """View of one CAM entry: ``tag``, ``dendrite``, ``weight`` (4 bools), ``stp``, delays."""

    __slots__ = ()
    _prefix = "syn_"
    _kind = "synapse"

    @property
    def tag(self) -> int:
        """Tag listened for, 0..2047."""
        return int(self._get("tag"))

    @tag.setter
    def tag(self, value: int) -> None:
        self._check_active_tag(int(value), self._get("dendrite") != 0)
        self._set_int("tag", value)

    @property
    def dendrite(self) -> str:
        """Dendrite name ("none", "ampa", "gaba", "nmda", "shunt"); set by name or samna code."""
        return _DENDRITE_NAMES[int(self._get("dendrite"))]

    @dendrite.setter
    def dendrite(self, value: str | int) -> None:
        code = C.DENDRITE_CODES.get(value) if isinstance(value, str) else value
        if code not in _DENDRITE_NAMES or isinstance(code, bool):
            raise ValueError(
                f"{self._where}: dendrite = {value!r} is not one of {C.DENDRITE_CODES}"
            )
        self._check_active_tag(self.tag, code != 0)
        self._owner.syn_dendrite[self.neuron, self.index] = code

    @property
    def weight(self) -> tuple[bool, bool, bool, bool]:
        """samna's ``weight``: bit i selects base weight SYAM_Wi_P. Set with 4 bools or a mask."""
        return mask_bits(int(self._get("weight")), C.N_WEIGHT_BITS)  # type: ignore[return-value]

    @weight.setter
    def weight(self, value: Sequence[bool] | int) -> None:
        mask = _bits_mask(self._where, "weight", value, C.N_WEIGHT_BITS)
        self._owner.syn_weight[self.neuron, self.index] = mask

    @property
    def weight_mask(self) -> int:
        """The weight as a 4-bit integer mask."""
        return int(self._get("weight"))

    stp = property(
        lambda s: bool(s._get("stp")), lambda s, v: s._set_bool("stp", v), doc="STP bit."
    )
    precise_delay = property(
        lambda s: bool(s._get("precise_delay")),
        lambda s, v: s._set_bool("precise_delay", v),
        doc="Precise-delay bit.",
    )
    mismatched_delay = property(
        lambda s: bool(s._get("mismatched_delay")),
        lambda s, v: s._set_bool("mismatched_delay", v),
        doc="Mismatched-delay bit.",
    )

    def __repr__(self) -> str:
        return (
            f"Synapse(tag={self.tag}, dendrite={self.dendrite!r}, weight={self.weight}, "
            f"stp={self.stp}, precise_delay={self.precise_delay}, "
            f"mismatched_delay={self.mismatched_delay})"
        )


class Destination(_Entry):
    """View of one SRAM entry: ``tag``, ``core`` (4 bools), ``x_hop``, ``y_hop`` (-7..7)."""

    __slots__ = ()
    _prefix = "dest_"
    _kind = "destination"

    @property
    def tag(self) -> int:
        """Tag emitted, 0..2047."""
        return int(self._get("tag"))

    @tag.setter
    def tag(self, value: int) -> None:
        self._check_active_tag(int(value), self._get("core") != 0)
        self._set_int("tag", value)

    @property
    def core(self) -> tuple[bool, bool, bool, bool]:  # type: ignore[override]
        """samna's ``core``: bit i means core i of the target chip receives the event."""
        return mask_bits(int(self._get("core")), C.N_CORES)  # type: ignore[return-value]

    @core.setter
    def core(self, value: Sequence[bool] | int) -> None:
        mask = _bits_mask(self._where, "core", value, C.N_CORES)
        self._check_active_tag(self.tag, mask != 0)
        self._owner.dest_core[self.neuron, self.index] = mask

    @property
    def core_mask(self) -> int:
        """The core selection as a 4-bit integer mask."""
        return int(self._get("core"))

    x_hop = property(
        lambda s: int(s._get("x_hop")), lambda s, v: s._set_int("x_hop", v), doc="x hops, -7..7."
    )
    y_hop = property(
        lambda s: int(s._get("y_hop")), lambda s, v: s._set_int("y_hop", v), doc="y hops, -7..7."
    )

    def __repr__(self) -> str:
        return (
            f"Destination(tag={self.tag}, core={self.core}, x_hop={self.x_hop}, y_hop={self.y_hop})"
        )


# --- Chip ---------------------------------------------------------------------------------
def _check_group(where: str, attr: str, value: Any) -> Any:
    table, count = CHIP_PARAMETER_GROUPS[attr]
    if count is None:
        return _check_parameter_map(f"{where}, {attr}", value, table)
    groups = [None] * count if value is None else list(value)
    if len(groups) != count:
        raise ValueError(f"{where}: {attr} must hold {count} parameter dicts, got {len(groups)}")
    return [_check_parameter_map(f"{where}, {attr}[{i}]", g, table) for i, g in enumerate(groups)]


class Chip:
    """One Dynap-SE2 chip: 4 cores plus the chip-level parameter groups and flags.

    Args:
        cores: exactly 4 :class:`Core`; default: 4 reset cores.
        position: ``(x, y)`` grid coordinates of the chip (non-negative integers), used by
            a mapper to compute hops; not part of samna's object. Default ``(0, 0)``.
        flags: samna's boolean chip attributes (``chip.CHIP_FLAGS``) -> bool.
        **groups: the chip-level parameter groups named in :data:`CHIP_PARAMETER_GROUPS`
            (a dict, or a list of dicts for the sadc and bioamp-channel groups).

    Raises:
        ValueError: a value outside the chip's limits, naming its location.
    """

    __slots__ = ("cores", "position", "flags", *CHIP_PARAMETER_GROUPS)

    def __init__(
        self,
        cores: Sequence[Core] | None = None,
        *,
        position: tuple[int, int] = (0, 0),
        flags: Mapping[str, bool] | None = None,
        **groups: Any,
    ) -> None:
        unknown = set(groups) - set(CHIP_PARAMETER_GROUPS)
        if unknown:
            raise TypeError(f"Chip: unknown parameter groups {sorted(unknown)}")
        self.cores: list[Core] = (
            [Core() for _ in range(C.N_CORES)] if cores is None else list(cores)
        )
        self.position: tuple[int, int] = position
        self.flags: dict[str, bool] = dict(flags or {})
        for attr in CHIP_PARAMETER_GROUPS:
            setattr(self, attr, groups.get(attr))
        self.validate("chip")

    @classmethod
    def _unchecked(cls, cores, position, flags, groups) -> Chip:
        """Build without validation (the caller validates the enclosing Configuration)."""
        chip = cls.__new__(cls)
        chip.cores, chip.position, chip.flags = list(cores), position, flags
        for attr in CHIP_PARAMETER_GROUPS:
            setattr(chip, attr, groups.get(attr))
        return chip

    def validate(self, where: str = "chip") -> None:
        """Check every value of the chip and its cores; ``where`` prefixes error messages."""
        if len(self.cores) != C.N_CORES or not all(isinstance(c, Core) for c in self.cores):
            raise ValueError(
                f"{where}: needs exactly {C.N_CORES} Core objects, got {len(self.cores)}"
            )
        pos = tuple(self.position)
        if len(pos) != 2:
            raise ValueError(f"{where}: position = {self.position!r} must be (x, y)")
        self.position = tuple(
            _check_scalar_int(where, f"position {a}", v, 0, 2**31 - 1)
            for a, v in zip("xy", pos, strict=True)
        )  # type: ignore[assignment]
        flags = {name: False for name in C.CHIP_FLAGS}
        for name, value in self.flags.items():
            if name not in flags:
                raise ValueError(f"{where}: unknown chip flag {name!r}; known: {C.CHIP_FLAGS}")
            flags[name] = _check_bool(where, f"flag {name}", value)
        self.flags = flags
        for attr in CHIP_PARAMETER_GROUPS:
            setattr(self, attr, _check_group(where, attr, getattr(self, attr)))
        for i, core in enumerate(self.cores):
            core.validate(f"{where}, core {i}")
        monitors = [
            f"core {i} {f}"
            for i, core in enumerate(self.cores)
            for f in C.PULSE_EXTENDER_MONITOR_FLAGS
            if core.flags[f]
        ]
        if len(monitors) > 1:
            raise ValueError(
                f"{where}: {len(monitors)} pulse-extender monitors are on ({', '.join(monitors)});"
                " the chip has one monitor output: enable at most one"
            )
        if all(self.flags[f] for f in C.PG_REFERENCE_MONITOR_FLAGS):
            raise ValueError(
                f"{where}: both {' and '.join(C.PG_REFERENCE_MONITOR_FLAGS)} are on; enable at "
                "most one"
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Chip):
            return NotImplemented
        return (
            self.position == other.position
            and self.flags == other.flags
            and all(getattr(self, a) == getattr(other, a) for a in CHIP_PARAMETER_GROUPS)
            and self.cores == other.cores
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Chip(position={self.position}, cores={self.cores})"


# --- Network-level maps -------------------------------------------------------------------
@dataclass(frozen=True)
class InputRoute:
    """Where one network input channel's events go: injected into ``chip`` as an event
    carrying ``tag`` for the cores in ``core_mask`` (bit i = core i), with hops
    ``x_hop``/``y_hop`` (-7..7) from that chip."""

    chip: int
    tag: int
    core_mask: int = _CORE_MASK_MAX
    x_hop: int = 0
    y_hop: int = 0

    def __post_init__(self) -> None:
        _check_fields_are_integers(self, ("chip", "tag", "core_mask", "x_hop", "y_hop"))


@dataclass(frozen=True)
class OutputRoute:
    """The neuron behind one network output channel (``chip``, ``core``, ``neuron``) and the
    ``tag`` its events carry when they reach the host."""

    chip: int
    core: int
    neuron: int
    tag: int

    def __post_init__(self) -> None:
        _check_fields_are_integers(self, ("chip", "core", "neuron", "tag"))


def _check_tag_route(where: str, tag: Any) -> int:
    t = _check_scalar_int(where, "tag", tag, 0, C.TAG_MAX)
    if t in C.RESERVED_TAGS:
        raise ValueError(
            f"{where}: tag = {t} is reserved by the board (reserved: {sorted(C.RESERVED_TAGS)})"
        )
    return t


def _check_channel(where: str, ch: Any) -> int:
    return _check_scalar_int(where, "channel", ch, 0, 2**31 - 1)
