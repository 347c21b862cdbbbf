"""DynapSim(positive_feedback=False): the thresholded soma (chip latch soif_type).

Without the exponential positive feedback I_pf the soma is a leaky integrator at any I_mem:
tau (1 + I_gain/I_mem) dI_mem/dt = (I_gain/I_tau)(I_in - I_sum) - I_sum I_mem / I_tau, with
I_sum = I_tau + I_ahp + I_shunt, whose fixed point I_mem* = I_gain (I_in - I_sum) / I_sum is
linear in I_in.
"""

import json

import numpy as np
import pytest

from dynapse2 import FileFormatError
from dynapse2.hardware import Configuration, map_network, network_from_config
from dynapse2.hardware import chip as C
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.physics import constants as K
from dynapse2.physics.step import NUMPY_OPS, State, circuit, step
from dynapse2.solvers import Euler, ExponentialEuler
from dynapse2.train import History, load, save

SOIF_TYPE = C.NEURON_LATCHES.index("soif_type")
ITAU, GAIN = 5e-12, 4.0


def _dc_soma(idc, feedback, backend="numpy", T=400):
    """Final I_mem (A) of neurons driven by the DC currents ``idc`` for T steps of 1 ms."""
    m = DynapSim(
        len(idc),
        backend=backend,
        positive_feedback=feedback,
        Idc=np.asarray(idc),
        Itau_mem=ITAU,
        Igain_mem=GAIN * ITAU,
        Ispkthr=1e-6,
    )
    spikes, _, rec = m(np.zeros((T, len(idc)), np.float32), record=True)
    return np.asarray(rec["imem"][-1], np.float64), np.asarray(spikes)


def test_without_feedback_the_fixed_point_is_linear_in_the_input():
    idc = np.array([0.05, 0.1, 0.2, 0.4]) * 1e-9
    imem, spikes = _dc_soma(idc, feedback=False)
    # closed form: I* = I_gain (I_dc - I_sum) / I_sum, I_sum = I_tau + I_ahp + I_shunt and
    # I_ahp = I_shunt = I_0 at rest
    isum = ITAU + 2 * K.IO
    expected = GAIN * ITAU * (idc - isum) / isum
    # 400 steps = 20 tau: converged; the NMDA synapse at rest adds I_0 through its gate
    # (< 0.5 pA, measured 0.15 % at most here), the only term the closed form leaves out
    np.testing.assert_allclose(imem, expected, rtol=3e-3)
    assert np.ptp(imem / expected) < 2e-3  # linear: one gain for a factor of 8 in drive
    assert spikes.sum() == 0
    # the same drive with the feedback runs away past I_x ~ 150 pA and spikes at 1 uA
    _, with_pf = _dc_soma(idc, feedback=True)
    assert (with_pf.sum(axis=0) > 0).all()


def test_backends_and_steps_agree_without_feedback():
    idc = np.array([0.03, 0.3]) * 1e-9
    ref, _ = _dc_soma(idc, feedback=False, T=60)
    fast, _ = _dc_soma(idc, feedback=False, backend="jax", T=60)
    np.testing.assert_allclose(fast, ref, rtol=1e-5)  # float32 against float64
    # the fused (fast) step of Euler equals the literal reference step
    m = DynapSim(2, backend="numpy", positive_feedback=False, Idc=idc)
    c = circuit(
        np,
        {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()},
        m.kappa,
        m.Ut,
        m.Vth,
    )
    s = State(np.full(2, 2e-10), np.full((2, 4), K.IO), np.full(2, K.IO), np.zeros(2), np.zeros(2))
    x = np.zeros((2, 4))
    opts = dict(kappa=m.kappa, io=m.Io, positive_feedback=False)
    a = step(NUMPY_OPS, c, s, x, m.dt, **opts)
    b = Euler().reference_stepper(NUMPY_OPS, c, m.dt, **opts)(s, x)
    np.testing.assert_allclose(a.imem, b.imem, rtol=1e-12)
    on = step(NUMPY_OPS, c, s, x, m.dt, kappa=m.kappa, io=m.Io)
    assert (on.imem > a.imem).all()  # the feedback adds growth; off, it is gone


