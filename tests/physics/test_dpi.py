import numpy as np
import pytest

from dynapse2.physics import constants as K
from dynapse2.physics.dpi import (
    decay,
    leak_current,
    mean_kappa,
    pulse_current,
    pulse_full,
    pulse_linear,
    pulse_width,
    time_constant,
)

KAPPA = (K.KAPPA_N + K.KAPPA_P) / 2


def test_time_constant_and_leak_current_are_inverse():
    itau = leak_current(24.5e-12, 10e-3, KAPPA, K.UT)
    assert itau == pytest.approx(8.69e-11, rel=2e-3)  # ~87 pA for 10 ms at 24.5 pF
    assert time_constant(24.5e-12, itau, KAPPA, K.UT) == pytest.approx(10e-3, rel=1e-12)
    # tau_mem = 20 ms needs about 5.3 pA at 3 pF
    assert leak_current(3e-12, 20e-3, KAPPA, K.UT) == pytest.approx(5.32e-12, rel=2e-3)


def test_euler_decay_matches_its_closed_form_and_the_exponential():
    tau, dt, i0 = 10e-3, 1e-4, 1e-9
    i = i0
    for _ in range(100):
        i = decay(np, i, tau, dt, K.IO)
    assert i == pytest.approx(i0 * (1 - dt / tau) ** 100, rel=1e-12)
    # Euler error O(dt/tau): (1 - x) ** n / exp(-n x) ~ exp(-n x ** 2 / 2), measured 0.50 %
    assert i == pytest.approx(i0 * np.exp(-100 * dt / tau), rel=0.01)


def test_decay_is_clipped_at_io():
    assert decay(np, 2 * K.IO, 1e-2, 5e-3, K.IO) == K.IO
    assert decay(np, 1e-20, 1e-2, 1e-3, K.IO) == K.IO


def test_linear_pulse_closed_form():
    igain, itau, iw, tau, tp = 8.7e-9, 8.7e-11, 1e-8, 1e-2, 1e-5
    i0 = 3e-10
    i_inf = igain / itau * iw * 2.0
    expected = i_inf + (i0 - i_inf) * np.exp(-tp / tau)
    assert pulse_linear(np, i0, 2.0, igain, itau, iw, tau, tp) == pytest.approx(expected, rel=1e-12)
    # the jump is about I_inf * t_pulse / tau
    assert expected - i0 == pytest.approx(i_inf * tp / tau, rel=2e-3)
    # no event, no change
    assert pulse_linear(np, i0, 0.0, igain, itau, iw, tau, tp) == i0


def test_full_pulse_grows_multiplicatively_from_rest_and_matches_linear_for_large_weights():
    igain, itau, tau, tp = 8.7e-9, 8.7e-11, 1e-2, 1e-5
    # from I_0 a 10 us pulse of 10 nA multiplies I by about exp((Iw/Itau - 1) tp / tau) ~ 1.12
    small = pulse_full(np, K.IO, 1.0, igain, itau, 1e-8, tau, tp, substeps=64) / K.IO
    assert small == pytest.approx(np.exp((1e-8 / itau - 1) * tp / tau), rel=1e-3)
    linear_small = pulse_linear(np, K.IO, 1.0, igain, itau, 1e-8, tau, tp)
    assert linear_small > 1000 * K.IO  # the linear form jumps by ~1 nA instead
    # starting far above I_gain both forms agree
    i0 = 1e-7
    full = pulse_full(np, i0, 1.0, igain, itau, 1e-6, tau, tp, substeps=64)
    lin = pulse_linear(np, i0, 1.0, igain, itau, 1e-6, tau, tp)
    assert (full - i0) == pytest.approx(lin - i0, rel=0.1)  # deterministic: measured 5.3 %
    # between pulses the full equation is the exponential decay, never above the fixed point
    assert pulse_full(np, i0, 0.0, igain, itau, 1e-6, tau, tp) == i0


def test_pulse_width_closed_form_and_inverse():
    # t = C V_th / I: 0.5 pF charged to 0.7 V by 35 nA takes 10 us
    assert pulse_width(0.5e-12, 35e-9, K.VTH) == pytest.approx(10e-6, rel=1e-12)
    c = np.array([0.5e-12, 1.5e-12, 0.5e-12])
    i = np.array([3.5e-8, 1.05e-9, 1e-10])
    np.testing.assert_array_equal(pulse_width(c, i, 0.7), c * 0.7 / i)
    np.testing.assert_allclose(pulse_current(c, pulse_width(c, i, 0.7), 0.7), i, rtol=1e-15)
    # the nominal currents give the nominal widths
    assert pulse_width(
        K.CAPACITANCES["C_ref"], pulse_current(K.CAPACITANCES["C_ref"], K.T_REF, K.VTH), K.VTH
    ) == pytest.approx(K.T_REF, rel=1e-15)


def test_mean_kappa_is_the_mean_of_both_transistor_types():
    assert mean_kappa(0.75, 0.66) == (0.75 + 0.66) / 2
    np.testing.assert_array_equal(mean_kappa(np.array([0.7, 0.8]), 0.6), [(0.7 + 0.6) / 2, 0.7])
