"""The custom reverse mode of the simulation loop (``backends._scan_with_grad``) gives the
gradients of JAX's own reverse mode through ``lax.scan`` (float32 tolerance: only the order
of the sums differs), for every kind of recurrence and for recorded outputs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2 import DynapSim
from dynapse2.nn import backends, recurrence
from dynapse2.nn.connectivity import SparseWeights


def chip_like(n, fan, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n), np.float32)
    for post in range(n):
        w[rng.choice(n, fan, replace=False), post] = rng.normal(0, scale, fan)
    return w


def grads(m, x, custom, record, fan=False):
    """Gradients of a loss of spikes (and, recorded, of I_mem) and of the final state, with
    respect to every floating-point leaf of ``m`` and to the input; ``fan``: drive events
    through the fan-out table (built inside the trace, as in training)."""
    ext = backends._external_types(x, False)
    types = backends._computed_types(m, ext)
    params, static = eqx.partition(m, eqx.is_inexact_array)

    def loss(p, x):
        mod = eqx.combine(p, static)
        table = recurrence.fanout_columns(mod) if fan else None
        assert table is not None or not fan
        spikes, state, rec = backends._scan(mod, x, False, record, True, ext, types, custom, table)
        out = jnp.mean((spikes.sum(axis=1) - 3.0) ** 2) + jnp.sum(state["imem"]) * 1e8
        if record:
            out = out + jnp.mean(rec["vmem"]) + jnp.sum(rec["iampa"][:, ::7]) * 1e8
        return out

    return jax.grad(loss, argnums=(0, 1))(params, jnp.asarray(x))


def dense_net(n):
    return DynapSim(n, has_rec=True, w_rec=chip_like(n, 16, 0), Idc=2e-12)


def sparse_net(n):
    return DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(chip_like(n, 16, 0)))


CASES = {
    "no recurrence": lambda: DynapSim(40, mismatch=0.1, key=jax.random.PRNGKey(0)),
    "dense": lambda: dense_net(40),
    "dense, event-driven": lambda: dense_net(recurrence.EVENT_MIN_NEURONS),
    "sparse, densified": lambda: sparse_net(40),
    "sparse, gathered": lambda: sparse_net(41),  # another n: another jit trace
    # chip-shaped weights too large to densify, events through their CAM fan-out table (in
    # training every CAM entry is in the table: no free slots here, which would all point
    # to neuron 0 and make its fan-out too wide for a table)
    "sparse, CAM fan-out": lambda: DynapSim(
        recurrence.EVENT_MIN_NEURONS,
        has_rec=True,
        w_rec=SparseWeights.from_dense(chip_like(recurrence.EVENT_MIN_NEURONS, 16, 0), fan_in=16),
    ),
}


@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_custom_reverse_mode_equals_jax_reverse_mode(case, record, monkeypatch):
    if case in ("sparse, gathered", "sparse, CAM fan-out"):
        monkeypatch.setattr(recurrence, "DENSE_LIMIT_BYTES", 0)
    m = CASES[case]()
    rng = np.random.default_rng(2)
    x = (rng.random((2, 120, m.n)) < 0.05).astype(np.float32) * 3.0
    x[..., ::5] *= -1  # some GABA input
    # a state that is not the resting one, so that its gradient is not trivial
    m = eqx.tree_at(lambda m: m.spikes, m, jnp.asarray(rng.random(m.n) < 0.3, jnp.float32))
    fan = case == "sparse, CAM fan-out"  # both through the table: the same float32 sums
    got = grads(m, x, True, record, fan)
    want = grads(m, x, False, record, fan)
    leaves_g, leaves_w = jax.tree.leaves(got), jax.tree.leaves(want)
    assert len(leaves_g) == len(leaves_w)
    assert sum(float(jnp.abs(a).sum()) > 0 for a in leaves_w) > 10  # gradients reach params
    for a, b in zip(leaves_g, leaves_w, strict=True):
        scale = float(jnp.max(jnp.abs(b))) + 1e-30
        # measured: at most 2.6e-5 of the largest gradient (sparse, densified), summation
        # order amplified by the log surrogate's 1 / r through neurons far below threshold
        np.testing.assert_allclose(np.asarray(a) / scale, np.asarray(b) / scale, atol=1e-4)


def test_spikes_are_those_of_the_plain_scan():
    m = dense_net(recurrence.EVENT_MIN_NEURONS)
    x = (np.random.default_rng(3).random((2, 200, m.n)) < 0.05).astype(np.float32) * 3.0
    ext = backends._external_types(x, False)
    types = backends._computed_types(m, ext)
    params, static = eqx.partition(m, eqx.is_inexact_array)

    def spikes(p, custom):
        return backends._scan(eqx.combine(p, static), x, False, False, True, ext, types, custom)

    # the forward of the custom-gradient function (under differentiation) and the plain scan
    fwd = jax.vjp(lambda p: spikes(p, True)[0], params)[0]
    np.testing.assert_array_equal(fwd, spikes(params, False)[0])
    np.testing.assert_array_equal(spikes(params, True)[0], spikes(params, False)[0])
