import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynapse2.physics import constants as K
from dynapse2.physics.soma import (
    membrane_derivative,
    membrane_voltage,
    nmda_gate,
    positive_feedback,
)

KAPPA = (K.KAPPA_N + K.KAPPA_P) / 2
currents = st.floats(min_value=1e-12, max_value=1e-6)


@given(imem=currents)
def test_positive_feedback_is_the_exponential_of_vmem(imem):
    v = membrane_voltage(np, imem, KAPPA, K.UT, K.IO)
    expected = K.IO * np.exp(KAPPA**2 / (KAPPA + 1) * v / K.UT)
    assert positive_feedback(np, imem, KAPPA, K.IO) == pytest.approx(expected, rel=1e-9)


def test_nmda_gate_limits():
    assert nmda_gate(1e-12, 1e-9) < 1e-3
    assert nmda_gate(1e-9, 1e-9) == pytest.approx(0.5)
    assert nmda_gate(1e-6, 1e-9) > 0.999


@given(imem=currents, i_in=currents, iahp=currents, ipf=currents, itau=currents, igain=currents)
def test_membrane_equation_expands_to_the_published_form(imem, i_in, iahp, ipf, itau, igain):
    # tau (1 + Ig/I) dI/dt + I (1 + Iahp/Itau) = (Ig/Itau)(Iin - Iahp - Itau) + (Ipf/Itau)(I + Ig)
    tau = 0.02
    i_sum = itau + iahp - ipf  # no shunt
    lhs_rest = imem * (1 + iahp / itau)
    rhs = igain / itau * (i_in - iahp - itau) + ipf / itau * (imem + igain)
    didt = membrane_derivative(imem, i_in, i_sum, igain, itau, tau)
    assert tau * (1 + igain / imem) * didt + lhs_rest == pytest.approx(rhs, rel=1e-6, abs=1e-18)


def test_shunt_is_subtractive_and_divisive():
    # shunting adds to the leak node: its effect on dI/dt grows with I_mem
    itau, igain, tau, ish = 5e-12, 2e-11, 0.02, 5e-11
    for imem in (1e-11, 1e-9):
        base = membrane_derivative(imem, 1e-10, itau, igain, itau, tau)
        shunted = membrane_derivative(imem, 1e-10, itau + ish, igain, itau, tau)
        subtractive = membrane_derivative(imem, 1e-10 - ish, itau, igain, itau, tau)
        assert shunted < base
        assert shunted < subtractive  # more than a pure subtraction: the divisive part
