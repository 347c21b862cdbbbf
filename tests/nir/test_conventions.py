"""``from_nir(..., convention=...)``: how snnTorch and spyx write their parameters, read into
NIR's semantics (:mod:`dynapse2.nir.conventions`); values against the closed forms of the
exporters' code (spyx 1.0: r = beta, tau = dt / (1 - beta), no w_in; snnTorch 1.0: r =
tau_mem / dt, w_in = tau_syn / dt at dt = 1e-4 s), and errors by type and message."""

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from dynapse2.nir import from_nir, to_nir_semantics  # noqa: E402
from dynapse2.nir.reference import simulate  # noqa: E402

DT = 1e-4


def spyx_cubalif(beta, alpha, n=3, dt=DT, thr=1.0):
    """A CubaLIF as spyx.nir.to_nir writes a CuBaLIF (no w_in, no v_reset)."""
    beta, alpha = np.full(n, beta), np.full(n, alpha)
    return nir.CubaLIF(
        tau_mem=dt / (1 - beta),
        tau_syn=dt / (1 - alpha),
        v_threshold=np.full(n, thr),
        v_leak=np.zeros(n),
        r=beta,
    )


def spyx_graph(node, n_in=5, seed=0):
    w = np.random.default_rng(seed).normal(0.3, 0.2, (node.v_threshold.size, n_in))
    return nir.NIRGraph.from_list(nir.Linear(weight=w), node)


def test_spyx_parameters_become_nir_parameters():
    g, notes = to_nir_semantics(spyx_graph(spyx_cubalif(0.98, 0.95)), DT, "spyx")
    node = g.nodes["cubalif"]
    # tau_mem = dt / (1 - beta) = 5 ms, tau_syn = dt / (1 - alpha) = 2 ms, kept; r and w_in
    # are the discrete-time neuron's: r = tau_mem / dt = 50, w_in = tau_syn / dt = 20
    np.testing.assert_allclose(node.tau_mem, 5e-3, rtol=1e-9)
    np.testing.assert_allclose(node.tau_syn, 2e-3, rtol=1e-9)
    np.testing.assert_allclose(node.r, 50.0, rtol=1e-9)
    np.testing.assert_allclose(node.w_in, 20.0, rtol=1e-9)
    np.testing.assert_array_equal(node.v_reset, 0.0)
    assert "spyx convention" in notes["cubalif"]


def test_spyx_convention_runs_the_discrete_time_neuron():
    # one input spike through weight W: spyx's I <- alpha I + W s, V <- beta V + I gives
    # V_k = W sum_{j<=k} beta^(k-j) alpha^j; the NIR reference of the converted parameters
    # (exact exponentials, tau = dt / (1 - beta)) follows it to first order in dt / tau
    beta, alpha, w = 0.98, 0.95, 0.05
    fixed, _ = to_nir_semantics(spyx_graph(spyx_cubalif(beta, alpha, n=1)), DT, "spyx")
    p = fixed.nodes["cubalif"]
    li = nir.CubaLI(tau_syn=p.tau_syn, tau_mem=p.tau_mem, r=p.r, v_leak=p.v_leak, w_in=p.w_in)
    g = nir.NIRGraph.from_list(nir.Linear(weight=np.array([[w]])), li)
    x = np.zeros((60, 1))
    x[0] = 1
    v = simulate(g, x, DT)["output"][:, 0]
    want = w * np.array([sum(beta ** (i - j) * alpha**j for j in range(i + 1)) for i in range(60)])
    # measured: max error 2.6 % of spyx's peak over 60 steps (exp(-dt/tau) against 1 - dt/tau)
    assert np.abs(v - want).max() < 0.035 * want.max()
    # as spyx wrote it (r = beta, w_in = 1) the same spike lifts v ~1e3 times less
    raw = spyx_cubalif(beta, alpha, n=1)
    li_raw = nir.CubaLI(tau_syn=raw.tau_syn, tau_mem=raw.tau_mem, r=raw.r, v_leak=raw.v_leak,
                        w_in=np.ones(1))  # fmt: skip
    g_raw = nir.NIRGraph.from_list(nir.Linear(weight=np.array([[w]])), li_raw)
    assert simulate(g_raw, x, DT)["output"].max() < 2e-3 * want.max()


