"""The record of a training run, per epoch."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from dynapse2 import checks

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch metrics of a run (lists indexed by epoch).

    Attributes:
        loss, accuracy: training loss (mean over the epoch's batches) and accuracy (fraction
            in [0, 1]; NaN when the loss has no class prediction).
        val_loss, val_accuracy: the same on the validation set (empty without validation).
        best_epoch: epoch (0-based) of the lowest validation loss, or None.
        stopped_early: whether early stopping ended the run.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    def __post_init__(self) -> None:
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(checks.is_real(v) for v in value):
                raise TypeError(f"History: {name} = {value!r} must be a list of numbers")
        if self.best_epoch is not None:
            checks.integer("History", "best_epoch", self.best_epoch, lo=0)
        checks.boolean("History", "stopped_early", self.stopped_early)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.loss)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN written as None)."""

        def clean(v: Any) -> Any:
            if isinstance(v, list):
                return [None if (isinstance(a, float) and math.isnan(a)) else a for a in v]
            return v

        return {k: clean(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        """Inverse of :meth:`to_dict`."""

        def restore(v: Any) -> Any:
            if isinstance(v, list):
                return [float("nan") if a is None else float(a) for a in v]
            return v

        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: restore(v) for k, v in d.items() if k in names})
