"""Each import path against NIR's own semantics: IF, LIF, CubaLIF with an Affine bias (the DC
current), Scale, and the LI / CubaLI readouts (non-spiking, linear).

The yardstick is :mod:`dynapse2.nir.reference` (a float64 simulation of the graph as the NIR
specification reads, independent of the import's mapping), itself checked here against the
closed forms of the LIF, the IF and the LI. Every bound below is deterministic (fixed input
seeds); the measured values are written beside them.
"""

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from seeds import sweep  # noqa: E402

from dynapse2.hardware import map_network  # noqa: E402
from dynapse2.nir import from_nir  # noqa: E402
from dynapse2.nir.mapping import GAIN_MEM, LIF_THRESHOLD, SPKTHR_MAX, leak_node  # noqa: E402
from dynapse2.nir.reference import simulate  # noqa: E402

DT = 1e-4
ONE = np.ones(1)


def dc_graph(node, b):
    """Input (unused) -> Affine(0, bias b) -> node: the neuron driven by its bias alone."""
    n = np.size(b)
    return nir.NIRGraph.from_list(nir.Affine(weight=np.zeros((n, 1)), bias=np.atleast_1d(b)), node)


def lif(tau=20e-3):
    return nir.LIF(tau=tau * ONE, r=ONE, v_leak=0 * ONE, v_threshold=ONE, v_reset=0 * ONE)


def rate(spikes, dt=DT):
    return np.asarray(spikes).sum(axis=-2) / (np.shape(spikes)[-2] * dt)


def imported_rate(g, T):
    return rate(from_nir(g, dt=DT)(np.zeros((T, 1), np.float32))[0])


def reference_rate(g, T):
    return rate(simulate(g, np.zeros((T, 1)), DT)["output"])


# --- the reference against closed forms ---------------------------------------------------------
@pytest.mark.parametrize("v_inf", [1.5, 3.0, 5.0])
def test_reference_lif_and_if_match_their_closed_forms(v_inf):
    T = 20000
    got = reference_rate(dc_graph(lif(), v_inf), T)[0]
    period = 20e-3 * np.log(v_inf / (v_inf - 1.0))
    # thresholds are checked at step ends: each period is rounded up to whole steps,
    # measured -1.1 % / -1.5 % / -0.9 %
    assert got == pytest.approx(1 / period, rel=0.02)
    g = dc_graph(nir.IF(r=50 * ONE, v_threshold=ONE, v_reset=0 * ONE), v_inf)
    assert reference_rate(g, T)[0] == pytest.approx(50 * v_inf, rel=0.01)  # v grows at R b


def test_reference_cubali_steps_to_its_closed_form():
    tau_s, tau_m, r, w_in, b = 2e-3, 10e-3, 2.0, 0.5, 0.7
    node = nir.CubaLI(
        tau_syn=tau_s * ONE, tau_mem=tau_m * ONE, r=r * ONE, v_leak=0.3 * ONE, w_in=w_in * ONE
    )
    v = simulate(dc_graph(node, b), np.zeros((300, 1)), DT)["output"][:, 0]
    t = DT * np.arange(1, 301)
    # the step response of two low-passes in series, from v = v_leak, I = 0
    step = 1 + (tau_s * np.exp(-t / tau_s) - tau_m * np.exp(-t / tau_m)) / (tau_m - tau_s)
    np.testing.assert_allclose(v, 0.3 + r * w_in * b * step, rtol=1e-9, atol=1e-12)


def _kicked_lif():
    """A LIF (v_leak 0.3, threshold 1.3, tau 20 ms) driven by its bias toward v_inf = v_leak +
    3, and the input that kicks it 10 below v_leak at step 0 (R W dt / tau = -2e3 1e-4 /
    20e-3)."""
    node = nir.LIF(tau=20e-3 * ONE, r=ONE, v_leak=0.3 * ONE, v_threshold=1.3 * ONE,
                   v_reset=0.3 * ONE)  # fmt: skip
    g = nir.NIRGraph.from_list(nir.Affine(weight=-np.full((1, 1), 2e3), bias=3 * ONE), node)
    kick = np.zeros((400, 1))
    kick[0] = 1
    return g, kick


def _first_crossing(v0, v_inf=3.3, v_thr=1.3, tau=20e-3):
    """The first step end (counted from 1) at which v, relaxing from v0 toward v_inf with tau
    (exactly, from one step end to the next), is above v_thr."""
    n = np.arange(1, 10_000)
    return int(n[v_inf + (v0 - v_inf) * np.exp(-n * DT / tau) > v_thr][0])


