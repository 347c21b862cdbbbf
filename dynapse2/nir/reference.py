"""A NIR graph simulated in NIR's own continuous-time semantics (float64 NumPy).

The yardstick of :func:`dynapse2.nir.from_nir`: it reads the graph as the NIR specification
states it, independently of the import's mapping, so that an imported network can be compared
with what the graph means (firing rates per layer, readout potentials, accuracy).

Semantics (NIR 1.0; the state of each neuron node evolves in continuous time):

- ``LI``: tau dv/dt = (v_leak - v) + R I; ``LIF`` the same with a spike when v > v_threshold
  and v <- v_reset; ``IF``: dv/dt = R I with threshold and reset; ``I``: dv/dt = R I.
- ``CubaLI``: tau_syn dI_syn/dt = -I_syn + w_in I, tau_mem dv/dt = (v_leak - v) + R I_syn;
  ``CubaLIF`` the same with threshold and reset.
- ``Affine``: W x + b; ``Linear``: W x; ``Scale``: s x. Several edges into a node are summed.
  Nested ``NIRGraph`` nodes are simulated as their contents.
- A spike is 1 for one step, as the discrete-time exporters (snnTorch, spyx, Rockpool) read
  it (NIR leaves a spike's size to the simulator): an input count c at step t is a delta of
  area c dt at the start of the step, so an ``LIF`` jumps by R W c dt / tau, a ``CubaLIF``'s
  I_syn by w_in W c dt / tau_syn (snnTorch's export, r = tau_mem/dt and w_in = tau_syn/dt,
  then jumps by W as its own simulator does). A bias, and the potential of an ``LI`` read by
  a node downstream, are continuous inputs, held constant over a step.

Discretisation: the step's deltas are applied at its start, then every neuron's linear
equations are integrated exactly (exponentials) over ``dt / substeps`` with the continuous
inputs held; a spiking neuron above threshold at the end of a substep spikes (at most once per
substep) and resets. Signals flow along the graph within the step (the next node sees this
step's spikes); an edge that closes a cycle carries the previous step's output. Spikes are
counted per step. With ``substeps`` large this converges to the continuous-time solution.

``simulate(..., floor=h)`` is not NIR: it clips the potential of spiking neurons at
v_leak - h (v_threshold - v_leak) from below (at the end of each substep). ``floor=0`` is the
DPI soma of an import, which cannot go below I_0, where v_leak maps
(:mod:`dynapse2.nir.mapping`); beside the plain reference it tells how much of an import's
rate error is that floor (``benchmarks/nir_fidelity_causes.py``). ``floor=h,
reset_to_floor=True`` also resets to the floor instead of v_reset: a DPI whose v_leak maps to
a rest current above I_0 (room for h (v_threshold - v_leak) below v_leak) still resets to I_0,
i.e. to that floor (``benchmarks/nir_headroom.py`` measures both).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from dynapse2 import checks
from dynapse2.nir._package import nir_package

SPIKING = ("LIF", "CubaLIF", "IF")
NEURONS = (*SPIKING, "LI", "CubaLI", "I")
MAPS = ("Affine", "Linear", "Scale", "Input", "Output")


def _flat(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Every leaf node under a dotted name, and the edges between leaves (a nested graph's
    Input and Output nodes stay, as identities)."""
    nir = nir_package()
    nodes, edges, entry, exit_ = {}, [], {}, {}
    for key, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flat(node, f"{prefix}{key}.")
            nodes |= sub_nodes
            edges += sub_edges
            entry[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if _is(v, "Input")]
            exit_[key] = [f"{prefix}{key}.{k}" for k, v in node.nodes.items() if _is(v, "Output")]
        else:
            nodes[prefix + key] = node
    for a, b in graph.edges:
        for src in exit_.get(a, [prefix + a]):
            for dst in entry.get(b, [prefix + b]):
                edges.append((src, dst))
    return nodes, edges


def _is(node: Any, name: str) -> bool:
    return type(node).__name__ == name


