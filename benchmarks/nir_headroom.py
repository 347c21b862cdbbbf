"""Headroom below v_leak: would mapping v_leak above I_0 lift the DPI's floor (issue 16)?

An imported spiking population maps v_leak to I_0, the lowest I_mem the soma reaches, so a
neuron that NIR inhibits below v_leak stops at v_leak (:mod:`dynapse2.nir.mapping`, "the floor
at v_leak"). Mapping v_leak to a rest current above I_0 (held by the DC current) would leave
room for h (v_threshold - v_leak) below v_leak; but the chip resets I_mem to I_0 (no bias sets
a reset level), so the reset would fall that far below v_reset = v_leak as well. This script
measures both sides, on the graphs of ``tests/data/nir`` (trained and exported by snnTorch and
spyx) and on synthetic CubaLIF networks built here from random NIR nodes (other time
constants, v_leak, biases, Poisson input; no training):

1. the NIR reference with a floor at v_leak - h (v_threshold - v_leak), resetting to v_reset
   (what headroom alone would give) and resetting to the floor (what the chip would do), each
   layer's spike count against the plain reference, for h = 0 (today's import) to 2;
2. the DPI import with that mapping built (``with_headroom``: I_rest = h I_spkthr above I_0,
   threshold raised to (1 + h) I_spkthr, the neuron starting at rest): rates against the plain
   reference and accuracy;
3. a DC-driven LIF: the rate with the reset at the floor over the rate with the reset at
   v_leak, in closed form (tau ln((v_inf - v_floor) / (v_inf - v_thr)) per interval) and
   measured on the DPI import of item 2;
4. the PSP deficit (the soma's slow start below I_gain_mem after I_0): the import as it is and
   with the threshold I_spkthr that v_threshold - v_leak maps to at 1, 2 and 4 nA (the slow
   region shrinks as 1 / I_spkthr in NIR volts) or with G = I_gain_mem / I_sum halved, against
   the plain and the floored reference, accuracy float and quantized (``map_network``);
5. the Affine bias as a DC current from rest: the first spike and the interval of a
   bias-driven CubaLIF, reference against import.

Run: ``python benchmarks/nir_headroom.py`` (about a minute on the shared 2-core machine).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from dynapse2 import Sequential
from dynapse2.hardware import map_network, network_from_config
from dynapse2.nir import from_nir, mapping, to_nir_semantics
from dynapse2.nir.mapping import GAIN_MEM, LIF_THRESHOLD, leak_node
from dynapse2.nir.reference import simulate
from dynapse2.nn.dynapsim import DynapSim

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nir"
DT = 1e-4
HEADROOMS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0)
BUILT = (0.1, 0.25, 0.5)  # headrooms of the DPI mapping built in item 2
SYNTHETIC_SEEDS = (0, 1, 2)
ONE = np.ones(1)


def synthetic(seed: int) -> tuple[object, np.ndarray]:
    """A random 2-layer CubaLIF network in plain NIR (r = 1, w_in = 1; tau_syn 3 ms, tau_mem
    10 ms, v_leak 0.2, threshold 1.2, biases lifting v_inf to 0.6-1.2 above v_leak) and
    Poisson input (100 samples, 1000 steps of 0.1 ms, 40 channels at 60 Hz: long against the
    biases' transient, item 5): 40 -> 48 -> 8,
    inhibition-dominated as the trained graphs are (half the weights inhibitory, 1.5 times
    larger), so that the floor matters (+12 to +15 % at h = 0 for seeds 0-2)."""
    import nir  # noqa: PLC0415

    rng = np.random.default_rng(seed)

    def weights(n_out: int, n_in: int, scale: float) -> np.ndarray:
        w = np.abs(rng.normal(1.0, 0.5, (n_out, n_in))) * scale
        return np.where(rng.random((n_out, n_in)) < 0.5, -1.5 * w, w)

    def cuba(n: int) -> object:
        one = np.ones(n)
        return nir.CubaLIF(
            tau_syn=3e-3 * one, tau_mem=10e-3 * one, r=one, v_leak=0.2 * one,
            v_threshold=1.2 * one, v_reset=0.2 * one, w_in=one,
        )  # fmt: skip

    graph = nir.NIRGraph.from_list(
        nir.Affine(weight=weights(48, 40, 25.0), bias=rng.uniform(0.6, 1.2, 48)),
        cuba(48),
        nir.Linear(weight=weights(8, 48, 50.0)),
        cuba(8),
    )
    x = (rng.random((100, 1000, 40)) < 60 * DT).astype(np.float64)
    return graph, x


def _populations(net: Sequential) -> list[tuple[int, DynapSim]]:
    return [(i, m) for i, m in enumerate(net.modules) if isinstance(m, DynapSim)]


def with_headroom(net: Sequential, h: float) -> Sequential:
    """The import with v_leak mapped to I_rest = h I_spkthr above I_0 (instead of I_0): the DC
    current holds I_mem at I_rest (I_mem = G (I_dc - I_sum) in the linear regime), the
    threshold moves up by the same I_rest (v_threshold - v_leak still maps to the old
    I_spkthr), the neuron starts at rest; the reset stays the chip's, to I_0."""
    mods = list(net.modules)
    for i, pop in _populations(net):
        thr = np.asarray(pop.Ispkthr, np.float64)
        isum = leak_node(np.asarray(pop.Itau_mem, np.float64))
        gain = np.asarray(pop.Igain_mem, np.float64) / isum
        rest = h * thr
        mods[i] = pop.set_attributes(
            {
                "Idc": jnp.asarray(np.asarray(pop.Idc, np.float64) + rest / gain, jnp.float32),
                "Ispkthr": jnp.asarray(thr + rest, jnp.float32),
                "imem": jnp.asarray(np.maximum(rest, np.asarray(pop.imem)), jnp.float32),
            }
        )
    return Sequential(*mods)


@contextmanager
def mapping_constants(**values: float) -> Iterator[None]:
    """Run the importer with some of :mod:`dynapse2.nir.mapping`'s constants replaced (it
    reads ``LIF_THRESHOLD`` and ``GAIN_MEM`` at call time): the mapping variants of item 4
    go through the real import (weights, DC, Iscale raised where a weight exceeds 15 units)."""
    old = {k: getattr(mapping, k) for k in values}
    try:
        for k, v in values.items():
            setattr(mapping, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(mapping, k, v)


def _counts(net: Sequential, x: np.ndarray) -> tuple[list[float], np.ndarray]:
    out, _, rec = net(x.astype(np.float32), record=True)
    keys = sorted((k for k in rec if k.endswith("_DynapSim")), key=lambda k: int(k.split("_")[0]))
    return [float(np.asarray(rec[k]["spikes"]).sum()) for k in keys], np.asarray(out).sum(axis=1)


def _pct(b: float, a: float) -> str:
    return f"{100 * (b / a - 1):+.1f}" if a > 0 else "-"


def _acc(counts: np.ndarray, y: np.ndarray | None) -> str:
    return "-" if y is None else f"{100 * (counts.argmax(1) == y).mean():.1f}"


def _quantized(net: Sequential) -> Sequential:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return network_from_config(map_network(net, prune=True).config)


VARIANTS = (
    ("today", {}),
    ("I_spkthr 1 nA", {"LIF_THRESHOLD": 1e-9}),
    ("I_spkthr 2 nA", {"LIF_THRESHOLD": 2e-9}),
    ("I_spkthr 4 nA", {"LIF_THRESHOLD": 4e-9}),
    ("G / 2", {"GAIN_MEM": GAIN_MEM / 2}),
)
"""Item 4's mapping variants (today's: LIF_THRESHOLD, GAIN_MEM as defined in the mapping)."""


def evaluate(
    name: str, graph, x: np.ndarray, y: np.ndarray | None, load: Callable[[], Sequential]
) -> dict:
    net = load()
    ref = simulate(graph, x, DT)
    layers = [k for k in ref if k != "output"]
    a = [ref[k].sum() for k in layers]
    rows: dict[str, list[str]] = {"reference": [], "built": [], "gain": []}
    for li, k in enumerate(layers):
        floor = [_pct(simulate(graph, x, DT, floor=h)[k].sum(), a[li]) for h in HEADROOMS]
        reset = [
            _pct(simulate(graph, x, DT, floor=h, reset_to_floor=True)[k].sum(), a[li])
            for h in HEADROOMS
        ]
        rate = a[li] / (x.shape[0] * ref[k].shape[-1] * x.shape[1] * DT)
        rows["reference"].append(
            f"| {name} | {('hidden', 'output')[li]} | {rate:.1f} | "
            + " | ".join(floor) + " | " + " | ".join(reset) + " |"
        )  # fmt: skip
    cells, accs = [], []
    for h in (0.0, *BUILT):
        c, o = _counts(with_headroom(net, h), x)
        cells.append(" / ".join(_pct(c[li], a[li]) for li in range(len(layers))))
        accs.append(_acc(o, y))
    rows["built"].append(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(accs) + " |")
    floored = simulate(graph, x, DT, floor=0)
    f = [floored[k].sum() for k in layers]
    cells = []
    for _, values in VARIANTS:
        with mapping_constants(**values):
            variant = load()
        c, o = _counts(variant, x)
        vs = " / ".join(f"{_pct(c[li], a[li])} ({_pct(c[li], f[li])})" for li in range(len(layers)))
        _, qo = _counts(_quantized(variant), x)
        cells.append(f"{vs} | {_acc(o, y)} | {_acc(qo, y)}")
    rows["gain"].append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def dc_table() -> list[str]:
    """Item 3: a DC-driven LIF (tau 5 ms, v_leak 0, threshold 1) at v_inf = R b."""
    import nir  # noqa: PLC0415

    v_inf = np.array([1.2, 1.5, 2.0, 3.0, 5.0])
    n = v_inf.size
    one = np.ones(n)
    node = nir.LIF(tau=5e-3 * one, r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one)
    graph = nir.NIRGraph.from_list(nir.Affine(weight=np.zeros((n, 1)), bias=v_inf), node)
    net = from_nir(graph, dt=DT)
    T = 20000
    base, _ = _rate_per_neuron(net, T)
    lines = [
        "| v_inf / (v_thr - v_leak) | "
        + " | ".join(f"h = {h}: closed form | DPI import" for h in BUILT)
        + " |",
        "|---|" + "---|---|" * len(BUILT),
    ]
    cells = {h: _rate_per_neuron(with_headroom(net, h), T)[0] / base for h in BUILT}
    for i, v in enumerate(v_inf):
        row = [f"| {v:g} |"]
        for h in BUILT:
            closed = np.log(v / (v - 1)) / np.log((v + h) / (v - 1))
            row.append(f" {closed:.3f} | {cells[h][i]:.3f} |")
        lines.append("".join(row))
    return lines


def _rate_per_neuron(net: Sequential, T: int) -> tuple[np.ndarray, None]:
    out = np.asarray(net(np.zeros((T, 1), np.float32))[0])
    return out.sum(axis=0) / (T * DT), None


PSP_THRESHOLDS = (1e-9, 2e-9, 4e-9, 8e-9)


def psp_table() -> list[str]:
    """Item 4, one neuron: the area of a small PSP from rest (one input spike into a CubaLIF,
    tau_syn 2 ms, at v_leak; I_mem above its no-input trace, over 1500 steps) over the NIR
    potential's (a CubaLI with the same parameters), at each ``LIF_THRESHOLD``."""
    import nir  # noqa: PLC0415

    lines = [
        "| tau_mem | PSP peak (of v_threshold - v_leak) | "
        + " | ".join(f"I_spkthr {t * 1e9:g} nA" for t in PSP_THRESHOLDS)
        + " |",
        "|---|---|" + "---|" * len(PSP_THRESHOLDS),
    ]
    x = np.zeros((1500, 1))
    x[10] = 1
    for tau_mem in (5e-3, 20e-3):
        for w in (2.0, 10.0, 40.0):
            p = dict(tau_syn=2e-3 * ONE, tau_mem=tau_mem * ONE, r=ONE, v_leak=0 * ONE, w_in=ONE)
            lin = nir.Linear(weight=np.full((1, 1), w))
            v = simulate(nir.NIRGraph.from_list(lin, nir.CubaLI(**p)), x, DT)["output"][:, 0]
            lif = nir.CubaLIF(**p, v_threshold=ONE, v_reset=0 * ONE)
            cells = []
            for thr in PSP_THRESHOLDS:
                with mapping_constants(LIF_THRESHOLD=thr):
                    net = from_nir(nir.NIRGraph.from_list(lin, lif), dt=DT)
                imem = [
                    np.asarray(net(xi.astype(np.float32), record=True)[2]["1_DynapSim"]["imem"])
                    for xi in (x, 0 * x)
                ]
                cells.append(f"{((imem[0] - imem[1]).sum() / thr) / v.sum():.3f}")
            lines.append(f"| {tau_mem * 1e3:g} ms | {v.max():.3f} | " + " | ".join(cells) + " |")
    return lines


def bias_table() -> list[str]:
    """Item 5: a CubaLIF (tau_syn 3 ms, tau_mem 10 ms) driven by its Affine bias alone
    (v_inf = 3 thresholds), from rest: the reference passes the bias through the synapse
    (tau_syn), the import's DC reaches the soma at once."""
    import nir  # noqa: PLC0415

    lines = ["| tau_syn | first spike, reference / import (step) | then every (steps) |",
             "|---|---|---|"]  # fmt: skip
    for tau_syn in (1e-3, 3e-3, 10e-3):
        node = nir.CubaLIF(
            tau_syn=tau_syn * ONE, tau_mem=10e-3 * ONE, r=ONE, v_leak=0 * ONE,
            v_threshold=ONE, v_reset=0 * ONE, w_in=ONE,
        )  # fmt: skip
        g = nir.NIRGraph.from_list(nir.Affine(weight=np.zeros((1, 1)), bias=3 * ONE), node)
        x = np.zeros((1000, 1))
        ref = np.flatnonzero(simulate(g, x, DT)["output"][:, 0])
        imp = np.flatnonzero(np.asarray(from_nir(g, dt=DT)(x.astype(np.float32))[0])[:, 0])
        lines.append(
            f"| {tau_syn * 1e3:g} ms | {ref[0]} / {imp[0]} | {np.diff(ref[-5:]).tolist()} / "
            f"{np.diff(imp[-5:]).tolist()} |"
        )
    return lines


def table(title: str, columns: list[str], rows: list[str]) -> None:
    """Print ``title``, then a Markdown table of ``columns`` and the ready-made ``rows``."""
    print(title)
    print()
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    print("\n".join(rows))
    print()


def main() -> None:
    import nir  # noqa: PLC0415

    d = np.load(DATA / "frozen_noise.npz")
    x, y = d["x_test"].astype(np.float64), d["y_test"]
    exporters = json.loads((DATA / "exporters.json").read_text())
    rows: dict[str, list[str]] = {"reference": [], "built": [], "gain": []}

    def add(name: str, graph, x: np.ndarray, y: np.ndarray | None, load) -> None:
        for k, v in evaluate(name, graph, x, y, load).items():
            rows[k] += v
        print(name, "done", flush=True)

    for name, meta in exporters.items():
        path = DATA / f"{name}.nir"
        graph, _ = to_nir_semantics(nir.read(path), DT, meta["framework"])
        add(name, graph, x, y, partial(from_nir, path, dt=DT, convention=meta["framework"]))
    for seed in SYNTHETIC_SEEDS:
        graph, xs = synthetic(seed)
        add(f"synthetic_s{seed}", graph, xs, None, partial(from_nir, graph, dt=DT))
    print()
    table(
        "1. Each layer's spike count against the plain NIR reference, %: reference with a floor "
        "at v_leak - h (v_threshold - v_leak), reset to v_reset | to the floor",
        ["graph", "layer", "reference Hz"]
        + [f"h = {h:g}" for h in HEADROOMS]
        + [f"h = {h:g}, reset to floor" for h in HEADROOMS],
        rows["reference"],
    )
    hs = (0.0, *BUILT)
    table(
        "2. The DPI import with v_leak at I_rest = h I_spkthr (hidden / output rate against "
        "the reference, %; accuracy %)",
        ["graph"] + [f"h = {h:g}" for h in hs] + [f"accuracy, h = {h:g}" for h in hs],
        rows["built"],
    )
    print("3. DC-driven LIF (tau 5 ms): rate with the reset at the floor / rate with the reset "
          "at v_leak")  # fmt: skip
    print()
    print("\n".join(dc_table()))
    print()
    table(
        f"4. The PSP deficit: the import as today (I_spkthr {LIF_THRESHOLD * 1e9:g} nA, G = "
        f"{GAIN_MEM:g}) and variants: hidden / output rate against the reference (against "
        "the floored reference), %; accuracy float, quantized",
        ["graph"] + [c for v, _ in VARIANTS for c in (v, "accuracy", "quantized")],
        rows["gain"],
    )
    print("   One neuron: a small PSP's area from rest, import over NIR")
    print()
    print("\n".join(psp_table()))
    print()
    print("5. The Affine bias as a DC current, from rest (CubaLIF, tau_mem 10 ms, v_inf = 3)")
    print()
    print("\n".join(bias_table()))


if __name__ == "__main__":
    main()
