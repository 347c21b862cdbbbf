"""Constructor arguments and evolve inputs of every kind (hypothesis, bounded): a module is
built and runs, or the error is a ValueError / TypeError that names the class."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynapse2 import DynapSim, Linear

_ODD = st.sampled_from(
    [0, 1, -1, 3, 2.5, 1e-3, 1e-9, 1e9, -1e-3, float("nan"), float("inf"), "1", None, True,
     [1e-3], np.float32(1e-3), np.int64(2), np.array([1e-3, 2e-3]), ()]
)  # fmt: skip
_ARGS = ("n", "dt", "mismatch", "surrogate_slope", "Itau_mem", "C_mem", "Iscale", "groups")


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(_ARGS), _ODD, min_size=1, max_size=3))
def test_dynapsim_arguments(kwargs):
    n = kwargs.pop("n", 2)
    try:
        m = DynapSim(n, **kwargs)
    except (ValueError, TypeError) as e:
        assert "DynapSim" in str(e) or "groups" in str(e)
        return
    out, _, _ = m(np.zeros((3, m.n)))
    assert out.shape == (3, m.n)


_INPUTS = st.sampled_from(
    [np.zeros((4, 3)), np.zeros((2, 4, 3)), np.zeros((4, 3), np.int8), np.ones((4, 3), bool),
     np.full((4, 3), np.nan), np.full((4, 3), np.inf), np.zeros((4, 2)), np.zeros((3,)),
     np.zeros((0, 3)), np.zeros((1, 1, 1, 3)), np.zeros((4, 3), np.complex64), "spikes",
     [[0, 0, 0]], np.zeros((4, 3, 4))]
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(_INPUTS)
@pytest.mark.parametrize("backend", ["jax", "numpy"])
def test_evolve_inputs(backend, x):
    m = DynapSim(3, backend=backend)
    try:
        out, _, _ = m(x)
    except (ValueError, TypeError) as e:
        assert "DynapSim" in str(e)
        return
    assert np.asarray(out).shape[-1] == 3


@settings(max_examples=40, deadline=None)
@given(_INPUTS)
def test_linear_inputs(x):
    lin = Linear((3, 2), weight=np.ones((3, 2)))
    try:
        out, _, _ = lin(x)
    except (ValueError, TypeError) as e:
        assert "Linear" in str(e)
        return
    assert np.asarray(out).shape[-1] == 2
