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
# # Beyond one core
#
# A Dynap-SE2 core holds 256 neurons that share one set of parameters; a chip has 4 cores,
# and a board tiles chips on a grid of up to 15 x 15. This tutorial maps a network that
# needs several cores and two chips, looks at what the mapper wrote (placement, tags, CAM
# entries, SRAM destinations, the input and output maps), and checks the round trip:
# configuration -> network spikes exactly like the mapped network.
#
# The rules the mapper follows (`dynapse2.hardware.mapper`):
#
# - **Placement.** Populations (the `DynapSim` layers of a `Sequential`) are placed one after
#   another. Every parameter group (`DynapSim(groups=...)`) of a population gets cores of its
#   own, at most 256 neurons per core; a larger group spans several cores. Cores fill in
#   order: chip 0 cores 0..3, then chip 1, ...
# - **Routing.** A neuron reaches the neurons of another chip through one SRAM destination
#   (tag, x/y hops to that chip, mask of the target cores); a neuron has 4. Each target
#   neuron listens with a CAM entry (tag, synapse type, 4-bit weight mask); it has 64.
# - **Tags.** A tag identifies a source *per receiving chip*: each chip numbers the sources
#   it hears 0, 1, 2, ... (input channels first), so a chip hears at most 2047 sources.
#   Output neurons get one more destination, toward the host, with a tag unique on the board.

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from dynapse2 import DynapSim, Linear, Sequential, default_currents, plot
from dynapse2.hardware import Configuration, map_network, network_from_config

t_start = time.time()
DT = 1e-3

# %% [markdown]
# ## A network on five cores
#
# 100 input channels drive a recurrent population of 384 neurons, 320 excitatory and 64
# inhibitory, which drives a readout population of 128 neurons. Connections are sparse, as
# the chip requires: each neuron of the first population hears 16 input channels and 24
# neurons of its own population; each readout neuron hears 40 neurons of the first
# population. The excitatory neurons (group 0, 320 neurons) need two cores, the inhibitory
# ones (group 1, with a faster membrane) a third; the readout has two groups of 64 neurons,
# one core each: five cores, so two chips. (Each group could have its own currents; here
# only the inhibitory neurons' membrane leak differs.)

# %%
rng = np.random.default_rng(0)
N_IN, N_EXC, N_INH, N_OUT = 100, 320, 64, 128
N_A = N_EXC + N_INH


def sparse(n_pre, n_post, k, mean, pre=None):
    """(n_pre, n_post) weights: each column gets k random presynaptic partners."""
    w = np.zeros((n_pre, n_post))
    pool = np.arange(n_pre) if pre is None else np.asarray(pre)
    for j in range(n_post):
        w[rng.choice(pool, k, replace=False), j] = rng.uniform(0.5, 1.5, k) * mean
    return w


w_in = sparse(N_IN, N_A, 16, 4.0)
w_rec = np.zeros((N_A, N_A, 4))  # typed: AMPA, NMDA, GABA, SHUNT
w_rec[..., 0] = sparse(N_A, N_A, 16, 1.0, pre=np.arange(N_EXC))  # excitatory -> all (AMPA)
w_rec[..., 2] = sparse(N_A, N_A, 8, 3.0, pre=np.arange(N_EXC, N_A))  # inhibitory -> all (GABA)
np.fill_diagonal(w_rec[..., 0], 0.0)
np.fill_diagonal(w_rec[..., 2], 0.0)
w_ab = sparse(N_A, N_OUT, 40, 1.0, pre=np.arange(N_EXC))

groups_a = (0,) * N_EXC + (1,) * N_INH
itau_mem = default_currents()["Itau_mem"] * np.where(np.asarray(groups_a) == 1, 2.0, 1.0)
net = Sequential(
    Linear((N_IN, N_A), weight=w_in),
    DynapSim(N_A, has_rec=True, w_rec=w_rec, groups=groups_a, Itau_mem=itau_mem, dt=DT),
    Linear((N_A, N_OUT), weight=w_ab),
    DynapSim(N_OUT, groups=(0,) * 64 + (1,) * 64, dt=DT),
)
print(net)
fan_in = np.count_nonzero(w_in, axis=0) + np.count_nonzero(w_rec.sum(axis=-1), axis=0)
print("inputs per neuron of the first population: at most", fan_in.max(), "of 64")

# %% [markdown]
# ## Placement
#
# `map_network` places, routes and quantizes in one call. Its `summary()` lists every core
# used; `plot.placement` draws each chip as its 4 cores of 16 x 16 neuron slots.

# %%
mapping = map_network(net)
print(mapping.summary())
pl = mapping.placement
kind = np.where(pl.layer == 1, 2, (pl.index >= N_EXC).astype(int))  # 0 exc, 1 inh, 2 readout
names = ["population A, excitatory", "population A, inhibitory", "population B (readout)"]
plot.placement(pl.chip, pl.core, group=kind, group_names=names)
plt.show()

