"""Benchmark of the virtual Stack board: a trial on a full chip against simulating it directly.

Run: ``PYTHONPATH=. python benchmarks/virtual_board.py`` (about a minute on 2 cores).

The network fills one chip: 1024 neurons on 4 cores, 32 input channels at 20 Hz (8 CAM
entries per neuron from the input, 16 recurrent). "direct" simulates
``network_from_config(config)`` on the input raster; "virtual board" runs the whole board
path (``to_hardware(net, device=VirtualBoard())``: drain, encode to events, route by tag and
core, simulate, emit and decode the output events). Times are the median of ``--repeats``
runs after one warm-up run (compilation), with min and max beside it.
"""

from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
import numpy as np

from dynapse2.hardware import VirtualBoard, network_from_config, to_hardware
from dynapse2.nn import DynapSim, Linear, Sequential

N, N_IN = 1024, 32


def full_chip(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    w_in = np.zeros((N_IN, N))
    for j in range(N):
        w_in[rng.choice(N_IN, 8, replace=False), j] = rng.uniform(2, 8, 8)
    w_rec = np.zeros((N, N))
    for j in range(N):
        pre = rng.choice(N, 16, replace=False)
        w_rec[pre, j] = rng.uniform(-1.0, 1.0, 16)
    return Sequential(
        Linear((N_IN, N), weight=w_in, has_bias=False),
        DynapSim(N, has_rec=True, w_rec=w_rec),
    )


def timed(fn, repeats: int) -> tuple[float, float, float]:
    fn()  # compile
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts)), float(min(ts)), float(max(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="trial length (s)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    board = VirtualBoard()
    hw = to_hardware(full_chip(), device=board)
    steps = int(round(args.seconds / hw.dt))
    rng = np.random.default_rng(1)
    x = (rng.random((steps, N_IN)) < 20.0 * hw.dt).astype(np.int32)
    sim = network_from_config(hw.config)
    xf = jnp.asarray(x, jnp.float32)

    def direct():
        out, _, _ = sim(xf)
        return np.asarray(out)

    def on_board():
        return hw(x)[0]

    spikes = direct()
    np.testing.assert_array_equal(on_board(), spikes.astype(np.int32))
    rate = spikes.sum() / (N * args.seconds)
    d, b = timed(direct, args.repeats), timed(on_board, args.repeats)
    print(
        f"full chip: {N} neurons, {args.seconds:g} s trial ({steps} steps), "
        f"mean rate {rate:.1f} Hz, {board.events['received'] // (args.repeats + 2)} output events "
        "per trial; board output identical to the direct simulation"
    )
    print(f"| {'path':<14} | median s | min s | max s |")
    print("|---|---|---|---|")
    for name, (med, lo, hi) in (("direct", d), ("virtual board", b)):
        print(f"| {name:<14} | {med:.3f} | {lo:.3f} | {hi:.3f} |")
    print(f"ratio virtual board / direct (median): {b[0] / d[0]:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
