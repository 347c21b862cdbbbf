"""The mapper: placement on cores and chips, tags, SRAM destinations, CAM entries, limits."""

from __future__ import annotations

import numpy as np
import pytest

from dynapse2.hardware import chip as C
from dynapse2.hardware.mapper import (
    Connections,
    default_positions,
    flat_id,
    place,
    route,
    unroute,
    usable_tags,
)

AMPA, GABA, NMDA = (C.DENDRITE_CODES[t] for t in ("ampa", "gaba", "nmda"))


def test_place_groups_get_own_cores_and_big_groups_span_cores():
    groups = [(0,) * 300 + (1,) * 10, (5, 3) * 4]  # layer 0: 310 neurons; layer 1: 8
    p = place(groups)
    l0 = p.of_layer(0)
    # group 0 (300 neurons) -> cores 0 and 1; group 1 -> core 2; layer 1 group 3 -> core 3,
    # group 5 -> chip 1 core 0.
    assert p.global_core[l0[:256]].tolist() == [0] * 256
    assert p.global_core[l0[256:300]].tolist() == [1] * 44
    assert p.global_core[l0[300:]].tolist() == [2] * 10
    assert p.neuron[l0[256:300]].tolist() == list(range(44))
    l1 = p.of_layer(1)
    assert p.global_core[l1].tolist() == [4, 3] * 4  # group 3 placed before group 5
    assert p.neuron[l1].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert p.n_chips == 2 and p.positions == ((0, 0), (1, 0))
    # no core mixes groups or holds more than 256 neurons
    for gc in np.unique(p.global_core):
        sel = p.global_core == gc
        pairs = set(zip(p.layer[sel].tolist(), p.index[sel].tolist(), strict=True))
        assert sel.sum() <= 256 and len(pairs) == sel.sum()
    assert "chip 1 at (1, 0), core 0:   4 neurons of layer 1" in p.summary()


def test_default_positions_square_and_limits():
    assert default_positions(1) == ((0, 0),)
    assert default_positions(5) == ((0, 0), (1, 0), (2, 0), (0, 1), (1, 1))
    with pytest.raises(ValueError, match="1..225 chips"):
        default_positions(226)
    with pytest.raises(ValueError, match="needs 5 cores, i.e. 2 chips"):
        place([(0, 1, 2, 3, 4)], positions=[(0, 0)])


def _conns(n_in, rows):
    pre, post, dend, w = zip(*rows, strict=True)
    return Connections(n_in, np.array(pre), np.array(post), np.array(dend), np.array(w))


def test_route_within_core_across_cores_and_chips():
    # 6 neurons, one per core over 2 chips (groups 0..5); 2 input channels.
    p = place([tuple(range(6))])
    n_in = 2
    rows = [
        (0, 0, AMPA, 1),  # input 0 -> neuron 0 (chip 0 core 0)
        (0, 5, GABA, 2),  # input 0 -> neuron 5 (chip 1 core 1)
        (1, 1, AMPA, 3),
        (n_in + 0, 0, NMDA, 4),  # recurrent within a core
        (n_in + 0, 1, AMPA, 5),  # across cores
        (n_in + 0, 2, AMPA, 6),  # same chip, another core: same destination, mask 0b110
        (n_in + 0, 4, GABA, 7),  # across chips
        (n_in + 4, 0, AMPA, 8),  # back
    ]
    cfg = route(p, _conns(n_in, rows), outputs=[4, 5])
    core00 = cfg.chips[0].cores[0]
    # neuron 0 sends to chip 0 (cores 0,1,2) and chip 1 (core 0)
    assert core00.dest_core[0, :2].tolist() == [0b0111, 0b0001]
    assert (core00.dest_x_hop[0, 1], core00.dest_y_hop[0, 1]) == (1, 0)
    # tags per receiving chip: chip 0 hears input 0, input 1, neuron 0, neuron 4 -> 0,1,2,3
    assert core00.dest_tag[0, 0] == 2
    assert cfg.input_map[0][0].tag == 0 and cfg.input_map[1][0].tag == 1
    # chip 1 hears input 0 and neuron 0 -> tags 0, 1
    assert [r.chip for r in cfg.input_map[0]] == [0, 1]
    assert cfg.input_map[0][1].tag == 0 and cfg.input_map[0][1].core_mask == 0b0010
    assert core00.dest_tag[0, 1] == 1
    # CAM of neuron 0: input 0 AMPA w1 (tag 0), self NMDA w4 (tag 2), neuron 4 AMPA (tag 3)
    assert core00.syn_tag[0, :3].tolist() == [0, 2, 3]
    assert core00.syn_dendrite[0, :3].tolist() == [AMPA, NMDA, AMPA]
    assert core00.syn_weight[0, :3].tolist() == [1, 4, 8]
    # outputs: host destination with board-wide unique tags
    o = cfg.output_map
    assert (o[0].chip, o[0].core, o[0].neuron, o[0].tag) == (1, 0, 0, 0)
    assert (o[1].chip, o[1].core, o[1].neuron, o[1].tag) == (1, 1, 0, 1)
    c10 = cfg.chips[1].cores[0]
    k = int(np.flatnonzero(c10.dest_x_hop[0] == C.HOST_HOPS[0])[0])
    assert (c10.dest_tag[0, k], c10.dest_y_hop[0, k]) == (0, C.HOST_HOPS[1])
    # the inverse finds every synapse again
    syn = unroute(cfg)
    got = sorted(
        zip(
            syn.pre_input.tolist(),
            syn.pre.tolist(),
            syn.post.tolist(),
            syn.dendrite.tolist(),
            syn.weight.tolist(),
            strict=True,
        )
    )
    fid = [int(flat_id(p.chip[g], p.core[g], p.neuron[g])) for g in range(6)]
    want = sorted(
        (pre < n_in, pre if pre < n_in else fid[pre - n_in], fid[post], d, w)
        for pre, post, d, w in rows
    )
    assert got == want and syn.dangling == 0
    assert syn.outputs == {0: fid[4], 1: fid[5]}


