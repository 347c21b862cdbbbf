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
# # Neuron zoo: what each circuit of a Dynap-SE2 neuron does
#
# Each experiment below builds a few `DynapSim` neurons that differ in one current, feeds them
# a hand-made input and plots what changes. Inputs to `DynapSim` can be *typed*: an array
# `(T, n, 4)` of weighted events per synapse type (AMPA, NMDA, GABA, SHUNT), in units of the
# unit weight current `Iscale` (10 nA). All currents are in A, times in s.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from dynapse2 import DynapSim, plot

t_start = time.time()
DT = 1e-3
AMPA, NMDA, GABA, SHUNT = range(4)


def pulse_input(T, n, t, weights):
    """(T, n, 4) typed input: at step t, neuron j receives weights[j] = (type, weight)."""
    x = np.zeros((T, n, 4), np.float32)
    for j, (syn, w) in enumerate(weights):
        x[t, j, syn] = w
    return x


# %% [markdown]
# ## The four synapse types
#
# Four neurons each receive one event of weight 0.05 (0.5 nA weight current) at 200 ms, on a
# different synapse type. A small DC current (`Idc` = 10 pA) holds the membrane current a
# little above rest so that inhibition has something to remove.
#
# - **AMPA** adds its current to the soma's input: a fast excitatory bump.
# - **NMDA** also excites, but through a voltage gate (next section): from near rest it
#   barely moves the membrane.
# - **GABA** subtracts its current from the input: subtractive inhibition.
# - **SHUNT** adds its current to the leak of the membrane, which both subtracts from the
#   input and divides the membrane current (shunting inhibition).

# %%
T, t_in = 400, 200
names = ("AMPA", "NMDA", "GABA", "SHUNT")
x = pulse_input(T, 4, t_in, [(s, 0.05) for s in range(4)])
net = DynapSim(4, Idc=1e-11, dt=DT)
_, _, rec = net(x, record=True)
syn_keys = ("iampa", "inmda", "igaba", "ishunt")

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.2))
plot.synapse_responses(
    {nm: np.asarray(rec[k])[:, j] for j, (nm, k) in enumerate(zip(names, syn_keys, strict=True))},
    dt=DT,
    ax=ax0,
    title="synaptic current of the stimulated type",
)
plot.synapse_responses(
    {nm: np.asarray(rec["imem"])[:, j] for j, nm in enumerate(names)},
    dt=DT,
    ax=ax1,
    title="membrane current imem",
)
ax0.set_xlim(0.15, 0.4)
ax1.set_xlim(0.15, 0.4)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## NMDA below and above its gate
#
# NMDA reaches the soma through a smooth gate, $I_{nmda}/(1 + I_{f,nmda}/I_{mem})$: it passes
# only once the membrane current exceeds the gate current $I_{f,nmda}$ (`If_nmda`,
# bias `DENM_NMREV_N`). This makes NMDA a coincidence detector: it counts when the neuron is
# already depolarised. Here two neurons rest at the same membrane current (about 40 pA) and
# receive the same NMDA event; one has the default gate of 1 nA (the membrane is below the
# gate), the other a gate of 5 pA (the membrane is above it).

# %%
x = pulse_input(T, 2, t_in, [(NMDA, 0.05), (NMDA, 0.05)])
net = DynapSim(2, Idc=1e-11, If_nmda=[1e-9, 5e-12], dt=DT)
_, _, rec = net(x, record=True)
imem = np.asarray(rec["imem"])
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.2))
plot.synapse_responses(
    {
        "imem below the gate (If_nmda = 1 nA)": imem[:, 0],
        "imem above the gate (If_nmda = 5 pA)": imem[:, 1],
    },
    dt=DT,
    ax=ax0,
    title="same NMDA event, two gates",
)
ax0.set_xlim(0.15, 0.4)
i_mem = np.geomspace(1e-13, 1e-7, 200)
for i_f in (5e-12, 1e-9):
    ax1.semilogx(i_mem, 1 / (1 + i_f / i_mem), label=f"If_nmda = {i_f:.0e} A")
ax1.set(xlabel="imem (A)", ylabel="fraction of I_nmda that passes", title="NMDA gate")
ax1.legend(fontsize="small")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Time constants and gains
#
# Every DPI filter has $\tau = C\,U_T / (\kappa\, I_\tau)$: the leak current `Itau_*` sets the
# time constant (doubling it halves $\tau$), and the gain current `Igain_*` scales the
# amplitude, since a pulse charges the synapse toward $(I_{gain}/I_\tau)\,I_w$. The
# properties `tau_ampa`, `tau_mem`, ... give the time constant of every neuron.

# %%
itau = DynapSim(1).Itau_ampa[0]
variants = {
    "Itau x 0.5": {"Itau_ampa": 0.5 * itau},
    "nominal": {},
    "Itau x 2": {"Itau_ampa": 2 * itau},
    "Igain x 0.3": {"Igain_ampa": 0.3 * DynapSim(1).Igain_ampa[0]},
}
DT_FINE = 0.5e-3  # tau_ampa = 5 ms needs dt <= 0.5 ms (tau >= 10 dt)
T = 300
x = pulse_input(T, 1, 40, [(AMPA, 0.05)])
resp = {}
for label, kw in variants.items():
    net = DynapSim(1, dt=DT_FINE, **kw)
    _, _, rec = net(x, record=True)
    tau_ms = float(net.tau_ampa[0]) * 1e3
    resp[f"{label}: tau_ampa = {tau_ms:.0f} ms"] = np.asarray(rec["iampa"])[:, 0]
