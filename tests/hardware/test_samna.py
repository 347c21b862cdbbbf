"""Conversion to and from the real samna 0.7.1.0 object model (Python 3.10 environment).

Skipped unless the installed samna is the real 0.7.1.0 build; with DYNAPSE2_REQUIRE_SAMNA=1
(set by .ci/samna_tests.sh) a missing build is a failure instead of a skip.
"""

from __future__ import annotations

import numpy as np
import pytest
from hw_factories import random_configuration
from samna_ready import needs_samna

from dynapse2.hardware import chip as C
from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware.config import Configuration, Parameter

pytestmark = [pytest.mark.samna, needs_samna]


@pytest.fixture(scope="module")
def samna():
    import samna as samna_module

    return samna_module


def _params(m):
    return {k: (int(v.coarse_value), int(v.fine_value), str(v.type)) for k, v in m.items()}


def _mask(bools):
    return sum(int(b) << i for i, b in enumerate(bools))


def snapshot(obj):
    """Every value the conversion covers, read straight from samna objects."""
    chips = []
    for ch in list(obj.chips):
        b = ch.bioamps
        cores = []
        for co in ch.cores:
            neurons = []
            for n in co.neurons:
                neurons.append(
                    (
                        [
                            (
                                s.tag,
                                int(s.dendrite),
                                _mask(s.weight),
                                s.stp,
                                s.precise_delay,
                                s.mismatched_delay,
                            )
                            for s in n.synapses
                        ],
                        [(d.tag, _mask(d.core), d.x_hop, d.y_hop) for d in n.destinations],
                        [getattr(n, "latch_" + x) for x in C.NEURON_LATCHES],
                    )
                )
            cores.append(
                (
                    _params(co.parameters),
                    co.monitored_neuron,
                    [getattr(co, f) for f in C.CORE_FLAGS],
                    neurons,
                )
            )
        chips.append(
            (
                _params(ch.global_parameters),
                _params(ch.shared_parameters01),
                _params(ch.shared_parameters23),
                [_params(g) for g in ch.sadc_group_parameters01],
                [_params(g) for g in ch.sadc_group_parameters23],
                _params(b.common_parameters),
                [_params(g) for g in b.channel_parameters],
                [getattr(ch, f) for f in C.CHIP_FLAGS],
                cores,
            )
        )
    return chips


def test_chip_tables_match_samna_reset_object(samna):
    obj = samna.dynapse2.Dynapse2Configuration()
    ch = obj.chips[0]
    core = ch.cores[0]
    neuron = core.neurons[0]
    assert len(obj.chips) == 1 and len(ch.cores) == C.N_CORES
    assert len(core.neurons) == C.N_NEURONS_PER_CORE
    assert len(neuron.synapses) == C.N_CAM and len(neuron.destinations) == C.N_SRAM
    assert {k: v.type for k, v in core.parameters.items()} == C.CORE_PARAMETERS
    assert {k: v.type for k, v in ch.global_parameters.items()} == C.CHIP_GLOBAL_PARAMETERS
    for group in (ch.shared_parameters01, ch.shared_parameters23):
        assert {k: v.type for k, v in group.items()} == C.CHIP_SHARED_PARAMETERS
    for groups in (ch.sadc_group_parameters01, ch.sadc_group_parameters23):
        assert len(groups) == C.N_SADC_GROUPS
        assert all({k: v.type for k, v in g.items()} == C.CHIP_SADC_PARAMETERS for g in groups)
    b = ch.bioamps
    assert {k: v.type for k, v in b.common_parameters.items()} == C.CHIP_BIOAMP_COMMON_PARAMETERS
    assert len(b.channel_parameters) == C.N_BIOAMP_CHANNELS
    for g in b.channel_parameters:
        assert {k: v.type for k, v in g.items()} == C.CHIP_BIOAMP_CHANNEL_PARAMETERS
    switchable = {
        k
        for m in (
            core.parameters,
            ch.global_parameters,
            ch.shared_parameters01,
            *ch.sadc_group_parameters01,
            b.common_parameters,
            *b.channel_parameters,
        )
        for k, v in m.items()
        if v.is_type_switchable()
    }
    assert switchable == C.TYPE_SWITCHABLE_PARAMETERS
    latches = {a[len("latch_") :] for a in dir(neuron) if a.startswith("latch_")}
    assert latches == set(C.NEURON_LATCHES)
    assert {m.value for m in samna.dynapse2.Dendrite.__members__.values()} == set(
        C.DENDRITE_CODES.values()
    )
    assert neuron.synapses[0].tag == C.RESET_TAG and neuron.destinations[0].tag == C.RESET_TAG
    # the whole reset object is our reset state
    assert sb.from_samna(obj) == Configuration()


