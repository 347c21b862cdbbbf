"""Matplotlib figures of simulations, training and quantization.

Every function draws a new figure (or into ``ax`` where it takes one) and returns the
:class:`matplotlib.figure.Figure`; nothing is shown or saved. The functions take plain arrays,
lists and dicts, so they do not depend on the classes of the training or hardware layers.
Currents are in A, times in s, rates in Hz.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import Bbox

from dynapse2 import checks
from dynapse2.hardware import chip

__all__ = [
    "BIAS_TABLE_COLUMNS",
    "HISTORY_METRICS",
    "bias_table",
    "fi_curve",
    "histograms",
    "placement",
    "raster",
    "synapse_responses",
    "training_history",
    "traces",
    "weight_quantization",
]

CORES_PER_CHIP = chip.N_CORES
"""Cores drawn per chip by :func:`placement` (2 x 2)."""
NEURONS_PER_CORE = chip.N_NEURONS_PER_CORE
"""Neuron slots drawn per core by :func:`placement` (16 x 16)."""


# -- simulation ------------------------------------------------------------------------------
def raster(spikes: Any, dt: float = 1e-3, ax: Any = None, title: str = "Spikes") -> Figure:
    """Raster plot of ``spikes`` of shape ``(T, n)`` (0/1 or counts), ``dt`` in s.

    One point per (step, neuron) with a nonzero entry; x is time (s), y the neuron index.
    """
    checks.number("raster", "dt", dt, lo=0, lo_open=True)
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
    log scale, one panel per key present in ``record``, one line per neuron."""
    checks.number("traces", "dt", dt, lo=0, lo_open=True)
    checks.integer("traces", "batch", batch, lo=0)
    keys = [k for k in keys if k in record]
    if not keys:
        raise ValueError(f"traces: none of the keys is in the record (it has {sorted(record)})")
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


def synapse_responses(
    responses: Mapping[str, Any],
    dt: float = 1e-3,
    ax: Any = None,
    log: bool = True,
    title: str = "Synaptic currents",
) -> Figure:
    """Overlay current traces, one labelled line per entry of ``responses``.

    Args:
        responses: label -> ``(T,)`` current (A), e.g. ``{"AMPA": rec["iampa"][0, :, 0]}``.
        dt: time step (s).
        ax: axes to draw into (default: a new figure).
        log: log-scaled y axis (DPI currents span decades).
        title: axes title.
    """
    checks.number("synapse_responses", "dt", dt, lo=0, lo_open=True)
    checks.boolean("synapse_responses", "log", log)
    if not responses:
        raise ValueError("synapse_responses: no traces given")
    fig, ax = _axes(ax, (7, 3))
    for label, y in responses.items():
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError(f"synapse_responses: {label!r} has shape {y.shape}; expected (T,)")
        ax.plot(np.arange(y.shape[0]) * dt, y, lw=1.2, label=str(label))
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="time (s)", ylabel="current (A)", title=title)
    ax.legend(fontsize="small")
    return fig


def fi_curve(
    currents: Any, rates: Any, ax: Any = None, label: str | None = None, title: str = "f-I curve"
) -> Figure:
    """Firing rate against input current.

    Args:
        currents: ``(k,)`` input currents (A), e.g. the swept ``Idc``; drawn in nA.
        rates: ``(k,)`` rates (Hz), or ``(k, n)`` for ``n`` neurons: then the mean is drawn
            with markers and the band between the 10th and 90th percentiles shaded.
        ax: axes to draw into (default: a new figure); call again with the same ``ax`` to
            compare curves.
        label: legend label of the curve.
        title: axes title.
    """
    i = _real_array("fi_curve", "currents", currents)
    r = _real_array("fi_curve", "rates", rates)
    if i.ndim != 1 or r.shape[:1] != i.shape or r.ndim > 2:
        raise ValueError(
            f"fi_curve: currents {i.shape} and rates {r.shape}; expected (k,) and (k,) or (k, n)"
        )
    fig, ax = _axes(ax, (5, 3.5))
    x = i * 1e9
    if r.ndim == 2:
        lo, hi = np.percentile(r, [10, 90], axis=1)
        ax.fill_between(x, lo, hi, alpha=0.25, lw=0)
        r = r.mean(axis=1)
    ax.plot(x, r, marker="o", ms=3, label=label)
    ax.set(xlabel="input current (nA)", ylabel="firing rate (Hz)", title=title)
    if label is not None:
        ax.legend(fontsize="small")
    return fig


