"""Draining a board's analog state: every leak current at the bias generator's maximum.

Used between trials by the boards (:class:`~dynapse2.hardware.device.DynapseBoard` with
``drain=True``, :meth:`~dynapse2.hardware.samna_current.StackBoard.drain`, the
:class:`~dynapse2.hardware.virtual_board.VirtualBoard`); it needs only the configuration tree
and the chip's facts, so that the board adapters do not import the device module.
"""

from __future__ import annotations

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration, Parameter

__all__ = ["DRAIN_PARAMETERS", "leaky_configuration"]

DRAIN_PARAMETERS: tuple[str, ...] = tuple(
    bg for sim, bg in C.SIM_TO_BG.items() if sim.startswith("Itau_")
)
"""BG parameters of the leak currents of every DPI (the four synapses, the membrane, the
adaptation): at their maximum they empty the circuits' capacitors (:func:`leaky_configuration`)."""


def leaky_configuration(cfg: Configuration) -> Configuration:
    """A copy of ``cfg`` with every leak current (:data:`DRAIN_PARAMETERS`) at the BG's
    maximum, coarse 5 fine 255, on every core: applied for a few milliseconds, it drains the
    neurons' and synapses' state (the practice of Rockpool's Dynap-SE2 board support)."""
    if not isinstance(cfg, Configuration):
        raise TypeError(
            f"leaky_configuration: cfg must be a Configuration, got {type(cfg).__name__}"
        )
    out = cfg.copy()
    top = (C.BG_COARSE_MAX, C.BG_FINE_MAX)
    for chip in out.chips:
        for core in chip.cores:
            for name in DRAIN_PARAMETERS:
                core.parameters[name] = Parameter(*top, C.CORE_PARAMETERS[name])
    return out
