"""Canonical per-core weight representation, so that quantization is idempotent.

:func:`~dynapse2.hardware.weights.quantize_weights` fits base currents to float weights. Run
again on its own output (a network rebuilt from a configuration), a fit may find *other*
bases that give the same weights (levels {b0, b1, b0+b1} are also the unique values
{b0, b1, b0+b1}), and so another configuration. This module fixes one representation per
set of levels:

- :func:`recover` finds, from the distinct nonzero magnitudes of a core, at most 4 base
  currents, each a bias-generator value of ``SYAM_Wk_P``, whose subset sums reproduce every
  magnitude exactly (to ``rtol``). Greedy on sorted magnitudes: the smallest magnitude that
  is not a subset sum of the bases found so far brings a new base, ``magnitude - s`` for a
  subset sum ``s`` of those bases (backtracking over the choices of ``s``, largest first;
  fewest bases first); a candidate must be a BG value. It succeeds whenever every used base
  appears alone, or combined only with smaller bases, among the magnitudes (always when a
  core uses all 15 levels), and often otherwise.
- :func:`canonical_quantize` quantizes a layer: for each core, weights that are already
  exact are recovered as they are; others are fitted by ``quantize_weights`` and the
  levels of the fit are then recovered, which gives the same weights in the canonical form.
  Bases are sorted ascending (unused ones 0 A), and a magnitude's mask is the subset of
  fewest bases, then the smallest mask, that sums to it. A core whose fitted levels cannot
  be recovered keeps the fit (bases sorted, unused ones zeroed); re-quantizing its weights
  may then give another configuration (``CanonicalWeights.recovered`` says which cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dynapse2.hardware import bias, chip
from dynapse2.hardware.masks import bit_table
from dynapse2.hardware.weights import QuantizedWeights, quantize_weights

__all__ = ["CanonicalWeights", "canonical_quantize", "level_table", "recover"]

_NB = chip.N_WEIGHT_BITS
_NM = 1 << _NB
_BITS = bit_table(_NB).tolist()
# Masks in preference order: fewest bases, then smallest integer.
_PREFERENCE = sorted(range(1, _NM), key=lambda m: (bin(m).count("1"), m))
# recover() snaps a base to one register's BG table and may place it in another: that is
# exact only because the four base-weight registers share one table.
assert len({(chip.CORE_PARAMETERS[n], chip.BG_SCALE[n]) for n in chip.BASE_WEIGHT_PARAMETERS}) == 1
RTOL = 1e-6
"""Relative tolerance (of the largest magnitude) within which two magnitudes are equal:
float32 weights carry ~6e-8 relative error."""


def level_table(base: np.ndarray, iscale: float) -> np.ndarray:
    """Weight of every mask on every core, ``(n_cores, 16)``, in units of ``iscale``.

    Summed base by base in a fixed order, element-wise, so that the same base currents give
    bit-identical levels whatever the array shape (the mapper and the configuration reader
    both call this).

    Args:
        base: ``(n_cores, 4)`` base currents Iw_0..Iw_3 (A).
        iscale: amperes of a unit weight.
    """
    base = np.asarray(base, np.float64)
    out = np.zeros((base.shape[0], _NM))
    for m in range(_NM):
        s = np.zeros(base.shape[0])
        for k in range(_NB):
            if _BITS[m][k]:
                s = s + base[:, k]
        out[:, m] = s / iscale
    return out


def _snap(name: str, amps: float) -> tuple[int, int, float] | None:
    """The BG setting of ``name`` producing ``amps`` exactly (to RTOL), or None."""
    lo, hi = bias.current_range(name)
    if amps <= 0 or amps > hi * (1 + RTOL):
        return None
    c, f = bias.quantize_current(name, min(amps, hi))
    got = float(bias.current(name, c, f))
    if got <= 0 or abs(got - amps) > RTOL * amps:
        return None
    return int(c), int(f), got


def _distinct(mags: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``mags`` (> 0), merging values within RTOL of the largest."""
    a = np.sort(mags[mags > 0])
    if a.size == 0:
        return a
    tol = RTOL * a[-1]
    keep = np.r_[True, np.diff(a) > tol]
    return a[keep]


def recover(mags: np.ndarray, iscale: float) -> list[tuple[int, int, float]] | None:
    """Base currents that reproduce every magnitude exactly, or None.

    Args:
        mags: non-negative magnitudes of one core (units of ``iscale``); zeros are ignored.
        iscale: amperes of a unit weight.

    Returns:
        Up to 4 ``(coarse, fine, amps)`` BG settings of the bases, ascending in current
        (``SYAM_W0_P`` first); None when no such set is found.
    """
    levels = _distinct(np.asarray(mags, np.float64))
    if levels.size > _NM - 1:
        return None
    if levels.size == 0:
        return []
    tol = RTOL * levels[-1]

    def sums(bases: list[float]) -> np.ndarray:
        s = np.zeros(1)
        for b in bases:
            s = np.concatenate([s, s + b])
        return s

    def search(bases: list[float], settings: list, most: int) -> list | None:
        s = sums(bases)
        missing = [v for v in levels if np.min(np.abs(s - v)) > tol]
        if not missing:
            return settings
        if len(bases) == most:
            return None
        v = missing[0]
        # v = new base + an existing subset sum; the largest sum first (smallest new base)
        for part in np.unique(s[s < v - tol])[::-1]:
            cand = _snap(chip.BASE_WEIGHT_PARAMETERS[len(bases)], (v - part) * iscale)
            if cand is None:
                continue
            found = search(bases + [cand[2] / iscale], settings + [cand], most)
            if found is not None:
                return found
        return None

    found = None
    for most in range(1, _NB + 1):  # fewest bases first
        found = search([], [], most)
        if found is not None:
            break
    if found is None:
        return None
    # Ascending order; a current must be a BG value of the register it lands in: all four
    # SYAM_Wk_P share one BG table, so a value valid for one is valid for every one.
    return sorted(found, key=lambda t: t[2])