def test_spyx_graph_as_exported_imports_as_the_benchmark_corrects_it():
    g = spyx_graph(spyx_cubalif(0.98, 0.95, n=4), n_in=6)
    fixed, _ = to_nir_semantics(g, DT, "spyx")
    a, rep = from_nir(g, dt=DT, convention="spyx", report=True)
    b = from_nir(fixed, dt=DT)
    np.testing.assert_array_equal(np.asarray(a.modules[0].weight), np.asarray(b.modules[0].weight))
    text = str(rep)
    assert text.startswith("spyx convention: r = tau_mem/dt, w_in = tau_syn/dt")
    assert "resets by subtraction -> resets to v_leak" in text
    x = (np.random.default_rng(1).random((500, 6)) < 0.05).astype(np.float32)
    assert np.asarray(a(x)[0]).sum() > 0  # as written (convention "nir") it would be silent
    assert np.asarray(from_nir(g, dt=DT, convention="nir")(x)[0]).sum() == 0


def test_auto_convention_detects_spyx_at_its_step_and_nothing_else():
    g = spyx_graph(spyx_cubalif(0.98, 0.95, n=4), n_in=6)
    x = (np.random.default_rng(1).random((500, 6)) < 0.05).astype(np.float32)
    auto, rep = from_nir(g, dt=DT, report=True)  # convention="auto", the default
    np.testing.assert_array_equal(
        np.asarray(auto(x)[0]), np.asarray(from_nir(g, dt=DT, convention="spyx")(x)[0])
    )
    assert "(auto: detected spyx 1.0's export: r < 1, w_in = 1 and tau_mem (1 - r) = dt = " \
        "0.0001 s on all 4 neurons of 1 node(s))" in str(rep)  # fmt: skip
    # NIR parameters with r < 1 but tau_mem (1 - r) != dt, or w_in != 1: read as NIR, no warning
    plain = dict(tau_syn=np.full(4, 2e-3), v_threshold=np.ones(4), v_leak=np.zeros(4))
    for node in (
        nir.CubaLIF(tau_mem=np.array([5e-3, 6e-3, 7e-3, 8e-3]), r=np.full(4, 0.5), **plain),
        nir.CubaLIF(tau_mem=np.full(4, 5e-3), r=np.full(4, 0.98), w_in=np.full(4, 20.0), **plain),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, rep = from_nir(spyx_graph(node, n_in=6), dt=DT, report=True)
        assert str(rep).startswith("NIR parameters read as the NIR specification states them")
    # snnTorch's graphs are NIR parameters
    snn = nir.CubaLIF(tau_mem=np.full(4, 5e-3), r=np.full(4, 50.0), w_in=np.full(4, 20.0), **plain)
    _, rep = from_nir(spyx_graph(snn, n_in=6), dt=DT, report=True)
    assert "(auto: not spyx's fingerprint" in str(rep)


def test_auto_convention_warns_of_a_spyx_graph_at_another_step():
    g = spyx_graph(spyx_cubalif(0.98, 0.95, n=4), n_in=6)
    with pytest.warns(UserWarning, match=r"tau_mem \(1 - r\) = 0\.0001 s, spyx 1\.0's export at "
                      r"dt = 0\.0001 s, not the dt = 0\.001 s given"):  # fmt: skip
        _, rep = from_nir(g, dt=1e-3, report=True)
    assert str(rep).startswith("NIR parameters read as")


def test_spyx_nested_recurrent_and_if_nodes():
    inner = {
        "input": nir.Input(input_type=np.array([3])),
        "lif": spyx_cubalif(0.9, 0.8),
        "w_rec": nir.Linear(weight=np.zeros((3, 3))),
        "output": nir.Output(output_type=np.array([3])),
    }
    sub = nir.NIRGraph(nodes=inner, edges=[("input", "w_rec"), ("lif", "w_rec"),
                                           ("w_rec", "lif"), ("lif", "output")])  # fmt: skip
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type=np.array([3])),
            "rec": sub,
            "if": nir.IF(r=np.ones(3), v_threshold=np.ones(3)),
            "output": nir.Output(output_type=np.array([3])),
        },
        edges=[("input", "rec"), ("rec", "if"), ("if", "output")],
    )
    fixed, notes = to_nir_semantics(g, DT, "spyx")
    np.testing.assert_allclose(fixed.nodes["rec"].nodes["lif"].r, 1 / (1 - 0.9), rtol=1e-9)
    np.testing.assert_allclose(fixed.nodes["if"].r, 1 / DT)  # V <- V + x: R dt = 1
    assert set(notes) == {"rec.lif", "if"}


