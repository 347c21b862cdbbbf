"""The samna backend: the only module of the package that imports samna, always lazily.

- :func:`samna_status` tells, without importing samna, whether it is missing, a bootstrapper
  (every samna >= 0.9 on PyPI is a ~7 kB package that downloads the real binary from the
  vendor's index at import time, and hangs where that index is unreachable) or a real build
  (0.3.8 .. 0.7.1.0 on PyPI, CPython <= 3.10, with a compiled extension).
- :func:`to_samna` / :func:`from_samna` convert a :class:`~dynapse2.hardware.config.Configuration`
  to and from ``samna.dynapse2.Dynapse2Configuration``, value by value.
- the board itself is opened by :func:`~dynapse2.hardware.device.open_device` with the
  adapter of the installed samna's generation (:mod:`dynapse2.hardware.samna_current` for
  samna 0.14 and later), which imports this module (never the other way round).

Multi-chip: our ``Configuration.chips[i]`` is samna's ``Dynapse2Configuration.chips[i]``
(the board's chip order). samna 0.7.1.0's ``Dynapse2Configuration()`` holds one chip; more
are appended as default ``Dynapse2Chip()`` objects (``obj.chips = [...]``, since
``obj.chips`` returns a new list each time). Applied to a board, the configuration is written
into the board's own ``model.get_configuration()``, which has the board's chip count.
Chip positions and the input/output maps are ours only: ``from_samna`` gives positions
``(i, 0)`` and empty maps.

Not converted (left at samna's defaults): ``Dynapse2Chip.dvs_if``, the ``sadc_enables`` of
chips and cores, and the non-parameter bioamp settings (``gain``, ``route``, monitors,
``separate_parameters``, ``param_gen2_powerdown``).

samna facts relied on (0.7.1.0): child objects returned by attribute access are references
into their parent, but they do not keep the parent alive (using a child of a dropped
``Dynapse2Configuration`` crashes the interpreter), so every parent is kept referenced here.
``Dynapse2Synapse.dendrite`` is a ``Dendrite`` enum (``Dendrite(code)``), ``weight`` and
``Dynapse2Destination.core`` are lists of 4 bools, ``Dynapse2Parameter.type`` is "N"/"P".
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import (
    CHIP_PARAMETER_GROUPS,
    Chip,
    Configuration,
    Core,
    Parameter,
)
from dynapse2.hardware.config_diff import Changes
from dynapse2.hardware.masks import bits_mask, mask_bits

__all__ = [
    "SUPPORTED_SAMNA_VERSION",
    "SamnaStatus",
    "HardwareUnavailableError",
    "samna_status",
    "to_samna",
    "from_samna",
]

SUPPORTED_SAMNA_VERSION = "0.7.1.0"
"""The samna build the conversion is tested against."""

_INSTALL_HINT = (
    f"install the real samna build: `pip install samna=={SUPPORTED_SAMNA_VERSION}` in a "
    "Python 3.10 environment (the last real build on PyPI), or the vendor's samna from its "
    "own package index"
)


@dataclass(frozen=True)
class SamnaStatus:
    """What :func:`samna_status` found.

    Attributes:
        kind: ``"missing"``, ``"bootstrapper"`` or ``"real"``.
        version: the installed distribution's version, if known.
        detail: one sentence for humans.
    """

    kind: str
    version: str | None
    detail: str

    def __str__(self) -> str:
        return self.kind


class HardwareUnavailableError(RuntimeError):
    """No board can be used: samna is missing, is a bootstrapper, or no board was found.

    Attributes:
        reason: ``"missing"``, ``"bootstrapper"`` or ``"no-board"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _is_extension(name: str) -> bool:
    return name.endswith((".so", ".pyd")) or ".cpython-" in name


