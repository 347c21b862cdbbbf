"""Simulation speed of DynapSim: one chip, 16 chips, and Rockpool 3.1.0 when available.

Usage: ``PYTHONPATH=. python benchmarks/simulate.py [--quick] [--sweep] [--no-rockpool] [--long S]``
or ``python benchmarks/simulate.py --against OLD_TREE [--rounds R] [--only TEXT] [--repeat K]``
to time the rows of this checkout (those whose label contains TEXT) against another source
tree (e.g. ``git worktree add /tmp/old <commit>``) in the same run: each round runs every
row once per tree, in alternating order, each in a fresh process; the table gives per tree
the min over rounds of each process's min-of-repeats wall time, the spread (max - min) over
rounds, and new / old of the mins.

Workload: n neurons (1024 = one chip), recurrent, each neuron with 64 random signed inputs
(N(0, 2) weights: positive -> AMPA, negative -> GABA), Poisson input of 20 Hz x 3 units per
neuron, dt = 1 ms, T = 1000 steps (1 s simulated). Rows:

- wall: time of one call after compilation (min over repeats); compile: first call minus wall;
- RTF: simulated time / wall (real-time factor); neuron-steps/s: batch x n x T / wall;
- peak: the growth of the process's peak resident memory (``ru_maxrss``) from just before the
  first call to the end of the case, each case in a fresh process (includes the compiled
  program, XLA buffers and outputs; not the input, built before);
- "same, N host devices": the batch split across one host CPU device per core
  (``XLA_FLAGS=--xla_force_host_platform_device_count=N``, :func:`dynapse2.nn.shard_batch`).
  XLA's CPU backend runs each element-wise loop on one core; with one device per core, each
  core runs its share of the batch;
- train: one jitted ``value_and_grad`` of a spike-count loss ((count - 20)^2 averaged) over
  every floating-point leaf of the module, plus an optax Adam update.

Rockpool 3.1.0 (one merged synapse per neuron, dense (n, n) weights) gets the same input
and weights in a separate process (``ROCKPOOL_PYTHON``, default: this Python if it imports
rockpool, else ``/work/venv-rockpool/bin/python``); "call" is ``mod(x)`` as users call it,
"jit" is ``jax.jit`` with the module closed over (its fastest form).
``--long S`` (default 100) simulates S seconds of 16 chips at batch 1 in 1 s chunks with
``dynapse2.nn.evolve_chunked`` (input made chunk by chunk) and prints the peak memory after
S/10 and S seconds. ``--sweep`` times a short grid of neurons x batch x connectivity and saves
``benchmarks/scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FAN_IN, RATE_HZ, DT = 64, 20.0, 1e-3


def network(n: int, seed: int = 0) -> np.ndarray:
    """Signed (n, n) weights, 64 random inputs per postsynaptic neuron (column)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((n, n), np.float32)
    for post in range(n):
        w[rng.choice(n, min(FAN_IN, n), replace=False), post] = rng.normal(0, 2.0, min(FAN_IN, n))
    return w


def sparse_network(n: int, seed: int = 0):
    """The same kind of network built directly as SparseWeights (no n x n array)."""
    from dynapse2.nn.connectivity import SparseWeights

    rng = np.random.default_rng(seed)
    pre = np.stack([rng.choice(n, FAN_IN, replace=False) for _ in range(n)]).astype(np.int32)
    w = rng.normal(0, 2.0, (n, FAN_IN)).astype(np.float32)
    return SparseWeights(pre, np.where(w > 0, 0, 2).astype(np.int8), np.abs(w))


