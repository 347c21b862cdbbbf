"""The solver contract: names, choice by argument, static and hashable, clear errors."""

import jax
import numpy as np
import pytest

from dynapse2.nn import DynapSim
from dynapse2.nn.backends import step_options
from dynapse2.physics.step import NUMPY_OPS, State, circuit, step
from dynapse2.solvers import SOLVERS, Euler, ExponentialEuler, solver_from_name


def test_solvers_are_hashable_equal_by_class_and_named():
    assert Euler() == Euler() and hash(Euler()) == hash(Euler())
    assert Euler() != ExponentialEuler()
    assert repr(ExponentialEuler()) == "ExponentialEuler()"
    assert set(SOLVERS) == {"euler", "exponential_euler"}
    for name, cls in SOLVERS.items():
        assert solver_from_name(name) == cls()


def test_dynapsim_defaults_to_euler_and_shows_its_solver():
    assert DynapSim(3).solver == Euler()
    m = DynapSim(3, solver=ExponentialEuler())
    assert "solver=ExponentialEuler()" in repr(m)
    assert m.simulation_parameters()["solver"] == ExponentialEuler()
    assert DynapSim(3, solver="exponential_euler").solver == ExponentialEuler()
    # static: no leaf, so jit retraces per solver and not per call
    assert len(jax.tree_util.tree_leaves(m)) == len(jax.tree_util.tree_leaves(DynapSim(3)))


@pytest.mark.parametrize("bad", ["rk4", ExponentialEuler, 3, None.__class__])
def test_bad_solver_is_refused_naming_solver_and_the_allowed_values(bad):
    with pytest.raises(ValueError, match=r"solver = .*allowed values.*Euler\(\)"):
        DynapSim(3, solver=bad)
    with pytest.raises(ValueError, match="solver"):
        solver_from_name("rk4")


def test_euler_reference_stepper_is_the_literal_step():
    m = DynapSim(3, Idc=2e-9)
    vals = {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()}
    c = circuit(np, vals, m.kappa, m.Ut, m.Vth)
    s = State(*(np.asarray(v, np.float64)[None] for v in m.initial_state().values()))
    x = np.ones((1, 3, 4))
    a = Euler().reference_stepper(NUMPY_OPS, c, m.dt, **step_options(m))(s, x)
    b = step(NUMPY_OPS, c, s, x, m.dt, **step_options(m))
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_time_constant_limit_is_the_solvers_and_named_in_the_message():
    assert Euler.min_tau_steps == 10 and ExponentialEuler.min_tau_steps == 8
    itau = 3e-12 * 25e-3 / (0.705 * 9e-3)  # tau_mem = 9 ms = 9 dt
    m = DynapSim(2, solver=ExponentialEuler(), Itau_mem=itau)
    assert float(m.tau_mem[0]) == pytest.approx(9e-3, rel=1e-3)
    with pytest.raises(ValueError, match=r"tau_mem = 0\.009 s .* at least 10 \* dt .* Euler\(\)"):
        DynapSim(2, Itau_mem=itau)
    with pytest.raises(ValueError, match=r"at least 10 \* dt = 0\.01 s for Euler\(\)"):
        m.with_solver(Euler())
    with pytest.raises(ValueError, match=r"at least 8 \* dt = 0\.008 s for ExponentialEuler\(\)"):
        DynapSim(2, solver=ExponentialEuler(), Itau_mem=itau * 9 / 7)
    e, x = DynapSim(2).max_leak_current("Itau_ampa"), m.max_leak_current("Itau_ampa")
    assert x == pytest.approx(e * 10 / 8)
