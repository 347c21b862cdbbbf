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
# # Bring your network
#
# Most spiking networks are trained in a general-purpose library: snnTorch, Norse, spyx,
# Rockpool, lava-dl. Those libraries hand their networks to hardware through the
# **Neuromorphic Intermediate Representation** (NIR, the `nir` package): a graph of
# neuron nodes (`LIF`, `CubaLIF`, `LI`, ...) and weight nodes (`Affine`, `Linear`, ...) with
# their parameters in continuous time. `dynapse2.nir` reads such a graph onto Dynap-SE2 and
# writes a dynapse2 network back out.
#
# This page imports a network trained in **snnTorch** and exported with snnTorch's own
# `export_to_nir`, looks at what the import approximated, runs it, fine-tunes it for device
# mismatch, maps it onto the chip and exports it back to NIR. The graph ships with the
# repository (`tests/data/nir/snntorch_ff_s0.nir`, made by
# `benchmarks/nir_exporters/make_graphs.py`), so this page needs neither torch nor snnTorch.
#
# The task is frozen noise: 4 classes, each a fixed Poisson raster on 30 channels, 100 steps,
# perturbed per sample (jitter, dropped and added spikes). The network is
# `Linear(30, 32) -> Synaptic -> Linear(32, 4) -> Synaptic` and classifies by the output
# spike counts. It was trained as one would for Dynap-SE2: reset to zero (what the NIR graph
# states and the DPI does), weights within +-0.3 (a core's weights share 4 base currents),
# and rate penalties that keep the spikes sparse.

# %%
import json
import time

import jax
import nir
import numpy as np

from dynapse2.hardware import map_network, network_from_config, source_rates
from dynapse2.nir import from_nir, to_nir
from dynapse2.nir.reference import simulate
from dynapse2.train import Robustness, fit, spike_count_loss, with_mismatch

t_start = time.perf_counter()
DATA = "tests/data/nir"
d = np.load(f"{DATA}/frozen_noise.npz")
x_train, y_train = d["x_train"].astype(np.float32), d["y_train"]
x_test, y_test = d["x_test"].astype(np.float32), d["y_test"]
exporter = json.load(open(f"{DATA}/exporters.json"))["snntorch_ff_s0"]
print("train", x_train.shape, "test", x_test.shape)
print(f"accuracy in snnTorch before export: {100 * exporter['test_accuracy']:.1f} %")

# %% [markdown]
# ## The graph
#
# `nir.read` gives the graph as snnTorch wrote it. snnTorch's exporter writes its decay
# factors as time constants with a hard-coded step `dt = 1e-4` s, `tau = dt / (1 - beta)`,
# and scales `r = tau_mem / dt` and `w_in = tau_syn / dt` so that, with a spike counted as 1
# for one step, the graph behaves as the snnTorch network did. **NIR stores no `dt`**: the
# importer must be told the exporter's step, or every time constant and weight means
# something else. spyx writes the same network differently (r = beta, no w_in): import its
# graphs with `from_nir(..., convention="spyx")`, which reads them as spyx ran them.

# %%
graph = nir.read(f"{DATA}/snntorch_ff_s0.nir")
for name, node in graph.nodes.items():
    kind = type(node).__name__
    if kind == "CubaLIF":
        print(f"{name:7s} {kind:8s} tau_syn {node.tau_syn[0] * 1e3:.1f} ms, tau_mem "
              f"{node.tau_mem[0] * 1e3:.1f} ms, r {node.r[0]:.0f}, w_in {node.w_in[0]:.0f}, "
              f"v_threshold {node.v_threshold[0]:g}")  # fmt: skip
    elif kind in ("Linear", "Affine"):
        w = np.abs(node.weight).max()
        print(f"{name:7s} {kind:8s} weight {node.weight.shape}, |w| <= {w:.2f}")
    else:
        print(f"{name:7s} {kind}")
