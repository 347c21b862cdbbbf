"""The configuration tree: construction, views, validation, equality."""

from __future__ import annotations

import numpy as np
import pytest
from hw_factories import random_configuration

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import (
    Chip,
    Configuration,
    Core,
    InputRoute,
    OutputRoute,
    Parameter,
)


def test_reset_configuration_mirrors_samna_defaults():
    cfg = Configuration()
    assert len(cfg.chips) == 1
    chip = cfg.chips[0]
    assert len(chip.cores) == C.N_CORES
    core = chip.cores[0]
    assert set(core.parameters) == set(C.CORE_PARAMETERS)
    assert core.parameters["SOIF_GAIN_N"] == Parameter(0, 0, "N")
    assert core.parameters["SYAM_W0_P"] == Parameter(0, 0, "P")
    assert len(core.neurons) == C.N_NEURONS_PER_CORE
    neuron = core.neurons[7]
    assert len(neuron.synapses) == C.N_CAM and len(neuron.destinations) == C.N_SRAM
    syn = neuron.synapses[0]
    assert (syn.tag, syn.dendrite, syn.weight, syn.stp) == (
        C.RESET_TAG,
        "none",
        (False,) * 4,
        False,
    )
    dest = neuron.destinations[3]
    assert (dest.tag, dest.core, dest.x_hop, dest.y_hop) == (C.RESET_TAG, (False,) * 4, 0, 0)
    assert len(chip.sadc_group_parameters01) == C.N_SADC_GROUPS
    assert len(chip.bioamp_channel_parameters) == C.N_BIOAMP_CHANNELS
    assert chip.shared_parameters23["NCCF_CAL_REFBIAS_V"] == Parameter(0, 0, "N")


def test_views_write_through_to_arrays():
    core = Core()
    n = core.neurons[5]
    s = n.synapses[3]
    s.tag, s.dendrite, s.weight, s.stp = 12, "gaba", [True, False, True, False], True
    s.mismatched_delay = True
    assert core.syn_tag[5, 3] == 12 and core.syn_dendrite[5, 3] == C.DENDRITE_CODES["gaba"]
    assert core.syn_weight[5, 3] == 0b0101 and s.weight_mask == 5
    assert (
        core.syn_stp[5, 3] and core.syn_mismatched_delay[5, 3] and not core.syn_precise_delay[5, 3]
    )
    s.dendrite = C.DENDRITE_CODES["nmda"]
    assert s.dendrite == "nmda"
    d = n.destinations[2]
    d.tag, d.core, d.x_hop, d.y_hop = 99, 0b1001, -7, 7
    assert d.core == (True, False, False, True)
    assert (core.dest_tag[5, 2], core.dest_core[5, 2], core.dest_x_hop[5, 2]) == (99, 9, -7)
    n.latch_denm_nmda = True
    assert core.latches[5, C.NEURON_LATCHES.index("denm_nmda")]
    assert not core.latches[4].any()


@pytest.mark.parametrize(
    "field, value, pattern",
    [
        ("tag", 70000, r"neuron 5, synapse 3: tag = 70000 is outside the allowed range 0\.\.2047"),
        ("tag", -1, r"tag = -1 is outside the allowed range 0\.\.2047"),
        ("weight", 16, r"synapse 3: weight = 16 is outside the allowed range 0\.\.15"),
        ("weight", [True, False], r"weight must have 4 booleans, got 2"),
        ("dendrite", 300, r"dendrite = 300 is not one of"),
        ("dendrite", "alpha", r"dendrite = 'alpha' is not one of"),
        ("stp", 1, r"stp = 1 must be a bool"),
    ],
)
def test_synapse_view_rejects(field, value, pattern):
    syn = Core().neurons[5].synapses[3]
    with pytest.raises(ValueError, match=pattern):
        setattr(syn, field, value)