def _order(nodes: dict, edges: list, start: list[str]) -> tuple[list[str], set]:
    """A depth-first order of the nodes from ``start`` and the set of back edges (those that
    close a cycle: they carry the previous step's value)."""
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
    pred_count = {k: 0 for k in nodes}
    state: dict[str, int] = {}
    back: set = set()

    def dfs(k: str) -> None:
        state[k] = 1
        for n in succ[k]:
            if state.get(n) == 1:
                back.add((k, n))
            elif n not in state:
                dfs(n)
        state[k] = 2

    for s in start:
        if s not in state:
            dfs(s)
    for a, b in edges:
        if (a, b) not in back:
            pred_count[b] += 1
    ready = [k for k in start]
    order: list[str] = []
    while ready:
        k = ready.pop(0)
        order.append(k)
        for n in succ[k]:
            if (k, n) in back:
                continue
            pred_count[n] -= 1
            if pred_count[n] == 0:
                ready.append(n)
    return order, back


def _arr(v: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(v, np.float64))


class _Neuron:
    """State and exact update of one neuron node."""

    def __init__(
        self,
        node: Any,
        h: float,
        batch: int,
        floor: float | None = None,
        reset_to_floor: bool = False,
    ):
        t = type(node).__name__
        self.kind, self.h, self.reset_to_floor = t, h, reset_to_floor
        self.spiking = t in SPIKING
        self.r = _arr(node.r)
        if t in ("IF", "I"):
            self.tau = None
            self.v_leak = np.zeros_like(self.r)
        else:
            self.tau = _arr(node.tau_mem if t.startswith("Cuba") else node.tau)
            self.v_leak = _arr(node.v_leak)
        self.cuba = t.startswith("Cuba")
        if self.cuba:
            self.tau_syn = _arr(node.tau_syn)
            self.w_in = _arr(node.w_in) * np.ones_like(self.tau_syn)
        if self.spiking:
            self.v_thr = _arr(node.v_threshold)
            v_reset = getattr(node, "v_reset", None)
            self.v_reset = np.zeros_like(self.v_thr) if v_reset is None else _arr(v_reset)
        # the potential's floor (None: none): v_leak - h (v_threshold - v_leak)
        self.v_floor = None
        if self.spiking and floor is not None:
            self.v_floor = self.v_leak - floor * (self.v_thr - self.v_leak)
        self.v = np.broadcast_to(self.v_leak * np.ones_like(self.r), (batch, self.r.size)).copy()
        self.i = np.zeros_like(self.v)  # the synaptic current (CubaLI, CubaLIF only)

    def kick(self, imp: np.ndarray) -> None:
        """The step's deltas of total weighted area ``imp`` (per neuron)."""
        if self.cuba:
            self.i = self.i + self.w_in * imp / self.tau_syn
        elif self.tau is None:
            self.v = self.v + self.r * imp
        else:
            self.v = self.v + self.r * imp / self.tau

    def step(self, imp: Any, cont: Any, dt: float, substeps: int) -> np.ndarray:
        """One step of ``dt`` (s): the deltas ``imp`` (counts per step) at its start, then
        ``substeps`` substeps with the continuous input ``cont`` held; returns the step's spike
        counts (spiking nodes) or the potential v at its end, ``(B, n)``."""
        self.kick(np.broadcast_to(imp, self.v.shape) * dt)
        count = np.zeros_like(self.v)
        cont_b = np.broadcast_to(cont, self.v.shape)
        for _ in range(substeps):
            count += self.advance(cont_b)
        return count if self.spiking else self.v.copy()

    def advance(self, cont: np.ndarray) -> np.ndarray:
        """Integrate one substep with the continuous input ``cont`` held; returns spikes."""
        self._integrate(cont)
        if not self.spiking:
            return np.zeros_like(self.v)
        return self._fire()

    def _integrate(self, cont: np.ndarray) -> None:
        """The linear equations integrated exactly over one substep with ``cont`` held."""
        h = self.h
        if self.cuba:
            tau = self.tau
            assert tau is not None  # every Cuba node has a membrane tau
            c = self.w_in * cont
            a = self.i - c
            es, em = np.exp(-h / self.tau_syn), np.exp(-h / tau)
            u = self.v - self.v_leak - self.r * c
            near = np.isclose(self.tau_syn, tau, rtol=1e-9)
            ratio = self.tau_syn / np.where(near, 1.0, self.tau_syn - tau)
            forced = np.where(near, h / tau * em, ratio * (es - em))
            self.v = self.v_leak + self.r * c + u * em + self.r * a * forced
            self.i = c + a * es
        elif self.tau is None:
            self.v = self.v + self.r * cont * h
        else:
            em = np.exp(-h / self.tau)
            target = self.v_leak + self.r * cont
            self.v = target + (self.v - target) * em

    def _fire(self) -> np.ndarray:
        """The floor (if any), then a spike above threshold and its reset; returns spikes."""
        if self.v_floor is not None:
            self.v = np.maximum(self.v, self.v_floor)
        z = (self.v > self.v_thr).astype(np.float64)
        reset = self.v_reset
        if self.reset_to_floor and self.v_floor is not None:
            reset = self.v_floor
        self.v = np.where(z > 0, reset, self.v)
        return z


