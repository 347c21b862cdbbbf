"""samna's own JSON for a :class:`~dynapse2.hardware.config.Configuration`, without samna.

A configuration built on any Python (3.11, 3.12, ...) is written in the format of
``samna.dynapse2.Dynapse2Configuration.to_json()``, so that the Python 3.10 environment beside
the board loads it with samna's own ``from_json``, and a configuration samna wrote
(``open(p, "w").write(obj.to_json())``) is read back with :func:`load_samna_json`. Nothing
here imports samna. Beside the board (samna 0.7.1.0)::

    obj = samna.dynapse2.Dynapse2Configuration()
    obj.from_json(open("net.samna.json").read())   # instance method; replaces all chips
    adopt_cookies(obj)          # this process's cookies (below); without it samna refuses
    model.apply_configuration(obj)

Converted: exactly what :func:`~dynapse2.hardware.samna_backend.to_samna` and ``from_samna``
convert (every parameter of the cores and of the chip-level groups with its transistor type,
the core and chip flags, ``monitored_neuron``, every CAM synapse, SRAM destination and neuron
latch). Not converted: ``Dynapse2Chip.dvs_if``, the ``sadc_enables`` of chips and cores, and
the non-parameter bioamp settings (``gain``, ``route``, monitors, ``separate_parameters``,
``param_gen2_powerdown``): they are written at samna's defaults and ignored when reading.
Chip positions and the input/output maps are ours only: reading gives positions ``(i, 0)``
and empty maps, like ``from_samna``.

Format (samna 0.7.1.0, cereal's JSON archive): the root is ``{"value0": {"chips": [...]}}``;
keys are samna's attribute names in camelCase (``coarseValue``, ``xHop``, ``latchSoDc``);
fixed-size arrays (cores, neurons, synapses, destinations, weight and core bits) are objects
``{"value0": ..., "value1": ...}``; a parameter map is a list of
``{"key": name, "value": {"type": 78 | 80 (ord "N" / "P"), "coarseValue", "fineValue",
"_address", "_cookie", "_initialType", "_switchableType"}}``; a core also carries ``_id`` and
``_cookie``. Text is indented by 4 spaces, as samna writes it (``json.dumps(indent=4)``
reproduces samna's layout exactly). About 52 MB per chip.

Cookies: samna 0.7.1.0 draws every core's and parameter's ``_cookie`` when it is imported,
from a Mersenne Twister seeded with the time in seconds, so they differ from process to
process. ``Dynapse2Model.apply_configuration`` first runs samna's
``Dynapse2Configuration::validate``, which checks each cookie against the process's own and
refuses the whole configuration on a mismatch (printing "Chip 0 core id 0 is invalid.",
"... Parameter X: address A is invalid." to stderr). ``from_json`` takes the cookies from the
file, so a JSON written by another process, samna's own ``to_json`` included, is refused until
the cookies are replaced: :func:`adopt_cookies` does that (with samna objects, from fresh ones
of the same process; it imports nothing). Without this package, the same in samna alone::

    for chip in obj.chips:
        ref = samna.dynapse2.Dynapse2Chip()
        for core, rc in zip(chip.cores, ref.cores):
            core._cookie = rc._cookie
        # and for every parameter map m of the core / chip with its fresh twin r:
        #     for name, p in m.items(): p._cookie = r[name]._cookie

This module writes ``_cookie`` 0 everywhere and ignores cookies when reading.

Verified against samna 0.7.1.0 (tests/hardware/test_samna_json.py):

- :func:`to_samna_json` of the reset configuration is byte-identical to
  ``Dynapse2Configuration().to_json()``, and of a random 2-chip configuration to
  ``to_samna(cfg).to_json()``, once samna's cookies are replaced by 0; samna's ``from_json``
  of it gives the same values as ``to_samna(cfg)``; :func:`from_samna_json` of samna's
  ``to_json()`` equals ``from_samna``; samna's validator refuses a file from another process
  (ours, or samna's own) and accepts it after :func:`adopt_cookies`.
- ``_address``, ``_id`` and the parameters' order in each map depend only on the object's
  place in a chip, not on its values, on the chip's index nor on the process: they are
  tabulated once in :mod:`dynapse2.hardware.samna_json_tables`. ``_initialType`` is 1 for a
  table type "N" and 0 for "P"; ``_switchableType`` is true for
  ``chip.TYPE_SWITCHABLE_PARAMETERS`` only.
- samna's reader finds object fields by name (order is free, unknown keys are ignored, a
  missing field is an error "provided NVP (...) not found"), reads fixed arrays in order
  (their ``valueN`` names are ignored), reads parameter maps by key (a parameter left out
  of the list disappears from samna's object, so every parameter is always written), takes
  the chip count from the file, and range-checks nothing.

Assumed for newer samna builds (0.14 and later, not run here): they still have
``to_json``/``from_json`` with the same cereal conventions and field names (survey in
shared/samna-current.md, section 3), and cookies work as in 0.7.1.0. A newer build that
added required fields would refuse this file with "provided NVP (...) not found"; one that
added parameters would miss them. :func:`load_samna_json` accepts only the parameter names
and fields of samna 0.7.1.0 and names whatever differs.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from typing import IO, Any

import numpy as np

from dynapse2 import checks
from dynapse2.atomic import atomic_write
from dynapse2.errors import FileFormatError
from dynapse2.hardware import chip as C
from dynapse2.hardware import samna_json_tables as T
from dynapse2.hardware.config import (
    CHIP_PARAMETER_GROUPS,
    Chip,
    Configuration,
    Core,
    Parameter,
)
from dynapse2.hardware.masks import bits_mask, mask_bits, masks_of

__all__ = [
    "SAMNA_JSON_VERSION",
    "to_samna_json",
    "from_samna_json",
    "save_samna_json",
    "load_samna_json",
    "adopt_cookies",
]

SAMNA_JSON_VERSION: str = T.SAMNA_VERSION
"""The samna build whose JSON this module writes (and whose internal fields it tabulates)."""


# --- names --------------------------------------------------------------------------------
def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(p.capitalize() for p in rest)


_CORE_FLAG_KEYS: dict[str, str] = {name: _camel(name) for name in C.CORE_FLAGS}
_CHIP_FLAG_KEYS: dict[str, str] = {name: _camel(name) for name in C.CHIP_FLAGS}
_LATCH_KEYS: tuple[str, ...] = tuple(_camel("latch_" + name) for name in C.NEURON_LATCHES)
_SYNAPSE_KEYS = ("dendrite", "stp", "weight", "preciseDelay", "mismatchedDelay", "tag")
_DESTINATION_KEYS = ("core", "xHop", "yHop", "tag")
_GROUP_KEYS: dict[str, tuple[str, ...]] = {
    "global_parameters": ("globalParameters",),
    "shared_parameters01": ("sharedParameters01",),
    "shared_parameters23": ("sharedParameters23",),
    "sadc_group_parameters01": ("sadcGroupParameters01",),
    "sadc_group_parameters23": ("sadcGroupParameters23",),
    "bioamp_common_parameters": ("bioamps", "commonParameters"),
    "bioamp_channel_parameters": ("bioamps", "channelParameters"),
}
"""Our chip-level parameter group -> its path in samna's chip object."""
_TYPE_CODES: dict[str, int] = {t: ord(t) for t in C.PARAMETER_TYPES}  # "N" 78, "P" 80
_TYPE_NAMES: dict[int, str] = {v: k for k, v in _TYPE_CODES.items()}
_INITIAL_TYPE: dict[str, int] = {"N": 1, "P": 0}  # samna's ParameterType enum values