@pytest.mark.parametrize("h", [0.0, 0.5, 2.0])
def test_reference_floor_holds_an_inhibited_lif_at_v_leak_minus_h(h):
    # kicked 10 below v_leak, the LIF ends step 0 on the floor v_leak - h (v_thr - v_leak) =
    # 0.3 - h and climbs from there (spike index n: n steps after step 0's end), then fires
    # as a LIF reset to v_reset = 0.3
    g, kick = _kicked_lif()
    spikes = simulate(g, kick, DT, floor=h)["output"][:, 0]
    first = _first_crossing(0.3 - h)
    period = _first_crossing(0.3)
    assert np.flatnonzero(spikes)[:3].tolist() == [first, first + period, first + 2 * period]
    plain = np.flatnonzero(simulate(g, kick, DT)["output"][:, 0])[0]
    # without the floor it climbs back from where step 0 left it
    assert plain == _first_crossing(3.3 + (0.3 - 10 - 3.3) * np.exp(-DT / 20e-3)) > first


@pytest.mark.parametrize("h", [0.0, 0.25, 1.0])
def test_reference_reset_to_floor_lengthens_every_interval_to_its_closed_form(h):
    # reset to the floor v_leak - h (v_thr - v_leak): each interval is the closed form's from
    # 0.3 - h (a DPI with v_leak mapped above I_0 still resets to I_0, i.e. to the floor); the
    # first spike is from v_leak at the start of step 0 (index n: n + 1 steps)
    g, _ = _kicked_lif()
    spikes = simulate(g, np.zeros((3000, 1)), DT, floor=h, reset_to_floor=True)["output"][:, 0]
    first, period = _first_crossing(0.3) - 1, _first_crossing(0.3 - h)
    want = np.arange(first, 3000, period)
    np.testing.assert_array_equal(np.flatnonzero(spikes), want)


def test_reference_floor_and_reset_to_floor_are_checked():
    g, kick = _kicked_lif()
    with pytest.raises(ValueError, match=r"simulate: floor = -0\.1 must be a finite number >= 0"):
        simulate(g, kick, DT, floor=-0.1)
    with pytest.raises(ValueError, match=r"simulate: floor = nan must be a finite number >= 0"):
        simulate(g, kick, DT, floor=float("nan"))
    with pytest.raises(TypeError, match=r"simulate: floor = '0\.5' must be a number, got str"):
        simulate(g, kick, DT, floor="0.5")
    with pytest.raises(TypeError, match=r"simulate: reset_to_floor = 1 must be True or False"):
        simulate(g, kick, DT, floor=0.5, reset_to_floor=1)
    with pytest.raises(ValueError, match=r"simulate: reset_to_floor=True needs a floor"):
        simulate(g, kick, DT, reset_to_floor=True)


# --- spiking populations ----------------------------------------------------------------------
def test_if_imports_as_a_slow_leak_near_the_reference_rate():
    # IF -> the longest membrane tau the soma reaches (89 ms) with R' = R tau. Measured rates
    # -8.1 / -7.0 / -4.4 / -2.6 % of the reference at v_inf = 1.5 / 2 / 3 / 5 (the leak)
    b = np.array([1.5, 2.0, 3.0, 5.0])
    g = dc_graph(nir.IF(r=np.full(4, 50.0), v_threshold=np.ones(4), v_reset=np.zeros(4)), b)
    got, ref = imported_rate(g, 20000), reference_rate(g, 20000)
    np.testing.assert_allclose(got / ref, 1.0, atol=0.12)
    assert (got < ref).all()  # the leak only ever slows it