def samna_status() -> SamnaStatus:
    """Detect samna WITHOUT importing it (a bootstrapper's import would hang).

    Looks at the installed distribution (``importlib.metadata``): a real build ships a
    compiled extension module; a bootstrapper is a few kB of Python with version >= 0.9.
    """
    try:
        dist = importlib.metadata.distribution("samna")
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is None:
        spec = importlib.util.find_spec("samna")
        if spec is None:
            return SamnaStatus("missing", None, "samna is not installed")
        locations = list(spec.submodule_search_locations or [])
        files = [f for loc in locations if os.path.isdir(loc) for f in os.listdir(loc)]
        if spec.origin and _is_extension(spec.origin) or any(_is_extension(f) for f in files):
            return SamnaStatus("real", None, "samna found (no package metadata) with an extension")
        return SamnaStatus(
            "bootstrapper", None, "samna found without package metadata or compiled extension"
        )
    version = dist.version
    files = [str(f) for f in (dist.files or [])]
    has_ext = any(_is_extension(os.path.basename(f)) for f in files if f.startswith("samna"))
    if has_ext:
        return SamnaStatus("real", version, f"samna {version}, a real build")
    why = "version >= 0.9" if _version_tuple(version) >= (0, 9) else "no compiled extension"
    return SamnaStatus(
        "bootstrapper",
        version,
        f"samna {version} is a bootstrapper ({why}): importing it downloads the real binary "
        "from the vendor's index",
    )


def _require_samna() -> Any:
    """Import samna after checking it is a real build; raise HardwareUnavailableError if not."""
    status = samna_status()
    if status.kind == "missing":
        raise HardwareUnavailableError("missing", f"samna is not installed; {_INSTALL_HINT}.")
    if status.kind == "bootstrapper":
        raise HardwareUnavailableError(
            "bootstrapper",
            f"{status.detail}, which is not reachable from here, so it is not imported; "
            f"{_INSTALL_HINT}.",
        )
    # The one place samna is imported (optional: absent where the package is type-checked).
    import samna  # noqa: PLC0415  # pyright: ignore[reportMissingImports]

    return samna


# --- configuration conversion -------------------------------------------------------------
def _write_params(target: Any, params: dict[str, Parameter]) -> None:
    for name, p in params.items():
        sp = target[name]
        sp.coarse_value = p.coarse
        sp.fine_value = p.fine
        if sp.type != p.type:
            sp.type = p.type


def _read_params(source: Any) -> dict[str, Parameter]:
    return {
        name: Parameter(int(sp.coarse_value), int(sp.fine_value), str(sp.type))
        for name, sp in source.items()
    }


def _chip_groups(schip: Any) -> dict[str, Any]:
    """samna's objects behind our chip-level parameter groups."""
    bioamps = schip.bioamps
    return {
        "global_parameters": schip.global_parameters,
        "shared_parameters01": schip.shared_parameters01,
        "shared_parameters23": schip.shared_parameters23,
        "sadc_group_parameters01": schip.sadc_group_parameters01,
        "sadc_group_parameters23": schip.sadc_group_parameters23,
        "bioamp_common_parameters": bioamps.common_parameters,
        "bioamp_channel_parameters": bioamps.channel_parameters,
        "_keepalive": bioamps,
    }


def _write_core(score: Any, core: Core, dendrite: Any, neurons: Any = None) -> None:
    """Write ``core`` into samna's core ``score``: its parameters and settings, and the CAM,
    SRAM and latches of ``neurons`` (indices; default all)."""
    _write_params(score.parameters, core.parameters)
    score.monitored_neuron = core.monitored_neuron
    for name, value in core.flags.items():
        setattr(score, name, value)
    tag, dend, weight = core.syn_tag.tolist(), core.syn_dendrite.tolist(), core.syn_weight.tolist()
    stp, pd, md = (
        core.syn_stp.tolist(),
        core.syn_precise_delay.tolist(),
        core.syn_mismatched_delay.tolist(),
    )
    dtag, dcore = core.dest_tag.tolist(), core.dest_core.tolist()
    dx, dy = core.dest_x_hop.tolist(), core.dest_y_hop.tolist()
    latches = core.latches.tolist()
    enums = {code: dendrite(code) for code in C.DENDRITE_CODES.values()}
    weight_bits = [list(mask_bits(m, C.N_WEIGHT_BITS)) for m in range(1 << C.N_WEIGHT_BITS)]
    core_bits = [list(mask_bits(m, C.N_CORES)) for m in range(1 << C.N_CORES)]
    latch_attrs = [f"latch_{name}" for name in C.NEURON_LATCHES]
    sneurons = score.neurons
    for n in range(len(sneurons)) if neurons is None else neurons.tolist():
        sn = sneurons[n]
        for k, ss in enumerate(sn.synapses):
            ss.tag = tag[n][k]
            ss.dendrite = enums[dend[n][k]]
            ss.weight = weight_bits[weight[n][k]]
            ss.stp = stp[n][k]
            ss.precise_delay = pd[n][k]
            ss.mismatched_delay = md[n][k]
        for k, sd in enumerate(sn.destinations):
            sd.tag = dtag[n][k]
            sd.core = core_bits[dcore[n][k]]
            sd.x_hop = dx[n][k]
            sd.y_hop = dy[n][k]
        for attr, value in zip(latch_attrs, latches[n], strict=True):
            setattr(sn, attr, value)