# %% [markdown]
# Chips sit on a grid; by default the mapper puts them row-major on the smallest square, here
# chip 0 at (0, 0) and chip 1 at (1, 0). `positions=` places them elsewhere, e.g. one above
# the other; only the hops in the SRAM destinations change.

# %%
stacked = map_network(net, positions=[(0, 0), (0, 1)])
print(stacked.placement.summary())

# %% [markdown]
# ## Tags and routes
#
# The configuration holds, per chip, 4 cores of 256 neurons, each with 64 CAM entries and
# 4 SRAM destinations. An excitatory neuron on chip 0 talks to its own chip (the recurrent
# population and the first half of the readout, on core 3) and to chip 1 (the second half
# of the readout), so it uses two destinations, one per target chip, each with the mask of
# the cores it reaches there:

# %%
cfg = mapping.config
print(cfg)
for ci, chip in enumerate(cfg.chips):
    print(f"chip {ci} at {chip.position}:", *chip.cores, sep="\n  ")

g = int(np.flatnonzero((pl.layer == 0) & (pl.index == 5))[0])  # excitatory neuron 5
ch, co, ne = int(pl.chip[g]), int(pl.core[g]), int(pl.neuron[g])
neuron = cfg.chips[ch].cores[co].neurons[ne]
print(f"\n{pl.describe(g)}: SRAM destinations")
for d in neuron.destinations:
    if d.core_mask:
        print(f"  tag {d.tag:4d} -> hops ({d.x_hop:+d}, {d.y_hop:+d}), cores {d.core}")

# %% [markdown]
# A readout neuron on chip 1 listens to 40 excitatory neurons of chip 0. Its CAM entries
# hold the tags under which chip 1 hears them, the synapse type and the 4-bit mask that
# selects the core's base weights; it also has one destination, to the host, because it is
# an output neuron:

# %%
g = int(np.flatnonzero((pl.layer == 1) & (pl.chip == 1))[0])
ch, co, ne = int(pl.chip[g]), int(pl.core[g]), int(pl.neuron[g])
neuron = cfg.chips[ch].cores[co].neurons[ne]
active = [s for s in neuron.synapses if s.dendrite != "none"]
print(f"{pl.describe(g)}: {len(active)} CAM entries in use, the first five:")
for s in active[:5]:
    print(f"  tag {s.tag:4d}, {s.dendrite}, weight mask {s.weight_mask:04b}")
print("destinations:", *[d for d in neuron.destinations if d.core_mask], sep="\n  ")

# %% [markdown]
# The input map says where the host injects each input channel (chip, tag, target cores,
# hops); the output map which neuron stands behind each output channel, and the tag its
# events carry to the host:

# %%
print("input channel 0 ->", cfg.input_map[0])
print("output channels:", len(cfg.output_map))
for k in (0, 63, 64, 127):
    print(f"  output {k:3d} <- {cfg.output_map[k]}")

# %% [markdown]
# Tags are allocated per receiving chip: chip 0 hears the 100 input channels and its own
# 384 neurons' recurrent spikes; chip 1 hears the excitatory neurons that project to the
# readout. Counting the distinct tags in use on each chip:

# %%
for ci, chip in enumerate(cfg.chips):
    tags = set()
    for core in chip.cores:
        tags |= set(core.syn_tag[core.syn_dendrite != 0].tolist())
    print(f"chip {ci}: {len(tags)} distinct tags heard (of 2047)")

# %% [markdown]
# ## The round trip
#
# Save the configuration, load it, rebuild the network (`network_from_config`): the rebuilt
# network has the same populations, and spikes exactly like the network `map_network`
# returned. Mapping the rebuilt network again gives the same configuration.

# %%
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "two_chips.json"
    cfg.save(path)
    print(f"saved {path.name}: {path.stat().st_size / 1024:.0f} kB")
    loaded = Configuration.load(path)
rebuilt = network_from_config(loaded)
print(rebuilt)

x = (rng.random((2, 300, N_IN)) < 30 * DT).astype(np.float32)  # 30 Hz Poisson input
out_mapped = np.asarray(mapping.network(x)[0])
out_rebuilt = np.asarray(rebuilt(x)[0])
out_float = np.asarray(net(x)[0])
print("rebuilt spikes identical to the mapped network:", np.array_equal(out_mapped, out_rebuilt))
print("configuration of the rebuilt network identical:", map_network(rebuilt).config == loaded)
print(f"readout spikes: float {out_float.sum():.0f}, chip (quantized) {out_rebuilt.sum():.0f}")
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
plot.raster(out_float[0], dt=DT, ax=axes[0], title="readout, float network")
plot.raster(out_rebuilt[0], dt=DT, ax=axes[1], title="readout, rebuilt from the configuration")
plt.show()

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
