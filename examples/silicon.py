"""From simulation to silicon: the accuracy a chip's mismatch costs, and three ways back.

Two tasks (:data:`TASKS`), each trained nominally in simulation, then deployed to
:class:`~dynapse2.hardware.VirtualBoard` s with 20 % hidden mismatch, where it loses much of
its accuracy. Recovery, each on the same board:

- (a) **mismatch-aware training**: train with a fresh 20 % mismatch draw every step;
- (b) **calibration**: ``calibrate(hw)`` fits the board's mismatch, then the network is
  retrained on the calibrated simulation (``cal.apply(net)``) and deployed again;
- (c) **chip-in-the-loop**: ``fit(net, ..., in_the_loop=InTheLoop(hw))``, the board in the
  forward pass and the gradient from the simulation.

Tasks:

- ``frozen-noise``: 4-class frozen noise (60 channels, 500 ms at 1 ms, jittered), 160
  training and 240 test samples; ``Linear(60, 4) -> DynapSim(4)``, one output neuron per
  class, read by spike counts (what a board reports). (c): 5 epochs.
- ``yin-yang``: the Yin-Yang task of ``examples/yin_yang.py`` (3 classes, latency-coded,
  51 steps), 3000 training and 600 test points; ``Linear(20, 60) -> DynapSim(60) ->
  Linear(60, 12) -> DynapSim(12)``, pools of 4 output neurons per class read by their spike
  counts. (c): 1 epoch, the gradient from the calibrated simulation of (b).

Run:  python examples/silicon.py [--task frozen-noise|yin-yang] [--boards 5]
(about 15 s per board for frozen noise, 35 s for Yin-Yang, on 2 cores)

The recipe is shared with ``benchmarks/in_the_loop.py`` and the tutorial
``docs/tutorials/silicon.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np
import optax

from dynapse2.datasets import frozen_noise, train_test_split
from dynapse2.hardware import VirtualBoard, calibrate, map_network, network_from_config, to_hardware
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import InTheLoop, Robustness, Spread, evaluate, fit, spike_count_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
import yin_yang  # noqa: E402  (the Yin-Yang recipe's data and network)

MISMATCH = 0.2
METHODS = ("simulation", "board", "(a) mismatch-aware", "(b) calibrated", "(c) in the loop")
Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Task:
    """A task of the recipe: data, network, loss, and each method's training budget.

    Attributes:
        name: the task's name.
        make_data: ``() -> (x_train, y_train, x_test, y_test)``.
        build_network: ``() -> Sequential`` with fresh weights (the same every call).
        loss: a spike-only loss (what a board's output allows).
        nominal, aware, retrain, loop: ``(epochs, learning rate)`` of the nominal training,
            the mismatch-aware training (a), the retraining on the calibrated simulation
            (b) and the chip-in-the-loop fine-tuning (c); Adam, batches of 32.
        cosine: decay the learning rate to 0 along a cosine over each run.
        loop_samples: training samples used in the loop (``None``: all).
        loop_calibrated: take the loop's gradient from the calibrated simulation
            (``InTheLoop(hw, calibration=cal)``): a hidden layer runs on the board as the
            calibrated simulation predicts, not as the nominal one does.
    """

    name: str
    make_data: Callable[[], Data]
    build_network: Callable[[], Sequential]
    loss: Callable
    nominal: tuple[int, float]
    aware: tuple[int, float]
    retrain: tuple[int, float]
    loop: tuple[int, float]
    cosine: bool = False
    loop_samples: int | None = None
    loop_calibrated: bool = False


def _frozen_noise_data(key: int = 0) -> Data:
    """160 / 240 frozen-noise samples, 4 classes, 60 channels, 500 ms at 1 ms."""
    x, y = frozen_noise(
        4, 60, 0.5, 1e-3, rate=20.0, n_samples=400, key=key, jitter=2e-3, drop=0.1, add=2.0
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.6, key=key + 1)
    return x_train, y_train, x_test, y_test


def _frozen_noise_network() -> Sequential:
    return Sequential(Linear((60, 4), key=jax.random.PRNGKey(1)), DynapSim(4, dt=1e-3))


FROZEN_NOISE = Task(
    "frozen-noise",
    _frozen_noise_data,
    _frozen_noise_network,
    spike_count_loss(),
    nominal=(20, 0.02),
    aware=(30, 0.02),
    retrain=(10, 0.01),
    loop=(5, 0.01),
)
"""Cross-entropy of the output spike counts, one neuron per class."""

YIN_YANG = Task(
    "yin-yang",
    lambda: yin_yang.make_data(3000, 600),
    lambda: yin_yang.build_network(2),
    spike_count_loss(pool=4, scale=3.0),
    nominal=(30, 0.01),
    aware=(30, 0.01),
    retrain=(10, 0.01),
    loop=(1, 0.01),
    cosine=True,
    loop_calibrated=True,
)
"""Cross-entropy of 3 x the mean spike count of each class's pool of 4 output neurons."""

TASKS = {t.name: t for t in (FROZEN_NOISE, YIN_YANG)}


def train(
    task: Task, net: Sequential, data: Data, budget: tuple[int, float], mismatch: float = 0.0
) -> Sequential:
    """Train ``net`` in simulation for ``budget = (epochs, lr)`` (a fresh ``mismatch`` draw
    every step when > 0)."""
    x_tr, y_tr, _, _ = data
    epochs, lr = budget
    if task.cosine:
        lr = optax.cosine_decay_schedule(lr, epochs * max(1, len(x_tr) // 32))
    return fit(
        net, x_tr, y_tr, task.loss, optimizer=optax.adam(lr), epochs=epochs, batch_size=32,
        robustness=Robustness(mismatch=mismatch), key=jax.random.PRNGKey(2), progress=False,
    )[0]  # fmt: skip


def on_board(task: Task, net: Sequential, board: VirtualBoard, data: Data) -> float:
    """Test accuracy of ``net`` deployed to ``board``."""
    _, _, x_te, y_te = data
    return evaluate(to_hardware(net, device=board), x_te, y_te, task.loss)[1]


def in_the_loop(task: Task, net: Sequential, board: VirtualBoard, data: Data, calibration=None):
    """Fine-tune ``net`` with ``board`` in the loop (``task.loop``; the gradient from the
    ``calibration``'s simulation when given); returns the deployed board module (running the
    tuned network) and the training history."""
    x_tr, y_tr, _, _ = data
    n = task.loop_samples or len(x_tr)
    epochs, lr = task.loop
    if task.cosine:
        lr = optax.cosine_decay_schedule(lr, epochs * max(1, n // 32))
    hw = to_hardware(net, device=board)
    _, history = fit(
        net, x_tr[:n], y_tr[:n], task.loss, optimizer=optax.adam(lr), epochs=epochs,
        batch_size=32, in_the_loop=InTheLoop(hw, calibration=calibration),
        key=jax.random.PRNGKey(0),
        progress=False,
    )  # fmt: skip
    return hw, history


def recover(
    task: Task, nominal: Sequential, aware: Sequential, board_seed: int, data: Data
) -> dict[str, float]:
    """Test accuracies on one board (seed ``board_seed``): see the module docstring."""
    _, _, x_te, y_te = data
    board = VirtualBoard(mismatch=MISMATCH, seed=board_seed)
    quantized = network_from_config(map_network(nominal).config)
    row = {
        "simulation": evaluate(quantized, x_te, y_te, task.loss)[1],
        "board": on_board(task, nominal, board, data),
        "(a) mismatch-aware": on_board(task, aware, board, data),
    }
    cal = calibrate(to_hardware(nominal, device=board))
    retrained = train(task, cal.apply(nominal), data, task.retrain)
    row["(b) calibrated"] = on_board(task, retrained, board, data)
    hw, _ = in_the_loop(task, nominal, board, data, cal if task.loop_calibrated else None)
    row["(c) in the loop"] = evaluate(hw, x_te, y_te, task.loss)[1]
    return row


def networks(task: Task, data: Data) -> tuple[Sequential, Sequential]:
    """The nominally trained network and the mismatch-aware one (a)."""
    nominal = train(task, task.build_network(), data, task.nominal)
    aware = train(task, task.build_network(), data, task.aware, mismatch=MISMATCH)
    return nominal, aware


def run(
    task: Task,
    boards: int,
    progress: bool = True,
    data: Data | None = None,
    nets: tuple[Sequential, Sequential] | None = None,
) -> list[dict[str, float]]:
    """The whole recipe on ``boards`` boards (seeds 0..boards-1): one row per board; ``data``
    and ``nets`` (from :func:`networks`) are made when not given."""
    data = task.make_data() if data is None else data
    nominal, aware = networks(task, data) if nets is None else nets
    rows = []
    for seed in range(boards):
        t = time.time()
        rows.append(recover(task, nominal, aware, seed, data))
        if progress:
            cells = ", ".join(f"{k} {100 * v:.1f}" for k, v in rows[-1].items())
            print(f"board {seed} ({time.time() - t:.0f} s): {cells}", flush=True)
    return rows


def table(rows: list[dict[str, float]]) -> str:
    """Markdown table of the rows' mean, std, min and max per method (%)."""
    lines = ["| test accuracy % | mean | std | min | max |", "|---|---|---|---|---|"]
    for k in METHODS:
        s = Spread([100 * r[k] for r in rows], percent=False)
        lines.append(f"| {k} | {s.mean:.1f} | {s.std:.1f} | {s.min:.1f} | {s.max:.1f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(TASKS), default="frozen-noise")
    ap.add_argument("--boards", type=int, default=5)
    args = ap.parse_args()
    rows = run(TASKS[args.task], args.boards)
    print(f"\n{args.task}: {args.boards} virtual boards with {MISMATCH:.0%} hidden mismatch")
    print(table(rows))


if __name__ == "__main__":
    main()
