# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Device mismatch
#
# No two analog transistors are identical. On Dynap-SE2 the neurons of a core share one
# bias setting, yet their currents and capacitances differ from neuron to neuron, roughly as
# a Gaussian with a standard deviation of 10-20 % of the nominal value, frozen for a given
# chip. A network whose parameters were tuned for the nominal circuit may therefore behave
# differently on silicon.
#
# `DynapSim(n, mismatch=s, key=key)` reproduces this: every current, capacitance and the unit
# weight current of every neuron is multiplied by a frozen factor $1 + s\,\mathcal{N}(0, 1)$
# (clipped at 0.1) drawn from `key`. The nominal values remain the trainable parameters;
# `effective_values()` returns what each neuron actually uses, and `resample_mismatch(key)`
# returns the same network on "another chip".

# %%
import time
import warnings

import jax
import matplotlib.pyplot as plt
import numpy as np

from dynapse2 import DynapSim, Linear, Sequential, plot
from dynapse2.physics.dpi import pulse_width, time_constant

t_start = time.time()
# dynapse2.train shows progress bars with tqdm.auto, which warns in a notebook without ipywidgets
warnings.filterwarnings("ignore", message="IProgress not found")
DT, N = 1e-3, 256  # one core

# %% [markdown]
# ## Time constants across a core
#
# Time constants are ratios, $\tau = C\,U_T/(\kappa I_\tau)$, so both the capacitance and the
# leak current contribute their mismatch: at 20 % each, the time constants spread by about
# 28 %, and the distribution is skewed toward long values (a small current gives a long
# time constant).

# %%
net = DynapSim(N, mismatch=0.2, key=jax.random.PRNGKey(0), dt=DT)
eff = net.effective_values()
kappa, ut = net.kappa, net.Ut
tau = {
    "tau_mem": np.asarray(time_constant(eff["C_mem"], eff["Itau_mem"], kappa, ut)) * 1e3,
    "tau_ampa": np.asarray(time_constant(eff["C_ampa"], eff["Itau_ampa"], kappa, ut)) * 1e3,
    "t_ref": np.asarray(pulse_width(eff["C_ref"], eff["Iref"], net.Vth)) * 1e3,
}
plot.histograms(tau, bins=30, unit={k: "ms" for k in tau})
plt.show()

# %% [markdown]
# ## Firing rates across a core
#
# The same DC current drives all 256 neurons of the core. Without mismatch they fire at the
# same rate; with 10 % and 20 % mismatch the rates spread widely, because the rate depends
# on several mismatched currents at once (drive, leak, gain, threshold, refractory period).

# %%
T = 1000
rates = {}
for s in (0.0, 0.1, 0.2):
    net = DynapSim(N, Idc=1e-9, mismatch=s, key=jax.random.PRNGKey(1), dt=DT)
    out, _, _ = net(np.zeros((T, N), np.float32))
    rates[f"rate, mismatch {s:.0%}"] = np.asarray(out).sum(axis=0) / (T * DT)
plot.histograms(rates, bins=30, unit={k: "Hz" for k in rates})
plt.show()

# %% [markdown]
# The f-I curves of individual neurons under 20 % mismatch: the shaded band holds the
# 10th-90th percentile of the core's neurons, the line is their mean.

# %%
idc = np.geomspace(1e-11, 1e-8, 10)
n_per = 32
net = DynapSim(
    idc.size * n_per, Idc=np.repeat(idc, n_per), mismatch=0.2, key=jax.random.PRNGKey(2), dt=DT
)
out, _, _ = net(np.zeros((T, idc.size * n_per), np.float32))
r = (np.asarray(out).sum(axis=0) / (T * DT)).reshape(idc.size, n_per)
fig, ax = plt.subplots(figsize=(6, 3.5))
nominal = DynapSim(idc.size, Idc=idc, dt=DT)
out0, _, _ = nominal(np.zeros((T, idc.size), np.float32))
plot.fi_curve(idc, np.asarray(out0).sum(axis=0) / (T * DT), ax=ax, label="no mismatch")
plot.fi_curve(idc, r, ax=ax, label="20 % mismatch (32 neurons)")
ax.set_xscale("log")
plt.show()

# %% [markdown]
# ## Another chip: `resample_mismatch`
#
# A network is built for one draw of mismatch; `resample_mismatch(key)` gives the same
# network with a new draw, like moving it to another chip. Here a small network with fixed
# input weights answers a fixed input; the output rates per neuron change from draw to draw.

