"""changes(): what differs between two configurations, per chip, core and neuron."""

from __future__ import annotations

import numpy as np
from hw_factories import random_configuration
from hypothesis import given, settings
from hypothesis import strategies as st

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import NEURON_FIELDS, InputRoute, Parameter
from dynapse2.hardware.config_diff import changes

BASE = random_configuration(7, n_chips=2, density=0.3)


def test_identical_configurations_have_no_changes():
    ch = changes(BASE, BASE.copy())
    assert ch.empty and not ch.routing and not ch.weights_only
    assert str(ch) == "no changes"


def test_one_weight_mask_is_one_neuron_of_one_core():
    new = BASE.copy()
    core = new.chips[1].cores[2]
    core.syn_weight[17, 3] = (int(core.syn_weight[17, 3]) + 1) % 16
    ch = changes(BASE, new)
    assert list(ch.cores) == [(1, 2)]
    assert ch.cores[(1, 2)].fields == ("syn_weight",)
    np.testing.assert_array_equal(ch.cores[(1, 2)].neurons, [17])
    assert ch.weights_only and not ch.routing and ch.neurons == 1
    assert str(ch) == "1 neurons (syn_weight); in 1 cores (weights only)"


def test_base_weights_are_weights_and_other_biases_are_not():
    new = BASE.copy()
    p = new.chips[0].cores[1].parameters
    p[C.BASE_WEIGHT_PARAMETERS[2]] = Parameter(1, 7, "P")
    ch = changes(BASE, new)
    assert ch.cores[(0, 1)].parameters == (C.BASE_WEIGHT_PARAMETERS[2],)
    assert ch.weights_only and not ch.routing and ch.neurons == 0
    p["DEAM_ITAU_P"] = Parameter(2, 9, "P")
    ch = changes(BASE, new)
    assert set(ch.cores[(0, 1)].parameters) == {C.BASE_WEIGHT_PARAMETERS[2], "DEAM_ITAU_P"}
    assert not ch.weights_only and not ch.routing


def _bump(a: np.ndarray, index: tuple[int, int], field: str) -> None:
    """Set ``a[index]`` to another valid value of ``field``."""
    v = int(a[index])
    if field == "syn_dendrite":
        a[index] = C.DENDRITE_CODES["ampa" if v != C.DENDRITE_CODES["ampa"] else "gaba"]
    elif a.dtype == bool:
        a[index] = not v
    elif field.endswith("_hop"):
        a[index] = v + 1 if v < C.HOP_MAX else v - 1
    else:  # tags, weight and core masks: 1 and 2 are valid and not reserved
        a[index] = 1 if v != 1 else 2


def test_tags_destinations_and_maps_are_routing():
    for chip, core, field in ((0, 0, "syn_tag"), (0, 3, "syn_dendrite"), (1, 0, "dest_x_hop")):
        new = BASE.copy()
        _bump(getattr(new.chips[chip].cores[core], field), (3, 1), field)
        ch = changes(BASE, new)
        assert ch.cores[(chip, core)].fields == (field,)
        assert ch.routing and not ch.weights_only
    for edit in (
        lambda c: c.input_map.__setitem__(500, (InputRoute(0, 5),)),
        lambda c: c.meta.__setitem__("note", 1),
    ):
        new = BASE.copy()
        edit(new)
        ch = changes(BASE, new)
        assert ch.maps and not ch.cores and ch.routing and not ch.weights_only


def test_chip_level_groups_flags_and_core_settings():
    new = BASE.copy()
    new.chips[1].global_parameters["R2R_BUFFER_AMPB"] = Parameter(5, 1, "P")
    new.chips[0].cores[2].monitored_neuron = (BASE.chips[0].cores[2].monitored_neuron + 1) % 256
    ch = changes(BASE, new)
    assert ch.chips == (1,) and list(ch.cores) == [(0, 2)]
    assert ch.cores[(0, 2)].settings and ch.cores[(0, 2)].neurons.size == 0
    assert not ch.weights_only and not ch.routing


def test_another_layout_is_everything():
    moved = BASE.copy()
    moved.chips[1].position = (5, 5)
    assert changes(BASE, moved).layout and changes(BASE, moved).routing
    assert changes(BASE, random_configuration(7, n_chips=1)).layout
    assert "everything" in str(changes(BASE, moved))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 1),
            st.integers(0, C.N_CORES - 1),
            st.integers(0, C.N_NEURONS_PER_CORE - 1),
            st.sampled_from(NEURON_FIELDS),
        ),
        max_size=12,
    )
)
def test_changed_neurons_are_exactly_the_edited_ones(edits):
    new = BASE.copy()
    edited: dict[tuple[int, int], set[int]] = {}
    for chip, core, neuron, field in edits:
        _bump(getattr(new.chips[chip].cores[core], field), (neuron, 0), field)
        edited.setdefault((chip, core), set()).add(neuron)
    ch = changes(BASE, new)
    # two edits of one boolean entry restore it: the truth is what differs in the arrays
    truth = {}
    for (chip, core), neurons in edited.items():
        a, b = BASE.chips[chip].cores[core], new.chips[chip].cores[core]
        rows = {
            n
            for n in neurons
            if any(not np.array_equal(getattr(a, f)[n], getattr(b, f)[n]) for f in NEURON_FIELDS)
        }
        if rows:
            truth[(chip, core)] = rows
    assert {k: set(c.neurons.tolist()) for k, c in ch.cores.items()} == truth
