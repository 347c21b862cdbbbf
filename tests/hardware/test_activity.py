"""Tests of activity-weighted quantization: source_rates, map_network(activity=...)."""

from __future__ import annotations

import numpy as np
import pytest

from dynapse2.hardware import map_network, quantization_aware, source_rates
from dynapse2.hardware.levels import level_table
from dynapse2.hardware.weights import quantize_weights
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.physics.synapses import typed_from_signed

DT = 1e-3


def _net(rng, n_in=12, n_h=10, n_out=4, rec=True):
    w_rec = rng.normal(0, 1.0, (n_h, n_h, 4)) ** 2
    return Sequential(
        Linear((n_in, n_h), weight=rng.normal(0, 2.0, (n_in, n_h))),
        DynapSim(n_h, dt=DT, has_rec=rec, w_rec=w_rec if rec else None),
        Linear((n_h, n_out), weight=rng.normal(0, 2.0, (n_h, n_out))),
        DynapSim(n_out, dt=DT),
    )


def test_source_rates_count_events_per_second():
    rng = np.random.default_rng(0)
    net = _net(rng)
    x = (rng.random((3, 80, 12)) < 0.3).astype(np.float32) * 2  # 2 events per step
    act = source_rates(net, x)
    assert [a.shape for a in act] == [(12,), (10,), (4,)]
    assert all(type(a) is np.ndarray and a.dtype == np.float64 for a in act)
    np.testing.assert_allclose(act[0], 2 * (x > 0).mean(axis=(0, 1)) / DT, rtol=1e-12)
    # each population's rates from its own spikes, the modules run one pair at a time
    hidden = np.asarray(Sequential(*net.modules[:2])(x)[0])
    out = np.asarray(Sequential(*net.modules[2:])(hidden)[0])
    assert hidden.sum() > 0 and out.sum() > 0  # the test sees spikes
    np.testing.assert_allclose(act[1], hidden.mean(axis=(0, 1)) / DT, rtol=1e-6)
    np.testing.assert_allclose(act[2], out.mean(axis=(0, 1)) / DT, rtol=1e-6)
    # one sample without a batch axis: the batch of one
    for a, b in zip(source_rates(net, x[1]), source_rates(net, x[1:2]), strict=True):
        np.testing.assert_array_equal(a, b)
    # a bare DynapSim: its n input channels, then its neurons
    bare = DynapSim(3, dt=DT)
    ins, own = source_rates(bare, np.ones((5, 3), np.float32))
    np.testing.assert_allclose(ins, np.full(3, 1 / DT))
    assert own.shape == (3,)


def test_uniform_activity_fits_the_unweighted_levels():
    # equal rates: the unweighted fit; only the rounding differs, and it keeps each neuron's
    # summed weight per synapse type at least as well as nearest rounding
    net = _net(np.random.default_rng(1))
    plain = map_network(net)
    ones = map_network(net, activity=[np.ones(12), np.ones(10), np.ones(4)])
    lin1 = net.modules[2]
    w = typed_from_signed(np.asarray(lin1.weight, np.float64))
    for a, b in zip(ones.weights, plain.weights, strict=True):
        np.testing.assert_array_equal(a.fit.base, b.fit.base)
    lost = [
        np.abs((w - m.weights[1].fit.dequantize()).sum(axis=0)) for m in (ones, plain)
    ]  # (n_post, 4) summed weight lost per neuron and type
    assert np.all(lost[0] <= lost[1] + 1e-9) and np.any(lost[0] < lost[1])


def test_activity_weights_each_row_by_its_source_rate_squared():
    # a recurrent population's rows: its input channels, then its own neurons; the fit
    # weighted by rate**2, the rounding keeping the mean drive by the rates
    rng = np.random.default_rng(2)
    net = _net(rng)
    act = [rng.uniform(0, 300, 12), rng.uniform(0, 300, 10), rng.uniform(0, 300, 4)]
    m = map_network(net, activity=act)
    lin0, pop0, lin1, pop1 = net.modules
    w0 = np.concatenate([typed_from_signed(np.asarray(lin0.weight, np.float64)), pop0.w_rec])
    w1 = typed_from_signed(np.asarray(lin1.weight, np.float64))
    for layer, w, rates, sim in ((0, w0, np.r_[act[0], act[1]], pop0), (1, w1, act[1], pop1)):
        core = np.zeros(sim.n, np.int64)
        want = quantize_weights(w, core, float(sim.Iscale), importance=rates**2, rates=rates)
        np.testing.assert_array_equal(m.weights[layer].fit.base, want.base)
        np.testing.assert_array_equal(m.weights[layer].fit.mask, want.mask)
    # and it is another fit than the unweighted one
    assert not np.array_equal(m.weights[0].fit.base, map_network(net).weights[0].fit.base)


