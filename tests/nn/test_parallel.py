"""Several devices and long runs give the spikes of one plain run, bit for bit."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dynapse2 import DynapSim, Linear, Sequential
from dynapse2.nn import evolve_chunked
from dynapse2.nn.connectivity import SparseWeights

ROOT = Path(__file__).resolve().parents[2]


def chip_like(n, fan, seed, scale=2.0):
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n), np.float32)
    for post in range(n):
        w[rng.choice(n, fan, replace=False), post] = rng.normal(0, scale, fan)
    return w


def test_sharded_batch_gives_the_spikes_of_one_device():
    code = textwrap.dedent(
        """
        import jax, jax.numpy as jnp, numpy as np, equinox as eqx
        from dynapse2 import DynapSim
        from dynapse2.nn import batch_mesh, shard_batch
        assert len(jax.devices()) == 4
        rng = np.random.default_rng(0)
        n = 300  # event-driven recurrence
        w = np.zeros((n, n), np.float32)
        for p in range(n):
            w[rng.choice(n, 16, replace=False), p] = rng.normal(0, 2, 16)
        m = DynapSim(n, has_rec=True, w_rec=w)
        x = (rng.random((8, 150, n)) < 0.03).astype(np.float32) * 3
        ref, ref_state, ref_rec = m(x, record=True)
        xs = shard_batch(x, batch_mesh())
        out, state, rec = m(xs, record=True)
        assert len(out.sharding.device_set) == 4 and out.sharding.spec[0] == "batch"
        assert np.asarray(ref).mean() > 0.005
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
        np.testing.assert_array_equal(np.asarray(rec["imem"]), np.asarray(ref_rec["imem"]))
        for k in ref_state:
            np.testing.assert_array_equal(np.asarray(state[k]), np.asarray(ref_state[k]))
        # the batched, sharded state carries into the next call
        out2 = m.set_attributes(state)(xs)[0]
        ref2 = m.set_attributes(ref_state)(x)[0]
        np.testing.assert_array_equal(np.asarray(out2), np.asarray(ref2))
        # inside jit (as training is): partitioned by the compiler from the input sharding
        params, static = eqx.partition(m, eqx.is_inexact_array)
        f = jax.jit(lambda p, x: eqx.combine(p, static)(x)[0])
        np.testing.assert_array_equal(np.asarray(f(params, xs)), np.asarray(ref))
        loss = lambda p, x: jnp.mean(eqx.combine(p, static)(x)[0].sum(1) ** 2)
        g1 = jax.jit(jax.grad(loss))(params, xs)
        g0 = jax.grad(loss)(params, jnp.asarray(x))
        for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g0)):
            s = float(jnp.max(jnp.abs(b))) + 1e-30
            np.testing.assert_allclose(np.asarray(a) / s, np.asarray(b) / s, atol=1e-5)
        print("OK")
        """
    )
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(ROOT),
    }
    res = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith("OK")


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("batched", [False, True])
def test_chunked_run_equals_one_run(kind, batched):
    n = 300
    w = chip_like(n, 16, 0)
    m = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(w) if kind == "sparse" else w)
    rng = np.random.default_rng(1)
    x = (rng.random((2, 250, n) if batched else (250, n)) < 0.03).astype(np.float32) * 3
    out, state, rec = m(x, record=True)
    assert np.asarray(out).mean() > 0.005
    got, got_state, got_rec = evolve_chunked(m, x, 60, record=True)  # 4 x 60 + 10
    np.testing.assert_array_equal(got, np.asarray(out))
    np.testing.assert_array_equal(got_rec["vmem"], np.asarray(rec["vmem"]))
    for k in state:
        np.testing.assert_array_equal(np.asarray(got_state[k]), np.asarray(state[k]))
    # from an iterator of chunks, keeping nothing but a running spike count
    counts = []
    none, it_state, _ = evolve_chunked(
        m,
        (x[..., t : t + 100, :] for t in range(0, 250, 100)),
        keep=False,
        on_chunk=lambda o, r: counts.append(float(np.asarray(o).sum())),
    )
    assert none is None and sum(counts) == float(np.asarray(out).sum())
    np.testing.assert_array_equal(np.asarray(it_state["imem"]), np.asarray(state["imem"]))


def test_chunked_sequential():
    rng = np.random.default_rng(2)
    net = Sequential(Linear((10, 50), weight=rng.normal(0, 3, (10, 50))), DynapSim(50))
    x = (rng.random((3, 120, 10)) < 0.1).astype(np.float32)
    out = net(x)[0]
    got = evolve_chunked(net, x, 50)[0]
    np.testing.assert_array_equal(got, np.asarray(out))
    with pytest.raises(ValueError, match="chunk"):
        evolve_chunked(net, x, 0)