def histograms(
    values: Mapping[str, Any], bins: int = 30, unit: Mapping[str, str] | None = None
) -> Figure:
    """One histogram panel per entry of ``values`` (label -> ``(n,)`` array), e.g. time
    constants or firing rates across neurons under mismatch. Each panel's title gives the
    mean and the coefficient of variation (std / mean); ``unit`` maps labels to axis units."""
    checks.integer("histograms", "bins", bins, lo=1)
    if not values:
        raise ValueError("histograms: no values given")
    unit = dict(unit or {})
    n = len(values)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, (label, v) in zip(axes.flat, values.items(), strict=False):
        v = np.asarray(v, dtype=float).ravel()
        ax.hist(v, bins=bins, color="C0", alpha=0.8)
        mean = float(np.mean(v))
        cv = float(np.std(v) / mean) if mean != 0 else float("nan")
        ax.set_title(f"{label}: mean {mean:.3g}, CV {cv:.1%}", fontsize="small")
        ax.set_xlabel(f"{label} ({unit[label]})" if label in unit else str(label))
        ax.set_ylabel("neurons")
    for ax in axes.flat[n:]:
        ax.remove()
    fig.tight_layout()
    return fig


# -- training --------------------------------------------------------------------------------
HISTORY_METRICS: tuple[str, ...] = ("loss", "accuracy")
"""Metrics :func:`training_history` draws; ``val_<metric>`` is the validation curve."""


def training_history(history: Mapping[str, Sequence[float]]) -> Figure:
    """Loss and accuracy per epoch, training and validation.

    Args:
        history: a dict of per-epoch lists; any of ``"loss"``, ``"val_loss"``,
            ``"accuracy"``, ``"val_accuracy"`` (accuracy as a fraction in 0..1; None reads
            as NaN), or a :class:`dynapse2.train.History` (its non-empty lists). One panel
            per metric of which at least one curve is present; missing keys are skipped.
    """
    keys = [k for m in HISTORY_METRICS for k in (m, f"val_{m}")]
    if not isinstance(history, Mapping):
        if isinstance(history, str | bytes) or not all(hasattr(history, k) for k in keys):
            raise TypeError(
                f"training_history: history must be a dynapse2.train.History or a dict of "
                f"per-epoch lists, got {type(history).__name__}"
            )
        history = {k: getattr(history, k) for k in keys if len(getattr(history, k))}
    curves = {}
    for key in keys:
        if key in history:
            v = history[key]
            if isinstance(v, list | tuple):
                v = [np.nan if a is None else a for a in v]
            y = _real_array("training_history", f"history[{key!r}]", v)
            if y.ndim != 1:
                raise ValueError(
                    f"training_history: history[{key!r}] has shape {y.shape}; expected one "
                    f"value per epoch"
                )
            curves[key] = y
    panels = [m for m in HISTORY_METRICS if m in history or f"val_{m}" in history]
    if not panels:
        raise ValueError(
            f"training_history: history has none of {[*HISTORY_METRICS]} (or their val_ forms); "
            f"keys are {sorted(history)}"
        )
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.2), squeeze=False)
    for ax, metric in zip(axes[0], panels, strict=True):
        for key, name, style in ((metric, "train", "-"), (f"val_{metric}", "validation", "--")):
            if key in curves:
                y = curves[key]
                ax.plot(np.arange(1, y.size + 1), y, style, marker="o", ms=3, label=name)
        if metric == "accuracy":
            ax.set_ylim(0, 1.02)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# -- quantization ----------------------------------------------------------------------------
