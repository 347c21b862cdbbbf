"""Facts of the Dynap-SE2 chip: every limit, code and name table, defined once.

Nothing else in the package writes these numbers again; import them from here.
Sources: Richter et al. 2024 (DYNAP-SE2), the samna 0.7.1.0 object model.
"""

from __future__ import annotations

# The synapse-type order and sets are physics; re-exported here beside the chip's codes.
from dynapse2.physics.synapses import EXCITATORY, INHIBITORY, SYNAPSE_TYPES  # noqa: F401

# --- Layout -----------------------------------------------------------------------------
N_CORES: int = 4
"""Cores per chip."""
N_NEURONS_PER_CORE: int = 256
"""Neurons per core; every neuron of a core shares the core's parameter group."""
N_NEURONS_PER_CHIP: int = N_CORES * N_NEURONS_PER_CORE
N_CAM: int = 64
"""CAM entries (incoming synapses) per neuron."""
N_SRAM: int = 4
"""SRAM destinations (outgoing routes) per neuron."""
N_WEIGHT_BITS: int = 4
"""Bits of a CAM entry's weight mask, one per base weight current Iw_0..Iw_3."""
N_TAG_BITS: int = 11
TAG_MAX: int = (1 << N_TAG_BITS) - 1
"""Largest tag value (2047)."""
RESERVED_TAGS: frozenset[int] = frozenset({TAG_MAX})
"""Tags the Stack board's host software reserves (2047 is its timing probe)."""
HOP_MIN: int = -7
HOP_MAX: int = 7
"""Range of x/y hops of an SRAM destination, in chips."""
FPGA_TICK_S: float = 1e-6
"""Duration of one tick of the Stack board's FPGA clock (s): the unit of event timestamps."""
FPGA_INPUT_RATE_MAX: float = 1e6
"""Events per second the Stack board's FPGA injects into the chips (assumed: no figure is
published; one event per FPGA tick). :class:`~dynapse2.hardware.VirtualBoard` drops and
counts input beyond it."""
FPGA_OUTPUT_RATE_MAX: float = 1e6
"""Events per second the Stack board's FPGA hands to the host (assumed, as
:data:`FPGA_INPUT_RATE_MAX`)."""
GRID_SIZE: int = HOP_MAX - HOP_MIN + 1
"""Chips per side of the grid a chip can reach (15 x 15)."""
HOST_HOPS: tuple[int, int] = (HOP_MIN, 0)
"""(x_hop, y_hop) of a destination that leaves the chip grid for the Stack board's FPGA, which
hands the event to the host (samna's ``read_events``); SynSense's Dynap-SE2 examples monitor
neurons this way (``x_hop=-7``). No chip may therefore sit at that offset from a sender."""

# --- Synapse (dendrite) types -----------------------------------------------------------
# SYNAPSE_TYPES (the axis order), EXCITATORY, INHIBITORY: dynapse2.physics.synapses.
DENDRITE_CODES: dict[str, int] = {"none": 0, "ampa": 1024, "gaba": 512, "nmda": 256, "shunt": 128}
"""samna's `Dendrite` enum values."""

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
CHIP_GLOBAL_PARAMETERS: dict[str, str] = {
    "R2R_BUFFER_AMPB": "P",
    "R2R_BUFFER_CCB": "N",
}
"""Parameters of chip.global_parameters -> transistor type."""
CHIP_SHARED_PARAMETERS: dict[str, str] = {
    "LBWR_VB_P": "P",
    "NCCF_CAL_OFFBIAS_P": "P",
    "NCCF_CAL_REFBIAS_V": "N",
    "PG_BUF_N": "N",
    "SYAM_STDWAMPB": "P",
    "SYAM_STDWCCB": "N",
}
"""Parameters of chip.shared_parameters01 and shared_parameters23 -> transistor type."""
CHIP_SADC_PARAMETERS: dict[str, str] = {
    "NCCF_BIAS_P": "P",
    "NCCF_HYS_P": "P",
    "NCCF_PWLK_P": "P",
    "NCCF_REF_H_V": "N",
    "NCCF_REF_L_V": "N",
}
"""Parameters of each of the 3 dicts of chip.sadc_group_parameters01 and 23 -> transistor type."""

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
BASE_WEIGHT_PARAMETERS: tuple[str, ...] = ("SYAM_W0_P", "SYAM_W1_P", "SYAM_W2_P", "SYAM_W3_P")
"""BG parameters of a core's base weight currents Iw_0..Iw_3, selected by CAM mask bits 0..3."""