def test_destination_view_rejects_hops_and_reserved_tag():
    d = Core().neurons[1].destinations[2]
    with pytest.raises(
        ValueError, match=r"neuron 1, destination 2: x_hop = 8 is outside .* -7\.\.7"
    ):
        d.x_hop = 8
    d.tag = C.TAG_MAX  # an inactive entry may hold it (samna's objects may)
    with pytest.raises(ValueError, match=r"tag = 2047 is reserved"):
        d.core = [True, False, False, False]
    d.tag = 3
    d.core = [True, False, False, False]
    with pytest.raises(ValueError, match=r"tag = 2047 is reserved"):
        d.tag = 2047


def test_array_validation_names_location_field_value_and_range():
    cfg = Configuration.reset(2)
    cfg.chips[1].cores[2].syn_tag[200, 63] = 70000
    with pytest.raises(
        ValueError,
        match=r"^chip 1, core 2, neuron 200, synapse 63: "
        r"tag = 70000 is outside the allowed range 0\.\.2047$",
    ):
        cfg.validate()
    cfg.chips[1].cores[2].syn_tag[200, 63] = 0
    cfg.chips[0].cores[3].dest_y_hop[4, 1] = -8
    with pytest.raises(
        ValueError, match=r"chip 0, core 3, neuron 4, destination 1: y_hop = -8 .* -7\.\.7"
    ):
        cfg.validate()
    cfg.chips[0].cores[3].dest_y_hop[4, 1] = 0
    cfg.chips[0].cores[0].syn_dendrite[1, 2] = 1000
    with pytest.raises(
        ValueError,
        match=r"chip 0, core 0, neuron 1, synapse 2: "
        r"dendrite = 1000 is outside one of \[0, 128, 256, 512, 1024\]",
    ):
        cfg.validate()
    cfg.chips[0].cores[0].syn_dendrite[1, 2] = 1024
    cfg.chips[0].cores[0].syn_tag[1, 2] = 2047
    with pytest.raises(
        ValueError, match=r"chip 0, core 0, neuron 1, synapse 2: tag = 2047 is reserved"
    ):
        cfg.validate()
    cfg.chips[0].cores[0].syn_dendrite[1, 2] = 0  # inactive: allowed
    cfg.validate()


def test_construction_rejects_bad_arrays_and_parameters():
    with pytest.raises(
        ValueError, match=r"core: syn_tag has shape \(256, 63\), expected \(256, 64\)"
    ):
        Core(syn_tag=np.zeros((256, 63), int))
    with pytest.raises(ValueError, match=r"syn_weight must hold integers, got dtype float64"):
        Core(syn_weight=np.zeros((256, 64)))
    with pytest.raises(
        ValueError,
        match=r"dest_core = 16 is outside|core = 16 is outside the allowed range 0\.\.15",
    ):
        Core(dest_core=np.full((256, 4), 16))
    with pytest.raises(
        ValueError, match=r"parameter SOIF_GAIN_N coarse = 6 is outside the allowed range 0\.\.5"
    ):
        Core({"SOIF_GAIN_N": Parameter(6, 0, "N")})
    with pytest.raises(
        ValueError, match=r"parameter SOIF_GAIN_N fine = 256 is outside the allowed range 0\.\.255"
    ):
        Core({"SOIF_GAIN_N": Parameter(1, 256, "N")})
    with pytest.raises(
        ValueError,
        match=r"parameter SOIF_GAIN_N type = 'P', but this parameter is fixed to type 'N'",
    ):
        Core({"SOIF_GAIN_N": Parameter(1, 2, "P")})
    with pytest.raises(ValueError, match=r"unknown parameter name 'SOIF_GAIN'"):
        Core({"SOIF_GAIN": Parameter(1, 2, "N")})
    with pytest.raises(
        ValueError, match=r"monitored_neuron = 256 is outside the allowed range 0\.\.255"
    ):
        Core(monitored_neuron=256)
    with pytest.raises(ValueError, match=r"chip: needs exactly 4 Core objects, got 3"):
        Chip([Core(), Core(), Core()])
    with pytest.raises(
        ValueError, match=r"chip, sadc_group_parameters01\[2\]: parameter NCCF_BIAS_P fine = 300"
    ):
        Chip(sadc_group_parameters01=[{}, {}, {"NCCF_BIAS_P": Parameter(0, 300, "P")}])
    with pytest.raises(
        ValueError, match=r"sadc_group_parameters23 must hold 3 parameter dicts, got 2"
    ):
        Chip(sadc_group_parameters23=[{}, {}])
    # the switchable parameter may take either type
    chip = Chip(shared_parameters01={"NCCF_CAL_REFBIAS_V": Parameter(2, 3, "P")})
    assert chip.shared_parameters01["NCCF_CAL_REFBIAS_V"].type == "P"