def weight_quantization(w: Any, w_q: Any, core: Any = None, error: Any = None) -> Figure:
    """Float weights against their quantized values, and the error of each core.

    Args:
        w: float weights, ``(n_pre, n_post)`` signed or ``(n_pre, n_post, 4)`` per synapse
            type, in units of the unit weight current.
        w_q: the quantized weights in the same shape and units (e.g.
            ``QuantizedWeights.dequantize()``).
        core: ``(n_post,)`` core id of each postsynaptic neuron (default: all on core 0).
        error: ``(n_cores,)`` relative error per core to draw (e.g.
            ``QuantizedWeights.error``); default: computed here as
            ``||w - w_q|| / ||w||`` over each core's postsynaptic columns.

    Left panel: one point per connection that is nonzero in ``w`` or ``w_q``, with the identity
    line. Right panel: one bar per core.
    """
    w = _real_array("weight_quantization", "w", w)
    wq = _real_array("weight_quantization", "w_q", w_q)
    if w.shape != wq.shape or w.ndim not in (2, 3):
        raise ValueError(
            f"weight_quantization: w {w.shape} and w_q {wq.shape} must share the shape "
            f"(n_pre, n_post) or (n_pre, n_post, 4)"
        )
    n_post = w.shape[1]
    if core is None:
        core = np.zeros(n_post, dtype=int)
    else:
        core = _real_array("weight_quantization", "core", core)
        if core.shape != (n_post,):
            raise ValueError(
                f"weight_quantization: core has shape {core.shape}; expected ({n_post},)"
            )
        if (core < 0).any() or (core != np.round(core)).any():
            raise ValueError("weight_quantization: core must hold integer core ids >= 0")
        core = core.astype(int)
    if error is None:
        axes_ = (0, 2) if w.ndim == 3 else (0,)
        n_cores = int(core.max()) + 1 if core.size else 1
        num = np.bincount(core, ((w - wq) ** 2).sum(axis=axes_), minlength=n_cores)
        den = np.bincount(core, (w**2).sum(axis=axes_), minlength=n_cores)
        error = np.sqrt(np.divide(num, den, out=np.zeros(n_cores), where=den > 0))
    error = _real_array("weight_quantization", "error", error)
    if error.ndim != 1:
        raise ValueError(f"weight_quantization: error has shape {error.shape}; expected (n_cores,)")

    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.6), gridspec_kw={"width_ratios": [1.4, 1]})
    nz = (w != 0) | (wq != 0)
    a0.scatter(w[nz], wq[nz], s=6, alpha=0.6)
    if nz.any():
        lo, hi = float(min(w[nz].min(), wq[nz].min())), float(max(w[nz].max(), wq[nz].max()))
        a0.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="w_q = w")
        a0.legend(fontsize="small")
    a0.set(
        xlabel="float weight",
        ylabel="quantized weight",
        title=f"{int(nz.sum())} connections",
    )
    a1.bar(np.arange(error.size), error * 100)
    a1.set_xticks(np.arange(error.size))
    a1.set(xlabel="core", ylabel="relative error (%)", title="error per core")
    fig.tight_layout()
    return fig


BIAS_TABLE_COLUMNS: tuple[str, ...] = (
    "core",
    "name",
    "coarse",
    "fine",
    "requested (A)",
    "current (A)",
    "rel. error",
)
"""Column headers of :func:`bias_table`."""


