"""Recurrent vs feed-forward training on the temporal task (ordered bursts), over learning rates.

Task: ``ordered_bursts`` (which of two channel groups bursts first), the short noise-free
version of ``tests/train/test_temporal.py`` (120 ms, onset 10..50 ms, no background; 200
samples, 150 train / 50 test) or, with ``--full``, the task of ``examples/temporal.py``
(200 ms, 5 Hz background; 800 samples, 600 / 200).
Networks: ``Linear(20, 8) -> DynapSim(8)``, pools of 4 neurons per class read by
``max_imem_loss(4)``, the weights and the AMPA, GABA and membrane leak currents trained:
- ``ff``: feed-forward;
- ``rec``: ``DynapSim(8, has_rec=True)``, recurrent weights from zero (the default);
- ``rec-rand``: recurrent weights drawn at random, signed 0.5 N(0, 1) (AMPA where positive,
  GABA where negative).
Optimizers: ``optax.adam`` at 1e-3, 3e-3, 1e-2 and 2e-2 (the temporal recipe's), and
``fit``'s default (:func:`dynapse2.train.fit.default_optimizer`: Adam 1e-2 with the
recurrent weights' steps scaled by 0.1); batches of 32, every key derived from the seed.

Per run: test accuracy after training, the training loss of the first and last epoch, the
largest rise of the per-epoch training loss above its running minimum (nats), and the
gradient norms of ``w_rec`` and of the input weights on a fixed batch of 32 training samples
at every epoch end (max over epochs).

Run:  python benchmarks/recurrent.py [--seeds 3] [--epochs 20] [--full]   (the table)
      python benchmarks/recurrent.py --full --epochs 30 --seeds 12 --ablate 0.01
      python benchmarks/recurrent.py --full --epochs 30 --trace rec 0.01 1
      python benchmarks/recurrent.py --full --epochs 20 --loop-gain rec 0.01 1
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from dynapse2.datasets import ordered_bursts, train_test_split
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.train import evaluate, fit, max_imem_loss
from dynapse2.train.fit import default_optimizer

POOL = 4
TRAINABLE = ("weights", "Itau_gaba", "Itau_ampa", "Itau_mem")
SHORT = dict(duration=0.12, onset=(0.01, 0.05), background_rate=0.0)
LOSS = max_imem_loss(POOL)
LRS = (1e-3, 3e-3, 1e-2, 2e-2)
OPTIMIZERS = {lr: optax.adam(lr) for lr in LRS}  # one object per rate: one compilation
DEFAULT = default_optimizer()  # fit's default: Adam 1e-2, w_rec's steps at a tenth
MODELS = ("ff", "rec", "rec-rand")


def data(seed: int, full: bool):
    keys = jax.random.split(jax.random.PRNGKey(seed), 4)
    task = {} if full else SHORT
    x, y = ordered_bursts(800 if full else 200, key=keys[0], **task)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, 0.25, key=keys[1])
    return (x_tr, y_tr, x_te, y_te), keys


def network(model: str, key: jax.Array) -> Sequential:
    k_in, k_rec = jax.random.split(key)
    n = 2 * POOL
    if model == "ff":
        sim = DynapSim(n)
    elif model == "rec":
        sim = DynapSim(n, has_rec=True)
    else:
        w = 0.5 * np.asarray(jax.random.normal(k_rec, (n, n)))
        sim = DynapSim(n, has_rec=True, w_rec=w)
    return Sequential(Linear((20, n), key=k_in), sim)


@eqx.filter_jit
def _grads(net, x, y):
    def objective(net):
        out, _, rec = net(x, record=True)
        return LOSS(out, rec, y)

    g = eqx.filter_grad(objective)(net)
    norm_in = jnp.linalg.norm(g[0].weight)
    norm_rec = jnp.linalg.norm(g[1].w_rec) if g[1].w_rec is not None else jnp.nan
    return norm_in, norm_rec


def run(
    model: str,
    lr: float,
    seed: int,
    epochs: int,
    full: bool,
    optimizer: optax.GradientTransformation | None = None,
    trainable: tuple[str, ...] = TRAINABLE,
) -> dict:
    (xtr, ytr, xte, yte), keys = data(seed, full)
    xb, yb = jnp.asarray(xtr[:32]), jnp.asarray(ytr[:32])
    norms = []

    def record(e):
        norms.append([float(v) for v in _grads(e.net, xb, yb)])

    net, h = fit(
        network(model, keys[2]),
        xtr,
        ytr,
        LOSS,
        epochs=epochs,
        batch_size=32,
        optimizer=optimizer or (DEFAULT if lr == "default" else OPTIMIZERS[lr]),
        key=keys[3],
        trainable=trainable,
        callback=record,
        progress=False,
    )
    loss = np.asarray(h.loss)
    rise = float(np.max(loss - np.minimum.accumulate(loss)))
    norms = np.asarray(norms)
    return {
        "acc": evaluate(net, xte, yte, LOSS)[1],
        "first": float(loss[0]),
        "last": float(loss[-1]),
        "rise": rise,
        "g_in": float(np.max(norms[:, 0])),
        "g_rec": float(np.nanmax(norms[:, 1])) if model != "ff" else float("nan"),
        "w_rec": float(np.max(np.asarray(net[1].w_rec))) if model != "ff" else float("nan"),
        "w_rec_mean": float(np.mean(np.asarray(net[1].w_rec)[..., (0, 2)]))
        if model != "ff"
        else float("nan"),
        "curve": loss,
    }


@eqx.filter_jit
def _state(net, x, y):
    """On a batch: the loss, the fraction of samples where both pools spike, the mean spike
    count per output neuron, the per-leaf gradient norms (w_in, w_rec AMPA, w_rec GABA)."""

    def objective(net):
        out, _, rec = net(x, record=True)
        return LOSS(out, rec, y), out

    (value, out), g = eqx.filter_value_and_grad(objective, has_aux=True)(net)
    fired = out.sum(axis=1) > 0  # (batch, 8)
    both = jnp.mean(fired[:, :POOL].any(-1) & fired[:, POOL:].any(-1))
    rec_g = g[1].w_rec if g[1].w_rec is not None else jnp.zeros((1, 1, 4))
    return (
        value,
        both,
        out.sum(axis=1).mean(),
        jnp.linalg.norm(g[0].weight),
        jnp.linalg.norm(rec_g[..., 0]),
        jnp.linalg.norm(rec_g[..., 2]),
    )


def trace(model: str, lr: float, seed: int, epochs: int, full: bool, optimizer=None) -> None:
    """Per epoch: training loss; on 64 training samples the loss, the fraction of samples in
    which both pools spike, spikes per output neuron, gradient norms; the recurrent weights
    (mean and max of the AMPA and GABA parts) and the trained time constants."""
    (xtr, ytr, _, _), keys = data(seed, full)
    xb, yb = jnp.asarray(xtr[:64]), jnp.asarray(ytr[:64])
    print(
        f"{model}, Adam {lr:g}, seed {seed}\n"
        "epoch | train loss | batch loss | both pools fire | spikes/neuron | |g w_in| | "
        "|g w_rec ampa| | |g w_rec gaba| | w_rec ampa mean / max | w_rec gaba mean / max | "
        "tau_mem / tau_ampa / tau_gaba (ms)"
    )

    def show(e):
        v = [float(a) for a in _state(e.net, xb, yb)]
        sim = e.net[1]
        w = np.asarray(sim.w_rec) if sim.w_rec is not None else np.zeros((1, 1, 4))
        print(
            f"{e.epoch:3d} | {e.history.loss[-1]:.3f} | {v[0]:.3f} | {v[1]:.2f} | {v[2]:5.2f} | "
            f"{v[3]:6.2f} | {v[4]:6.2f} | {v[5]:6.2f} | {w[..., 0].mean():.2f} / "
            f"{w[..., 0].max():.2f} | {w[..., 2].mean():.2f} / {w[..., 2].max():.2f} | "
            f"{1e3 * float(sim.tau_mem[0]):.1f} / {1e3 * float(sim.tau_ampa[0]):.1f} / "
            f"{1e3 * float(sim.tau_gaba[0]):.1f}",
            flush=True,
        )

    fit(
        network(model, keys[2]),
        xtr,
        ytr,
        LOSS,
        epochs=epochs,
        batch_size=32,
        optimizer=optimizer or OPTIMIZERS[lr],
        key=keys[3],
        trainable=TRAINABLE,
        callback=show,
        progress=False,
    )


def _w_rec_labels(params):
    labels = jax.tree_util.tree_map(lambda _: "rest", params)
    return eqx.tree_at(lambda t: t.modules[1].w_rec, labels, "rec")


def variants(lr: float) -> dict:
    """The interventions of ``--ablate`` at learning rate ``lr``: ``(optimizer, trainable)``."""
    return {
        "adam": (OPTIMIZERS[lr], TRAINABLE),
        "adam, w_rec at lr / 10": (
            optax.multi_transform(
                {"rest": optax.adam(lr), "rec": optax.adam(lr / 10)}, _w_rec_labels
            ),
            TRAINABLE,
        ),
        "clip_by_global_norm(1) + adam": (
            optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr)),
            TRAINABLE,
        ),
    }


def ablate(models, lr: float, seeds: int, epochs: int, full: bool) -> None:
    """Every variant of :func:`variants` on every model (the feed-forward one has no w_rec)."""
    print(
        f"\n{'full' if full else 'short'} task, Adam {lr:g}, {epochs} epochs, seeds 0..{seeds - 1}"
        "; min / median / max over seeds\n"
    )
    print(
        "| network | variant | test accuracy | largest rise (nats) | max grad norm w_in | "
        "max grad norm w_rec | mean / max w_rec at the end (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    for model in models:
        for name, (opt, tr) in variants(lr).items():
            if model == "ff" and "w_rec" in name:
                continue
            runs = [run(model, lr, s, epochs, full, opt, tr) for s in range(seeds)]
            col = {k: np.asarray([r[k] for r in runs]) for k in runs[0] if k != "curve"}

            def mmm(v, f):
                return " / ".join(f.format(q) for q in (v.min(), np.median(v), v.max()))

            print(
                f"| {model} | {name} | {mmm(col['acc'], '{:.2f}')} | "
                f"{mmm(col['rise'], '{:.3f}')} | {mmm(col['g_in'], '{:.2g}')} | "
                f"{mmm(col['g_rec'], '{:.2g}') if model != 'ff' else '-'} | "
                + (
                    f"{np.median(col['w_rec_mean']):.2f} / {np.median(col['w_rec']):.2f} |"
                    if model != "ff"
                    else "- |"
                ),
                flush=True,
            )


def loop_gain(model: str, lr: float, seed: int, epochs: int, full: bool) -> None:
    """Train ``epochs`` epochs, then scale ``w_rec`` by ``alpha`` and measure, over every
    training batch of 32, the gradient norm of the loss w.r.t. the input and recurrent
    weights (median and max over batches) and the training loss: how the gradient depends
    on the strength of the recurrent loop alone, everything else fixed."""
    (xtr, ytr, _, _), keys = data(seed, full)
    net, h = fit(
        network(model, keys[2]),
        xtr,
        ytr,
        LOSS,
        epochs=epochs,
        batch_size=32,
        optimizer=OPTIMIZERS[lr],
        key=keys[3],
        trainable=TRAINABLE,
        progress=False,
    )
    w = net[1].w_rec
    print(
        f"\n{model}, Adam {lr:g}, seed {seed}, after {epochs} epochs (train loss "
        f"{h.loss[-1]:.3f}; w_rec mean {float(jnp.mean(w[..., (0, 2)])):.2f}, max "
        f"{float(jnp.max(w)):.2f}); w_rec scaled by alpha:\n"
    )
    print("| alpha | loss | grad norm w_in median / max | grad norm w_rec median / max |")
    print("|---|---|---|---|")
    for alpha in (0.0, 0.5, 1.0, 1.5, 2.0):
        scaled = eqx.tree_at(lambda t: t.modules[1].w_rec, net, alpha * w)
        rows = []
        for b in range(len(xtr) // 32):
            xb = jnp.asarray(xtr[32 * b : 32 * (b + 1)])
            yb = jnp.asarray(ytr[32 * b : 32 * (b + 1)])
            v = _state(scaled, xb, yb)
            rows.append((float(v[0]), float(v[3]), float(np.hypot(v[4], v[5]))))
        r = np.asarray(rows)
        print(
            f"| {alpha:g} | {r[:, 0].mean():.3f} | {np.median(r[:, 1]):.2f} / {r[:, 1].max():.2f}"
            f" | {np.median(r[:, 2]):.2f} / {r[:, 2].max():.2f} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--full", action="store_true", help="the task of examples/temporal.py")
    ap.add_argument("--curves", action="store_true", help="print every per-epoch loss curve")
    ap.add_argument(
        "--trace",
        nargs=3,
        metavar=("MODEL", "LR", "SEED"),
        help="per-epoch state of one run (e.g. --trace rec 0.01 1)",
    )
    ap.add_argument(
        "--ablate",
        type=float,
        metavar="LR",
        help="the interventions of variants() at this learning rate",
    )
    ap.add_argument(
        "--loop-gain",
        nargs=3,
        metavar=("MODEL", "LR", "SEED"),
        help="gradient norms against a scaling of the trained w_rec",
    )
    args = ap.parse_args()
    if args.loop_gain:
        model, lr, seed = args.loop_gain
        loop_gain(model, float(lr), int(seed), args.epochs, args.full)
        return
    if args.ablate:
        ablate(MODELS, args.ablate, args.seeds, args.epochs, args.full)
        return
    if args.trace:
        model, lr, seed = args.trace
        trace(model, float(lr), int(seed), args.epochs, args.full)
        return
    start = time.time()
    rows = []
    for lr in (*LRS, "default"):
        for model in MODELS:
            runs = [run(model, lr, s, args.epochs, args.full) for s in range(args.seeds)]
            rows.append((model, lr, runs))
            if args.curves:
                for s, r in enumerate(runs):
                    print(model, lr, s, np.round(r["curve"], 3).tolist(), flush=True)
    print(
        f"\n{'full' if args.full else 'short'} temporal task, {args.epochs} epochs, "
        f"seeds 0..{args.seeds - 1}; per cell min / median / max over seeds "
        f"({time.time() - start:.0f} s)\n"
    )
    print(
        "| network | optimizer | test accuracy | loss epoch 1 -> last (median) | largest rise "
        "(nats) | max grad norm w_in | max grad norm w_rec | max w_rec |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def mmm(v, f="{:.2f}"):
        v = np.asarray(v)
        return " / ".join(f.format(q) for q in (v.min(), np.median(v), v.max()))

    for model, lr, runs in rows:
        col = {k: [r[k] for r in runs] for k in runs[0]}
        rec = model != "ff"
        print(
            f"| {model} | {'fit default' if lr == 'default' else f'Adam {lr:g}'} | "
            f"{mmm(col['acc'])} | "
            f"{np.median(col['first']):.3f} -> {np.median(col['last']):.3f} | "
            f"{mmm(col['rise'], '{:.3f}')} | {mmm(col['g_in'], '{:.2g}')} | "
            f"{mmm(col['g_rec'], '{:.2g}') if rec else '-'} | "
            f"{mmm(col['w_rec'], '{:.2f}') if rec else '-'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
