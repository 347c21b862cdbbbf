import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2 import DynapSim, Linear, Sequential


def test_linear_init_is_seeded_and_shapes_checked():
    a, b = Linear((3, 5), key=jax.random.PRNGKey(1)), Linear((3, 5), key=jax.random.PRNGKey(1))
    np.testing.assert_array_equal(a.weight, b.weight)
    assert a.shape == (3, 5)
    assert not np.array_equal(a.weight, Linear((3, 5), key=jax.random.PRNGKey(2)).weight)
    with pytest.raises(ValueError, match=r"weight has shape \(2, 2\); expected .* \(3, 5\)"):
        Linear((3, 5), weight=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"input has shape \(4, 2\); expected .* n_in = 3"):
        a(np.zeros((4, 2)))


def test_linear_output_and_bias():
    w = np.arange(6.0).reshape(2, 3)
    m = Linear((2, 3), weight=w, has_bias=True)
    m = m.set_attributes({"bias": jnp.array([1.0, 2.0, 3.0])})
    y, st, rec = m(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(y, np.array([[1.0, 2.0]]) @ w + [1, 2, 3])
    assert st == {} and rec == {}
    assert set(m.parameters()) == {"weight", "bias"}
    assert set(Linear((2, 3), key=jax.random.PRNGKey(0)).parameters()) == {"weight"}


def test_sequential_checks_shapes_naming_both_modules():
    with pytest.raises(ValueError, match=r"Linear has shape \(3, 5\).*DynapSim has shape \(4, 4\)"):
        Sequential(Linear((3, 5), key=jax.random.PRNGKey(0)), DynapSim(4))


def test_sequential_nests_parameters_state_and_records():
    net = Sequential(Linear((3, 4), key=jax.random.PRNGKey(0)), DynapSim(4, has_rec=True))
    assert net.shape == (3, 4)
    assert list(net.parameters()) == ["0_Linear", "1_DynapSim"]
    assert "w_rec" in net.parameters()["1_DynapSim"]
    assert set(net.state()["1_DynapSim"]) == {"imem", "isyn", "iahp", "timer", "spikes"}
    assert net.simulation_parameters()["1_DynapSim"]["dt"] == 1e-3
    x = np.random.default_rng(0).poisson(0.2, (2, 50, 3)).astype(np.float32)
    out, state, rec = net(x, record=True)
    assert out.shape == (2, 50, 4)
    assert rec["1_DynapSim"]["imem"].shape == (2, 50, 4)
    assert rec["0_Linear_output"].shape == (2, 50, 4)
    net2 = net.set_attributes({"1_DynapSim": {"imem": state["1_DynapSim"]["imem"]}})
    np.testing.assert_array_equal(net2[1].imem, state["1_DynapSim"]["imem"])
    np.testing.assert_array_equal(net2.reset_state()[1].imem, net[1].imem)
    with pytest.raises(KeyError, match="unknown module name"):
        net.set_attributes({"nope": {}})
    with pytest.raises(KeyError, match=r"unknown name\(s\) \['nope'\]"):
        net[1].set_attributes({"nope": 1.0})
    assert "Sequential(shape=(3, 4)" in repr(net) and "DynapSim(n=4" in repr(net)


def test_modules_are_pytrees_for_jit_grad_and_vmap():
    net = Sequential(Linear((3, 4), key=jax.random.PRNGKey(0)), DynapSim(4))
    x = jnp.asarray(np.random.default_rng(0).poisson(0.5, (20, 3)), jnp.float32)

    @eqx.filter_jit
    def f(m, x):
        return m(x)[0].sum()

    assert f(net, x) == net(x)[0].sum()
    g = eqx.filter_grad(lambda m, x: m(x, record=True)[2]["1_DynapSim"]["imem"].sum())(net, x)
    assert np.isfinite(g[0].weight).all()
    batched = jax.vmap(lambda xi: net(xi)[0])(jnp.stack([x, x]))
    np.testing.assert_array_equal(batched[0], net(x)[0])


def test_state_is_returned_never_stored():
    m = DynapSim(2)
    before = np.asarray(m.imem).copy()
    _, state, _ = m(np.full((30, 2, 4), 3.0, np.float32))
    np.testing.assert_array_equal(m.imem, before)
    assert not np.array_equal(state["isyn"], m.isyn)