def _read_core(score: Any) -> Core:
    shape_s = (C.N_NEURONS_PER_CORE, C.N_CAM)
    shape_d = (C.N_NEURONS_PER_CORE, C.N_SRAM)
    syn = {f: np.zeros(shape_s, np.int64) for f in ("tag", "dend", "w", "stp", "pd", "md")}
    dest = {f: np.zeros(shape_d, np.int64) for f in ("tag", "core", "x", "y")}
    latches = np.zeros((C.N_NEURONS_PER_CORE, len(C.NEURON_LATCHES)), bool)
    latch_attrs = [f"latch_{name}" for name in C.NEURON_LATCHES]
    neurons = score.neurons
    if len(neurons) != C.N_NEURONS_PER_CORE:
        raise ValueError(f"samna core has {len(neurons)} neurons, expected {C.N_NEURONS_PER_CORE}")
    for n, sn in enumerate(neurons):
        rows = [
            (
                s.tag,
                int(s.dendrite),
                bits_mask(s.weight),
                s.stp,
                s.precise_delay,
                s.mismatched_delay,
            )
            for s in sn.synapses
        ]
        if len(rows) != C.N_CAM:
            raise ValueError(f"samna neuron {n} has {len(rows)} synapses, expected {C.N_CAM}")
        cols = list(zip(*rows, strict=True))
        for key, col in zip(syn, cols, strict=True):
            syn[key][n] = col
        drows = [(d.tag, bits_mask(d.core), d.x_hop, d.y_hop) for d in sn.destinations]
        if len(drows) != C.N_SRAM:
            raise ValueError(f"samna neuron {n} has {len(drows)} destinations, expected {C.N_SRAM}")
        for key, col in zip(dest, zip(*drows, strict=True), strict=True):
            dest[key][n] = col
        latches[n] = [getattr(sn, a) for a in latch_attrs]
    # Validated with the whole Configuration: samna range-checks nothing, so out-of-range
    # values surface there, named by chip, core, neuron and entry.
    return Core._unchecked(
        _read_params(score.parameters),
        int(score.monitored_neuron),
        {name: bool(getattr(score, name)) for name in C.CORE_FLAGS},
        dict(
            syn_tag=syn["tag"],
            syn_dendrite=syn["dend"],
            syn_weight=syn["w"],
            syn_stp=syn["stp"].astype(bool),
            syn_precise_delay=syn["pd"].astype(bool),
            syn_mismatched_delay=syn["md"].astype(bool),
            dest_tag=dest["tag"],
            dest_core=dest["core"],
            dest_x_hop=dest["x"],
            dest_y_hop=dest["y"],
            latches=latches,
        ),
    )


