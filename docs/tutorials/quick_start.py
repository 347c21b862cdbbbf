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
import warnings

import jax
import matplotlib.pyplot as plt
import numpy as np

from dynapse2 import DynapSim, Linear, Sequential, plot

t_start = time.time()
# dynapse2.train shows progress bars with tqdm.auto, which warns in a notebook without ipywidgets
warnings.filterwarnings("ignore", message="IProgress not found")

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
# sample. The task here is *frozen noise* (`dynapse2.datasets.frozen_noise`): each of the 4
# classes is one fixed random 20 Hz Poisson raster on 60 channels, and every sample is its
# class's raster with each spike jittered by 2 ms, 10 % of the spikes dropped and 2 Hz of
# spurious spikes added. It needs no download and trains in seconds. `train_test_split`
# holds out a fifth of the samples for testing.

# %%
from dynapse2.datasets import frozen_noise, train_test_split  # noqa: E402

N_CLASSES, N_IN, DURATION, DT = 4, 60, 0.5, 1e-3  # 60 channels, 0.5 s at 1 ms
x, y = frozen_noise(
    N_CLASSES, N_IN, DURATION, DT, rate=20.0, n_samples=200, key=0, jitter=2e-3, drop=0.1, add=2.0
)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, key=1)
T = x.shape[1]
print("train", x_train.shape, "test", x_test.shape, "labels", np.bincount(y_train))
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), sharey=True)
for ax, c in zip(axes, (0, 1), strict=True):
    plot.raster(
        x_train[np.flatnonzero(y_train == c)[0]], dt=DT, ax=ax, title=f"a sample of class {c}"
    )
axes[0].set_ylabel("input channel")
axes[1].set_ylabel("")
plt.show()

# %% [markdown]
# ## Step 1: build a network
#
# A `Linear` layer holds the trainable input weights (in units of the unit weight current
# `Iscale`, 10 nA by default); positive values drive the neurons' AMPA synapses and negative
# ones their GABA synapses. `DynapSim(n)` is a population of `n` neurons; `has_rec=True`
# would add recurrent weights. Modules are immutable JAX pytrees: every change returns a new
# module.
#
# Each class is read from a pool of 8 output neurons, so the network has 32 neurons.
# `groups` says which neurons share a parameter group, i.e. a core on the chip: here the
# pools of classes 0-1 go to one core and those of classes 2-3 to another. A neuron listens
# through at most 64 CAM entries, so 60 dense inputs fit; a recurrent population would need
# sparser connections (the [Beyond one core](beyond_one_core.ipynb) tutorial builds one).

