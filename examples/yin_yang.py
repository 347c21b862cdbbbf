"""Train a two-layer Dynap-SE2 network on the Yin-Yang task (a hidden layer is required).

Task (Kriener, Goeltz & Petrovici 2021): points of a disc in three classes (yin, yang, dot);
each point ``(x, y, 1 - x, 1 - y)`` is latency-coded, one spike per value in a 30 ms window
plus a bias spike at t = 0, and the 5 channels are repeated 4 times (20 inputs), 51 steps of
dt = 1 ms. A linear classifier reaches about 64 %, so one spiking layer cannot solve it.
Network: ``Linear(20, 60) -> DynapSim(60) -> Linear(60, 12) -> DynapSim(12)``; each class is
read from a pool of 4 output neurons (mean log peak membrane current). Adam at 3e-3 with a
cosine decay to 0, 60 epochs of 5000 points, batches of 32.

For a chip with device mismatch, ``--mismatch 0.2`` trains the mismatch-aware recipe
(:data:`ROBUST`): a fresh 20 % mismatch draw every step, 256 hidden neurons, pools of 16
output neurons, Adam at 1e-2, and the cores' time constants and gains trained with the
weights. A population averages its neurons' mismatch; 60 neurons do not (see
``benchmarks/README.md``).

Run:  python examples/yin_yang.py [--seed S] [--lr LR] [--depth 1|2] [--mismatch M]
(writes yin_yang.png: decision regions next to the true ones, and the training curve;
about 1-2 min on 2 cores, about 10 min with ``--mismatch``). It then fine-tunes the network
for the chip (:func:`deployable`: 5 quantization-aware epochs) and prints the accuracy of
what the chip would hold. ``benchmarks/yin_yang.py`` runs the recipe over seeds.

The recipe (:func:`make_data`, :func:`build_network`, :func:`loss_for`, :func:`train`) is
shared with ``benchmarks/yin_yang.py``, the tutorial "Deep networks" and the tests.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import jax
import numpy as np
import optax

from dynapse2.datasets import latency_encode, yin_yang
from dynapse2.nn import DynapSim, Linear, Module, Sequential, default_currents
from dynapse2.solvers import SOLVERS, AbstractSolver
from dynapse2.train import History, Robustness, evaluate, fit, max_imem_loss, mismatch_spread

POOL = 4  # output neurons per class
COPIES = 4  # repetitions of the 5 input channels
HIDDEN = 60
EPOCHS = 60
LEARNING_RATE = 3e-3
QAT_EPOCHS = 5  # quantization-aware fine-tuning before deployment
QAT_LEARNING_RATE = 1e-3
N_TRAIN, N_TEST = 5000, 1000
DEFAULTS = default_currents()

ROBUST = dict(
    hidden=256,
    pool=16,
    currents=({"Itau_mem": 0.5, "Igain_mem": 2.0}, {"Itau_mem": 0.5, "Itau_gaba": 0.5}),
    learning_rate=1e-2,
    trainable=("weights", "Itau_mem", "Igain_mem", "Itau_ampa", "Itau_gaba", "Igain_ampa",
               "Igain_gaba"),
)  # fmt: skip
"""The mismatch-aware recipe's settings (:func:`build_network`'s ``hidden``, ``pool`` and
``currents``, :func:`train`'s ``learning_rate`` and ``trainable``). The starting currents
(factors on the defaults) are where mismatch-aware training took the cores' currents when
it started from the defaults: hidden neurons with a 40 ms membrane and a soma gain ratio
of 16, outputs with a 40 ms membrane and a 20 ms GABA synapse."""


@functools.cache
def loss_for(pool: int = POOL):
    """Cross-entropy of the pools' mean log peak membrane current, ``pool`` output neurons
    per class (see ``dynapse2.train.losses``); one object per ``pool``, so that ``fit``
    reuses its compiled step."""
    return max_imem_loss(pool=pool)


LOSS = loss_for(POOL)
"""The loss of the default recipe (pools of :data:`POOL`)."""


def pool_of(net: Module) -> int:
    """Output neurons per class of ``net`` (its output width / 3)."""
    return net.shape[-1] // 3


def encode(points: np.ndarray) -> np.ndarray:
    """``(n, 51, 20)`` spike rasters of ``(n, 4)`` Yin-Yang points (dt = 1 ms)."""
    return latency_encode(points, window=0.03, dt=1e-3, copies=COPIES)


def make_data(
    n_train: int = N_TRAIN, n_test: int = N_TEST, key: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(x_train, y_train, x_test, y_test)``: rasters from :func:`encode` and labels; the
    test set is drawn with its own seed (``key + 1000``), the same for every training seed
    when ``key`` is fixed."""
    p_train, y_train = yin_yang(n_train, key=key)
    p_test, y_test = yin_yang(n_test, key=key + 1000)
    return encode(p_train), y_train, encode(p_test), y_test


