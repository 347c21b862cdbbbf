"""The custom reverse mode of the simulation loop (the ``custom_grad`` scan strategy,
:class:`dynapse2.nn.scan.CustomGradScan`) gives the gradients of JAX's own reverse mode
through ``lax.scan`` (the ``plain`` scan; float32 tolerance: only the order of the sums
differs), for every recurrence strategy and for recorded outputs."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2 import DynapSim
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.plan import EVENT_MIN_NEURONS, PlanOptions


def chip_like(n, fan, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n), np.float32)
    for post in range(n):
        w[rng.choice(n, fan, replace=False), post] = rng.normal(0, scale, fan)
    return w


def grads(m, x, scan, record):
    """Gradients of a loss of spikes (and, recorded, of I_mem) and of the final state, with
    respect to every floating-point leaf of ``m`` and to the input, through the ``scan``
    strategy (the weights are traced, as in training)."""
    params, static = eqx.partition(m.with_plan_options(scan=scan), eqx.is_inexact_array)

    def loss(p, x):
        spikes, state, rec = eqx.combine(p, static)(x, record=record)
        out = jnp.mean((spikes.sum(axis=1) - 3.0) ** 2) + jnp.sum(state["imem"]) * 1e8
        if record:
            out = out + jnp.mean(rec["vmem"]) + jnp.sum(rec["iampa"][:, ::7]) * 1e8
        return out

    return jax.grad(loss, argnums=(0, 1))(params, jnp.asarray(x))


def dense_net(n):
    return DynapSim(n, has_rec=True, w_rec=chip_like(n, 16, 0), Idc=2e-12)


def sparse_net(n):
    return DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(chip_like(n, 16, 0)))


# case -> (network, the recurrence strategy the plan must pick)
CASES = {
    "no recurrence": (lambda: DynapSim(40, mismatch=0.1, key=jax.random.PRNGKey(0)), None),
    "dense": (lambda: dense_net(40), "matmul"),
    "dense, event-driven": (lambda: dense_net(EVENT_MIN_NEURONS), "rows"),
    "sparse, densified": (lambda: sparse_net(40), "matmul"),
    "sparse, gathered": (
        lambda: sparse_net(41).with_plan_options(recurrence="cam_gather"),
        "cam_gather",
    ),
    # chip-shaped weights, events through their CAM fan-out table (in training every CAM
    # entry is in the table: no free slots here, which would all point to neuron 0 and make
    # its fan-out too wide for a table)
    "sparse, CAM fan-out": (
        lambda: DynapSim(
            EVENT_MIN_NEURONS,
            has_rec=True,
            w_rec=SparseWeights.from_dense(chip_like(EVENT_MIN_NEURONS, 16, 0), fan_in=16),
            plan_options=PlanOptions(recurrence="cam_fanout", weights="traced"),
        ),
        "cam_fanout",
    ),
}


@pytest.mark.parametrize("record", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_custom_reverse_mode_equals_jax_reverse_mode(case, record):
    make, strategy = CASES[case]
    m = make()
    plan = m.plan((2, 120, m.n))
    assert (plan.recurrence and plan.recurrence.name) == strategy
    rng = np.random.default_rng(2)
    x = (rng.random((2, 120, m.n)) < 0.05).astype(np.float32) * 3.0
    x[..., ::5] *= -1  # some GABA input
    # a state that is not the resting one, so that its gradient is not trivial
    m = eqx.tree_at(lambda m: m.spikes, m, jnp.asarray(rng.random(m.n) < 0.3, jnp.float32))
    got = grads(m, x, "custom_grad", record)
    want = grads(m, x, "plain", record)
    leaves_g, leaves_w = jax.tree.leaves(got), jax.tree.leaves(want)
    assert len(leaves_g) == len(leaves_w)
    assert sum(float(jnp.abs(a).sum()) > 0 for a in leaves_w) > 10  # gradients reach params
    for a, b in zip(leaves_g, leaves_w, strict=True):
        scale = float(jnp.max(jnp.abs(b))) + 1e-30
        # measured: at most 2.6e-5 of the largest gradient (sparse, densified), summation
        # order amplified by the log surrogate's 1 / r through neurons far below threshold
        np.testing.assert_allclose(np.asarray(a) / scale, np.asarray(b) / scale, atol=1e-4)


def test_spikes_are_those_of_the_plain_scan():
    m = dense_net(EVENT_MIN_NEURONS)
    x = (np.random.default_rng(3).random((2, 200, m.n)) < 0.05).astype(np.float32) * 3.0
    params, static = eqx.partition(m, eqx.is_inexact_array)

    def spikes(p, scan):
        return eqx.combine(p, static).with_plan_options(scan=scan)(x)

    # the forward of the custom-gradient function (under differentiation) and the plain scan
    fwd = jax.vjp(lambda p: spikes(p, "custom_grad")[0], params)[0]
    np.testing.assert_array_equal(fwd, spikes(params, "plain")[0])
    np.testing.assert_array_equal(spikes(params, "custom_grad")[0], spikes(params, "plain")[0])
