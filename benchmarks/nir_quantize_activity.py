"""Activity-weighted weight quantization on the NIR graphs: which weighting, which rounding.

For each graph of ``tests/data/nir`` (``benchmarks/nir_fidelity.py``'s), imported with
``from_nir`` and quantized with ``network_from_config(map_network(net, prune=True,
activity=...).config)``, on the test set of its task:

- test accuracy against the exporter's (points), and agreement with the float import's
  predictions (%, the same test samples: less noisy than accuracy on 200 samples);
- the output layer's rate error: mean over output neurons of ``|quantized / float - 1|``
  (%), their test-set spike counts against the float import's.

Variants (``dynapse2.hardware.activity.POWER`` and ``DRIVE`` set for the run):
``unweighted`` (no ``activity``: the default), the fit weighted by rate (``r``) or rate
squared (``r^2``), nearest-level rounding or the rounding that keeps each neuron's mean
drive per synapse type (``+ drive``; ``r^0 + drive``: unweighted fit, that rounding).
The rates are the float import's on the task's training set (never the test set): on all
400 samples, and on each of 5 disjoint subsets of 80 (mean ± std over the subsets: how
much the result depends on the activity sample).

Run: ``python benchmarks/nir_quantize_activity.py`` (about 2 min on the shared 2-core
machine).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from dynapse2.hardware import activity as A
from dynapse2.hardware import map_network, network_from_config, source_rates
from dynapse2.nir import from_nir

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nir"
DT = 1e-4
N_SPLITS = 5
VARIANTS = {  # label: (POWER, DRIVE), None: no activity
    "unweighted": None,
    "r": (1, False),
    "r^2": (2, False),
    "r^0 + drive": (0, True),
    "r + drive": (1, True),
    "r^2 + drive": (2, True),
}


def _quantized(net, activity, variant):
    old = A.POWER, A.DRIVE
    try:
        if variant is not None:
            A.POWER, A.DRIVE = variant
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # per-core parameter means: as nir_fidelity.py
            m = map_network(net, prune=True, activity=None if variant is None else activity)
    finally:
        A.POWER, A.DRIVE = old
    return network_from_config(m.config)


def _counts(net, x):
    return np.asarray(net(x)[0]).sum(axis=1)


def evaluate(name, meta, x_train, x, y):
    net = from_nir(DATA / f"{name}.nir", dt=DT, convention=meta["framework"])
    ref = _counts(net, x)
    exporter = 100 * meta["test_accuracy"]
    full = source_rates(net, x_train)
    splits = [source_rates(net, s) for s in np.array_split(x_train, N_SPLITS)]
    out = {}
    for label, variant in VARIANTS.items():
        rows = []
        for act in [full] + ([] if variant is None else splits):
            c = _counts(_quantized(net, act, variant), x)
            rows.append(
                (
                    100 * (c.argmax(1) == y).mean() - exporter,
                    100 * (c.argmax(1) == ref.argmax(1)).mean(),
                    100 * np.mean(np.abs(c.sum(0) / np.maximum(ref.sum(0), 1) - 1)),
                )
            )
        out[label] = np.array(rows)  # row 0: all training data; then the splits
    return out


def _fmt(v: np.ndarray, sign: str = "+") -> str:
    return f"{v.mean():{sign}.1f} ± {v.std():.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", default="", help="only graphs whose name starts with this")
    args = ap.parse_args()
    t0 = time.perf_counter()
    d = np.load(DATA / "frozen_noise.npz")
    x_train = d["x_train"].astype(np.float32)
    x, y = d["x_test"].astype(np.float32), d["y_test"]
    exporters = json.loads((DATA / "exporters.json").read_text())
    res = {
        n: evaluate(n, m, x_train, x, y) for n, m in exporters.items() if n.startswith(args.graphs)
    }
    labels = list(VARIANTS)
    print("Accuracy - exporter's (points), rates of all 400 training samples; in brackets")
    print(f"the mean ± std over {N_SPLITS} disjoint subsets of 80")
    print()
    print("| graph | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for n, r in res.items():
        cells = []
        for k in labels:
            cell = f"{np.round(r[k][0, 0], 6) + 0.0:+.1f}"  # no "-0.0" from round-off
            if len(r[k]) > 1:
                cell += f" ({_fmt(r[k][1:, 0])})"
            cells.append(cell)
        print(f"| {n} | " + " | ".join(cells) + " |")
    print()
    print("Over the graphs (all training samples): mean ± std (worst) of accuracy - exporter's;")
    print("agreement with the float import's predictions %; output-layer rate error %")
    print()
    print("| variant | accuracy - exporter | worst | agreement with float | output rate error |")
    print("|---|---|---|---|---|")
    for k in labels:
        acc = np.array([r[k][0, 0] for r in res.values()])
        agree = np.array([r[k][0, 1] for r in res.values()])
        rate = np.array([r[k][0, 2] for r in res.values()])
        worst = list(res)[int(np.argmin(acc))]
        print(
            f"| {k} | {_fmt(acc)} | {acc.min():+.1f} ({worst}) | {_fmt(agree, '')} "
            f"(min {agree.min():.1f}) | {_fmt(rate, '')} (max {rate.max():.1f}) |"
        )
    if any(len(r[k]) > 1 for r in res.values() for k in labels):
        print()
        print(f"Over the graphs and the {N_SPLITS} activity subsets: the same, per variant")
        print()
        print("| variant | accuracy - exporter | worst | agreement with float "
              "| output rate error |")  # fmt: skip
        print("|---|---|---|---|---|")
        for k in labels[1:]:
            sub = np.concatenate([r[k][1:] for r in res.values()])
            print(
                f"| {k} | {_fmt(sub[:, 0])} | {sub[:, 0].min():+.1f} | {_fmt(sub[:, 1], '')} "
                f"(min {sub[:, 1].min():.1f}) | {_fmt(sub[:, 2], '')} (max {sub[:, 2].max():.1f}) |"
            )
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
