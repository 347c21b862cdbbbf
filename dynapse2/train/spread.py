"""Results with their spread: accuracy over mismatch draws (or seeds) as mean, std and min.

One trained network scores differently on every chip: device mismatch draws new circuit
parameters for each. A figure worth reporting is therefore a distribution over draws (and,
for a training recipe, over seeds), not one run::

    acc = mismatch_spread(net, x_test, y_test, loss, mismatch=0.2, draws=10)
    print(acc)            # 93.8 ± 1.1 % (min 91.9, max 95.4, n = 10)
    seeds = Spread([...]) # any list of per-seed results
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import numpy as np

from dynapse2 import checks
from dynapse2.nn import Module
from dynapse2.train.evaluate import Predict, check_key, evaluate
from dynapse2.train.losses import Loss

__all__ = ["Spread", "mismatch_spread"]


@dataclasses.dataclass(frozen=True)
class Spread:
    """A sample of results (e.g. accuracies in [0, 1], one per draw or seed).

    ``std`` is the sample standard deviation (``ddof = 1``; 0 for a single value): the
    spread a new draw or seed is expected to show. ``str`` prints percentages when
    ``percent`` is set (the default, for accuracies).
    """

    values: tuple[float, ...]
    percent: bool = True

    def __init__(self, values: Iterable[float], percent: bool = True):
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
            raise TypeError(
                f"Spread: values = {values!r} must be a sequence of numbers, "
                f"got {type(values).__name__}"
            )
        v = tuple(values)
        for i, x in enumerate(v):
            if not checks.is_real(x):
                raise TypeError(
                    f"Spread: values[{i}] = {x!r} must be a number, got {type(x).__name__}"
                )
        if not v:
            raise ValueError("Spread: values is empty; it needs at least one result")
        object.__setattr__(self, "values", tuple(float(x) for x in v))
        object.__setattr__(self, "percent", checks.boolean("Spread", "percent", percent))

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def std(self) -> float:
        return float(np.std(self.values, ddof=1)) if self.n > 1 else 0.0

    @property
    def min(self) -> float:
        return float(np.min(self.values))

    @property
    def max(self) -> float:
        return float(np.max(self.values))

    def __str__(self) -> str:
        s, unit = (100.0, " %") if self.percent else (1.0, "")
        return (
            f"{s * self.mean:.1f} ± {s * self.std:.1f}{unit} "
            f"(min {s * self.min:.1f}, max {s * self.max:.1f}, n = {self.n})"
        )


def mismatch_spread(
    net: Module,
    x: Any,
    y: Any,
    loss: Loss,
    *,
    mismatch: float,
    draws: int = 10,
    key: jax.Array | int = 0,
    batch_size: int = 256,
    predict: Predict | None = None,
    transform: Callable[[Module], Module] | None = None,
) -> Spread:
    """Accuracy of ``net`` on ``(x, y)`` under ``draws`` independent mismatch draws.

    Each draw is one simulated chip (:func:`~dynapse2.train.mismatch.with_mismatch` with
    relative standard deviation ``mismatch``); the draws come from ``jax.random.split(key,
    draws)``, so the same key gives the same chips for every network compared.

    Args:
        net, x, y, loss, batch_size, predict, transform: as for
            :func:`~dynapse2.train.evaluate.evaluate`.
        mismatch: relative standard deviation of the mismatch, in (0, 1).
        draws: number of simulated chips (>= 1).
        key: ``jax.random`` key or int seed of the draws.

    Returns:
        A :class:`Spread` of the ``draws`` accuracies in [0, 1].

    Raises:
        TypeError: ``mismatch``, ``draws`` or ``batch_size`` of the wrong kind (before any
            simulation).
        ValueError: ``mismatch``, ``draws`` or ``batch_size`` out of range (before any
            simulation).
    """
    where = "mismatch_spread"
    mismatch = checks.mismatch(where, "mismatch", mismatch, zero=False)
    draws = checks.integer(where, "draws", draws, lo=1)
    batch_size = checks.integer(where, "batch_size", batch_size, lo=1)
    if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
        key = jax.random.PRNGKey(int(key))
    else:
        if key is None:
            raise TypeError(
                f"{where}: key = None must be an int seed or a jax.random key "
                "(jax.random.PRNGKey(seed))"
            )
        check_key(where, key)
    acc = [
        evaluate(
            net,
            x,
            y,
            loss,
            batch_size=batch_size,
            predict=predict,
            mismatch=mismatch,
            key=k,
            transform=transform,
        )[1]
        for k in jax.random.split(key, draws)
    ]
    return Spread(acc)