def test_maps_validated():
    chips = [Chip(position=(0, 0)), Chip(position=(1, 0))]
    with pytest.raises(ValueError, match=r"input_map channel 3: tag = 2047 is reserved"):
        Configuration(chips, input_map={3: InputRoute(0, 2047)})
    with pytest.raises(
        ValueError, match=r"input_map channel 3: chip = 2 is outside the allowed range 0\.\.1"
    ):
        Configuration(chips, input_map={3: InputRoute(2, 5)})
    with pytest.raises(
        ValueError, match=r"input_map channel 0: core_mask = 0 is outside the allowed range 1\.\.15"
    ):
        Configuration(chips, input_map={0: InputRoute(0, 5, 0)})
    with pytest.raises(ValueError, match=r"output_map channel 1: neuron = 256 is outside"):
        Configuration(chips, output_map={1: OutputRoute(0, 0, 256, 4)})
    with pytest.raises(
        ValueError, match=r"output_map channel 1: tag = 4 on chip 0 is already output channel 0"
    ):
        Configuration(chips, output_map={0: OutputRoute(0, 0, 1, 4), 1: OutputRoute(0, 1, 2, 4)})
    with pytest.raises(ValueError, match=r"chip positions must be distinct"):
        Configuration([Chip(), Chip()])
    cfg = Configuration(
        chips, input_map={0: InputRoute(1, 5), 1: [InputRoute(0, 6), InputRoute(1, 6)]}
    )
    assert cfg.input_map[0] == (InputRoute(1, 5, 15, 0, 0),)
    assert len(cfg.input_map[1]) == 2


def test_equality_is_value_by_value():
    a = random_configuration(3, n_chips=2, density=0.3)
    b = a.copy()
    assert a == b and a is not b
    b.chips[1].cores[3].syn_precise_delay[255, 63] ^= True
    assert a != b
    b = a.copy()
    b.chips[0].bioamp_channel_parameters[7]["BF3VQ"] = Parameter(5, 255, "N")
    assert a != b
    b = a.copy()
    b.chips[0].cores[0].neurons[0].latch_soif_type = (
        not a.chips[0].cores[0].neurons[0].latch_soif_type
    )
    assert a != b
    b = a.copy()
    b.meta["x"] = 1
    assert a != b


def test_one_monitor_output_per_chip():
    """samna's validator refuses two pulse-extender monitors on one chip, or both PG
    reference monitors: so does ours, naming them."""
    cfg = Configuration()
    cfg.chips[0].cores[1].flags["enable_pulse_extender_monitor1"] = True
    cfg.validate()  # one is fine
    cfg.chips[0].cores[3].flags["enable_pulse_extender_monitor2"] = True
    with pytest.raises(ValueError, match=r"chip 0: 2 pulse-extender monitors are on \(core 1 "):
        cfg.validate()
    cfg = Configuration()
    cfg.chips[0].flags["enable_pg0_reference_monitor"] = True
    cfg.chips[0].flags["enable_pg1_reference_monitor"] = True
    with pytest.raises(ValueError, match="both enable_pg0_reference_monitor and"):
        cfg.validate()
