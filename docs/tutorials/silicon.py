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
# # From simulation to silicon
#
# A network trained in simulation meets a chip whose every transistor is a little off: on
# Dynap-SE2 the currents of one core's neurons spread by 20-30 %, frozen per chip. This
# tutorial deploys a network to a board, measures what that costs, and gets it back in three
# ways. With no board at hand it uses `VirtualBoard`, an emulated Stack board with hidden
# mismatch of its own; with a board, pass it to `to_hardware` instead and every cell runs
# the same.
#
# The recipe lives in `examples/silicon.py` (shared with `benchmarks/in_the_loop.py`): a
# 4-class frozen-noise task, a `Linear(60, 4) -> DynapSim(4)` network with one output neuron
# per class, read by spike counts, since a board reports spikes and nothing else.

# %%
import sys
import time
import warnings
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

sys.path.insert(0, str(Path.cwd() / "examples"))
import silicon as recipe  # noqa: E402

from dynapse2.hardware import VirtualBoard, calibrate, network_from_config, to_hardware  # noqa: E402
from dynapse2.train import evaluate, fit  # noqa: E402

t_start = time.time()
warnings.filterwarnings("ignore", message="IProgress not found")
data = recipe.make_data()
x_tr, y_tr, x_te, y_te = data
nominal = recipe.train(recipe.build_network(), data)
acc_sim = evaluate(nominal, x_te, y_te, recipe.LOSS)[1]
print(f"nominal training, simulated test accuracy: {acc_sim:.0%}")

# %% [markdown]
# ## Deploy and measure the drop
#
# `to_hardware(net, device=VirtualBoard(mismatch=0.2, seed=0))` quantizes and maps the
# network, applies the configuration to the board and returns a `DynapseBoard`, a module with
# the usual contract. The board simulates what the configuration holds, under its own
# mismatch, and exchanges timed events with the host as a real board does. `evaluate` runs
# on it like on any network.

# %%
board = VirtualBoard(mismatch=recipe.MISMATCH, seed=0)
hw = to_hardware(nominal, device=board)
print(f"test accuracy on the board: {evaluate(hw, x_te, y_te, recipe.LOSS)[1]:.0%}")
out_sim = np.asarray(network_from_config(hw.config)(jnp.asarray(x_te[:1]))[0][0])
out_board = hw(x_te[:1])[0][0]
fig, axes = plt.subplots(1, 2, figsize=(10, 2.5), sharey=True)
for ax, out, title in ((axes[0], out_sim, "simulation"), (axes[1], out_board, "board")):
    t, i = np.nonzero(out)
    ax.scatter(t * recipe.DT, i, s=12, marker="|", color="k")
    ax.set(xlabel="time (s)", title=f"{title}: a sample of class {y_te[0]}", yticks=range(4))
axes[0].set_ylabel("output neuron (class)")
plt.show()

# %% [markdown]
# ## (b) Calibrate: learn the board's mismatch
#
# `calibrate(hw)` probes the board as a user can: its own configurations (DC injection at
# several levels, AMPA and GABA spike trains), recording every neuron's rate, and fits per
# neuron the mismatch factors of a simulation that predicts the board. Its `.simulator`
# simulates the board; `.apply(net)` gives the network those factors, to retrain against
# them. The report compares the nominal and calibrated simulations on probes held out of the
# fit.

# %%
cal = calibrate(hw)
print(
    f"rate error on held-out probes: nominal {cal.report['nominal_error']:.1%}, "
    f"calibrated {cal.report['calibrated_error']:.1%} ({cal.report['neurons']} neurons, "
    f"{cal.report['seconds']:.1f} s)"
)
print(
    "test accuracy predicted by the calibrated simulator: "
    f"{evaluate(cal.simulator, x_te, y_te, recipe.LOSS)[1]:.0%}"
)
retrained = recipe.train(cal.apply(nominal), data, epochs=10, lr=0.01)
acc_b = recipe.on_board(retrained, board, data)
print(f"retrained on the calibrated simulation, on the board: {acc_b:.0%}")

# %% [markdown]
# ## (c) Chip in the loop
#
# `fit(net, x, y, loss, hardware=hw)` runs every batch on the board: the board's output
# spikes give the loss, the simulation of the same batch gives the gradient (straight
# through: the simulated spikes carry the board's values forward), and after each step the
# network is quantized, mapped and applied to the board again. The loss must read spikes
# only; membrane-current losses are refused.

# %%
hw = to_hardware(nominal, device=board)
tuned, history = fit(
    nominal, x_tr, y_tr, recipe.LOSS, optimizer=optax.adam(0.01), epochs=5, hardware=hw,
    progress=False,
)  # fmt: skip
print("board accuracy on the training batches, per epoch:", [f"{a:.0%}" for a in history.accuracy])
acc_c = evaluate(hw, x_te, y_te, recipe.LOSS)[1]
print(f"test accuracy on the board after 5 epochs in the loop: {acc_c:.0%}")

# %% [markdown]
# ## Five boards
#
# One board is one draw. The recipe repeats everything on 5 boards (seeds 0-4), with (a)
# mismatch-aware training (a fresh 20 % draw every step, one network for every board) beside
# (b) and (c).

# %%
rows = recipe.run(5)
print(recipe.table(rows))
means = [np.mean([100 * r[k] for r in rows]) for k in recipe.METHODS]
stds = [np.std([100 * r[k] for r in rows], ddof=1) for k in recipe.METHODS]
fig, ax = plt.subplots(figsize=(8, 3))
ax.bar(range(len(means)), means, yerr=stds, capsize=4, color=["0.6", "C3", "C0", "C1", "C2"])
for b in range(5):
    ax.scatter(
        range(len(means)), [100 * rows[b][k] for k in recipe.METHODS], s=8, color="k", zorder=3
    )
ax.set_xticks(range(len(means)), recipe.METHODS)
ax.set(
    ylabel="test accuracy (%)",
    ylim=(0, 105),
    title="5 virtual boards, 20 % mismatch (mean, std, each board)",
)
plt.show()

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