def test_spyx_decay_below_zero_runs_as_zero():
    # tau < dt means beta < 0, which spyx's forward pass clips to 0: tau = dt, r = 1
    g, _ = to_nir_semantics(spyx_graph(spyx_cubalif(-0.5, 0.9)), DT, "spyx")
    np.testing.assert_allclose(g.nodes["cubalif"].tau_mem, DT, rtol=1e-9)
    np.testing.assert_allclose(g.nodes["cubalif"].r, 1.0, rtol=1e-9)


def test_spyx_errors_name_the_node_parameter_and_value():
    with pytest.raises(ValueError, match=r"node 'cubalif' \(CubaLIF\), convention = 'spyx': "
                       r"r = beta = 1\.03.*tau_mem = -0\.00333.*beta >= 1"):  # fmt: skip
        from_nir(spyx_graph(spyx_cubalif(1.03, 0.9)), dt=DT, convention="spyx")
    with pytest.raises(ValueError, match=r"tau_syn = -0\.000999+\d* s, i\.e\. alpha = .* >= 1"):
        from_nir(spyx_graph(spyx_cubalif(0.9, 1.1)), dt=DT, convention="spyx")
    # exported with spyx's default dt = 1 (s), imported with 1e-4
    g = spyx_graph(spyx_cubalif(0.98, 0.95, dt=1.0))
    with pytest.raises(ValueError, match=r"were exported with dt = tau_mem \(1 - beta\) = "
                       r"1\.0\d* s, not the dt = 0\.0001 s given"):  # fmt: skip
        from_nir(g, dt=DT, convention="spyx")


def test_snntorch_convention_checks_the_hard_coded_step():
    g = spyx_graph(nir.CubaLIF(tau_mem=np.full(3, 5e-3), tau_syn=np.full(3, 2e-3),
                               r=np.full(3, 50.0), w_in=np.full(3, 20.0), v_leak=np.zeros(3),
                               v_threshold=np.ones(3), v_reset=np.zeros(3)))  # fmt: skip
    a = from_nir(g, dt=DT, convention="snntorch")
    b = from_nir(g, dt=DT)
    np.testing.assert_array_equal(np.asarray(a.modules[0].weight), np.asarray(b.modules[0].weight))
    with pytest.raises(ValueError, match=r"convention = 'snntorch' needs dt = 0\.0001 s .*got "
                       r"dt = 0\.001"):  # fmt: skip
        from_nir(g, dt=1e-3, convention="snntorch")


def test_unknown_convention_is_refused_before_any_work():
    with pytest.raises(ValueError, match=r"from_nir: convention = 'torch' must be one of "
                       r"\['auto', 'nir', 'snntorch', 'spyx'\]"):  # fmt: skip
        from_nir("does/not/exist.nir", dt=DT, convention="torch")