print("edges:", graph.edges)

# %% [markdown]
# ## Import
#
# `from_nir(path, dt=..., convention="snntorch")` builds a `Sequential` of `Linear` and
# `DynapSim` layers (the convention checks that `dt` is snnTorch's 1e-4 s). Each
# `CubaLIF` becomes a population of Dynap-SE2 neurons on the chip's **thresholded soma**
# (`DynapSim(positive_feedback=False)`, the per-neuron latch `soif_type`): without the
# exponential positive feedback the DPI soma is a leaky integrator over its whole range, so
# a LIF maps onto it. Time constants come from the DPI's linear regime (tau = C U_T / (kappa
# I_tau)), the threshold is 4 nA, and the weights are scaled so that a spike moves the
# membrane current as it moved the NIR potential. The populations run the
# `ExponentialEuler` solver: a spike falls inside the step and the neuron integrates again
# from the next step, as the NIR LIF does. The report says how the parameters were read and,
# per node, what it became and what was approximated.

# %%
net, report = from_nir(f"{DATA}/snntorch_ff_s0.nir", dt=1e-4, convention="snntorch", report=True)
print(net)
print()
print(report)


# %% [markdown]
# ## Evaluate
#
# Three views of the same network on the test set: the accuracy snnTorch measured, a
# float64 simulation of the graph in NIR's own semantics (`dynapse2.nir.reference.simulate`,
# written from the NIR specification, independently of the import), and the imported
# DynapSim network. The per-layer firing rates compare the import with the NIR semantics.


# %%
def evaluate(net, x=x_test, y=y_test):
    """Accuracy (argmax of output spike counts) and mean rate (Hz) of each DynapSim layer."""
    out, _, rec = net(x, record=True)
    layers = sorted((k for k in rec if k.endswith("_DynapSim")), key=lambda k: int(k.split("_")[0]))
    rates = [float(np.asarray(rec[k]["spikes"]).mean() / 1e-4) for k in layers]
    return float((np.asarray(out).sum(axis=1).argmax(axis=1) == y).mean()), rates


ref = simulate(graph, x_test, dt=1e-4)
ref_acc = float((ref["output"].sum(axis=1).argmax(axis=1) == y_test).mean())
ref_rates = [float(ref[k].mean() / 1e-4) for k in ref if k != "output"]
acc, rates = evaluate(net)
print(f"accuracy: snnTorch {100 * exporter['test_accuracy']:.1f} %, NIR semantics "
      f"{100 * ref_acc:.1f} %, imported {100 * acc:.1f} %")  # fmt: skip
_, euler_rates = evaluate(from_nir(f"{DATA}/snntorch_ff_s0.nir", dt=1e-4, solver="euler"))
for i, (a, b, e) in enumerate(zip(ref_rates, rates, euler_rates, strict=True)):
    print(f"layer {i}: NIR semantics {a:6.1f} Hz, imported {b:6.1f} Hz ({100 * (b / a - 1):+.1f} "
          f"%), with Euler {e:6.1f} Hz ({100 * (e / a - 1):+.1f} %)")  # fmt: skip