def test_affine_bias_becomes_the_dc_current_of_a_cubalif():
    # w_in != 1 and R != 1, so that the bias's path through R w_in is exercised
    n, r, w_in = 4, 1.5, 2.0
    node = nir.CubaLIF(
        tau_syn=np.full(n, 5e-3),
        tau_mem=np.full(n, 20e-3),
        r=np.full(n, r),
        v_leak=np.zeros(n),
        v_threshold=np.ones(n),
        v_reset=np.zeros(n),
        w_in=np.full(n, w_in),
    )
    b = np.array([0.5, 0.7, 1.0, 1.6])  # v_inf = R w_in b = 1.5 .. 4.8
    g = dc_graph(node, b)
    pop = from_nir(g, dt=DT)[1]
    # closed form: I_dc = I_sum + alpha R w_in b / G, alpha = I_spkthr / (v_thr - v_leak),
    # G = I_gain_mem / I_sum
    isum = leak_node(np.asarray(pop.Itau_mem, np.float64))
    gain = np.asarray(pop.Igain_mem, np.float64) / isum
    np.testing.assert_allclose(gain, GAIN_MEM, rtol=1e-5)
    want = isum + LIF_THRESHOLD * r * w_in * b / GAIN_MEM
    np.testing.assert_allclose(np.asarray(pop.Idc), want, rtol=1e-5)
    got, ref = imported_rate(g, 20000), reference_rate(g, 20000)
    # measured 0 / 0 / 0 / +0.2 % (ExponentialEuler; with solver="euler", 0 / -0.7 / -1.2 /
    # -3.8 %: the lost step after each spike and the forward steps from I_0)
    np.testing.assert_allclose(got / ref, 1.0, atol=0.02)


def test_affine_bias_reaches_the_soma_at_once_and_says_so():
    # NIR passes a bias through the synapse (tau_syn dI/dt = -I + w_in b), the import's DC
    # current drives the soma directly: from rest the import's first spike is the LIF's
    # closed form, the reference's that of two low-passes in series; the intervals agree once
    # the reference's synapse has settled (its first ones are 44, 42 steps)
    tau_s, tau_m, b = 3e-3, 10e-3, 3.0
    node = nir.CubaLIF(tau_syn=tau_s * ONE, tau_mem=tau_m * ONE, r=ONE, v_leak=0 * ONE,
                       v_threshold=ONE, v_reset=0 * ONE, w_in=ONE)  # fmt: skip
    g = dc_graph(node, b)
    x = np.zeros((1000, 1))
    t = DT * np.arange(1, 1001)  # step ends
    lif = b * (1 - np.exp(-t / tau_m))
    two = b * (1 + (tau_s * np.exp(-t / tau_s) - tau_m * np.exp(-t / tau_m)) / (tau_m - tau_s))
    ref = np.flatnonzero(simulate(g, x, DT)["output"][:, 0])
    net, rep = from_nir(g, dt=DT, report=True)
    got = np.flatnonzero(np.asarray(net(x.astype(np.float32))[0])[:, 0])
    assert (ref[0], got[0]) == (np.argmax(two > 1), np.argmax(lif > 1)) == (70, 40)
    period = np.argmax(lif > 1) + 1
    assert set(np.diff(ref[4:])) == set(np.diff(got)) == {period}
    assert "bias -> Idc (into the soma at once" in str(rep)


@pytest.mark.parametrize("seed", sweep())
def test_inhibited_cubalif_follows_the_reference_floored_at_v_leak(seed):
    # 4 CubaLIF driven up by a bias (v_inf = 6) and down by 10 inhibitory Poisson inputs
    # (100 Hz, weights -20 .. -60: a spike can push v below v_leak): the import's soma stops
    # at I_0, where v_leak maps, so it follows the reference floored at v_leak (floor=0), which
    # fires +0.3 .. +6.0 % more than the plain one here. Import / floored reference over
    # seeds 0-11: population 1.020 / 1.030 / 1.047 (min / median / max), per neuron 1.011 ..
    # 1.075 (the DPI's IPSPs slightly smaller, the bias's DC skipping tau_syn: +0.7 .. +1.7 %
    # after the first 2000 steps)
    rng = np.random.default_rng(seed)
    n = 4
    one = np.ones(n)
    node = nir.CubaLIF(tau_syn=2e-3 * one, tau_mem=10e-3 * one, r=one, v_leak=0 * one,
                       v_threshold=one, v_reset=0 * one, w_in=one)  # fmt: skip
    g = nir.NIRGraph.from_list(
        nir.Affine(weight=-rng.uniform(20, 60, (n, 10)), bias=np.full(n, 6.0)), node
    )
    x = (rng.random((4000, 10)) < 100 * DT).astype(np.float64)
    floored = simulate(g, x, DT, floor=0)["output"].sum(axis=0)
    got = np.asarray(from_nir(g, dt=DT)(x.astype(np.float32))[0]).sum(axis=0)
    assert floored.min() > 30  # every neuron fires above 75 Hz: the ratio means something
    assert got.sum() / floored.sum() == pytest.approx(1.0, abs=0.08)
    np.testing.assert_allclose(got / floored, 1.0, atol=0.12)