def _field(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def bias_table(table: Any, title: str = "Bias-generator settings") -> Figure:
    """A table figure of bias-generator settings, one row per (core, parameter).

    Args:
        table: an iterable of rows (or an object with a ``settings`` attribute holding them,
            such as ``dynapse2.hardware.ParameterTable``). A row is a dict or an object with
            the fields ``name`` (parameter name, str), ``coarse`` (0..5), ``fine`` (0..255),
            ``current`` (the current the setting produces, A) and optionally ``core`` (int),
            ``bg_name`` (shown in brackets after ``name``), ``requested`` (the current asked
            for, A) and ``rel_error`` (``|current - requested| / requested``; computed from
            ``requested`` when absent). Missing optional fields show as "-".
        title: figure title.
    """
    rows = getattr(table, "settings", table)
    if isinstance(rows, str | bytes | Mapping) or not isinstance(rows, Iterable):
        raise TypeError(
            f"bias_table: table must be an iterable of rows or a ParameterTable, got "
            f"{type(table).__name__}"
        )
    rows = list(rows)
    if not rows:
        raise ValueError("bias_table: no rows")
    cells = []
    for k, r in enumerate(rows):
        name, cur = _field(r, "name"), _field(r, "current")
        if name is None or cur is None:
            raise ValueError(f"bias_table: row {r!r} lacks 'name' or 'current'")
        bg = _field(r, "bg_name")
        req = _field(r, "requested")
        err = _field(r, "rel_error")
        for field, v in (("current", cur), ("requested", req), ("rel_error", err)):
            if v is not None and not checks.is_real(v):
                raise TypeError(
                    f"bias_table: rows[{k}].{field} = {v!r} must be a number, got "
                    f"{type(v).__name__}"
                )
        if err is None and req is not None and req != 0:
            err = abs(cur - req) / req
        core = _field(r, "core")
        cells.append(
            [
                "-" if core is None else str(core),
                f"{name} [{bg}]" if bg and bg != name else str(name),
                str(_field(r, "coarse")),
                str(_field(r, "fine")),
                "-" if req is None else f"{req:.3g}",
                f"{cur:.3g}",
                "-" if err is None else f"{err:.2%}",
            ]
        )
    widths = np.array(
        [max(len(h), *(len(row[j]) for row in cells)) for j, h in enumerate(BIAS_TABLE_COLUMNS)],
        dtype=float,
    )
    fig, ax = plt.subplots(
        figsize=(max(6.0, 0.09 * widths.sum() + 1), 0.25 * (len(cells) + 1) + 0.5)
    )
    ax.axis("off")
    t = ax.table(
        cellText=cells,
        colLabels=list(BIAS_TABLE_COLUMNS),
        colWidths=list(widths / widths.sum()),
        bbox=Bbox.from_bounds(0, 0, 1, 1),
    )
    t.auto_set_font_size(False)
    t.set_fontsize(8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


# -- placement -------------------------------------------------------------------------------
def placement(
    chip_of: Any,
    core_of: Any = None,
    group: Any = None,
    group_names: Sequence[str] | None = None,
    n_chips: int | None = None,
    cols: int | None = None,
) -> Figure:
    """Neurons on chips and cores: one panel per chip, its 4 cores as 2 x 2 blocks of
    16 x 16 neuron slots, each placed neuron a cell colored by its group.

    Args:
        chip_of: ``(n,)`` chip index of each network neuron, or a
            :class:`~dynapse2.hardware.mapper.Placement` (then ``core_of`` is omitted and
            ``group`` defaults to the population of each neuron).
        core_of: ``(n,)`` core index (0..3) of each neuron on its chip.
        group: ``(n,)`` non-negative int group (e.g. layer) of each neuron; default all 0.
        group_names: legend label of each group (default ``"group k"``).
        n_chips: chips to draw (default ``max(chip_of) + 1``); unused ones stay empty.
        cols: chip panels per row (default ``min(n_chips, 4)``).

    A core's neurons fill its slots in the order they appear in the network. Each core is
    annotated with its index and the number of neurons placed on it. Returns the figure; its
    panels (one per chip) are ``fig.axes[:n_chips]``.
    """
    chip_of, core_of, group, names, n_chips = _placement_inputs(
        chip_of, core_of, group, group_names, n_chips, cols
    )
    n_groups = int(group.max()) + 1 if group.size else 1
    cols = min(n_chips, 4) if cols is None else int(cols)
    rows = -(-n_chips // cols)
    cmap = ListedColormap([plt.get_cmap("tab10")(k % 10) for k in range(n_groups)])
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.4 * rows + 0.4), squeeze=False)
    for c in range(n_chips):
        _draw_chip(axes.flat[c], c, chip_of, core_of, group, cmap, n_groups)
    for ax in axes.flat[n_chips:]:
        ax.remove()
    handles = [Patch(color=cmap(k), label=names[k]) for k in range(n_groups)]
    fig.legend(handles=handles, loc="lower center", ncol=min(n_groups, 6), fontsize="small")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def _placement_inputs(
    chip_of: Any,
    core_of: Any,
    group: Any,
    group_names: Sequence[str] | None,
    n_chips: int | None,
    cols: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], int]:
    """:func:`placement`'s arguments checked (a ValueError naming the bad one) and resolved:
    ``(chip_of, core_of, group, names, n_chips)``, ``names`` one label per group (at least)."""
    for name, v in (("n_chips", n_chips), ("cols", cols)):
        if v is not None:
            checks.integer("placement", name, v, lo=1)
    if hasattr(chip_of, "chip") and hasattr(chip_of, "layer"):  # a mapper Placement
        placed = chip_of
        chip_of, core_of = placed.chip, placed.core
        group = placed.layer if group is None else group
        n_chips = placed.n_chips if n_chips is None else n_chips
    chip_of = np.asarray(chip_of)
    core_of = np.asarray(core_of)
    n = chip_of.shape[0]
    group = np.zeros(n, dtype=int) if group is None else np.asarray(group)
    if chip_of.ndim != 1 or core_of.shape != (n,) or group.shape != (n,):
        raise ValueError(
            f"placement: chip_of {chip_of.shape}, core_of {core_of.shape} and group "
            f"{group.shape} must all be (n,)"
        )
    if n and ((core_of < 0).any() or (core_of >= CORES_PER_CHIP).any() or (chip_of < 0).any()):
        raise ValueError(f"placement: core indices must be 0..{CORES_PER_CHIP - 1}, chips >= 0")
    if n and (group < 0).any():
        raise ValueError("placement: groups must be non-negative")
    n_chips = int(chip_of.max()) + 1 if n_chips is None else int(n_chips)
    n_groups = int(group.max()) + 1 if n else 1
    names = (
        list(group_names) if group_names is not None else [f"group {k}" for k in range(n_groups)]
    )
    if len(names) < n_groups:
        raise ValueError(f"placement: {len(names)} group names for {n_groups} groups")
    for c in range(n_chips):
        for k in range(CORES_PER_CHIP):
            placed_here = int(((chip_of == c) & (core_of == k)).sum())
            if placed_here > NEURONS_PER_CORE:
                raise ValueError(
                    f"placement: {placed_here} neurons on chip {c} core {k}; a core holds "
                    f"{NEURONS_PER_CORE}"
                )
    return chip_of, core_of, group, names, n_chips


