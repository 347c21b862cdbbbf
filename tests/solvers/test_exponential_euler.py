"""ExponentialEuler: closed forms, rates against converged forward Euler, gradients, both
backends. Cases differ from benchmarks/solvers.py (other drives and parameters)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq
from seeds import sweep

from dynapse2.datasets import frozen_noise
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.nn.backends import step_options
from dynapse2.physics.fused import FusedState
from dynapse2.physics.step import JAX_OPS, NUMPY_OPS, StepOptions, circuit
from dynapse2.solvers import Euler, ExponentialEuler
from dynapse2.train import evaluate, fit, max_imem_cross_entropy

ALL = (0, 1, 2, 3)


def _circuit(m: DynapSim):
    vals = {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()}
    return circuit(np, vals, m.kappa, m.Ut, m.Vth)


def _state(n, imem, isyn=5e-13, iahp=5e-13):
    full = lambda v: np.full((1, n), v, np.float64)  # noqa: E731
    return FusedState(full(imem), tuple(full(isyn) for _ in ALL), full(iahp), full(0.0), full(0.0))


def test_synapse_and_adaptation_decay_over_one_step_is_exactly_exponential():
    m = DynapSim(2, dt=1e-3, solver=ExponentialEuler(), Itau_ampa=[5e-11, 8e-11])
    solver, c = m.solver, _circuit(m)
    p = solver.prepare(np, c, m.dt, ALL)
    s = _state(2, 1e-12, isyn=3e-9, iahp=2e-9)
    out = solver.step(NUMPY_OPS, p, s, (None,) * 4, m.dt, types=ALL, **step_options(m))
    for j in ALL:
        expected = 3e-9 * np.exp(-m.dt / c.syn_tau[:, j])
        np.testing.assert_allclose(out.isyn[j][0], expected, rtol=1e-14)
    np.testing.assert_allclose(out.iahp[0], 2e-9 * np.exp(-m.dt / c.ahp_tau), rtol=1e-14)


def _soma_rhs(m: DynapSim, idc: float):
    """dI/dt of the DPI soma with DC input only (float64, the published equation)."""
    c = _circuit(m)
    k, io = m.kappa, m.Io
    g, itau, tau = float(c.igain_mem[0]), float(c.itau_mem[0]), float(c.tau_mem[0])

    def f(i):
        ipf = io ** (1 / (k + 1)) * i ** (k / (k + 1))
        isum = itau + io + io - ipf  # leak + AHP at I_0 + SHUNT at I_0
        i_in = idc + io - io + io * i / (i + float(c.if_nmda[0]))
        return (g / itau * (i_in - isum) - isum * i / itau) / (tau * (1 + g / i))

    return f


@pytest.mark.parametrize("idc", [6.5e-12, 8e-12])
def test_subthreshold_dc_membrane_follows_the_exact_solution_and_fixed_point(idc):
    # dt = 1 ms, 200 steps, against an accurate ODE solution and the exact fixed point
    m = DynapSim(1, dt=1e-3, solver=ExponentialEuler(), Idc=idc, backend="numpy")
    f = _soma_rhs(m, idc)
    _, _, rec = m(np.zeros((200, 1)), record=True)
    ode = solve_ivp(
        lambda t, y: [f(y[0])],
        (0, 0.2),
        [m.Io],
        rtol=1e-10,
        atol=1e-20,
        t_eval=np.arange(1, 201) * 1e-3,
        method="LSODA",
    )
    np.testing.assert_allclose(rec["imem"][:, 0], ode.y[0], rtol=2e-2)
    fixed = brentq(f, 1e-12, 1e-10, xtol=1e-25)
    m = DynapSim(1, dt=1e-3, solver=ExponentialEuler(), Idc=idc, backend="numpy")
    _, st, _ = m(np.zeros((3000, 1)))
    assert st["imem"][0] == pytest.approx(fixed, rel=1e-6)


def _rate(spikes, dt):
    t = np.flatnonzero(spikes) * dt
    return (t.size - 1) / (t[-1] - t[0])


def _rates(kw, x_of, steps=(1e-3, 5e-4), t_total=1.5):
    out = {}
    for dt in (2e-5, *steps):
        solver = Euler() if dt == 2e-5 else ExponentialEuler()
        spikes, _, _ = DynapSim(dt=dt, solver=solver, **kw)(x_of(dt, t_total))
        spikes = np.asarray(spikes)
        out[dt] = np.array([_rate(spikes[:, i], dt) for i in range(spikes.shape[1])])
    return out


def _dc(n):
    return lambda dt, t: np.zeros((int(round(t / dt)), n), np.float32)


@pytest.mark.parametrize(
    "kw",
    [
        # other gains, leak, threshold and refractory period than the benchmark
        dict(n=3, Idc=[0.2e-9, 2e-9, 15e-9], Igain_mem=1e-11, Ispkthr=2e-7),
        dict(n=3, Idc=[0.5e-9, 4e-9, 8e-9], Itau_mem=1e-11, Iref=5e-10),
    ],
)
def test_dc_rates_at_coarse_steps_match_converged_euler(kw):
    r = _rates(kw, _dc(kw["n"]))
    ref = r[2e-5]
    assert (ref > 3).all()
    np.testing.assert_allclose(r[1e-3], ref, rtol=0.05)
    np.testing.assert_allclose(r[5e-4], ref, rtol=0.02)


def _poisson(n, rate, weight, types, seed=3):
    def x_of(dt, t_total):
        rng = np.random.default_rng(seed)
        steps = int(round(t_total / dt))
        x = np.zeros((steps, n, 4), np.float32)
        for i in range(n):
            for typ, w in zip(types, weight[i], strict=True):
                times = rng.uniform(0, t_total, rng.poisson(rate[i] * t_total))
                np.add.at(x[:, i, typ], np.minimum((times / dt).astype(int), steps - 1), w)
        return x

    return x_of


def test_poisson_ampa_and_gaba_rates_at_coarse_steps_match_converged_euler():
    kw = dict(n=3, Idc=1e-9)
    x_of = _poisson(3, [300.0, 800.0, 1500.0], [[3.0, 0.5], [1.5, 1.0], [1.0, 0.3]], (0, 2))
    r = _rates(kw, x_of)
    assert (r[2e-5] > 5).all()
    np.testing.assert_allclose(r[1e-3], r[2e-5], rtol=0.05)
    np.testing.assert_allclose(r[5e-4], r[2e-5], rtol=0.02)


@pytest.mark.slow
def test_adapting_nmda_and_shunt_rates_at_coarse_steps_match_converged_euler():
    kw = dict(n=2, Idc=[2e-9, 6e-9], Iw_ahp=4e-9, Itau_ahp=3e-12)
    r = _rates(kw, _dc(2), t_total=3.0)
    np.testing.assert_allclose(r[1e-3], r[2e-5], rtol=0.05)
    # NMDA against SHUNT: the shunt lowers the rates from 89 / 105 Hz to about 63 / 75 Hz
    # (SHUNT weights of 0.02 / 0.01 silenced both neurons: 2 Hz and none at 20 us)
    kw = dict(n=2, Idc=2e-9, If_nmda=2e-9)
    r = _rates(kw, _poisson(2, [400.0, 900.0], [[3.0, 0.005], [2.0, 0.0025]], (1, 3)))
    assert (r[2e-5] > 50).all()
    np.testing.assert_allclose(r[1e-3], r[2e-5], rtol=0.05)


def test_nmda_driven_rates_at_coarse_steps_match_converged_euler():
    # NMDA the only drive (default DC), gates at 0.5 and 1.5 nA, strong and weak input:
    # the case the gate's chord and the two half steps are for (a held gate: -15..-30 %)
    kw = dict(n=3, If_nmda=[5e-10, 1.5e-9, 1e-9])
    x_of = _poisson(3, [1000.0, 2500.0, 600.0], [[9.0], [5.0], [14.0]], (1,), seed=5)
    r = _rates(kw, x_of)
    assert (r[2e-5] > 50).all()
    np.testing.assert_allclose(r[1e-3], r[2e-5], rtol=0.05)
    np.testing.assert_allclose(r[5e-4], r[2e-5], rtol=0.02)


def test_a_neuron_without_nmda_current_steps_as_if_nmda_were_not_computed():
    # neuron 0 receives NMDA events, neuron 1 only AMPA: neuron 1 takes the step in one part
    # (its second part lasts 0 s), as in a run where NMDA is not computed at all
    rng = np.random.default_rng(4)
    x = np.zeros((400, 2, 4), np.float32)
    x[:, :, 0] = (rng.random((400, 2)) < 0.3) * 3.0
    x[:, 0, 1] = (rng.random(400) < 0.3) * 4.0
    kw = dict(solver=ExponentialEuler(), Idc=1e-9)
    both, _, rb = DynapSim(2, **kw)(x, record=True)
    alone, _, ra = DynapSim(1, **kw)(x[:, 1:], record=True)  # no NMDA input: not computed
    both, alone = np.asarray(both), np.asarray(alone)
    assert both[:, 0].sum() > 20 and alone.sum() > 20
    np.testing.assert_array_equal(both[:, 1], alone[:, 0])
    # the same equations (NMDA at I_0 adds I_0 I/(I + I_f) to the input, unlinearised); the
    # float32 rounding of another compiled program differs, and the growth to threshold
    # magnifies it (measured: at most 8e-4 relative over these 400 steps)
    imem_b, imem_a = np.asarray(rb["imem"])[:, 1], np.asarray(ra["imem"])[:, 0]
    np.testing.assert_allclose(imem_b, imem_a, rtol=3e-3)
    assert (both.max(axis=0) <= 1).all()


def test_without_nmda_current_the_step_skips_the_parts_and_gives_the_parts_result():
    # NMDA computed: where no neuron's NMDA current is above I_0 the step takes its one-part
    # branch without the chord (ops.cond), else the parts; forcing the parts everywhere must
    # give the same step (float64: the 0 s parts and a chord slope of 0 change only rounding)
    m = DynapSim(40, solver=ExponentialEuler(), Idc=np.linspace(0.5, 6, 40) * 1e-9, Iw_ahp=1e-9)
    c, solver, rng = _circuit(m), m.solver, np.random.default_rng(7)
    p = solver.prepare(np, c, m.dt, ALL)
    opts = step_options(m)
    preds = []

    def recording(pred, if_true, if_false, *args):
        preds.append(bool(pred))
        return NUMPY_OPS.cond(pred, if_true, if_false, *args)

    ops = NUMPY_OPS._replace(cond=recording)
    parts = NUMPY_OPS._replace(cond=lambda pred, if_true, if_false, *args: if_true(*args))
    for nmda_events in (0.0, 2.0):
        imem = np.exp(rng.uniform(np.log(6e-13), np.log(9e-8), (1, 40)))
        s = FusedState(
            imem, tuple(np.full((1, 40), 5e-13) for _ in ALL), np.full((1, 40), 2e-12),
            np.where(rng.random((1, 40)) < 0.2, 4e-4, 0.0), np.zeros((1, 40)),
        )  # fmt: skip
        fired = 0.0
        for _ in range(30):  # from the random states to a few spikes
            nmda = nmda_events * (s.imem > 1e-9)  # NMDA events onto the depolarised neurons
            x = ((rng.random((1, 40)) < 0.5) * 3.0, nmda, (rng.random((1, 40)) < 0.2) * 0.3, None)
            got = solver.step(ops, p, s, x, m.dt, types=ALL, **opts)
            want = solver.step(parts, p, s, x, m.dt, types=ALL, **opts)
            assert preds[-1] == (nmda_events > 0 and (s.imem > 1e-9).any())
            np.testing.assert_allclose(got.imem, want.imem, rtol=1e-12)
            np.testing.assert_array_equal(got.spikes, want.spikes)
            np.testing.assert_allclose(got.timer, want.timer, rtol=1e-12, atol=1e-15)
            s, fired = got, fired + got.spikes.sum()
        assert fired > 10


def test_without_positive_feedback_fixed_point_and_rates_match_closed_form_and_euler():
    # the thresholded soma (positive_feedback=False): R is affine in I_mem, the step exact.
    # Below threshold: the fixed point I* = I_gain (I_in - I_sum) / I_sum (NMDA at I_0 adds
    # I_0 I/(I + I_f) to I_in); above: a leaky integrator that fires at the converged rate
    itau, gain = 5e-12, 4.0
    kw = dict(positive_feedback=False, Itau_mem=itau, Igain_mem=gain * itau)
    idc = np.array([0.05, 0.2]) * 1e-9
    m = DynapSim(2, solver=ExponentialEuler(), Idc=idc, Ispkthr=1e-6, backend="numpy", **kw)
    _, st, _ = m(np.zeros((3000, 2)))
    isum = itau + 2 * m.Io  # leak + AHP and SHUNT at I_0
    f = lambda i: gain * itau * (idc + m.Io * i / (i + 1e-9) - isum) / isum - i  # noqa: E731
    fixed = [brentq(lambda i, j=j: f(i)[j], 1e-12, 1e-7, xtol=1e-25) for j in (0, 1)]
    np.testing.assert_allclose(st["imem"], fixed, rtol=1e-6)
    # fixed points at 2x and 6x a 20 nA threshold: spikes at rates of a leaky integrator
    r = _rates(dict(n=2, Idc=[10e-9 * 2, 30e-9 * 2], Ispkthr=2e-8, **kw), _dc(2))
    assert (r[2e-5] > 10).all()
    np.testing.assert_allclose(r[1e-3], r[2e-5], rtol=0.05)
    np.testing.assert_allclose(r[5e-4], r[2e-5], rtol=0.02)


def test_gradients_through_exponential_euler_exist_and_are_finite():
    # the default detach options, as for Euler (without them BPTT overflows with either solver)
    rng = np.random.default_rng(0)
    net = Sequential(
        Linear((6, 4), key=jax.random.PRNGKey(1)),
        DynapSim(4, has_rec=True, solver=ExponentialEuler(), Idc=1e-9),
    )
    x = jnp.asarray((rng.random((2, 150, 6)) < 0.1) * 3.0, jnp.float32)
    g = jax.grad(lambda n: ((n(x)[0].sum(axis=1) - 5.0) ** 2).mean())(net)
    assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree_util.tree_leaves(g))
    for grad in (g.modules[0].weight, g.modules[1].Idc, g.modules[1].Itau_mem):
        assert np.abs(np.asarray(grad)).sum() > 0


def test_gradient_matches_finite_differences_of_the_float64_reference():
    # subthreshold neurons driven by AMPA and GABA events (no spike: the loss is smooth; one
    # neuron pressed to I_0 by GABA), with the positive feedback differentiated: the gradient
    # of the mean log I_mem against central differences of the NumPy float64 backend (another
    # implementation of the forward, no gradient code). The step is differentiated through
    # y_{n+1} = y_n + h phi_1(z) R_n / tau and the exact inversion of y, not through its first
    # guess and Newton step. Measured: relative errors 3e-4 for three neurons (as JAX's own
    # reverse mode through every operation of the step, which is float32 rounding), 3.9e-3 at
    # most for the fourth (the one-step inversion's own error; full reverse mode 4e-4)
    rng = np.random.default_rng(0)
    n, steps = 4, 150
    x = rng.uniform(0.5, 3.0, (1, steps, n, 4)) * 0.025 * (rng.random((1, steps, n, 4)) < 0.08)
    x[..., [1, 3]] = 0.0
    kw = dict(solver=ExponentialEuler(), detach_feedback=False, Idc=[0.5e-12, 1e-12, 2e-12, 4e-12])
    names = ("Idc", "Itau_mem", "Igain_mem", "Itau_ampa", "Itau_gaba")
    m = DynapSim(n, **kw)
    params, static = eqx.partition(m, eqx.is_inexact_array)

    def loss(p, scale):
        _, _, rec = eqx.combine(p, static)(jnp.asarray(x, jnp.float32) * scale, record=True)
        return jnp.mean(jnp.log(rec["imem"]))

    g, g_scale = jax.grad(loss, argnums=(0, 1))(params, 1.0)

    def reference(scale=1.0, **changed):
        _, _, rec = DynapSim(n, backend="numpy", **{**kw, **changed})(x * scale, record=True)
        assert rec["spikes"].sum() == 0
        return np.mean(np.log(rec["imem"]))

    e = 1e-4
    assert float(g_scale) == pytest.approx(
        (reference(1 + e) - reference(1 - e)) / (2 * e), rel=5e-3
    )
    for name in names:
        v = np.broadcast_to(np.asarray(getattr(m, name), np.float64), (n,))
        fd = []
        for i in range(n):
            step = np.zeros(n)
            step[i] = e * v[i]
            fd.append(
                (reference(**{name: v + step}) - reference(**{name: v - step})) / (2 * e * v[i])
            )
        np.testing.assert_allclose(np.asarray(getattr(g, name)), fd, rtol=1e-2, err_msg=name)


@pytest.mark.parametrize("x", [0.0, 2.0])
def test_one_step_derivative_with_detached_feedback_matches_finite_differences(x):
    # the default detach_feedback: I_pf carries no gradient, so the derivative of a step is
    # that of the float64 step with I_pf held at its value at the start (central differences;
    # from rest to just below threshold, no input or a pulse onto AMPA). Measured: within 1e-4
    # where the step's one Newton step inverts y accurately. Where it does not (a pulse that
    # lifts I_mem from 1-100 pA by 10-300x in one step: the value is 0.2-6.5 % above the
    # exact inverse), the gradient is that of the exact inverse, not of the approximate value:
    # d I_{n+1} / d I_n 20.2 / 8.0 / 3.5 / 1.86 / 1.30 / 1.09 against the value's 14.7 / 6.2 /
    # 2.9 / 1.71 / 1.26 / 1.09 for the 6 lowest I_mem of the pulse; compared from 3e-10 A up
    from dynapse2.solvers.exponential_euler import _Held, _soma_end

    n, io = 12, DynapSim(1).Io
    m, solver, kw = DynapSim(n), ExponentialEuler(), step_options(DynapSim(1))
    imem = np.logspace(-12, -7.3, n)
    p = solver.prepare(jnp, circuit(jnp, m.effective_values(), m.kappa, m.Ut, m.Vth), m.dt, (0, 2))
    full = lambda v: jnp.full(n, v, jnp.float32)  # noqa: E731

    def step(i):
        s = FusedState(i, (full(io), full(io)), full(io), full(0.0), full(0.0))
        return solver.step(JAX_OPS, p, s, (full(x), None), m.dt, types=(0, 2), **kw).imem

    got = jax.jvp(step, (jnp.asarray(imem, jnp.float32),), (full(1.0),))[1]

    q = solver.prepare(np, _circuit(m), m.dt, (0, 2))
    charged = io + (q.syn_gain[0] * x - io) * q.syn_charge[0] if x > 0 else io
    held = _Held(q.idc + np.maximum(charged * q.syn_mean[0], io) - io, io, q.itau_mem + 2 * io)
    ipf = io ** (1 / (m.kappa + 1)) * imem ** (m.kappa / (m.kappa + 1))

    def reference(i):
        o = StepOptions(kappa=m.kappa, io=io)
        return _soma_end(np, q, i, np.zeros(n), held, m.dt, o, chord=False, ipf=ipf).imem

    e = 1e-6
    want = (reference(imem * (1 + e)) - reference(imem * (1 - e))) / (2 * e * imem)
    accurate = imem > (3e-10 if x > 0 else 0.0)
    np.testing.assert_allclose(np.asarray(got)[accurate], want[accurate], rtol=1e-3)


def test_jax_and_float64_numpy_backends_agree():
    rng = np.random.default_rng(2)
    n = 6
    w = rng.normal(0, 0.3, (n, n))
    x = ((rng.random((2, 300, n, 4)) < 0.05) * rng.integers(1, 4, (2, 300, n, 4))).astype(
        np.float32
    )
    x = x * np.array([1.0, 1.0, 0.3, 0.01], np.float32)  # SHUNT is strongly divisive
    kw = dict(
        has_rec=True,
        w_rec=w,
        solver=ExponentialEuler(),
        Idc=np.linspace(2, 10, n) * 1e-9,
        Iw_ahp=1e-9,
    )
    sj, _, rj = DynapSim(n, **kw)(x, record=True)
    sn, _, rn = DynapSim(n, backend="numpy", **kw)(x, record=True)
    sj, sn = np.asarray(sj), np.asarray(sn)
    assert sn.sum() > 30
    assert np.abs(sj.sum(axis=1) - sn.sum(axis=1)).max() <= 1
    first = np.argmax(np.any(sj != sn, axis=(0, 2))) if (sj != sn).any() else sj.shape[1]
    assert first > 50
    np.testing.assert_allclose(
        np.asarray(rj["imem"])[:, :first], rn["imem"][:, :first], rtol=2e-3, atol=1e-15
    )


@pytest.mark.parametrize("seed", sweep())
def test_a_small_network_trains_through_exponential_euler(seed):
    # the small task of tests/train/test_fit.py (2 classes of frozen noise, 48 samples, 100 ms)
    x, y = frozen_noise(2, 10, 0.1, 1e-3, 40.0, 48, key=seed, jitter=1e-3, drop=0.05)
    net0 = Sequential(
        Linear((10, 2), has_bias=False, key=jax.random.PRNGKey(seed + 1)),
        DynapSim(2, solver=ExponentialEuler()),
    )
    before = evaluate(net0, x, y, max_imem_cross_entropy)
    kw = dict(epochs=4, batch_size=16, optimizer=optax.adam(0.05), progress=False)
    net, _ = fit(net0, x, y, max_imem_cross_entropy, key=jax.random.PRNGKey(seed), **kw)
    after = evaluate(net, x, y, max_imem_cross_entropy)
    print(f"seed {seed}: loss after / before {after[0] / before[0]:.4f}, accuracy {after[1]:.3f}")
    # 12 seeds: loss after / before min / median / max 0.0005 / 0.046 / 0.566 (Euler on the
    # same seeds: 0.0001 / 0.021 / 0.184; benchmarks/solvers.py --frozen)
    assert after[0] < 0.75 * before[0]
    # 12 seeds: accuracy 0.812 / 1.000 / 1.000 (Euler 0.938 / 1.000 / 1.000); 48 samples,
    # chance 0.5: the bound is 30 of 48, 9 samples below the worst seed. The low seeds
    # (6: 0.896, 7: 0.812, 8: 0.896) sit on a plateau of the max-I_mem loss (an output neuron
    # that spikes for both classes) that they leave within 8 epochs (1.000 at every seed)
    assert after[1] >= 0.625
