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
# # Quick Start with Dynap-SE2
#
# This tutorial walks the whole path of the library once: define a task, build a network,
# simulate it, optimise it, fit it to what the chip can hold, and deploy it. Each step is
# short; the other tutorials go deeper into the neuron model (`neuron_zoo`) and into device
# mismatch (`mismatch`).
#
# ## The chip
#
# Dynap-SE2 is a mixed-signal neuromorphic processor: its neurons and synapses are analog
# circuits running in continuous time, while spikes travel between them as digital events.
#
# - **Neurons.** One chip has 4 cores of 256 neurons each (1024 in total). Every neuron is an
#   adaptive exponential integrate-and-fire circuit: a membrane current `imem` integrates its
#   input, a positive-feedback current makes it fire once it passes threshold, a refractory
#   period follows each spike, and an adaptation (AHP) current can slow it down.
# - **Synapses.** Each neuron listens through 64 CAM entries. An entry matches an 11-bit tag
#   and sends the event into one of 4 synapse types: AMPA (fast excitation), NMDA (slow,
#   voltage-gated excitation), GABA (subtractive inhibition) and SHUNT (shunting inhibition).
#   Each type is a DPI (differential-pair integrator) low-pass filter with its own time
#   constant and gain.
# - **Weights.** A core has 4 base weight currents; an entry's 4-bit mask chooses which of
#   them add up to its weight, so a core offers 16 weight magnitudes. The sign comes from the
#   synapse type.
# - **Parameters.** All neurons of a core share one parameter group (time constants, gains,
#   thresholds, refractory period, base weights), each value set by a bias generator as a
#   coarse (0..5) and a fine (0..255) number.
# - **Routing.** Each neuron sends its spikes through 4 SRAM destinations: a tag, a mask of
#   target cores and a hop of up to 7 chips in x and y, so chips tile a grid of up to
#   15 x 15.
#
# The library mirrors this: `DynapSim` simulates the circuits on a CPU or GPU with JAX, the
# training layer optimises the float parameters, and the hardware layer turns a network
# into what the chip holds (16 weight levels per core, coarse/fine bias values, 64 inputs
# per neuron) and writes it to a board through samna.

# %%
import time

import jax
import matplotlib.pyplot as plt
import numpy as np

from dynapse2 import DynapSim, Linear, Sequential, plot

t_start = time.time()

# %% [markdown]
# ## How the simulation works
#
# `DynapSim` integrates the circuit equations with forward Euler,
# $y_{n+1} = y_n + \Delta t\, f(y_n)$, at a fixed step `dt` (1 ms by default). Forward Euler
# is accurate only when every time constant is much longer than the step; the library asks
# for $\tau \geq 10\,\Delta t$. The cell below integrates a plain decay $dy/dt = -y/\tau$
# with $\tau = 10$ ms: at $\Delta t = \tau/10$ Euler follows the exact curve, at
# $\Delta t = 1.5\,\tau$ it overshoots through zero, and beyond $2\tau$ it diverges.

# %%
tau = 10e-3
fig, ax = plt.subplots(figsize=(6, 3))
t_fine = np.linspace(0, 0.1, 400)
ax.plot(t_fine, np.exp(-t_fine / tau), "k", lw=2, label="exact")
for dt_demo in (tau / 10, 0.5 * tau, 1.5 * tau, 2.2 * tau):
    steps = int(0.1 / dt_demo) + 1
    y = (1 - dt_demo / tau) ** np.arange(steps)  # forward Euler, y0 = 1
    ax.plot(np.arange(steps) * dt_demo, y, "o-", ms=3, label=f"Euler, dt = {dt_demo / tau:.1f} tau")
ax.set(xlabel="time (s)", ylabel="y", ylim=(-2, 2), title="Forward Euler on dy/dt = -y / tau")
ax.legend(fontsize="small")
plt.show()

# %% [markdown]
# `DynapSim` checks every time constant against `dt` when it is built and refuses a step that
# is too long, naming the offending time constant and what to change:

# %%
try:
    DynapSim(4, dt=5e-3)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Step 0: define a task
#
# Inputs are spike rasters of shape `(batch, time, channels)`; targets are one label per
# sample. The task here is *frozen noise*: each class is one fixed random Poisson raster, and
# the network must tell the classes apart. It needs no data download and trains in seconds.

# %%
# TODO: switch to dynapse2.datasets.frozen_noise once the training branch lands on main.
N_IN, N, T, N_CLASSES, DT = 40, 16, 500, 4, 1e-3  # 40 channels, 16 neurons, 0.5 s at 1 ms
rng = np.random.default_rng(0)
x = (rng.random((N_CLASSES, T, N_IN)) < 20 * DT).astype(np.float32)  # 20 Hz Poisson
y = np.arange(N_CLASSES)
print("inputs", x.shape, "targets", y)
plot.raster(x[0], dt=DT, title="class 0 input")
plt.show()

# %% [markdown]
# ## Step 1: build a network
#
# A `Linear` layer holds the trainable input weights (in units of the unit weight current
# `Iscale`, 10 nA by default); positive values drive the neurons' AMPA synapses and negative
# ones their GABA synapses. `DynapSim(n, has_rec=True)` is a population of `n` neurons with
# recurrent weights. Modules are immutable JAX pytrees: every change returns a new module.

# %%
net = Sequential(
    Linear((N_IN, N), key=jax.random.PRNGKey(1)),
    DynapSim(N, has_rec=True, dt=DT),
)
print(net)
print("membrane time constant (ms):", np.round(np.asarray(net[1].tau_mem[:4]) * 1e3, 2))