_N, _K, _S, _L = C.N_NEURONS_PER_CORE, C.N_CAM, C.N_SRAM, len(C.NEURON_LATCHES)
_PER_NEURON = _K * len(_SYNAPSE_KEYS) + _S * len(_DESTINATION_KEYS) + _L
"""Values written per neuron (a weight and a core mask count as one value each)."""


def _fixed(values: Sequence[Any]) -> dict[str, Any]:
    """A cereal fixed-size array: {"value0": ..., "value1": ...}."""
    return {f"value{i}": v for i, v in enumerate(values)}


# --- writing ------------------------------------------------------------------------------
_COOKIE = 0
"""``_cookie`` written for every core and parameter: samna draws the valid ones per process
(see the module docstring), so no fixed value is valid where the file is loaded."""
_PLACEHOLDER = "@@"
_NEURONS_MARK = "@@neurons@@"
_DVS_MARK = "@@dvs@@"
_MARKS = re.compile(r'"(@@neurons@@|@@dvs@@)"')
_NEURONS_INDENT = 24  # column of a core's "neurons" key: root, value0, chips, chip, cores, core
_BITS_INDENT = _NEURONS_INDENT + 16  # column of a synapse's "weight" / a destination's "core"
_DVS_INDENT = 16  # column of a chip's "dvsIf" key


