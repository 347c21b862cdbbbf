"""Facts of the Dynap-SE2 chip: every limit, code and name table, defined once.

Nothing else in the package writes these numbers again; import them from here. The facts the
simulator and training need (the layout of cores and CAMs, the bias generator's parameters,
tables and ranges) are defined below the module system, in :mod:`dynapse2.physics.chip` and
:mod:`dynapse2.physics.bias_generator`, and re-exported here, so that ``nn`` and ``train``
never import the hardware layer. Sources: Richter et al. 2024 (DYNAP-SE2), the samna 0.7.1.0
object model.
"""

from __future__ import annotations

from dynapse2.physics.bias_generator import BG_COARSE_MAX as BG_COARSE_MAX
from dynapse2.physics.bias_generator import BG_FINE_MAX as BG_FINE_MAX
from dynapse2.physics.bias_generator import BG_FINE_ZERO_CURRENT as BG_FINE_ZERO_CURRENT
from dynapse2.physics.bias_generator import BG_I_MAX as BG_I_MAX
from dynapse2.physics.bias_generator import BG_SCALE as BG_SCALE
from dynapse2.physics.bias_generator import CORE_PARAMETERS as CORE_PARAMETERS
from dynapse2.physics.bias_generator import SIM_TO_BG as SIM_TO_BG
from dynapse2.physics.chip import N_CAM as N_CAM
from dynapse2.physics.chip import N_CORES as N_CORES
from dynapse2.physics.chip import N_NEURONS_PER_CHIP as N_NEURONS_PER_CHIP
from dynapse2.physics.chip import N_NEURONS_PER_CORE as N_NEURONS_PER_CORE
from dynapse2.physics.synapses import EXCITATORY as EXCITATORY
from dynapse2.physics.synapses import INHIBITORY as INHIBITORY
from dynapse2.physics.synapses import SYNAPSE_TYPES as SYNAPSE_TYPES

# --- Layout (N_CORES, N_NEURONS_PER_CORE, N_NEURONS_PER_CHIP, N_CAM: dynapse2.physics.chip) --
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

# --- Bias-generator parameters (samna 0.7.1.0 names; CORE_PARAMETERS and the BG tables,
# BG_*, SIM_TO_BG: dynapse2.physics.bias_generator) -------------------------------------------
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
