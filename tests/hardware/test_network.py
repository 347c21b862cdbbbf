"""Network -> configuration -> network: quantization, placement, round trips, exact spikes."""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
from seeds import sweep

from dynapse2.hardware import bias
from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration
from dynapse2.hardware.levels import level_table, recover
from dynapse2.hardware.network import (
    META_KEY,
    config_from_network,
    map_network,
    network_from_config,
)
from dynapse2.nn import CURRENTS, DynapSim, Linear, Sequential
from dynapse2.nn.connectivity import SparseWeights

N_IN, N = 100, 300


def _sparse(rng, n_pre, n_post, k, scale):
    w = np.zeros((n_pre, n_post))
    for j in range(n_post):
        w[rng.choice(n_pre, k, replace=False), j] = rng.normal(0, scale, k)
    return w


@pytest.fixture(scope="module", params=sweep())
def big(request):
    """300 neurons in two parameter groups (2 cores), 64 inputs each (40 input + 24 rec);
    the weights and input are drawn from the seed ``request.param``."""
    rng = np.random.default_rng(request.param)
    w_in = _sparse(rng, N_IN, N, 40, 2.0)
    w_rec = _sparse(rng, N, N, 24, 1.0)
    groups = (0,) * 150 + (1,) * 150
    net = Sequential(
        Linear((N_IN, N), weight=w_in),
        DynapSim(N, has_rec=True, w_rec=w_rec, groups=groups, Itau_mem=4e-12, Idc=2e-12),
    )
    m = map_network(net)
    rebuilt = network_from_config(m.config)
    x = (rng.random((2, 150, N_IN)) < 0.05).astype(np.float32)
    return net, m, rebuilt, x


def test_round_trip_config_identical(big):
    net, m, rebuilt, _ = big
    cfg2 = config_from_network(rebuilt)
    assert cfg2 == m.config
    assert m.weights[0].recovered.all()


def test_round_trip_spikes_identical(big):
    _, m, rebuilt, x = big
    a = np.asarray(m.network(x)[0])
    b = np.asarray(rebuilt(x)[0])
    assert a.shape == (2, 150, N) and a.sum() > 50  # 12 seeds: min 2552, max 3122 spikes
    np.testing.assert_array_equal(a, b)


def test_round_trip_through_json(big, tmp_path):
    _, m, rebuilt, x = big
    path = tmp_path / "net.json"
    m.config.save(str(path))
    cfg = Configuration.load(str(path))
    assert cfg == m.config
    again = network_from_config(cfg)
    np.testing.assert_array_equal(np.asarray(again(x[0])[0]), np.asarray(rebuilt(x[0])[0]))


def test_configuration_holds_the_network(big):
    net, m, rebuilt, _ = big
    cfg, p = m.config, m.placement
    assert p.global_core[:150].tolist() == [0] * 150 and p.global_core[150:].tolist() == [1] * 150
    # every neuron: <= 64 CAM entries, one destination on chip 0 + one to the host
    core0 = cfg.chips[0].cores[0]
    assert ((core0.syn_dendrite != 0).sum(axis=1)[:150] <= C.N_CAM).all()
    assert ((core0.dest_core != 0).sum(axis=1)[:150] == 2).all()
    assert len(cfg.output_map) == N and len(cfg.input_map) == N_IN
    # quantized weights agree with the fit's dequantized weights
    q = m.weights[0]
    lin = np.asarray(rebuilt[0].weight, np.float64)
    fit = q.fit.dequantize()
    np.testing.assert_allclose(lin, fit[:N_IN, :, 0] - fit[:N_IN, :, 2], rtol=1e-5, atol=1e-6)
    # relative error of the quantized input weights vs the float ones is small; 12 seeds:
    # min 0.059, median 0.061, max 0.064
    w = np.asarray(net[0].weight, np.float64)
    assert np.linalg.norm(lin - w) / np.linalg.norm(w) < 0.15
    # parameters: the BG settings of each core give the rebuilt currents exactly
    d = rebuilt[1]
    for name in CURRENTS:
        bg = C.SIM_TO_BG[name]
        for gc, sl in ((0, slice(0, 150)), (1, slice(150, 300))):
            prm = cfg.chips[0].cores[gc].parameters[bg]
            want = np.float32(bias.current(bg, prm.coarse, prm.fine))
            if name in ("Iw_ahp",):  # latch off: adaptation off, the quantized I_0
                assert not cfg.chips[0].cores[gc].latches[:150, 1].any()
            assert (np.asarray(getattr(d, name))[sl] == want).all(), name
    # so_dc is on (Idc = 2 pA > I_0)
    assert cfg.chips[0].cores[0].latches[:150, C.NEURON_LATCHES.index("so_dc")].all()
    # the meta records structure and constants
    meta = cfg.meta[META_KEY]
    assert meta["n_in"] == N_IN and meta["layers"][0]["dt"] == 1e-3
    assert d.dt == 1e-3 and d.Iscale == net[1].Iscale and d.groups == net[1].groups


