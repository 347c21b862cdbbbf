"""Physical constants and nominal circuit values of the Dynap-SE2, defined once.

Units: volts (V), amperes (A), farads (F), seconds (s). Nominal values follow the published
DPI circuit analyses (Bartolozzi & Indiveri 2007; Chicca et al. 2014) and the Dynap-SE2 papers.
"""

from __future__ import annotations

UT: float = 25e-3
"""Thermal voltage U_T (V)."""
KAPPA_N: float = 0.75
"""Subthreshold slope factor of n-type transistors (dimensionless)."""
KAPPA_P: float = 0.66
"""Subthreshold slope factor of p-type transistors (dimensionless)."""
IO: float = 5e-13
"""Dark (leakage) current I_0 (A): the floor every current is clipped to."""
VTH: float = 0.7
"""Threshold voltage of the pulse-extender and refractory circuits (V)."""

CAPACITANCES: dict[str, float] = {
    "C_mem": 3e-12,
    "C_ampa": 24.5e-12,
    "C_nmda": 25e-12,
    "C_gaba": 25e-12,
    "C_shunt": 24.5e-12,
    "C_ahp": 40e-12,
    "C_ref": 1.5e-12,
    "C_pulse": 0.5e-12,
    "C_pulse_ahp": 0.5e-12,
}
"""Nominal capacitances (F)."""

TIME_CONSTANTS: dict[str, float] = {
    "tau_ampa": 10e-3,
    "tau_nmda": 100e-3,
    "tau_gaba": 10e-3,
    "tau_shunt": 10e-3,
    "tau_mem": 20e-3,
    "tau_ahp": 50e-3,
}
"""Nominal DPI time constants (s) from which the default leak currents are derived."""

T_PULSE: float = 10e-6
"""Nominal width of a synaptic input pulse (s); sets the default I_pulse."""
T_PULSE_AHP: float = 10e-6
"""Nominal width of the adaptation pulse (s); sets the default I_pulse_ahp."""
T_REF: float = 1e-3
"""Nominal refractory period (s); sets the default I_ref."""

GAIN_RATIO_SYNAPSE: float = 100.0
"""Nominal I_gain / I_tau of the four synapse DPIs and of the AHP DPI."""
GAIN_RATIO_MEM: float = 4.0
"""Nominal I_gain / I_tau of the membrane DPI."""

ISPKTHR: float = 1e-7
"""Nominal spike threshold current (A)."""
ISCALE: float = 1e-8
"""Nominal weight current of a unit weight (A)."""
IF_NMDA: float = 1e-9
"""Nominal NMDA gate current I_f_nmda (A): NMDA reaches the soma once I_mem exceeds it."""
IW_AHP: float = IO
"""Nominal adaptation weight current (A): I_0, i.e. adaptation off, as the chip's latch."""
IDC: float = IO
"""Nominal DC input current (A): I_0, i.e. no DC input."""

MIN_TAU_STEPS: float = 10.0
"""Every DPI time constant must be at least this many time steps for forward Euler
(:attr:`dynapse2.solvers.Euler.min_tau_steps`; each solver states its own limit)."""