def _draw_chip(
    ax: Any,
    c: int,
    chip_of: np.ndarray,
    core_of: np.ndarray,
    group: np.ndarray,
    cmap: Any,
    n_groups: int,
) -> None:
    """Chip ``c``'s panel on ``ax``: its 4 cores as 2 x 2 blocks of 16 x 16 slots, each
    annotated with its index and neuron count, each placed neuron a cell colored by group."""
    side = int(np.sqrt(NEURONS_PER_CORE))  # 16
    img = np.full((2 * side, 2 * side), np.nan)
    for k in range(CORES_PER_CHIP):
        sel = np.flatnonzero((chip_of == c) & (core_of == k))
        r0, c0 = (k // 2) * side, (k % 2) * side
        cells = np.full(NEURONS_PER_CORE, np.nan)
        cells[: sel.size] = group[sel]
        img[r0 : r0 + side, c0 : c0 + side] = cells.reshape(side, side)
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), side, side, fill=False, lw=1.2, ec="0.3"))
        ax.text(
            c0 + side / 2 - 0.5,
            r0 + side / 2 - 0.5,
            f"core {k}\n{sel.size}",
            ha="center",
            va="center",
            fontsize=8,
            bbox={"fc": "white", "alpha": 0.7, "lw": 0},
        )
    ax.imshow(img, cmap=cmap, vmin=-0.5, vmax=n_groups - 0.5, interpolation="nearest")
    ax.set(xticks=[], yticks=[], title=f"chip {c}: {int((chip_of == c).sum())} neurons")


def _real_array(where: str, name: str, x: Any) -> np.ndarray:
    """``x`` as a float array; a ``TypeError`` naming ``where`` and ``name`` if it is not an
    array (or nested sequence) of real numbers (strings, None, ragged lists, objects)."""
    try:
        a = np.asarray(x)
    except (TypeError, ValueError):  # ragged
        a = None
    if a is None or a.dtype.kind not in ("b", "i", "u", "f"):
        kind = "" if a is None or a.dtype == object else f" of dtype {a.dtype}"
        raise TypeError(
            f"{where}: {name} must be an array of real numbers, got {type(x).__name__}{kind}"
        )
    return a.astype(float)


def _axes(ax: Any, size: tuple[float, float]) -> tuple[Figure, Any]:
    if ax is None:
        fig, ax = plt.subplots(figsize=size)
        return fig, ax
    return ax.figure, ax
