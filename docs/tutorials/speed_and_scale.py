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
# # Speed and scale
#
# This tutorial simulates networks the size of several chips, runs long simulations in
# chunks of bounded memory, and spreads work over devices. Every result below is checked
# against a plain one-device run, spike for spike.
#
# - **Chip-shaped connectivity.** `SparseWeights` stores at most 64 inputs per neuron, as the
#   CAM of a Dynap-SE2 neuron does. Memory and time grow with neurons x 64, not neurons
#   squared. Spikes are driven event by event: each spike adds its fan-out.
# - **Long runs.** `evolve_chunked` carries the state exactly from one chunk to the next.
# - **Several devices.** `shard_batch` splits the batch and `shard_neurons` splits the
#   neurons (one block per device, spikes exchanged every step).
#
# On a CPU, XLA runs each step's element-wise work on one core. Exposing one host device per
# core lets each core take a share of the batch. That must happen before JAX starts, so it
# is the first cell. Importing `dynapse2` does not start JAX.

# %%
import os

import jax

CORES = min(len(os.sched_getaffinity(0)), 4)
jax.config.update("jax_num_cpu_devices", 2 * (CORES // 2) or 1)  # an even count when possible

import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dynapse2 import DynapSim, plot  # noqa: E402
from dynapse2.nn import evolve_chunked, neuron_mesh, shard_batch, shard_neurons  # noqa: E402
from dynapse2.nn.connectivity import SparseWeights  # noqa: E402

t_start = time.time()
print(jax.devices())

# %% [markdown]
# ## Four chips of chip-shaped connectivity
#
# 4096 neurons (four chips), each listening to 64 random neurons. Positive weights go to
# AMPA and negative weights to GABA, as `SparseWeights` entries (presynaptic index, synapse
# type, weight). The input is Poisson spikes at 20 Hz. The dense form of these weights
# would hold 16.7 million pairs. `SparseWeights` holds 262,144 entries.

# %%
N, FAN_IN, DT = 4096, 64, 1e-3
rng = np.random.default_rng(0)
pre = np.stack([rng.choice(N, FAN_IN, replace=False) for _ in range(N)])
w = rng.normal(0.0, 2.0, (N, FAN_IN))
weights = SparseWeights(pre, np.where(w > 0, 0, 2), np.abs(w))
net = DynapSim(N, has_rec=True, w_rec=weights, dt=DT)


def poisson(batch, steps, rate=20.0, seed=1):
    r = np.random.default_rng(seed)
    return (r.random((batch, steps, N)) < rate * DT).astype(np.float32) * 3.0


x = poisson(1, 1000)[0]  # (T, n): 1 s, unbatched
spikes = net(x)[0]  # compiles
t0 = time.perf_counter()
spikes = jax.block_until_ready(net(x)[0])
wall = time.perf_counter() - t0
print(f"1 s of {N} neurons in {wall * 1e3:.0f} ms ({1.0 / wall:.0f}x real time)")
print(f"mean rate {float(spikes.mean()) / DT:.1f} Hz from {w.size} CAM entries")
plot.raster(np.asarray(spikes)[:, :256], dt=DT, title="Spikes of the first 256 neurons")
plt.show()

# %% [markdown]
# ## A long run in chunks
#
# Ten seconds in chunks of one second. Each chunk's input is made on the fly by a
# generator, and only a running spike count is kept. Device memory stays at one chunk's.
# The state carries exactly, so the result equals one ten-second call.

# %%
counts = []
_, state, _ = evolve_chunked(
    net,
    (poisson(1, 1000, seed=10 + i)[0] for i in range(10)),
    keep=False,
    on_chunk=lambda out, rec: counts.append(float(out.sum())),
)
print("spikes per second of simulation:", [int(c) for c in counts])

whole = np.concatenate([poisson(1, 1000, seed=10 + i)[0] for i in range(10)])
one_call = net(whole)[1]
assert all(np.array_equal(np.asarray(state[k]), np.asarray(one_call[k])) for k in state)
print("final state equals one 10 s call: True")

# %% [markdown]
# ## The batch across devices
#
# `shard_batch` places the input with its batch axis split across the devices. The
# simulation then runs each device's batch elements on that device and returns arrays
# sharded the same way. The spikes are those of one device, bit for bit.

# %%
xb = poisson(8, 300, seed=3)
ref = np.asarray(net(xb)[0])
xs = shard_batch(xb)
out = net(xs)[0]
print("output devices:", len(out.sharding.device_set), "| spec:", out.sharding.spec)
assert np.array_equal(np.asarray(out), ref)
print("identical to one device: True")

# %% [markdown]
# ## The neurons across devices
#
# A network too large for one device can be split by neurons. With `shard_neurons`, each
# device holds one block of neurons: their state, currents, input and CAM entries, with
# presynaptic indices that stay global. Every step, each device gathers the previous
# step's spikes from all devices and computes its own block. A neuron here listens to
# neurons on every device, and the spikes are still those of one device.
#
# This pays on accelerators, for networks larger than one device's memory. On one CPU the
# host devices share the same cores, so it only adds the exchange.

# %%
mesh = neuron_mesh()
xn = shard_neurons(xb[:2], N, mesh)
out_n = net(xn)[0]
print("neuron blocks:", mesh.shape, "| spec:", out_n.sharding.spec)
assert np.array_equal(np.asarray(out_n), ref[:2])
print("identical to one device: True")

# %% [markdown]
# ## Where to go next
#
# `benchmarks/simulate.py` times one chip and 16 chips against Rockpool and sweeps neurons,
# batch and connectivity. `benchmarks/README.md` records the latest table and explains how
# the cost grows. Training uses the same modules: `dynapse2.train.fit` on a `DynapSim` with
# `SparseWeights` trains the entry weights. See the quick start for training.

# %%
print(f"tutorial ran in {time.time() - t_start:.0f} s")