def to_samna(cfg: Configuration, base: Any = None, changed: Changes | None = None) -> Any:
    """Convert ``cfg`` to a ``samna.dynapse2.Dynapse2Configuration``, value by value.

    Args:
        cfg: the configuration (validated first).
        base: a samna configuration to write into (e.g. a board's
            ``model.get_configuration()``); it must have ``len(cfg.chips)`` chips. Default: a
            new ``Dynapse2Configuration()`` with default chips appended up to
            ``len(cfg.chips)``.
        changed: with ``base`` holding a configuration ``old``, ``changes(old, cfg)``
            (:func:`~dynapse2.hardware.config_diff.changes`): only the chips, cores and
            neurons that differ are written (incremental update).

    Returns:
        The samna configuration (``base`` itself when given).

    Raises:
        HardwareUnavailableError: samna is missing or a bootstrapper.
        TypeError: ``cfg`` is not a Configuration, or ``changed`` not a ``Changes`` (checked
            before samna is imported).
        ValueError: ``cfg`` is invalid, or ``base`` has another chip count.
    """
    if not isinstance(cfg, Configuration):
        raise TypeError(f"to_samna: cfg must be a Configuration, got {type(cfg).__name__}")
    if changed is not None and not isinstance(changed, Changes):
        raise TypeError(
            f"to_samna: changed must be a Changes (dynapse2.hardware.changes(old, new)) or "
            f"None, got {type(changed).__name__}"
        )
    if isinstance(base, Configuration):
        raise TypeError(
            "to_samna: base must be a samna Dynapse2Configuration (e.g. a board's "
            "model.get_configuration()) or None, got a dynapse2 Configuration"
        )
    cfg.validate()
    samna = _require_samna()
    d = samna.dynapse2
    obj = d.Dynapse2Configuration() if base is None else base
    schips = list(obj.chips)
    if base is None and len(schips) < len(cfg.chips):
        obj.chips = schips + [d.Dynapse2Chip() for _ in range(len(cfg.chips) - len(schips))]
        schips = list(obj.chips)
    if len(schips) != len(cfg.chips):
        raise ValueError(
            f"samna configuration has {len(schips)} chips, the configuration {len(cfg.chips)}"
        )
    if changed is not None and (changed.layout or base is None):
        raise ValueError(
            "to_samna: changed= updates a base configuration of the same layout; got "
            + ("no base" if base is None else "a change of layout (chip count or positions)")
        )
    for ci, (chip, schip) in enumerate(zip(cfg.chips, schips, strict=True)):
        if changed is None or ci in changed.chips:
            groups = _chip_groups(schip)
            for attr, (_table, count) in CHIP_PARAMETER_GROUPS.items():
                ours = getattr(chip, attr)
                if count is None:
                    _write_params(groups[attr], ours)
                else:
                    for target, params in zip(groups[attr], ours, strict=True):
                        _write_params(target, params)
            for name, value in chip.flags.items():
                setattr(schip, name, value)
        for co, (core, score) in enumerate(zip(chip.cores, schip.cores, strict=True)):
            if changed is None:
                _write_core(score, core, d.Dendrite)
            elif (ci, co) in changed.cores:
                _write_core(score, core, d.Dendrite, changed.cores[(ci, co)].neurons)
    return obj


def from_samna(obj: Any) -> Configuration:
    """Convert a ``samna.dynapse2.Dynapse2Configuration`` to a validated Configuration.

    Chip ``i`` gets position ``(i, 0)``; the input/output maps are empty (samna has none).

    Raises:
        ValueError: a value samna held that the chip cannot (samna checks nothing), naming
            its location, or an object of the wrong shape.
        TypeError: ``obj`` is not a samna configuration (no ``chips``), or is already a
            dynapse2 Configuration.
    """
    if isinstance(obj, Configuration):
        raise TypeError(
            "from_samna: obj is already a dynapse2 Configuration; from_samna converts a "
            "samna.dynapse2.Dynapse2Configuration"
        )
    if not hasattr(obj, "chips"):
        raise TypeError(
            f"from_samna: obj must be a samna.dynapse2.Dynapse2Configuration, got "
            f"{type(obj).__name__}"
        )
    chips = []
    for i, schip in enumerate(list(obj.chips)):
        groups = _chip_groups(schip)
        ours: dict[str, Any] = {}
        for attr, (_table, count) in CHIP_PARAMETER_GROUPS.items():
            if count is None:
                ours[attr] = _read_params(groups[attr])
            else:
                ours[attr] = [_read_params(g) for g in groups[attr]]
        cores = list(schip.cores)
        if len(cores) != C.N_CORES:
            raise ValueError(f"samna chip {i} has {len(cores)} cores, expected {C.N_CORES}")
        flags = {name: bool(getattr(schip, name)) for name in C.CHIP_FLAGS}
        chips.append(Chip._unchecked([_read_core(c) for c in cores], (i, 0), flags, ours))
    try:
        return Configuration(chips)
    except ValueError as e:
        raise ValueError(f"samna configuration: {e}") from e


# --- device -------------------------------------------------------------------------------
