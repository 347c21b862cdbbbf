"""Quantization-aware training transform: forward = the mapped network, gradients straight
through, cores as placed, deployable as trained."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from dynapse2.hardware import chip as C
from dynapse2.hardware import map_network, quantization_aware
from dynapse2.hardware.quantization_aware import QuantizationAware
from dynapse2.nn import CURRENTS, DynapSim, Linear, Sequential
from dynapse2.train import Robustness, fit, spike_count_cross_entropy

N_IN, N1, N2 = 20, 24, 8
_AMPA, _GABA = C.SYNAPSE_TYPES.index("ampa"), C.SYNAPSE_TYPES.index("gaba")


def _net(seed: int = 0) -> Sequential:
    """Two populations; the first recurrent, its neurons interleaved over two groups."""
    rng = np.random.default_rng(seed)
    w_rec = np.zeros((N1, N1, 4))
    for j in range(N1):
        w_rec[rng.choice(N1, 4, replace=False), j, rng.integers(0, 2)] = rng.uniform(0, 1, 4)
    return Sequential(
        Linear((N_IN, N1), weight=rng.normal(0.5, 1.0, (N_IN, N1))),
        DynapSim(N1, has_rec=True, w_rec=w_rec, groups=(0, 1) * (N1 // 2), Idc=3e-12),
        Linear((N1, N2), weight=rng.normal(1.0, 1.0, (N1, N2))),
        DynapSim(N2),
    )


@pytest.fixture(scope="module")
def setup():
    net = _net()
    x = (np.random.default_rng(1).random((4, 80, N_IN)) < 0.1).astype(np.float32)
    return net, quantization_aware(net), map_network(net), x


def test_forward_is_the_mapped_network(setup):
    net, qat, mapping, x = setup
    q = qat(net)
    for i in (0, 2):
        np.testing.assert_array_equal(q.modules[i].weight, mapping.network.modules[i].weight)
    np.testing.assert_array_equal(q.modules[1].w_rec, mapping.network.modules[1].w_rec)
    for i in (1, 3):
        for name in CURRENTS:
            np.testing.assert_array_equal(
                getattr(q.modules[i], name), getattr(mapping.network.modules[i], name)
            )
    out_q, out_m = np.asarray(q(x)[0]), np.asarray(mapping.network(x)[0])
    # deterministic (fixed network and input): not vacuous, measured 188 output spikes
    assert out_q.sum() > 20
    np.testing.assert_array_equal(out_q, out_m)


def test_forward_equals_the_quantizers_dequantized_weights(setup):
    net, qat, mapping, _ = setup
    q = qat(net)
    deq = mapping.weights[0].fit.dequantize()  # typed: input rows, then recurrent rows
    signed_in = deq[:N_IN, :, _AMPA] - deq[:N_IN, :, _GABA]
    np.testing.assert_array_equal(q.modules[0].weight, signed_in.astype(np.float32))
    np.testing.assert_array_equal(q.modules[1].w_rec, deq[N_IN:].astype(np.float32))
    assert not np.array_equal(q.modules[0].weight, net.modules[0].weight)  # it did quantize


def test_cores_follow_the_placement(setup):
    _, qat, mapping, _ = setup
    pl = mapping.placement
    for layer, core in enumerate(qat.core):
        gcore = pl.global_core[pl.of_layer(layer)]
        np.testing.assert_array_equal(core, np.unique(gcore, return_inverse=True)[1].ravel())
    np.testing.assert_array_equal(qat.core[0], np.array((0, 1) * (N1 // 2)))  # the groups
    assert qat.levels[0].shape == (2, 16) and qat.levels[1].shape == (1, 16)


def test_gradients_pass_straight_through(setup):
    net, qat, mapping, x = setup
    y = jnp.arange(4) % N2

    def loss_of(w_in, transform):
        n = Sequential(Linear((N_IN, N1), weight=w_in), *net.modules[1:])
        out, _, _ = transform(n)(x)
        return spike_count_cross_entropy(out, None, y)

    w = net.modules[0].weight
    g = jax.grad(loss_of)(w, qat)
    assert np.all(np.isfinite(g)) and np.any(g != 0)
    # Straight through: the gradient at w is the quantized network's gradient at q.
    q_net = qat(net)
    g_q = jax.grad(loss_of)(q_net.modules[0].weight, lambda n: qat(n))
    np.testing.assert_allclose(g, g_q, rtol=1e-5, atol=1e-9)


def test_deploying_the_transformed_net_keeps_the_configuration(setup):
    net, qat, mapping, _ = setup
    again = map_network(qat(net))
    assert again.config == mapping.config
    assert all(w.recovered.all() for w in again.weights)


def test_currents_can_be_left_alone(setup):
    net, _, _, _ = setup
    q = quantization_aware(net, currents=False)(net)
    assert q.modules[1].Itau_mem is net.modules[1].Itau_mem
    assert not np.array_equal(q.modules[0].weight, net.modules[0].weight)


def test_structure_mismatch_raises(setup):
    _, qat, _, _ = setup
    with pytest.raises(ValueError, match="differ from those the transform was built for"):
        qat(Sequential(Linear((N_IN, N1), key=jax.random.PRNGKey(0)), DynapSim(N1)))
    with pytest.raises(ValueError, match="quantization_aware: the network ends with a Linear"):
        quantization_aware(Linear((N_IN, N1), key=jax.random.PRNGKey(0)))


KEY = jax.random.PRNGKey(0)


def test_fit_with_the_transform_compiles_once_per_structure():
    net = Sequential(Linear((N_IN, N2), key=jax.random.PRNGKey(0)), DynapSim(N2))
    x = (np.random.default_rng(2).random((8, 40, N_IN)) < 0.2).astype(np.float32)
    y = np.arange(8) % N2
    opt, seen = optax.adam(1e-2), []

    def run(n):
        qat = quantization_aware(n)
        assert isinstance(qat, QuantizationAware)
        cb = lambda e: seen.append(e.compilations)  # noqa: E731
        return fit(n, x, y, spike_count_cross_entropy, optimizer=opt, epochs=1, batch_size=8,
                   key=KEY, robustness=Robustness(transform=qat), callback=cb,
                   progress=False)[0]  # fmt: skip

    tuned = run(net)
    assert not np.array_equal(tuned.modules[0].weight, net.modules[0].weight)
    run(tuned)  # a re-fitted transform: new level arrays, same compiled step
    assert seen == [1, 0]