def _indented(obj: Any, column: int) -> str:
    """``json.dumps(obj, indent=4)`` as it reads when its first line starts at ``column``."""
    return json.dumps(obj, indent=4).replace("\n", "\n" + " " * column)


def _reset_destination() -> dict[str, Any]:
    return {"core": _fixed([False] * C.N_CORES), "xHop": 0, "yHop": 0, "tag": C.RESET_TAG}


@lru_cache(maxsize=1)
def _neuron_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The text between the values of a core's 256 neurons, and the value texts.

    Returns ``(separators, int_text, bool_text, bits_text)``: ``separators`` has
    ``256 * _PER_NEURON + 1`` strings; a core's "neurons" object is separators interleaved
    with its values in document order. ``int_text[v + 8]`` is ``str(v)`` for ``v`` in
    -8..2047, ``bool_text`` is ``["false", "true"]``, ``bits_text[m]`` the 4-bit object of
    mask ``m`` as it appears at a weight's or core mask's position.
    """
    p = _PLACEHOLDER
    synapse = dict.fromkeys(_SYNAPSE_KEYS, p)
    destination = dict.fromkeys(_DESTINATION_KEYS, p)
    neuron = {
        "synapses": _fixed([synapse] * _K),
        "destinations": _fixed([destination] * _S),
        **dict.fromkeys(_LATCH_KEYS, p),
    }
    text = _indented(_fixed([neuron] * _N), _NEURONS_INDENT)
    separators = np.array(text.split(json.dumps(p)), dtype=object)
    assert separators.size == _N * _PER_NEURON + 1
    int_text = np.array([str(v) for v in range(-8, C.TAG_MAX + 1)], dtype=object)
    bool_text = np.array(["false", "true"], dtype=object)
    bits_text = np.array(
        [
            _indented(_fixed(mask_bits(m, C.N_WEIGHT_BITS)), _BITS_INDENT)
            for m in range(1 << C.N_WEIGHT_BITS)
        ],
        dtype=object,
    )
    return separators, int_text, bool_text, bits_text


@lru_cache(maxsize=1)
def _dvs_text() -> str:
    dvs = dict(T.DVS_IF)
    dvs["pixelDestinations"] = _fixed([_reset_destination()] * int(T.DVS_IF["pixelDestinations"]))
    return _indented(dvs, _DVS_INDENT)


def _neurons_text(core: Core) -> str:
    """The "neurons" object of ``core`` (validated), as samna writes it."""
    separators, int_text, bool_text, bits_text = _neuron_layout()

    def ints(a: np.ndarray) -> np.ndarray:
        return int_text[a.astype(np.intp) + 8]

    def bools(a: np.ndarray) -> np.ndarray:
        return bool_text[a.astype(np.intp)]

    syn = np.empty((_N, _K, len(_SYNAPSE_KEYS)), dtype=object)
    syn[..., 0] = ints(core.syn_dendrite)
    syn[..., 1] = bools(core.syn_stp)
    syn[..., 2] = bits_text[core.syn_weight.astype(np.intp)]
    syn[..., 3] = bools(core.syn_precise_delay)
    syn[..., 4] = bools(core.syn_mismatched_delay)
    syn[..., 5] = ints(core.syn_tag)
    dest = np.empty((_N, _S, len(_DESTINATION_KEYS)), dtype=object)
    dest[..., 0] = bits_text[core.dest_core.astype(np.intp)]
    dest[..., 1] = ints(core.dest_x_hop)
    dest[..., 2] = ints(core.dest_y_hop)
    dest[..., 3] = ints(core.dest_tag)
    values = np.concatenate(
        [syn.reshape(_N, -1), dest.reshape(_N, -1), bools(core.latches)], axis=1
    )
    out = np.empty(2 * values.size + 1, dtype=object)
    out[0::2] = separators
    out[1::2] = values.reshape(-1)
    return "".join(out.tolist())


def _parameter_list(
    params: Mapping[str, Parameter], table: Mapping[str, str], entries: tuple
) -> list[dict[str, Any]]:
    return [
        {
            "key": name,
            "value": {
                "type": _TYPE_CODES[params[name].type],
                "coarseValue": params[name].coarse,
                "fineValue": params[name].fine,
                "_address": address,
                "_cookie": _COOKIE,
                "_initialType": _INITIAL_TYPE[table[name]],
                "_switchableType": name in C.TYPE_SWITCHABLE_PARAMETERS,
            },
        }
        for name, address in entries
    ]


def _chip_skeleton(chip: Chip) -> dict[str, Any]:
    """samna's chip object, with a mark in place of each core's neurons and of dvsIf."""
    cores = []
    for i, core in enumerate(chip.cores):
        cores.append(
            {
                "neurons": _NEURONS_MARK,
                "neuronMonitoringOn": core.flags["neuron_monitoring_on"],
                "monitoredNeuron": core.monitored_neuron,
                "parameters": _parameter_list(
                    core.parameters, C.CORE_PARAMETERS, T.PARAMETERS["core_parameters"][i]
                ),
                "sadcEnables": dict(T.CORE_SADC_ENABLES),
                **{
                    _CORE_FLAG_KEYS[f]: core.flags[f]
                    for f in (
                        "enable_syaw_stdbuf_an",
                        "enable_pulse_extender_monitor1",
                        "enable_pulse_extender_monitor2",
                    )
                },
                "_id": T.CORE_IDS[i],
                "_cookie": _COOKIE,
            }
        )
    groups: dict[str, Any] = {}
    for attr, (table, count) in CHIP_PARAMETER_GROUPS.items():
        value = getattr(chip, attr)
        dicts = [value] if count is None else value
        lists = [
            _parameter_list(d, table, e) for d, e in zip(dicts, T.PARAMETERS[attr], strict=True)
        ]
        groups[attr] = lists[0] if count is None else _fixed(lists)
    return {
        "cores": _fixed(cores),
        "globalParameters": groups["global_parameters"],
        "sharedParameters01": groups["shared_parameters01"],
        "sharedParameters23": groups["shared_parameters23"],
        "sadcGroupParameters01": groups["sadc_group_parameters01"],
        "sadcGroupParameters23": groups["sadc_group_parameters23"],
        "sadcEnables": dict(T.CHIP_SADC_ENABLES),
        "dvsIf": _DVS_MARK,
        "bioamps": {
            "commonParameters": groups["bioamp_common_parameters"],
            "channelParameters": groups["bioamp_channel_parameters"],
            **T.BIOAMPS_SETTINGS,
        },
        **{_CHIP_FLAG_KEYS[f]: chip.flags[f] for f in C.CHIP_FLAGS},
    }


def _chunks(cfg: Configuration) -> Iterator[str]:
    """The document in pieces (``cfg`` already validated)."""
    skeleton = json.dumps({"value0": {"chips": [_chip_skeleton(c) for c in cfg.chips]}}, indent=4)
    cores = iter([core for chip in cfg.chips for core in chip.cores])
    for i, piece in enumerate(_MARKS.split(skeleton)):
        if i % 2 == 0:
            yield piece
        elif piece == _NEURONS_MARK:
            yield _neurons_text(next(cores))
        else:
            yield _dvs_text()


def to_samna_json(cfg: Configuration) -> str:
    """``cfg`` as samna 0.7.1.0's ``Dynapse2Configuration.to_json()`` text (about 52 MB per
    chip), for samna's ``Dynapse2Configuration().from_json(text)`` (then
    :func:`adopt_cookies`).

    Converted: every value ``to_samna`` converts (all parameters with their types, core and
    chip flags, ``monitored_neuron``, CAM synapses, SRAM destinations, latches). Written at
    samna's defaults: ``dvs_if``, the ``sadc_enables`` of chips and cores, the non-parameter
    bioamp settings. Not written: chip positions, the input/output maps, ``meta``.

    Raises:
        ValueError: ``cfg`` is invalid (naming chip, core, neuron and field).
    """
    if not isinstance(cfg, Configuration):
        raise ValueError(f"to_samna_json: expected a Configuration, got {type(cfg).__name__}")
    cfg.validate()
    return "".join(_chunks(cfg))


def save_samna_json(cfg: Configuration, path: str | os.PathLike[str]) -> None:
    """Write ``cfg`` to ``path`` as samna's JSON (:func:`to_samna_json`), atomically.

    ``cfg`` is validated before anything is written; the text is streamed into a temporary
    file in the same directory that replaces ``path`` only once complete, so a failure leaves
    no partial file and a previous file at ``path`` untouched. Load it beside the board with
    ``obj = samna.dynapse2.Dynapse2Configuration(); obj.from_json(open(path).read())``, then
    :func:`adopt_cookies` ``(obj)`` before ``apply_configuration`` (module docstring).

    Converted, and left at samna's defaults: as :func:`to_samna_json`.

    Raises:
        TypeError: ``cfg`` is not a Configuration, or ``path`` not a path.
        ValueError: ``cfg`` is not a valid Configuration (the message names ``path`` and
            where the configuration is wrong).
    """
    path = checks.path("save_samna_json", "path", path)
    if not isinstance(cfg, Configuration):
        raise TypeError(
            f"save_samna_json: cfg must be a Configuration, got {type(cfg).__name__} "
            f"({path} not written)"
        )
    try:
        cfg.validate()
    except ValueError as e:
        raise ValueError(f"{path}: not written: invalid configuration: {e}") from e

    def write(f: IO[str]) -> None:
        for chunk in _chunks(cfg):
            f.write(chunk)

    atomic_write(path, write)


# --- reading ------------------------------------------------------------------------------
class _Bad(Exception):
    """A structural problem at a JSON path (turned into a ValueError by the caller)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _get(node: Any, key: str, path: str) -> Any:
    if not isinstance(node, dict):
        raise _Bad(path, f"expected an object, got {_describe(node)}")
    if key not in node:
        raise _Bad(path, f"field {key!r} is missing")
    return node[key]


