"""Test helpers for the hardware tests: random configurations with every field set."""

from __future__ import annotations

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import (
    CHIP_PARAMETER_GROUPS,
    Chip,
    Configuration,
    Core,
    InputRoute,
    OutputRoute,
    Parameter,
)

_CODES = np.array(sorted(C.DENDRITE_CODES.values()))


def _random_params(rng: np.random.Generator, table: dict[str, str]) -> dict[str, Parameter]:
    out = {}
    for name, t in table.items():
        if name in C.TYPE_SWITCHABLE_PARAMETERS:
            t = str(rng.choice(C.PARAMETER_TYPES))
        out[name] = Parameter(
            int(rng.integers(0, C.BG_COARSE_MAX + 1)), int(rng.integers(0, C.BG_FINE_MAX + 1)), t
        )
    return out


def random_core(rng: np.random.Generator, density: float = 1.0) -> Core:
    """A core with random values in every field; ``density`` of CAM/SRAM entries non-reset."""
    n, k, s = C.N_NEURONS_PER_CORE, C.N_CAM, C.N_SRAM
    keep_syn = rng.random((n, k)) < density
    keep_dest = rng.random((n, s)) < density
    dend = rng.choice(_CODES, (n, k)) * keep_syn
    tag = rng.integers(0, C.TAG_MAX + 1, (n, k)) * keep_syn
    tag[(dend != 0) & (tag == C.TAG_MAX)] = 0  # reserved only where inactive
    core_mask = rng.integers(0, 16, (n, s)) * keep_dest
    dtag = rng.integers(0, C.TAG_MAX + 1, (n, s)) * keep_dest
    dtag[(core_mask != 0) & (dtag == C.TAG_MAX)] = 1
    return Core(
        _random_params(rng, C.CORE_PARAMETERS),
        monitored_neuron=int(rng.integers(0, n)),
        flags={f: bool(rng.integers(2)) for f in C.CORE_FLAGS},
        syn_tag=tag,
        syn_dendrite=dend,
        syn_weight=rng.integers(0, 16, (n, k)) * keep_syn,
        syn_stp=(rng.random((n, k)) < 0.5) & keep_syn,
        syn_precise_delay=(rng.random((n, k)) < 0.5) & keep_syn,
        syn_mismatched_delay=(rng.random((n, k)) < 0.5) & keep_syn,
        dest_tag=dtag,
        dest_core=core_mask,
        dest_x_hop=rng.integers(C.HOP_MIN, C.HOP_MAX + 1, (n, s)) * keep_dest,
        dest_y_hop=rng.integers(C.HOP_MIN, C.HOP_MAX + 1, (n, s)) * keep_dest,
        latches=rng.random((n, len(C.NEURON_LATCHES))) < 0.5,
    )


def random_chip(rng: np.random.Generator, position: tuple[int, int], density: float = 1.0) -> Chip:
    """A chip with random values everywhere (cores, parameter groups, flags)."""
    groups = {}
    for attr, (table, count) in CHIP_PARAMETER_GROUPS.items():
        groups[attr] = (
            _random_params(rng, table)
            if count is None
            else [_random_params(rng, table) for _ in range(count)]
        )
    cores = [random_core(rng, density) for _ in range(C.N_CORES)]
    for core in cores:  # at most one pulse-extender monitor per chip
        for f in C.PULSE_EXTENDER_MONITOR_FLAGS:
            core.flags[f] = False
    cores[int(rng.integers(C.N_CORES))].flags[str(rng.choice(C.PULSE_EXTENDER_MONITOR_FLAGS))] = (
        bool(rng.integers(2))
    )
    flags = {f: bool(rng.integers(2)) for f in C.CHIP_FLAGS}
    flags[str(rng.choice(C.PG_REFERENCE_MONITOR_FLAGS))] = False  # not both PG monitors
    return Chip(cores, position=position, flags=flags, **groups)


def random_configuration(seed: int, n_chips: int = 1, density: float = 1.0) -> Configuration:
    """A configuration with random values in every field, plus random input/output maps."""
    rng = np.random.default_rng(seed)
    chips = [random_chip(rng, (i, int(rng.integers(0, 3))), density) for i in range(n_chips)]
    input_map = {
        int(ch): tuple(
            InputRoute(
                int(rng.integers(n_chips)),
                int(rng.integers(0, C.TAG_MAX)),
                int(rng.integers(1, 16)),
                int(rng.integers(C.HOP_MIN, C.HOP_MAX + 1)),
                int(rng.integers(C.HOP_MIN, C.HOP_MAX + 1)),
            )
            for _ in range(int(rng.integers(1, 3)))
        )
        for ch in rng.choice(100, 10, replace=False)
    }
    tags = rng.choice(C.TAG_MAX, 8, replace=False)
    output_map = {
        i: OutputRoute(
            int(rng.integers(n_chips)), int(rng.integers(4)), int(rng.integers(256)), int(t)
        )
        for i, t in enumerate(tags)
    }
    return Configuration(chips, input_map=input_map, output_map=output_map, meta={"seed": seed})
