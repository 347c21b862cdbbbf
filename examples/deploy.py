"""Deploy a trained network to the Dynap-SE2: train, quantize, map, configure, save, reload.

The frozen-noise task and network of ``examples/frozen_noise.py`` (4 classes, 60 channels ->
32 neurons on one core, trained with 20 % mismatch), then:

1. train it (the same recipe) and measure its float test accuracy;
2. quantize weights and parameters and map it onto the chip (``map_network``); print the
   placement and the bias-generator table;
3. save the configuration to JSON, load it back, rebuild the network from it
   (``network_from_config``: the chip as the simulator sees it) and measure its accuracy;
4. fine-tune with quantization-aware training (``quantization_aware``) and deploy again;
5. compare float, quantized and QAT accuracy (nominal, and over mismatch draws);
6. ``net.to_hardware()``: without a board this prints why, and what to do.

Run: ``python examples/deploy.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import os
import tempfile
import time

import jax
import numpy as np
from frozen_noise import LOSS, MISMATCH, build_network, make_data, train

from dynapse2.hardware import (
    Configuration,
    HardwareUnavailableError,
    map_network,
    network_from_config,
    quantization_aware,
)
from dynapse2.nn import Module
from dynapse2.train import evaluate

QAT_EPOCHS = 5
QAT_LEARNING_RATE = 0.005
DRAWS = 5  # mismatch draws per evaluation


def deploy(net: Module, path: str) -> tuple[Module, Module]:
    """Map ``net``, save its configuration to ``path``, reload it and rebuild the network.

    Returns:
        ``(mapped, rebuilt)``: the mapper's quantized network and the one rebuilt from the
        reloaded file; the script checks that they spike identically.
    """
    mapping = map_network(net)
    mapping.config.save(path)
    cfg = Configuration.load(path)
    assert cfg == mapping.config, "the configuration changed through JSON"
    return mapping.network, network_from_config(cfg)


def scores(net: Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Test loss (nats) and accuracy (%) of ``net``, and its mean accuracy (%) over
    ``DRAWS`` draws of mismatch."""
    loss, acc = evaluate(net, x, y, LOSS)
    draws = [
        evaluate(net, x, y, LOSS, mismatch=MISMATCH, key=jax.random.PRNGKey(100 + i))[1]
        for i in range(DRAWS)
    ]
    return loss, 100 * acc, 100 * float(np.mean(draws))


def main() -> None:
    start = time.time()
    data = make_data()
    _, _, x_test, y_test = data
    net, _ = train(build_network(), data, progress=False)
    print(f"trained Linear(60, 32) -> DynapSim(32) in {time.time() - start:.0f} s")

    mapping = map_network(net)
    print("\n== placement ==")
    print(mapping.summary())
    print("\n== bias generator, layer 0 (core = chip * 4 + core) ==")
    print(mapping.parameters[0].table())

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "network.json")
        mapped, rebuilt = deploy(net, path)
        print(f"\nconfiguration saved ({os.path.getsize(path) / 1024:.0f} kB JSON) and reloaded")
        same = np.array_equal(np.asarray(mapped(x_test)[0]), np.asarray(rebuilt(x_test)[0]))
        print(f"rebuilt network spikes exactly like the mapper's quantized one: {same}")

        t = time.time()
        qat = quantization_aware(net)
        tuned, _ = train(
            net,
            data,
            epochs=QAT_EPOCHS,
            learning_rate=QAT_LEARNING_RATE,
            transform=qat,
            progress=False,
        )
        _, rebuilt_qat = deploy(qat(tuned), os.path.join(tmp, "network_qat.json"))
        print(f"quantization-aware fine-tuning ({QAT_EPOCHS} epochs): {time.time() - t:.0f} s")

    print(f"\n== test set ({y_test.size} samples) ==")
    print(f"{'':50s} loss (nats)  accuracy  with {MISMATCH:.0%} mismatch ({DRAWS} draws)")
    rows = [
        ("float (simulator)", net),
        ("quantized, from the reloaded configuration", rebuilt),
        ("QAT fine-tuned, from its reloaded configuration", rebuilt_qat),
    ]
    for name, m in rows:
        loss, acc, acc_mismatch = scores(m, x_test, y_test)
        print(f"{name:50s} {loss:11.2e} {acc:7.1f} % {acc_mismatch:7.1f} %")

    print("\n== to_hardware() ==")
    try:
        board = qat(tuned).to_hardware()
    except HardwareUnavailableError as e:
        print(f"no board ({e.reason}): {e}")
    else:  # pragma: no cover - needs a board
        out = board(x_test[:2])[0]
        print(f"board output spikes: {out.sum()}")
        board.close()
    print(f"\ntotal {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
