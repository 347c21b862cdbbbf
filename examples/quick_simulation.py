"""Simulate a small recurrent Dynap-SE2 network on the CPU and plot what it does.

Run:  python examples/quick_simulation.py   (writes quick_raster.png and quick_traces.png)
"""

import matplotlib

matplotlib.use("Agg")

import jax  # noqa: E402
import numpy as np  # noqa: E402

from dynapse2 import DynapSim, Linear, Sequential  # noqa: E402
from dynapse2.plot import raster, traces  # noqa: E402

N_IN, N, T, DT = 40, 64, 1000, 1e-3  # 40 input channels, 64 neurons, 1 s at 1 ms

rng = np.random.default_rng(0)
# Input: Poisson spike trains at 20 Hz per channel, shape (batch, T, channels)
x = (rng.random((1, T, N_IN)) < 20 * DT).astype(np.float32)

# Recurrent weights: sparse and signed (positive -> AMPA, negative -> GABA), in units of Iscale
w_rec = rng.normal(0.0, 1.0, (N, N)) * (rng.random((N, N)) < 0.1)

net = Sequential(
    Linear((N_IN, N), weight=rng.normal(1.0, 1.0, (N_IN, N)) * (rng.random((N_IN, N)) < 0.5)),
    DynapSim(N, has_rec=True, w_rec=w_rec, dt=DT, mismatch=0.1, key=jax.random.PRNGKey(0)),
)
print(net)

out, state, record = net(x, record=True)
rates = np.asarray(out[0]).sum(axis=0) / (T * DT)
print(f"firing rates (Hz): mean {rates.mean():.1f}, min {rates.min():.1f}, max {rates.max():.1f}")
print("first 8 neurons:", np.round(rates[:8], 1))

raster(out[0], dt=DT, title="DynapSim spikes").savefig("quick_raster.png", dpi=120)
traces(record["1_DynapSim"], neurons=(0, 1), dt=DT).savefig("quick_traces.png", dpi=120)
print("saved quick_raster.png and quick_traces.png")
