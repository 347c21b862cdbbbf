"""The bias generator (BG): parameter currents <-> coarse/fine values.

Model (:mod:`dynapse2.physics.bias_generator`, which also defines :func:`bg_name` and
:func:`current_range`, re-exported here)::

    I(coarse, fine) = BG_I_MAX[type][coarse] * fine / BG_FINE_MAX * BG_SCALE[name]

with ``coarse`` in 0..5, ``fine`` in 0..255 and ``type`` ("N" or "P") read from the
parameter's name. The model is linear in ``fine`` and gives exactly 0 A at ``fine = 0``
(the silicon leaks about 1 pA there, see ``chip.BG_FINE_ZERO_CURRENT``).

Quantization picks, among all 6 x 256 pairs, the one whose current is nearest to the
request: for a fixed request that is also the pair of smallest relative error. Ties go to
the smaller coarse value, then the smaller fine value.

Tiny currents: a request below half the smallest nonzero step (coarse 0, fine 1) is nearer
to 0 A than to any nonzero setting, so it becomes ``(0, 0)``: its relative error is 1 and
:class:`ParameterTable` shows it. Requests that are negative, not finite, or above what the
BG can produce for that parameter (coarse 5, fine 255) raise :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip
from dynapse2.physics.bias_generator import bg_current as _model
from dynapse2.physics.bias_generator import bg_name, current_range

__all__ = [
    "ParameterSetting",
    "ParameterTable",
    "bg_name",
    "current",
    "current_range",
    "quantize_current",
    "quantize_parameters",
]

_N_COARSE = chip.BG_COARSE_MAX + 1
_RANGE_RTOL = 1e-9  # float round-off allowed above the top setting


def _steps(bg: str) -> np.ndarray:
    """Current (A) of one fine step at each coarse value, shape (6,)."""
    return _model(bg, np.arange(_N_COARSE), np.array(1))


def _check_ints(label: str, value: np.ndarray | int, hi: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iub":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError(f"{label} must be integers in 0..{hi}, got {value!r}")
    arr = arr.astype(np.int64)
    bad = (arr < 0) | (arr > hi)
    if np.any(bad):
        raise ValueError(f"{label} must be in 0..{hi}, got {arr[bad].ravel()[:5].tolist()}")
    return arr


def current(name: str, coarse: np.ndarray | int, fine: np.ndarray | int) -> np.ndarray:
    """Current (A) the BG produces for parameter ``name`` at ``(coarse, fine)``.

    Args:
        name: BG name (``"SOIF_LEAK_N"``) or simulator name (``"Itau_mem"``).
        coarse: integer(s) in 0..5, any shape.
        fine: integer(s) in 0..255, broadcastable against ``coarse``.

    Returns:
        float64 array of the broadcast shape (a 0-d array for scalar inputs), amperes.
    """
    bg = bg_name(name, "current")
    c = _check_ints(f"coarse value of {bg}", coarse, chip.BG_COARSE_MAX)
    f = _check_ints(f"fine value of {bg}", fine, chip.BG_FINE_MAX)
    return _model(bg, c, f)


def quantize_current(name: str, amps: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Nearest BG setting ``(coarse, fine)`` of the current ``amps`` (A) for ``name``.

    Args:
        name: BG name or simulator name.
        amps: requested current(s) in amperes, any shape, each in
            ``[0, current_range(name)[1]]``.

    Returns:
        ``(coarse, fine)``: int64 arrays of the shape of ``amps``. The pair minimises
        ``|current(name, coarse, fine) - amps|`` over all 6 x 256 pairs (ties: smaller coarse,
        then smaller fine). Requests below half of ``current_range(name)[0]`` give ``(0, 0)``.
        For a request ``x`` the error is at most half a fine step of the smallest coarse
        value whose top current reaches ``x``.

    Raises:
        ValueError: unknown name, or a request that is negative, not finite or above the
            largest current; the message names the parameter, the value and the range.
    """
    bg = bg_name(name, "quantize_current")
    x = np.asarray(amps, dtype=np.float64)
    lo, hi = current_range(bg)
    bad = ~np.isfinite(x) | (x < 0) | (x > hi * (1 + _RANGE_RTOL))
    if np.any(bad):
        first = float(x[bad].ravel()[0])
        raise ValueError(
            f"{bg}: current {first!r} A is outside what the bias generator can produce: "
            f"0 A or {lo:.3g} A .. {hi:.3g} A ({int(bad.sum())} value(s) out of range)"
        )
    steps = _steps(bg)  # (6,)
    ratio = x[..., None] / steps  # (..., 6)
    below = np.clip(np.floor(ratio), 0, chip.BG_FINE_MAX).astype(np.int64)
    above = np.clip(below + 1, 0, chip.BG_FINE_MAX)
    coarse = np.broadcast_to(np.arange(_N_COARSE), ratio.shape)
    # Candidates ordered coarse-major, floor before ceil: argmin's first hit implements
    # the tie rule (smaller coarse, then smaller fine).
    n_cand = 2 * _N_COARSE
    cand_c = np.stack([coarse, coarse], axis=-1).reshape(x.shape + (n_cand,))
    cand_f = np.stack([below, above], axis=-1).reshape(x.shape + (n_cand,))
    err = np.abs(_model(bg, cand_c, cand_f) - x[..., None])
    best = np.argmin(err, axis=-1)[..., None]
    c = np.take_along_axis(cand_c, best, axis=-1)[..., 0]
    f = np.take_along_axis(cand_f, best, axis=-1)[..., 0]
    return c.astype(np.int64), f.astype(np.int64)