# --- Configuration object model (samna 0.7.1.0 `samna.dynapse2`) -----------------------
PARAMETER_TYPES: tuple[str, ...] = ("N", "P")
"""Transistor types of a parameter; samna 0.7.1.0 exposes `Dynapse2Parameter.type` as "N"/"P"."""
TYPE_SWITCHABLE_PARAMETERS: frozenset[str] = frozenset({"NCCF_CAL_REFBIAS_V"})
"""Parameters whose transistor type may differ from their table type (samna's
`Dynapse2Parameter.is_type_switchable()` is true only for these in 0.7.1.0)."""
N_SADC_GROUPS: int = 3
"""Dicts in each of chip.sadc_group_parameters01 and sadc_group_parameters23."""
CHIP_BIOAMP_COMMON_PARAMETERS: dict[str, str] = {
    "BADCREFRACTORY": "P",
    "BADCVBIAS": "P",
    "BAMPB": "P",
    "BAVBIAS": "P",
    "BAVBSS": "P",
    "BAVCAS": "N",
    "BAVCASC": "N",
    "BBVBIAS": "P",
    "BCCB": "N",
    "BF1VF": "N",
    "BF1VG": "N",
    "BF1VQ": "N",
    "BFVBIAS": "P",
    "PG_BUF_N": "N",
}
"""Parameters of chip.bioamps.common_parameters -> transistor type."""
N_BIOAMP_CHANNELS: int = 8
"""Dicts in chip.bioamps.channel_parameters."""
CHIP_BIOAMP_CHANNEL_PARAMETERS: dict[str, str] = {
    "BADCTHD": "N",
    "BADCTHDC": "N",
    "BADCTHDFR": "N",
    "BADCTHDR": "N",
    "BADCTHU": "P",
    "BADCTHUC": "P",
    "BADCTHUFR": "P",
    "BADCTHUR": "P",
    "BF2VF": "N",
    "BF2VG": "N",
    "BF2VQ": "N",
    "BF3VF": "N",
    "BF3VG": "N",
    "BF3VQ": "N",
}
"""Parameters of each dict of chip.bioamps.channel_parameters -> transistor type."""
NEURON_LATCHES: tuple[str, ...] = (
    "so_dc",
    "so_adaptation",
    "soif_kill",
    "coho_ca_mem",
    "ho_enable",
    "ho_so_de",
    "deam_ampa",
    "denm_nmda",
    "de_conductance",
    "deam_alpha",
    "denm_alpha",
    "de_mux",
    "soif_type",
    "ho_active",
)
"""Per-neuron latches; samna 0.7.1.0 names them `Dynapse2Neuron.latch_<name>` (False at reset)."""
CORE_FLAGS: tuple[str, ...] = (
    "neuron_monitoring_on",
    "enable_pulse_extender_monitor1",
    "enable_pulse_extender_monitor2",
    "enable_syaw_stdbuf_an",
)
"""Boolean attributes of `Dynapse2Core` (all False at reset); `monitored_neuron` is 0..255."""
CHIP_FLAGS: tuple[str, ...] = (
    "enable_pg0_reference_monitor",
    "enable_pg1_reference_monitor",
    "param_gen0_powerdown",
    "param_gen1_powerdown",
)
"""Boolean attributes of `Dynapse2Chip` (all False at reset)."""
PULSE_EXTENDER_MONITOR_FLAGS: tuple[str, ...] = (
    "enable_pulse_extender_monitor1",
    "enable_pulse_extender_monitor2",
)
"""Core flags that route a pulse extender to the chip's monitor output: at most one of the
8 of a chip may be on (samna 0.7.1.0's ``Dynapse2Configuration::validate`` refuses more)."""
PG_REFERENCE_MONITOR_FLAGS: tuple[str, ...] = (
    "enable_pg0_reference_monitor",
    "enable_pg1_reference_monitor",
)
"""Chip flags of the two parameter generators' reference monitors: not both on (samna's
validator refuses it)."""
RESET_TAG: int = 0
"""Tag of every CAM and SRAM entry in samna's reset `Dynapse2Configuration()` (not 2047)."""
