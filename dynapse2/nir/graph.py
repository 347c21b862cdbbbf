"""A NIR graph as :func:`dynapse2.nir.from_nir` reads it: nested graphs flattened, weight and
pass-through nodes folded into connections between populations, and the chain of
populations (with optional self-recurrence) that becomes a ``Sequential``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dynapse2.nir._package import nir_package
from dynapse2.nir.nodes import NEURONS, WEIGHTS, node_type, reject

Weights = tuple[np.ndarray | None, np.ndarray | None]
"""(W (out, in), b (out,)) of a path; None: identity / no bias."""


def flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """All non-graph nodes under full names, and edges between them. Input/Output nodes of
    nested graphs are kept (as pass-through nodes)."""
    nir = nir_package()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    ins: dict[str, list[str]] = {}
    outs: dict[str, list[str]] = {}
    for key, node in graph.nodes.items():
        name = prefix + key
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = flatten(node, name + ".")
            nodes |= sub_nodes
            edges += sub_edges
            ins[key] = [name + "." + k for k, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs[key] = [name + "." + k for k, v in node.nodes.items() if node_type(v) == "Output"]
            if len(ins[key]) != 1 or len(outs[key]) != 1:
                raise reject(
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


def _affine(node: Any) -> Weights:
    t = node_type(node)
    if t == "Affine":
        return np.asarray(node.weight, np.float64), np.asarray(node.bias, np.float64)
    if t == "Linear":
        return np.asarray(node.weight, np.float64), None
    if t == "Scale":
        return np.diag(np.asarray(node.scale, np.float64).ravel()), None
    return None, None  # identity


def _compose(first: Weights, second: Weights) -> Weights:
    """(W2, b2) o (W1, b1); None means identity / no bias."""
    (w1, b1), (w2, b2) = first, second
    w = w1 if w2 is None else (w2 if w1 is None else w2 @ w1)
    b = b1 if w2 is None or b1 is None else w2 @ b1
    b = b2 if b is None else (b if b2 is None else b + b2)
    return w, b


@dataclass
class Conn:
    """The summed path from one population (or the Input) to the next."""

    w: np.ndarray | None  # (out, in) NIR weight, None: identity
    b: np.ndarray | None
    via: list[str]  # weight-node names on the path


def connections(
    nodes: dict[str, Any], edges: list[tuple[str, str]], top: set[str]
) -> dict[tuple[str, str], Conn]:
    """Connections terminal -> terminal (terminals: top Input/Output and neurons) through
    weight and pass-through nodes; several paths between the same pair are summed."""
    succ: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)

    def terminal(k: str) -> bool:
        return node_type(nodes[k]) in NEURONS or (
            k in top and node_type(nodes[k]) in ("Input", "Output")
        )

    conns: dict[tuple[str, str], Conn] = {}

    def walk(src: str, k: str, acc: Weights, via: list[str], seen: tuple[str, ...]) -> None:
        for nxt in succ[k]:
            if terminal(nxt):
                n_w = sum(node_type(nodes[v]) in WEIGHTS for v in via)
                if n_w > 1:
                    w = [v for v in via if node_type(nodes[v]) in WEIGHTS]
                    raise reject(
                        w[1],
                        nodes[w[1]],
                        f"two weight layers in a row ({w[0]!r} -> {w[1]!r}) without neurons "
                        "between them; the chip has no neurons that only add",
                        "multiply the two weight matrices into one Affine before export",
                    )
                if node_type(nodes[nxt]) == "Output" and n_w and node_type(nodes[src]) != "Input":
                    raise reject(
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
                        raise reject(nxt, nodes[nxt], "two identity paths", "merge them")
                    bsum = c.b if acc[1] is None else (acc[1] if c.b is None else c.b + acc[1])
                    conns[(src, nxt)] = Conn(c.w + acc[0], bsum, c.via + via)
                else:
                    conns[(src, nxt)] = Conn(acc[0], acc[1], list(via))
            else:
                if nxt in seen:
                    raise reject(nxt, nodes[nxt], "a cycle without neurons", "add a neuron")
                walk(src, nxt, _compose(acc, _affine(nodes[nxt])), via + [nxt], seen + (nxt,))

    for k in nodes:
        if terminal(k) and node_type(nodes[k]) != "Output":
            walk(k, k, (None, None), [], ())
    return conns


def chain(
    nodes: dict[str, Any], conns: dict[tuple[str, str], Conn], top_in: str, top_out: str
) -> list[str]:
    """Populations in order input -> p1 -> ... -> pk -> output."""
    order: list[str] = []
    cur = top_in
    while True:
        nxt = [b for (a, b) in conns if a == cur and b != cur]
        if len(nxt) != 1:
            raise ValueError(
                f"from_nir: node {cur!r} ({node_type(nodes[cur])}) feeds {sorted(nxt)}; only "
                "chains of populations (each feeding the next, plus optional recurrence) map "
                "onto a "
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
            f"from_nir: connection {a!r} -> {b!r} ({node_type(nodes[a])} -> {node_type(nodes[b])}) "
            "skips or goes back along the chain; only chains of populations with "
            "self-recurrence map onto a Sequential"
        )
    return order