# %%
POOL = 8  # output neurons per class
N = N_CLASSES * POOL
net = Sequential(
    Linear((N_IN, N), key=jax.random.PRNGKey(1)),
    DynapSim(N, dt=DT, groups=(0,) * (N // 2) + (1,) * (N // 2)),
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
out, state, rec = net(x_test[:4], record=True)
rates = np.asarray(out).sum(axis=1) / (T * DT)  # (sample, neuron), Hz
print("mean rate per sample (Hz):", np.round(rates.mean(axis=1), 1))
plot.raster(out[0], dt=DT, title=f"output spikes before training, a sample of class {y_test[0]}")
plt.show()

# %%
plot.traces(rec["1_DynapSim"], keys=("imem", "iampa", "igaba"), neurons=(0, 1), dt=DT)
plt.show()

# %% [markdown]
# ## Step 3: optimise
#
# Training adjusts the float parameters (here the input weights; circuit currents can be
# trained too, see `trainable=`) with gradient descent through the simulation. Spikes have
# no gradient, so a surrogate replaces it: a fast-sigmoid derivative of the distance of
# `imem` to threshold. The gradient through the neuron's exponential positive feedback is
# stopped by default (`detach_feedback=True`); without that, backpropagation through time
# explodes within a few epochs.
#
# The loss, `max_imem_loss(pool=8)`, is a cross-entropy on the log peak membrane current of
# each class's pool: the class whose neurons come closest to (or furthest past) threshold
# wins, which gives a gradient even before any neuron spikes. `fit` runs optax (here Adam)
# over mini-batches, projects the weights onto what the chip can hold after each step, and
# with `mismatch=0.2` simulates every step on a freshly drawn chip (20 % device mismatch),
# so the trained weights do not rely on one particular chip.

# %%
import optax  # noqa: E402

from dynapse2.train import Robustness, evaluate, fit, max_imem_loss  # noqa: E402

loss = max_imem_loss(pool=POOL)
print("untrained: test accuracy", f"{evaluate(net, x_test, y_test, loss)[1]:.0%}")
t0 = time.time()
net, history = fit(
    net,
    x_train,
    y_train,
    loss,
    optimizer=optax.adam(0.02),
    epochs=20,
    batch_size=32,
    key=jax.random.PRNGKey(2),
    robustness=Robustness(mismatch=0.2),  # a fresh 20 % mismatch draw every step
    validation=(x_test, y_test),
    progress=False,  # a progress bar (tqdm) in a terminal or notebook otherwise
)
print(f"trained {history.epochs} epochs in {time.time() - t0:.1f} s")
plot.training_history(history.to_dict())
plt.show()

# %% [markdown]
# The accuracy during training was measured on mismatched networks (one draw per step) and
# the validation accuracy on the nominal one. `evaluate` scores a network on a data set;
# with `mismatch=` and a `key` it first draws one chip. Ten draws of 20 % mismatch:

# %%
_, acc = evaluate(net, x_test, y_test, loss)
draws = [
    evaluate(net, x_test, y_test, loss, mismatch=0.2, key=jax.random.PRNGKey(100 + i))[1]
    for i in range(10)
]
print(f"test accuracy, nominal network: {acc:.1%}")
print("under 20 % mismatch, 10 draws:", " ".join(f"{a:.0%}" for a in draws))

out, _, rec = net(x_test[:1], record=True)
fig = plot.raster(
    out[0], dt=DT, title=f"output spikes after training, a sample of class {y_test[0]}"
)
for c in range(1, N_CLASSES):
    fig.axes[0].axhline(c * POOL - 0.5, color="0.7", lw=0.5)
fig.axes[0].set_ylabel("neuron (8 per class)")
plt.show()

# %% [markdown]
# ## Step 4: quantize the weights
#
# On the chip a neuron has at most 64 inputs (CAM entries), counting its feed-forward and
# recurrent ones together, and each core offers only the 16 sums of its 4 base currents.
# `quantize_weights` fits the 4 base currents of every core to the weights of that core's
# neurons, snaps them to what the bias generator can produce and gives each connection its
# 4-bit mask. A weight whose nearest level is 0 gets no CAM entry ("dropped").

# %%
from dynapse2.hardware import quantize_weights  # noqa: E402

pop = net[1]
core = np.asarray(pop.groups)  # the core (parameter group) of every neuron
w = np.asarray(net[0].weight)  # (60, 32) signed, units of Iscale
q = quantize_weights(w, core, pop.Iscale)
for k in range(q.base.shape[0]):
    print(
        f"core {k}: base currents (nA) {np.round(q.base[k] * 1e9, 3)}, "
        f"relative weight error {q.error[k]:.1%}"
    )
print("CAM entries used per neuron: at most", q.fan_in.max(), "of 64;", len(q.dropped), "dropped")
w_q = q.dequantize()
plot.weight_quantization(w, w_q, core, q.error)
plt.show()

# %% [markdown]
# The quantized network runs like any other: put the quantized weights back and evaluate.

# %%
net_q = net.set_attributes({"0_Linear": {"weight": w_q.astype(np.float32)}})
print(f"test accuracy with quantized weights: {evaluate(net_q, x_test, y_test, loss)[1]:.1%}")

# %% [markdown]
# ## Step 5: quantize the parameters
#
# Every circuit current of a core (time constants, gains, threshold, refractory period, ...)
# is one bias-generator (BG) setting: a coarse range (0..5) and a fine value (0..255).
# `quantize_parameters` chooses, for each core and parameter, the setting whose current is
# closest to the float value, and reports the relative error. Both cores ask for the same
# currents here (only weights were trained), so the table shows core 0.

# %%
from dynapse2 import CURRENTS  # noqa: E402
from dynapse2.hardware import quantize_parameters  # noqa: E402

table = quantize_parameters({name: getattr(pop, name) for name in CURRENTS}, core)
core0 = [s for s in table.settings if s.core == 0]
same = all(
    (s.coarse, s.fine) == (table.get(1, s.name).coarse, table.get(1, s.name).fine) for s in core0
)
print("core 1 has the same settings:", same)
plot.bias_table(core0, title="Bias-generator settings of core 0")
plt.show()
print("largest relative error:", f"{max(s.rel_error for s in table.settings):.2%}")

# %%
net_hw = net_q.set_attributes(
    {"1_DynapSim": {k: v.astype(np.float32) for k, v in table.currents().items()}}
)
print(
    "test accuracy with quantized weights and parameters:",
    f"{evaluate(net_hw, x_test, y_test, loss)[1]:.1%}",
)

# %% [markdown]
# ## Step 6: deploy
#
# `map_network` does steps 4 and 5 for a whole network and goes on to the chip: it places
# the neurons on chips and cores (a core per parameter group), allocates the tags that route
# spikes between them, and writes weights, bias values, CAM entries and SRAM destinations
# into a `Configuration`, a pure-Python mirror of samna's configuration tree with validation
# and a JSON form. It returns a `NetworkMapping`: the `config`, the `placement`, the
# quantized `network` that simulates exactly what the configuration holds, and per
# population the `weights` and `parameters` it chose.

# %%
from dynapse2.hardware import map_network  # noqa: E402

mapping = map_network(net)
print(mapping.summary())
pl = mapping.placement
plot.placement(
    pl.chip, pl.core, group=pl.index // POOL, group_names=[f"class {c}" for c in range(N_CLASSES)]
)
plt.show()

# %% [markdown]
# Each neuron's 60 input weights became CAM entries listening to the input channels' tags,
# and each neuron has an SRAM destination that sends its spikes to the host. The
# configuration saves to JSON and loads back unchanged:

# %%
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from dynapse2.hardware import Configuration  # noqa: E402

cfg = mapping.config
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "frozen_noise.json"
    cfg.save(path)
    print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} kB")
    loaded = Configuration.load(path)
print(loaded, "| equal to the saved one:", loaded == cfg)
core0 = loaded.chips[0].cores[0]
print(core0, "| a few BG settings:", {k: core0.parameters[k] for k in ("SOIF_LEAK_N", "SYAM_W0_P")})
neuron0 = core0.neurons[0]
print("neuron 0, first CAM entries:", *neuron0.synapses[:3], sep="\n  ")
print("neuron 0, SRAM destination to the host:", neuron0.destinations[0])
print("input channel 0 ->", loaded.input_map[0], "\noutput channel 0 <-", loaded.output_map[0])

# %% [markdown]
# ### The way back
#
# `network_from_config` reads a configuration (from a file, or from a board) and rebuilds
# the `Sequential(Linear, DynapSim)` that simulates what it holds, quantization included. It
# spikes exactly like `mapping.network`, and close to the float network it came from:

# %%
from dynapse2.hardware import network_from_config  # noqa: E402

rebuilt = network_from_config(loaded)
out_rebuilt = np.asarray(rebuilt(x_test)[0])
out_mapped = np.asarray(mapping.network(x_test)[0])
out_float = np.asarray(net(x_test)[0])
print(
    "rebuilt network spikes exactly like mapping.network:", np.array_equal(out_rebuilt, out_mapped)
)
print(f"time bins where rebuilt and float network agree: {np.mean(out_rebuilt == out_float):.2%}")
print(f"spikes on the test set: float {out_float.sum():.0f}, rebuilt {out_rebuilt.sum():.0f}")
for name, model in (("float", net), ("rebuilt from the configuration", rebuilt)):
    print(f"test accuracy, {name}: {evaluate(model, x_test, y_test, loss)[1]:.1%}")
fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), sharey=True)
plot.raster(out_float[0], dt=DT, ax=axes[0], title="float network")
plot.raster(out_rebuilt[0], dt=DT, ax=axes[1], title="rebuilt from the configuration")
plt.show()