def spikes_in(batch: int, n: int, steps: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((batch, steps, n)) < RATE_HZ * DT).astype(np.float32) * 3.0


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case(
    n: int, batch: int, steps: int, conn: str, mode: str, repeat: int, devices: int = 1
) -> dict:
    """Run one case in this process; returns timings (s) and peak memory growth (MiB).
    ``devices`` > 1: the batch is split across that many host CPU devices (the process was
    started with ``--xla_force_host_platform_device_count``, see :func:`in_subprocess`)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    from dynapse2 import DynapSim
    from dynapse2.nn import shard_batch

    w = sparse_network(n) if conn == "sparse" else network(n)
    m = DynapSim(n, has_rec=True, w_rec=w, dt=DT)
    x = jnp.asarray(spikes_in(batch, n, steps))
    if devices > 1:
        assert len(jax.devices()) == devices, jax.devices()
        x = shard_batch(x)
    if mode == "forward":
        run = lambda: m(x)[0]  # noqa: E731
    else:
        params, static = eqx.partition(m, eqx.is_inexact_array)
        opt = optax.adam(1e-3)
        state = opt.init(params)

        def loss(p, x):
            out = eqx.combine(p, static)(x)[0]
            return jnp.mean((out.sum(axis=1) - 20.0) ** 2)

        @jax.jit
        def step(p, s, x):
            v, g = jax.value_and_grad(loss)(p, x)
            upd, s = opt.update(g, s, p)
            return optax.apply_updates(p, upd), s, v

        run = lambda: step(params, state, x)  # noqa: E731
    base = rss_mib()
    t0 = time.perf_counter()
    out = jax.block_until_ready(run())
    first = time.perf_counter() - t0
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(run())
        ts.append(time.perf_counter() - t0)
    wall = min(ts)
    rate = float(np.asarray(out).mean() / DT) if mode == "forward" else float("nan")
    return {
        "wall": wall,
        "compile": max(first - wall, 0.0),
        "peak_mib": rss_mib() - base,
        "rate_hz": rate,
    }


def long_run(n: int, seconds: int, chunk_steps: int = 1000) -> dict:
    """``seconds`` simulated of n neurons (SparseWeights, batch 1) with
    :func:`dynapse2.nn.evolve_chunked`, the input made chunk by chunk; peak memory growth
    after 1/10 of the run and at its end, wall time and spike count."""
    import jax

    from dynapse2 import DynapSim
    from dynapse2.nn import evolve_chunked

    m = DynapSim(n, has_rec=True, w_rec=sparse_network(n), dt=DT)
    chunks = int(round(seconds / (chunk_steps * DT)))
    marks: dict = {}
    spikes = [0.0]
    base = rss_mib()

    def inputs():
        for i in range(chunks):
            yield spikes_in(1, n, chunk_steps, seed=100 + i)
            if i + 1 == max(chunks // 10, 1):
                marks["peak_mib_tenth"] = rss_mib() - base
                marks["wall_tenth"] = time.perf_counter() - t0

    def count(out, _):
        spikes[0] += float(jax.numpy.sum(out))

    t0 = time.perf_counter()
    evolve_chunked(m, inputs(), keep=False, on_chunk=count)
    wall = time.perf_counter() - t0
    return {
        **marks,
        "wall": wall,
        "peak_mib": rss_mib() - base,
        "rate_hz": spikes[0] / (n * chunks * chunk_steps * DT),
    }


def in_subprocess(*args, devices: int = 1, tree: Path | None = None) -> dict:
    """Run a case in a fresh process that imports ``dynapse2`` from ``tree`` (default: this
    checkout)."""
    cmd = [sys.executable, __file__, "--case", json.dumps([*args, devices])]
    env = {**os.environ, "PYTHONPATH": str(tree or HERE.parent)}
    if devices > 1:
        flag = f"--xla_force_host_platform_device_count={devices}"
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} {flag}".strip()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def rockpool_python() -> str | None:
    if os.environ.get("ROCKPOOL_PYTHON"):
        return os.environ["ROCKPOOL_PYTHON"]
    try:
        import rockpool  # noqa: F401

        return sys.executable
    except ImportError:
        alt = Path("/work/venv-rockpool/bin/python")
        return str(alt) if alt.exists() else None


def rockpool(n: int, steps: int, repeat: int) -> dict | None:
    py = rockpool_python()
    if py is None:
        return None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "workload.npz"
        np.savez(
            path,
            w_rec=network(n),
            x_b1=spikes_in(1, n, steps),
            x_b32=spikes_in(32, n, steps),
            train_x_b1=False,
            train_x_b32=True,
            repeat=repeat,
            dt=DT,
        )
        env = {**os.environ, "PIP_NO_INDEX": "1"}
        res = subprocess.run(
            [py, str(HERE / "rockpool_dynapsim.py"), str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
    if res.returncode:
        print("Rockpool failed:", res.stderr[-1000:])
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])


def row(label: str, n: int, batch: int, steps: int, r: dict, ref: float | None) -> str:
    sim = steps * DT
    ratio = f"{ref / r['wall']:8.2f}x" if ref else "        -"
    return (
        f"{label:<34} {r['wall'] * 1e3:9.1f} {r['compile']:8.2f} {sim / r['wall']:8.1f} "
        f"{batch * n * steps / r['wall']:10.3g} {r['peak_mib']:8.0f} {ratio}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case")
    ap.add_argument("--quick", action="store_true", help="T = 200 steps, 1 repeat")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--no-rockpool", action="store_true")
    ap.add_argument(
        "--long",
        type=int,
        default=100,
        help="seconds simulated by the chunked 16-chip run (0: skip)",
    )
    ap.add_argument("--against", help="another source tree to time the rows against")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --against (default 3)")
    ap.add_argument("--only", help="with --against: only the rows whose label contains this")
    ap.add_argument("--repeat", type=int, default=3, help="calls per process (default 3)")
    a = ap.parse_args()
    if a.against:
        steps, repeat = (200, 1) if a.quick else (1000, a.repeat)
        compare(Path(a.against).resolve(), a.rounds, steps, repeat, a.only)
        return
    if a.case:
        args = json.loads(a.case)
        print(json.dumps(long_run(*args[1:-1]) if args[0] == "long" else case(*args)))
        return
    steps, repeat = (200, 1) if a.quick else (1000, 3)
    rp = None if a.no_rockpool else rockpool(1024, steps, repeat)
    print(f"DynapSim, dt = 1 ms, {steps} steps ({steps * DT:g} s simulated), 64 inputs/neuron")
    print(
        f"{'case':<34} {'wall ms':>9} {'compile':>8} {'RTF':>8} {'n-steps/s':>10} "
        f"{'peak MiB':>8} {'vs RP jit':>9}"
    )
    cores = len(os.sched_getaffinity(0))
    for label, n, b, conn, mode, rk, rv, dev in ROWS(cores):
        rep = 1 if n > 1024 else repeat
        r = in_subprocess(n, b, steps, conn, mode, rep, devices=dev)
        ref = rp[rk][rv] if (rp and rk) else None
        print(row(label, n, b, steps, r, ref), flush=True)
    if a.long:
        r = in_subprocess("long", 16384, a.long)
        print(
            f"16 chips, batch 1, sparse, {a.long} s in 1 s chunks (evolve_chunked): "
            f"{r['wall']:.0f} s wall ({r['wall'] / a.long:.2f} s per simulated s), "
            f"{r['rate_hz']:.1f} Hz; peak +{r['peak_mib_tenth']:.0f} MiB after {a.long // 10} s, "
            f"+{r['peak_mib']:.0f} MiB after {a.long} s",
            flush=True,
        )
    if rp is None:
        print("Rockpool: not run" if a.no_rockpool else "Rockpool: not installed")
    else:
        print(f"Rockpool {rp['version']} DynapSim (same input and weights):")
        for key, b in (("x_b1", 1), ("x_b32", 32)):
            for k, v in rp[key].items():
                print(f"  batch {b:>2} {k:<6} {v * 1e3:9.1f} ms  RTF {steps * DT / v:7.1f}")
    if a.sweep:
        sweep(steps=200)


def ROWS(cores: int) -> list[tuple]:
    """The table's rows: (label, n, batch, connectivity, mode, Rockpool input, Rockpool
    variant, devices); the host-device row only with 2+ cores dividing the batch."""
    rows = [
        ("1 chip, batch 1, dense", 1024, 1, "dense", "forward", "x_b1", "jit", 1),
        ("1 chip, batch 1, sparse", 1024, 1, "sparse", "forward", "x_b1", "jit", 1),
        ("1 chip, batch 32, dense", 1024, 32, "dense", "forward", "x_b32", "jit", 1),
        (f"  same, {cores} host devices", 1024, 32, "dense", "forward", "x_b32", "jit", cores),
        ("1 chip, batch 32, train step", 1024, 32, "dense", "train", "x_b32", "train", 1),
        ("16 chips, batch 1, sparse", 16384, 1, "sparse", "forward", None, None, 1),
    ]
    return [r for r in rows if r[-1] == 1 or (cores >= 2 and r[2] % r[-1] == 0)]


def compare(old: Path, rounds: int, steps: int, repeat: int, only: str | None = None) -> None:
    """Time every row (or those whose label contains ``only``) in this checkout and in the
    tree ``old``, interleaved (see the module docstring), and print the table."""
    trees = {"old": old, "new": HERE.parent}
    rows = [r for r in ROWS(len(os.sched_getaffinity(0))) if only is None or only in r[0]]
    walls: dict[tuple[str, str], list[float]] = {}
    for r in range(rounds):
        order = list(trees) if r % 2 == 0 else list(trees)[::-1]
        for label, n, b, conn, mode, *_, dev in rows:
            for name in order:
                rep = 1 if n > 1024 else repeat
                res = in_subprocess(n, b, steps, conn, mode, rep, devices=dev, tree=trees[name])
                walls.setdefault((label, name), []).append(res["wall"])
        print(f"\nafter round {r + 1} of {rounds}:", flush=True)
        _compare_table(rows, walls, old, steps, r + 1)


def _compare_table(rows: list, walls: dict, old: Path, steps: int, rounds: int) -> None:
    print(f"old: {old}\nnew: {HERE.parent}\n{steps} steps, {rounds} rounds (ms: min, spread)")
    print(f"{'case':<34} {'old ms':>16} {'new ms':>16} {'new/old':>8}")
    for label, *_ in rows:
        o, w = np.asarray(walls[label, "old"]) * 1e3, np.asarray(walls[label, "new"]) * 1e3
        cell = lambda a: f"{a.min():8.1f} ±{np.ptp(a):6.1f}"  # noqa: E731
        print(f"{label:<34} {cell(o):>16} {cell(w):>16} {w.min() / o.min():8.3f}", flush=True)


def sweep(steps: int) -> None:
    """Time per simulated second vs neurons, batch and connectivity; saves scaling.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = {
        ("dense", 1): [256, 512, 1024, 2048, 4096],
        ("sparse", 1): [1024, 2048, 4096, 8192, 16384],
        ("dense", 32): [256, 512, 1024, 2048],
        ("sparse", 32): [1024, 4096, 8192],
    }
    print("\nsweep (ms per simulated second)")
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for (conn, b), ns in grid.items():
        ms = []
        for n in ns:
            r = in_subprocess(n, b, steps, conn, "forward", 1)
            ms.append(r["wall"] / (steps * DT) * 1e3)
            print(
                f"  {conn:<6} batch {b:>2} n {n:>6}:"
                f" {ms[-1]:9.1f} ms, peak {r['peak_mib']:.0f} MiB",
                flush=True,
            )
        ax.loglog(ns, ms, "o-", label=f"{conn}, batch {b}")
    ax.axhline(1000, color="grey", lw=0.8, ls="--")
    ax.text(ns[0], 1100, "real time", color="grey", fontsize=8)
    ax.set_xlabel("neurons (64 inputs each)")
    ax.set_ylabel("wall ms per simulated second")
    ax.set_title("DynapSim (JAX, CPU), dt = 1 ms")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(HERE / "scaling.png", dpi=120)
    print(f"saved {HERE / 'scaling.png'}")


if __name__ == "__main__":
    main()
