"""The LIF -> DPI mapping of :func:`dynapse2.nir.from_nir` (and its inverse, used by
:func:`dynapse2.nir.to_nir`), in closed form: constants and pure functions.

Conventions of NIR read here
----------------------------
NIR is continuous time and leaves a spike's size to the simulator. Here, as in the
discrete-time exporters (snnTorch, spyx, Rockpool), a spike is 1 for one step of ``dt``: a
delta of area dt. So in ``CubaLIF`` (tau_syn dI/dt = -I + w_in S, tau_mem dv/dt = v_leak - v +
R I) a spike through weight W raises I by w_in W dt / tau_syn (snnTorch writes r = tau_mem/dt,
w_in = tau_syn/dt with its dt = 1e-4 s: I then jumps by W, as in snnTorch). ``dt`` must be the
exporter's step for weights and time constants to mean what they meant there. An ``Affine``
bias b is a constant input S = b (so I -> w_in b). :mod:`dynapse2.nir.reference` simulates a
graph in these semantics (the yardstick of the tests and ``benchmarks/nir_fidelity.py``).

Mapping of a CubaLIF population (per neuron; kappa = (kappa_n + kappa_p)/2, nominal
capacitances of :mod:`dynapse2.physics.constants`)
-----------------------------------------------------------------------------------------------
Every imported population uses the chip's thresholded soma (``DynapSim(positive_feedback=
False)``, latch ``soif_type``): without the exponential positive feedback the DPI soma is a
leaky integrator from I_gain_mem up to any I_mem, so a LIF maps onto it over its whole range
(the exponential soma is linear only below its runaway point, a factor ~30 above I_gain_mem,
and its rates missed the LIF's by +31 % near rheobase and -33 % for ``IF``). The DPI in its
linear regime is a first-order low-pass with tau = C U_T / (kappa I_tau). The soma's leak node
is I_sum = I_tau_mem + I_ahp + I_shunt, where the idle AHP and SHUNT DPIs sit at I_0 each; for
I_mem >> I_gain_mem the soma reads tau_mem dI_mem/dt = -I_mem + G (I_in - I_sum), with
tau_mem = C_mem U_T / (kappa I_sum) and G = I_gain_mem / I_sum. So

- ``I_sum = C_mem U_T / (kappa tau_mem)``, ``Itau_mem = I_sum - 2 I_0`` (at least
  ``ITAU_MEM_MIN``: tau_mem is capped at ``TAU_MEM_MAX`` ~ 89 ms), ``Igain_mem = G I_sum``
  with G = ``GAIN_MEM`` = 0.1 (the soma is linear for I_mem >> I_gain_mem);
- ``Itau_ampa = C_ampa U_T / (kappa tau_syn)``, ``Itau_gaba = C_gaba U_T / (kappa tau_syn)``,
  ``Igain_* = SYN_GAIN Itau_*`` (1000, ten times the nominal ratio, capped at the BG's
  1.5 uA: an event charges the synapse ten times more, so weights are ten times smaller);
  NMDA, SHUNT, AHP stay at their defaults (unused: no input reaches them, AHP is off);
- threshold ``Ispkthr = LIF_THRESHOLD`` (4 nA); the membrane scale is ``alpha = Ispkthr /
  (v_threshold - v_leak)`` (A per NIR volt): v - v_leak <-> I_mem / alpha;
- ``Idc = I_sum + alpha R w_in b / G`` (the leak node's offset cancelled; an ``Affine`` bias
  b becomes this DC current, never a Linear bias: the chip has none). The DC reaches the soma
  at once, where NIR passes the bias through the synapse: the same steady state, a shorter
  transient from rest (:data:`BIAS_SKIPS_SYNAPSE`, reported). Biases that differ between
  neurons stay per neuron in simulation, but the chip holds one DC current per core
  (:data:`DC_PER_CORE`, reported; ``map_network`` averages them);
- synaptic currents I_syn = (alpha R / G) I_nir. One input event of unit weight charges a
  DPI synapse by J = (Igain/Itau) Iscale (1 - exp(-t_pulse / tau_syn)), so the ``Linear``
  weight (units of Iscale; positive -> AMPA, negative -> GABA, as Linear + DynapSim already
  split them) is ``W_dyn[i, j] = alpha_j R_j w_in_j dt W_nir[j, i] / (G tau_syn_j J_j)``, about
  ``alpha R w_in dt W / (G SYN_GAIN Iscale t_pulse)``: tau_syn cancels. For an snnTorch
  ``Synaptic`` (beta = 0.98, alpha = 0.95 at dt = 1e-4 s) a weight of 0.1 (a strong one
  there: it alone lifts v by 2 thresholds) becomes ~4 Iscale = 40 nA. ``Iscale`` is the
  nominal 10 nA unless a weight would exceed ``WEIGHT_MAX`` = 15 units: then the
  population's Iscale is raised so that the largest weight is 15 units (reported);
- solver and refractory period: NIR has none; imported populations run
  :class:`~dynapse2.solvers.ExponentialEuler` (:data:`IMPORT_SOLVER`) with t_ref =
  :data:`T_REF` = 1 us: the spike falls inside the step, the neuron rests at I_0 for the rest
  of it and integrates again from the next step, as the NIR LIF (threshold checked at the
  end of a step, reset, integration from the next) does. ``from_nir(solver="euler")`` keeps
  forward Euler with t_ref = dt (one whole step lost per spike);
- ``LIF`` is a ``CubaLIF`` without a synapse: the DPI synapse gets tau_syn = the solver's
  ``min_tau_steps`` dt (8 dt; 10 for Euler); ``IF`` gets the longest membrane tau,
  ``TAU_MEM_MAX``, and R' = R tau.

Readouts (``LI``, ``CubaLI``)
-----------------------------
A readout is a non-spiking population: the thresholded soma with its threshold at the top of
the range (``Ispkthr = SPKTHR_MAX``, 851 nA, the largest SOIF_SPKTHR_P setting). Its membrane
current is the output, offset by a rest current so that negative potentials are
representable: v - v_leak = (I_mem - rest) / alpha with ``alpha = READOUT_SPAN /
readout_range`` (1 nA per ``readout_range``) and ``rest = READOUT_SPAN + 20 max(I_gain_mem)``,
i.e. ``Idc = I_sum + rest / G`` (+ the bias). The readout follows the LI closed form (up to
the soma's (1 + I_gain/I_mem) slow-down, < 5 %) for |v - v_leak| <= readout_range; above, it
stays linear up to I_spkthr (~850 readout ranges); below -readout_range it slows and clips
at I_0. ``ImportReport.readouts`` holds (rest, alpha, v_leak) per readout and
``ImportReport.potential(imem)`` decodes the NIR potential; the ``max_imem`` losses and
``output_imem`` read I_mem directly (same order: one rest and one alpha per population).

Where the mapping breaks (reported per node where it applies)
-------------------------------------------------------------
- Time constants shorter than the solver's ``min_tau_steps`` (8 dt) are raised to it.
  Membrane taus above ~89 ms are lowered (the idle AHP and SHUNT leak 2 I_0 into the leak
  node).
- After a reset the soma restarts at I_0 and grows through I < I_gain_mem more slowly than a
  LIF (the (1 + I_gain/I_mem) factor; see ``GAIN_MEM``); ExponentialEuler integrates that
  growth exactly, so a DC-driven LIF fires at the reference's rate (0.0 %) at every interval
  from 198 steps down to 1 (tau_mem 5 and 20 ms, dt 0.1 ms), Poisson-driven populations at
  200-300 Hz ~2 % below it, one near rheobase (85 Hz) 6 % below (a small PSP from rest keeps
  98 % of its area at tau_mem 5 ms; the slow start shrinks as 1 / ``LIF_THRESHOLD``). Under
  Euler the lost step per spike costs about 1 / (interval in steps): -4.5 % at 21 steps,
  -25 % at 6 (measured by the tests).
- The floor at v_leak: I_mem cannot go below I_0 (~0), where v_leak maps, so a spiking
  neuron inhibited below v_leak in NIR stops at v_leak and recovers sooner: its rate is
  higher. On the benchmark's trained graphs (``benchmarks/nir_fidelity_causes.py``) the
  reference with its potential clipped at v_leak fires +5 to +13 % more in the hidden layers,
  and the imports follow that floored reference (-3.0 to -0.3 %). Representing v < v_leak would
  need a rest current above I_0 (as readouts have), and the reset (to I_0: the chip has no
  reset level) would then fall below v_leak. ``benchmarks/nir_headroom.py`` measures that
  mapping built: with room for h (v_threshold - v_leak) below v_leak, the lower reset costs a
  DC-driven LIF 4-8 % of its rate at h = 0.1 and 16-30 % at 0.5 (closed form ln(v_inf / (v_inf -
  1)) / ln((v_inf + h) / (v_inf - 1))), more than the floor gains on trained and synthetic
  graphs alike; the two cancel only at a graph-dependent h. The floor is the chip's, not the
  mapping's: no headroom is mapped.
- v_reset != v_leak (the DPI resets to I_0, i.e. v_leak), reset by subtraction (spyx, and
  snnTorch's default), and refractory periods of NIR models are not represented;
  v_threshold <= v_leak is rejected. Negative v_leak is fine (only v - v_leak matters), but
  a bias that asks for a negative DC current is clipped at I_0 (inhibition by a bias has no
  DC circuit).
- Saturation: a synapse charges toward I_inf = 100 Iscale |W|, so the linear closed form
  holds while I_syn << I_inf.
- Quantization (``map_network``): weights snap to 15 levels per core, currents to the BG's
  steps; ``benchmarks/nir_fidelity.py`` measures what that costs.

Rejected before any work (``ValueError`` naming the node, its type, why, and what to do):
``Conv1d``/``Conv2d``, pooling, ``Delay``, ``Flatten``, ``Threshold``, ``I``, unknown node types,
two weight layers (``Affine``/``Linear``) in a row, weights into the ``Output`` without neurons
after them, and graphs that are not a chain of populations (with optional self-recurrence).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2 import checks
from dynapse2.hardware.bias import current_range
from dynapse2.nn.dynapsim import KAPPA_DEFAULT
from dynapse2.physics import constants as K
from dynapse2.physics.dpi import leak_current, pulse_current, time_constant
from dynapse2.solvers import SOLVERS

__all__ = [
    "TAU_MEM_MAX",
    "charge",
    "dpi_currents",
    "leak_node",
    "refractory_period",
    "runaway_current",
]

KAPPA = KAPPA_DEFAULT
GAIN_MEM = 0.1
"""G = I_gain_mem / I_sum of imported populations (I_sum: the soma's leak node, see below).
Below I_gain_mem the soma grows multiplicatively (its (1 + I_gain/I_mem) factor), so a small
gain keeps that region small: measured on a CubaLIF (tau_syn 2 ms, tau_mem 10-20 ms, dt
0.1 ms; at I_spkthr = 1 nA), a small PSP's area is 56-65 % of the LIF's at G = 1, 88 % at 0.3,
96 % at 0.1, and Poisson-driven rates 85 % / 90 % / 93 % of the reference. Weights and DC grow
as 1 / G. Not lowered further: I_gain_mem = G I_sum already falls below the BG's smallest
setting (0.30 pA) for tau_mem above ~36 ms and near I_0; :data:`LIF_THRESHOLD` shrinks the
slow region in NIR volts instead."""
REST_LEAK = 2 * K.IO
"""I_ahp + I_shunt at rest (A): the AHP and SHUNT DPIs idle at I_0 and add to the leak node."""
ITAU_MEM_MIN = 2e-13
"""The smallest I_tau_mem (A) an import uses (just above the leak BG's smallest step); with
:data:`REST_LEAK` it bounds the membrane tau at C_mem U_T / (kappa (ITAU_MEM_MIN + REST_LEAK))
~ 89 ms. An ``IF`` population gets it."""
LIF_THRESHOLD = 4e-9
"""I_spkthr (A) of an imported spiking population (thresholded soma): v_threshold - v_leak
maps to it, so the soma's slow start from I_0 through I < I_gain_mem (a few pA) shrinks as
1 / I_spkthr in NIR volts. Measured (``benchmarks/nir_headroom.py``, item 4; one small PSP
from rest, peak 2.2 % of the threshold range at tau_mem 5 ms, 0.8 % at 20 ms): its area is
88.6 / 79.7 % of the LIF's at 1 nA, 94.0 / 88.1 % at 2 nA, 97.6 / 93.4 % at 4 nA, 98.7 /
96.3 % at 8 nA (PSPs of 10 % of the range: 98.0 / 94.5 % at 1 nA, 99.4 / 98.3 % at 4 nA).
From 1 to 4 nA each of the benchmark's 20 trained layers moves toward the floored reference
(``benchmarks/nir_fidelity_causes.py``) by 0.3-4.4 points. At 4 nA weights, DC and synaptic
currents are 4x those at 1 nA (a weight of 0.375 in snnTorch's export reaches the 15 units of
``WEIGHT_MAX``; above it Iscale is raised); 8 nA would halve the deficit again for twice the
currents. Still 0.5 % of SOIF_SPKTHR_P's range, 25x below the chip's nominal ~100 nA."""
SYN_GAIN = 1000.0
"""I_gain / I_tau of imported synapses (the nominal ratio is 100)."""
WEIGHT_MAX = 15.0
"""The largest imported weight, in units of the population's Iscale: 4 bits of a unit base
weight (``dynapse2.train.WEIGHT_BOUND``, fit's default bound). A population whose weights
would be larger gets a larger Iscale instead (the same currents)."""
READOUT_SPAN = 1e-9
"""I_mem swing (A) of an LI/CubaLI readout over ``readout_range`` on each side of its rest."""
SPKTHR_MAX = current_range("SOIF_SPKTHR_P")[1]
"""The largest spike threshold (A) the chip's SOIF_SPKTHR_P can set: a readout's."""
IMPORT_SOLVER = "exponential_euler"
"""The solver of imported populations (``from_nir(solver=...)``'s default):
:class:`~dynapse2.solvers.ExponentialEuler` places a spike inside the step and restarts the
neuron from I_0 at the next step, as the NIR LIF (threshold checked at step ends, reset, the
next step integrates) does, and integrates the soma's growth from I_0 exactly. With
:class:`~dynapse2.solvers.Euler` a neuron loses a whole step after each spike and grows from
I_0 by forward steps: a DC-driven LIF (tau_mem 5 ms, dt 0.1 ms) fires at 0.75 of the
reference at 6-step intervals, 0.955 at 21 (ExponentialEuler: 1.00 at both)."""
T_REF = 1e-6
"""t_ref (s) of an imported population under ExponentialEuler: NIR neurons have none; 1 us is
1 % of a 0.1 ms step and within the Iref bias generator's range (its shortest t_ref is
~0.45 us)."""
BIAS_SKIPS_SYNAPSE = (
    " (into the soma at once; NIR passes a bias through tau_syn: from rest the first spikes come"
    " up to ~tau_syn early)"
)
"""The import report's note on an ``Affine`` bias into a ``CubaLIF``/``CubaLI``: the DC current
has no low-pass, so the import's transient from rest is shorter than NIR's (steady state the
same; ``benchmarks/nir_headroom.py``, item 5: first spike 40 steps instead of 70 at tau_syn
3 ms, tau_mem 10 ms, v_inf 3 thresholds; intervals identical after)."""
DC_PER_CORE = (
    "; the chip has one DC current per core (SOIF_DC_P): map_network gives the neurons of a"
    " core the mean of theirs (with a warning)"
)
"""The import report's note on an ``Affine`` bias that differs between neurons: each becomes
its neuron's ``Idc``, which simulates as given, but a core holds one ``SOIF_DC_P`` setting
(:mod:`dynapse2.hardware.network`, ``reduce=``)."""
READOUT_FLOOR = 20.0
"""A readout's rest current sits READOUT_SPAN + READOUT_FLOOR I_gain_mem above 0, so that at
v - v_leak = -readout_range I_mem is still 20 I_gain_mem: the soma's linear regime."""


def leak_node(itau_mem: Any, io: float = K.IO) -> np.ndarray:
    """I_sum (A): the soma's leak node at rest, I_tau_mem + I_ahp + I_shunt with the AHP and
    SHUNT DPIs idle at I_0. In the linear regime the soma relaxes with tau = C_mem U_T /
    (kappa I_sum) (not I_tau_mem alone) toward I_gain_mem (I_in - I_sum) / I_sum."""
    return np.asarray(itau_mem, np.float64) + 2 * io


def runaway_current(itau_mem: Any, io: float = K.IO, kappa: float = KAPPA) -> Any:
    """I_x (A): where the soma's positive feedback I_pf = I_0^(1/(k+1)) I_mem^(k/(k+1))
    equals its leak node :func:`leak_node` (``itau_mem`` + 2 I_0); above it the soma runs
    away to a spike."""
    checks.number("runaway_current", "io", io, lo=0, lo_open=True)
    checks.number("runaway_current", "kappa", kappa, lo=0, lo_open=True)
    return leak_node(itau_mem, io) ** ((kappa + 1) / kappa) / io ** (1 / kappa)


def refractory_period(solver: str, dt: float) -> float:
    """t_ref (s) of an imported population run by ``solver`` (a name of
    :data:`dynapse2.solvers.SOLVERS`): :data:`T_REF` for ``"exponential_euler"`` (the neuron
    restarts at the next step, as the NIR LIF does), ``dt`` for ``"euler"`` (which holds a
    neuron for one whole step after a spike whatever t_ref below dt)."""
    return dt if solver == "euler" else T_REF


def dpi_currents(
    tau_mem: Any, tau_syn: Any, dt: float, solver: str = IMPORT_SOLVER
) -> dict[str, np.ndarray]:
    """The DynapSim currents (A, float64 ``(n,)``) of a population with these time constants
    (s): ``Itau_mem`` (so that the leak node I_sum = C_mem U_T / (kappa tau_mem), at least
    :data:`ITAU_MEM_MIN`), ``Igain_mem`` (= ``GAIN_MEM`` I_sum), ``Itau_ampa``, ``Igain_ampa``,
    ``Itau_gaba``, ``Igain_gaba`` (``SYN_GAIN`` Itau, at most the BG's largest I_gain),
    ``Ispkthr`` (= :data:`LIF_THRESHOLD`) and ``Iref`` (t_ref = :func:`refractory_period`)."""
    checks.number("dpi_currents", "dt", dt, lo=0, lo_open=True)
    checks.choice("dpi_currents", "solver", solver, tuple(SOLVERS))
    C = K.CAPACITANCES
    isum = leak_current(C["C_mem"], np.asarray(tau_mem, np.float64), KAPPA, K.UT)
    itau_mem = np.maximum(isum - REST_LEAK, ITAU_MEM_MIN)
    out = {"Itau_mem": itau_mem, "Igain_mem": GAIN_MEM * leak_node(itau_mem)}
    for s in ("ampa", "gaba"):
        itau = leak_current(C[f"C_{s}"], np.asarray(tau_syn, np.float64), KAPPA, K.UT)
        top = current_range(f"Igain_{s}")[1]
        out[f"Itau_{s}"], out[f"Igain_{s}"] = itau, np.minimum(SYN_GAIN * itau, top)
    out["Ispkthr"] = np.full_like(itau_mem, LIF_THRESHOLD)
    t_ref = refractory_period(solver, dt)
    out["Iref"] = np.full_like(itau_mem, pulse_current(C["C_ref"], t_ref, K.VTH))
    return out


TAU_MEM_MAX = time_constant(K.CAPACITANCES["C_mem"], ITAU_MEM_MIN + REST_LEAK, KAPPA, K.UT)
"""The longest membrane tau (s) an import reaches (I_tau_mem at :data:`ITAU_MEM_MIN`)."""


def charge(igain: Any, itau: Any, iscale: float, t_pulse: Any, tau: Any) -> np.ndarray:
    """J (A): the jump of a DPI synapse at rest for one event of unit weight."""
    igain, itau, tau = (np.asarray(v, np.float64) for v in (igain, itau, tau))
    return igain / itau * iscale * -np.expm1(-np.asarray(t_pulse, np.float64) / tau)