def test_differing_biases_are_reported_as_one_dc_current_per_core():
    # each neuron's bias is its own Idc in simulation, but a core holds one SOIF_DC_P: the
    # report says so where the biases differ, and map_network averages them with a warning
    def report_and_net(b):
        two = np.ones(2)
        node = nir.LIF(tau=20e-3 * two, r=two, v_leak=0 * two, v_threshold=two, v_reset=0 * two)
        return from_nir(dc_graph(node, b), dt=DT, report=True)

    net, rep = report_and_net(np.array([0.5, 1.5]))
    assert "one DC current per core" in str(rep)
    with pytest.warns(UserWarning, match=r"parameter 'Idc' differs within core 0"):
        map_network(net)
    _, rep = report_and_net(np.array([1.5, 1.5]))
    assert "bias -> Idc" in str(rep) and "one DC current per core" not in str(rep)


def test_scale_folds_into_the_linear_weights():
    rng = np.random.default_rng(0)
    w, s = rng.normal(0.01, 0.005, (3, 5)), np.array([0.5, 1.0, 2.0])
    cuba = lambda: nir.CubaLIF(  # noqa: E731
        tau_syn=np.full(3, 2e-3),
        tau_mem=np.full(3, 10e-3),
        r=np.full(3, 100.0),
        v_leak=np.zeros(3),
        v_threshold=np.ones(3),
        v_reset=np.zeros(3),
        w_in=np.full(3, 20.0),
    )
    scaled = nir.NIRGraph.from_list(nir.Linear(weight=w), nir.Scale(scale=s), cuba())
    folded = nir.NIRGraph.from_list(nir.Linear(weight=s[:, None] * w), cuba())
    a, rep = from_nir(scaled, dt=DT, report=True)
    b = from_nir(folded, dt=DT)
    np.testing.assert_allclose(
        np.asarray(a.modules[0].weight), np.asarray(b.modules[0].weight), rtol=1e-6
    )
    assert "folded into Linear" in str(rep)
    x = (rng.random((4000, 5)) < 300 * DT).astype(np.float32)
    got = rate(a(x)[0])
    ref = rate(simulate(scaled, x, DT)["output"])
    assert ref.min() > 20 and got.sum() > 0  # every neuron fires: the comparison means something
    # Poisson-driven at 85-290 Hz, tau_mem = 100 dt: measured ratio 0.941 / 0.980 / 0.983
    # (Euler: 0.912 / 0.939 / 0.931; at I_spkthr = 1 nA 0.912 / 0.980 / 0.983); the slowest
    # neuron, near rheobase, fires on the few largest sums of PSPs, where the DPI's smaller
    # PSP (the pulse, the soma's slow start below I_gain_mem) counts most
    np.testing.assert_allclose(got / ref, 1.0, atol=0.10)


# --- readouts ---------------------------------------------------------------------------------
def cubali(n, r=2.0, w_in=0.5, v_leak=0.3):
    return nir.CubaLI(
        tau_syn=np.full(n, 2e-3),
        tau_mem=np.full(n, 10e-3),
        r=np.full(n, r),
        v_leak=np.full(n, v_leak),
        w_in=np.full(n, w_in),
    )


@pytest.mark.parametrize("kind", ["CubaLI", "LI"])
def test_readout_is_linear_over_its_range(kind):
    # biases that put v - v_leak at -0.9 .. +0.9 of the readout range (and 5x above it)
    b = np.array([-0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9, 5.0])
    n = b.size
    if kind == "CubaLI":
        node, gain = cubali(n), 2.0 * 0.5
    else:
        node, gain = nir.LI(tau=np.full(n, 10e-3), r=np.full(n, 1.0), v_leak=np.full(n, 0.3)), 1.0
    net, rep = from_nir(dc_graph(node, b), dt=DT, report=True, readout_range=1.0)
    pop = net.modules[1]
    assert pop.positive_feedback is False
    np.testing.assert_allclose(np.asarray(pop.Ispkthr), SPKTHR_MAX, rtol=1e-6)
    spikes, _, rec = net(np.zeros((2000, 1), np.float32), record=True)  # 20 tau_mem
    assert np.asarray(spikes).sum() == 0  # a readout never spikes, even 5 ranges up
    v = rep.potential(np.asarray(rec["1_DynapSim"]["imem"]))[-1]
    # LI closed form at rest: v = v_leak + R w_in b. Measured error 2.5e-5 of the range
    # (float32 currents); a readout that spiked, saturated or clipped would be off by > 0.1
    np.testing.assert_allclose(v, 0.3 + gain * b, atol=2e-3)


