"""The bias generator (BG): which current each parameter can take, defined once.

Every current of the simulator is set on the chip by a BG parameter of its core, whose output
is (model; tables below)::

    I(coarse, fine) = BG_I_MAX[type][coarse] * fine / BG_FINE_MAX * BG_SCALE[name]

with ``coarse`` in 0..5, ``fine`` in 0..255 and ``type`` ("N" or "P") the parameter's
transistor type. These facts live in the physics layer because training keeps every trained
current inside :func:`current_range` (:mod:`dynapse2.train.constraints`); the quantizers that
pick ``(coarse, fine)`` are :mod:`dynapse2.hardware.bias`, and
:mod:`dynapse2.hardware.chip` re-exports the tables. Sources: SynSense's Dynap-SE2 bias
table and documentation, the samna 0.7.1.0 object model (names).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BG_COARSE_MAX",
    "BG_FINE_MAX",
    "BG_FINE_ZERO_CURRENT",
    "BG_I_MAX",
    "BG_SCALE",
    "CORE_PARAMETERS",
    "SIM_TO_BG",
    "bg_current",
    "bg_name",
    "current_range",
]

# --- Bias-generator parameters (samna 0.7.1.0 names) ------------------------------------
CORE_PARAMETERS: dict[str, str] = {
    "DEAM_EGAIN_P": "P",
    "DEAM_ETAU_P": "P",
    "DEAM_HRES_P": "P",
    "DEAM_IGAIN_P": "P",
    "DEAM_ITAU_P": "P",
    "DEAM_NRES_P": "P",
    "DEAM_REV_N": "N",
    "DEAM_VRES_P": "P",
    "DEGA_IGAIN_P": "P",
    "DEGA_ITAU_P": "P",
    "DEGA_REV_P": "P",
    "DENM_EGAIN_P": "P",
    "DENM_ETAU_P": "P",
    "DENM_IGAIN_P": "P",
    "DENM_ITAU_P": "P",
    "DENM_NMREV_N": "N",
    "DENM_REV_N": "N",
    "DESC_IGAIN_P": "P",
    "DESC_ITAU_P": "P",
    "SOAD_CASC_P": "P",
    "SOAD_GAIN_P": "P",
    "SOAD_PWTAU_N": "N",
    "SOAD_TAU_P": "P",
    "SOAD_W_N": "N",
    "SOCA_GAIN_P": "P",
    "SOCA_TAU_P": "P",
    "SOCA_W_N": "N",
    "SOHO_VB_P": "P",
    "SOHO_VH_P": "P",
    "SOHO_VREF_H_P": "P",
    "SOHO_VREF_L_P": "P",
    "SOHO_VREF_M_P": "P",
    "SOHO_VREF_P": "P",
    "SOHO_VRST_P": "P",
    "SOIF_CC_N": "N",
    "SOIF_DC_P": "P",
    "SOIF_GAIN_N": "N",
    "SOIF_LEAK_N": "N",
    "SOIF_REFR_N": "N",
    "SOIF_SPKTHR_P": "P",
    "SYAM_STDW_N": "N",
    "SYAM_W0_P": "P",
    "SYAM_W1_P": "P",
    "SYAM_W2_P": "P",
    "SYAM_W3_P": "P",
    "SYAW_STDSTR_N": "N",
    "SYPD_DLY0_P": "P",
    "SYPD_DLY1_P": "P",
    "SYPD_DLY2_P": "P",
    "SYPD_EXT_N": "N",
    "SYSA_VB_P": "P",
    "SYSA_VRES_N": "N",
}
"""The 52 per-core bias parameters of a core's parameter group -> transistor type "N" or "P"."""

