"""Gradients reach every trainable leaf; the projection keeps the network realisable."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from seeds import sweep
from train_helpers import small_net

from dynapse2.hardware.bias import current_range
from dynapse2.nn import DynapSim
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.physics.constants import MIN_TAU_STEPS
from dynapse2.train import max_imem_cross_entropy, project, trainable_mask, with_mismatch
from dynapse2.train.trainable import from_optimizer_space, to_optimizer_space

CURRENTS = ("Itau_mem", "Igain_mem", "Itau_ampa", "Igain_ampa", "Ispkthr", "Itau_gaba")
TRAINABLE = ("weights", *CURRENTS)


def test_gradients_reach_every_trainable_leaf(small_task):
    x, y = small_task
    net = small_net(has_rec=True, has_bias=True, w_rec=np.full((2, 2), 0.5))
    # one excitatory, one inhibitory input channel per neuron so GABA matters too
    mask = trainable_mask(net, TRAINABLE)
    params, static = eqx.partition(net, mask)
    p = to_optimizer_space(params, net, TRAINABLE)

    def loss(p):
        n = eqx.combine(from_optimizer_space(p, net, TRAINABLE), static)
        out, _, rec = n(jnp.asarray(x[:8] * 3), record=True)
        return max_imem_cross_entropy(out, rec, jnp.asarray(y[:8]))

    grads = jax.grad(loss)(p)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    names = {jax.tree_util.keystr(k) for k, _ in leaves}
    assert len(leaves) == 3 + len(CURRENTS)  # weight, bias, w_rec, currents
    assert any("w_rec" in n for n in names) and any("bias" in n for n in names)
    for path, g in leaves:
        g = np.asarray(g)
        assert np.isfinite(g).all(), jax.tree_util.keystr(path)
        assert np.abs(g).max() > 0, jax.tree_util.keystr(path)


def test_projection_ties_groups_and_clips_into_the_bias_generator_range():
    n = 6
    rng = np.random.default_rng(0)
    net = small_net(n_out=n, has_rec=True, groups=(0, 0, 0, 1, 1, 2))
    wild = {
        "Itau_mem": jnp.asarray([1e-15, 2e-12, 3e-12, 1.0, 1.0, 4e-12]),  # too low / too high
        "Igain_ampa": jnp.asarray(rng.uniform(1e-10, 1e-8, n)),
        "Ispkthr": jnp.asarray([1e-3] * n),  # above the BG maximum
    }
    sim = net[1]
    sim = eqx.tree_at(lambda m: [getattr(m, k) for k in wild], sim, list(wild.values()))
    sim = eqx.tree_at(lambda m: m.w_rec, sim, jnp.asarray(rng.normal(0, 30, (n, n, 4))))
    net = eqx.tree_at(lambda s: s.modules[1], net, sim)
    net = eqx.tree_at(lambda s: s.modules[0].weight, net, net[0].weight * 100)
    out = project(net, ("weights", *wild))
    m = out[1]
    groups = np.asarray(m.groups)
    for k in wild:
        v = np.asarray(getattr(m, k))
        lo, hi = current_range(k)
        assert (v >= lo * (1 - 1e-6)).all() and (v <= hi * (1 + 1e-6)).all(), k
        for g in np.unique(groups):
            assert np.ptp(v[groups == g]) == 0, (k, g)
    # group 0 of Igain_ampa is the mean of its three neurons
    np.testing.assert_allclose(m.Igain_ampa[0], np.mean(wild["Igain_ampa"][:3]), rtol=1e-6)
    # time constants kept >= 10 dt: Itau_mem of group 1 clipped to the tau bound
    assert float(jnp.min(m.tau_mem)) >= MIN_TAU_STEPS * m.dt * (1 - 1e-5)
    assert float(m.tau_mem[3]) == pytest.approx(MIN_TAU_STEPS * m.dt, rel=1e-5)
    assert float(jnp.min(m.w_rec)) >= 0 and float(jnp.max(m.w_rec)) <= 15
    assert float(jnp.max(jnp.abs(out[0].weight))) == 15
    # untrained currents untouched
    assert (m.Itau_ampa == net[1].Itau_ampa).all()


def test_projection_clips_chip_shaped_recurrent_weights():
    """A sparse w_rec (CAM entries) is clipped entry by entry into [0, weight_bound]."""
    w = SparseWeights.from_dense(np.full((3, 3, 4), 2.0), fan_in=64)
    sim = DynapSim(3, has_rec=True, w_rec=w)
    wild = jnp.asarray(np.linspace(-5.0, 40.0, w.weight.size).reshape(w.weight.shape))
    sim = eqx.tree_at(lambda m: m.w_rec.weight, sim, wild)
    out = project(sim, ("weights",), weight_bound=15.0)
    assert isinstance(out.w_rec, SparseWeights)
    np.testing.assert_array_equal(np.asarray(out.w_rec.weight), np.clip(wild, 0.0, 15.0))
    np.testing.assert_array_equal(np.asarray(out.w_rec.pre), np.asarray(w.pre))


@pytest.mark.parametrize("seed", sweep())
def test_with_mismatch_works_on_a_nominal_network(seed):
    net = small_net(n_out=3)
    assert net[1].mismatch_factors is None
    assert net[1].resample_mismatch(jax.random.PRNGKey(0)) is net[1]  # the nn gap we work around
    a = with_mismatch(net, jax.random.PRNGKey(2 * seed), 0.2)[1].mismatch_factors
    b = with_mismatch(net, jax.random.PRNGKey(2 * seed + 1), 0.2)[1].mismatch_factors
    assert set(a) >= {"Itau_mem", "C_mem", "Iscale"}
    assert not np.allclose(a["Itau_mem"], b["Itau_mem"])
    # 87 factors 1 + 0.2 N(0, 1): the sample std has standard error 0.2 / sqrt(2 * 87) =
    # 0.015, the bounds are 6.6 sigma; 12 seeds: min 0.164, median 0.197, max 0.217
    assert 0.1 < float(np.std(np.concatenate([np.asarray(v) for v in a.values()]))) < 0.3
    assert with_mismatch(net, jax.random.PRNGKey(0), 0.0) is net
    with pytest.raises(ValueError, match=r"fraction = 1.5 must be in \[0, 1\)"):
        with_mismatch(net, jax.random.PRNGKey(0), 1.5)


def test_trainable_names_are_checked():
    net = small_net()
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['Itau_foo'\]; allowed are"):
        trainable_mask(net, ("weights", "Itau_foo"))
    with pytest.raises(ValueError, match="must be a sequence of names"):
        trainable_mask(net, "weights")
    with pytest.raises(ValueError, match="selects no parameter"):
        trainable_mask(DynapSim(2), ("weights",))