class _WithoutTheOption(Euler):
    """A solver whose step does not take ``positive_feedback``."""

    def step(self, ops, p, s, x, dt, *, types, **options):
        return super().step(ops, p, s, x, dt, types=types, **options)


def test_solvers_that_do_not_honour_it_are_refused():
    # both library solvers honour it (tests/solvers/test_exponential_euler.py checks
    # ExponentialEuler's fixed point and rates without feedback)
    m = DynapSim(2, positive_feedback=False, solver=ExponentialEuler())
    assert m.positive_feedback is False and m.solver == ExponentialEuler()
    assert DynapSim(2, positive_feedback=False).with_solver(ExponentialEuler()).solver == (
        ExponentialEuler()
    )
    with pytest.raises(
        ValueError,
        match=r"DynapSim: positive_feedback=False is not supported "
        r"by _WithoutTheOption\(\) yet",
    ):
        DynapSim(2, positive_feedback=False, solver=_WithoutTheOption())
    with pytest.raises(ValueError, match=r"DynapSim.with_solver: positive_feedback=False"):
        DynapSim(2, positive_feedback=False).with_solver(_WithoutTheOption())
    with pytest.raises(TypeError, match=r"DynapSim: positive_feedback = 1 must be True or False"):
        DynapSim(2, positive_feedback=1)
    m = DynapSim(2, positive_feedback=False)
    assert "positive_feedback=False" in repr(m)
    assert "positive_feedback" not in repr(DynapSim(2))
    assert m.with_positive_feedback(True).positive_feedback is True


def _net(feedback_out=False):
    return Sequential(
        Linear((3, 4), weight=np.full((3, 4), 2.0)),
        DynapSim(4),
        Linear((4, 2), weight=np.full((4, 2), 1.0)),
        DynapSim(2, positive_feedback=feedback_out, Ispkthr=8e-7),
    )


def test_the_latch_carries_it_through_the_configuration(tmp_path):
    mapping = map_network(_net())
    latches = [core.latches for chip in mapping.config.chips for core in chip.cores]
    on = sum(int(lat[:, SOIF_TYPE].sum()) for lat in latches)
    assert on == 2  # the readout's two neurons, and no other
    assert mapping.network.modules[3].positive_feedback is False
    assert mapping.network.modules[1].positive_feedback is True
    mapping.config.save(tmp_path / "c.json")
    back = network_from_config(Configuration.load(tmp_path / "c.json"))
    assert [m.positive_feedback for m in back.modules[1::2]] == [True, False]
    x = (np.random.default_rng(0).random((100, 3)) < 0.3).astype(np.float32)
    _, _, a = mapping.network(x, record=True)
    _, _, b = back(x, record=True)
    np.testing.assert_array_equal(
        np.asarray(a["3_DynapSim"]["imem"]), np.asarray(b["3_DynapSim"]["imem"])
    )


def test_a_population_with_mixed_soma_types_is_refused():
    cfg = map_network(_net()).config
    neurons = cfg.meta["dynapse2"]["layers"][1]["neurons"]
    f = neurons[0]
    core = cfg.chips[f // C.N_NEURONS_PER_CHIP].cores[(f // C.N_NEURONS_PER_CORE) % C.N_CORES]
    core.latches[f % C.N_NEURONS_PER_CORE, SOIF_TYPE] = False
    with pytest.raises(ValueError, match=r"layer 1: 1 of 2 neurons have the soif_type latch on"):
        network_from_config(cfg)


def test_checkpoint_keeps_it(tmp_path):
    net = _net()
    save(tmp_path / "c.npz", net, (), History(), 1)
    back = load(tmp_path / "c.npz", like=_net(feedback_out=True))
    assert back.net.modules[3].positive_feedback is False
    path = tmp_path / "c.npz"
    with np.load(path) as z:
        arrays = dict(z)
    meta = json.loads(arrays["meta"].tobytes())
    meta["positive_feedback"] = [True]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(FileFormatError, match="positive_feedback"):
        load(path, like=_net())