# %% [markdown]
# ### On a board, or on a virtual one
#
# `net.to_hardware()` maps the network, opens a Dynap-SE2 board through samna, applies the
# configuration and returns a module that evolves on the board with the usual contract
# (`out, state, rec = board(x)`). Without samna or a board it raises
# `HardwareUnavailableError`, whose `reason` is `"missing"`, `"bootstrapper"` or
# `"no-board"` and whose message says what to do.
#
# `VirtualBoard` is an emulated Stack board behind the same interface:
# `net.to_hardware(VirtualBoard(...))` returns the same module, and every step of a board
# trial runs except the samna calls: the board simulates what the configuration holds (not
# the float network), the input raster travels as timed events routed by tag and core, the
# output spikes come back as events and are decoded. Like silicon, it has device mismatch of
# its own, drawn once from its seed and hidden from the user. Here it stands in for the
# board when none is connected:

# %%
from dynapse2.hardware import HardwareUnavailableError, VirtualBoard  # noqa: E402
from dynapse2.train import spike_count_loss  # noqa: E402

try:
    board = net.to_hardware()
except HardwareUnavailableError as err:
    print(f"HardwareUnavailableError (reason {err.reason!r}):\n{err}\n")
    print("No board connected: running on a VirtualBoard (an emulated Stack board with 20 % hidden")
    print("device mismatch of its own).")
    board = net.to_hardware(VirtualBoard(mismatch=0.2, seed=0))
