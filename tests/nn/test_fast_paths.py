"""The fast simulation paths give the same network as the references.

- the fused step (physics.fused) equals the literal step (physics.step) in float64;
- event-driven recurrence, and chip-shaped sparse weights, give spikes identical to the
  float64 NumPy reference and to the dense form, and gradients of the dense product;
- leaving out synapse types that cannot move is exact.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2 import DynapSim
from dynapse2.nn import backends, products
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.plan import EVENT_MIN_NEURONS, FANOUT_MIN_BATCH
from dynapse2.nn.recurrence import CamFanout, FanoutTable, Matmul, Rows
from dynapse2.physics import constants as K
from dynapse2.physics.fused import FusedState, prepare, step_fused
from dynapse2.physics.step import NUMPY_OPS, State, circuit, step


def chip_like(n, fan, seed, scale=2.0):
    """Signed (n, n) weights with ``fan`` random inputs per neuron."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n), np.float32)
    for post in range(n):
        w[rng.choice(n, fan, replace=False), post] = rng.normal(0, scale, fan)
    return w


@pytest.mark.parametrize("model", ["linear", "full"])
def test_fused_step_equals_the_reference_step_in_float64(model):
    rng = np.random.default_rng(0)
    n = 50
    m = DynapSim(n, Iw_ahp=2e-9, mismatch=0.2, key=jax.random.PRNGKey(1))
    vals = {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()}
    c = circuit(np, vals, m.kappa, m.Ut, m.Vth)
    s = State(
        imem=10 ** rng.uniform(-12.3, -6.9, n),
        isyn=10 ** rng.uniform(-12.3, -7, (n, 4)),
        iahp=10 ** rng.uniform(-12.3, -8, n),
        timer=rng.choice([0.0, 5e-4], n),
        spikes=(rng.random(n) < 0.3).astype(float),
    )
    x = rng.random((n, 4)) * (rng.random((n, 4)) < 0.5)
    kw = dict(kappa=m.kappa, io=m.Io, synapse_model=model)
    ref = step(NUMPY_OPS, c, s, x, m.dt, **kw)
    types = (0, 1, 2, 3)
    fs = FusedState(s.imem, tuple(s.isyn[:, t] for t in types), s.iahp, s.timer, s.spikes)
    p = prepare(np, c, m.dt, types)
    got = step_fused(NUMPY_OPS, p, fs, tuple(x[:, t] for t in types), m.dt, types=types, **kw)
    np.testing.assert_allclose(got.imem, ref.imem, rtol=1e-12)
    np.testing.assert_allclose(np.stack(got.isyn, -1), ref.isyn, rtol=1e-12)
    np.testing.assert_allclose(got.iahp, ref.iahp, rtol=1e-12)
    np.testing.assert_array_equal(got.spikes, ref.spikes)
    np.testing.assert_array_equal(got.timer, ref.timer)


def net_input(T, n, b=None, seed=1):
    rng = np.random.default_rng(seed)
    shape = (T, n) if b is None else (b, T, n)
    return (rng.random(shape) < 0.02).astype(np.float32) * 3


@pytest.mark.parametrize("batch", [None, 3, FANOUT_MIN_BATCH])  # rows; fan-out table
def test_event_driven_recurrence_matches_the_float64_reference(batch):
    n = EVENT_MIN_NEURONS  # event-driven from here on
    m = DynapSim(n, has_rec=True, w_rec=chip_like(n, 32, 0))
    x = net_input(300, n, batch)
    expect = FanoutTable if batch == FANOUT_MIN_BATCH else Rows
    assert type(m.plan(x.shape).recurrence) is expect
    out_j = np.asarray(m(x)[0])
    out_n = np.asarray(m.with_backend("numpy")(x)[0])
    # tens of Hz: many spikes, recurrence matters (measured 0.028 for every batch)
    assert out_n.mean() > 0.005
    np.testing.assert_array_equal(out_j, out_n)


