"""Train a Dynap-SE2 network to classify frozen noise, robust to 20 % device mismatch.

Task: 4 classes, each one fixed 20 Hz Poisson raster on 60 channels, 500 ms at dt = 1 ms;
every sample is jittered (2 ms), loses 10 % of its spikes and gains 2 Hz of noise.
Network: Linear(60 -> 32) -> DynapSim(32); each class is read from a pool of 8 neurons
(mean of log peak membrane current, see ``dynapse2.train.losses``). Training draws a fresh
20 % mismatch every step, so the trained weights survive any chip's mismatch.

Run:  python examples/frozen_noise.py   (writes frozen_noise_loss.png, frozen_noise_raster.png)

The recipe (:func:`make_data`, :func:`build_network`, :data:`LOSS`, :func:`train`) is shared
with ``examples/deploy.py`` and ``tests/test_end_to_end.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import numpy as np
import optax

from dynapse2.datasets import frozen_noise, train_test_split
from dynapse2.nn import DynapSim, Linear, Module, Sequential
from dynapse2.train import History, Robustness, evaluate, fit, max_imem_loss

N_CLASSES, N_CHANNELS, DURATION, DT = 4, 60, 0.5, 1e-3
POOL = 8  # output neurons per class
MISMATCH = 0.2

LOSS = max_imem_loss(pool=POOL)
"""Cross-entropy of the pools' mean log peak membrane current (see ``dynapse2.train.losses``)."""


def make_data(
    n_samples: int = 200, key: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: ``(n, 500, 60)`` spike rasters (dt = 1 ms) and
    ``(n,)`` labels, 80 % / 20 % of ``n_samples`` frozen-noise samples."""
    x, y = frozen_noise(
        N_CLASSES,
        N_CHANNELS,
        DURATION,
        DT,
        rate=20.0,
        n_samples=n_samples,
        key=key,
        jitter=2e-3,
        drop=0.1,
        add=2.0,
    )
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, key=key + 1)
    return x_train, y_train, x_test, y_test


def build_network(key: int = 1) -> Sequential:
    """``Linear(60 -> 32) -> DynapSim(32)`` (one parameter group: one core), random weights."""
    n = N_CLASSES * POOL
    return Sequential(Linear((N_CHANNELS, n), key=jax.random.PRNGKey(key)), DynapSim(n, dt=DT))


def train(
    net: Module,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int = 20,
    learning_rate: float = 0.02,
    transform: Callable[[Module], Module] | None = None,
    key: int = 2,
    progress: bool = True,
) -> tuple[Module, History]:
    """Train ``net`` on ``data`` (from :func:`make_data`) with Adam, batches of 32 and a fresh
    20 % mismatch every step, validating on the test set; ``transform`` as in
    :class:`~dynapse2.train.Robustness`."""
    x_train, y_train, x_test, y_test = data
    return fit(
        net,
        x_train,
        y_train,
        LOSS,
        optimizer=optax.adam(learning_rate),
        epochs=epochs,
        batch_size=32,
        key=jax.random.PRNGKey(key),
        validation=(x_test, y_test),
        robustness=Robustness(mismatch=MISMATCH, transform=transform),
        progress=progress,
    )


def main() -> None:
    start = time.time()
    data = make_data()
    _, _, x_test, y_test = data
    net, history = train(build_network(), data)
    wall = time.time() - start

    _, acc = evaluate(net, x_test, y_test, LOSS)
    print(f"test accuracy: {100 * acc:.1f} %")
    draws = [
        evaluate(net, x_test, y_test, LOSS, mismatch=MISMATCH, key=jax.random.PRNGKey(100 + i))[1]
        for i in range(10)
    ]
    print(
        f"under {MISMATCH:.0%} mismatch (10 draws): mean {100 * np.mean(draws):.1f} %, "
        f"min {100 * np.min(draws):.1f} %"
    )
    print(f"wall time (data, compile, training): {wall:.1f} s")

    import matplotlib  # noqa: PLC0415  (only the script plots; importing the recipe does not)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(history.loss, label="train")
    ax.plot(history.val_loss, label="test")
    ax.set(xlabel="epoch", ylabel="loss (nats)", yscale="log", title="Frozen noise")
    ax.legend()
    fig.tight_layout()
    fig.savefig("frozen_noise_loss.png", dpi=120)

    out, _, _ = net(x_test[:1])
    fig, ax = plt.subplots(figsize=(8, 3))
    t, i = np.nonzero(np.asarray(out[0]))
    ax.scatter(t * DT, i, s=3, marker="|", color="k")
    for c in range(1, N_CLASSES):
        ax.axhline(c * POOL - 0.5, color="0.8", lw=0.5)
    ax.set(
        xlabel="time (s)",
        ylabel="neuron (8 per class)",
        title=f"output spikes, a sample of class {int(y_test[0])}",
    )
    fig.tight_layout()
    fig.savefig("frozen_noise_raster.png", dpi=120)
    print("saved frozen_noise_loss.png and frozen_noise_raster.png")


if __name__ == "__main__":
    main()