count_loss = spike_count_loss(pool=POOL)  # a board reports spikes: read them by counts
for name, model in (("simulation of the configuration", rebuilt), ("board", board)):
    print(f"spike-count accuracy, {name}: {evaluate(model, x_test, y_test, count_loss)[1]:.1%}")
board.close()

# %% [markdown]
# The network was trained to be read out by the peak membrane current of its output pools,
# which a board does not report; read by spike counts it scores lower, in simulation and on
# the board alike. A network meant for a board is trained with a spike-based loss
# (`spike_count_loss`); the tutorial [From simulation to silicon](silicon.ipynb) trains one,
# measures what a board's mismatch costs and recovers it (calibration, chip-in-the-loop).
#
# To run on a real board:
#
# 1. Install a real samna build: `pip install samna==0.7.1.0` in a Python 3.10 environment
#    (newer samna releases on PyPI are bootstrappers that download the binary from the
#    vendor's index; see [Installation](../installation.md)).
#    `dynapse2.hardware.samna_status()` says what dynapse2 finds, without importing samna.
# 2. Connect the Dynap-SE2 Stack board over USB and power it; the FPGA needs its bitfile
#    after power-up: `net.to_hardware(bitfile="path/to/bitfile")`.
# 3. `board = net.to_hardware()` (or `to_hardware(net, device)` to pick one of several
#    boards), then `out, _, _ = board(x)`: inputs are sent as timed events, output events
#    come back as a raster of the same shape as the simulator's. `board.close()` releases it.
#
# Each chip differs from the nominal circuit by its own mismatch; the network here was
# trained under 20 % mismatch for that reason.

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