def test_recover_finds_bases_used_only_in_combinations():
    iscale = 1e-8
    names = C.BASE_WEIGHT_PARAMETERS
    b = [float(bias.current(names[0], 2, f)) for f in (40, 70, 150)]
    base = np.array([[b[0], b[1], b[2], 0.0]])
    lv = level_table(base, iscale)[0]
    mags = lv[[1, 3, 5, 7]]  # b0, b0+b1, b0+b2, b0+b1+b2: b1 and b2 never alone
    got = recover(mags, iscale)
    assert [s[2] for s in got] == b


def test_bare_dynapsim_and_deep_sequential():
    rng = np.random.default_rng(1)
    bare = DynapSim(20, has_rec=True, w_rec=_sparse(rng, 20, 20, 5, 1.0))
    m = map_network(bare)
    assert len(m.config.input_map) == 20
    np.testing.assert_allclose(
        np.asarray(m.network[0].weight), np.eye(20) * float(m.network[0].weight[0, 0])
    )
    # deterministic (unit input weights, no random draw): measured 1.0150
    assert abs(float(m.network[0].weight[0, 0]) - 1.0) < 0.05
    assert config_from_network(network_from_config(m.config)) == m.config

    deep = Sequential(
        Linear((10, 30), weight=_sparse(rng, 10, 30, 6, 3.0)),
        DynapSim(30, groups=(0,) * 15 + (1,) * 15),
        Linear((30, 8), weight=_sparse(rng, 30, 8, 12, 3.0)),
        DynapSim(8, has_rec=True),
    )
    m = map_network(deep)
    assert m.placement.global_core.tolist() == [0] * 15 + [1] * 15 + [2] * 8
    rebuilt = network_from_config(m.config)
    assert config_from_network(rebuilt) == m.config
    assert rebuilt.to_config() == m.config  # the method spelling (Module.to_config)
    assert rebuilt.to_config().to_json() == m.config.to_json()
    x = (rng.random((80, 10)) < 0.2).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(m.network(x)[0]), np.asarray(rebuilt(x)[0]))
    assert len(m.config.output_map) == 8


def test_unsupported_networks():
    with pytest.raises(ValueError, match="has a bias"):
        map_network(
            Sequential(Linear((3, 4), has_bias=True, key=jax.random.PRNGKey(0)), DynapSim(4))
        )
    with pytest.raises(ValueError, match="ends with a Linear layer: a readout runs on the host"):
        map_network(
            Sequential(
                Linear((3, 4), key=jax.random.PRNGKey(0)),
                DynapSim(4),
                Linear((4, 2), key=jax.random.PRNGKey(0)),
            )
        )
    with pytest.raises(
        ValueError,
        match=r"layer 0 neuron 0 \(chip 0, core 0, neuron 0\) has 70 "
        r"nonzero incoming weights; a neuron has 64 CAM entries",
    ):
        map_network(Sequential(Linear((70, 2), weight=np.ones((70, 2))), DynapSim(2)))


def _chip_shaped(n: int, fan: int, seed: int) -> SparseWeights:
    """``fan`` CAM entries per neuron, every synapse type, one (pre, type) repeated."""
    rng = np.random.default_rng(seed)
    pre = np.stack([rng.choice(n, fan, replace=False) for _ in range(n)])
    typ = rng.integers(0, 4, (n, fan))
    pre[:, 1], typ[:, 1] = pre[:, 0], typ[:, 0]  # repeats entry 0: their weights add up
    return SparseWeights(pre, typ, rng.uniform(0.5, 3.0, (n, fan)))


def test_chip_shaped_recurrent_weights_map_as_their_dense_form():
    n, lin = 40, Linear((3, 40), weight=np.full((3, 40), 2.0))
    sparse = _chip_shaped(n, 8, 0)
    dense = np.asarray(sparse.to_dense())
    a = map_network(Sequential(lin, DynapSim(n, has_rec=True, w_rec=sparse)))
    b = map_network(Sequential(lin, DynapSim(n, has_rec=True, w_rec=dense)))
    assert a.config == b.config
    np.testing.assert_array_equal(a.network[1].w_rec, b.network[1].w_rec)
    # the repeated entry is one synapse of the summed weight
    assert np.count_nonzero(np.asarray(a.network[1].w_rec)[:, 0]) == 7


