"""Benchmark of the quantizers: weight error against references, and speed.

Run: ``PYTHONPATH=. python benchmarks/quantize.py`` (about 20 s on 2 cores);
``--against REV`` also times the full-chip ``quantize_weights`` of this tree against the
``dynapse2/hardware/weights.py`` of git revision ``REV`` (same weights, 11 interleaved rounds,
both unweighted: the default path).

Weight error: relative L2 error ``||a - q|| / ||a||`` of one core's nonzero magnitudes
(256 neurons x 64 inputs = 16384 weights, and a small core of 64 weights), for
  * binary grid: bases (s, 2s, 4s, 8s) with the best s of 4000 log-spaced candidates,
  * ours: ``weights.fit_bases`` (what ``quantize_weights`` uses),
  * best found: the lowest error of (i) an exhaustive search over a 4-D grid of base sets
    (all sorted 4-tuples of 40 values in [0, max|w|]) followed by Lloyd polishing of the
    20 best grid points and (ii) 300 random restarts of Lloyd (bases uniform in
    [0, max|w|]). It bounds the optimum from above; no method here certifies the global
    optimum of this non-convex problem.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from dynapse2.hardware import bias, chip
from dynapse2.hardware import weights as W


def rel_err(data: W._Sorted, b: np.ndarray) -> float:
    return float(np.sqrt(data.stats(b)[3] / data.aa))


def binary_grid(data: W._Sorted) -> float:
    top = data.a[-1] / 15
    return min(rel_err(data, s * np.array([1, 2, 4, 8])) for s in top * np.geomspace(0.02, 2, 4000))


def best_found(data: W._Sorted, seed: int = 1) -> float:
    vals = np.linspace(0, data.a[-1], 40)
    combos = np.array(list(itertools.combinations_with_replacement(vals, 4)))
    sse = np.concatenate([data.sse_many(c) for c in np.array_split(combos, 20)])
    best = np.inf
    for i in np.argsort(sse)[:20]:
        best = min(best, data.lloyd(combos[i])[1])
    rng = np.random.default_rng(seed)
    for b0 in rng.uniform(0, data.a[-1], (300, 4)):
        best = min(best, data.lloyd(b0)[1])
    return float(np.sqrt(best / data.aa))


def weight_table() -> list[tuple[str, float, float, float]]:
    rng = np.random.default_rng(0)
    cases = {
        "N(0,1), 16384 weights": rng.normal(size=16384),
        "Student-t(3), 16384 weights": rng.standard_t(3, size=16384),
        "N(0,1), 64 weights": rng.normal(size=64),
        "Student-t(3), 64 weights": rng.standard_t(3, size=64),
    }
    rows = []
    for name, w in cases.items():
        data = W._Sorted(np.abs(w))
        rows.append(
            (name, binary_grid(data), rel_err(data, W.fit_bases(np.abs(w))), best_found(data))
        )
    return rows


def small_core_sweep() -> np.ndarray:
    """ours / best found on 36 small cores: 16, 64, 256 weights, N(0,1) and Student-t(3)."""
    rng = np.random.default_rng(123)
    ratios = []
    for n in (16, 64, 256):
        for dist in ("normal", "t3"):
            for _ in range(6):
                w = rng.normal(size=n) if dist == "normal" else rng.standard_t(3, size=n)
                data = W._Sorted(np.abs(w))
                ratios.append(rel_err(data, W.fit_bases(np.abs(w))) / best_found(data))
    return np.array(ratios)


def full_chip_weights(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = chip.N_NEURONS_PER_CHIP
    w = np.zeros((n, n))
    for j in range(n):
        w[rng.choice(n, chip.N_CAM, replace=False), j] = rng.normal(size=chip.N_CAM)
    return w, np.arange(n) // chip.N_NEURONS_PER_CORE


def timed(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def weights_at(rev: str):
    """``dynapse2/hardware/weights.py`` as it was at git revision ``rev``, imported."""
    root = Path(__file__).resolve().parents[1]
    text = subprocess.check_output(
        ["git", "show", f"{rev}:dynapse2/hardware/weights.py"], cwd=root, text=True
    )
    path = Path(tempfile.mkdtemp()) / "weights_at_rev.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("weights_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["weights_at_rev"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def against(rev: str, rounds: int = 11) -> None:
    old = weights_at(rev)
    w, core = full_chip_weights(np.random.default_rng(0))
    now, then = [], []
    for _ in range(rounds):
        now.append(timed(lambda: W.quantize_weights(w, core, 1e-9), repeat=1))
        then.append(timed(lambda: old.quantize_weights(w, core, 1e-9), repeat=1))
    a, b = np.array(now) * 1e3, np.array(then) * 1e3
    same = all(
        np.array_equal(getattr(W.quantize_weights(w, core, 1e-9), f), getattr(q, f))
        for q in [old.quantize_weights(w, core, 1e-9)]
        for f in ("base", "mask", "error")
    )
    r = a / b
    print(
        f"\nquantize_weights, full chip, {rounds} interleaved rounds: this tree median "
        f"{np.median(a):.0f} ms (min {a.min():.0f}, max {a.max():.0f}), {rev} median "
        f"{np.median(b):.0f} ms (min {b.min():.0f}, max {b.max():.0f}); ratio per round "
        f"median {np.median(r):.3f} (min {r.min():.3f}, max {r.max():.3f}); identical "
        f"bases, masks and errors: {same}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--against", default="", help="git revision to time quantize_weights against")
    opts = ap.parse_args()
    t0 = time.perf_counter()
    print("Relative L2 error of one core's weight magnitudes")
    print(
        f"{'distribution':<30} {'binary grid':>11} {'ours':>8} {'best found':>10} {'ours/best':>9}"
    )
    for name, binary, ours, best in weight_table():
        print(f"{name:<30} {binary:>11.4f} {ours:>8.4f} {best:>10.4f} {ours / best:>9.3f}")

    r = small_core_sweep()
    print(
        f"36 small cores (16/64/256 weights, N(0,1) and Student-t(3)): ours/best worst "
        f"{r.max():.3f}, mean {r.mean():.4f}, {int(np.sum(r > 1.01))} above 1.01"
    )

    rng = np.random.default_rng(0)
    w, core = full_chip_weights(rng)
    print()
    t_q = timed(lambda: W.quantize_weights(w, core, 1e-9))
    q = W.quantize_weights(w, core, 1e-9)
    print(f"quantize_weights, full chip (1024 x 1024, 64 inputs each, 4 cores): {t_q * 1e3:.0f} ms")
    print(
        f"  per-core error {np.round(q.error, 4).tolist()}, "
        f"dropped {len(q.dropped)} of {np.count_nonzero(w)}"
    )
    rates = rng.uniform(0, 300, w.shape[0])  # per presynaptic source, Hz
    t_w = timed(lambda: W.quantize_weights(w, core, 1e-9, importance=rates**2))
    print(f"  with importance (rates squared per presynaptic row): {t_w * 1e3:.0f} ms")
    t_d = timed(lambda: W.quantize_weights(w, core, 1e-9, importance=rates**2, rates=rates))
    print(f"  and rounding that keeps each neuron's mean drive (rates=): {t_d * 1e3:.0f} ms")
    fq = jax.jit(W.fake_quantize)
    args = (
        jnp.asarray(w, jnp.float32),
        jnp.asarray(q.base / 1e-9, jnp.float32),
        jnp.asarray(core),
        1.0,
    )
    fq(*args).block_until_ready()
    t_fq = timed(lambda: fq(*args).block_until_ready())
    print(f"fake_quantize (jit, compiled), dense full chip: {t_fq * 1e3:.0f} ms")

    n = chip.N_NEURONS_PER_CHIP
    params = {name: np.full(n, 0.3 * bias.current_range(name)[1]) for name in chip.SIM_TO_BG}
    pcore = np.arange(n) // chip.N_NEURONS_PER_CORE
    t_p = timed(lambda: bias.quantize_parameters(params, pcore))
    print(
        f"quantize_parameters, {len(params)} currents x 4 cores (1024 neurons): {t_p * 1e3:.1f} ms"
    )
    if opts.against:
        against(opts.against)
    print(f"\ntotal benchmark time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
