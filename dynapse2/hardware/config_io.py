"""JSON and files for :class:`~dynapse2.hardware.config.Configuration`.

Called by its methods (``cfg.to_json()``, ``cfg.save(path)``, ``Configuration.from_json``,
``Configuration.load``); it reads and writes the parts of :mod:`~dynapse2.hardware.config_tree`
and is handed the class to build (``cls``), so that it does not import the module that
imports it.

Format (``"format": "dynapse2.configuration"``, ``"version": 1``): only what differs from
the reset state (samna 0.7.1.0's ``Dynapse2Configuration()``: every value 0/False, every
parameter coarse 0 / fine 0 with its table's transistor type) is written::

    {"format": ..., "version": 1, "meta": {...},
     "chips": [{"position": [x, y],
                "flags": [names that are true],
                "parameters": {group: {name: [coarse, fine(, type)]}          # dict groups
                               group: {"<i>": {name: [coarse, fine(, type)]}}},  # list groups
                "cores": {"<i>": {"parameters": {name: [coarse, fine(, type)]},
                                  "monitored_neuron": n, "flags": [names],
                                  "synapses": {"index": [...], "tag": [...], ...},
                                  "destinations": {"index": [...], ...},
                                  "latches": {name: [neurons]}}}}],
     "input_map": {"<channel>": [[chip, tag, core_mask, x_hop, y_hop], ...]},
     "output_map": {"<channel>": [chip, core, neuron, tag]}}

Synapse and destination tables are columns over the entries that differ from reset;
``index`` is ``neuron * 64 + synapse`` (``neuron * 4 + destination``); a column that
is zero for all those entries is left out. The type is written
only where it differs from the table's. Empty sections are left out. Reading checks the
structure strictly and validates every value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np

from dynapse2 import checks
from dynapse2.atomic import atomic_write
from dynapse2.errors import FileFormatError
from dynapse2.hardware import chip as C
from dynapse2.hardware.config_tree import (
    _ARRAY_FIELDS,
    CHIP_PARAMETER_GROUPS,
    DESTINATION_FIELDS,
    SYNAPSE_FIELDS,
    Chip,
    Core,
    InputRoute,
    OutputRoute,
    Parameter,
)

C_ = TypeVar("C_")  # the class the caller builds: Configuration


class _Tree(Protocol):
    """What the writer reads of a :class:`~dynapse2.hardware.config.Configuration`."""

    chips: list[Chip]
    input_map: dict[int, tuple[InputRoute, ...]]
    output_map: dict[int, OutputRoute]
    meta: dict[str, Any]

    def validate(self) -> None: ...


__all__ = ["FORMAT", "VERSION", "to_json", "from_json", "save", "load", "to_dict", "from_dict"]

FORMAT = "dynapse2.configuration"
VERSION = 1


# --- writing ------------------------------------------------------------------------------
def _params_diff(params: dict[str, Parameter], table: dict[str, str]) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, p in params.items():
        if p.coarse or p.fine or p.type != table[name]:
            out[name] = [p.coarse, p.fine] + ([p.type] if p.type != table[name] else [])
    return out


def _table_diff(core: Core, fields: tuple[str, ...]) -> dict[str, list]:
    arrays = [getattr(core, f).reshape(-1) for f in fields]
    changed = np.zeros(arrays[0].shape, bool)
    for a in arrays:
        changed |= a != 0
    idx = np.flatnonzero(changed)
    if idx.size == 0:
        return {}
    out = {"index": idx.tolist()}
    for f, a in zip(fields, arrays, strict=True):
        col = a[idx]
        if col.any():  # an all-zero column is left out
            out[f.split("_", 1)[1]] = col.astype(np.int64).tolist()
    return out


def _core_dict(core: Core) -> dict[str, Any]:
    d: dict[str, Any] = {}
    p = _params_diff(core.parameters, C.CORE_PARAMETERS)
    if p:
        d["parameters"] = p
    if core.monitored_neuron:
        d["monitored_neuron"] = core.monitored_neuron
    flags = [n for n, v in core.flags.items() if v]
    if flags:
        d["flags"] = flags
    syn = _table_diff(core, SYNAPSE_FIELDS)
    if syn:
        d["synapses"] = syn
    dest = _table_diff(core, DESTINATION_FIELDS)
    if dest:
        d["destinations"] = dest
    latches = {
        name: np.flatnonzero(core.latches[:, j]).tolist()
        for j, name in enumerate(C.NEURON_LATCHES)
        if core.latches[:, j].any()
    }
    if latches:
        d["latches"] = latches
    return d


def _chip_dict(chip: Chip) -> dict[str, Any]:
    d: dict[str, Any] = {"position": list(chip.position)}
    flags = [n for n, v in chip.flags.items() if v]
    if flags:
        d["flags"] = flags
    groups: dict[str, Any] = {}
    for attr, (table, count) in CHIP_PARAMETER_GROUPS.items():
        value = getattr(chip, attr)
        if count is None:
            diff = _params_diff(value, table)
        else:
            diff = {str(i): x for i, g in enumerate(value) if (x := _params_diff(g, table))}
        if diff:
            groups[attr] = diff
    if groups:
        d["parameters"] = groups
    cores = {str(i): x for i, core in enumerate(chip.cores) if (x := _core_dict(core))}
    if cores:
        d["cores"] = cores
    return d


def to_dict(cfg: _Tree) -> dict[str, Any]:
    """The JSON document of ``cfg`` as Python objects (validates ``cfg`` first)."""
    cfg.validate()
    d: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if cfg.meta:
        d["meta"] = cfg.meta
    d["chips"] = [_chip_dict(chip) for chip in cfg.chips]
    if cfg.input_map:
        d["input_map"] = {
            str(ch): [[r.chip, r.tag, r.core_mask, r.x_hop, r.y_hop] for r in routes]
            for ch, routes in cfg.input_map.items()
        }
    if cfg.output_map:
        d["output_map"] = {
            str(ch): [r.chip, r.core, r.neuron, r.tag] for ch, r in cfg.output_map.items()
        }
    return d


def to_json(cfg: _Tree) -> str:
    """Compact, lossless JSON of ``cfg`` (only the differences from the reset state)."""
    return json.dumps(_strict(to_dict(cfg)), separators=(",", ":"), allow_nan=False)


# --- reading ------------------------------------------------------------------------------
def _fail(where: str, msg: str) -> ValueError:
    return ValueError(f"JSON {where}: {msg}")


def _record(where: str, cls: type, *fields: Any) -> Any:
    """``cls(*fields)`` (a Parameter or a route), its type error located at ``where``."""
    try:
        return cls(*fields)
    except TypeError as e:
        raise _fail(where, str(e)) from None


def _obj(where: str, value: Any, allowed: set[str] | None = None) -> dict:
    if not isinstance(value, dict):
        raise _fail(where, f"expected an object, got {type(value).__name__}")
    if allowed is not None and set(value) - allowed:
        raise _fail(
            where, f"unknown keys {sorted(set(value) - allowed)}; allowed {sorted(allowed)}"
        )
    return value


def _list(where: str, value: Any, length: int | None = None) -> list:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise _fail(where, f"expected {length} items, got {len(value)}")
    return value


def _index(where: str, key: str, n: int) -> int:
    if not key.isdigit() or int(key) >= n or str(int(key)) != key:
        raise _fail(where, f"index {key!r} is not in 0..{n - 1}")
    return int(key)


def _params_from(where: str, value: Any, table: dict[str, str]) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    for name, v in _obj(where, value).items():
        if name not in table:
            raise _fail(where, f"unknown parameter name {name!r}")
        v = _list(f"{where}.{name}", v)
        if len(v) not in (2, 3):
            raise _fail(f"{where}.{name}", "expected [coarse, fine] or [coarse, fine, type]")
        out[name] = _record(
            f"{where}.{name}", Parameter, v[0], v[1], v[2] if len(v) == 3 else table[name]
        )
    return out


def _table_into(where: str, value: Any, core: Core, fields: tuple[str, ...], width: int):
    keys = {f.split("_", 1)[1]: f for f in fields}
    d = _obj(where, value, {"index", *keys})
    if "index" not in d:
        raise _fail(where, "missing 'index'")
    idx = np.asarray(_list(f"{where}.index", d["index"]))
    n = idx.size
    size = C.N_NEURONS_PER_CORE * width
    if idx.dtype.kind not in "iu" and n:
        raise _fail(f"{where}.index", "must hold integers")
    if n and (idx.min() < 0 or idx.max() >= size or np.unique(idx).size != n):
        raise _fail(f"{where}.index", f"indices must be distinct and in 0..{size - 1}")
    for short, field in keys.items():
        if short not in d:
            continue
        col = np.asarray(_list(f"{where}.{short}", d[short], n))
        if n and col.dtype.kind not in "iub":
            raise _fail(f"{where}.{short}", "must hold integers")
        _shape, _dtype, lo, hi, _ = _ARRAY_FIELDS[field]
        # Range-check before writing into a narrow dtype; core.validate() does the rest.
        if n and (col.min() < lo or col.max() > hi) and field != "syn_dendrite":
            bad = int(np.argmax((col < lo) | (col > hi)))
            neuron, entry = divmod(int(idx[bad]), width)
            raise _fail(
                where,
                f"neuron {neuron}, entry {entry}: {short} = {int(col[bad])} is outside the "
                f"allowed range {lo}..{hi}",
            )
        if field == "syn_dendrite" and n and (col.min() < 0 or col.max() > 2**31 - 1):
            raise _fail(f"{where}.{short}", "dendrite code out of range")
        arr = getattr(core, field)
        if field == "syn_dendrite":
            arr = arr.astype(np.int64)
        arr.reshape(-1)[idx] = col
        setattr(core, field, arr)


def _flags_from(where: str, value: Any) -> dict[str, bool]:
    names = _list(where, value)
    if not all(isinstance(n, str) for n in names):
        raise _fail(where, "flags must be a list of names")
    return {n: True for n in names}


def _core_from(where: str, value: Any) -> Core:
    d = _obj(
        where,
        value,
        {"parameters", "monitored_neuron", "flags", "synapses", "destinations", "latches"},
    )
    core = Core._unchecked(
        _params_from(f"{where}.parameters", d.get("parameters", {}), C.CORE_PARAMETERS),
        d.get("monitored_neuron", 0),
        _flags_from(f"{where}.flags", d.get("flags", [])),
        {},
    )
    if "synapses" in d:
        _table_into(f"{where}.synapses", d["synapses"], core, SYNAPSE_FIELDS, C.N_CAM)
    if "destinations" in d:
        _table_into(f"{where}.destinations", d["destinations"], core, DESTINATION_FIELDS, C.N_SRAM)
    for name, neurons in _obj(f"{where}.latches", d.get("latches", {})).items():
        if name not in C.NEURON_LATCHES:
            raise _fail(f"{where}.latches", f"unknown latch {name!r}; known {C.NEURON_LATCHES}")
        idx = np.asarray(_list(f"{where}.latches.{name}", neurons), dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= C.N_NEURONS_PER_CORE):
            raise _fail(
                f"{where}.latches.{name}", f"neurons must be in 0..{C.N_NEURONS_PER_CORE - 1}"
            )
        core.latches[idx, C.NEURON_LATCHES.index(name)] = True
    return core


def _chip_from(where: str, value: Any) -> Chip:
    d = _obj(where, value, {"position", "flags", "parameters", "cores"})
    if "position" not in d:
        raise _fail(where, "missing 'position'")
    cores = [Core._unchecked({}, 0, {}, {}) for _ in range(C.N_CORES)]
    for key, cd in _obj(f"{where}.cores", d.get("cores", {})).items():
        cores[_index(f"{where}.cores", key, C.N_CORES)] = _core_from(f"{where}.cores.{key}", cd)
    groups: dict[str, Any] = {}
    pd = _obj(f"{where}.parameters", d.get("parameters", {}), set(CHIP_PARAMETER_GROUPS))
    for attr, gv in pd.items():
        table, count = CHIP_PARAMETER_GROUPS[attr]
        gw = f"{where}.parameters.{attr}"
        if count is None:
            groups[attr] = _params_from(gw, gv, table)
        else:
            lst: list[dict[str, Parameter]] = [{} for _ in range(count)]
            for key, sub in _obj(gw, gv).items():
                lst[_index(gw, key, count)] = _params_from(f"{gw}.{key}", sub, table)
            groups[attr] = lst
    flags = _flags_from(f"{where}.flags", d.get("flags", []))
    position = tuple(_list(f"{where}.position", d["position"], 2))
    # Validated with the whole Configuration, so errors name "chip i, core j, ...".
    return Chip._unchecked(cores, position, flags, groups)


def from_dict(d: Any, cls: Callable[..., C_]) -> C_:
    """Build and validate a ``cls`` (:class:`~dynapse2.hardware.config.Configuration`) from
    :func:`to_dict`'s document."""
    d = _obj("document", d, {"format", "version", "meta", "chips", "input_map", "output_map"})
    if d.get("format") != FORMAT:
        raise _fail("document", f"format = {d.get('format')!r}, expected {FORMAT!r}")
    if d.get("version") != VERSION:
        raise _fail(
            "document", f"version = {d.get('version')!r}; this reader knows version {VERSION}"
        )
    chips = [_chip_from(f"chips[{i}]", c) for i, c in enumerate(_list("chips", d.get("chips")))]
    input_map: dict[int, tuple[InputRoute, ...]] = {}
    for key, routes in _obj("input_map", d.get("input_map", {})).items():
        ch = _index("input_map", key, 2**31)
        rs = []
        for r in _list(f"input_map.{key}", routes):
            rs.append(_record(f"input_map.{key}[]", InputRoute, *_list(f"input_map.{key}[]", r, 5)))
        input_map[ch] = tuple(rs)
    output_map: dict[int, OutputRoute] = {}
    for key, r in _obj("output_map", d.get("output_map", {})).items():
        output_map[_index("output_map", key, 2**31)] = _record(
            f"output_map.{key}", OutputRoute, *_list(f"output_map.{key}", r, 4)
        )
    meta = _obj("meta", d.get("meta", {}))
    return cls(chips, input_map=input_map, output_map=output_map, meta=meta)