def _array(node: Any, n: int, path: str) -> list:
    """A cereal fixed-size array (an object value0..value{n-1}, or a list) of length ``n``."""
    values = list(node.values()) if isinstance(node, dict) else node
    if not isinstance(values, list):
        raise _Bad(path, f"expected an array of {n}, got {_describe(node)}")
    if len(values) != n:
        raise _Bad(path, f"expected {n} entries, got {len(values)}")
    return values


def _check_int(value: Any, path: str) -> int:
    if type(value) is not int:
        raise _Bad(path, f"expected an integer, got {_describe(value)}")
    return value


def _check_bool(value: Any, path: str) -> bool:
    if type(value) is not bool:
        raise _Bad(path, f"expected true or false, got {_describe(value)}")
    return value


def _mask_of(node: Any, n: int, path: str) -> int:
    bits = _array(node, n, path)
    return bits_mask([_check_bool(b, f"{path}.value{i}") for i, b in enumerate(bits)])


def _read_parameters(node: Any, table: Mapping[str, str], path: str) -> dict[str, Parameter]:
    if not isinstance(node, list):
        raise _Bad(path, f"expected a list of {{key, value}} parameters, got {_describe(node)}")
    out: dict[str, Parameter] = {}
    for i, entry in enumerate(node):
        where = f"{path}[{i}]"
        name = _get(entry, "key", where)
        if not isinstance(name, str) or name not in table:
            raise _Bad(where, f"unknown parameter {_describe(name)} for samna {T.SAMNA_VERSION}")
        if name in out:
            raise _Bad(where, f"parameter {name} appears twice")
        value = _get(entry, "value", where)
        where = f"{path}[{i}] ({name})"
        code = _check_int(_get(value, "type", where), f"{where}.type")
        if code not in _TYPE_NAMES:
            raise _Bad(f"{where}.type", f"{code} is not 78 ('N') or 80 ('P'), the transistor types")
        out[name] = Parameter(
            _check_int(_get(value, "coarseValue", where), f"{where}.coarseValue"),
            _check_int(_get(value, "fineValue", where), f"{where}.fineValue"),
            _TYPE_NAMES[code],
        )
    missing = [name for name in table if name not in out]
    if missing:
        raise _Bad(path, f"parameters missing: {', '.join(missing)}")
    return {name: out[name] for name in table}


