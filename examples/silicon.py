"""From simulation to silicon: the accuracy a chip's mismatch costs, and three ways back.

Task: 4-class frozen noise (60 channels, 500 ms at 1 ms, jittered), 160 training and 240
test samples (one test error is 0.4 points). Network: ``Linear(60, 4) -> DynapSim(4)``, one
output neuron per class, read by spike counts (what a board reports). Trained nominally it
scores 100 % in simulation; deployed to a :class:`~dynapse2.hardware.VirtualBoard` with 20 %
hidden mismatch it loses much of it. Recovery, each on the same board:

- (a) **mismatch-aware training**: train with a fresh 20 % mismatch draw every step;
- (b) **calibration**: ``calibrate(hw)`` fits the board's mismatch, then the network is
  retrained on the calibrated simulation (``cal.apply(net)``) and deployed again;
- (c) **chip-in-the-loop**: ``fit(net, ..., hardware=hw)`` for 5 epochs, the board in the
  forward pass and the gradient from the simulation.

Run:  python examples/silicon.py [--boards 5]   (about 1 min per board on 2 cores)

The recipe is shared with ``benchmarks/in_the_loop.py`` and the tutorial
``docs/tutorials/silicon.py``.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np
import optax

from dynapse2.datasets import frozen_noise, train_test_split
from dynapse2.hardware import VirtualBoard, calibrate, map_network, network_from_config, to_hardware
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import Spread, evaluate, fit, spike_count_loss

N_CLASSES, N_CHANNELS, DURATION, DT = 4, 60, 0.5, 1e-3
MISMATCH = 0.2
LOSS = spike_count_loss()
"""Cross-entropy of the output spike counts (one neuron per class)."""
METHODS = ("simulation", "board", "(a) mismatch-aware", "(b) calibrated", "(c) in the loop")


def make_data(key: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: 160 / 240 frozen-noise samples."""
    x, y = frozen_noise(
        N_CLASSES, N_CHANNELS, DURATION, DT, rate=20.0, n_samples=400, key=key,
        jitter=2e-3, drop=0.1, add=2.0,
    )  # fmt: skip
    return train_test_split(x, y, test_fraction=0.6, key=key + 1)


def build_network(key: int = 1) -> Sequential:
    return Sequential(
        Linear((N_CHANNELS, N_CLASSES), key=jax.random.PRNGKey(key)), DynapSim(N_CLASSES, dt=DT)
    )


def train(net: Sequential, data, *, epochs: int = 20, mismatch: float = 0.0, lr: float = 0.02):
    """Adam, batches of 32, in simulation (optionally with a fresh mismatch draw per step)."""
    x_tr, y_tr, _, _ = data
    return fit(
        net, x_tr, y_tr, LOSS, optimizer=optax.adam(lr), epochs=epochs, mismatch=mismatch,
        key=jax.random.PRNGKey(2), progress=False,
    )[0]  # fmt: skip


def on_board(net: Sequential, board: VirtualBoard, data) -> float:
    """Test accuracy of ``net`` deployed to ``board``."""
    _, _, x_te, y_te = data
    return evaluate(to_hardware(net, device=board), x_te, y_te, LOSS)[1]


def recover(nominal: Sequential, aware: Sequential, board_seed: int, data) -> dict[str, float]:
    """Test accuracies on one board (seed ``board_seed``): see the module docstring."""
    x_tr, y_tr, x_te, y_te = data
    board = VirtualBoard(mismatch=MISMATCH, seed=board_seed)
    row = {
        "simulation": evaluate(network_from_config(map_network(nominal).config), x_te, y_te, LOSS)[
            1
        ],
        "board": on_board(nominal, board, data),
        "(a) mismatch-aware": on_board(aware, board, data),
    }
    cal = calibrate(to_hardware(nominal, device=board))
    retrained = train(cal.apply(nominal), data, epochs=10, lr=0.01)
    row["(b) calibrated"] = on_board(retrained, board, data)
    hw = to_hardware(nominal, device=board)
    fit(
        nominal, x_tr, y_tr, LOSS, optimizer=optax.adam(0.01), epochs=5, hardware=hw, progress=False
    )
    row["(c) in the loop"] = evaluate(hw, x_te, y_te, LOSS)[1]
    return row


def run(boards: int, progress: bool = True) -> list[dict[str, float]]:
    data = make_data()
    nominal = train(build_network(), data)
    aware = train(build_network(), data, epochs=30, mismatch=MISMATCH)
    rows = []
    for seed in range(boards):
        t = time.time()
        rows.append(recover(nominal, aware, seed, data))
        if progress:
            cells = ", ".join(f"{k} {100 * v:.1f}" for k, v in rows[-1].items())
            print(f"board {seed} ({time.time() - t:.0f} s): {cells}", flush=True)
    return rows


def table(rows: list[dict[str, float]]) -> str:
    lines = ["| test accuracy % | mean | std | min | max |", "|---|---|---|---|---|"]
    for k in METHODS:
        s = Spread([100 * r[k] for r in rows], percent=False)
        lines.append(f"| {k} | {s.mean:.1f} | {s.std:.1f} | {s.min:.1f} | {s.max:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--boards", type=int, default=5)
    args = ap.parse_args()
    rows = run(args.boards)
    print(f"\n{args.boards} virtual boards with {MISMATCH:.0%} hidden mismatch")
    print(table(rows))


if __name__ == "__main__":
    main()