def build_network(
    depth: int = 2,
    hidden: int = HIDDEN,
    key: int = 0,
    pool: int = POOL,
    currents: tuple[dict[str, float], dict[str, float]] = ({}, {}),
    solver: AbstractSolver | str = "euler",
) -> Sequential:
    """``Linear(20, hidden) -> DynapSim(hidden) -> Linear(hidden, 3 pool) -> DynapSim(3 pool)``
    (``depth = 2``) or ``Linear(20, 3 pool) -> DynapSim(3 pool)`` (``depth = 1``), random
    weights. ``currents``: factors on the default currents of the hidden and the output
    population (e.g. ``{"Itau_mem": 0.5}`` doubles the membrane time constant); ``solver``:
    both populations' solver (:mod:`dynapse2.solvers`, an instance or its name)."""
    n_in, n_out = 5 * COPIES, 3 * pool
    k = jax.random.split(jax.random.PRNGKey(key), 2)
    hidden_currents, output_currents = (
        dict({n: f * DEFAULTS[n] for n, f in c.items()}, solver=solver) for c in currents
    )
    if depth == 1:
        return Sequential(Linear((n_in, n_out), key=k[0]), DynapSim(n_out, **output_currents))
    if depth != 2:
        raise ValueError(f"build_network: depth = {depth!r} must be 1 or 2")
    return Sequential(
        Linear((n_in, hidden), key=k[0]),
        DynapSim(hidden, **hidden_currents),
        Linear((hidden, n_out), key=k[1]),
        DynapSim(n_out, **output_currents),
    )