def test_prune_with_activity_keeps_the_largest_drive():
    rng = np.random.default_rng(5)
    w = rng.normal(0, 1, (70, 2))
    w[:, 1] = 0
    w[:3, 1] = [2.0, -1.0, 0.5]
    rate = rng.uniform(1, 100, 70)
    strongest = np.argsort(-np.abs(w[:, 0]))[:6]
    rate[strongest] = 0.0  # the 6 largest weights come from silent sources
    net = Sequential(Linear((70, 2), weight=w), DynapSim(2))
    m = map_network(net, prune=True, activity=[rate, np.zeros(2)])
    np.testing.assert_array_equal(m.pruned[0], [6, 0])
    kept = np.flatnonzero(np.asarray(m.network[0].weight)[:, 0])
    by_drive = np.argsort(-(rate * np.abs(w[:, 0])), kind="stable")[:64]
    assert set(kept) <= set(by_drive) and not set(kept) & set(strongest)
    assert len(kept) >= 64 - len(m.weights[0].fit.dropped)
    # without activity the same neuron keeps its strongest weights
    plain = np.flatnonzero(np.asarray(map_network(net, prune=True).network[0].weight)[:, 0])
    assert set(strongest) & set(plain)


def test_quantization_aware_uses_the_activity_weighted_levels():
    rng = np.random.default_rng(3)
    net = _net(rng, rec=False)
    act = [rng.uniform(0, 300, 12), rng.uniform(0, 300, 10), rng.uniform(0, 300, 4)]
    qat = quantization_aware(net, activity=act)
    m = map_network(net, activity=act)
    for p, w in enumerate(m.weights):
        sim = net.modules[2 * p + 1]
        want = level_table(w.fit.base, float(sim.Iscale)).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(qat.levels[p]), want)
    # deploying the transformed network: its weights sit on the levels, the rounding that
    # keeps the drive has nothing to move, and the chip holds the weights training saw
    trained = qat(net)
    again = map_network(trained, activity=act)
    assert all(w.recovered.all() for w in again.weights)
    for k in (0, 2):
        np.testing.assert_allclose(
            np.asarray(again.network.modules[k].weight),
            np.asarray(trained.modules[k].weight),
            rtol=1e-6,
        )


def test_bad_activity_is_refused_before_any_work():
    net = _net(np.random.default_rng(4))
    good = [np.ones(12), np.ones(10), np.ones(4)]
    cases = [
        (
            np.ones(12),
            r"map_network: activity must be a sequence of 3 arrays of rates in Hz "
            r"\(input channels, then each population\): shapes \(12,\), \(10,\), \(4,\); got "
            r"ndarray",
        ),
        (
            good[:2],
            r"map_network: activity has 2 entries; expected 3 \(input channels, then "
            r"each of the 2 population\(s\)\)",
        ),
        (
            [np.ones(12), np.ones(9), np.ones(4)],
            r"map_network: activity\[1\] \(population 0\) must have shape \(10,\), got \(9,\)",
        ),
        (
            [np.ones(12), np.ones(10), np.array([1, -2.0, 1, 1])],
            r"map_network: activity\[2\]\[1\] \(population 1\) = -2.0; rates must be finite and "
            r">= 0 Hz",
        ),
        (
            [np.r_[np.ones(11), np.nan], np.ones(10), np.ones(4)],
            r"activity\[0\]\[11\] \(the input channels\) = nan",
        ),
        ([np.ones(12), np.full(10, np.inf), np.ones(4)], r"activity\[1\]\[0\] .* = inf"),
        ([np.ones(12), ["a"] * 10, np.ones(4)], r"activity\[1\] \(population 0\) is not numeric"),
    ]
    for bad, msg in cases:
        with pytest.raises(ValueError, match=msg):
            map_network(net, activity=bad)
    with pytest.raises(ValueError, match=r"quantization_aware: activity has 1 entries"):
        quantization_aware(net, activity=[np.ones(12)])
    with pytest.raises(
        ValueError,
        match=r"source_rates: x must be \(batch, time, 12\) or \(time, 12\) .*"
        r"got shape \(2, 5, 3\)",
    ):
        source_rates(net, np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match=r"source_rates: x must hold finite event counts >= 0"):
        source_rates(net, -np.ones((2, 5, 12)))