def test_spike_driven_readout_follows_the_reference_trace():
    rng = np.random.default_rng(0)
    w = rng.normal(0, 1, (4, 20))
    g = nir.NIRGraph.from_list(
        nir.Affine(weight=w, bias=np.zeros(4)), cubali(4, r=100.0, w_in=20.0, v_leak=0.0)
    )
    x = (rng.random((3000, 20)) < 50 * DT).astype(np.float32)
    ref = simulate(g, x, DT)["output"]
    span = float(np.abs(ref).max())
    net, rep = from_nir(g, dt=DT, report=True, readout_range=span)
    spikes, _, rec = net(x, record=True)
    v = rep.potential(np.asarray(rec["1_DynapSim"]["imem"]))
    assert np.asarray(spikes).sum() == 0
    assert span > 10  # the trace swings through the range: the comparison means something
    # measured max |v - v_ref| = 1.0 % of the range over 3000 steps (the DPI synapse's pulse
    # and forward Euler at tau_syn = 20 dt)
    assert np.abs(v - ref).max() < 0.03 * span


def test_hidden_layer_rates_match_the_reference():
    rng = np.random.default_rng(1)
    n_in, n_hid = 10, 12
    hid = nir.CubaLIF(
        tau_syn=np.full(n_hid, 2e-3),
        tau_mem=np.full(n_hid, 10e-3),
        r=np.full(n_hid, 100.0),
        v_leak=np.zeros(n_hid),
        v_threshold=np.ones(n_hid),
        v_reset=np.zeros(n_hid),
        w_in=np.full(n_hid, 20.0),
    )
    g = nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0.008, 0.006, (n_hid, n_in))),
        hid,
        nir.Linear(weight=rng.normal(0, 0.01, (3, n_hid))),
        cubali(3, r=100.0, w_in=20.0, v_leak=0.0),
    )
    x = (rng.random((4000, n_in)) < 200 * DT).astype(np.float32)
    ref = simulate(g, x, DT)
    net = from_nir(g, dt=DT)
    _, _, rec = net(x, record=True)
    got = rate(rec["1_DynapSim"]["spikes"])
    want = rate(ref[[k for k in ref if k != "output" and ref[k].shape[-1] == n_hid][0]])
    active = want > 20
    assert active.sum() >= 6
    # at 200-310 Hz: population rate measured -2.3 %, per neuron -3.3 .. -1.3 % (Euler: -6.8 %,
    # -7.6 .. -4.8 %; at I_spkthr = 1 nA -2.9 %, -3.4 .. -2.4 %)
    assert got[active].sum() / want[active].sum() == pytest.approx(1.0, abs=0.05)
    np.testing.assert_allclose(got[active] / want[active], 1.0, atol=0.06)


@pytest.mark.parametrize(("solver", "want"), [("exponential_euler", 1.0), ("euler", 0.75)])
def test_short_intervals_need_the_spike_inside_the_step(solver, want):
    # a DC-driven LIF (tau 5 ms = 50 dt) firing every 6 steps (v_inf = 10): under Euler the
    # DPI neuron loses a whole step after each spike (6 -> ~8 steps, 0.75 of the rate); the
    # default solver places the spike inside the step and restarts the neuron at the next, as
    # the NIR LIF does. Measured 1.000 / 0.750 (at 21 steps, v_inf = 3: 1.000 / 0.955)
    g = dc_graph(lif(5e-3), 10.0)
    got = rate(from_nir(g, dt=DT, solver=solver)(np.zeros((20000, 1), np.float32))[0])
    ref = reference_rate(g, 20000)
    assert 1 / (ref[0] * DT) == pytest.approx(6.0, rel=1e-3)
    assert got[0] / ref[0] == pytest.approx(want, abs=0.02)


def test_solver_is_reported_and_checked():
    g = dc_graph(lif(5e-3), 2.0)
    net, rep = from_nir(g, dt=DT, report=True)
    assert "no refractory -> t_ref = 1 us" in str(rep)
    assert type(net.modules[1].solver).__name__ == "ExponentialEuler"
    net, rep = from_nir(g, dt=DT, report=True, solver="euler")
    assert "no refractory -> Euler: one refractory step after each spike" in str(rep)
    assert type(net.modules[1].solver).__name__ == "Euler"
    with pytest.raises(ValueError, match=r"from_nir: solver = 'rk4' must be one of \['euler', "
                       r"'exponential_euler'\]"):  # fmt: skip
        from_nir(g, dt=DT, solver="rk4")