def _int_array(values: list, where: Callable[[int], str]) -> np.ndarray:
    if set(map(type, values)) != {int}:
        i = next(i for i, v in enumerate(values) if type(v) is not int)
        raise _Bad(where(i), f"expected an integer, got {_describe(values[i])}")
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        i = next(i for i, v in enumerate(values) if not -(2**63) <= v < 2**63)
        raise _Bad(where(i), f"{values[i]} is outside any allowed range") from None


def _bool_array(values: list, where: Callable[[int], str]) -> np.ndarray:
    if set(map(type, values)) != {bool}:
        i = next(i for i, v in enumerate(values) if type(v) is not bool)
        raise _Bad(where(i), f"expected true or false, got {_describe(values[i])}")
    return np.array(values, dtype=bool)


def _seq(node: Any) -> Any:
    return list(node.values()) if type(node) is dict else node


def _read_neurons_fast(neurons: list, path: str) -> dict[str, np.ndarray]:
    """The per-neuron arrays of a core in one pass, flat (see _shape_arrays).

    Raises KeyError, TypeError or AttributeError where the structure is malformed (the
    caller then locates the problem), _Bad (with its path) for a value of the wrong type.
    """
    if {len(n["synapses"]) for n in neurons} != {_K}:
        raise TypeError("wrong number of synapses")
    if {len(n["destinations"]) for n in neurons} != {_S}:
        raise TypeError("wrong number of destinations")
    syn = [s for n in neurons for s in _seq(n["synapses"])]
    dest = [d for n in neurons for d in _seq(n["destinations"])]
    weights = [_seq(s["weight"]) for s in syn]
    cores = [_seq(d["core"]) for d in dest]
    if {len(w) for w in weights} != {C.N_WEIGHT_BITS} or {len(c) for c in cores} != {C.N_CORES}:
        raise TypeError("wrong number of weight or core bits")
    nb = C.N_WEIGHT_BITS

    def syn_at(field: str) -> Callable[[int], str]:
        return lambda i: f"{path}.neurons[{i // _K}].synapses[{i % _K}].{field}"

    def dest_at(field: str) -> Callable[[int], str]:
        return lambda i: f"{path}.neurons[{i // _S}].destinations[{i % _S}].{field}"

    def bit_at(what: str, per: int) -> Callable[[int], str]:
        return lambda i: f"{path}.neurons[{i // (per * nb)}].{what}[{i // nb % per}][{i % nb}]"

    w = _bool_array([b for x in weights for b in x], bit_at("synapses", _K))
    c = _bool_array([b for x in cores for b in x], bit_at("destinations", _S))
    latches = _bool_array(
        [n[k] for n in neurons for k in _LATCH_KEYS],
        lambda i: f"{path}.neurons[{i // _L}].{_LATCH_KEYS[i % _L]}",
    )
    return {
        "syn_dendrite": _int_array([s["dendrite"] for s in syn], syn_at("dendrite")),
        "syn_stp": _bool_array([s["stp"] for s in syn], syn_at("stp")),
        "syn_weight": masks_of(w.reshape(-1, nb)),
        "syn_precise_delay": _bool_array([s["preciseDelay"] for s in syn], syn_at("preciseDelay")),
        "syn_mismatched_delay": _bool_array(
            [s["mismatchedDelay"] for s in syn], syn_at("mismatchedDelay")
        ),
        "syn_tag": _int_array([s["tag"] for s in syn], syn_at("tag")),
        "dest_core": masks_of(c.reshape(-1, C.N_CORES)),
        "dest_x_hop": _int_array([d["xHop"] for d in dest], dest_at("xHop")),
        "dest_y_hop": _int_array([d["yHop"] for d in dest], dest_at("yHop")),
        "dest_tag": _int_array([d["tag"] for d in dest], dest_at("tag")),
        "latches": latches,
    }


