"""``fit``'s grouped options: small frozen objects, checked when built (as optax's and
diffrax's option objects are), so that ``fit``'s signature keeps the everyday arguments.

    fit(net, x, y, loss, key=key, robustness=Robustness(mismatch=0.2, transform=qat))
    fit(net, x, y, loss, key=key, checkpointing=Checkpointing("run.npz", resume=load(...)))
    fit(net, x, y, loss, key=key, in_the_loop=InTheLoop(board, calibration=cal))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dynapse2 import checks
from dynapse2.nn import Module
from dynapse2.train.checkpoint import Checkpoint
from dynapse2.train.constraints import WEIGHT_BOUND

__all__ = ["Checkpointing", "InTheLoop", "Robustness", "moved_keywords"]


@dataclass(frozen=True)
class Robustness:
    """What the trained network must withstand on the chip, applied at every training step.

    Attributes:
        mismatch: relative standard deviation (dimensionless, in [0, 1)) of device mismatch,
            drawn fresh every step from ``fit``'s key (0: train the nominal network).
        transform: ``Module -> Module`` applied to the network inside the loss before each
            forward pass, e.g. fake quantization of the weights with a straight-through
            gradient (:func:`~dynapse2.hardware.quantization_aware`); None: identity. It
            must be jit-traceable; validation applies it too.
        weight_bound: bound on |weight| after every step, in units of the next population's
            unit weight current ``Iscale`` (default :data:`~dynapse2.train.WEIGHT_BOUND`).
    """

    mismatch: float = 0.0
    transform: Callable[[Module], Module] | None = None
    weight_bound: float = WEIGHT_BOUND

    def __post_init__(self) -> None:
        where = "Robustness"
        m = checks.mismatch(where, "mismatch", self.mismatch)
        b = checks.number(where, "weight_bound", self.weight_bound, lo=0, lo_open=True)
        if self.transform is not None and not callable(self.transform):
            raise TypeError(
                f"{where}: transform = {self.transform!r} must be a function Module -> Module "
                "or None"
            )
        object.__setattr__(self, "mismatch", m)
        object.__setattr__(self, "weight_bound", b)


@dataclass(frozen=True)
class Checkpointing:
    """Saving a run after every epoch, and continuing one.

    Attributes:
        path: if given, a checkpoint is saved there (atomically) after each epoch
            (:func:`~dynapse2.train.save`; by convention ``*.npz``).
        resume: a :class:`~dynapse2.train.Checkpoint` to continue from
            (:func:`~dynapse2.train.load`): its net, optimizer state, history and epoch replace
            ``net`` and the start; with the same data, loss, optimizer and key the result is
            bit-identical to an uninterrupted run. ``fit``'s key may then be left out (the
            checkpoint's is used).
    """

    path: str | os.PathLike | None = None
    resume: Checkpoint | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            checks.path("Checkpointing", "path", self.path)
        if self.resume is not None and not isinstance(self.resume, Checkpoint):
            raise TypeError(
                f"Checkpointing: resume = {type(self.resume).__name__} must be a Checkpoint "
                "(dynapse2.train.load(path, like=net)) or None"
            )


@dataclass(frozen=True)
class InTheLoop:
    """Chip-in-the-loop training: each batch runs on the board and its output spikes enter
    the loss; the gradient is the simulation's on the same batch with the board's spikes
    substituted for the simulated ones (straight-through); after each step the network is
    quantized and mapped again and the configuration applied to the board. The loss must
    read spikes only (:func:`~dynapse2.train.spike_count_loss`,
    :func:`~dynapse2.train.first_spike_loss`); training accuracy and validation are the
    board's. At the end the board runs the returned network.

    Attributes:
        board: the :class:`~dynapse2.hardware.DynapseBoard` (real or virtual) that ``net``
            was deployed to (:func:`~dynapse2.hardware.to_hardware`).
        calibration: a :class:`~dynapse2.hardware.Calibration` of the board: the gradient
            comes from the calibrated simulation (default: the nominal one).
        mapping: keyword arguments of :func:`~dynapse2.hardware.map_network` for the
            re-mapping (e.g. ``{"prune": True}``).
    """

    board: Any
    calibration: Any = None
    mapping: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not getattr(self.board, "on_board", False):
            raise ValueError(
                f"InTheLoop: board = {type(self.board).__name__} is not a board; pass the "
                "DynapseBoard that to_hardware(net, device) returned"
            )
        if not isinstance(self.mapping, dict):
            raise TypeError(
                f"InTheLoop: mapping = {self.mapping!r} must be a dict of map_network's "
                "keyword arguments"
            )


# The keywords of earlier versions of fit -> where they live now.
_MOVED = {
    "mismatch": "robustness=Robustness(mismatch=...)",
    "transform": "robustness=Robustness(transform=...)",
    "weight_bound": "robustness=Robustness(weight_bound=...)",
    "checkpoint_path": "checkpointing=Checkpointing(path=...)",
    "resume": "checkpointing=Checkpointing(resume=...)",
    "hardware": "in_the_loop=InTheLoop(board=...)",
    "calibration": "in_the_loop=InTheLoop(board, calibration=...)",
    "mapping": "in_the_loop=InTheLoop(board, mapping=...)",
}


def moved_keywords(where: str, kwargs: dict[str, Any]) -> None:
    """Raise a TypeError naming the new home of a keyword that moved into an options object
    (or naming an unknown keyword)."""
    moved = [k for k in kwargs if k in _MOVED]
    if moved:
        homes = "; ".join(f"{k}= is now {_MOVED[k]}" for k in moved)
        raise TypeError(
            f"{where}: {homes} (dynapse2.train.{{Robustness, Checkpointing, InTheLoop}})"
        )
    if kwargs:
        raise TypeError(f"{where}: unexpected keyword argument(s) {sorted(kwargs)}")
