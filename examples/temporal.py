"""A task only timing can solve: which of two channel groups bursts first.

Task (``dynapse2.datasets.ordered_bursts``): 20 channels in groups A and B; each channel fires
exactly 3 spikes in its group's 10 ms burst; class 0 is A then B 20 ms later, class 1 is B then
A; 5 Hz background on every channel; 200 ms at dt = 1 ms. Spike counts per channel have the
same distribution in both classes, so a logistic regression on counts is at chance.
Network: Linear(20 -> 8) -> DynapSim(8), 4 neurons per class; the weights and the AMPA, GABA
and membrane leak currents are trained (the currents tied per core and kept inside the bias
generator's range).

Run:  python examples/temporal.py   (writes temporal_loss.png and temporal_raster.png)
"""

import time

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from dynapse2.datasets import ordered_bursts, train_test_split  # noqa: E402
from dynapse2.nn import DynapSim, Linear, Sequential  # noqa: E402
from dynapse2.train import evaluate, fit, max_imem_loss, rate_baseline_accuracy  # noqa: E402

POOL, DT = 4, 1e-3


start = time.time()
x, y = ordered_bursts(800, key=0, dt=DT)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, key=1)

net = Sequential(
    Linear((x.shape[-1], 2 * POOL), key=jax.random.PRNGKey(1)), DynapSim(2 * POOL, dt=DT)
)
loss = max_imem_loss(pool=POOL)
net, history = fit(
    net,
    x_train,
    y_train,
    loss,
    optimizer=optax.adam(0.02),
    epochs=30,
    batch_size=32,
    key=jax.random.PRNGKey(2),
    trainable=("weights", "Itau_gaba", "Itau_ampa", "Itau_mem"),
    validation=(x_test, y_test),
)
wall = time.time() - start

_, acc = evaluate(net, x_test, y_test, loss)
print(f"test accuracy: {100 * acc:.1f} %")
print(
    f"rate-only baseline (logistic regression on spike counts): "
    f"{100 * rate_baseline_accuracy(x_train, y_train, x_test, y_test):.1f} %"
)
sim = net[1]
print(
    f"trained time constants: tau_ampa {1e3 * float(sim.tau_ampa[0]):.1f} ms, "
    f"tau_gaba {1e3 * float(sim.tau_gaba[0]):.1f} ms, tau_mem {1e3 * float(sim.tau_mem[0]):.1f} ms"
)
print(f"wall time (data, compile, training): {wall:.1f} s")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(history.loss, label="train")
ax.plot(history.val_loss, label="test")
ax.set(xlabel="epoch", ylabel="loss (nats)", title="Ordered bursts")
ax.legend()
fig.tight_layout()
fig.savefig("temporal_loss.png", dpi=120)

fig, axes = plt.subplots(2, 2, figsize=(9, 4), sharex=True)
out, _, _ = net(x_test[:8])
for col, c in enumerate((0, 1)):
    k = int(np.flatnonzero(y_test[:8] == c)[0])
    for row, (data, label) in enumerate(((x_test[k], "input channel"), (out[k], "neuron"))):
        t, i = np.nonzero(np.asarray(data))
        axes[row, col].scatter(t * DT, i, s=3, marker="|", color="k")
        axes[row, col].set(ylabel=label)
    axes[0, col].set(title=f"class {c} ({'A then B' if c == 0 else 'B then A'})")
    axes[1, col].set(xlabel="time (s)")
fig.tight_layout()
fig.savefig("temporal_raster.png", dpi=120)
print("saved temporal_loss.png and temporal_raster.png")