def test_ours_to_samna_to_ours(samna):
    cfg = random_configuration(2024, n_chips=2)
    obj = sb.to_samna(cfg)
    assert len(obj.chips) == 2
    snap = snapshot(obj)
    # independent field-by-field check against our arrays
    for chip, (glob, sh01, sh23, sa01, sa23, bcom, bch, flags, cores) in zip(
        cfg.chips, snap, strict=True
    ):
        as_t = lambda m: {k: (p.coarse, p.fine, p.type) for k, p in m.items()}  # noqa: E731
        assert glob == as_t(chip.global_parameters)
        assert (sh01, sh23) == (as_t(chip.shared_parameters01), as_t(chip.shared_parameters23))
        assert sa01 == [as_t(g) for g in chip.sadc_group_parameters01]
        assert sa23 == [as_t(g) for g in chip.sadc_group_parameters23]
        assert bcom == as_t(chip.bioamp_common_parameters)
        assert bch == [as_t(g) for g in chip.bioamp_channel_parameters]
        assert flags == [chip.flags[f] for f in C.CHIP_FLAGS]
        for core, (params, monitored, cflags, neurons) in zip(chip.cores, cores, strict=True):
            assert params == as_t(core.parameters)
            assert monitored == core.monitored_neuron
            assert cflags == [core.flags[f] for f in C.CORE_FLAGS]
            syn = np.array([nrn[0] for nrn in neurons], dtype=np.int64)
            dest = np.array([nrn[1] for nrn in neurons], dtype=np.int64)
            lat = np.array([nrn[2] for nrn in neurons], dtype=bool)
            for j, f in enumerate(
                ("tag", "dendrite", "weight", "stp", "precise_delay", "mismatched_delay")
            ):
                np.testing.assert_array_equal(syn[..., j], getattr(core, "syn_" + f), err_msg=f)
            for j, f in enumerate(("tag", "core", "x_hop", "y_hop")):
                np.testing.assert_array_equal(dest[..., j], getattr(core, "dest_" + f), err_msg=f)
            np.testing.assert_array_equal(lat, core.latches)
    back = sb.from_samna(obj)
    expected = Configuration(cfg.chips)  # maps and positions are not samna's
    for i, c in enumerate(expected.chips):
        c.position = (i, 0)
    assert back == expected