@dataclass(frozen=True)
class ParameterSetting:
    """One BG setting of one core: the request, the chosen pair and what it produces (A)."""

    core: int
    name: str
    bg_name: str
    requested: float
    coarse: int
    fine: int
    current: float

    @property
    def rel_error(self) -> float:
        """``|current - requested| / requested`` (0 when both are 0)."""
        if self.requested == 0:
            return 0.0 if self.current == 0 else float("inf")
        return abs(self.current - self.requested) / self.requested


@dataclass(frozen=True)
class ParameterTable:
    """BG settings of a network, one :class:`ParameterSetting` per (core, parameter).

    ``core`` is the ``(n,)`` core id of every neuron, kept so :meth:`currents` can give
    back per-neuron arrays.
    """

    settings: tuple[ParameterSetting, ...]
    core: np.ndarray

    def get(self, core: int, name: str) -> ParameterSetting:
        """The setting of ``name`` (as given to :func:`quantize_parameters`) on ``core``."""
        for s in self.settings:
            if s.core == core and s.name == name:
                return s
        raise KeyError(f"no setting for parameter {name!r} on core {core}")

    def coarse_fine(self, core: int) -> dict[str, tuple[int, int]]:
        """BG name -> ``(coarse, fine)`` of one core, as a configuration writer needs it."""
        return {s.bg_name: (s.coarse, s.fine) for s in self.settings if s.core == core}

    def currents(self) -> dict[str, np.ndarray]:
        """Name -> ``(n,)`` float64 array (A) of the quantized current of every neuron."""
        out: dict[str, np.ndarray] = {}
        for s in self.settings:
            arr = out.setdefault(s.name, np.zeros(self.core.shape, dtype=np.float64))
            arr[self.core == s.core] = s.current
        return out

    def table(self) -> str:
        """A readable text table of every setting."""
        head = (
            f"{'core':>4}  {'name':<12} {'BG name':<14} {'requested (A)':>13} "
            f"{'coarse':>6} {'fine':>4} {'chip (A)':>10} {'rel. err':>8}"
        )
        rows = [head, "-" * len(head)]
        for s in self.settings:
            rows.append(
                f"{s.core:>4}  {s.name:<12} {s.bg_name:<14} {s.requested:>13.4g} "
                f"{s.coarse:>6} {s.fine:>4} {s.current:>10.4g} {s.rel_error:>8.2%}"
            )
        return "\n".join(rows)

    def __str__(self) -> str:
        return self.table()


