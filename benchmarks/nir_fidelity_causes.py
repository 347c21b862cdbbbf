"""Where the NIR import's rate errors come from (``benchmarks/nir_fidelity.py``'s graphs).

For each graph of ``tests/data/nir`` (a hidden and an output population), on the test set:

1. the floor: each layer's mean rate imported, against the NIR reference and against the
   reference with spiking neurons' potential clipped at v_leak from below
   (``simulate(..., floor=0)``: the DPI's I_mem cannot go below I_0, where v_leak
   maps). What the floor explains shows as the difference between the two columns.
2. the output layer alone: the imported output layer driven by the reference's hidden spikes
   (its own mapping error), and the reference's output layer driven by the imported hidden
   spikes (what the hidden layer's differences do to it).
3. quantization (``network_from_config(map_network(net, prune=True).config)``): the output
   layer's accuracy and per-neuron rates (against the float import, on the float hidden
   spikes) with only its weights quantized, only its currents quantized, and its quantized
   weights with the connections quantization dropped (below half the smallest level) put
   back at their float values.

Run: ``python benchmarks/nir_fidelity_causes.py [--graphs PREFIX]`` (about 2 min on the shared
2-core machine).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from dynapse2 import Sequential
from dynapse2.hardware import map_network, network_from_config
from dynapse2.nir import from_nir, to_nir_semantics
from dynapse2.nir.reference import simulate

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nir"
DT = 1e-4


def _pct(b: float, a: float) -> str:
    return f"{100 * (b / a - 1):+.1f} %" if a > 0 else "-"


def _run(mods: list, x: np.ndarray) -> np.ndarray:
    return np.asarray(Sequential(*mods)(x)[0])


def _output_layer(graph, hidden: str, out: str, spikes: np.ndarray) -> np.ndarray:
    """The reference's output layer (the weights into ``out`` and ``out``) on ``spikes``."""
    import nir  # noqa: PLC0415

    (w,) = [a for a, b in graph.edges if b == out]
    n_out = np.shape(graph.nodes[w].weight)[0]
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([spikes.shape[-1]])}),
            w: graph.nodes[w],
            out: graph.nodes[out],
            "output": nir.Output(output_type={"output": np.array([n_out])}),
        },
        edges=[("input", w), (w, out), (out, "output")],
    )
    return simulate(sub, spikes.astype(np.float64), DT)[out]


def evaluate(name: str, framework: str, x: np.ndarray, y: np.ndarray) -> list[str]:
    import nir  # noqa: PLC0415

    path = DATA / f"{name}.nir"
    graph, _ = to_nir_semantics(nir.read(path), DT, framework)
    ref = simulate(graph, x, DT)
    floor = simulate(graph, x, DT, floor=0)
    hidden, out = [k for k in ref if k != "output"]
    net = from_nir(path, dt=DT, convention=framework)
    lin0, pop0, lin1, pop1 = net.modules
    h = _run([lin0, pop0], x)
    o = _run([lin1, pop1], h)
    rows = []
    for layer, k, got in (("hidden", hidden, h), ("output", out, o)):
        a, f, b = ref[k].sum(), floor[k].sum(), got.sum()
        rows.append(f"| {name} | {layer} | {_pct(b, a)} | {_pct(f, a)} | {_pct(b, f)} |")
    own = _run([lin1, pop1], ref[hidden].astype(np.float32)).sum()
    inherited = _output_layer(graph, hidden, out, h).sum()
    r = ref[out].sum()
    iso = f"| {name} | {_pct(o.sum(), r)} | {_pct(own, r)} | {_pct(inherited, r)} |"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = network_from_config(map_network(net, prune=True).config)
    qlin, qpop = q.modules[2], q.modules[3]
    wf, wq = np.asarray(lin1.weight), np.asarray(qlin.weight)
    restored = lin1.set_attributes({"weight": np.where((wq == 0) & (wf != 0), wf, wq)})
    base = o.sum(axis=1)
    cells = []
    for mods in ([qlin, qpop], [qlin, pop1], [lin1, qpop], [restored, pop1]):
        c = _run(mods, h).sum(axis=1)
        ratio = " ".join(f"{v:.2f}" for v in c.sum(0) / np.maximum(base.sum(0), 1))
        cells.append(f"{100 * (c.argmax(1) == y).mean():.1f} ({ratio})")
    dropped = int(((wq == 0) & (wf != 0)).sum())
    acc = f"{100 * (base.argmax(1) == y).mean():.1f}"
    quant = f"| {name} | {acc} | " + " | ".join(cells) + f" | {dropped} of {int((wf != 0).sum())} |"
    return rows + [iso, quant]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", default="", help="only graphs whose name starts with this")
    args = ap.parse_args()
    d = np.load(DATA / "frozen_noise.npz")
    x, y = d["x_test"].astype(np.float32), d["y_test"]
    exporters = json.loads((DATA / "exporters.json").read_text())
    floor, iso, quant = [], [], []
    for name, meta in exporters.items():
        if name.startswith(args.graphs):
            *f, i, q = evaluate(name, meta["framework"], x, y)
            floor += f
            iso.append(i)
            quant.append(q)
            print(name, "done", flush=True)
    print()
    print("| graph | layer | import vs reference | floored reference vs reference "
          "| import vs floored reference |")  # fmt: skip
    print("|---|---|---|---|---|")
    print("\n".join(floor))
    print()
    print("| graph | output layer in the network | imported output layer on the reference's "
          "hidden spikes | reference output layer on the imported hidden spikes |")  # fmt: skip
    print("|---|---|---|---|")
    print("\n".join(iso))
    print()
    print("Output layer on the float import's hidden spikes: accuracy % (output rate per neuron "
          "/ float import's)")  # fmt: skip
    print()
    print("| graph | float | quantized | weights quantized | currents quantized "
          "| weights quantized, dropped restored | connections dropped |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print("\n".join(quant))


if __name__ == "__main__":
    main()