def _shape_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    shapes = {"syn": (_N, _K), "des": (_N, _S), "lat": (_N, _L)}
    return {name: a.reshape(shapes[name[:3]]) for name, a in arrays.items()}


def _locate_neurons_problem(neurons: list, path: str) -> None:
    """Walk the neurons entry by entry and raise _Bad at the first malformed one."""
    for n, neuron in enumerate(neurons):
        at = f"{path}.neurons[{n}]"
        for k, s in enumerate(_array(_get(neuron, "synapses", at), _K, f"{at}.synapses")):
            sp = f"{at}.synapses[{k}]"
            for key in _SYNAPSE_KEYS:
                v = _get(s, key, sp)
                if key == "weight":
                    _mask_of(v, C.N_WEIGHT_BITS, f"{sp}.weight")
                elif key in ("dendrite", "tag"):
                    _check_int(v, f"{sp}.{key}")
                else:
                    _check_bool(v, f"{sp}.{key}")
        dests = _array(_get(neuron, "destinations", at), _S, f"{at}.destinations")
        for k, d in enumerate(dests):
            dp = f"{at}.destinations[{k}]"
            for key in _DESTINATION_KEYS:
                v = _get(d, key, dp)
                if key == "core":
                    _mask_of(v, C.N_CORES, f"{dp}.core")
                else:
                    _check_int(v, f"{dp}.{key}")
        for key in _LATCH_KEYS:
            _check_bool(_get(neuron, key, at), f"{at}.{key}")