def test_chip_shaped_weights_over_the_cam_are_refused_or_pruned():
    n = 80
    sparse = _chip_shaped(n, 70, 1)  # 69 distinct (pre, type) per neuron, plus 3 inputs
    net = Sequential(
        Linear((3, n), weight=np.ones((3, n))), DynapSim(n, has_rec=True, w_rec=sparse)
    )
    with pytest.raises(
        ValueError,
        match=r"^layer 0 neuron 0 \(chip 0, core 0, neuron 0\) has 72 nonzero incoming weights; "
        r"a neuron has 64 CAM entries \(prune its inputs to at most 64, or pass prune=True",
    ):
        map_network(net)
    np.testing.assert_array_equal(map_network(net, prune=True).pruned[0], np.full(n, 8))


def test_prune_keeps_the_64_strongest_inputs_of_a_neuron():
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (70, 2))
    w[:, 1] = 0
    w[:3, 1] = [2.0, -1.0, 0.5]  # neuron 1 has 3 inputs: untouched
    net = Sequential(Linear((70, 2), weight=w), DynapSim(2))
    m = map_network(net, prune=True)
    np.testing.assert_array_equal(m.pruned[0], [6, 0])
    assert "pruned 6 weakest connection(s) of 1 neuron(s) to fit 64 CAM entries" in m.summary()
    kept = np.flatnonzero(np.asarray(m.network[0].weight)[:, 0])
    order = np.argsort(-np.abs(w[:, 0]))
    assert set(kept) <= set(order[:64])  # only the 64 strongest survive ...
    assert len(kept) >= 64 - len(m.weights[0].fit.dropped)  # ... less those below a level
    assert np.count_nonzero(np.asarray(m.network[0].weight)[:, 1]) == 3


def test_parameter_reduction_warns_or_raises():
    itau = np.full(4, 5e-12)
    itau[1] = 6e-12
    net = Sequential(Linear((2, 4), weight=np.ones((2, 4))), DynapSim(4, Itau_mem=itau))
    with pytest.raises(ValueError, match="layer 0: parameter 'Itau_mem' differs within core 0"):
        map_network(net, reduce="raise")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = map_network(net)
    assert any("Itau_mem" in str(r.message) and "mean" in str(r.message) for r in rec)
    got = float(np.asarray(m.network[1].Itau_mem)[0])
    # deterministic: the mean snapped to the nearest BG setting of SOIF_LEAK_N, within half a
    # fine step of coarse 0 (43.8 pA / 255 / 2 = 0.086 pA, 1.64 % of 5.25 pA); measured 1.42 %
    assert abs(got - 5.25e-12) / 5.25e-12 < 0.02


def test_time_constants_stay_within_the_euler_bound():
    # The nominal tau_ampa is exactly 10 dt; the nearest BG setting is slightly faster, so
    # the mapper takes the setting just below it.
    m = map_network(Sequential(Linear((2, 3), weight=np.ones((2, 3))), DynapSim(3)))
    d = m.network[1]
    assert float(np.min(d.tau_ampa)) >= 10 * d.dt * (1 - 1e-6)


def test_time_constants_are_bounded_by_the_modules_solver():
    # ExponentialEuler accepts tau >= 8 dt: a tau_ampa of 8.5 dt (below Euler's 10 dt) is
    # mapped to its nearest BG setting, not floored to Euler's limit, and the network read
    # back from the configuration (with its solver) accepts it; at exactly 8 dt the mapper
    # takes the setting just below the solver's limit.
    from dynapse2.solvers import ExponentialEuler

    probe = DynapSim(3, solver=ExponentialEuler())
    assert probe.solver.min_tau_steps == 8
    for steps in (8.5, 8.0):
        itau = probe.max_leak_current("Itau_ampa") * 8 / steps
        net = Sequential(
            Linear((2, 3), weight=np.ones((2, 3))),
            DynapSim(3, solver=ExponentialEuler(), Itau_ampa=itau),
        )
        m = map_network(net)
        d = m.network[1]
        tau = np.asarray(d.tau_ampa) / d.dt
        assert float(np.min(tau)) >= 8 * (1 - 1e-6)
        assert float(np.max(tau)) < 9.5  # Euler's limit would give >= 10
        if steps == 8.5:  # the nearest setting, within 3 % of the requested current
            assert abs(float(d.Itau_ampa[0]) - itau) / itau < 0.03
        back = network_from_config(m.config).modules[1]
        assert back.solver == ExponentialEuler()
        np.testing.assert_array_equal(np.asarray(back.Itau_ampa), np.asarray(d.Itau_ampa))


def test_the_simulation_options_survive_the_configuration():
    """detach_feedback, detach_reset, surrogate and its slope are not the chip's, but the
    network read back from a configuration trains as the mapped one did."""
    net = Sequential(
        Linear((3, 4), weight=np.eye(3, 4)),
        DynapSim(
            4, detach_feedback=False, detach_reset=False, surrogate="linear", surrogate_slope=7.0
        ),
    )
    back = network_from_config(map_network(net).config).modules[1]
    assert (back.detach_feedback, back.detach_reset) == (False, False)
    assert (back.surrogate, back.surrogate_slope) == ("linear", 7.0)