def train(
    net: Module,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int = EPOCHS,
    learning_rate: float = LEARNING_RATE,
    decay: bool = True,
    mismatch: float = 0.0,
    transform: Callable[[Module], Module] | None = None,
    key: int = 0,
    progress: bool = True,
) -> tuple[Module, History]:
    """Train ``net`` on the training half of ``data`` with Adam and batches of 32 (a fresh
    ``mismatch`` draw every step when > 0, ``transform`` applied in the loss: see
    :class:`~dynapse2.train.Robustness`); with ``decay`` the learning rate follows a cosine
    from ``learning_rate`` to 0 over the run, else it stays constant. The loss is
    :func:`loss_for` the network's pool size."""
    x_train, y_train, _, _ = data
    lr = learning_rate
    if decay:
        lr = optax.cosine_decay_schedule(learning_rate, epochs * (len(x_train) // 32))
    return fit(
        net,
        x_train,
        y_train,
        loss_for(pool_of(net)),
        optimizer=optax.adam(lr),
        epochs=epochs,
        batch_size=32,
        key=jax.random.PRNGKey(key),
        robustness=Robustness(mismatch=mismatch, transform=transform),
        progress=progress,
    )


def deployable(
    net: Module,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    epochs: int = QAT_EPOCHS,
    learning_rate: float = QAT_LEARNING_RATE,
    key: int = 0,
    progress: bool = True,
    activity: bool = False,
) -> Module:
    """The network the chip will hold: ``net`` fine-tuned for ``epochs`` with the
    quantized forward pass (:func:`~dynapse2.hardware.quantization_aware`: 4-bit CAM weight
    levels on per-core base currents, BG currents; straight-through gradient), returned with
    those levels applied, so that ``map_network(result).network`` (= ``network_from_config``
    of its configuration) simulates exactly what training saw. ``epochs = 0``: ``net`` as
    the mapper quantizes it, without fine-tuning. ``activity``: fit the levels weighted by
    the sources' rates on the training points (``map_network(..., activity=)``)."""
    from dynapse2.hardware import map_network, quantization_aware, source_rates

    rates = source_rates(net, data[0]) if activity else None
    if epochs == 0:
        return map_network(net, activity=rates).network
    qat = quantization_aware(net, activity=rates)
    tuned, _ = train(
        net, data, epochs=epochs, learning_rate=learning_rate, key=key, progress=progress,
        transform=qat,
    )  # fmt: skip
    return qat(tuned)


def decision_regions(net: Module, resolution: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true classes on a ``resolution x resolution`` grid of the unit square
    (points outside the disc: -1)."""
    from dynapse2.datasets import yin_yang_class
    from dynapse2.train.evaluate import predictor

    g = (np.arange(resolution) + 0.5) / resolution
    xx, yy = np.meshgrid(g, g)
    inside = np.hypot(xx - 0.5, yy - 0.5) <= 0.5
    pts = np.stack([xx[inside], yy[inside]], axis=1)
    raster = encode(np.concatenate([pts, 1.0 - pts], axis=1))
    predict = predictor(loss_for(pool_of(net)))
    pred = np.concatenate(
        [
            np.asarray(predict(*net(raster[i : i + 512], record=True)[::2]))
            for i in range(0, len(raster), 512)
        ]
    )
    out_pred = np.full(xx.shape, -1)
    out_true = np.full(xx.shape, -1)
    out_pred[inside] = pred
    out_true[inside] = yin_yang_class(xx[inside], yy[inside])
    return out_pred, out_true


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, help=f"default {LEARNING_RATE}; with --mismatch 1e-2")
    ap.add_argument("--depth", type=int, default=2, choices=(1, 2))
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--mismatch", type=float, default=0.0, help="e.g. 0.2: the ROBUST recipe")
    ap.add_argument("--solver", default="euler", choices=list(SOLVERS))
    ap.add_argument("--out", default="yin_yang.png")
    args = ap.parse_args()

    start = time.time()
    data = make_data()
    _, _, x_test, y_test = data
    robust = dict(ROBUST) if args.mismatch > 0 else {"learning_rate": LEARNING_RATE}
    if args.lr is not None:
        robust["learning_rate"] = args.lr
    hidden, pool = robust.pop("hidden", HIDDEN), robust.pop("pool", POOL)
    currents = robust.pop("currents", ({}, {}))
    net, history = train(
        build_network(
            args.depth, hidden, key=args.seed, pool=pool, currents=currents, solver=args.solver
        ),
        data,
        epochs=args.epochs,
        mismatch=args.mismatch,
        key=args.seed,
        **robust,
    )
    loss = loss_for(pool)
    _, acc = evaluate(net, x_test, y_test, loss)
    print(f"test accuracy: {100 * acc:.1f} % ({time.time() - start:.0f} s)")
    chip = deployable(net, data, key=args.seed, progress=False)
    _, qacc = evaluate(chip, x_test, y_test, loss)
    print(f"as the chip holds it ({QAT_EPOCHS} quantization-aware epochs): {100 * qacc:.1f} %")
    if args.mismatch > 0:
        chips = mismatch_spread(net, x_test, y_test, loss, mismatch=args.mismatch, key=123)
        print(f"under {args.mismatch:.0%} mismatch, 10 simulated chips: {chips}")

    import matplotlib.pyplot as plt

    pred, true = decision_regions(net)
    fig, ax = plt.subplots(1, 3, figsize=(12, 4))
    for a, img, title in ((ax[0], true, "true classes"), (ax[1], pred, "network")):
        a.imshow(np.ma.masked_less(img, 0), origin="lower", extent=(0, 1, 0, 1), cmap="viridis")
        a.set(title=title, xlabel="x", ylabel="y")
    ax[2].plot(np.arange(1, len(history.loss) + 1), history.loss)
    ax[2].set(title="training loss", xlabel="epoch", ylabel="loss (nats)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