def _read_core(node: Any, path: str) -> Core:
    neurons = _array(_get(node, "neurons", path), _N, f"{path}.neurons")
    try:
        arrays = _shape_arrays(_read_neurons_fast(neurons, path))
    except (KeyError, TypeError, AttributeError) as e:
        _locate_neurons_problem(neurons, path)
        raise _Bad(f"{path}.neurons", f"malformed ({e})") from None
    flags = {
        name: _check_bool(_get(node, key, path), f"{path}.{key}")
        for name, key in _CORE_FLAG_KEYS.items()
    }
    monitored = _check_int(_get(node, "monitoredNeuron", path), f"{path}.monitoredNeuron")
    params = _read_parameters(
        _get(node, "parameters", path), C.CORE_PARAMETERS, f"{path}.parameters"
    )
    return Core._unchecked(params, monitored, flags, arrays)


def _read_chip(node: Any, i: int, path: str) -> Chip:
    cores = _array(_get(node, "cores", path), C.N_CORES, f"{path}.cores")
    groups: dict[str, Any] = {}
    for attr, (table, count) in CHIP_PARAMETER_GROUPS.items():
        value, where = node, path
        for key in _GROUP_KEYS[attr]:
            value, where = _get(value, key, where), f"{where}.{key}"
        if count is None:
            groups[attr] = _read_parameters(value, table, where)
        else:
            groups[attr] = [
                _read_parameters(g, table, f"{where}[{j}]")
                for j, g in enumerate(_array(value, count, where))
            ]
    flags = {
        name: _check_bool(_get(node, key, path), f"{path}.{key}")
        for name, key in _CHIP_FLAG_KEYS.items()
    }
    ours = [_read_core(c, f"{path}.cores[{j}]") for j, c in enumerate(cores)]
    return Chip._unchecked(ours, (i, 0), flags, groups)


def _from_document(doc: Any) -> Configuration:
    shape = 'expected {"value0": {"chips": [...]}}'
    if not isinstance(doc, dict) or len(doc) != 1:
        raise ValueError(f"not a samna Dynapse2Configuration JSON ({shape})")
    ((root_key, root),) = doc.items()
    if not isinstance(root, dict) or "chips" not in root or not isinstance(root["chips"], list):
        raise ValueError(f"not a samna Dynapse2Configuration JSON ({shape})")
    if not root["chips"]:
        raise ValueError("samna Dynapse2Configuration JSON with no chips")
    try:
        chips = [_read_chip(c, i, f"{root_key}.chips[{i}]") for i, c in enumerate(root["chips"])]
    except _Bad as e:
        raise ValueError(f"not a samna {T.SAMNA_VERSION} Dynapse2Configuration JSON: {e}") from None
    try:
        return Configuration(chips)
    except ValueError as e:
        raise ValueError(f"samna configuration: {e}") from None