# --- Bias-generator tables ---------------------------------------------------------------
# Model: I(coarse, fine) = BG_I_MAX[type][coarse] * fine / BG_FINE_MAX * BG_SCALE[name].
# I_max values are the BG's measured output at fine = 255 (SynSense's Dynap-SE2 bias table,
# as tabulated in Rockpool's paramgen lookup), rounded to 3 significant digits.
BG_COARSE_MAX: int = 5
"""Coarse values are 0..BG_COARSE_MAX."""
BG_FINE_MAX: int = 255
"""Fine values are 0..BG_FINE_MAX."""
BG_I_MAX: dict[str, tuple[float, ...]] = {
    "N": (7.18e-11, 5.73e-10, 4.57e-9, 3.64e-8, 2.90e-7, 2.28e-6),
    "P": (6.69e-11, 5.36e-10, 4.30e-9, 3.44e-8, 2.77e-7, 2.24e-6),
}
"""Current (A) at fine = 255 for coarse 0..5, per transistor type, before the scale factor."""
BG_FINE_ZERO_CURRENT: dict[str, tuple[float, ...]] = {
    "N": (4.9e-13, 9.4e-13, 1.06e-12, 1.08e-12, 1.08e-12, 1.08e-12),
    "P": (3.7e-13, 6.6e-13, 7.5e-13, 7.6e-13, 7.6e-13, 7.6e-13),
}
"""Measured leak (A) at fine = 0 for coarse 0..5, before the scale factor. Informative only:
the linear BG model gives exactly 0 A at fine = 0."""
BG_SCALE: dict[str, float] = {
    "DEAM_EGAIN_P": 0.68,
    "DEAM_ETAU_P": 0.2,
    "DEAM_HRES_P": 0.385,
    "DEAM_IGAIN_P": 0.68,
    "DEAM_ITAU_P": 0.2,
    "DEAM_NRES_P": 0.385,
    "DEAM_REV_N": 1.0,
    "DEAM_VRES_P": 0.385,
    "DEGA_IGAIN_P": 0.68,
    "DEGA_ITAU_P": 0.2,
    "DEGA_REV_P": 1.0,
    "DENM_EGAIN_P": 0.68,
    "DENM_ETAU_P": 0.2,
    "DENM_IGAIN_P": 0.68,
    "DENM_ITAU_P": 0.2,
    "DENM_NMREV_N": 1.05,
    "DENM_REV_N": 1.0,
    "DESC_IGAIN_P": 0.68,
    "DESC_ITAU_P": 0.2,
    "SOAD_CASC_P": 0.385,
    "SOAD_GAIN_P": 0.68,
    "SOAD_PWTAU_N": 0.92,
    "SOAD_TAU_P": 0.2,
    "SOAD_W_N": 0.92,
    "SOCA_GAIN_P": 0.68,
    "SOCA_TAU_P": 0.2,
    "SOCA_W_N": 0.92,
    "SOHO_VB_P": 1.47,
    "SOHO_VH_P": 1.47,
    "SOHO_VREF_H_P": 1.47,
    "SOHO_VREF_L_P": 1.47,
    "SOHO_VREF_M_P": 1.47,
    "SOHO_VREF_P": 0.68,
    "SOHO_VRST_P": 1.0,
    "SOIF_CC_N": 0.66,
    "SOIF_DC_P": 0.38,
    "SOIF_GAIN_N": 1.05,
    "SOIF_LEAK_N": 0.61,
    "SOIF_REFR_N": 1.05,
    "SOIF_SPKTHR_P": 0.38,
    "SYAM_STDW_N": 0.67,
    "SYAM_W0_P": 0.22,
    "SYAM_W1_P": 0.22,
    "SYAM_W2_P": 0.22,
    "SYAM_W3_P": 0.22,
    "SYAW_STDSTR_N": 0.2,
    "SYPD_DLY0_P": 0.22,
    "SYPD_DLY1_P": 0.22,
    "SYPD_DLY2_P": 1.6,
    "SYPD_EXT_N": 0.92,
    "SYSA_VB_P": 1.9,
    "SYSA_VRES_N": 1.9,
}
"""Per-parameter scale factor of the BG output, for every name of CORE_PARAMETERS (SynSense's
Dynap-SE2 documentation, as tabulated in Rockpool). DEAM_REV_N, DEGA_REV_P, DENM_REV_N and
SOHO_VRST_P have no published factor: 1.0 is assumed."""

# Simulator current -> the bias-generator parameter that sets it on the chip.
SIM_TO_BG: dict[str, str] = {
    "Idc": "SOIF_DC_P",
    "Igain_mem": "SOIF_GAIN_N",
    "Itau_mem": "SOIF_LEAK_N",
    "Iref": "SOIF_REFR_N",
    "Ispkthr": "SOIF_SPKTHR_P",
    "Itau_ampa": "DEAM_ETAU_P",
    "Igain_ampa": "DEAM_EGAIN_P",
    "Itau_nmda": "DENM_ETAU_P",
    "Igain_nmda": "DENM_EGAIN_P",
    "Itau_gaba": "DEGA_ITAU_P",
    "Igain_gaba": "DEGA_IGAIN_P",
    "Itau_shunt": "DESC_ITAU_P",
    "Igain_shunt": "DESC_IGAIN_P",
    "If_nmda": "DENM_NMREV_N",
    "Itau_ahp": "SOAD_TAU_P",
    "Igain_ahp": "SOAD_GAIN_P",
    "Iw_ahp": "SOAD_W_N",
    "Ipulse_ahp": "SOAD_PWTAU_N",
    "Ipulse": "SYPD_EXT_N",
}
"""DynapSim current name -> BG parameter name (suffix _N/_P is the transistor type)."""

_I_MAX = {t: np.asarray(v, dtype=np.float64) for t, v in BG_I_MAX.items()}


def bg_name(name: str, where: str = "bg_name", label: str = "name") -> str:
    """Return the BG parameter name of ``name`` (a BG name or a simulator current name).

    Raises:
        ValueError: ``name`` is neither a core BG parameter nor a key of :data:`SIM_TO_BG`
            (the message starts with ``where`` and names the argument as ``label``).
    """
    if isinstance(name, str) and name in CORE_PARAMETERS:
        return name
    if isinstance(name, str) and name in SIM_TO_BG:
        return SIM_TO_BG[name]
    raise ValueError(
        f"{where}: {label} = {name!r} is not a bias parameter; valid simulator names: "
        f"{sorted(SIM_TO_BG)}; valid BG names: {sorted(CORE_PARAMETERS)}"
    )


def bg_current(bg: str, coarse: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """The BG model itself (A), the single formula every BG function evaluates: ``bg`` a BG
    name, ``coarse`` and ``fine`` integer arrays (unchecked; broadcast)."""
    i_max = _I_MAX[CORE_PARAMETERS[bg]]
    return i_max[coarse] * fine / BG_FINE_MAX * BG_SCALE[bg]


def current_range(name: str) -> tuple[float, float]:
    """Smallest nonzero and largest current (A) the BG can produce for ``name`` (a BG name
    or a simulator current name): coarse 0, fine 1 and coarse 5, fine 255.

    Raises:
        ValueError: ``name`` is not a bias parameter (see :func:`bg_name`).
    """
    bg = bg_name(name, "current_range")
    lo = bg_current(bg, np.array(0), np.array(1))
    hi = bg_current(bg, np.array(BG_COARSE_MAX), np.array(BG_FINE_MAX))
    return float(lo), float(hi)