def simulate(
    graph: Any,
    x: Any,
    dt: float,
    *,
    substeps: int = 1,
    floor: float | None = None,
    reset_to_floor: bool = False,
) -> dict[str, np.ndarray]:
    """Simulate ``graph`` on the input event counts ``x`` ``(T, n_in)`` or ``(B, T, n_in)``.

    Args:
        graph: a ``nir.NIRGraph`` with one ``Input`` and one ``Output`` node (nested graphs
            allowed; cycles allowed).
        x: input spike counts per step, each count one Dirac delta at the step's start.
        dt: the step (s). substeps: exact sub-steps per step (threshold checks per step).
        floor: None (NIR), or the headroom h >= 0: clip spiking neurons' potential at
            v_leak - h (v_threshold - v_leak) from below (not NIR; 0 is the DPI's floor at I_0,
            see the module docstring).
        reset_to_floor: reset spiking neurons to the floor instead of v_reset (not NIR; needs
            ``floor``).

    Returns:
        ``{"output": (..., T, n_out), <neuron node>: (..., T, n), ...}`` (batch axis as
        given): the Output node's value (spike counts per step, or a non-spiking readout's
        potential v at the end of each step) and, per neuron node (dotted name for nested
        ones), its spike counts per step (spiking nodes) or potential v (``LI``, ``CubaLI``,
        ``I``). float64.
    """
    floor = _checked(dt, substeps, floor, reset_to_floor)
    x, batched = _as_batch(x)
    B, T = x.shape[:2]
    g = _prepare(graph)
    h = dt / substeps
    neurons = {
        k: _Neuron(g.nodes[k], h, B, floor, reset_to_floor)
        for k in g.order
        if type(g.nodes[k]).__name__ in NEURONS
    }
    prev: dict[str, tuple[Any, Any]] = {}
    rec: dict[str, list[np.ndarray]] = {k: [] for k in [*neurons, "output"]}
    for t in range(T):
        now = _step(g, neurons, x[:, t], prev, dt, substeps, rec)
        imp, cont = now[g.output]
        rec["output"].append(np.asarray(imp + cont))
        prev = now
    return _stacked(rec, B, batched)


def _checked(dt: float, substeps: int, floor: float | None, reset_to_floor: bool) -> float | None:
    """:func:`simulate`'s option checks (before any work); returns ``floor`` as checked."""
    checks.number("simulate", "dt", dt, lo=0, lo_open=True)
    checks.integer("simulate", "substeps", substeps, lo=1)
    if floor is not None:
        floor = checks.number("simulate", "floor", floor, lo=0)
    checks.boolean("simulate", "reset_to_floor", reset_to_floor)
    if reset_to_floor and floor is None:
        raise ValueError("simulate: reset_to_floor=True needs a floor (floor=None)")
    return floor


def _as_batch(x: Any) -> tuple[np.ndarray, bool]:
    """``x`` as float64 ``(B, T, n_in)``, and whether it had the batch axis."""
    x = np.asarray(x, np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"simulate: x has shape {x.shape}; expected (T, n_in) or (B, T, n_in)")
    batched = x.ndim == 3
    return (x if batched else x[None]), batched


