"""Benchmark of calibration: how well a calibrated simulation predicts a virtual board.

Run: ``PYTHONPATH=. python benchmarks/calibration.py [--boards 5]`` (about a minute per
board on 2 cores).

Each board is a :class:`~dynapse2.hardware.VirtualBoard` with 20 % hidden mismatch (its
seed); the network fills one chip (1024 neurons on 4 cores, 8 input channels). Per board:

- held-out probe error: median over neurons of the relative firing-rate error of the
  nominal and the calibrated simulation on probes the fit did not see;
- network error: the same on the network's own configuration and Poisson input (4 trials of
  1 s at 100 Hz per channel) that calibration never saw;
- the correlation of each fitted log-factor with the board's hidden one;
- the calibration's wall time.
"""

from __future__ import annotations

import argparse

import jax.numpy as jnp
import numpy as np

from dynapse2.hardware import VirtualBoard, calibrate, network_from_config, to_hardware
from dynapse2.hardware.calibration import FITTED, _rates
from dynapse2.nn import DynapSim, Linear, Sequential

N = 1024


def rate_error(sim, hw, x) -> float:
    board = _rates(hw(x)[0], hw.dt)
    pred = _rates(np.asarray(sim(jnp.asarray(x, jnp.float32))[0]), hw.dt)
    on = board > 1.0
    return float(np.median(np.abs(pred - board)[on] / board[on]))


def one_board(seed: int) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    net = Sequential(Linear((8, N), weight=rng.uniform(0, 4, (8, N)), has_bias=False), DynapSim(N))
    board = VirtualBoard(mismatch=0.2, seed=seed)
    hw = to_hardware(net, device=board)
    cal = calibrate(hw)
    x = (rng.random((4, 1000, 8)) < 0.1).astype(np.int32)
    flat = np.flatnonzero(cal.calibrated)
    row = {
        "probe error, nominal": cal.report["nominal_error"],
        "probe error, calibrated": cal.report["calibrated_error"],
        "network error, nominal": rate_error(network_from_config(hw.config), hw, x),
        "network error, calibrated": rate_error(cal.simulator, hw, x),
        "seconds": cal.report["seconds"],
    }
    for k in FITTED:
        a, b = np.log(cal.factors[k][flat]), np.log(board._mismatch[k][flat])
        row[f"corr {k}"] = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 else float("nan")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for seed in range(args.boards):
        rows.append(one_board(seed))
        print(f"board {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items()))
    print(f"\n{N} neurons (one chip), 20 % hidden mismatch, {args.boards} boards")
    print("| quantity | mean | std | min | max |")
    print("|---|---|---|---|---|")
    for k in rows[0]:
        v = np.array([r[k] for r in rows])
        if np.isnan(v).all():
            print(f"| {k} | not identified by the probes (left at 1) | | | |")
            continue
        std = v.std(ddof=1) if v.size > 1 else 0.0
        print(f"| {k} | {v.mean():.3f} | {std:.3f} | {v.min():.3f} | {v.max():.3f} |")


if __name__ == "__main__":
    main()
