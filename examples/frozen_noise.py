"""Train a Dynap-SE2 network to classify frozen noise, robust to 20 % device mismatch.

Task: 4 classes, each one fixed 20 Hz Poisson raster on 60 channels, 500 ms at dt = 1 ms;
every sample is jittered (2 ms), loses 10 % of its spikes and gains 2 Hz of noise.
Network: Linear(60 -> 32) -> DynapSim(32); each class is read from a pool of 8 neurons
(mean of log peak membrane current, see ``dynapse2.train.losses``). Training draws a fresh
20 % mismatch every step, so the trained weights survive any chip's mismatch.

Run:  python examples/frozen_noise.py   (writes frozen_noise_loss.png, frozen_noise_raster.png)
"""

import time

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from dynapse2.datasets import frozen_noise, train_test_split  # noqa: E402
from dynapse2.nn import DynapSim, Linear, Sequential  # noqa: E402
from dynapse2.train import evaluate, fit, max_imem_loss  # noqa: E402

N_CLASSES, N_CHANNELS, DURATION, DT = 4, 60, 0.5, 1e-3
POOL = 8  # output neurons per class
MISMATCH = 0.2

start = time.time()
x, y = frozen_noise(
    N_CLASSES,
    N_CHANNELS,
    DURATION,
    DT,
    rate=20.0,
    n_samples=200,
    key=0,
    jitter=2e-3,
    drop=0.1,
    add=2.0,
)
x_train, y_train, x_test, y_test = train_test_split(x, y, test_fraction=0.2, key=1)

n = N_CLASSES * POOL
net = Sequential(Linear((N_CHANNELS, n), key=jax.random.PRNGKey(1)), DynapSim(n, dt=DT))
loss = max_imem_loss(pool=POOL)
net, history = fit(
    net,
    x_train,
    y_train,
    loss,
    optimizer=optax.adam(0.02),
    epochs=20,
    batch_size=32,
    key=jax.random.PRNGKey(2),
    mismatch=MISMATCH,
    validation=(x_test, y_test),
)
wall = time.time() - start

_, acc = evaluate(net, x_test, y_test, loss)
print(f"test accuracy: {100 * acc:.1f} %")
draws = [
    evaluate(net, x_test, y_test, loss, mismatch=MISMATCH, key=jax.random.PRNGKey(100 + i))[1]
    for i in range(10)
]
print(
    f"under {MISMATCH:.0%} mismatch (10 draws): mean {100 * np.mean(draws):.1f} %, "
    f"min {100 * np.min(draws):.1f} %"
)
print(f"wall time (data, compile, training): {wall:.1f} s")

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
