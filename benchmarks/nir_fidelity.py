"""Fidelity of the NIR import on graphs from the real snnTorch and spyx exporters.

For each graph shipped in ``tests/data/nir`` (trained and exported by
``benchmarks/nir_exporters/make_graphs.py``; several seeds per framework and kind), on the
test set of its task (frozen noise, ``tests/data/nir/frozen_noise.npz``):

- per-layer firing rates (Hz, mean over the test set and the layer's neurons) of the network
  imported into DynapSim (``from_nir(path, dt=1e-4, convention=<the exporter>)``) and of
  the same after quantization (``map_network`` then ``network_from_config``), against a
  simulation of the graph in NIR's own semantics (:func:`dynapse2.nir.reference.simulate`, float64);
- the test accuracy (argmax of the output spike counts) in the exporter's framework before
  export (recorded by make_graphs.py), of the NIR reference, after import, after quantization,
  and after quantization weighted by activity (``map_network(net, prune=True,
  activity=source_rates(net, x_train))``: the weight levels fitted with each connection's
  squared error weighted by its source's rate squared, the rates of the float import on the
  task's training set, never the test set).

Targets (issue 16): rates within 10 % of the reference in the DPI's operating range; accuracy
within 3 points of the exporter's after import, within 5 after quantization.

Run: ``python benchmarks/nir_fidelity.py`` (no torch or spyx needed; about a minute per graph
on a loaded 2-core machine). ``--graphs snntorch_ff`` restricts to names with that prefix.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from dynapse2.hardware import map_network, network_from_config, source_rates
from dynapse2.nir import from_nir, to_nir_semantics
from dynapse2.nir.reference import simulate

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nir"
DT = 1e-4


def _layer_counts(rec: dict) -> list[np.ndarray]:
    """Spike counts ``(batch, n)`` of each DynapSim layer of a ``Sequential`` record."""
    keys = sorted((k for k in rec if k.endswith("_DynapSim")), key=lambda k: int(k.split("_")[0]))
    return [np.asarray(rec[k]["spikes"]).sum(axis=1) for k in keys]


def _dynapsim(net, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    out, _, rec = net(x, record=True)
    return _layer_counts(rec), np.asarray(out).sum(axis=1)


def _reference(graph, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, list[float]]:
    ref = simulate(graph, x, DT)
    # neuron nodes in the order signals reach them (the simulation's topological order)
    layers = [k for k in ref if k != "output"]
    counts = [ref[k].sum(axis=1) for k in layers]
    # the share of spikes fired on the step right after a spike of the same neuron: the
    # NIR LIF can fire at every step, a DynapSim neuron at most every second step (one
    # refractory step; after the reset the soma restarts from I_0)
    burst = [float((ref[k][:, 1:] * ref[k][:, :-1]).sum() / max(ref[k].sum(), 1)) for k in layers]
    return counts, ref["output"].sum(axis=1), burst


def _rates(counts: list[np.ndarray], steps: int) -> list[float]:
    """Mean rate (Hz) per layer over samples and neurons."""
    return [float(c.mean() / (steps * DT)) for c in counts]


def accuracy(counts: np.ndarray, y: np.ndarray) -> float:
    return float((np.asarray(counts).argmax(axis=1) == y).mean())


def evaluate(name: str, x: np.ndarray, y: np.ndarray, exporter: dict, x_train: np.ndarray) -> dict:
    """Rates and accuracies of graph ``name``, read with its exporter's convention (the
    reference simulates the same graph in NIR's semantics, ``to_nir_semantics``): imported
    with the default solver (ExponentialEuler), quantized, and imported with Euler."""
    path = DATA / f"{name}.nir"
    import nir  # noqa: PLC0415

    convention = exporter["framework"]  # "snntorch" or "spyx"
    graph, _ = to_nir_semantics(nir.read(path), DT, convention)
    steps = x.shape[1]
    ref_layers, ref_counts, burst = _reference(graph, x)
    net, report = from_nir(path, dt=DT, convention=convention, report=True)
    imp_layers, imp_counts = _dynapsim(net, x)
    eul_layers, eul_counts = _dynapsim(
        from_nir(path, dt=DT, convention=convention, solver="euler"), x
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mapping = map_network(net, prune=True)  # a neuron hears at most 64 sources
        cfg = mapping.config
    q_layers, q_counts = _dynapsim(network_from_config(cfg), x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings as above
        weighted = map_network(net, prune=True, activity=source_rates(net, x_train))
    a_layers, a_counts = _dynapsim(network_from_config(weighted.config), x)
    return {
        "name": name,
        "framework": exporter["framework"],
        "kind": exporter["kind"],
        "seed": exporter["seed"],
        "rates": {
            "reference": _rates(ref_layers, steps),
            "import": _rates(imp_layers, steps),
            "quantized": _rates(q_layers, steps),
            "activity": _rates(a_layers, steps),
            "euler": _rates(eul_layers, steps),
        },
        "burst": burst,
        "accuracy": {
            "exporter": exporter["test_accuracy"],
            "reference": accuracy(ref_counts, y),
            "import": accuracy(imp_counts, y),
            "quantized": accuracy(q_counts, y),
            "activity": accuracy(a_counts, y),
            "euler": accuracy(eul_counts, y),
        },
        "mapping_warnings": sorted({str(w.message).split(";")[0] for w in caught}),
        "pruned": [int(np.asarray(p).sum()) for p in mapping.pruned],
        "dropped": {
            "quantized": [len(w.fit.dropped) for w in mapping.weights],
            "activity": [len(w.fit.dropped) for w in weighted.weights],
        },
        "report": str(report),
    }


def _rel(b: float, a: float) -> str:
    return f"{100 * (b / a - 1):+.1f} %" if a > 0 else "-"


def _pm(values: list[float], fmt: str = "{:+.1f}") -> str:
    """mean ± std (worst: the value farthest from 0)."""
    v = np.asarray(values, np.float64)
    if v.size == 0:
        return "-"
    worst = v[np.argmax(np.abs(v))]
    if v.size == 1:
        return fmt.format(v[0])
    return f"{fmt.format(v.mean())} ± {fmt.format(v.std()).lstrip('+')} ({fmt.format(worst)})"


LAYERS = ("hidden", "output")


def table(results: list[dict]) -> str:
    lines = [
        "| graph | layer | reference Hz | import Hz (vs ref) | quantized Hz (vs ref) "
        "| quantized, activity-weighted Hz (vs ref) "
        "| import with Euler (vs ref) | reference spikes at consecutive steps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = ("reference", "import", "quantized", "activity", "euler")
    for r in results:
        a_, b_, c_, w_, e_ = (r["rates"][k] for k in keys)
        for li in range(len(a_)):
            a, b, c, w, e = a_[li], b_[li], c_[li], w_[li], e_[li]
            lines.append(
                f"| {r['name']} | {LAYERS[li]} | {a:.1f} | {b:.1f} ({_rel(b, a)}) | {c:.1f} "
                f"({_rel(c, a)}) | {w:.1f} ({_rel(w, a)}) | {e:.1f} ({_rel(e, a)}) "
                f"| {100 * r['burst'][li]:.0f} % |"
            )
    lines += [
        "",
        "| graph | exporter | NIR reference | import | quantized | quantized, activity-weighted "
        "| import with Euler | connections dropped (quantized / activity-weighted) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        a = r["accuracy"]
        d = r["dropped"]
        lines.append(
            f"| {r['name']} | {100 * a['exporter']:.1f} | {100 * a['reference']:.1f} | "
            f"{100 * a['import']:.1f} | {100 * a['quantized']:.1f} | {100 * a['activity']:.1f} "
            f"| {100 * a['euler']:.1f} | {'+'.join(map(str, d['quantized']))} / "
            f"{'+'.join(map(str, d['activity']))} |"
        )
    lines += [
        "",
        "Over seeds: mean ± std (worst); accuracy in points against the exporter's, rate error "
        "of each layer's mean rate against the reference, in %",
        "",
        "| framework, kind | seeds | exporter % | import - exporter | quantized - exporter "
        "| activity-weighted - exporter | reference - exporter | rate error, import "
        "| rate error, quantized | rate error, activity-weighted "
        "| rate error, import with Euler |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["framework"], r["kind"]), []).append(r)
    for (fw, kind), rs in sorted(groups.items()):
        acc = lambda k, rs=rs: [  # noqa: E731
            100 * (r["accuracy"][k] - r["accuracy"]["exporter"]) for r in rs
        ]
        err = lambda k, rs=rs: [  # noqa: E731
            100 * (b / a - 1)
            for r in rs
            for a, b in zip(r["rates"]["reference"], r["rates"][k], strict=True)
            if a > 0
        ]
        exporter = [100 * r["accuracy"]["exporter"] for r in rs]
        lines.append(
            f"| {fw}, {kind} | {len(rs)} | {_pm(exporter, '{:.1f}')} | {_pm(acc('import'))} | "
            f"{_pm(acc('quantized'))} | {_pm(acc('activity'))} | {_pm(acc('reference'))} | "
            f"{_pm(err('import'))} | {_pm(err('quantized'))} | {_pm(err('activity'))} | "
            f"{_pm(err('euler'))} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", default="", help="only graphs whose name starts with this")
    ap.add_argument("--json", default="", help="also write the results to this file")
    args = ap.parse_args()
    d = np.load(DATA / "frozen_noise.npz")
    x, y = d["x_test"].astype(np.float32), d["y_test"]
    x_train = d["x_train"].astype(np.float32)  # the activity of the weighted quantization
    exporters = json.loads((DATA / "exporters.json").read_text())
    results = []
    for name, meta in exporters.items():
        if not name.startswith(args.graphs):
            continue
        try:
            r = evaluate(name, x, y, meta, x_train)
        except ValueError as e:  # a graph the importer refuses: say so, go on
            print(f"{name}: not imported: {e}")
            continue
        results.append(r)
        print(
            f"{r['name']}: rates ref {np.round(r['rates']['reference'], 1)} import "
            f"{np.round(r['rates']['import'], 1)} quantized "
            f"{np.round(r['rates']['quantized'], 1)}; accuracy {r['accuracy']}; mapping "
            f"warnings {r['mapping_warnings']}; pruned connections per layer {r['pruned']}",
            flush=True,
        )
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
