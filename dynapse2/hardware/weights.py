"""Weight quantization: float weights -> per-core base currents Iw_0..Iw_3 + 4-bit CAM masks.

On the chip a CAM entry's weight is the sum of its core's base currents selected by the
entry's 4-bit mask, so a core offers 16 magnitudes (the subset sums of its 4 bases) shared
by all of its synapse types; the sign comes from the synapse type (AMPA/NMDA excite,
GABA/SHUNT inhibit).

The optimum. For one core with nonzero magnitudes ``a_i`` we want bases ``b >= 0`` (4,)
minimising ``E(b) = sum_i min_m (a_i - S_m(b))**2`` where ``S_m(b) = sum_k bit_k(m) b_k``:
1-D quantization with a codebook constrained to the 16 subset sums of 4 values. It has the
two Lloyd optimality conditions: (1) given ``b``, each weight takes the nearest subset sum;
(2) given the masks ``m_i``, ``E`` is a linear least-squares problem in ``b``,
``min_{b>=0} ||a - M b||**2`` with ``M[i] = bits(m_i)``, solved exactly by enumerating the
15 active sets of 4 non-negative unknowns. Alternating (1) and (2) never increases ``E``
and stops when the masks repeat (a fixed point), so it cannot diverge; with the weights
sorted once and prefix sums, one step costs O(16 log n) whatever the number of weights.
The problem is non-convex (local minima are common on small or heavy-tailed cores), so
:func:`fit_bases` runs Lloyd from many deterministic starts: the best binary grids
``(s, 2s, 4s, 8s)``, the best points of exhaustive grids of base sets, and seeded random
base sets; short runs from all of them, full runs from the best few. On 36 small cores
(16..256 Gaussian and Student-t weights) it stays within 2.5 % of the best found by a
finer exhaustive grid plus 300 random restarts, and matches it on full cores (see
``benchmarks/quantize.py``). A core with at most 4 distinct magnitudes is exact.

Weighted by activity. With ``importance`` ``v_i >= 0`` the objective is ``E(b) = sum_i v_i
min_m (a_i - S_m(b))**2``: the nearest level is still each magnitude's best, and the
least-squares step takes per-mask totals of ``v`` and ``v a`` instead of counts and sums
(weighted prefix sums; the same cost). Integer weights ``v_i = k`` make it the unweighted
objective of each ``a_i`` repeated ``k`` times (the two fits agree to round-off).
``map_network(..., activity=)`` passes ``v_i = rate_i**2``: a postsynaptic neuron's mean
drive changes by ``sum_i rate_i (w_i - q_i)``, whose expected square, the rounding errors taken
as independent, is ``sum_i rate_i**2 (w_i - q_i)**2``. Errors below the smallest level are
not independent (every dropped weight loses drive of the same sign), so with ``rates`` the
rounding, given the levels, keeps each neuron's mean drive per synapse type (see
:func:`quantize_weights`).

After fitting, each base current ``b_k * iscale`` is (optionally, by default) snapped to
the bias generator's nearest coarse/fine setting of ``SYAM_Wk_P`` and the masks recomputed,
so :meth:`QuantizedWeights.dequantize` returns exactly what the chip would hold.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any

import jax
import jax.core  # jax.core.Tracer: a submodule that `import jax` does not declare
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.hardware import bias, chip
from dynapse2.hardware.masks import bit_table
from dynapse2.physics.synapses import SIGN

__all__ = [
    "Dropped",
    "QuantizedWeights",
    "fake_quantize",
    "fake_quantize_levels",
    "fit_bases",
    "quantize_weights",
    "subset_sums",
]

_NB = chip.N_WEIGHT_BITS
_NM = 1 << _NB
BITS: np.ndarray = bit_table(_NB).astype(np.float64)
"""(16, 4) float: row m holds the bits of mask m (bit k selects base current k)."""
_TYPE_SIGN = np.array(SIGN, np.int8)
_MAX_ITER = 500
_SHORT_ITER = 10  # Lloyd steps from every start before the best few run to convergence
_N_FINAL = 4
_N_GRID_STARTS = 16  # best base sets of each start grid
_BLOCK = 2048  # rows of base sets evaluated at a time by _Sorted.sse_many


def subset_sums(base: np.ndarray) -> np.ndarray:
    """The 16 weights a core can realise: ``(..., 4)`` bases -> ``(..., 16)``, index = mask."""
    return np.asarray(base, dtype=np.float64) @ BITS.T


# --- the 1-D fit ---------------------------------------------------------------------------
def _assign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of the nearest subset sum of ``b`` (4,) for each ``a`` (n,); ties: smaller level."""
    lv = subset_sums(b)
    order = np.argsort(lv, kind="stable")
    s = lv[order]
    i = np.clip(np.searchsorted(s, a), 1, _NM - 1)
    pick = np.where(a - s[i - 1] <= s[i] - a, i - 1, i)
    return order[pick]


