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


def on_four_devices(*parts):
    """Run the code ``parts`` (each dedented) in a fresh process with 4 host CPU devices; it
    must print OK last."""
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": str(ROOT),
    }
    res = subprocess.run(
        [sys.executable, "-c", "\n".join(textwrap.dedent(p) for p in parts)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip().endswith("OK")


# shared by the neuron-sharding tests (run in the subprocess): a recurrent network of n = 320
# neurons (event-driven recurrence, n >= 256), 80 per device, with random connections (so
# that neurons listen to neurons of other devices), and the comparison with one device
NEURON_SETUP = """
import jax, jax.numpy as jnp, numpy as np, equinox as eqx
from dynapse2 import DynapSim
from dynapse2.nn import neuron_mesh, neuron_sharding, shard_neurons
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.products import event_budget
from dynapse2.nn.sharding import NeuronSharded
assert len(jax.devices()) == 4
rng = np.random.default_rng(0)
n = 320
w = np.zeros((n, n), np.float32)
for p in range(n):
    w[rng.choice(n, 16, replace=False), p] = rng.normal(0, 2, 16)

def same(m, x, mesh, spec, carry=True):
    # spikes, every record and the new state of the sharded run are those of one device
    ref, ref_state, ref_rec = m(x, record=True)
    xs = shard_neurons(x, m.n, mesh)
    assert isinstance(m.plan(xs).sharding, NeuronSharded)  # the plan reads the placement
    out, state, rec = m(xs, record=True)
    assert out.sharding.spec == spec and len(out.sharding.device_set) == 4, out.sharding
    # not vacuous: measured 0.023 to 0.082 over the calls below
    assert np.asarray(ref).mean() > 0.005
    np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
    assert set(rec) == set(ref_rec) and "vmem" in rec
    for k in ref_rec:
        assert rec[k].sharding.spec == spec, k
        np.testing.assert_array_equal(np.asarray(rec[k]), np.asarray(ref_rec[k]), err_msg=k)
    for k in ref_state:
        assert state[k].sharding.spec[len(spec) - 2] == spec[-1], k  # the neuron axis
        np.testing.assert_array_equal(np.asarray(state[k]), np.asarray(ref_state[k]), err_msg=k)
    if not carry:
        return xs, ref
    # the sharded state carries into the next call
    out2 = m.set_attributes(state)(xs)[0]
    ref2 = m.set_attributes(ref_state)(x)[0]
    assert np.asarray(ref2).mean() > 0.005  # not vacuous: measured 0.029 to 0.030
    np.testing.assert_array_equal(np.asarray(out2), np.asarray(ref2))
    return xs, ref
"""


def test_sharded_neurons_give_the_spikes_of_one_device():
    on_four_devices(
        NEURON_SETUP,
        """
        m = DynapSim(n, has_rec=True, w_rec=w)
        mesh = neuron_mesh()
        # batch 8: the one-device run drives events through the fan-out table
        x = (rng.random((8, 120, n)) < 0.03).astype(np.float32) * 3
        P = jax.sharding.PartitionSpec
        xs, ref = same(m, x, mesh, P(None, None, "neuron"))
        assert neuron_sharding(xs, n) == (mesh, "neuron", None)
        # unbatched, typed input (AMPA and NMDA), and a rate above the event budget (the
        # dense product takes over in some steps)
        xt = np.zeros((100, n, 4), np.float32)
        xt[..., 0] = (rng.random((100, n)) < 0.3) * 6
        xt[..., 1] = (rng.random((100, n)) < 0.02) * 2
        s = np.asarray(same(m, xt, mesh, P(None, "neuron"), carry=False)[1])
        assert s.sum(-1).max() > event_budget(n)
        print("OK")
        """,
    )


def test_training_with_sharded_neurons():
    on_four_devices(
        NEURON_SETUP,
        """
        m = DynapSim(n, has_rec=True, w_rec=w)
        x = (rng.random((4, 40, n)) < 0.03).astype(np.float32) * 3
        xs = shard_neurons(x, n, neuron_mesh())
        params, static = eqx.partition(m, eqx.is_inexact_array)
        f = jax.jit(lambda p, x: eqx.combine(p, static)(x)[0])
        ref = np.asarray(m(x)[0])
        assert ref.mean() > 0.004  # not vacuous: measured 0.0125
        np.testing.assert_array_equal(np.asarray(f(params, xs)), ref)
        # inside jit: partitioned by the compiler (GSPMD); without jit: the sharded scan;
        # gradients of one device either way, to float32 rounding
        loss = lambda p, x: jnp.mean(eqx.combine(p, static)(x)[0].sum(1) ** 2)
        g0 = jax.grad(loss)(params, jnp.asarray(x))
        assert float(jnp.max(jnp.abs(g0.w_rec))) > 0
        for g1 in (jax.jit(jax.grad(loss))(params, xs), jax.grad(loss)(params, xs)):
            for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g0)):
                s = float(jnp.max(jnp.abs(b))) + 1e-30
                np.testing.assert_allclose(np.asarray(a) / s, np.asarray(b) / s, atol=1e-5)
        print("OK")
        """,
    )


def test_sharded_neurons_with_sparse_weights_across_devices():
    on_four_devices(
        NEURON_SETUP,
        """
        sw = SparseWeights.from_dense(w)
        # neurons of each device listen to neurons of the other devices
        pre, wt = np.asarray(sw.pre), np.asarray(sw.weight)
        block = np.arange(n) // (n // 4)
        remote = (block[pre] != block[:, None]) & (wt != 0)
        assert all(remote[block == d].any() for d in range(4))
        P = jax.sharding.PartitionSpec
        # with mismatch: the per-neuron factors are split with the neurons
        m = DynapSim(n, has_rec=True, w_rec=sw, mismatch=0.1, key=jax.random.PRNGKey(1))
        x = (rng.random((2, 120, n)) < 0.03).astype(np.float32) * 3
        same(m, x, neuron_mesh(), P(None, None, "neuron"))
        # the gather of the CAM entries (used for large networks): each device's rows gather
        # from the spikes of all devices
        mg = m.with_plan_options(recurrence="cam_gather")
        same(mg, x, neuron_mesh(), P(None, None, "neuron"))
        print("OK")
        """,
    )


def test_batch_and_neuron_mesh_gives_the_spikes_of_one_device():
    on_four_devices(
        NEURON_SETUP,
        """
        P = jax.sharding.PartitionSpec
        mesh = neuron_mesh(batch=2)
        assert mesh.axis_names == ("batch", "neuron") and mesh.devices.shape == (2, 2)
        x = (rng.random((4, 120, n)) < 0.03).astype(np.float32) * 3
        for w_rec in (w, SparseWeights.from_dense(w)):
            m = DynapSim(n, has_rec=True, w_rec=w_rec)
            xs, _ = same(m, x, mesh, P("batch", None, "neuron"))
            assert neuron_sharding(xs, n) == (mesh, "neuron", "batch")
        print("OK")
        """,
    )


def test_shard_neurons_needs_a_multiple_of_the_mesh_axis():
    on_four_devices(
        """
        import jax, numpy as np, pytest
        from dynapse2.nn import neuron_mesh, shard_neurons
        x = np.zeros((2, 10, 302), np.float32)
        msg = "n = 302 neurons is not a multiple of the 4 devices of mesh axis 'neuron'"
        with pytest.raises(ValueError, match=msg) as e:
            shard_neurons(x, 302, neuron_mesh())
        assert "multiple of 4 (nearest: 300 or 304)" in str(e.value)
        with pytest.raises(ValueError, match="n = 3 neurons .* multiple of 4 .nearest: 4."):
            shard_neurons(np.zeros((10, 3)), 3, neuron_mesh())
        with pytest.raises(ValueError, match="batch 3 is not a multiple of the 2 devices"):
            shard_neurons(np.zeros((3, 10, 8)), 8, neuron_mesh(batch=2))
        with pytest.raises(ValueError, match="axis = 'chip' is not an axis of the mesh"):
            shard_neurons(np.zeros((10, 8)), 8, neuron_mesh(), "chip")
        with pytest.raises(ValueError, match="input x has shape"):
            shard_neurons(np.zeros((10, 8)), 12, neuron_mesh())
        print("OK")
        """
    )


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
        assert np.asarray(ref).mean() > 0.005  # not vacuous: measured 0.025
        np.testing.assert_array_equal(np.asarray(out), np.asarray(ref))
        np.testing.assert_array_equal(np.asarray(rec["imem"]), np.asarray(ref_rec["imem"]))
        for k in ref_state:
            np.testing.assert_array_equal(np.asarray(state[k]), np.asarray(ref_state[k]))
        # the batched, sharded state carries into the next call
        out2 = m.set_attributes(state)(xs)[0]
        ref2 = m.set_attributes(ref_state)(x)[0]
        np.testing.assert_array_equal(np.asarray(out2), np.asarray(ref2))
        # chip-shaped weights: every device drives its events through the CAM fan-out table
        # as one device does (not the gather: other float32 sums)
        from dynapse2.nn.connectivity import SparseWeights
        from dynapse2.nn.sharding import BatchSharded
        ms = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(w))
        assert ms.plan(xs).recurrence.name == "cam_fanout"
        assert isinstance(ms.plan(xs).sharding, BatchSharded)
        ref_s, _, ref_r = ms(x, record=True)
        assert np.asarray(ref_s).mean() > 0.005  # not vacuous: measured 0.025
        out_s, _, out_r = ms(xs, record=True)
        np.testing.assert_array_equal(np.asarray(out_s), np.asarray(ref_s))
        np.testing.assert_array_equal(np.asarray(out_r["iampa"]), np.asarray(ref_r["iampa"]))
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
    on_four_devices(code)


@pytest.mark.parametrize("kind", ["dense", "sparse"])
@pytest.mark.parametrize("batched", [False, True])
def test_chunked_run_equals_one_run(kind, batched):
    n = 300
    w = chip_like(n, 16, 0)
    m = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(w) if kind == "sparse" else w)
    rng = np.random.default_rng(1)
    x = (rng.random((2, 250, n) if batched else (250, n)) < 0.03).astype(np.float32) * 3
    out, state, rec = m(x, record=True)
    assert np.asarray(out).mean() > 0.005  # not vacuous: measured 0.026
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