# %%
N_IN, n, T = 40, 16, 500
rng = np.random.default_rng(0)
x = (rng.random((T, N_IN)) < 20 * DT).astype(np.float32)
net = Sequential(
    Linear((N_IN, n), key=jax.random.PRNGKey(3)),
    DynapSim(n, mismatch=0.2, key=jax.random.PRNGKey(0), dt=DT),
)
fig, ax = plt.subplots(figsize=(7, 3))
for k in range(5):
    pop = net[1].resample_mismatch(jax.random.PRNGKey(10 + k))
    out, _, _ = Sequential(net[0], pop)(x)
    ax.plot(np.asarray(out).sum(axis=0) / (T * DT), "o-", ms=3, label=f"draw {k}")
ax.set(xlabel="neuron", ylabel="rate (Hz)", title="the same network on five mismatch draws")
ax.legend(fontsize="small", ncol=5)
plt.show()

# %% [markdown]
# ## Training that survives mismatch
#
# A network trained on the nominal circuit may lose its accuracy on a chip. `fit(...,
# mismatch=0.2)` draws a fresh chip (20 % mismatch) at every training step, so the weights
# cannot rely on any one draw. To see the difference, take a deliberately fragile readout:
# the 4-class frozen-noise task of the quick start, read from a single neuron per class
# (`max_imem_loss(pool=1)`), trained twice with the same data, initial weights and
# optimizer: once on the nominal circuit, once with mismatch.

# %%
import optax  # noqa: E402

from dynapse2.datasets import frozen_noise, train_test_split  # noqa: E402
from dynapse2.train import Robustness, evaluate, fit, max_imem_loss  # noqa: E402

N_CLASSES, N_IN = 4, 60
x, y = frozen_noise(
    N_CLASSES, N_IN, 0.5, DT, rate=20.0, n_samples=200, key=0, jitter=2e-3, drop=0.1, add=2.0
)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, key=1)
loss = max_imem_loss(pool=1)
optimizer = optax.adam(0.02)
trained = {}
for s in (0.0, 0.2):
    init = Sequential(
        Linear((N_IN, N_CLASSES), key=jax.random.PRNGKey(1)), DynapSim(N_CLASSES, dt=DT)
    )
    trained[s], _ = fit(
        init,
        x_train,
        y_train,
        loss,
        optimizer=optimizer,
        epochs=20,
        key=jax.random.PRNGKey(2),
        robustness=Robustness(mismatch=s),
        progress=False,
    )
    nominal = evaluate(trained[s], x_test, y_test, loss)[1]
    print(f"trained with mismatch={s}: test accuracy on the nominal circuit {nominal:.0%}")

# %% [markdown]
# Both reach full accuracy on the nominal circuit. Now evaluate each on the same 10 fresh
# chips (draws the training never saw, keys 100..109):

# %%
acc = {
    s: np.array(
        [
            evaluate(net_s, x_test, y_test, loss, mismatch=0.2, key=jax.random.PRNGKey(100 + i))[1]
            for i in range(10)
        ]
    )
    for s, net_s in trained.items()
}
labels = {0.0: "trained nominal", 0.2: "trained with 20 % mismatch"}
fig, ax = plt.subplots(figsize=(6, 3.2))
for k, (s, a) in enumerate(acc.items()):
    ax.scatter(np.full(a.size, k) + np.linspace(-0.15, 0.15, a.size), a * 100, s=18)
    ax.hlines(a.mean() * 100, k - 0.3, k + 0.3, color="k")
    print(f"{labels[s]}: mean {a.mean():.1%}, worst chip {a.min():.1%}")
ax.set_xticks(range(len(acc)), [labels[s] for s in acc])
ax.set(ylabel="test accuracy (%)", ylim=(0, 102), title="10 chips with 20 % mismatch (line: mean)")
ax.axhline(100 / N_CLASSES, color="0.6", ls=":", lw=1)
plt.show()

# %% [markdown]
# The network trained on the nominal circuit keeps its accuracy on some chips and loses much
# of it on others; the one trained with mismatch holds up far better on the same chips.
# With a pool of 8 neurons per class (the quick start's network) both survive: pooling
# averages the mismatch of a class's neurons away. The quick start and
# `examples/frozen_noise.py` train with `mismatch=0.2` for this reason.

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