def test_event_product_falls_back_to_dense_and_has_the_dense_gradient():
    rng = np.random.default_rng(0)
    w = jnp.asarray(rng.normal(size=(300, 40)), jnp.float32)
    for density in (0.02, 0.5):  # under and over the budget of 16
        s = jnp.asarray(rng.random((2, 300)) < density, jnp.float32)
        np.testing.assert_allclose(products.event_product(s, w, 16), s @ w, rtol=1e-5, atol=1e-5)

        def f(s, w, fn):
            return jnp.sum(jnp.sin(fn(s, w)))

        ge = jax.grad(f, argnums=(0, 1))(s, w, lambda s, w: products.event_product(s, w, 16))
        gd = jax.grad(f, argnums=(0, 1))(s, w, lambda s, w: s @ w)
        for a, b in zip(ge, gd, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fanout_product_is_the_event_product_bit_for_bit_with_the_dense_gradient():
    rng = np.random.default_rng(0)
    w = np.where(rng.random((300, 80)) < 0.1, rng.normal(size=(300, 80)), 0).astype(np.float32)
    w = jnp.asarray(w)
    width = int(np.count_nonzero(np.asarray(w), axis=1).max())
    cols = jnp.asarray(products.fanout_table(w, width))
    vals = jnp.take_along_axis(w, cols, axis=1)
    fan = lambda s, w: products.fanout_product(s, w, cols, vals, 16)  # noqa: E731
    for density in (0.02, 0.5):  # under and over the budget of 16
        s = jnp.asarray(rng.random((2, 300)) < density, jnp.float32)
        np.testing.assert_array_equal(fan(s, w), products.event_product(s, w, 16))

        def f(s, w, fn):
            return jnp.sum(jnp.sin(fn(s, w)))

        ge = jax.grad(f, argnums=(0, 1))(s, w, fan)
        gd = jax.grad(f, argnums=(0, 1))(s, w, lambda s, w: s @ w)
        for a, b in zip(ge, gd, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_fanout_table_only_for_concrete_sparse_enough_weights():
    n = EVENT_MIN_NEURONS
    w = chip_like(n, 16, 0)
    m = DynapSim(n, has_rec=True, w_rec=w)
    cols = FanoutTable().table(m.sim_params())
    # type-major (n, 2n): AMPA columns 0..n-1 hold the positive weights, GABA n..2n-1 the
    # negative ones; each row's table lists its nonzero columns first, then distinct zeros
    tm = np.concatenate([np.maximum(w, 0), np.maximum(-w, 0)], axis=1)
    width = int(max(np.count_nonzero(w, axis=1)))  # one type per entry: AMPA or GABA
    assert cols.shape == (n, width) and cols.dtype == np.int32
    for row, c in zip(tm, cols, strict=True):
        nz = np.flatnonzero(row)
        np.testing.assert_array_equal(c[: len(nz)], nz)
        assert len(set(c.tolist())) == width and not row[c[len(nz) :]].any()
    assert FanoutTable().table(m.sim_params()) is cols  # cached per weight array
    dense = DynapSim(n, has_rec=True, w_rec=np.ones((n, n))).sim_params()
    assert FanoutTable().table(dense) is None  # every row nonzero: the table would not pay
    # under 256 neurons the plan keeps the dense product, whatever the batch
    small = DynapSim(40, has_rec=True, w_rec=chip_like(40, 8, 0))
    assert small.plan((FANOUT_MIN_BATCH, 10, 40)).recurrence == Matmul()
    params, static = eqx.partition(m, eqx.is_inexact_array)
    seen = []
    jax.jit(lambda p: seen.append(FanoutTable().table(eqx.combine(p, static).sim_params())))(params)
    assert seen == [None]  # traced weights: no host table (the strategy adds rows)


def test_weights_closed_over_in_jit_give_no_sort_of_the_matrix():
    # the fan-out table is built on the host: with the module closed over as a constant, a
    # top_k of the whole (n, 2n) matrix inside the trace made XLA constant-fold a sort of it
    # (about a minute of compilation per chip)
    n = EVENT_MIN_NEURONS
    m = DynapSim(n, has_rec=True, w_rec=chip_like(n, 16, 0))
    x = jnp.asarray(net_input(20, n, FANOUT_MIN_BATCH))
    f = jax.jit(lambda x: m(x)[0])
    hlo = f.lower(x).as_text()
    top_k = [line for line in hlo.splitlines() if "top_k" in line]
    assert top_k and not any(f"{n}x{2 * n}" in line for line in top_k)  # spikes only
    np.testing.assert_array_equal(f(x), m(x)[0])


def test_fanout_gradient_for_the_input_equals_jax_reverse_mode():
    n = EVENT_MIN_NEURONS
    m = DynapSim(n, has_rec=True, w_rec=chip_like(n, 16, 0), Idc=2e-12)
    m = m.with_plan_options(recurrence="fanout")  # batch 2: chosen, not the default rows
    x = jnp.asarray(net_input(150, n, 2, seed=4))
    assert m.plan(x.shape).recurrence == FanoutTable()

    def loss(x, scan):
        spikes, state, _ = m.with_plan_options(scan=scan)(x)
        return jnp.mean((spikes.sum(axis=1) - 3.0) ** 2) + jnp.sum(state["imem"]) * 1e8

    got, want = jax.grad(loss)(x, "custom_grad"), jax.grad(loss)(x, "plain")
    assert float(jnp.abs(want).sum()) > 0
    scale = float(jnp.max(jnp.abs(want)))
    np.testing.assert_allclose(np.asarray(got) / scale, np.asarray(want) / scale, atol=2e-5)
    np.testing.assert_array_equal(m(x)[0], m.with_plan_options(recurrence="rows")(x)[0])


def test_sparse_weights_round_trip_and_validation():
    w = chip_like(40, 8, 3)
    sw = SparseWeights.from_dense(w, fan_in=8)
    assert sw.pre.shape == sw.weight.shape == sw.syn_type.shape == (40, 8)
    assert sw.pre.dtype == jnp.int32 and sw.syn_type.dtype == jnp.int8
    dense = np.zeros((40, 40, 4), np.float32)
    dense[..., 0], dense[..., 2] = np.maximum(w, 0), np.maximum(-w, 0)
    np.testing.assert_array_equal(sw.to_dense(), dense)
    np.testing.assert_array_equal(SparseWeights.from_dense(dense, fan_in=8).to_dense(), dense)
    with pytest.raises(ValueError, match="at most fan_in = 4"):
        SparseWeights.from_dense(w, fan_in=4)
    with pytest.raises(ValueError, match="syn_type"):
        SparseWeights(sw.pre, sw.syn_type + 4, sw.weight)
    with pytest.raises(ValueError, match="postsynaptic"):
        DynapSim(41, has_rec=True, w_rec=sw)


@pytest.mark.parametrize(
    "n, batch, recurrence",
    [(40, None, "auto"), (40, 2, "auto"), (300, None, "cam_gather"), (300, None, "cam_fanout")],
)
def test_sparse_weights_give_the_spikes_of_the_dense_form(n, batch, recurrence):
    # (300, ...): the O(n x 64) CAM gather and the CAM fan-out, chosen by argument
    w = chip_like(n, min(n // 2, 64), 5)
    x = net_input(300, n, batch, seed=2)
    dense = DynapSim(n, has_rec=True, w_rec=w)
    sparse = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(w))
    sparse = sparse.with_plan_options(recurrence=recurrence)
    assert sparse.plan(x.shape).recurrence.name == ("matmul" if n == 40 else recurrence)
    assert sparse.rec_types == dense.rec_types == (0, 2)
    out_d, out_s = np.asarray(dense(x)[0]), np.asarray(sparse(x)[0])
    assert out_d.mean() > 0.005  # not vacuous: measured 0.028 (n = 40), 0.033 (n = 300)
    np.testing.assert_array_equal(out_s, out_d)
    np.testing.assert_array_equal(out_s, np.asarray(sparse.with_backend("numpy")(x)[0]))


@pytest.mark.parametrize("recurrence", ["auto", "cam_gather"])  # densified; the CAM gather
def test_sparse_weights_are_trainable(recurrence):
    n = 32
    w = chip_like(n, 8, 7)
    m = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(w, fan_in=8))
    m = m.with_plan_options(recurrence=recurrence)
    assert m.plan((2, 200, n)).recurrence.name == ("matmul" if recurrence == "auto" else recurrence)
    md = DynapSim(n, has_rec=True, w_rec=w)
    x = jnp.asarray(net_input(200, n, 2, seed=4))

    def loss(m):
        return jnp.mean((m(x)[0].sum(axis=1) - 5.0) ** 2)

    params, static = eqx.partition(m, eqx.is_inexact_array)
    g = jax.grad(lambda p: loss(eqx.combine(p, static)))(params).w_rec.weight
    assert g.shape == (n, 8) and np.isfinite(g).all() and np.abs(g).max() > 0
    # the same gradient as the dense form, read at each entry
    gd = eqx.filter_grad(loss)(md).w_rec
    sw = m.w_rec
    post = np.arange(n)[:, None]
    expect = np.asarray(gd)[np.asarray(sw.pre), post, np.asarray(sw.syn_type)]
    used = np.asarray(sw.weight) != 0
    np.testing.assert_allclose(np.asarray(g)[used], expect[used], rtol=2e-3, atol=1e-6)


def test_unused_synapse_types_are_left_out_only_while_at_rest():
    m = DynapSim(6)
    x = np.zeros((50, 6), np.float32)
    x[::7] = 2.0  # signed: AMPA only
    assert backends.input_types(x, typed=False) == (0,)
    assert backends.integrated_types(m.sim_params(), (0,)) == (0,)
    # NMDA charged by an earlier typed call: it must keep decaying in the next call
    xt = np.zeros((5, 6, 4), np.float32)
    xt[0, :, 1] = 3.0
    _, st, _ = m(xt)
    m2 = m.set_attributes(st)
    assert backends.integrated_types(m2.sim_params(), (0,)) == (0, 1)
    _, _, rec = m2(x, record=True)
    _, _, ref = m2.with_backend("numpy")(x, record=True)
    np.testing.assert_allclose(rec["inmda"], ref["inmda"], rtol=1e-4)
    assert (np.asarray(rec["inmda"])[:, 0] > 10 * K.IO).all()
    np.testing.assert_allclose(rec["ishunt"], K.IO, rtol=1e-6)


def _table_matrix(fan, vals, span):
    """The type-major (n_pre, span) matrix a fan-out table adds (padding columns dropped)."""
    cols, vals = np.asarray(fan.cols), np.asarray(vals)
    out = np.zeros((cols.shape[0], span + cols.shape[1]), np.float32)
    np.add.at(out, (np.arange(cols.shape[0])[:, None], cols), vals)
    assert not out[:, span:].any()  # padding carries no weight
    return out[:, :span]


def test_cam_fanout_table_holds_every_entry_value_by_value():
    rng = np.random.default_rng(5)
    n, fan_in = 12, 6
    pre = rng.integers(0, n, (n, fan_in))
    typ = rng.choice([0, 1, 2], (n, fan_in))  # NMDA (1) is not an active type below
    w = rng.uniform(0.5, 2.0, (n, fan_in)).astype(np.float32)
    pre[3, 1], typ[3, 1] = pre[3, 0], typ[3, 0] = 7, 2  # a repeated (pre, type, post): adds up
    w[4, 2] = 0.0  # a zero entry
    sw = SparseWeights(pre, typ, w)
    types = (0, 2)
    dense = np.asarray(products.type_major(sw.to_dense(), types))  # (n, 2n)
    fan = products.cam_fanout(sw, types, n, max_width=64)
    assert fan.cols.shape[0] == n and len(set(map(tuple, fan.cols))) > 1
    for row in fan.cols:  # distinct columns in each row
        assert len(set(row.tolist())) == len(row)
    vals = products.cam_fanout_values(fan, jnp.asarray(w))
    np.testing.assert_array_equal(_table_matrix(fan, vals, 2 * n), dense)
    # concrete weights: the zero entry is left out; traced (structure only): listed, weight 0
    assert fan.slot[4 * fan_in + 2] == fan.cols.size
    traced = []
    jax.jit(
        lambda v: traced.append(
            products.cam_fanout(eqx.tree_at(lambda s: s.weight, sw, v), types, n, 64)
        )
    )(jnp.asarray(w))
    assert traced[0].slot[4 * fan_in + 2] < traced[0].cols.size
    vals_t = products.cam_fanout_values(traced[0], jnp.asarray(w))
    np.testing.assert_array_equal(_table_matrix(traced[0], vals_t, 2 * n), dense)
    # a presynaptic neuron reaching more pairs than allowed: no table
    assert products.cam_fanout(sw, types, n, max_width=1) is None


@pytest.mark.parametrize("batch", [None, 3])
def test_cam_fanout_spikes_match_the_float64_reference(batch):
    # chip-shaped weights (constant) drive events through their CAM fan-out
    n = EVENT_MIN_NEURONS
    m = DynapSim(n, has_rec=True, w_rec=SparseWeights.from_dense(chip_like(n, 32, 0)))
    assert m.plan((300, n)).recurrence == CamFanout(fallback=Rows())
    assert isinstance(CamFanout().table(m.sim_params()), products.CamTable)
    x = net_input(300, n, batch)
    out_j = np.asarray(m(x)[0])
    out_n = np.asarray(m.with_backend("numpy")(x)[0])
    assert out_n.mean() > 0.005  # not vacuous: measured 0.028 for both batches
    np.testing.assert_array_equal(out_j, out_n)
