"""VirtualBoard: the event path is lossless, the board's mismatch is its own, its limits bite."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2.hardware import chip as C
from dynapse2.hardware.device import DRAIN_PARAMETERS, leaky_configuration, run_trials, to_hardware
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.network import map_network, network_from_config, population_neurons
from dynapse2.hardware.virtual_board import VirtualBoard
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.nn.dynapsim import MISMATCHED

N_IN, N1, N2 = 16, 40, 12


def _two_chip_net(seed: int = 0) -> Sequential:
    """Two populations, recurrent first layer in 5 parameter groups: 6 cores on 2 chips."""
    rng = np.random.default_rng(seed)
    w_rec = rng.uniform(-1, 1, (N1, N1)) * (rng.random((N1, N1)) < 0.2)
    return Sequential(
        Linear((N_IN, N1), weight=rng.uniform(-1, 6, (N_IN, N1)), has_bias=False),
        DynapSim(N1, groups=tuple((np.arange(N1) % 5).tolist()), has_rec=True, w_rec=w_rec),
        Linear((N1, N2), weight=rng.uniform(-1, 6, (N1, N2)), has_bias=False),
        DynapSim(N2),
    )


def _input(seed: int, batch: int = 3, steps: int = 200, p: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, N_IN)) < p).astype(np.int32)


def _sim(cfg, x, **kwargs) -> np.ndarray:
    out, _, _ = network_from_config(cfg, **kwargs)(jnp.asarray(x, jnp.float32))
    return np.asarray(out).astype(np.int32)


def test_event_path_is_exact_on_two_chips():
    board = VirtualBoard(n_chips=2)
    hw = to_hardware(_two_chip_net(), device=board)
    assert len(hw.config.chips) == 2
    assert len({int(f) // C.N_NEURONS_PER_CORE for f in population_neurons(hw.config)[0]}) == 5
    x = _input(1)
    out, state, rec = hw(x, record=True)
    ref = _sim(hw.config, x)
    assert ref.sum() > 100  # the outputs fire, so identity is not trivial
    np.testing.assert_array_equal(out, ref)
    assert state == {} and len(rec["events"]) == 3
    routes = np.array([len(hw.config.input_map[c]) for c in range(N_IN)])
    assert routes.max() == 2  # channels fan out to both chips: one event per route
    assert board.events["sent"] == int((x.sum(axis=(0, 1)) * routes).sum())
    assert board.events["received"] == int(ref.sum())
    assert board.events["unheard"] == board.events["late"] == 0
    # the board drains before each trial: the same input gives the same output again
    np.testing.assert_array_equal(hw(x[1])[0], ref[1])


def test_without_drain_the_board_keeps_its_state():
    board = VirtualBoard(n_chips=2)
    hw = to_hardware(_two_chip_net(), device=board, drain=False)
    x = _input(2, batch=2, p=0.1)
    out, _, _ = hw(x)
    sim = network_from_config(hw.config)
    first, state, _ = sim(jnp.asarray(x[0], jnp.float32))
    second, _, _ = sim.set_attributes(state)(jnp.asarray(x[1], jnp.float32))
    np.testing.assert_array_equal(out[0], np.asarray(first).astype(np.int32))
    np.testing.assert_array_equal(out[1], np.asarray(second).astype(np.int32))
    fresh = _sim(hw.config, x[1])
    assert not np.array_equal(out[1], fresh)  # the carried state changed the second trial


def test_mismatch_is_the_boards_own_and_fixed():
    a, b, again = VirtualBoard(2, 0.2, seed=0), VirtualBoard(2, 0.2, seed=1), VirtualBoard(2, 0.2)
    assert set(a._mismatch) == set(MISMATCHED)
    for k in MISMATCHED:
        assert a._mismatch[k].shape == (2 * C.N_NEURONS_PER_CHIP,)
        np.testing.assert_array_equal(a._mismatch[k], again._mismatch[k])  # same seed, same chip
        assert not np.allclose(a._mismatch[k], b._mismatch[k])  # another seed, another chip
    # spread: 2048 draws of 1 + 0.2 N(0, 1); the sample std is within 0.2 +- 0.02 (7 sigma)
    assert abs(float(np.std(a._mismatch["Itau_mem"])) - 0.2) < 0.02
    before = {k: v.copy() for k, v in a._mismatch.items()}
    hw = to_hardware(_two_chip_net(), device=a)
    x = _input(3)
    out, _, _ = hw(x)
    to_hardware(_two_chip_net(seed=5), device=a)  # another configuration: the same silicon
    for k in MISMATCHED:
        np.testing.assert_array_equal(a._mismatch[k], before[k])
    # the board is the configuration's network with the factors of the neurons it occupies
    sim = network_from_config(hw.config)
    mods = list(sim.modules)
    for li, flat in enumerate(population_neurons(hw.config)):
        mods[2 * li + 1] = eqx.tree_at(
            lambda m: m.mismatch_factors,
            mods[2 * li + 1],
            {k: jnp.asarray(v[flat]) for k, v in before.items()},
            is_leaf=lambda v: v is None,
        )
    want, _, _ = Sequential(*mods)(jnp.asarray(x, jnp.float32))
    np.testing.assert_array_equal(out, np.asarray(want).astype(np.int32))
    assert not np.array_equal(out, _sim(hw.config, x))  # and mismatch changes what it does


def test_configuration_larger_than_the_board_is_refused():
    with pytest.raises(ValueError, match=r"has 2 chips; this VirtualBoard has 1 \(build it"):
        to_hardware(_two_chip_net(), device=VirtualBoard(n_chips=1))


def test_input_beyond_the_link_rate_is_dropped_and_counted():
    net = Sequential(Linear((3, 3), weight=np.eye(3) * 4.0, has_bias=False), DynapSim(3))
    board = VirtualBoard(max_input_rate=1000.0)  # 1 event per 1 ms step
    hw = to_hardware(net, device=board)
    x = np.zeros((50, 3), np.int32)
    x[10] = 1  # three events in one step: two dropped
    x[20, 1] = 2  # two events of one channel in one step: one dropped
    with pytest.warns(RuntimeWarning, match=r"dropped 3 input events beyond .*1e\+03 events/s"):
        hw(x)
    assert board.events["dropped_input"] == 3
    assert board.events["sent"] == 5


def test_output_beyond_the_link_rate_is_dropped_and_counted():
    net = Sequential(Linear((2, 8), weight=np.full((2, 8), 30.0), has_bias=False), DynapSim(8))
    x = np.zeros((100, 2), np.int32)
    x[::2] = 1
    free = to_hardware(net, device=VirtualBoard())
    full, _, _ = free(x)
    per_step = full.sum(axis=1)
    assert per_step.max() >= 3  # several outputs fire in one step
    board = VirtualBoard(max_output_rate=2000.0)  # 2 events per step
    with pytest.warns(RuntimeWarning, match="output events beyond"):
        out, _, _ = to_hardware(net, device=board)(x)
    assert board.events["dropped_output"] == int(np.maximum(per_step - 2, 0).sum())
    np.testing.assert_array_equal(out.sum(axis=1), np.minimum(per_step, 2))


def test_the_clock_is_simulated_time(monkeypatch):
    def no_sleep(_):
        raise AssertionError("a virtual board must not sleep")

    monkeypatch.setattr("time.sleep", no_sleep)
    net = Sequential(Linear((2, 2), weight=np.eye(2) * 4.0, has_bias=False), DynapSim(2))
    board = VirtualBoard()
    hw = to_hardware(net, device=board)
    assert board.now_us() == 0
    hw(np.zeros((10_000, 2), np.int32))  # 10 s
    assert board.now_us() == 10_000_000 + int(hw.drain_s / C.FPGA_TICK_S)


def test_unheard_and_late_events():
    net = Sequential(Linear((2, 2), weight=np.eye(2) * 20.0, has_bias=False), DynapSim(2))
    board = VirtualBoard()
    to_hardware(net, device=board)
    board.read(0.01)  # clock at 10 ms
    route = board.config.input_map[0][0]
    ev = np.zeros(2, EVENT_DTYPE)
    ev["tag"] = [route.tag, 1500]  # 1500: no CAM listens to it
    ev["core_mask"] = route.core_mask
    ev["timestamp_us"] = [2_000, 12_000]  # the first is in the past: it acts at once
    board.write(ev)
    out = board.read(0.01)
    assert board.events["late"] == 1 and board.events["unheard"] == 1
    assert out.size > 0 and out["timestamp_us"].min() >= 10_000
    with pytest.raises(ValueError, match="injected into chip 3; the board has chips 0..0"):
        ev["chip"] = 3
        board.write(ev)


def test_board_dt_is_its_own():
    net = Sequential(Linear((3, 3), weight=np.eye(3) * 4.0, has_bias=False), DynapSim(3))
    x = np.zeros((40, 3), np.int32)
    x[5:30:3] = 1
    fine = to_hardware(net, device=VirtualBoard(dt=0.5e-3))
    out, _, _ = fine(x)
    assert out.shape == (40, 3) and out.sum() > 0
    with pytest.raises(ValueError, match="dt"):
        to_hardware(net, device=VirtualBoard(dt=5e-3))  # time constants under 10 steps


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_chips": 0}, r"VirtualBoard: n_chips = 0 must be an integer in 1..225"),
        ({"mismatch": 1.5}, r"mismatch = 1.5 must be in \[0, 1\)"),
        (
            {"dt": 1e-7},
            r"dt \(s, at least one FPGA tick\) = 1e-07 must be .* >= 1e-06",
        ),
        ({"max_input_rate": 0.0}, r"max_input_rate \(events/s\) = 0.0 must be a finite number > 0"),
        ({"backend": "torch"}, r"backend = 'torch' must be one of \['jax', 'numpy'\]"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VirtualBoard(**kwargs)


def test_leaky_configuration_sets_every_leak_to_the_maximum():
    cfg = to_hardware(_two_chip_net(), device=VirtualBoard(2)).config
    leaky = leaky_configuration(cfg)
    assert set(DRAIN_PARAMETERS) == {
        "DEAM_ETAU_P",
        "DENM_ETAU_P",
        "DEGA_ITAU_P",
        "DESC_ITAU_P",
        "SOIF_LEAK_N",
        "SOAD_TAU_P",
    }
    for chip, orig in zip(leaky.chips, cfg.chips, strict=True):
        for core, o in zip(chip.cores, orig.cores, strict=True):
            for name, p in core.parameters.items():
                if name in DRAIN_PARAMETERS:
                    assert (p.coarse, p.fine) == (C.BG_COARSE_MAX, C.BG_FINE_MAX)
                else:
                    assert p == o.parameters[name]
            np.testing.assert_array_equal(core.syn_tag, o.syn_tag)
    assert cfg.chips[0].cores[0].parameters["SOIF_LEAK_N"].fine != C.BG_FINE_MAX  # a copy


def test_reapplying_new_weights_is_incremental_and_exact():
    """New weights on the same placement: the board keeps its router and state, and runs
    exactly what a fresh board (same seed) with the new configuration runs."""
    net = _two_chip_net()
    board = VirtualBoard(2, 0.2, seed=4)
    hw = to_hardware(net, device=board, drain=False)
    router = board._heard
    x = _input(6, batch=2)
    hw(x[:1])  # leaves state behind
    stored = {k: v.copy() for k, v in board._store.items()}
    scaled = eqx.tree_at(lambda n: n.modules[2].weight, net, net.modules[2].weight * 1.3)
    new = map_network(scaled).config
    hw.apply(new)
    ch = board.last_changes
    assert ch.weights_only and ch.neurons > 0 and not ch.routing
    assert board._heard is router  # not rebuilt
    for k, v in stored.items():
        np.testing.assert_array_equal(board._store[k], v)  # state kept, as on a board
    # the same configuration again changes nothing
    hw.apply(new.copy())
    assert board.last_changes.empty
    # a fresh board of the same silicon with the new configuration, drained: identical
    board.drain(new)
    fresh = to_hardware(scaled, device=VirtualBoard(2, 0.2, seed=4))
    out = hw(x[1])[0]
    assert out.sum() > 20
    np.testing.assert_array_equal(out, fresh(x[1])[0])
    # and the board holds its own copy: editing the caller's configuration changes nothing
    new.chips[0].cores[0].syn_weight[:] = 0
    assert board.config != new


def test_a_route_change_rebuilds_the_router():
    board = VirtualBoard(2)
    hw = to_hardware(_two_chip_net(), device=board)
    other = _two_chip_net(seed=5)
    hw.apply(map_network(other).config)
    assert board.last_changes.routing
    x = _input(7)
    np.testing.assert_array_equal(hw(x)[0], _sim(hw.config, x))


class _OneByOne:
    """The board's event interface without ``trials_from_rest``: trials one at a time."""

    def __init__(self, board):
        self.board = board

    def __getattr__(self, name):
        if name == "trials_from_rest":
            raise AttributeError(name)
        return getattr(self.board, name)