@dataclass(frozen=True)
class CanonicalWeights:
    """A layer's weights as the chip holds them, in the canonical form.

    Attributes:
        coarse, fine: ``(n_cores, 4)`` BG settings of SYAM_W0_P..SYAM_W3_P per core.
        base: ``(n_cores, 4)`` their currents (A).
        mask: ``w``'s shape, 4-bit masks (0: no CAM entry).
        recovered: ``(n_cores,)`` True where the canonical form was found (re-quantizing
            the dequantized weights then gives the same settings and masks).
        fit: the :class:`~dynapse2.hardware.weights.QuantizedWeights` of the fit (its
            ``error``, ``dropped`` and ``pruned`` describe the quantization).
    """

    coarse: np.ndarray
    fine: np.ndarray
    base: np.ndarray
    mask: np.ndarray
    recovered: np.ndarray
    fit: QuantizedWeights


def _masks_for(mags: np.ndarray, base: np.ndarray, iscale: float, tol: float) -> np.ndarray:
    """Preferred mask of each magnitude (0 for 0); every magnitude must be a subset sum."""
    lv = level_table(base[None, :], iscale)[0]
    out = np.zeros(mags.shape, np.int64)
    todo = mags > 0
    for m in _PREFERENCE:
        hit = todo & (np.abs(mags - lv[m]) <= tol)
        out[hit] = m
        todo &= ~hit
    if todo.any():
        raise AssertionError("a magnitude is no subset sum of the recovered bases")
    return out


def canonical_quantize(
    w: np.ndarray,
    core: np.ndarray,
    iscale: float,
    importance: np.ndarray | None = None,
    rates: np.ndarray | None = None,
) -> CanonicalWeights:
    """Quantize typed weights to canonical per-core base currents and masks.

    Args:
        w: ``(n_pre, n_post, 4)`` non-negative weights per synapse type, units of ``iscale``.
        core: ``(n_post,)`` core index ``0..n_cores-1`` of each postsynaptic neuron.
        iscale: amperes of a unit weight.
        importance: ``(n_pre,)`` weights of the squared errors in the fit (see
            :func:`~dynapse2.hardware.weights.quantize_weights`); ``None``: unweighted.

    Returns:
        A :class:`CanonicalWeights`.

    Raises:
        ValueError: as :func:`~dynapse2.hardware.weights.quantize_weights` (shapes, ranges).
    """
    w = np.asarray(w, np.float64)
    core = np.asarray(core, np.int64)
    fit = quantize_weights(
        w, core, iscale, max_fan_in=chip.N_CAM, prune=False, importance=importance, rates=rates
    )
    assert fit.base_coarse is not None and fit.base_fine is not None  # bias_quantize=True
    n_cores = fit.base.shape[0]
    coarse = np.zeros((n_cores, _NB), np.int64)
    fine = np.zeros((n_cores, _NB), np.int64)
    base = np.zeros((n_cores, _NB))
    mask = np.zeros(w.shape, np.int64)
    recovered = np.zeros(n_cores, bool)
    fitted = fit.dequantize()  # typed, non-negative
    col_core = np.broadcast_to(core[None, :, None], w.shape)
    for c in range(n_cores):
        sel = col_core == c
        a = w[sel]
        settings = recover(a, iscale)
        if settings is None:  # not on a grid yet: take the fit's levels
            a = np.where(fit.mask[sel] > 0, fitted[sel], 0.0)
            settings = recover(a, iscale)
        if settings is not None:
            recovered[c] = True
            for k, (cc, ff, amps) in enumerate(settings):
                coarse[c, k], fine[c, k], base[c, k] = cc, ff, amps
            tol = RTOL * (np.max(a) if a.size else 0.0)
            mask[sel] = _masks_for(a, base[c], iscale, tol)
            continue
        # Fallback: the fit itself, unused bases zeroed, bases sorted ascending.
        used = np.zeros(_NB, bool)
        for m in np.unique(fit.mask[sel]).tolist():
            used |= np.array(_BITS[m], bool)
        b = np.where(used, fit.base[c], 0.0)
        perm = np.argsort(np.where(used, b, np.inf), kind="stable")
        for k_new, k_old in enumerate(perm.tolist()):
            if used[k_old]:
                coarse[c, k_new] = fit.base_coarse[c, k_old]
                fine[c, k_new] = fit.base_fine[c, k_old]
                base[c, k_new] = b[k_old]
        old = fit.mask[sel]
        new = np.zeros_like(old)
        for k_new, k_old in enumerate(perm.tolist()):
            new |= ((old >> k_old) & 1) << k_new
        mask[sel] = new
    return CanonicalWeights(coarse, fine, base, mask, recovered, fit)