def _not_strict(name: str) -> Any:
    raise ValueError(f"JSON: {name} is not strict JSON (write numbers, or null)")


def from_json(text: str | bytes, cls: Callable[..., C_]) -> C_:
    """Parse and validate JSON written by :func:`to_json` into a ``cls``
    (:class:`~dynapse2.hardware.config.Configuration`).

    Raises:
        ValueError: malformed JSON, unknown keys, wrong format/version, or any value
            outside the chip's limits (naming where).
        TypeError: ``text`` is not a ``str`` or ``bytes``.
    """
    if not isinstance(text, str | bytes | bytearray):
        raise TypeError(
            f"Configuration.from_json: text must be str or bytes, got {type(text).__name__}"
        )
    try:
        d = json.loads(text, parse_constant=_not_strict)
    except json.JSONDecodeError as e:
        raise ValueError(f"JSON: not valid JSON ({e})") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"JSON: not UTF-8 text ({e})") from e
    except RecursionError as e:
        raise ValueError("JSON: nested too deeply to be a configuration") from e
    try:
        return from_dict(d, cls)
    except RecursionError as e:
        raise ValueError("JSON: nested too deeply to be a configuration") from e
    except (TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
        raise ValueError(f"JSON: not a configuration document ({type(e).__name__}: {e})") from e


# --- files --------------------------------------------------------------------------------
def _strict(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc``, after checking that its metadata is strict JSON (no NaN or infinity)."""
    try:
        json.dumps(doc.get("meta", {}), allow_nan=False)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"configuration meta: {e}; meta must be strict JSON (no NaN, infinity or "
            "non-JSON objects)"
        ) from None
    return doc


def save(cfg: _Tree, path: str | os.PathLike) -> None:
    """Write ``cfg`` as JSON to ``path`` atomically (:func:`dynapse2.atomic.atomic_write`: a
    failure leaves a previous file at ``path`` untouched and no partial file)."""
    path = checks.path("Configuration.save", "path", path)
    doc = _strict(to_dict(cfg))

    def write(f) -> None:
        for chunk in json.JSONEncoder(separators=(",", ":"), allow_nan=False).iterencode(doc):
            f.write(chunk)

    atomic_write(path, write)


def load(path: str | os.PathLike, cls: Callable[..., C_]) -> C_:
    """Read and validate a configuration written by :func:`save` into a ``cls``
    (:class:`~dynapse2.hardware.config.Configuration`).

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: anything else wrong with its content (a ``ValueError``).
    """
    path = checks.path("Configuration.load", "path", path)  # an int would open a descriptor
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise FileFormatError(path, "empty file", "was the save interrupted? save it again")
    try:
        return from_json(data, cls)
    except ValueError as e:
        raise FileFormatError(
            path, f"not a valid dynapse2 configuration: {e}", "write it with Configuration.save"
        ) from e