def _randomise_samna(samna, seed):
    """Random values everywhere, written through samna's own API."""
    rng = np.random.default_rng(seed)
    d = samna.dynapse2
    obj = d.Dynapse2Configuration()
    obj.chips = list(obj.chips) + [d.Dynapse2Chip()]
    enums = [d.Dendrite(c) for c in sorted(C.DENDRITE_CODES.values())]

    def rand_params(m):
        for p in m.values():
            p.coarse_value = int(rng.integers(0, C.BG_COARSE_MAX + 1))
            p.fine_value = int(rng.integers(0, C.BG_FINE_MAX + 1))
            if p.is_type_switchable():
                p.type = str(rng.choice(["N", "P"]))

    for ch in list(obj.chips):
        b = ch.bioamps
        for m in (
            ch.global_parameters,
            ch.shared_parameters01,
            ch.shared_parameters23,
            *ch.sadc_group_parameters01,
            *ch.sadc_group_parameters23,
            b.common_parameters,
            *b.channel_parameters,
        ):
            rand_params(m)
        for f in C.CHIP_FLAGS:
            setattr(ch, f, bool(rng.integers(2)))
        setattr(ch, str(rng.choice(C.PG_REFERENCE_MONITOR_FLAGS)), False)  # not both
        monitor = (int(rng.integers(C.N_CORES)), str(rng.choice(C.PULSE_EXTENDER_MONITOR_FLAGS)))
        for ci, co in enumerate(ch.cores):
            rand_params(co.parameters)
            co.monitored_neuron = int(rng.integers(0, 256))
            for f in C.CORE_FLAGS:
                on = (ci, f) == monitor if f in C.PULSE_EXTENDER_MONITOR_FLAGS else rng.integers(2)
                setattr(co, f, bool(on))
            for n in co.neurons:
                for s in n.synapses:
                    s.dendrite = enums[int(rng.integers(len(enums)))]
                    s.tag = int(rng.integers(0, C.TAG_MAX))  # 2047 never active
                    s.weight = [bool(x) for x in rng.integers(0, 2, 4)]
                    s.stp, s.precise_delay, s.mismatched_delay = (
                        bool(x) for x in rng.integers(0, 2, 3)
                    )
                for t in n.destinations:
                    t.tag = int(rng.integers(0, C.TAG_MAX))
                    t.core = [bool(x) for x in rng.integers(0, 2, 4)]
                    t.x_hop, t.y_hop = (int(x) for x in rng.integers(C.HOP_MIN, C.HOP_MAX + 1, 2))
                for name in C.NEURON_LATCHES:
                    setattr(n, "latch_" + name, bool(rng.integers(2)))
    return obj


def test_samna_to_ours_to_samna(samna):
    obj = _randomise_samna(samna, 7)
    ours = sb.from_samna(obj)
    again = sb.to_samna(ours)
    assert snapshot(again) == snapshot(obj)
    # and into an existing object (as for a board's configuration)
    base = samna.dynapse2.Dynapse2Configuration()
    base.chips = list(base.chips) + [samna.dynapse2.Dynapse2Chip()]
    assert snapshot(sb.to_samna(ours, base=base)) == snapshot(obj)


def test_from_samna_rejects_what_samna_accepts(samna):
    obj = samna.dynapse2.Dynapse2Configuration()
    ch = obj.chips[0]
    ch.cores[2].neurons[9].synapses[4].tag = 70000  # samna checks nothing
    with pytest.raises(
        ValueError,
        match=r"samna configuration: chip 0, core 2, neuron 9, synapse 4: tag = 70000 is outside "
        r"the allowed range 0\.\.2047",
    ):
        sb.from_samna(obj)
    ch.cores[2].neurons[9].synapses[4].tag = 0
    ch.cores[0].parameters["SOIF_DC_P"].coarse_value = 9
    with pytest.raises(
        ValueError, match=r"chip 0, core 0: parameter SOIF_DC_P coarse = 9 is outside .*0\.\.5"
    ):
        sb.from_samna(obj)


def test_base_with_other_chip_count_is_rejected(samna):
    with pytest.raises(ValueError, match=r"samna configuration has 1 chips, the configuration 2"):
        sb.to_samna(Configuration.reset(2), base=samna.dynapse2.Dynapse2Configuration())


def test_parameter_type_of_switchable_parameter_round_trips(samna):
    cfg = Configuration()
    cfg.chips[0].shared_parameters23["NCCF_CAL_REFBIAS_V"] = Parameter(3, 100, "P")
    obj = sb.to_samna(cfg)
    assert obj.chips[0].shared_parameters23["NCCF_CAL_REFBIAS_V"].type == "P"
    assert sb.from_samna(obj) == cfg


