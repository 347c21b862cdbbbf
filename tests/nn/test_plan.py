"""The run plan: decided from the declared structure and call only, printable, overridable."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2 import DynapSim
from dynapse2.nn import Linear, Sequential
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.plan import (
    DENSE_LIMIT_BYTES,
    EVENT_MIN_NEURONS,
    FANOUT_MIN_BATCH,
    PlanOptions,
    Structure,
    make_plan,
)
from dynapse2.nn.recurrence import (
    CAM_FANOUT_MAX_WIDTH,
    CamFanout,
    CamGather,
    FanoutTable,
    Matmul,
    Rows,
    cam_cap,
)
from dynapse2.nn.scan import CustomGradScan, PlainScan
from dynapse2.nn.sharding import OneDevice

N = EVENT_MIN_NEURONS


def structure(n=N, weights="dense", options=None, backend="jax", cam_width=10):
    types = () if weights == "none" else (0, 2)
    width = cam_width if weights == "sparse" else None
    return Structure(n, weights, types, backend, options or PlanOptions(), width)


def plan_of(s, shape, traced=None, record=False):
    typed = len(shape) >= 3 and shape[-1] == 4 and shape[-2] == s.n
    batched = len(shape) == (4 if typed else 3)
    return make_plan(s, shape, typed, batched, record, None, traced)


# (structure, input shape, traced) -> the strategy the plan picks
BIG = int((DENSE_LIMIT_BYTES / 8) ** 0.5) + 1  # the smallest n whose (n, 2n) form does not fit
CASES = [
    (structure(weights="none"), (5, N), None, None),
    (structure(n=40), (FANOUT_MIN_BATCH, 5, 40), None, Matmul()),
    (structure(n=40, weights="sparse"), (5, 40), True, Matmul()),
    (structure(), (5, N), None, Rows()),
    (structure(), (FANOUT_MIN_BATCH - 1, 5, N), None, Rows()),
    (structure(), (FANOUT_MIN_BATCH, 5, N), None, FanoutTable()),
    (structure(), (FANOUT_MIN_BATCH, 5, N, 4), False, FanoutTable()),
    (structure(), (FANOUT_MIN_BATCH, 5, N), True, Rows()),  # traced: no host table
    (structure(weights="sparse"), (5, N), None, CamFanout(Rows())),
    (structure(weights="sparse"), (2, 5, N), True, Rows()),  # training: densified
    (structure(n=BIG, weights="sparse"), (5, BIG), None, CamFanout(CamGather())),
    (structure(n=BIG, weights="sparse"), (5, BIG), True, CamFanout(CamGather())),
    # the CAM structure traced (no host table), or wider than the table allows: the fallback
    (structure(weights="sparse", cam_width=None), (5, N), None, Rows()),
    (structure(n=BIG, weights="sparse", cam_width=None), (5, BIG), True, CamGather()),
    (structure(weights="sparse", cam_width=cam_cap(N, 2)), (5, N), None, CamFanout(Rows())),
    (structure(weights="sparse", cam_width=cam_cap(N, 2) + 1), (5, N), None, Rows()),
    (
        structure(n=BIG, weights="sparse", cam_width=CAM_FANOUT_MAX_WIDTH + 1),
        (5, BIG),
        None,
        CamGather(),
    ),  # fmt: skip
    (structure(options=PlanOptions(recurrence="matmul")), (5, N), None, Matmul()),
    (structure(options=PlanOptions(weights="traced")), (8, 5, N), None, Rows()),
    (structure(n=40, options=PlanOptions(recurrence="fanout")), (5, 40), None, FanoutTable()),
    (
        structure(weights="sparse", options=PlanOptions(recurrence="cam_gather")),
        (5, N),
        None,
        CamGather(),
    ),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_plan_follows_the_declared_structure_and_call(case):
    s, shape, traced, want = CASES[case]
    plan = plan_of(s, shape, traced)
    assert plan.recurrence == want
    assert plan.scan == CustomGradScan() and plan.sharding == OneDevice()
    text = str(plan)
    assert f"recurrence: {'none' if want is None else want}" in text
    assert "why: " in text
    # the same declarations give the same plan (no hidden input)
    assert plan_of(s, shape, traced) == plan


def test_the_plan_ignores_the_values_of_weights_and_input():
    rng = np.random.default_rng(0)
    nets = [
        DynapSim(N, has_rec=True, w_rec=w)
        for w in (np.zeros((N, N)), rng.normal(size=(N, N)), np.eye(N)[::-1] * 3)
    ]
    for x in (np.zeros((8, 5, N)), -np.ones((8, 5, N)), rng.random((8, 5, N))):
        plans = {str(m.plan(x)) for m in nets} | {str(m.plan(x.shape)) for m in nets}
        assert len(plans) == 1
        assert nets[0].plan(x).recurrence == FanoutTable()


def test_chip_shaped_weights_are_planned_from_their_widest_fanout():
    rng = np.random.default_rng(2)
    pre = np.stack([rng.choice(N, 64, replace=False) for _ in range(N)])
    typ = np.zeros((N, 64), int)
    typ[:, 32:] = 2  # AMPA and GABA: cam_cap(N, 2) = 128 pairs
    reach = np.bincount(pre[:, :32].ravel(), minlength=N)
    reach += np.bincount(pre[:, 32:].ravel(), minlength=N)
    m = DynapSim(N, has_rec=True, w_rec=SparseWeights(pre, typ, rng.uniform(0.5, 2, (N, 64))))
    plan = m.plan((2, 5, N))
    assert plan.recurrence == CamFanout(Rows())
    assert f"widest fan-out {reach.max()} (type, post) pairs (of the entries in use) <= 128" in (
        str(plan)
    )
    # padding slots (weight 0, all listening to neuron 0) are not in use: one entry each
    padded = DynapSim(N, has_rec=True, w_rec=SparseWeights.from_dense(np.eye(N)))
    assert "widest fan-out 1 (type, post) pairs" in str(padded.plan((2, 5, N)))
    # neuron 0 reaching every neuron through AMPA and GABA: 2 N > 128 pairs; the plan says so
    # and runs the fallback (before, the table was refused inside the call, the plan unaware)
    wide_typ = np.zeros((N, 64), int)
    wide_typ[:, 1] = 2
    wide = SparseWeights(np.zeros((N, 64), int), wide_typ, np.ones((N, 64)))
    plan = DynapSim(N, has_rec=True, w_rec=wide).plan((2, 5, N))
    assert plan.recurrence == Rows()
    assert f"widest fan-out {2 * N} (type, post) pairs (of the entries in use) > 128" in str(plan)


def test_the_plan_prints_the_types_it_reads_from_values():
    w = np.zeros((N, N, 4))
    w[0, 1, 1] = 1.0  # NMDA only: rec_types (1,), fixed at construction
    m = DynapSim(N, has_rec=True, w_rec=w)
    assert m.rec_types == (1,)
    text = str(m.plan((5, N)))
    assert "types:      recurrent NMDA, those the input drives (AMPA if any x > 0, GABA if any" in (
        text
    )
    assert "those the input drives (its nonzero columns)" in str(m.plan((5, N, 4)))
    assert "recurrent none" in str(DynapSim(N).plan((5, N)))


def test_a_call_runs_its_plan_and_the_strategies_give_the_same_spikes():
    rng = np.random.default_rng(1)
    w = np.where(rng.random((N, N)) < 0.06, rng.normal(0, 2, (N, N)), 0).astype(np.float32)
    x = (rng.random((2, 120, N)) < 0.03).astype(np.float32) * 3
    base = DynapSim(N, has_rec=True, w_rec=w)
    ref = np.asarray(base.with_backend("numpy")(x)[0])
    assert ref.mean() > 0.005  # not vacuous: measured 0.025
    for name in ("matmul", "rows", "fanout"):
        m = base.with_plan_options(recurrence=name)
        assert m.plan(x.shape).recurrence.name == name
        np.testing.assert_array_equal(np.asarray(m(x)[0]), ref, err_msg=name)


def test_declared_weights_and_overrides_are_checked():
    dense = DynapSim(N, has_rec=True, w_rec=np.eye(N))
    with pytest.raises(ValueError, match="recurrence = 'cam_gather' needs chip-shaped"):
        dense.with_plan_options(recurrence="cam_gather").plan((5, N))
    with pytest.raises(ValueError, match=r"PlanOptions: recurrence = 'fast' must be one of"):
        PlanOptions(recurrence="fast")
    with pytest.raises(ValueError, match=r"PlanOptions: scan = 'x' must be one of"):
        PlanOptions(scan="x")
    with pytest.raises(TypeError, match=r"with_plan_options: unknown option\(s\) \['speed'\]"):
        dense.with_plan_options(speed=1)
    with pytest.raises(TypeError, match="plan_options = 'rows' must be a PlanOptions"):
        DynapSim(4, plan_options="rows")
    # weights declared constant but traced (inside jit): a clear error, not another path
    m = dense.with_plan_options(weights="constant")
    params, static = eqx.partition(m, eqx.is_inexact_array)
    with pytest.raises(ValueError, match="weights = 'constant' declares .* traced here"):
        jax.jit(lambda p: eqx.combine(p, static)(jnp.zeros((5, N)))[0])(params)
    # declared traced: the plan for training, also outside jit
    sparse = DynapSim(N, has_rec=True, w_rec=SparseWeights.from_dense(np.eye(N)))
    assert sparse.plan((2, 5, N)).recurrence == CamFanout(Rows())
    assert sparse.with_plan_options(weights="traced").plan((2, 5, N)).recurrence == Rows()
    assert sparse.with_plan_options(scan="plain").plan((5, N)).scan == PlainScan()


def test_plan_text_names_the_strategies_and_the_numpy_backend():
    m = DynapSim(N, has_rec=True, w_rec=np.eye(N))
    text = str(m.plan((FANOUT_MIN_BATCH, 10, N), record=True))
    assert text.splitlines()[0] == (
        f"DynapSim plan for input ({FANOUT_MIN_BATCH}, 10, {N}): signed: + AMPA, - GABA, "
        f"batched ({FANOUT_MIN_BATCH}), record=True"
    )
    assert f"{N} >= EVENT_MIN_NEURONS" in text and "weights constant" in text
    assert "sharding:   one device" in text and "scan:       custom_grad" in text
    assert "backend:    numpy" in str(m.with_backend("numpy").plan((10, N)))


def test_sequential_plan_lists_each_layer_with_its_input_shape():
    k = jax.random.PRNGKey(0)
    net = Sequential(
        Linear((10, N), key=k), DynapSim(N, has_rec=True), Linear((N, 3), key=k), DynapSim(3)
    )
    plan = net.plan((FANOUT_MIN_BATCH, 20, 10))
    names = [name for name, _ in plan.layers]
    assert names == ["0_Linear", "1_DynapSim", "2_Linear", "3_DynapSim"]
    assert plan["1_DynapSim"].shape == (FANOUT_MIN_BATCH, 20, N)
    assert plan["1_DynapSim"].recurrence == FanoutTable()
    assert plan["3_DynapSim"].shape == (FANOUT_MIN_BATCH, 20, 3)
    assert plan["3_DynapSim"].recurrence is None
    assert plan.output_shape == (FANOUT_MIN_BATCH, 20, 3)
    text = str(plan).splitlines()
    assert (
        text[0] == "0_Linear: Linear on input (8, 20, 10): no strategies to choose (dense product)"
    )
    assert text[1].startswith("1_DynapSim: DynapSim plan for input (8, 20, 256)")