def quantize_parameters(
    params: Mapping[str, np.ndarray],
    core: np.ndarray,
    *,
    reduce: Literal["raise", "mean", "median"] = "raise",
    rtol: float = 1e-5,
) -> ParameterTable:
    """Quantize a network's parameter currents to one BG setting per core and parameter.

    Args:
        params: name (simulator name such as ``"Itau_mem"``, or BG name) -> ``(n,)`` array
            of currents (A), one per neuron; a scalar applies to every neuron.
        core: ``(n,)`` non-negative integer core id of every neuron.
        reduce: what to do when the neurons of one core ask for different values (relative
            spread ``(max - min) / max`` above ``rtol``): ``"raise"`` (default) raises
            :class:`ValueError` naming the parameter, core and spread; ``"mean"`` or
            ``"median"`` quantize that statistic of the core's values instead.
        rtol: relative spread tolerated as float round-off.

    Returns:
        A :class:`ParameterTable`, settings ordered by core then by the order of ``params``.
    """
    checks.choice("quantize_parameters", "reduce", reduce, ("raise", "mean", "median"))
    checks.number("quantize_parameters", "rtol", rtol, lo=0)
    core_arr = np.asarray(core)
    if core_arr.ndim != 1 or core_arr.dtype.kind not in "iu" or np.any(core_arr < 0):
        raise ValueError(
            f"core must be a 1-D array of non-negative integers, got shape {core_arr.shape} "
            f"dtype {core_arr.dtype}"
        )
    n = core_arr.shape[0]
    values: dict[str, np.ndarray] = {}
    for name, v in params.items():
        bg_name(name, "quantize_parameters", "params key")
        arr = np.asarray(v, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise ValueError(f"parameter {name!r} has shape {arr.shape}, expected ({n},)")
        values[name] = arr

    cores = np.unique(core_arr)
    requested = {
        name: _per_core(name, arr, core_arr, cores, reduce, rtol) for name, arr in values.items()
    }
    settings = []
    quantized = {name: quantize_current(name, req) for name, req in requested.items()}
    for k, c in enumerate(cores):
        for name in values:
            cc, ff = quantized[name]
            settings.append(
                ParameterSetting(
                    core=int(c),
                    name=name,
                    bg_name=bg_name(name),
                    requested=float(requested[name][k]),
                    coarse=int(cc[k]),
                    fine=int(ff[k]),
                    current=float(current(name, cc[k], ff[k])),
                )
            )
    return ParameterTable(settings=tuple(settings), core=core_arr.copy())


def _per_core(
    name: str, arr: np.ndarray, core: np.ndarray, cores: np.ndarray, reduce: str, rtol: float
) -> np.ndarray:
    """The current (A) that each core in ``cores`` asks for parameter ``name``, from the
    neurons' ``arr`` ``(n,)`` on ``core`` ``(n,)``: their mean (or median), after checking
    their relative spread against ``rtol`` where ``reduce="raise"`` (see
    :func:`quantize_parameters`)."""
    req = np.empty(cores.shape)
    for k, c in enumerate(cores):
        v = arr[core == c]
        vmax, vmin = np.max(v), np.min(v)
        spread = 0.0 if vmax == vmin else (vmax - vmin) / max(abs(vmax), abs(vmin))
        if spread > rtol and reduce == "raise":
            raise ValueError(
                f"parameter {name!r} differs within core {int(c)}: {vmin:.4g} A .. "
                f"{vmax:.4g} A (relative spread {spread:.3g}); the neurons of a core "
                f"share one BG value (pass reduce='mean' or 'median' to accept that)"
            )
        req[k] = np.median(v) if reduce == "median" else np.mean(v)
    return req