# %% [markdown]
# The accuracy and the rates carry over (the rates are in NIR time: snnTorch's step is
# 0.1 ms, so 100 Hz is one spike every 100 steps). Two things make the rates follow. The
# solver: with forward Euler (`from_nir(..., solver="euler")`) a DPI neuron loses a whole
# step after each spike and restarts from I_0 by forward steps, so a layer fires ~25-50 %
# below the NIR rate; `ExponentialEuler` puts the spike inside the step and integrates the
# restart exactly. And the network: neurons that the NIR LIF lets fire at every step (a
# strong drive after a reset to 0) are where any step-based neuron differs most. What is
# left in the hidden layer (~10 % more spikes) is the chip's floor: NIR lets an inhibited
# neuron's potential sink below v_leak, while the DPI's membrane current stops at I_0, where
# v_leak maps, so the neuron recovers sooner. `benchmarks/README.md` (section NIR) has the
# figures for three seeds of snnTorch and spyx networks, recurrent ones and a bursting one,
# and measures why no mapping can lift that floor (the chip resets to I_0).
#
# ## Fine-tune for device mismatch
#
# Every chip differs from the nominal model: each current and capacitance of each neuron is
# off by some 20 %. On simulated chips (`with_mismatch`) the imported network loses some
# accuracy. A few epochs of training with a fresh mismatch draw every step
# (`fit(..., robustness=Robustness(mismatch=0.2))`, the weights trained) make it robust to
# the chips it will meet. The import keeps every weight within 15 unit weights (`fit`'s
# default bound and what the base weights hold), raising a population's `Iscale` where
# needed.
#
# The gradient runs through the imported network's `ExponentialEuler` steps as they are
# simulated; a training step costs about twice Euler's (`benchmarks/README.md`, solvers).

# %%
chips = [jax.random.PRNGKey(100 + i) for i in range(5)]


def on_chips(net):
    return np.array([evaluate(with_mismatch(net, k, 0.2))[0] for k in chips])


before = on_chips(net)
tuned, history = fit(net, x_train, y_train, spike_count_loss(), epochs=15, batch_size=50,
                     robustness=Robustness(mismatch=0.2), key=jax.random.PRNGKey(0),
                     progress=False)  # fmt: skip
after = on_chips(tuned)
print(f"5 chips at 20 % mismatch: imported {100 * before.mean():.1f} ± "
      f"{100 * before.std():.1f} %, fine-tuned {100 * after.mean():.1f} ± "
      f"{100 * after.std():.1f} %")  # fmt: skip
print(f"fine-tuned, nominal chip: {100 * evaluate(tuned)[0]:.1f} %")

# %% [markdown]
# ## Map onto the chip
#
# `map_network` quantizes the currents to the bias generators' settings and the weights to
# the 16 levels a core offers, places the populations on cores and writes the configuration;
# `network_from_config` reads the configuration back as the network the chip runs (the
# readout of the `soif_type` latch included).
#
# A core's 16 levels are shared by all its weights. Fitted to the weights' values alone,
# they serve the many large weights and may drop the small ones, even those of neurons that
# fire most. `activity=` gives `map_network` the sources' rates (`source_rates` simulates
# the network once, here on the training data): the levels are then fitted where the drive
# is, and the rounding keeps each neuron's mean drive. On this network both read the same;
# on one of the ten exported graphs of `benchmarks/nir_fidelity.py` the plain fit lost
# 10 points and the activity-weighted one none (`benchmarks/README.md`).

# %%
mapping = map_network(tuned, activity=source_rates(tuned, x_train))
print(mapping.summary())
chip_net = network_from_config(mapping.config)
plain_net = network_from_config(map_network(tuned).config)
print(f"on the chip (quantized): {100 * evaluate(chip_net)[0]:.1f} % "
      f"(without activity: {100 * evaluate(plain_net)[0]:.1f} %)")  # fmt: skip

# %% [markdown]
# ## Export back to NIR
#
# `to_nir` writes each population as a `CubaLIF` (the inverse of the import mapping, which
# other tools can read) and keeps the exact DynapSim parameters in the nodes' metadata, so
# that `from_nir` rebuilds the network bit for bit.

# %%
nir.write("/tmp/bring_your_network.nir", to_nir(tuned))
back = nir.read("/tmp/bring_your_network.nir")
print({k: type(v).__name__ for k, v in back.nodes.items()})
again = from_nir("/tmp/bring_your_network.nir", dt=1e-4)
same = np.array_equal(np.asarray(again(x_test)[0]), np.asarray(tuned(x_test)[0]))
print("round trip spike-identical:", same)
print(f"page run time {time.perf_counter() - t_start:.0f} s")
