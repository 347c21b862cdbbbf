"""Matplotlib figures of simulations. Every function returns the figure it draws."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure


def raster(spikes: Any, dt: float = 1e-3, ax: Any = None, title: str = "Spikes") -> Figure:
    """Raster plot of ``spikes`` of shape ``(T, n)`` (0/1 or counts), ``dt`` in s."""
    s = np.asarray(spikes)
    if s.ndim != 2:
        raise ValueError(f"raster: spikes has shape {s.shape}; expected (T, n)")
    fig, ax = _axes(ax, (8, 3))
    t, i = np.nonzero(s)
    ax.scatter(t * dt, i, s=2, marker="|", color="k")
    ax.set(
        xlim=(0, s.shape[0] * dt),
        ylim=(-0.5, s.shape[1] - 0.5),
        xlabel="time (s)",
        ylabel="neuron",
        title=title,
    )
    return fig


def traces(
    record: dict[str, Any],
    keys: Sequence[str] = ("imem", "iampa", "inmda", "igaba", "ishunt", "iahp"),
    neurons: Sequence[int] = (0,),
    dt: float = 1e-3,
    batch: int = 0,
) -> Figure:
    """State traces of a DynapSim record (``(batch, T, n)`` or ``(T, n)`` arrays, in A) on a
    log scale, one panel per key, one line per neuron."""
    keys = [k for k in keys if k in record]
    fig, axes = plt.subplots(len(keys), 1, figsize=(8, 1.6 * len(keys)), sharex=True, squeeze=False)
    for ax, key in zip(axes[:, 0], keys, strict=True):
        a = np.asarray(record[key])
        a = a[batch] if a.ndim == 3 else a
        t = np.arange(a.shape[0]) * dt
        for j in neurons:
            ax.semilogy(t, a[:, j], lw=0.8, label=f"neuron {j}")
        ax.set_ylabel(f"{key} (A)")
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