plot.synapse_responses(resp, dt=DT_FINE, log=False, title="AMPA current after one event")
plt.show()

net = DynapSim(1)
for name in ("tau_ampa", "tau_nmda", "tau_gaba", "tau_shunt", "tau_mem", "tau_ahp"):
    print(f"{name:10s} {float(getattr(net, name)[0]) * 1e3:6.1f} ms")
print(f"{'t_ref':10s} {float(net.t_ref[0]) * 1e3:6.1f} ms")
print(f"{'t_pulse':10s} {float(net.t_pulse[0]) * 1e6:6.1f} us")

# %% [markdown]
# ## f-I curve and refractoriness
#
# A DC current `Idc` drives each neuron; sweeping it gives the firing rate as a function of
# input current. After every spike the neuron is held at rest for the refractory period
# $t_{ref} = C_{ref} V_{th} / I_{ref}$, so the rate cannot exceed $1/t_{ref}$; a smaller
# `Iref` lengthens $t_{ref}$ and bends the curve down earlier.

# %%
idc = np.geomspace(1e-11, 3e-8, 16)
T = 1000
fig, ax = plt.subplots(figsize=(6, 3.5))
for t_ref in (1e-3, 5e-3, 20e-3):
    net = DynapSim(idc.size, Idc=idc, Iref=1.5e-12 * 0.7 / t_ref, dt=DT)
    out, _, _ = net(np.zeros((T, idc.size), np.float32))
    rates = np.asarray(out).sum(axis=0) / (T * DT)
    plot.fi_curve(idc, rates, ax=ax, label=f"t_ref = {t_ref * 1e3:.0f} ms")
ax.set_xscale("log")
plt.show()

# %% [markdown]
# ## Spike-frequency adaptation
#
# The AHP circuit is a DPI charged by the neuron's own spikes (weight `Iw_ahp`, time constant
# `tau_ahp` = 50 ms) whose current adds to the membrane's leak. Under a constant drive it
# builds up and lengthens the inter-spike intervals. It is off by default (`Iw_ahp` at the
# leakage floor), as the chip's adaptation latch.

# %%
T = 1000
net = DynapSim(2, Idc=2e-9, Iw_ahp=[5e-13, 1e-9], dt=DT)
out, _, rec = net(np.zeros((T, 2), np.float32), record=True)
out = np.asarray(out)
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.2))
for j, label in enumerate(("no adaptation", "Iw_ahp = 1 nA")):
    t_spk = np.flatnonzero(out[:, j]) * DT
    ax0.plot(t_spk[1:], 1 / np.diff(t_spk), "o-", ms=3, label=label)
ax0.set(xlabel="time (s)", ylabel="instantaneous rate (Hz)", title="rate under constant Idc = 2 nA")
ax0.legend(fontsize="small")
plot.synapse_responses(
    {"iahp, Iw_ahp = 1 nA": np.asarray(rec["iahp"])[:, 1]},
    dt=DT,
    ax=ax1,
    title="adaptation current",
)
fig.tight_layout()
plt.show()
print("spike counts in 1 s:", out.sum(axis=0))

# %% [markdown]
# ## Linear and full DPI pulse models
#
# An input event opens the synapse for a pulse of about 10 µs. `DynapSim` offers two ways to
# apply that pulse:
#
# - `synapse_model="linear"` (default) uses the closed form of the DPI in its linear regime
#   (input and synaptic currents well above the leak and the gain): the current jumps by
#   about $(I_{gain}/I_\tau)\,I_w\,t_{pulse}/\tau$, proportional to the weight.
# - `synapse_model="full"` integrates the complete DPI equation through the pulse. From rest
#   ($I_{syn} \ll I_{gain}$) that equation grows *multiplicatively*,
#   $dI/dt \approx (I/\tau)(I_w/I_\tau - 1)$, so a small weight multiplies the tiny resting
#   current by a factor near 1 and leaves almost no trace, where the linear form jumps by an
#   amount proportional to the weight. Only large weights (around 1 µA) give comparable jumps.
#
# The linear form is what most simulators use and the default here; the full one is the
# more faithful picture of the circuit at small weights. Both decay identically between
# events.

# %%
weights = np.geomspace(1e-3, 100, 11)  # units of Iscale = 10 nA: 10 pA .. 1 uA
T = 60
x = np.zeros((T, weights.size, 4), np.float32)
x[10, :, AMPA] = weights
peaks, trace = {}, {}
for model in ("linear", "full"):
    net = DynapSim(weights.size, synapse_model=model, dt=DT)
    _, _, rec = net(x, record=True)
    iampa = np.asarray(rec["iampa"])
    peaks[model] = iampa.max(axis=0)
    trace[model] = iampa[:, [5, 10]]  # weights 0.1 (1 nA) and 100 (1 uA)

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 3.4))
for model, p in peaks.items():
    ax0.loglog(weights * 1e-8, p, "o-", ms=3, label=model)
ax0.set(
    xlabel="weight current I_w (A)", ylabel="peak AMPA current (A)", title="one event from rest"
)
ax0.legend(fontsize="small")
plot.synapse_responses(
    {f"{m}, I_w = {w}": trace[m][:, k] for m in trace for k, w in enumerate(("1 nA", "1 uA"))},
    dt=DT,
    ax=ax1,
    title="AMPA current after one event",
)
fig.tight_layout()
plt.show()
for model, p in peaks.items():
    print(f"{model:6s} peak at I_w = 1 nA: {p[5]:.2e} A, at 1 uA: {p[10]:.2e} A")

# %%
print(f"notebook ran in {time.time() - t_start:.1f} s")
