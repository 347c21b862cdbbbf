"""What differs between two configurations: :func:`changes` -> :class:`Changes`.

A board that holds configuration ``old`` and is given ``new`` needs to write only what
differs: a retrained network changes the CAM weight masks of some neurons and the base
weights of some cores, and nothing else. :func:`changes` finds those parts, per chip, core
and neuron, in a few vectorised comparisons; the boards apply only them
(:meth:`~dynapse2.hardware.samna_current.StackBoard.apply` writes only the changed neurons into
samna's configuration object, whose own ``apply_configuration`` sends the differences;
:meth:`~dynapse2.hardware.virtual_board.VirtualBoard.apply` keeps its event router when no
route changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import CHIP_PARAMETER_GROUPS, NEURON_FIELDS, Configuration

__all__ = ["Changes", "CoreChanges", "changes"]

ROUTING_FIELDS: tuple[str, ...] = (
    "syn_tag",
    "syn_dendrite",
    "dest_tag",
    "dest_core",
    "dest_x_hop",
    "dest_y_hop",
)
"""Array fields that decide where events go (which synapse hears a tag, where a spike is
sent); a change to any of them changes the event path."""

WEIGHT_FIELDS: tuple[str, ...] = ("syn_weight",)
"""Array fields that only scale a connection (the 4-bit weight mask of a CAM entry)."""


@dataclass(frozen=True)
class CoreChanges:
    """What changed in one core.

    Attributes:
        parameters: names of the bias-generator parameters whose value changed.
        settings: whether ``monitored_neuron`` or a core flag changed.
        fields: names of the per-neuron array fields (``syn_weight``, ``dest_tag``, ...)
            that changed.
        neurons: ``(k,)`` sorted indices (0..255) of the neurons with any changed CAM,
            SRAM or latch entry.
    """

    parameters: tuple[str, ...] = ()
    settings: bool = False
    fields: tuple[str, ...] = ()
    neurons: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True)
class Changes:
    """What changed from one configuration to another (:func:`changes`).

    Attributes:
        layout: the chip count or a chip position differs: nothing can be reused.
        maps: the network's input map, output map or metadata differ.
        chips: indices of the chips whose chip-level parameters or flags differ.
        cores: ``(chip, core) -> CoreChanges`` for every core that differs.
    """

    layout: bool = False
    maps: bool = False
    chips: tuple[int, ...] = ()
    cores: dict[tuple[int, int], CoreChanges] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing differs."""
        return not (self.layout or self.maps or self.chips or self.cores)

    @property
    def routing(self) -> bool:
        """The event path differs: layout, maps, or a tag, dendrite or destination."""
        return (
            self.layout
            or self.maps
            or any(set(c.fields) & set(ROUTING_FIELDS) for c in self.cores.values())
        )

    @property
    def weights_only(self) -> bool:
        """Only weights differ: CAM weight masks and base-weight parameters
        (:data:`~dynapse2.hardware.chip.BASE_WEIGHT_PARAMETERS`), nothing else."""
        return (
            not (self.layout or self.maps or self.chips)
            and all(
                not c.settings
                and set(c.fields) <= set(WEIGHT_FIELDS)
                and set(c.parameters) <= set(C.BASE_WEIGHT_PARAMETERS)
                for c in self.cores.values()
            )
            and not self.empty
        )

    @property
    def neurons(self) -> int:
        """Number of neurons with a changed CAM, SRAM or latch entry."""
        return sum(c.neurons.size for c in self.cores.values())

    def __str__(self) -> str:
        if self.empty:
            return "no changes"
        if self.layout:
            return "another layout (chip count or positions): everything"
        parts = []
        if self.maps:
            parts.append("input/output maps")
        if self.chips:
            parts.append(f"chip-level parameters of chips {list(self.chips)}")
        n_params = sum(len(c.parameters) for c in self.cores.values())
        if n_params:
            parts.append(f"{n_params} core parameters")
        if self.cores:
            fields = sorted({f for c in self.cores.values() for f in c.fields})
            if fields:
                parts.append(f"{self.neurons} neurons ({', '.join(fields)})")
            parts.append(f"in {len(self.cores)} cores")
        kind = " (weights only)" if self.weights_only else ""
        return "; ".join(parts) + kind


def changes(old: Configuration, new: Configuration) -> Changes:
    """What differs from ``old`` to ``new`` (both valid configurations).

    Returns:
        A :class:`Changes`; ``layout`` is set (and nothing else is compared) when the chip
        count or a chip's position differs.
    """
    for name, cfg in (("old", old), ("new", new)):
        if not isinstance(cfg, Configuration):
            raise TypeError(f"changes: {name} must be a Configuration, got {type(cfg).__name__}")
    if len(old.chips) != len(new.chips) or any(
        tuple(a.position) != tuple(b.position) for a, b in zip(old.chips, new.chips, strict=True)
    ):
        return Changes(layout=True)
    maps = (
        old.input_map != new.input_map or old.output_map != new.output_map or old.meta != new.meta
    )
    chips, cores = [], {}
    for ci, (a, b) in enumerate(zip(old.chips, new.chips, strict=True)):
        if a.flags != b.flags or any(getattr(a, g) != getattr(b, g) for g in CHIP_PARAMETER_GROUPS):
            chips.append(ci)
        for co, (ca, cb) in enumerate(zip(a.cores, b.cores, strict=True)):
            params = tuple(
                k
                for k in sorted(set(ca.parameters) | set(cb.parameters))
                if ca.parameters.get(k) != cb.parameters.get(k)
            )
            settings = ca.monitored_neuron != cb.monitored_neuron or ca.flags != cb.flags
            fields, rows = [], np.zeros(C.N_NEURONS_PER_CORE, bool)
            for name in NEURON_FIELDS:
                diff = np.asarray(getattr(ca, name) != getattr(cb, name))
                if diff.any():
                    fields.append(name)
                    rows |= diff.reshape(C.N_NEURONS_PER_CORE, -1).any(axis=1)
            if params or settings or fields:
                cores[(ci, co)] = CoreChanges(
                    params, bool(settings), tuple(fields), np.flatnonzero(rows)
                )
    return Changes(maps=bool(maps), chips=tuple(chips), cores=cores)