def from_samna_json(text: str | bytes) -> Configuration:
    """Read samna's ``Dynapse2Configuration.to_json()`` text (or :func:`to_samna_json`'s).

    Returns a validated Configuration with chip ``i`` at position ``(i, 0)`` and empty
    input/output maps (samna has neither), like ``from_samna``. Read: every value
    ``from_samna`` reads (all parameters with their types, core and chip flags,
    ``monitored_neuron``, CAM synapses, SRAM destinations, latches); ignored: ``dvsIf``,
    ``sadcEnables``, the non-parameter bioamp settings, and the internal fields
    (``_address``, ``_cookie``, ``_id``, ``_initialType``, ``_switchableType``).

    Raises:
        ValueError: not JSON, not a samna Dynapse2Configuration (naming the JSON path of what
            is missing or malformed), or a value the chip cannot hold (naming chip, core,
            neuron, entry and field).
    """
    if not isinstance(text, str | bytes | bytearray):
        raise TypeError(f"from_samna_json: text must be str or bytes, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("empty, not a samna Dynapse2Configuration JSON")
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"not valid JSON ({e})") from None
    except RecursionError:
        raise ValueError("not a samna Dynapse2Configuration JSON (nested too deeply)") from None
    return _from_document(doc)


def load_samna_json(path: str | os.PathLike[str]) -> Configuration:
    """Read a file of samna's JSON: written by samna's ``Dynapse2Configuration.to_json()``
    or by :func:`save_samna_json`. See :func:`from_samna_json`.

    Raises:
        FileFormatError: (a ``ValueError``) as :func:`from_samna_json`, the message starting
            with ``path``.
        OSError: the file cannot be read.
    """
    path = checks.path("load_samna_json", "path", path)  # an int would open a descriptor
    with open(path, "rb") as f:
        data = f.read()
    try:
        return from_samna_json(data)
    except ValueError as e:
        raise FileFormatError(path, str(e), _LOAD_HINT) from None
    except (TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # the reader names what it checks; anything it missed is still this file's fault
        raise FileFormatError(
            path, f"not a samna Dynapse2Configuration JSON ({type(e).__name__}: {e})", _LOAD_HINT
        ) from None


_LOAD_HINT = "write it with samna's to_json or dynapse2's save_samna_json"


# --- beside the board ---------------------------------------------------------------------
def _parameter_maps(schip: Any, index: int | None) -> list[Any]:
    """samna's parameter maps of a chip (``index`` None) or of its core ``index``."""
    if index is not None:
        return [schip.cores[index].parameters]
    bioamps = schip.bioamps
    return [
        schip.global_parameters,
        schip.shared_parameters01,
        schip.shared_parameters23,
        *schip.sadc_group_parameters01,
        *schip.sadc_group_parameters23,
        bioamps.common_parameters,
        *bioamps.channel_parameters,
    ]


def adopt_cookies(obj: Any) -> Any:
    """Give a samna ``Dynapse2Configuration`` this process's cookies; returns ``obj``.

    Needed after ``obj.from_json(text)`` of a JSON written by another process (by
    :func:`save_samna_json`, or by samna's own ``to_json`` elsewhere): samna 0.7.1.0 refuses
    to apply a configuration whose cookies are not its own (see the module docstring). The
    cookies are copied from a fresh ``Dynapse2Chip`` made with the type of ``obj``'s chips;
    nothing else changes. Runs where samna is (this module does not import it).

    Raises:
        ValueError: a core or parameter of ``obj`` that a fresh chip does not have.
    """
    chips = list(obj.chips)  # elements are references into obj (obj stays referenced here)
    for ci, schip in enumerate(chips):
        ref = type(schip)()
        for co, (core, rcore) in enumerate(zip(schip.cores, ref.cores, strict=True)):
            core._cookie = rcore._cookie
            for m, rm in zip(_parameter_maps(schip, co), _parameter_maps(ref, co), strict=True):
                _copy_cookies(m, rm, f"chip {ci}, core {co}")
        for m, rm in zip(_parameter_maps(schip, None), _parameter_maps(ref, None), strict=True):
            _copy_cookies(m, rm, f"chip {ci}")
    return obj


def _copy_cookies(target: Any, reference: Any, where: str) -> None:
    for name, p in target.items():
        if name not in reference:
            raise ValueError(f"{where}: parameter {name!r} is not in a fresh samna chip")
        p._cookie = reference[name]._cookie