def test_reserved_tag_is_skipped():
    tags = usable_tags(C.TAG_MAX + 1)
    assert tags.size == C.TAG_MAX and C.TAG_MAX not in tags


def test_cam_limit_names_the_neuron():
    p = place([(0,) * 2])
    rows = [(i, 1, AMPA, 1) for i in range(C.N_CAM + 1)]
    with pytest.raises(
        ValueError,
        match=r"layer 0 neuron 1 \(chip 0, core 0, neuron 1\) has 65 "
        r"incoming synapses; a neuron has 64 CAM entries",
    ):
        route(p, _conns(C.N_CAM + 1, rows), outputs=[])


def test_sram_limit_names_the_neuron():
    # neuron 0 projects to 4 other chips and is an output: 5 destinations
    p = place([tuple(range(17))])  # 17 cores -> 5 chips
    targets = [g for g in range(17) if p.chip[g] != 0 and p.core[g] == 0]
    rows = [(1, t, AMPA, 1) for t in targets]
    with pytest.raises(
        ValueError,
        match=r"layer 0 neuron 0 \(chip 0, core 0, neuron 0\) needs 5 "
        r"SRAM destinations .*plus one to the host as an output.*has 4",
    ):
        route(p, _conns(1, rows), outputs=[0])


def test_hop_limit_and_host_hop():
    p = place([(0, 1, 2, 3, 4)], positions=[(0, 0), (8, 0)])
    with pytest.raises(ValueError, match=r"hops \(8, 0\) are outside -7..7"):
        route(p, _conns(1, [(1, 4, AMPA, 1)]), outputs=[])
    p = place([(0, 1, 2, 3, 4)], positions=[(7, 0), (0, 0)])
    with pytest.raises(ValueError, match=r"hops \(-7, 0\), which is the route to the host"):
        route(p, _conns(1, [(1, 4, AMPA, 1)]), outputs=[])


def test_tag_limit_per_chip():
    n_in = C.TAG_MAX + 1  # 2048 inputs to one chip: one more than its usable tags
    n = 32
    p = place([(0,) * n])
    rows = [(i, i % n, AMPA, 1) for i in range(n_in)]
    with pytest.raises(
        ValueError,
        match=r"chip 0 receives events from 2048 distinct sources, "
        r"but a chip has only 2047 usable tags.*input channel 2047",
    ):
        route(p, _conns(n_in, rows), outputs=[])


def test_unroute_rejects_ambiguous_and_lost_destinations():
    p = place([(0, 1)])
    cfg = route(p, _conns(1, [(0, 0, AMPA, 1), (1, 1, AMPA, 1)]), outputs=[])
    core = cfg.chips[0].cores[0]
    core.dest_tag[0, 0], core.dest_core[0, 0] = 0, 0b1  # input 0 already sends tag 0 to core 0
    with pytest.raises(ValueError, match="tag 0 reaches chip 0 core 0 from two sources"):
        unroute(cfg)
    core.dest_tag[0, 0], core.dest_x_hop[0, 0] = 5, 3
    with pytest.raises(ValueError, match=r"hops \(3, 0\) from chip 0 at \(0, 0\) lead to no chip"):
        unroute(cfg)
