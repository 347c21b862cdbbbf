"""Old vs new: the same networks through two source trees give bit-identical results.

Usage: ``python benchmarks/compare_trees.py OLD_TREE [NEW_TREE]`` (NEW_TREE default: this
checkout; a tree given as a ``.npz`` file is the saved results of an earlier run, e.g. of
``PYTHONPATH=OLD_TREE python benchmarks/compare_trees.py --run old.npz``). Each tree runs
every case in one process (4 host CPU devices, for the sharded cases) and saves spikes,
records, new states and gradients; the script then compares them array by array with
``np.array_equal`` and prints one line per case.

Cases: each recurrence path (dense product, event rows, fan-out table, CAM fan-out, CAM
gather: chosen in the old tree by its module global ``DENSE_LIMIT_BYTES = 0``, in the new one
by ``recurrence="cam_gather"``), no recurrence with typed input and mismatch, the float64
NumPy backend, ExponentialEuler, jit with traced weights, gradients (dense, densified sparse,
event-driven, CAM gather, through the custom reverse mode) and the batch- and neuron-sharded
runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def run_cases(out: str) -> None:
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from dynapse2 import DynapSim
    from dynapse2.nn import batch_mesh, neuron_mesh, shard_batch, shard_neurons
    from dynapse2.nn.connectivity import SparseWeights
    from dynapse2.solvers import ExponentialEuler

    def chip_like(n, fan, seed):
        rng = np.random.default_rng(seed)
        w = np.zeros((n, n), np.float32)
        for post in range(n):
            w[rng.choice(n, fan, replace=False), post] = rng.normal(0, 2.0, fan)
        return w

    def inp(shape, seed=1, gaba=True):
        rng = np.random.default_rng(seed)
        x = (rng.random(shape) < 0.03).astype(np.float32) * 3
        if gaba:
            x[..., ::5] *= -1
        return x

    res: dict[str, np.ndarray] = {}

    def save(name, tree):
        for i, leaf in enumerate(jax.tree.leaves(tree)):
            res[f"{name}/{i}"] = np.asarray(leaf)

    def fwd(name, m, x):
        save(name, m(x, record=True))

    def grad(name, m, x, jit=False):
        params, static = eqx.partition(m, eqx.is_inexact_array)

        def loss(p):
            out, st, rec = eqx.combine(p, static)(x, record=True)
            return jnp.mean((out.sum(axis=1) - 3.0) ** 2) + jnp.mean(rec["vmem"])

        f = jax.value_and_grad(loss)
        save(name, (jax.jit(f) if jit else f)(params))

    w40, w300 = chip_like(40, 16, 0), chip_like(300, 16, 0)
    fwd("dense40 matmul b2", DynapSim(40, has_rec=True, w_rec=w40), inp((2, 200, 40)))
    fwd("dense300 rows unbatched", DynapSim(300, has_rec=True, w_rec=w300), inp((200, 300)))
    fwd("dense300 fanout b8", DynapSim(300, has_rec=True, w_rec=w300), inp((8, 150, 300)))
    sw300 = SparseWeights.from_dense(w300)
    fwd("sparse300 cam_fanout b3", DynapSim(300, has_rec=True, w_rec=sw300), inp((3, 150, 300)))
    fwd(
        "sparse40 matmul",
        DynapSim(40, has_rec=True, w_rec=SparseWeights.from_dense(w40)),
        inp((150, 40)),
    )
    xt = np.abs(inp((2, 100, 30, 4)))
    fwd(
        "norec typed mismatch",
        DynapSim(30, mismatch=0.2, key=jax.random.PRNGKey(3), Iw_ahp=2e-9),
        xt,
    )
    fwd("numpy dense40", DynapSim(40, has_rec=True, w_rec=w40, backend="numpy"), inp((2, 100, 40)))
    fwd(
        "expeuler dense300 b8",
        DynapSim(300, has_rec=True, w_rec=w300, solver=ExponentialEuler()),
        inp((8, 100, 300)),
    )
    m300 = DynapSim(300, has_rec=True, w_rec=w300)
    save(
        "jit dense300 b8", eqx.filter_jit(lambda m, x: m(x, record=True))(m300, inp((8, 100, 300)))
    )
    m40 = DynapSim(40, has_rec=True, w_rec=w40, mismatch=0.1, key=jax.random.PRNGKey(0))
    grad("grad dense40", m40, inp((2, 120, 40)))
    grad("grad dense300 b2", m300, inp((2, 120, 300)))
    grad("grad dense300 b8 jit", m300, inp((8, 80, 300)), jit=True)
    grad("grad sparse300", DynapSim(300, has_rec=True, w_rec=sw300), inp((2, 100, 300)))
    grad(
        "grad sparse40",
        DynapSim(40, has_rec=True, w_rec=SparseWeights.from_dense(w40)),
        inp((2, 100, 40)),
    )
    from dynapse2.nn import recurrence

    def gathered(m):
        if hasattr(m, "with_plan_options"):
            return m.with_plan_options(recurrence="cam_gather")
        recurrence.DENSE_LIMIT_BYTES = 0  # the old tree's switch
        return m

    sw = SparseWeights.from_dense(chip_like(41, 16, 2))
    fwd("sparse41 cam_gather b2", gathered(DynapSim(41, has_rec=True, w_rec=sw)), inp((2, 90, 41)))
    grad(
        "grad sparse41 cam_gather", gathered(DynapSim(41, has_rec=True, w_rec=sw)), inp((2, 90, 41))
    )
    if len(jax.devices()) == 4:
        x = inp((8, 100, 300))
        fwd("batch sharded dense300", m300, shard_batch(x, batch_mesh()))
        fwd(
            "batch sharded sparse300",
            DynapSim(300, has_rec=True, w_rec=sw300),
            shard_batch(x, batch_mesh()),
        )
        w320 = chip_like(320, 16, 0)
        x = inp((8, 100, 320))
        for name, w in (("dense", w320), ("sparse", SparseWeights.from_dense(w320))):
            m = DynapSim(320, has_rec=True, w_rec=w)
            fwd(f"neuron sharded {name}320", m, shard_neurons(x, 320, neuron_mesh()))
            fwd(f"2x2 sharded {name}320", m, shard_neurons(x, 320, neuron_mesh(batch=2)))
    np.savez(out, **res)


def main() -> None:
    if sys.argv[1] == "--run":
        run_cases(sys.argv[2])
        return
    trees = [Path(sys.argv[1]).resolve(), Path(sys.argv[2] if len(sys.argv) > 2 else ".").resolve()]
    outs = []
    with tempfile.TemporaryDirectory() as d:
        for i, tree in enumerate(trees):
            if tree.suffix == ".npz":
                outs.append(dict(np.load(tree)))
                continue
            out = str(Path(d) / f"{i}.npz")
            env = {
                **os.environ,
                "PYTHONPATH": str(tree),
                "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
            }
            subprocess.run([sys.executable, __file__, "--run", out], env=env, check=True, cwd=tree)
            outs.append(dict(np.load(out)))
    a, b = outs
    assert set(a) == set(b), sorted(set(a) ^ set(b))
    cases: dict[str, list[bool]] = {}
    for k in sorted(a):
        cases.setdefault(k.split("/")[0], []).append(bool(np.array_equal(a[k], b[k])))
    bad = 0
    for name, same in cases.items():
        ok = all(same)
        bad += not ok
        print(f"{'identical' if ok else 'DIFFERENT':<10} {name} ({sum(same)}/{len(same)} arrays)")
    print(f"{len(cases) - bad} of {len(cases)} cases bit-identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