class _Graph(NamedTuple):
    """A graph ready to simulate: its leaf nodes (dotted names), the order signals reach them,
    the back edges (they carry the previous step's value), each node's predecessors, and the
    names of the Input and Output nodes."""

    nodes: dict[str, Any]
    order: list[str]
    back: set
    preds: dict[str, list[str]]
    input: str
    output: str


def _prepare(graph: Any) -> _Graph:
    """``graph`` flattened and ordered; rejects a graph without exactly one Input and one Output
    node, or with a node that is not simulated."""
    nodes, edges = _flat(graph)
    ins = [k for k in graph.nodes if _is(graph.nodes[k], "Input")]
    outs = [k for k in graph.nodes if _is(graph.nodes[k], "Output")]
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(f"simulate: the graph has Input nodes {ins} and Output nodes {outs}")
    for k, node in nodes.items():
        if type(node).__name__ not in NEURONS + MAPS:
            raise ValueError(f"simulate: node {k!r} ({type(node).__name__}) is not simulated")
    order, back = _order(nodes, edges, ins)
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        preds[b].append(a)
    return _Graph(nodes, order, back, preds, ins[0], outs[0])


def _step(
    g: _Graph,
    neurons: dict[str, _Neuron],
    x_t: np.ndarray,
    prev: dict[str, tuple[Any, Any]],
    dt: float,
    substeps: int,
    rec: dict[str, list[np.ndarray]],
) -> dict[str, tuple[Any, Any]]:
    """One step of every node, in signal order, on the input counts ``x_t`` ``(B, n_in)``: each
    node's (deltas, continuous) output; appends each neuron node's value to ``rec``."""
    now: dict[str, tuple[Any, Any]] = {}
    for k in g.order:
        if k == g.input:
            now[k] = (x_t, 0.0)
            continue
        imp, cont = _summed_inputs(g, k, now, prev)
        if k in neurons:
            nrn = neurons[k]
            value = nrn.step(imp, cont, dt, substeps)
            now[k] = (value, 0.0) if nrn.spiking else (0.0, value)
            rec[k].append(value)
        else:
            now[k] = _map(g.nodes[k], imp, cont)
    return now


def _summed_inputs(
    g: _Graph, k: str, now: dict[str, tuple[Any, Any]], prev: dict[str, tuple[Any, Any]]
) -> tuple[Any, Any]:
    """The (deltas, continuous) inputs into node ``k`` summed over its edges (a back edge
    carries the previous step's output)."""
    imp, cont = 0.0, 0.0
    for p in g.preds[k]:
        src = prev if (p, k) in g.back else now
        if p in src:
            imp, cont = imp + src[p][0], cont + src[p][1]
    return imp, cont


def _map(node: Any, imp: Any, cont: Any) -> tuple[Any, Any]:
    """The (deltas, continuous) output of a map node (``Affine``, ``Linear``, ``Scale``, or a
    nested graph's ``Input`` / ``Output``: the identity) on its summed inputs."""
    kind = type(node).__name__
    if kind in ("Affine", "Linear"):
        w = np.asarray(node.weight, np.float64)
        b = _arr(node.bias) if kind == "Affine" else 0.0
        return (np.asarray(imp) @ w.T if np.ndim(imp) else 0.0, _dot(cont, w) + b)
    if kind == "Scale":
        s = _arr(node.scale)
        return (s * imp, s * cont)
    return (imp, cont)


def _stacked(rec: dict[str, list[np.ndarray]], B: int, batched: bool) -> dict[str, np.ndarray]:
    """The per-step records stacked along time: ``(B, T, n)`` (``(T, n)`` if not ``batched``)."""
    n_out = max(np.shape(r)[-1] if np.ndim(r) else 1 for r in rec["output"])
    out = {k: np.stack(v, axis=1) for k, v in rec.items() if k != "output"}
    out["output"] = np.stack([np.broadcast_to(r, (B, n_out)) for r in rec["output"]], axis=1)
    return out if batched else {k: v[0] for k, v in out.items()}


def _dot(v: Any, w: np.ndarray) -> Any:
    return np.asarray(v) @ w.T if np.ndim(v) else (w.sum(axis=1) * v if v else 0.0)