def test_mapped_configuration_through_samna():
    """A configuration written by the mapper (2 chips, cross-chip routes, host routes, input
    and output maps) survives samna 0.7.1.0 value by value (positions and maps are ours)."""
    from dynapse2.hardware.mapper import Connections, place, route

    p = place([tuple(range(6))])
    ampa, gaba = C.DENDRITE_CODES["ampa"], C.DENDRITE_CODES["gaba"]
    rows = [(0, 0, ampa, 1), (0, 5, gaba, 2), (2, 4, ampa, 15), (6, 0, ampa, 8)]
    pre, post, dend, w = (np.array(c) for c in zip(*rows, strict=True))
    cfg = route(p, Connections(2, pre, post, dend, w), outputs=[4, 5])
    back = sb.from_samna(sb.to_samna(cfg))
    assert back.chips == [
        type(c)(c.cores, position=(i, 0), flags=c.flags) for i, c in enumerate(cfg.chips)
    ]


def _edited(cfg: Configuration, seed: int) -> Configuration:
    """``cfg`` with weights, a tag, a destination, a latch, core and chip biases changed."""
    rng = np.random.default_rng(seed)
    new = cfg.copy()
    for chip in new.chips:
        core = chip.cores[int(rng.integers(C.N_CORES))]
        rows = rng.choice(C.N_NEURONS_PER_CORE, 5, replace=False)
        core.syn_weight[rows] = rng.integers(0, 16, (5, C.N_CAM))
        core.syn_tag[rows[0], 3] = 77
        core.dest_x_hop[rows[1], 0] = -3
        core.latches[rows[2], 1] = not core.latches[rows[2], 1]
        core.parameters[C.BASE_WEIGHT_PARAMETERS[1]] = Parameter(4, 12, "P")
    new.chips[-1].global_parameters["R2R_BUFFER_AMPB"] = Parameter(2, 33, "P")
    return new


def test_incremental_update_writes_exactly_the_new_configuration(samna):
    from dynapse2.hardware.config_diff import changes

    old = random_configuration(31, n_chips=2, density=0.4)
    new = _edited(old, 1)
    obj = sb.to_samna(old)
    ch = changes(old, new)
    assert 0 < ch.neurons <= 2 * 5 and not ch.weights_only
    assert sb.to_samna(new, base=obj, changed=ch) is obj
    want = Configuration(new.chips)
    for i, c in enumerate(want.chips):
        c.position = (i, 0)
    assert sb.from_samna(obj) == want  # value by value, every field of every chip
    with pytest.raises(ValueError, match="changed= updates a base configuration"):
        sb.to_samna(new, changed=ch)


class _Model:
    """A samna model double: holds a real samna configuration; records what is applied."""

    def __init__(self, samna, n_chips):
        self.held = samna.dynapse2.Dynapse2Configuration()
        self.held.chips = [samna.dynapse2.Dynapse2Chip() for _ in range(n_chips)]
        self.applied = []
        self.calls: list[str] = []

    def get_configuration(self):
        return self.held

    def apply_configuration(self, obj):
        self.calls.append("apply")
        self.applied.append(sb.from_samna(obj))
        return True

    def clear_error_queue(self):
        self.calls.append("clear")

    def get_error_events(self):
        return []


class _Device:
    def __init__(self, model):
        self.model = model

    def get_model(self):
        return self.model


def test_board_applies_incrementally(samna):
    old = random_configuration(32, n_chips=2, density=0.4)
    for i, c in enumerate(old.chips):
        c.position = (i, 0)
    old = Configuration(old.chips)
    from dynapse2.hardware.samna_current import StackBoard

    model = _Model(samna, 2)
    board = StackBoard(samna, _Device(model), n_chips=2, settle_s=0.0)
    board.apply(old)
    assert board.last_changes is None and model.applied == [old]
    new = _edited(old, 2)
    board.apply(new)
    assert not board.last_changes.empty and model.applied[-1] == new
    board.apply(new.copy())  # nothing differs: nothing is sent
    assert board.last_changes.empty and len(model.applied) == 2
    board.apply(old)  # and back
    assert model.applied[-1] == old and board.config == old
    assert model.calls == ["clear", "apply"] * 3  # the error queue is cleared before each apply