def test_drained_trials_side_by_side_equal_one_by_one():
    """A batch runs as one simulation on the virtual board, with the same output, events,
    counters, clock and final state as trial after trial (the path of a real board)."""
    x = _input(8, batch=4, p=0.08)
    x[2, 50] = 3  # beyond the link rate below: input events dropped in one trial
    boards = [VirtualBoard(2, 0.2, seed=3, max_input_rate=20_000.0) for _ in range(2)]
    results = []
    for board, wrap in zip(boards, (lambda b: b, _OneByOne), strict=True):
        hw = to_hardware(_two_chip_net(), device=board)
        board.read(0.0123)  # the clock is not at 0
        with pytest.warns(RuntimeWarning, match="dropped"):
            runs = run_trials(wrap(board), hw.config, x, hw.dt, 0.002, 0.003, hw.drain_s)
        results.append((runs, board))
    (fast, a), (slow, b) = results
    assert sum(int(out.sum()) for out, _ in fast) > 50
    for (out_f, ev_f), (out_s, ev_s) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(out_f, out_s)
        np.testing.assert_array_equal(ev_f, ev_s)
    assert a.events == b.events and a.events["dropped_input"] > 0
    assert a.clock_us == b.clock_us
    for k in a._store:
        np.testing.assert_array_equal(a._store[k], b._store[k])
    np.testing.assert_array_equal(a._at_rest, b._at_rest)