class _Sorted:
    """Magnitudes sorted once, with prefix sums: any nearest-level assignment then costs
    O(16 log n), independent of the number of weights. Methods take a stack of base sets
    and treat each independently (the same numbers as one at a time, bit for bit)."""

    def __init__(self, a: np.ndarray, v: np.ndarray | None = None):
        if v is None:  # unweighted: counts are integers, the prefix sums those of ``a``
            self.a = np.sort(a)
            self.s0 = None
            self.s1 = np.concatenate([[0.0], np.cumsum(self.a)])
            self.s2 = np.concatenate([[0.0], np.cumsum(self.a**2)])
        else:  # each squared error weighted by v: "counts" and sums are v-weighted
            order = np.argsort(a, kind="stable")
            self.a, v = a[order], v[order]
            self.s0 = np.concatenate([[0.0], np.cumsum(v)])
            self.s1 = np.concatenate([[0.0], np.cumsum(v * self.a)])
            self.s2 = np.concatenate([[0.0], np.cumsum(v * self.a**2)])
        self.aa = float(self.s2[-1])

    def _segments(self, sl: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest-level assignment to ``sl`` (K, 16) levels sorted along each row: the
        boundaries between the levels (K, 15), each level's count and sum of magnitudes
        (K, 16) and the squared error (K,)."""
        k = sl.shape[0]
        cut = np.searchsorted(self.a, 0.5 * (sl[:, 1:] + sl[:, :-1]), side="right")
        edges = np.concatenate(
            [np.zeros((k, 1), cut.dtype), cut, np.full((k, 1), self.a.size, cut.dtype)], axis=1
        )
        cnt = np.diff(edges, axis=1) if self.s0 is None else np.diff(self.s0[edges], axis=1)
        s1 = np.diff(self.s1[edges], axis=1)
        s2 = np.diff(self.s2[edges], axis=1)
        sse = np.maximum(np.sum(s2 - 2 * sl * s1 + sl**2 * cnt, axis=1), 0.0)
        return cut, cnt, s1, sse

    def stats(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Nearest-level assignment to the subset sums of ``b`` (..., 4): for each mask its
        count and sum of magnitudes (..., 16), the boundaries (..., 15), for change detection,
        and the squared error (...)."""
        b = np.asarray(b, dtype=np.float64)
        lead = b.shape[:-1]
        b = b.reshape(-1, _NB)
        # one vector-matrix product per base set: the same rounding as ``b[i] @ BITS.T``
        # (a matrix-matrix product of the stack may sum in another order)
        lv = (b[:, None, :] @ BITS.T)[:, 0]
        order = np.argsort(lv, axis=1, kind="stable")
        cut, cnt, s1, sse = self._segments(np.take_along_axis(lv, order, axis=1))
        count = np.empty_like(lv)
        total = np.empty_like(lv)
        np.put_along_axis(count, order, cnt, axis=1)
        np.put_along_axis(total, order, s1, axis=1)
        return (
            count.reshape(*lead, _NM),
            total.reshape(*lead, _NM),
            cut.reshape(*lead, _NM - 1),
            sse.reshape(lead),
        )

    def sse_many(self, bases: np.ndarray) -> np.ndarray:
        """Squared error (nearest-level masks) of each of ``bases`` (K, 4), vectorised (in
        blocks of rows: the temporaries of a start grid stay in cache)."""
        lv = bases @ BITS.T
        return np.concatenate(
            [
                self._segments(np.sort(lv[i : i + _BLOCK], axis=1))[3]
                for i in range(0, max(len(lv), 1), _BLOCK)
            ]
        )

    def lloyd(self, b: np.ndarray, max_iter: int = _MAX_ITER) -> tuple[np.ndarray, np.ndarray]:
        """Lloyd iterations from each of the base sets ``b`` (..., 4): alternate nearest-level
        masks and exact non-negative least squares until the masks repeat (or ``max_iter``
        steps); the squared error never increases. Returns the bases (..., 4) and their
        squared errors (...)."""
        b = np.array(b, dtype=np.float64)  # a copy: updated in place
        lead = b.shape[:-1]
        b = b.reshape(-1, _NB)
        count, total, cut, sse = self.stats(b)
        run = np.arange(len(b))  # the base sets still iterating
        for _ in range(max_iter):
            if run.size == 0:
                break
            b_new = _nnls4(count[run], total[run], self.aa)
            c_new, t_new, cut_new, sse_new = self.stats(b_new)
            accept = ~(sse_new > sse[run])  # only float round-off can reject
            b[run[accept]] = b_new[accept]
            sse[run[accept]] = sse_new[accept]
            go = accept & np.any(cut_new != cut[run], axis=1)  # accepted, masks changed
            run = run[go]
            count[run], total[run], cut[run] = c_new[go], t_new[go], cut_new[go]
        return b.reshape(*lead, _NB), sse.reshape(lead)


def _nnls4(count: np.ndarray, total: np.ndarray, aa: float) -> np.ndarray:
    """Exact ``argmin_{b >= 0} aa - 2 b.rhs + b.G.b`` for each row of K problems, with the
    Gram matrix ``G = BITS.T diag(count) BITS`` (K, 4, 4) and ``rhs = BITS.T total`` (K, 4)
    from the per-mask ``count`` and ``total`` (K, 16) of a nearest-level assignment. Returns
    (K, 4): the unconstrained solution where it is non-negative, else :func:`_nnls4_one`."""
    gram = BITS.T @ (count[:, :, None] * BITS)
    rhs = (BITS.T @ total[:, :, None])[:, :, 0]  # per row, the rounding of ``BITS.T @ total``
    # G is singular exactly when the masks in use do not span R^4: test that on their
    # small integer Gram matrix (determinant 0 or >= 1) and leave those rows to _nnls4_one.
    used = (count > 0).astype(np.float64)
    ok = np.abs(np.linalg.det(BITS.T @ (used[:, :, None] * BITS))) > 0.5
    x = np.zeros_like(rhs)
    try:
        x[ok] = np.linalg.solve(gram[ok], rhs[ok][:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:  # an exact zero pivot by round-off: do them one by one
        ok[:] = False
    ok &= np.all(x >= 0, axis=1) & np.all(np.isfinite(x), axis=1)
    for i in np.flatnonzero(~ok):
        x[i] = _nnls4_one(gram[i], rhs[i], aa)
    return x


_ACTIVE_SETS = [np.flatnonzero(BITS[m]) for m in range(1, _NM)]  # free unknowns of _nnls4_one


def _nnls4_one(gram: np.ndarray, rhs: np.ndarray, aa: float) -> np.ndarray:
    """:func:`_nnls4` for one problem, ``gram`` (4, 4) and ``rhs`` (4,): the unconstrained
    solution when it is non-negative, else active-set enumeration."""
    try:
        x = np.linalg.solve(gram, rhs)
        if np.all(x >= 0) and np.all(np.isfinite(x)):
            return x
    except np.linalg.LinAlgError:
        pass
    best, best_obj = np.zeros(_NB), aa
    for idx in _ACTIVE_SETS:
        x = np.linalg.lstsq(gram[idx[:, None], idx], rhs[idx], rcond=None)[0]
        if np.any(x < 0):
            continue
        b = np.zeros(_NB)
        b[idx] = x
        obj = aa - 2 * b @ rhs + b @ gram @ b
        if obj < best_obj - 1e-13 * aa:
            best, best_obj = b, obj
    return best


def _binary_scales(data: _Sorted, n_best: int) -> list[float]:
    """Steps ``s`` of the ``n_best`` best binary grids ``0, s, ..., 15 s`` (local minima of
    the error over a log grid of steps, best first)."""
    top = data.a[-1] / (_NM - 1)
    cands = top * np.geomspace(0.02, 1.5, 160)  # ratio 1.027 between neighbours
    grid = 2.0 ** np.arange(_NB)
    sse = data.sse_many(cands[:, None] * grid[None, :])
    is_min = np.r_[True, sse[1:-1] <= np.minimum(sse[:-2], sse[2:]), True]
    idx = np.flatnonzero(is_min)
    return [float(cands[i]) for i in idx[np.argsort(sse[idx], kind="stable")][:n_best]]


def _grid(values: np.ndarray) -> np.ndarray:
    """All sorted 4-tuples of ``values``, shape (K, 4)."""
    return np.array(list(itertools.combinations_with_replacement(values, _NB)))


# Start grids, scaled by max|w|: 24 linear points (17550 sets), 16 geometric (3876 sets).
_LIN_GRID = _grid(np.linspace(0.0, 1.0, 24))
_GEO_GRID = _grid(np.r_[0.0, np.geomspace(1e-3, 1.0, 15)])


def fit_bases(
    a: np.ndarray, *, restarts: int = 64, importance: np.ndarray | None = None
) -> np.ndarray:
    """Four base values (same units as ``a``) minimising the nearest-subset-sum L2 error,
    ``sum_i v_i (a_i - q(a_i))**2`` with ``v_i = importance[i]`` (1 without ``importance``).

    Lloyd iterations (see the module docstring) from: the 4 best binary grids, the 16 best
    base sets of each of two exhaustive grids (24 linear and 16 geometric points per axis
    over [0, max a]), and ``restarts`` random base sets (log-uniform in [min a, max a],
    fixed seed). Every start gets 10 Lloyd steps; the 4 best then run to convergence. The
    weights change only the sums of the least-squares step (per-mask totals of ``v`` and
    ``v a`` instead of counts and sums) and the error; the nearest level stays each
    magnitude's best level whatever its weight, so the assignment step is unchanged.

    Args:
        a: ``(n,)`` positive magnitudes (zeros are not connections and must be left out).
        restarts: random starting points besides the grid ones.
        importance: ``(n,)`` non-negative finite weights of the squared errors (e.g. the
            presynaptic rates, or their squares: see
            :func:`~dynapse2.hardware.network.map_network`'s ``activity``); only their
            ratios matter. ``None``, or all zero, fits the unweighted error (the same
            numbers as without the argument).

    Returns:
        ``(4,)`` non-negative bases, deterministic in ``a`` (and ``importance``).

    Raises:
        ValueError: ``importance`` of another shape than ``a``, negative or not finite.
    """
    a = np.asarray(a, dtype=np.float64)
    v = _check_importance("fit_bases", importance, a.shape)
    if a.size == 0:
        return np.zeros(_NB)
    uniq = np.unique(a)
    if uniq.size <= _NB:  # every magnitude gets its own base: exact
        return np.concatenate([uniq, np.zeros(_NB - uniq.size)])
    data = _Sorted(a, v if v is not None and np.any(v > 0) else None)
    top = data.a[-1]
    starts = [s * 2.0 ** np.arange(_NB) for s in _binary_scales(data, 4)]
    for unit in (_LIN_GRID, _GEO_GRID):
        grid = unit * top
        starts += list(grid[np.argsort(data.sse_many(grid), kind="stable")[:_N_GRID_STARTS]])
    log_lo = np.log(data.a[0])
    rng = np.random.default_rng(0)
    starts += list(np.exp(rng.uniform(log_lo, np.log(top), (restarts, _NB))))
    # Short runs from every start, then the most promising ones to convergence.
    b, sse = data.lloyd(np.array(starts), _SHORT_ITER)
    b, sse = data.lloyd(b[np.argsort(sse, kind="stable")[:_N_FINAL]])
    i = int(np.argmin(sse))  # the first of the best
    return b[i] if sse[i] < data.aa else np.zeros(_NB)


def _check_importance(
    where: str, importance: Any, shape: tuple[int, ...], name: str = "importance"
) -> np.ndarray | None:
    """``importance`` as a float64 array of ``shape`` (or ``None``); a ValueError naming
    ``where``, ``name``, the shape or the first bad value otherwise."""
    if importance is None:
        return None
    v = np.asarray(importance, dtype=np.float64)
    if v.shape != shape:
        raise ValueError(f"{where}: {name} must have shape {shape}, got {v.shape}")
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"{where}: {name} must be finite and >= 0; {name}{list(i)} = {v[i]}")
    return v


# --- the public quantizer --------------------------------------------------------------------
@dataclass(frozen=True)
class Dropped:
    """Connections removed by quantization: ``index`` (k, w.ndim) into ``w``, ``weight`` (k,)."""

    index: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return int(self.weight.shape[0])


@dataclass(frozen=True)
class QuantizedWeights:
    """Weights as the chip holds them.

    Attributes:
        base: ``(n_cores, 4)`` base currents Iw_0..Iw_3 of each core, amperes.
        base_coarse, base_fine: ``(n_cores, 4)`` BG settings of SYAM_W0_P..SYAM_W3_P, or
            ``None`` when quantized with ``bias_quantize=False``.
        mask: ``w``'s shape, int 0..15; 0 = no CAM entry.
        sign: ``w``'s shape, int8 in {-1, 0, 1}: the sign of each connection (signed input)
            or of its synapse type (typed input); 0 where there is no connection.
        core: ``(n_post,)`` core of each postsynaptic neuron.
        iscale: amperes of a unit weight.
        typed: True when ``w`` was ``(n_pre, n_post, 4)`` per synapse type.
        error: ``(n_cores,)`` relative L2 error ``||w - dequantize()|| / ||w||`` over each
            core's postsynaptic columns (0 for a core without weights), pruned and dropped
            connections included.
        fan_in: ``(n_post,)`` CAM entries used by each postsynaptic neuron (nonzero masks).
        pruned: connections removed to respect ``max_fan_in`` (with ``prune=True``).
        dropped: nonzero connections rounded to level 0 (mask 0: no CAM entry).
    """

    base: np.ndarray
    base_coarse: np.ndarray | None
    base_fine: np.ndarray | None
    mask: np.ndarray
    sign: np.ndarray
    core: np.ndarray
    iscale: float
    typed: bool
    error: np.ndarray
    fan_in: np.ndarray
    pruned: Dropped
    dropped: Dropped

    def dequantize(self) -> np.ndarray:
        """Weights in ``w``'s shape and units (of ``iscale``): ``sign * sum(selected base) /
        iscale`` for signed input; for typed input the non-negative magnitudes per type."""
        lv = subset_sums(self.base) / self.iscale  # (n_cores, 16)
        core = self.core[None, :, None] if self.typed else self.core[None, :]
        mag = lv[core, self.mask]
        return mag if self.typed else self.sign * mag


def _check_inputs(
    w, core, iscale, max_fan_in, prune, bias_quantize
) -> tuple[np.ndarray, np.ndarray, float]:
    where = "quantize_weights"
    iscale = checks.number(where, "iscale (a current in A)", iscale, lo=0, lo_open=True)
    checks.integer(where, "max_fan_in", max_fan_in, lo=1, hi=chip.N_CAM)
    checks.boolean(where, "prune", prune)
    checks.boolean(where, "bias_quantize", bias_quantize)
    w = np.asarray(w, dtype=np.float64)
    if not (w.ndim == 2 or (w.ndim == 3 and w.shape[2] == len(chip.SYNAPSE_TYPES))):
        raise ValueError(
            f"{where}: w must be (n_pre, n_post) signed or "
            f"(n_pre, n_post, {len(chip.SYNAPSE_TYPES)}) "
            f"per synapse type {chip.SYNAPSE_TYPES}, got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError(
            f"quantize_weights: w must be finite; found {int(np.sum(~np.isfinite(w)))} non-finite"
        )
    if w.ndim == 3 and np.any(w < 0):
        i = tuple(int(k) for k in np.argwhere(w < 0)[0])
        raise ValueError(
            f"{where}: typed weights must be >= 0 (the synapse type gives the sign); "
            f"w{list(i)} = {w[i]}"
        )
    core = np.asarray(core)
    if core.shape != (w.shape[1],) or core.dtype.kind not in "iu" or np.any(core < 0):
        raise ValueError(
            f"{where}: core must be ({w.shape[1]},) non-negative integers (one per postsynaptic "
            f"neuron), got shape {core.shape} dtype {core.dtype}"
        )
    return w, core.astype(np.int64), iscale


def _dropped(idx_mask: np.ndarray, w: np.ndarray) -> Dropped:
    index = np.argwhere(idx_mask)
    return Dropped(index=index, weight=w[idx_mask])


def _importance_of(importance: np.ndarray | None, w: np.ndarray) -> np.ndarray | None:
    """:func:`quantize_weights`'s ``importance`` checked and broadcast to ``w``'s shape (or
    ``None``)."""
    if importance is None:
        return None
    shape = np.shape(importance)
    if shape not in (w.shape[:1], w.shape):
        raise ValueError(
            f"quantize_weights: importance must have shape ({w.shape[0]},) (one per "
            f"presynaptic source) or w's shape {w.shape}, got {shape}"
        )
    v = _check_importance("quantize_weights", importance, shape)
    assert v is not None  # importance is not None
    return np.broadcast_to(v.reshape(shape + (1,) * (w.ndim - len(shape))), w.shape)


def quantize_weights(
    w: np.ndarray,
    core: np.ndarray,
    iscale: float,
    *,
    max_fan_in: int = chip.N_CAM,
    prune: bool = False,
    bias_quantize: bool = True,
    importance: np.ndarray | None = None,
    rates: np.ndarray | None = None,
) -> QuantizedWeights:
    """Quantize weights to per-core base currents and 4-bit masks.

    Each core's bases minimise the (weighted) squared error of its weights' magnitudes
    (:func:`fit_bases`); each weight then takes its nearest level, or with ``rates`` one of
    its two neighbouring levels chosen to keep each neuron's mean drive.

    Args:
        w: ``(n_pre, n_post)`` signed weights, or ``(n_pre, n_post, 4)`` non-negative weights
            per synapse type (order ``chip.SYNAPSE_TYPES``), in units of ``iscale``. Zero =
            no connection (no CAM entry): exact and not counted toward the fan-in.
        core: ``(n_post,)`` integer core id of each postsynaptic neuron; ``n_cores`` is
            ``max(core) + 1`` (cores without neurons get zero bases).
        iscale: amperes of a unit weight.
        max_fan_in: most nonzero incoming connections (over all types) per postsynaptic
            neuron; at most ``chip.N_CAM``.
        prune: over ``max_fan_in``, keep the strongest connections (ties: lower pre index,
            then lower type index) and report the rest in ``.pruned``, instead of raising.
        bias_quantize: snap the base currents to the BG's coarse/fine grid (SYAM_Wk_P) and
            recompute the masks, so the result is what the chip holds.
        importance: non-negative finite weights of each connection's squared error in the
            fit of its core's bases: ``(n_pre,)``, one per presynaptic source (e.g. its rate,
            or rate squared: :func:`~dynapse2.hardware.network.map_network`'s ``activity``),
            or ``w``'s shape. Only ratios within a core matter; a core whose connections
            all have importance 0 is fitted unweighted. ``None`` (default): unweighted.
            ``error`` stays the unweighted relative error.
        rates: ``(n_pre,)`` non-negative finite presynaptic rates (any unit): round so as to
            keep each postsynaptic neuron's mean drive per synapse type (per sign for
            signed ``w``), ``sum_i rates_i w_i``. Every weight starts at its nearest level;
            then, per neuron and type, the connection whose move to its other neighbouring
            level shrinks ``|sum_i rates_i (|w_i| - q_i)|`` most moves (each at most once),
            until no move shrinks it. Nearest rounding drops every weight below half the
            smallest level, so a neuron's small weights lose their drive all together (one
            sign of error); this puts some of them on the smallest level instead, and may
            as well drop one whose neighbours round up. ``None`` (default): nearest level.

    Returns:
        A :class:`QuantizedWeights`.

    Raises:
        ValueError: bad shapes or values; a neuron over ``max_fan_in`` (``prune=False``),
            naming the neuron and its count; base currents outside the BG's range.
    """
    w, core, iscale = _check_inputs(w, core, iscale, max_fan_in, prune, bias_quantize)
    v = _importance_of(importance, w)
    rates = _check_importance("quantize_weights", rates, w.shape[:1], "rates")
    typed = w.ndim == 3
    n_post = w.shape[1]
    mag = np.abs(w)
    keep, cut = _fan_in_cut(mag, typed, max_fan_in, prune)
    kept_mag = np.where(keep, mag, 0.0)
    n_cores = int(core.max()) + 1 if n_post else 0
    col_core = np.broadcast_to(core[None, :, None] if typed else core[None, :], w.shape)
    base = np.zeros((n_cores, _NB))  # each core's bases (A), fitted to its kept magnitudes
    for c in range(n_cores):
        sel = keep & (col_core == c)
        base[c] = fit_bases(kept_mag[sel], importance=None if v is None else v[sel]) * iscale
    base_coarse = base_fine = None
    if bias_quantize:
        base, base_coarse, base_fine = _snap_bases(base, iscale)
    if rates is not None:
        mask = _drive_mask_of(kept_mag, keep, rates, base / iscale, core, typed, w)
    else:
        mask = np.zeros(w.shape, dtype=np.int64)
        for c in range(n_cores):
            sel = keep & (col_core == c)
            mask[sel] = _assign(kept_mag[sel], base[c] / iscale)
    sign = np.where(mask > 0, _TYPE_SIGN if typed else np.sign(w), 0).astype(np.int8)
    result = QuantizedWeights(
        base=base,
        base_coarse=base_coarse,
        base_fine=base_fine,
        mask=mask,
        sign=sign,
        core=core,
        iscale=iscale,
        typed=typed,
        error=np.zeros(n_cores),
        fan_in=np.count_nonzero(
            np.moveaxis(mask, 1, -1).reshape(-1, n_post) if typed else mask, axis=0
        ),
        pruned=_dropped(cut, w),
        dropped=_dropped(keep & (mask == 0), w),
    )
    return replace(result, error=_core_errors(result, w, n_cores))


def _drive_mask_of(
    kept_mag: np.ndarray,
    keep: np.ndarray,
    rates: np.ndarray,
    base: np.ndarray,
    core: np.ndarray,
    typed: bool,
    w: np.ndarray,
) -> np.ndarray:
    """:func:`_drive_masks` on ``w``'s layout (``base`` in units of ``w``): its groups are
    (postsynaptic neuron, synapse type) for typed ``w``, (neuron, sign) for signed."""
    n_pre, n_post = w.shape[:2]
    if typed:
        n_t = w.shape[2]
        a = np.moveaxis(kept_mag, 2, 1).reshape(n_pre, n_t * n_post)  # group t * n_post + j
        k = np.moveaxis(keep, 2, 1).reshape(n_pre, n_t * n_post)
        m = _drive_masks(a, k, rates, base, np.tile(core, n_t))
        return np.moveaxis(m.reshape(n_pre, n_t, n_post), 1, 2)
    pos = w > 0
    a = np.concatenate([np.where(pos, kept_mag, 0), np.where(~pos, kept_mag, 0)], axis=1)
    k = np.concatenate([keep & pos, keep & ~pos], axis=1)
    m = _drive_masks(a, k, rates, base, np.tile(core, 2))
    return m[:, :n_post] + m[:, n_post:]


def _drive_masks(
    mag: np.ndarray, keep: np.ndarray, rate: np.ndarray, base: np.ndarray, core: np.ndarray
) -> np.ndarray:
    """Masks that keep each postsynaptic neuron's mean drive per sign (synapse type).

    ``mag`` ``(n_pre, G)`` magnitudes of G groups (a postsynaptic neuron and a sign or a
    synapse type), ``keep`` where connected, ``rate`` ``(n_pre,)``, ``base`` ``(n_cores, 4)``
    in units of the magnitudes, ``core`` ``(G,)``. Each magnitude starts at its nearest
    level (:func:`_assign`'s choice); then, group by group, the connection whose move to its
    other neighbouring level shrinks ``|sum_i rate_i (a_i - q_i)|`` most moves, once at
    most, until no move shrinks it. Returns ``(n_pre, G)`` masks."""
    n_pre, n_grp = mag.shape
    # each group's connections, in row order (K, G): the K rows a group has at most
    k_max = int(keep.sum(axis=0).max(initial=0))
    rows = np.argsort(~keep, axis=0, kind="stable")[:k_max]
    a = np.take_along_axis(mag, rows, axis=0)
    on = np.take_along_axis(keep, rows, axis=0)
    r = rate[rows]
    q, other = np.zeros_like(a), np.zeros_like(a)
    m_near, m_other = np.zeros(a.shape, np.int64), np.zeros(a.shape, np.int64)
    for c in np.unique(core).tolist():
        cols = np.flatnonzero(core == c)
        lv = subset_sums(base[c])
        order = np.argsort(lv, kind="stable")
        s = lv[order]
        ac = a[:, cols]
        i = np.clip(np.searchsorted(s, ac), 1, _NM - 1)
        near = np.where(ac - s[i - 1] <= s[i] - ac, i - 1, i)
        far = np.where(near == i - 1, i, i - 1)
        q[:, cols], other[:, cols] = s[near], s[far]
        m_near[:, cols], m_other[:, cols] = order[near], order[far]
    err = np.sum(np.where(on, r * (a - q), 0.0), axis=0)  # (G,) mean drive lost
    tol = 1e-12 * np.sum(np.where(on, r * a, 0.0), axis=0)
    open_ = on & (r > 0) & (other != q)
    step = r * (q - other)  # the change of err if moved
    moved = np.zeros_like(on)
    cols = np.arange(n_grp)
    while k_max:
        gain = np.where(open_, np.abs(err) - np.abs(err + step), -np.inf)
        best = np.argmax(gain, axis=0)  # ties: the lowest row
        go = gain[best, cols] > tol
        if not go.any():
            break
        b, g = best[go], cols[go]
        err[g] += step[b, g]
        open_[b, g] = False
        moved[b, g] = True
    out = np.zeros((n_pre, n_grp), np.int64)
    np.put_along_axis(out, rows, np.where(moved, m_other, m_near) * on, axis=0)
    return out


def _fan_in_cut(
    mag: np.ndarray, typed: bool, max_fan_in: int, prune: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(keep, cut)``: the connections kept (nonzero, within the fan-in) and those pruned,
    both of ``mag``'s shape; a ValueError naming the neurons over ``max_fan_in`` unless
    ``prune`` (the strongest are kept; ties: lower pre index, then lower type index)."""
    n_pre, n_post = mag.shape[:2]
    flat = np.moveaxis(mag, 1, -1).reshape(-1, n_post) if typed else mag  # (n_pre*T, n_post)
    counts = np.count_nonzero(flat, axis=0)
    over = np.flatnonzero(counts > max_fan_in)
    keep = mag > 0
    if over.size and not prune:
        listed = ", ".join(f"neuron {j}: {counts[j]}" for j in over[:10])
        raise ValueError(
            f"postsynaptic {listed}{' ...' if over.size > 10 else ''} nonzero incoming "
            f"connections exceed max_fan_in={max_fan_in} (CAM entries per neuron); "
            f"pass prune=True to keep the strongest"
        )
    if not over.size:
        return keep, np.zeros_like(keep)
    rank = np.empty((flat.shape[0], over.size), dtype=np.int64)
    order = np.argsort(-flat[:, over], axis=0, kind="stable")
    np.put_along_axis(rank, order, np.arange(flat.shape[0])[:, None], axis=0)
    cut = np.zeros_like(flat, dtype=bool)
    cut[:, over] = rank >= max_fan_in
    cut &= flat > 0
    if typed:
        cut = np.moveaxis(cut.reshape(n_pre, len(chip.SYNAPSE_TYPES), n_post), -1, 1)
    return keep & ~cut, cut


def _snap_bases(base: np.ndarray, iscale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(base, coarse, fine)``: the base currents (A) ``(n_cores, 4)`` snapped to the BG's
    grid (SYAM_Wk_P) and their settings; a ValueError naming the core above the BG's range."""
    base = base.copy()
    n_cores = base.shape[0]
    base_coarse = np.zeros((n_cores, _NB), dtype=np.int64)
    base_fine = np.zeros((n_cores, _NB), dtype=np.int64)
    for k, name in enumerate(chip.BASE_WEIGHT_PARAMETERS):
        hi = bias.current_range(name)[1]
        if np.any(base[:, k] > hi):
            c = int(np.argmax(base[:, k]))
            raise ValueError(
                f"core {c}: base weight current {k} ({name}) = {base[c, k]:.4g} A is above "
                f"the {hi:.4g} A the bias generator can produce; use an iscale below "
                f"{iscale * hi / base[c, k]:.3g} A (now {iscale:.3g} A)"
            )
        base_coarse[:, k], base_fine[:, k] = bias.quantize_current(name, base[:, k])
        base[:, k] = bias.current(name, base_coarse[:, k], base_fine[:, k])
    return base, base_coarse, base_fine


def _core_errors(q: QuantizedWeights, w: np.ndarray, n_cores: int) -> np.ndarray:
    """Relative RMS error of the dequantized weights per core, ``(n_cores,)``."""
    diff2 = (q.dequantize() - w) ** 2
    axes = (0, 2) if q.typed else (0,)
    num = np.bincount(q.core, weights=diff2.sum(axis=axes), minlength=n_cores)
    den = np.bincount(q.core, weights=(w**2).sum(axis=axes), minlength=n_cores)
    return np.sqrt(np.divide(num, den, out=np.zeros(n_cores), where=den > 0))


# --- quantization-aware training --------------------------------------------------------------
def fake_quantize(w: jax.Array, base: jax.Array, core: jax.Array, iscale: float) -> jax.Array:
    """Straight-through quantizer for quantization-aware training (jit-compatible).

    Forward: every weight becomes its nearest realisable value, ``sign(w) * S_m(base[core])
    / iscale`` (0 stays 0; typed weights keep their non-negative magnitudes). Backward: the
    identity, so gradients pass straight through (see :func:`fake_quantize_levels`).

    Args:
        w: ``(n_pre, n_post)`` signed or ``(n_pre, n_post, 4)`` weights, units of ``iscale``.
        base: ``(n_cores, 4)`` base currents (A), e.g. ``QuantizedWeights.base``.
        core: ``(n_post,)`` int core of each postsynaptic neuron.
        iscale: amperes of a unit weight.

    Returns:
        Array of ``w``'s shape. Memory: ``w.size * 16`` floats for the nearest-level search.
    """
    if not isinstance(iscale, jax.core.Tracer):  # traced under jit: checked by the caller
        checks.number("fake_quantize", "iscale (a current in A)", iscale, lo=0, lo_open=True)
    w, base, core = _check_fake_inputs("fake_quantize", w, base, core, "base", 4)
    levels = (base @ jnp.asarray(BITS.T, dtype=base.dtype)) / iscale
    return _fake_quantize_levels(w, levels, core)


def _check_fake_inputs(
    where: str, w: Any, table: Any, core: Any, table_name: str, width: int
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The static checks of :func:`fake_quantize` and :func:`fake_quantize_levels`: the kinds
    and shapes of ``w``, the table (``base`` ``(n_cores, 4)`` or ``levels`` ``(n_cores,
    16)``) and ``core``, which are static under ``jit``; the values of ``core`` only where
    they are host data (a list or a NumPy array, never traced). Returns them as JAX arrays."""

    def array(name: str, v: Any, kinds: str, what: str) -> jax.Array:
        if isinstance(v, list | tuple):
            try:
                v = np.asarray(v)
            except ValueError:
                v = None
        kind = getattr(getattr(v, "dtype", None), "kind", None)
        if kind is None or kind not in kinds or not hasattr(v, "shape"):
            got = type(v).__name__ if kind is None else f"{type(v).__name__} of dtype {v.dtype}"
            raise TypeError(f"{where}: {name} must be an array of {what}, got {got}")
        return v if isinstance(v, jax.Array) else jnp.asarray(v)

    n_types = len(chip.SYNAPSE_TYPES)
    w = array("w", w, "f", "floating-point weights")
    if not (w.ndim == 2 or (w.ndim == 3 and w.shape[2] == n_types)):
        raise ValueError(
            f"{where}: w has shape {w.shape}; expected (n_pre, n_post) signed or "
            f"(n_pre, n_post, {n_types}) per synapse type"
        )
    host_core = core if isinstance(core, np.ndarray | list | tuple) else None
    table = array(table_name, table, "iuf", "real numbers")
    if table.ndim != 2 or table.shape[1] != width or table.shape[0] == 0:
        raise ValueError(
            f"{where}: {table_name} has shape {table.shape}; expected (n_cores, {width}) "
            "with n_cores >= 1"
        )
    core = array("core", core, "iu", "integer core ids")
    if core.shape != (w.shape[1],):
        raise ValueError(
            f"{where}: core has shape {core.shape}; expected ({w.shape[1]},), one core id "
            f"per postsynaptic neuron of w {w.shape}"
        )
    if host_core is not None:
        c = np.asarray(host_core)
        bad = (c < 0) | (c >= table.shape[0])
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(
                f"{where}: core[{i}] = {int(c[i])} is not a row of {table_name} "
                f"(0..{table.shape[0] - 1})"
            )
    return w, table, core


def fake_quantize_levels(w: jax.Array, levels: jax.Array, core: jax.Array) -> jax.Array:
    """:func:`fake_quantize` with the level table given: ``levels`` ``(n_cores, 16)`` holds
    each core's 16 realisable magnitudes (index = mask, units of ``iscale``), e.g.
    ``levels.level_table(base, iscale)``.

    Forward: ``sign(w) * levels[core[j], m]`` with ``m`` the nearest level to ``|w|`` (first
    mask on a tie); the value is exactly the table's entry (written ``q + (w -
    stop_gradient(w))``, whose forward value is ``q`` bit for bit). Backward: identity.

    Args:
        w: ``(n_pre, n_post)`` signed or ``(n_pre, n_post, 4)`` non-negative weights.
        levels: ``(n_cores, 16)`` magnitudes, same dtype as ``w``.
        core: ``(n_post,)`` int core (row of ``levels``) of each postsynaptic neuron.

    Returns:
        Array of ``w``'s shape and dtype.

    Raises:
        TypeError: ``w`` is not an array of floats, ``levels`` not an array of real numbers,
            ``core`` not an array of integers.
        ValueError: a shape differs from the above, or (for a ``core`` given as host data, a
            list or a NumPy array) a core id is not a row of ``levels``. Only kinds and
            shapes are checked for JAX arrays, so that this runs under ``jit``.
    """
    w, levels, core = _check_fake_inputs("fake_quantize_levels", w, levels, core, "levels", _NM)
    return _fake_quantize_levels(w, levels, core)


def _fake_quantize_levels(w: jax.Array, levels: jax.Array, core: jax.Array) -> jax.Array:
    lv = jnp.asarray(levels, dtype=w.dtype)[core]  # (n_post, 16)
    if w.ndim == 3:
        lv = lv[:, None, :]
    a = jnp.abs(w)
    idx = jnp.argmin(jnp.abs(a[..., None] - lv), axis=-1)
    q = (
        jnp.sign(w)
        * jnp.take_along_axis(jnp.broadcast_to(lv, (*a.shape, _NM)), idx[..., None], -1)[..., 0]
    )
    q = jax.lax.stop_gradient(q)
    return q + (w - jax.lax.stop_gradient(w))
