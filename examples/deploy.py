"""Deploy a network to the Dynap-SE2: quantize, map, configure, save, reload, run.

A frozen-noise task (4 fixed random spike patterns, presented with 10 % of their spikes
moved), a network ``Linear(60, 32) -> DynapSim(32, recurrent)`` on two cores, then:

1. quantize weights and parameters and map the network onto the chip (``map_network``);
2. print the placement and the bias-generator table;
3. save the configuration to JSON, load it back, rebuild the network from it
   (``network_from_config``) and check that it spikes exactly like the quantized network;
4. compare the float and the chip network: spike agreement and nearest-centroid accuracy;
5. ``net.to_hardware()``: without a board this prints why, and what to do.

Run: ``python examples/deploy.py`` (about 15 s on 2 cores).
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from dynapse2.hardware import Configuration, HardwareUnavailableError, map_network
from dynapse2.hardware.network import network_from_config
from dynapse2.nn import DynapSim, Linear, Sequential

N_CLASSES, N_IN, N, T = 4, 60, 32, 300
TRIALS = 12  # per class


def frozen_noise(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(N_CLASSES * TRIALS, T, N_IN)`` spikes and labels: each class a fixed 20 Hz pattern,
    every trial moving 10 % of its spikes to random times."""
    patterns = rng.random((N_CLASSES, T, N_IN)) < 0.02
    xs, ys = [], []
    for c in range(N_CLASSES):
        for _ in range(TRIALS):
            x = patterns[c].copy()
            t, ch = np.nonzero(x)
            move = rng.random(t.size) < 0.1
            x[t[move], ch[move]] = False
            x[rng.integers(0, T, move.sum()), ch[move]] = True
            xs.append(x)
            ys.append(c)
    return np.asarray(xs, np.float32), np.asarray(ys)


def build_network(rng: np.random.Generator) -> tuple[Sequential, str]:
    """The network to deploy, and how its weights were obtained."""
    try:
        from dynapse2.train import fit  # noqa: F401, PLC0415
    except ImportError:
        how = "random (dynapse2.train.fit is not available yet: weights are not trained)"
    else:
        how = "random (dynapse2.train.fit exists: train with it before deploying)"
    w_in = np.zeros((N_IN, N))
    for j in range(N):  # 24 inputs per neuron
        w_in[rng.choice(N_IN, 24, replace=False), j] = rng.normal(1.0, 2.0, 24)
    w_rec = np.zeros((N, N))
    for j in range(N):  # 8 recurrent inputs per neuron
        w_rec[rng.choice(N, 8, replace=False), j] = rng.normal(0.0, 1.0, 8)
    net = Sequential(
        Linear((N_IN, N), weight=w_in),
        DynapSim(N, has_rec=True, w_rec=w_rec, groups=(0,) * (N // 2) + (1,) * (N // 2)),
    )
    return net, how


def accuracy(counts: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Nearest-centroid readout on spike counts: centroids from even trials, tested on odd."""
    train = np.arange(labels.size) % 2 == 0
    cent = np.stack([counts[train & (labels == c)].mean(0) for c in range(N_CLASSES)])
    d = ((counts[:, None, :] - cent[None]) ** 2).sum(-1)
    pred = d.argmin(1)
    return float((pred[~train] == labels[~train]).mean()), pred


def main() -> None:
    rng = np.random.default_rng(0)
    x, y = frozen_noise(rng)
    net, how = build_network(rng)
    print(f"network: Linear({N_IN}, {N}) -> DynapSim({N}, recurrent); weights: {how}")

    mapping = map_network(net)
    print("\n== placement ==")
    print(mapping.summary())
    print("\n== bias generator, layer 0 (core = chip * 4 + core) ==")
    print(mapping.parameters[0].table())

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.json")
        mapping.config.save(path)
        size = os.path.getsize(path)
        cfg = Configuration.load(path)
    print(
        f"\nconfiguration saved ({size / 1024:.0f} kB JSON) and reloaded: equal = "
        f"{cfg == mapping.config}"
    )
    rebuilt = network_from_config(cfg)

    out_float = np.asarray(net(x)[0])
    out_quant = np.asarray(mapping.network(x)[0])
    out_rebuilt = np.asarray(rebuilt(x)[0])
    print(
        f"rebuilt network spikes exactly like the quantized one: "
        f"{np.array_equal(out_quant, out_rebuilt)}"
    )

    c_float, c_quant = out_float.sum(1), out_quant.sum(1)
    acc_f, pred_f = accuracy(c_float, y)
    acc_q, pred_q = accuracy(c_quant, y)
    corr = np.corrcoef(c_float.ravel(), c_quant.ravel())[0, 1]
    print("\n== float vs chip (quantized) network ==")
    print(f"spikes per trial: float {c_float.sum(1).mean():.0f}, chip {c_quant.sum(1).mean():.0f}")
    print(f"spike-count correlation (trials x neurons): {corr:.3f}")
    print(
        f"nearest-centroid accuracy on held-out trials: float {acc_f:.0%}, chip {acc_q:.0%} "
        f"(chance {1 / N_CLASSES:.0%}); same prediction on {np.mean(pred_f == pred_q):.0%} of "
        "trials"
    )

    print("\n== to_hardware() ==")
    try:
        board = net.to_hardware()
    except HardwareUnavailableError as e:
        print(f"no board ({e.reason}): {e}")
    else:  # pragma: no cover - needs a board
        out = board(x[:2])[0]
        print(f"board output spikes: {out.sum()}")
        board.close()


if __name__ == "__main__":
    main()
