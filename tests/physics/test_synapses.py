import jax.numpy as jnp
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dynapse2.hardware import chip
from dynapse2.physics.synapses import (
    AMPA,
    GABA,
    N_SYNAPSE_TYPES,
    NMDA,
    SHUNT,
    SIGN,
    SIGNED_TYPES,
    SYNAPSE_TYPES,
    signed_from_typed,
    split_signed,
    typed_from_signed,
)

_FLOATS = st.floats(-1e6, 1e6, allow_nan=False, width=64)


def test_order_indices_and_signs():
    assert SYNAPSE_TYPES == ("ampa", "nmda", "gaba", "shunt")
    assert (AMPA, NMDA, GABA, SHUNT) == (0, 1, 2, 3) and N_SYNAPSE_TYPES == 4
    assert SIGN == (1, 1, -1, -1)
    assert SIGNED_TYPES == (AMPA, GABA)
    # the chip's tables name the same types (re-exported, not written again)
    assert chip.SYNAPSE_TYPES is SYNAPSE_TYPES
    assert set(chip.DENDRITE_CODES) == {"none", *SYNAPSE_TYPES}


@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=_FLOATS))
def test_signed_typed_round_trip(w):
    typed = typed_from_signed(w)
    assert typed.shape == (*w.shape, 4) and typed.dtype == np.float64
    assert (typed >= 0).all()
    np.testing.assert_array_equal(typed[..., AMPA], np.where(w > 0, w, 0.0))
    np.testing.assert_array_equal(typed[..., GABA], np.where(w < 0, -w, 0.0))
    assert not typed[..., NMDA].any() and not typed[..., SHUNT].any()
    np.testing.assert_array_equal(signed_from_typed(typed), w)  # exact, value by value


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.just(4)), elements=_FLOATS))
def test_signed_from_typed_closed_form(w):
    expected = w[:, 0] + w[:, 1] - w[:, 2] - w[:, 3]
    np.testing.assert_array_equal(signed_from_typed(w), expected)


def test_split_signed_same_under_numpy_and_jax():
    w = np.array([-2.5, -0.0, 0.0, 1e-30, 3.0], np.float32)
    exc, inh = split_signed(np, w)
    np.testing.assert_array_equal(exc, np.array([0, 0, 0, 1e-30, 3.0], np.float32))
    np.testing.assert_array_equal(inh, np.array([2.5, 0, 0, 0, 0], np.float32))
    jexc, jinh = split_signed(jnp, jnp.asarray(w))
    assert jexc.dtype == jnp.float32 and jinh.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(jexc), exc)
    np.testing.assert_array_equal(np.asarray(jinh), inh)
