"""NIR graphs <-> dynapse2 networks.

API
---
- ``from_nir(graph_or_path, dt, *, report=False, backend="jax") -> Sequential`` (with
  ``report=True``: ``(Sequential, ImportReport)``; ``print(report)`` shows one row per NIR node:
  its type, what it became, what was approximated).
- ``to_nir(net) -> nir.NIRGraph``: each ``DynapSim`` as a ``CubaLIF`` approximation, each
  ``Linear`` as an ``Affine``, recurrence as a flat cycle ``pop -> w_rec -> pop``, and the
  exact module parameters in the nodes' metadata; ``from_nir(to_nir(net), dt=net_dt)`` then
  rebuilds the network bit for bit (spike-identical output), also after ``nir.write`` /
  ``nir.read``.

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
- threshold ``Ispkthr = LIF_THRESHOLD`` (1 nA); the membrane scale is ``alpha = Ispkthr /
  (v_threshold - v_leak)`` (A per NIR volt): v - v_leak <-> I_mem / alpha;
- ``Idc = I_sum + alpha R w_in b / G`` (the leak node's offset cancelled; an ``Affine`` bias
  b becomes this DC current, never a Linear bias: the chip has none);
- synaptic currents I_syn = (alpha R / G) I_nir. One input event of unit weight charges a
  DPI synapse by J = (Igain/Itau) Iscale (1 - exp(-t_pulse / tau_syn)), so the ``Linear``
  weight (units of Iscale; positive -> AMPA, negative -> GABA, as Linear + DynapSim already
  split them) is ``W_dyn[i, j] = alpha_j R_j w_in_j dt W_nir[j, i] / (G tau_syn_j J_j)``, about
  ``alpha R w_in dt W / (G SYN_GAIN Iscale t_pulse)``: tau_syn cancels. For an snnTorch
  ``Synaptic`` (beta = 0.98, alpha = 0.95 at dt = 1e-4 s) a weight of 0.1 (a strong one
  there: it alone lifts v by 2 thresholds) becomes ~1 Iscale = 10 nA. ``Iscale`` is the
  nominal 10 nA unless a weight would exceed ``WEIGHT_MAX`` = 15 units: then the
  population's Iscale is raised so that the largest weight is 15 units (reported);
- refractory period: NIR has none; ``Iref`` makes t_ref = dt, the one step DynapSim holds a
  neuron after a spike anyway;
- ``LIF`` is a ``CubaLIF`` without a synapse: the DPI synapse gets tau_syn = 10 dt (the
  shortest forward Euler allows); ``IF`` gets the longest membrane tau, ``TAU_MEM_MAX``, and
  R' = R tau.

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
- Time constants shorter than 10 dt are raised to 10 dt (forward Euler); forward Euler
  under-fires by ~10-30 % at tau_mem = 20 dt (the soma's step error, as
  :class:`~dynapse2.solvers.Euler` documents), a few % from ~100 dt. Membrane taus above
  ~89 ms are lowered (the idle AHP and SHUNT leak 2 I_0 into the leak node).
- After a reset the soma restarts at I_0 and grows through I < I_gain_mem more slowly than a
  LIF (the (1 + I_gain/I_mem) factor; see ``GAIN_MEM``); with the one refractory step and
  forward Euler, rates run a few % to ~10 % below the reference (measured by the tests).
- v_reset != v_leak (the DPI resets to I_0, i.e. v_leak), reset by subtraction (spyx), and
  refractory periods of NIR models are not represented; v_threshold <= v_leak is rejected.
  Negative v_leak is fine (only v - v_leak matters), but a bias that asks for a negative DC
  current is clipped at I_0 (inhibition by a bias has no DC circuit).
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

import json
import os
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.errors import FileFormatError
from dynapse2.hardware.bias import current_range
from dynapse2.nn.backends import BACKENDS
from dynapse2.nn.dynapsim import CURRENTS, KAPPA_DEFAULT, DynapSim, _replace
from dynapse2.nn.linear import Linear
from dynapse2.nn.sequential import Sequential
from dynapse2.physics import constants as K
from dynapse2.physics.dpi import leak_current, pulse_current, time_constant
from dynapse2.physics.synapses import signed_from_typed
from dynapse2.solvers import solver_from_name

__all__ = ["ImportReport", "ReportRow", "dpi_currents", "from_nir", "runaway_current", "to_nir"]

KAPPA = KAPPA_DEFAULT
GAIN_MEM = 0.1
"""G = I_gain_mem / I_sum of imported populations (I_sum: the soma's leak node, see below).
Below I_gain_mem the soma grows multiplicatively (its (1 + I_gain/I_mem) factor), so a small
gain keeps that region small: measured on a CubaLIF (tau_syn 2 ms, tau_mem 10-20 ms, dt
0.1 ms), a small PSP's area is 56-65 % of the LIF's at G = 1, 88 % at 0.3, 96 % at 0.1, and
Poisson-driven rates 85 % / 90 % / 93 % of the reference. Weights and DC grow as 1 / G."""
REST_LEAK = 2 * K.IO
"""I_ahp + I_shunt at rest (A): the AHP and SHUNT DPIs idle at I_0 and add to the leak node."""
ITAU_MEM_MIN = 2e-13
"""The smallest I_tau_mem (A) an import uses (just above the leak BG's smallest step); with
:data:`REST_LEAK` it bounds the membrane tau at C_mem U_T / (kappa (ITAU_MEM_MIN + REST_LEAK))
~ 89 ms. An ``IF`` population gets it."""
LIF_THRESHOLD = 1e-9
"""I_spkthr (A) of an imported spiking population (thresholded soma): v_threshold - v_leak
maps to it. At 1 nA the soma's slow start below I_gain_mem (~5 pA at tau_mem = 20 ms) is a
small part of the range, and unit NIR weights stay within the base weights' sums."""
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
READOUT_FLOOR = 20.0
"""A readout's rest current sits READOUT_SPAN + READOUT_FLOOR I_gain_mem above 0, so that at
v - v_leak = -readout_range I_mem is still 20 I_gain_mem: the soma's linear regime."""
FORMAT = "dynapse2.nir/1"

NEURONS = ("CubaLIF", "LIF", "IF", "CubaLI", "LI")
WEIGHTS = ("Affine", "Linear")
PASS = ("Scale",)
REJECTED = {
    "Conv1d": "convolutions have no Dynap-SE2 equivalent (connections are per-neuron CAM "
    "entries, no weight sharing)",
    "Conv2d": "convolutions have no Dynap-SE2 equivalent (connections are per-neuron CAM "
    "entries, no weight sharing)",
    "SumPool2d": "pooling has no Dynap-SE2 equivalent",
    "AvgPool2d": "pooling has no Dynap-SE2 equivalent",
    "Delay": "DynapSim has no programmable axonal delays",
    "Flatten": "reshaping is not a chip operation (populations are flat)",
    "Threshold": "a bare threshold without a neuron has no chip equivalent",
    "I": "a non-leaky integrator without threshold has no chip equivalent",
}
FIX = {
    "Conv1d": "unroll it into an Affine (dense) layer before export, or run it on the host",
    "Conv2d": "unroll it into an Affine (dense) layer before export, or run it on the host",
    "SumPool2d": "unroll it into an Affine layer before export, or run it on the host",
    "AvgPool2d": "unroll it into an Affine layer before export, or run it on the host",
    "Delay": "remove the delay (or approximate it by a slow synapse) before export",
    "Flatten": "export a flat (1-d) model",
    "Threshold": "export a LIF/CubaLIF neuron instead",
    "I": "export an LI or LIF neuron instead",
}


def _nir():
    try:
        import nir  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('dynapse2.nir needs the nir package: pip install "dynapse2[nir]"') from e
    return nir


# --- the report -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportRow:
    """One NIR node: its name, type, what it became, what was approximated."""

    node: str
    nir_type: str
    became: str
    approximated: str


@dataclass
class ImportReport:
    """What :func:`from_nir` did, one :class:`ReportRow` per NIR node; ``str()`` is a table."""

    rows: list[ReportRow] = field(default_factory=list)
    readouts: dict[str, tuple[float, np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Per LI/CubaLI readout node: ``(rest, alpha, v_leak)``, rest in A, alpha in A per NIR
    volt, v_leak in NIR volts (``(n,)`` each): its potential is v = v_leak + (I_mem - rest) /
    alpha (see :meth:`potential`)."""

    def potential(self, imem: Any, node: str | None = None) -> np.ndarray:
        """The NIR potential v (float64, same shape as ``imem``, last axis the neurons) of
        readout ``node`` (default: the only one) from its membrane current ``imem`` (A),
        e.g. ``record["<k>_DynapSim"]["imem"]``."""
        if node is None:
            if len(self.readouts) != 1:
                raise ValueError(
                    f"ImportReport.potential: node = None, but the graph has readouts "
                    f"{sorted(self.readouts)}; name one"
                )
            node = next(iter(self.readouts))
        if node not in self.readouts:
            raise ValueError(
                f"ImportReport.potential: node = {node!r} is not a readout; readouts are "
                f"{sorted(self.readouts)}"
            )
        rest, alpha, v_leak = self.readouts[node]
        return v_leak + (np.asarray(imem, np.float64) - rest) / alpha

    def add(self, node: str, nir_type: str, became: str, approximated: str = "-") -> None:
        """Record what ``node`` (of NIR type ``nir_type``) became and what was approximated."""
        self.rows.append(ReportRow(node, nir_type, became, approximated))

    def table(self) -> str:
        """The rows as a plain-text table (node, NIR type, became, approximated)."""
        head = ("node", "NIR type", "became", "approximated")
        cells = [head] + [(r.node, r.nir_type, r.became, r.approximated) for r in self.rows]
        widths = [max(len(c[k]) for c in cells) for k in range(4)]
        fmt = lambda c: " | ".join(s.ljust(w) for s, w in zip(c, widths, strict=True))  # noqa: E731
        lines = [fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(c) for c in cells[1:]]
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return self.table()


# --- the mapping, in closed form --------------------------------------------------------------
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


def dpi_currents(tau_mem: Any, tau_syn: Any, dt: float) -> dict[str, np.ndarray]:
    """The DynapSim currents (A, float64 ``(n,)``) of a population with these time constants
    (s): ``Itau_mem`` (so that the leak node I_sum = C_mem U_T / (kappa tau_mem), at least
    :data:`ITAU_MEM_MIN`), ``Igain_mem`` (= ``GAIN_MEM`` I_sum), ``Itau_ampa``, ``Igain_ampa``,
    ``Itau_gaba``, ``Igain_gaba`` (``SYN_GAIN`` Itau, at most the BG's largest I_gain),
    ``Ispkthr`` (= :data:`LIF_THRESHOLD`) and ``Iref`` (t_ref = dt)."""
    checks.number("dpi_currents", "dt", dt, lo=0, lo_open=True)
    C = K.CAPACITANCES
    isum = leak_current(C["C_mem"], np.asarray(tau_mem, np.float64), KAPPA, K.UT)
    itau_mem = np.maximum(isum - REST_LEAK, ITAU_MEM_MIN)
    out = {"Itau_mem": itau_mem, "Igain_mem": GAIN_MEM * leak_node(itau_mem)}
    for s in ("ampa", "gaba"):
        itau = leak_current(C[f"C_{s}"], np.asarray(tau_syn, np.float64), KAPPA, K.UT)
        top = current_range(f"Igain_{s}")[1]
        out[f"Itau_{s}"], out[f"Igain_{s}"] = itau, np.minimum(SYN_GAIN * itau, top)
    out["Ispkthr"] = np.full_like(itau_mem, LIF_THRESHOLD)
    out["Iref"] = np.full_like(itau_mem, pulse_current(C["C_ref"], dt, K.VTH))
    return out


TAU_MEM_MAX = time_constant(K.CAPACITANCES["C_mem"], ITAU_MEM_MIN + REST_LEAK, KAPPA, K.UT)
"""The longest membrane tau (s) an import reaches (I_tau_mem at :data:`ITAU_MEM_MIN`)."""


def _charge(igain: Any, itau: Any, iscale: float, t_pulse: Any, tau: Any) -> np.ndarray:
    """J (A): the jump of a DPI synapse at rest for one event of unit weight."""
    igain, itau, tau = (np.asarray(v, np.float64) for v in (igain, itau, tau))
    return igain / itau * iscale * -np.expm1(-np.asarray(t_pulse, np.float64) / tau)


# --- validation (before any work) --------------------------------------------------------------
def _type(node: Any) -> str:
    return type(node).__name__


def _reject(name: str, node: Any, why: str, fix: str) -> ValueError:
    return ValueError(f"from_nir: node {name!r} ({_type(node)}): {why}; {fix}")


def _check_types(graph: Any, prefix: str = "") -> None:
    nir = _nir()
    for key, node in graph.nodes.items():
        name = prefix + key
        t = _type(node)
        if isinstance(node, nir.NIRGraph):
            _check_types(node, name + ".")
        elif t in REJECTED:
            raise _reject(name, node, "the chip cannot run it: " + REJECTED[t], FIX[t])
        elif t not in NEURONS + WEIGHTS + PASS + ("Input", "Output", "Identity"):
            raise _reject(
                name,
                node,
                "unknown node type, no Dynap-SE2 mapping",
                f"supported types are {sorted(NEURONS + WEIGHTS + PASS)} (plus Input/Output)",
            )
        elif t in NEURONS:
            shape = np.shape(_params(node)["tau_mem"])
            if len(shape) != 1:
                raise _reject(name, node, f"parameters of shape {shape}", "export a flat model")
            p = _params(node)
            if p["v_threshold"] is not None and (p["v_threshold"] <= p["v_leak"]).any():
                raise _reject(
                    name,
                    node,
                    "v_threshold <= v_leak: the neuron would fire at rest, the DPI soma cannot",
                    "export thresholds above the leak potential",
                )
            for k in ("tau_mem", "tau_syn"):
                tau = p[k]
                bad = None if tau is None else ~(np.isfinite(tau) & (tau > 0))
                if bad is not None and bad.any():
                    raise _reject(
                        name,
                        node,
                        f"{k} has {int(bad.sum())} value(s) <= 0 or not finite (e.g. "
                        f"{float(tau[bad][0])!r} s), which no leaky neuron has",
                        "export positive time constants (a decay factor beta > 1, which "
                        "tau = dt / (1 - beta) turns negative, is clipped by some simulators "
                        "but not by their exporters)",
                    )


def _params(node: Any, dt: float | None = None) -> dict[str, Any]:
    """CubaLIF-form parameters of a neuron node (1-d float64 arrays; v_threshold None for a
    readout); ``approx``: notes of what this form already approximates."""
    t = _type(node)
    a = lambda v: np.atleast_1d(np.asarray(v, np.float64))  # noqa: E731
    notes = []
    if t == "IF":
        n = a(node.r).shape
        tau_mem = np.full(n, TAU_MEM_MAX)
        p = dict(tau_mem=tau_mem, r=a(node.r) * tau_mem, v_leak=np.zeros(n), w_in=np.ones(n))
        p |= dict(v_threshold=a(node.v_threshold), v_reset=a(node.v_reset))
        notes.append(f"no leak -> tau_mem {tau_mem[0]:.3g} s")
    else:
        tau_mem = a(node.tau_mem if t.startswith("Cuba") else node.tau)
        p = dict(tau_mem=tau_mem, r=a(node.r), v_leak=a(node.v_leak))
        p["w_in"] = a(node.w_in) if t.startswith("Cuba") else np.ones_like(tau_mem)
        spiking = t in ("CubaLIF", "LIF")
        p["v_threshold"] = a(node.v_threshold) if spiking else None
        p["v_reset"] = a(node.v_reset) if spiking else None
    p["tau_syn"] = a(node.tau_syn) if t.startswith("Cuba") else None
    if dt is not None:
        if p["tau_syn"] is None:
            p["tau_syn"] = np.full_like(p["tau_mem"], K.MIN_TAU_STEPS * dt)
            notes.append(f"no synapse -> DPI tau_syn = {K.MIN_TAU_STEPS:g} dt")
        for k in ("tau_syn", "tau_mem"):
            low = p[k] < K.MIN_TAU_STEPS * dt
            if low.any():
                p[k] = np.maximum(p[k], K.MIN_TAU_STEPS * dt)
                notes.append(f"{k} < {K.MIN_TAU_STEPS:g} dt raised ({int(low.sum())} neurons)")
        high = p["tau_mem"] > TAU_MEM_MAX * (1 + 1e-9)
        if high.any() and t != "IF":
            p["tau_mem"] = np.minimum(p["tau_mem"], TAU_MEM_MAX)
            notes.append(f"tau_mem > {TAU_MEM_MAX:.3g} s lowered ({int(high.sum())} neurons)")
        if p["v_reset"] is not None and not np.allclose(p["v_reset"], p["v_leak"]):
            notes.append("v_reset != v_leak: resets to v_leak")
        notes.append("no refractory -> t_ref = dt")
    p["approx"] = notes
    return p


# --- graph flattening and chain extraction -----------------------------------------------------
def _flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """All non-graph nodes under full names, and edges between them. Input/Output nodes of
    nested graphs are kept (as pass-through nodes)."""
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for key, node in graph.nodes.items():
        name = prefix + key
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, name + ".")
            nodes |= sub_nodes
            edges += sub_edges
            ins[key] = [name + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs[key] = [name + "." + k for k, v in node.nodes.items() if _type(v) == "Output"]
            if len(ins[key]) != 1 or len(outs[key]) != 1:
                raise _reject(
                    name,
                    node,
                    "a nested graph needs exactly one Input and one Output node",
                    "export the subgraph with one input and one output",
                )
        else:
            nodes[name] = node
    for a, b in graph.edges:
        a = outs[a][0] if a in outs else prefix + a
        b = ins[b][0] if b in ins else prefix + b
        edges.append((a, b))
    return nodes, edges


def _affine(node: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    t = _type(node)
    if t == "Affine":
        return np.asarray(node.weight, np.float64), np.asarray(node.bias, np.float64)
    if t == "Linear":
        return np.asarray(node.weight, np.float64), None
    if t == "Scale":
        return np.diag(np.asarray(node.scale, np.float64).ravel()), None
    return None, None  # identity


def _compose(first: tuple, second: tuple) -> tuple:
    """(W2, b2) o (W1, b1); None means identity / no bias."""
    (w1, b1), (w2, b2) = first, second
    w = w1 if w2 is None else (w2 if w1 is None else w2 @ w1)
    b = b1 if w2 is None or b1 is None else w2 @ b1
    b = b2 if b is None else (b if b2 is None else b + b2)
    return w, b


@dataclass
class _Conn:
    w: np.ndarray | None  # (out, in) NIR weight, None: identity
    b: np.ndarray | None
    via: list[str]  # weight-node names on the path


def _connections(nodes: dict[str, Any], edges: list[tuple[str, str]], top: set[str]):
    """Connections terminal -> terminal (terminals: top Input/Output and neurons) through
    weight and pass-through nodes; several paths between the same pair are summed."""
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)

    def terminal(k: str) -> bool:
        return _type(nodes[k]) in NEURONS or (k in top and _type(nodes[k]) in ("Input", "Output"))

    conns: dict[tuple[str, str], _Conn] = {}

    def walk(src: str, k: str, acc: tuple, via: list[str], seen: tuple[str, ...]) -> None:
        for nxt in succ[k]:
            if terminal(nxt):
                n_w = sum(_type(nodes[v]) in WEIGHTS for v in via)
                if n_w > 1:
                    w = [v for v in via if _type(nodes[v]) in WEIGHTS]
                    raise _reject(
                        w[1],
                        nodes[w[1]],
                        f"two weight layers in a row ({w[0]!r} -> {w[1]!r}) without neurons "
                        "between them; the chip has no neurons that only add",
                        "multiply the two weight matrices into one Affine before export",
                    )
                if _type(nodes[nxt]) == "Output" and n_w and _type(nodes[src]) != "Input":
                    raise _reject(
                        via[-1],
                        nodes[via[-1]],
                        "a weight layer into the Output with no neurons after it (a readout "
                        "runs on the host, not on the chip)",
                        "end the model with an LI/CubaLI readout population, or drop the layer "
                        "and apply it to the output spikes",
                    )
                c = conns.get((src, nxt))
                if c is not None:  # several edges into a node are summed
                    if c.w is None or acc[0] is None:
                        raise _reject(nxt, nodes[nxt], "two identity paths", "merge them")
                    bsum = c.b if acc[1] is None else (acc[1] if c.b is None else c.b + acc[1])
                    conns[(src, nxt)] = _Conn(c.w + acc[0], bsum, c.via + via)
                else:
                    conns[(src, nxt)] = _Conn(acc[0], acc[1], list(via))
            else:
                if nxt in seen:
                    raise _reject(nxt, nodes[nxt], "a cycle without neurons", "add a neuron")
                walk(src, nxt, _compose(acc, _affine(nodes[nxt])), via + [nxt], seen + (nxt,))

    for k in nodes:
        if terminal(k) and _type(nodes[k]) != "Output":
            walk(k, k, (None, None), [], ())
    return conns


def _chain(nodes, conns, top_in: str, top_out: str) -> list[str]:
    """Populations in order input -> p1 -> ... -> pk -> output."""
    order: list[str] = []
    cur = top_in
    while True:
        nxt = [b for (a, b) in conns if a == cur and b != cur]
        if len(nxt) != 1:
            raise ValueError(
                f"from_nir: node {cur!r} ({_type(nodes[cur])}) feeds {sorted(nxt)}; only chains "
                "of populations (each feeding the next, plus optional recurrence) map onto a "
                "Sequential: export a feed-forward chain"
            )
        if nxt[0] == top_out:
            break
        if nxt[0] in order:
            raise ValueError(f"from_nir: node {nxt[0]!r} is reached twice; export a chain")
        order.append(nxt[0])
        cur = nxt[0]
    if not order:
        raise ValueError("from_nir: the graph has no neuron population between Input and Output")
    allowed = {(a, b) for a, b in zip([top_in] + order, order + [top_out], strict=True)}
    allowed |= {(p, p) for p in order}
    extra = sorted(set(conns) - allowed)
    if extra:
        a, b = extra[0]
        raise ValueError(
            f"from_nir: connection {a!r} -> {b!r} ({_type(nodes[a])} -> {_type(nodes[b])}) "
            "skips or goes back along the chain; only chains of populations with "
            "self-recurrence map onto a Sequential"
        )
    return order


# --- import ---------------------------------------------------------------------------------
def from_nir(
    graph_or_path: Any,
    dt: float,
    *,
    report: bool = False,
    backend: str = "jax",
    readout_range: float = 1.0,
) -> Sequential | tuple[Sequential, ImportReport]:
    """A NIR graph (``nir.NIRGraph`` or a path to a ``.nir`` file) as a dynapse2 network.

    Args:
        graph_or_path: the graph, or a file read with ``nir.read``.
        dt: simulation time step (s); NIR stores none.
        report: also return an :class:`ImportReport`.
        backend: backend of the DynapSim layers (``"jax"`` or ``"numpy"``).
        readout_range: the NIR potential (above v_leak) an LI/CubaLI readout maps to I_x, the
            top of the DPI's near-linear range; above it the readout saturates (it spikes and
            resets). Choose it above the largest potential the readout reaches.

    Returns:
        ``Sequential`` of ``[Linear,] DynapSim`` pairs (a recurrent population gets
        ``has_rec=True`` and a signed ``w_rec``); with ``report=True``, ``(net, report)``.
        Populations written by :func:`to_nir` are rebuilt exactly from their metadata.

    Raises:
        TypeError, ValueError: an argument of the wrong type or range (naming it).
        ValueError: a node the chip cannot run, or a graph that is not a chain of populations
            (see the module docstring); raised before anything is built.
        FileFormatError: (a ``ValueError``) a path whose content is not an importable NIR
            graph: not HDF5, truncated, corrupted, or a graph as above; the message starts
            with the path. A path that cannot be opened raises ``FileNotFoundError``,
            ``IsADirectoryError`` or ``PermissionError``.
    """
    nir = _nir()
    checks.number("from_nir", "dt", dt, lo=0, lo_open=True)
    checks.boolean("from_nir", "report", report)
    checks.choice("from_nir", "backend", backend, BACKENDS)
    checks.number("from_nir", "readout_range", readout_range, lo=0, lo_open=True)
    if isinstance(graph_or_path, str | os.PathLike):
        return _from_file(graph_or_path, dt, report, backend, readout_range)
    if not isinstance(graph_or_path, nir.NIRGraph):
        raise TypeError(
            f"from_nir: graph_or_path must be a nir.NIRGraph or a path, got "
            f"{type(graph_or_path).__name__}"
        )
    return _from_graph(graph_or_path, dt, report, backend, readout_range)


def _from_file(
    path: str | os.PathLike, dt: float, report: bool, backend: str, readout_range: float
) -> Sequential | tuple[Sequential, ImportReport]:
    """:func:`from_nir` of a file: an unopenable path raises the ``OSError`` of ``open``;
    any content that is not an importable NIR graph raises :class:`FileFormatError`."""
    with open(path, "rb"):  # FileNotFoundError, IsADirectoryError, PermissionError
        pass
    try:
        graph = _nir().read(os.fspath(path))
    except Exception as e:  # noqa: BLE001  (h5py and nir raise many types for a bad file)
        raise FileFormatError(
            path, f"not a readable NIR file (HDF5) ({type(e).__name__}: {e})", _NIR_HINT
        ) from None
    try:
        return _from_graph(graph, dt, report, backend, readout_range)
    except Exception as e:  # noqa: BLE001  (whatever a damaged graph trips over is the file's)
        raise FileFormatError(path, f"its graph cannot be imported: {e}", _NIR_HINT) from None


_NIR_HINT = "write it with nir.write (e.g. nir.write(path, to_nir(net)))"


def _from_graph(
    graph: Any, dt: float, report: bool, backend: str, readout_range: float
) -> Sequential | tuple[Sequential, ImportReport]:
    _check_types(graph)
    nodes, edges = _flatten(graph)
    ins = [k for k, v in graph.nodes.items() if _type(v) == "Input"]
    outs = [k for k, v in graph.nodes.items() if _type(v) == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(
            f"from_nir: the graph has Input nodes {ins} and Output nodes {outs}; a Sequential "
            "needs exactly one of each"
        )
    conns = _connections(nodes, edges, set(ins + outs))
    order = _chain(nodes, conns, ins[0], outs[0])

    rep = ImportReport()
    rep.add(ins[0], "Input", "network input (event counts per channel)")
    modules: list[Any] = []
    prev = ins[0]
    for name in order:
        node = nodes[name]
        ff, rec = conns[(prev, name)], conns.get((name, name))
        exact = _exact(node)
        if exact is not None:
            mods, row = _rebuild(node, ff, rec, nodes, dt, backend)
            modules += mods
            rep.add(name, _type(node), row, "- (exact, from dynapse2 metadata)")
        else:
            mods, notes, scale = _import_population(name, node, ff, rec, dt, backend, readout_range)
            modules += mods
            if scale is not None:
                rep.readouts[name] = scale
            what = f"DynapSim({mods[-1].n}{', has_rec' if rec else ''})"
            if _type(node) in ("LI", "CubaLI"):
                what += " readout (read I_mem)"
            rep.add(name, _type(node), what, "; ".join(notes) or "-")
        for c, kind in ((ff, "input"), (rec, "recurrent")):
            for v in c.via if c else []:
                became = "Linear" if kind == "input" else "w_rec"
                note = "bias -> Idc" if _type(nodes[v]) == "Affine" and kind == "input" else "-"
                if _type(nodes[v]) == "Scale":
                    became, note = f"folded into {became}", "-"
                rep.add(v, _type(nodes[v]), f"{became} of {name!r}", note)
        prev = name
    rep.add(outs[0], "Output", f"output of {order[-1]!r}")
    net = Sequential(*modules)
    return (net, rep) if report else net


def _import_population(name, node, ff: _Conn, rec: _Conn | None, dt, backend, v_range=1.0):
    """``[Linear, DynapSim]`` of a NIR neuron node and the notes of what was approximated;
    for a readout also ``(rest (A), alpha (A/V, (n,)), v_leak (V, (n,)))``."""
    p = _params(node, dt)
    n = p["tau_mem"].size
    cur = dpi_currents(p["tau_mem"], p["tau_syn"], dt)
    isum = leak_node(cur["Itau_mem"])
    gain = cur["Igain_mem"] / isum
    readout = p["v_threshold"] is None
    if readout:  # thresholded soma (no positive feedback), threshold at the top of its range
        alpha = np.full(n, READOUT_SPAN / v_range)
        rest = READOUT_SPAN + READOUT_FLOOR * float(cur["Igain_mem"].max())
        cur["Ispkthr"] = np.full(n, SPKTHR_MAX)
        idc = isum + rest / gain
        p["approx"].append(
            f"I_mem is the output, v = v_leak + (I_mem - {rest:.3g} A) / {alpha[0]:.3g} A/V; "
            f"linear for |v - v_leak| <= {v_range:g}, never spikes below {SPKTHR_MAX:.3g} A"
        )
    else:
        alpha = cur["Ispkthr"] / (p["v_threshold"] - p["v_leak"])
        rest, idc = None, isum.copy()  # the DC cancels the leak node's offset
    t_pulse = K.T_PULSE  # the default I_pulse = C_pulse V_th / T_PULSE
    j = _charge(cur["Igain_ampa"], cur["Itau_ampa"], K.ISCALE, t_pulse, p["tau_syn"])
    # NIR weight -> Iscale; a spike is one step of height 1 (area dt)
    k_syn = alpha * p["r"] * p["w_in"] * dt / (gain * p["tau_syn"] * j)
    k_dc = alpha * p["r"] * p["w_in"] / gain  # NIR bias -> A
    if ff.b is not None:
        idc = idc + k_dc * ff.b
    if rec is not None and rec.b is not None:
        idc = idc + k_dc * rec.b
    if (idc < K.IO).any():
        p["approx"].append(f"negative DC clipped at I_0 ({int((idc < K.IO).sum())} neurons)")
        idc = np.maximum(idc, K.IO)
    w_in = np.eye(n) if ff.w is None else ff.w
    if w_in.shape[0] != n:
        raise _reject(name, node, f"input weights of shape {w_in.shape}", f"expected ({n}, .)")
    w_ff = (w_in * k_syn[:, None]).T  # (in, n), units of the nominal Iscale
    w_rec = None
    if rec is not None:
        w_rec = (np.eye(n) if rec.w is None else rec.w) * k_syn[:, None]  # (post, pre)
        w_rec = w_rec.T  # DynapSim: row presynaptic, column postsynaptic
    # the weight unit: raised where a weight would exceed WEIGHT_MAX unit weights, so that
    # every weight fits the 4 bits of the core's base weights (and fit's default bound)
    w_max = max(
        float(np.abs(w_ff).max(initial=0)),
        float(np.abs(w_rec).max(initial=0)) if w_rec is not None else 0.0,
    )
    iscale = K.ISCALE * max(1.0, w_max / WEIGHT_MAX)
    if iscale > K.ISCALE:
        w_ff = w_ff * (K.ISCALE / iscale)
        w_rec = None if w_rec is None else w_rec * (K.ISCALE / iscale)
        p["approx"].append(f"Iscale {iscale * 1e9:.3g} nA (weights up to {WEIGHT_MAX:g} units)")
    lin = Linear((w_in.shape[1], n), weight=w_ff)
    values = {k: v for k, v in cur.items()} | {"Idc": idc}
    pop = DynapSim(
        n,
        has_rec=rec is not None,
        w_rec=w_rec,
        dt=dt,
        backend=backend,
        positive_feedback=False,
        Iscale=iscale,
        **values,
    )
    scale = None
    if readout:  # start at rest (v = v_leak), as the NIR readout does, not at I_0
        pop = pop.set_attributes({"imem": jnp.full((n,), rest, jnp.float32)})
        scale = (rest, alpha, p["v_leak"])
    return [lin, pop], p["approx"], scale


# --- exact round trip through metadata --------------------------------------------------------
def _exact(node: Any) -> dict | None:
    meta = getattr(node, "metadata", None) or {}
    s = meta.get("dynapse2")
    if s is None:
        return None
    s = s.decode() if isinstance(s, bytes) else str(s)
    d = json.loads(s)
    return d if d.get("format") == FORMAT else None


def _rebuild(node, ff: _Conn, rec: _Conn | None, nodes, dt, backend):
    d = _exact(node)
    meta = node.metadata
    arr = lambda k: np.asarray(meta[f"dynapse2.{k}"])  # noqa: E731
    if abs(d["dt"] - dt) > 1e-12 * d["dt"]:
        raise ValueError(
            f"from_nir: the population was exported with dt = {d['dt']!r} s; rebuild it with "
            f"that dt (got {dt!r}) or strip its metadata to re-derive it"
        )
    values = {c: arr(c) for c in CURRENTS} | d["capacitances"] | d["constants"]
    has_rec = d["has_rec"]
    pop = DynapSim(
        d["n"],
        has_rec=has_rec,
        w_rec=arr("w_rec") if has_rec else None,
        dt=d["dt"],
        groups=np.asarray(d["groups"], np.int64),
        backend=backend,
        synapse_model=d["synapse_model"],
        detach_feedback=d["detach_feedback"],
        detach_reset=d["detach_reset"],
        surrogate=d["surrogate"],
        surrogate_slope=d["surrogate_slope"],
        solver=solver_from_name(d.get("solver", "euler"), "dynapse2 metadata: solver"),
        positive_feedback=d.get("positive_feedback", True),  # older files: the exponential soma
        **values,
    )
    mismatch = checks.mismatch("from_nir", "dynapse2 metadata: mismatch", d["mismatch"])
    if mismatch > 0:  # the stored factors, not a fresh draw
        factors = {k: jnp.asarray(arr(f"mismatch.{k}")) for k in d["mismatch_names"]}
        pop = _replace(pop, mismatch=mismatch, mismatch_factors=factors)
    mods: list[Any] = []
    if ff.via:
        exact = [v for v in ff.via if "dynapse2.weight" in (nodes[v].metadata or {})]
        if len(exact) != 1 or len(ff.via) != 1:
            raise ValueError(
                f"from_nir: population exported by dynapse2 has input path {ff.via}; expected "
                "one Affine written by to_nir"
            )
        w = np.asarray(nodes[exact[0]].metadata["dynapse2.weight"])
        m = Linear(w.shape, weight=w)
        if d.get("linear_bias") is not None:
            m = m.set_attributes({"bias": jnp.asarray(nodes[exact[0]].metadata["dynapse2.bias"])})
        mods.append(m)
    return [*mods, pop], f"DynapSim({d['n']}{', has_rec' if has_rec else ''})"


# --- export ---------------------------------------------------------------------------------
def _pairs(net: Any) -> list[tuple[Linear | None, DynapSim]]:
    mods = list(net.modules) if isinstance(net, Sequential) else [net]
    out, pending = [], None
    for i, m in enumerate(mods):
        if isinstance(m, Linear):
            if pending is not None:
                raise ValueError(f"to_nir: module {i}: two Linear layers in a row")
            pending = m
        elif isinstance(m, DynapSim):
            out.append((pending, m))
            pending = None
        else:
            raise ValueError(
                f"to_nir: module {i} is a {type(m).__name__}; expected Linear/DynapSim"
            )
    if pending is not None:
        raise ValueError(
            "to_nir: the network ends with a Linear layer; NIR export needs neurons last"
        )
    if not out:
        raise ValueError("to_nir: the network has no DynapSim layer")
    return out


def _is_readout(m: DynapSim) -> bool:
    """A non-spiking readout: the thresholded soma with its threshold at the top of the range."""
    return not m.positive_feedback and float(np.min(m.Ispkthr)) >= SPKTHR_MAX * (1 - 1e-6)


def to_nir(net: Any) -> Any:
    """A dynapse2 network (``Sequential`` of ``[Linear,] DynapSim`` pairs, or one ``DynapSim``)
    as a ``nir.NIRGraph``.

    Each population becomes a ``CubaLIF`` (tau_syn = AMPA tau, tau_mem = C_mem U_T / (kappa
    I_sum), R = 1, v_leak = v_reset = 0, v_threshold = 1, w_in = 1: the inverse of the import
    mapping, with alpha = Ispkthr); a readout (``positive_feedback=False`` and the threshold at
    the top of the range) a ``CubaLI`` (the inverse with readout_range = 1),
    each ``Linear`` an ``Affine`` whose bias carries the population's DC current, recurrence a
    flat cycle through a ``Linear`` node ``w_rec_<i>`` (signed AMPA - GABA; NMDA/SHUNT
    recurrence is in the metadata only). The exact module parameters (float32 arrays of every
    current, ``w_rec``, mismatch factors; JSON of the static settings, the solver's name
    included) are in each node's metadata, so :func:`from_nir` rebuilds the network bit for
    bit (metadata without a solver, written before it was saved, reads as ``Euler()``).
    """
    nir = _nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    pairs = _pairs(net)
    n_in = pairs[0][0].n_in if pairs[0][0] is not None else pairs[0][1].n
    nodes["input"] = nir.Input(input_type=np.array([n_in]))
    prev = "input"
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    for i, (lin, m) in enumerate(pairs):
        if m.w_rec is not None and not isinstance(m.w_rec, jnp.ndarray | np.ndarray):
            raise ValueError(f"to_nir: population {i} has sparse w_rec; convert it to dense first")
        n = m.n
        tau_syn = np.asarray(m.tau_ampa, np.float64)
        isum = leak_node(m.Itau_mem, m.Io)
        tau_mem = time_constant(m.capacitances["C_mem"], isum, m.kappa, m.Ut)
        gain = np.asarray(m.Igain_mem, np.float64) / isum
        offset = isum  # the DC that cancels the leak node (the DC above it is a bias)
        readout = _is_readout(m)
        if not readout:
            alpha = np.asarray(m.Ispkthr, np.float64)
        else:  # the inverse of the import with readout_range = 1
            alpha = np.full(n, READOUT_SPAN)
            rest = READOUT_SPAN + READOUT_FLOOR * float(np.max(m.Igain_mem))
            offset = isum + rest / gain
        j = _charge(m.Igain_ampa, m.Itau_ampa, m.Iscale, m.t_pulse, tau_syn)
        k_syn = alpha * m.dt / (gain * tau_syn * j)
        bias = (np.asarray(m.Idc, np.float64) - offset) * gain / alpha
        d = {
            "format": FORMAT,
            "n": n,
            "dt": m.dt,
            "has_rec": m.w_rec is not None,
            "capacitances": m.capacitances,
            "constants": {k: getattr(m, k) for k in ("Iscale", "Ut", "kappa_n", "kappa_p", "Io")}
            | {"Vth": m.Vth},
            "groups": list(m.groups),
            "mismatch": m.mismatch,
            "mismatch_names": sorted(m.mismatch_factors) if m.mismatch_factors else [],
            "synapse_model": m.synapse_model,
            "detach_feedback": m.detach_feedback,
            "detach_reset": m.detach_reset,
            "surrogate": m.surrogate,
            "surrogate_slope": m.surrogate_slope,
            "solver": m.solver.name,
            "positive_feedback": m.positive_feedback,
            "linear_bias": None if lin is None or lin.bias is None else True,
        }
        meta: dict[str, Any] = {"dynapse2": json.dumps(d)}
        meta |= {f"dynapse2.{c}": f32(getattr(m, c)) for c in CURRENTS}
        if m.w_rec is not None:
            meta["dynapse2.w_rec"] = f32(m.w_rec)
        for k, v in (m.mismatch_factors or {}).items():
            meta[f"dynapse2.mismatch.{k}"] = f32(v)
        pop = f"pop_{i}"
        common = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=np.ones(n), v_leak=np.zeros(n))
        if not readout:
            nodes[pop] = nir.CubaLIF(
                **common,
                v_threshold=np.ones(n),
                v_reset=np.zeros(n),
                w_in=np.ones(n),
                metadata=meta,
            )
        else:
            nodes[pop] = nir.CubaLI(**common, w_in=np.ones(n), metadata=meta)
        if lin is not None:
            w = np.asarray(lin.weight, np.float64)
            b = bias.copy()
            if lin.bias is not None:  # a per-step count -> a NIR rate (events per second)
                b = b + np.asarray(lin.bias, np.float64) / (k_syn * m.dt)
            lmeta = {"dynapse2.weight": f32(lin.weight)}
            if lin.bias is not None:
                lmeta["dynapse2.bias"] = f32(lin.bias)
            nodes[f"affine_{i}"] = nir.Affine(weight=(w / k_syn[None, :]).T, bias=b, metadata=lmeta)
            edges += [(prev, f"affine_{i}"), (f"affine_{i}", pop)]
        else:
            edges.append((prev, pop))
        if m.w_rec is not None:
            signed = signed_from_typed(np.asarray(m.w_rec, np.float64))
            nodes[f"w_rec_{i}"] = nir.Linear(weight=(signed / k_syn[None, :]).T)
            edges += [(pop, f"w_rec_{i}"), (f"w_rec_{i}", pop)]
        prev = pop
    nodes["output"] = nir.Output(output_type=np.array([pairs[-1][1].n]))
    edges.append((prev, "output"))
    meta = {"dynapse2.format": FORMAT, "dt": float(pairs[0][1].dt)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