# %% [markdown]
# ## Step 2: simulate
#
# Calling a module runs it: `out, state, rec = net(x, record=True)`. `out` holds the output
# spikes `(batch, time, neurons)`, `state` the final state of every module and `rec` every
# state trace, per module: `imem`, `vmem`, the four synaptic currents, `iahp` and `spikes`.

# %%
out, state, rec = net(x, record=True)
rates = np.asarray(out).sum(axis=1) / (T * DT)  # (class, neuron), Hz
print("mean rate per class (Hz):", np.round(rates.mean(axis=1), 1))
plot.raster(out[0], dt=DT, title="output spikes, class 0")
plt.show()

# %%
plot.traces(rec["1_DynapSim"], keys=("imem", "iampa", "igaba"), neurons=(0, 1), dt=DT)
plt.show()

# %% [markdown]
# ## Step 3: optimise
#
# Training adjusts the float parameters (here the input weights, and optionally the
# recurrent weights and circuit currents) with gradient descent through the simulation.
# Spikes have no gradient, so a surrogate replaces it: a fast-sigmoid derivative of the
# distance of `imem` to threshold. The gradient through the neuron's exponential positive
# feedback is stopped by default (`detach_feedback=True`); without that, backpropagation
# through time explodes within a few epochs.
#
# *(This step lands with the training issue: `dynapse2.train.fit` and
# `dynapse2.datasets.frozen_noise`, branch `train`. Until then the steps below quantize the
# untrained network.)*

# %% [markdown]
# ## Step 4: quantize the weights
#
# On the chip a neuron has at most 64 inputs (CAM entries), counting its feed-forward and
# recurrent ones together, and each core offers only the 16 sums of its 4 base currents.
# `quantize_weights` fits the 4 base currents of every core to the weights of that core's
# neurons, snaps them to what the bias generator can produce and gives each connection its
# 4-bit mask. Here the 40 input and 16 recurrent weights of each neuron (56 entries) fit in
# the 64 CAM entries.

# %%
from dynapse2.hardware.weights import quantize_weights  # noqa: E402

pop = net[1]
core = np.asarray(pop.groups)  # the core (parameter group) of every neuron
w_rec_signed = np.asarray(pop.w_rec[..., 0] - pop.w_rec[..., 2])  # AMPA minus GABA
w = np.concatenate([np.asarray(net[0].weight), w_rec_signed])  # (n_in + n, n)
q = quantize_weights(w, core, pop.Iscale)
print("base currents of core 0 (nA):", np.round(q.base[0] * 1e9, 3))
print("CAM entries used per neuron:", q.fan_in.max(), "of 64")
w_q = q.dequantize()
plot.weight_quantization(w, w_q, core, q.error)
plt.show()

# %% [markdown]
# The quantized network runs like any other: put the quantized weights back and simulate.

# %%
w_in_q, w_rec_q = w_q[:N_IN], w_q[N_IN:]
net_q = net.set_attributes(
    {
        "0_Linear": {"weight": w_in_q},
        "1_DynapSim": {
            "w_rec": np.stack(
                [
                    np.maximum(w_rec_q, 0),
                    np.zeros_like(w_rec_q),
                    np.maximum(-w_rec_q, 0),
                    np.zeros_like(w_rec_q),
                ],
                axis=-1,
            )
        },
    }
)
out_q, _, _ = net_q(x)
rates_q = np.asarray(out_q).sum(axis=1) / (T * DT)
print("mean rate per class, float vs quantized weights (Hz):")
print(np.round(rates.mean(axis=1), 1), np.round(rates_q.mean(axis=1), 1))

# %% [markdown]
# ## Step 5: quantize the parameters
#
# Every circuit current of a core (time constants, gains, threshold, refractory period, ...)
# is one bias-generator setting: a coarse range and a fine value. `quantize_parameters`
# chooses, for each core and parameter, the setting whose current is closest to the float
# value, and reports the relative error.

# %%
from dynapse2 import CURRENTS  # noqa: E402
from dynapse2.hardware.bias import quantize_parameters  # noqa: E402

table = quantize_parameters({name: getattr(pop, name) for name in CURRENTS}, core)
plot.bias_table([s for s in table.settings if s.name.startswith(("Itau", "Igain_mem", "Iref"))])
plt.show()
print("largest relative error:", f"{max(s.rel_error for s in table.settings):.2%}")

# %%
net_hw = net_q.set_attributes(
    {"1_DynapSim": {k: v.astype(np.float32) for k, v in table.currents().items()}}
)
out_hw, _, _ = net_hw(x)
rates_hw = np.asarray(out_hw).sum(axis=1) / (T * DT)
print("mean rate per class with quantized weights and parameters (Hz):")
print(np.round(rates_hw.mean(axis=1), 1))

# %% [markdown]
# ## Step 6: deploy
#
# Deployment maps the neurons onto chips and cores, allocates the tags that route spikes
# between them, writes weights and bias values into a `Configuration` (a pure-Python mirror
# of samna's configuration tree, with validation and a JSON form) and applies it to a board
# through samna. The way back reads a configuration and rebuilds the `DynapSim` network that
# simulates exactly what the silicon holds.
#
# *(This step lands with the hardware mapping issue: `config_from_network`,
# `network_from_config` and `net.to_hardware()`, branch `hw2`.)* The configuration tree it
# writes into is already here:

# %%
from dynapse2.hardware.config import Configuration  # noqa: E402

cfg = Configuration.reset(n_chips=1)
print(cfg)

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
