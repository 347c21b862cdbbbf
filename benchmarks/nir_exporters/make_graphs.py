"""Train small spiking networks in snnTorch and spyx and export them with their own NIR
exporters: the graphs ``tests/data/nir/*.nir`` that the tests, ``benchmarks/nir_fidelity.py``
and the tutorial "Bring your network" import (none of them needs torch or spyx).

Three steps, in two environments (the exporters need torch / spyx, which dynapse2 does not):

1. ``python benchmarks/nir_exporters/make_graphs.py data`` (with dynapse2 importable): the task,
   frozen noise from :func:`dynapse2.datasets.frozen_noise`, written to
   ``tests/data/nir/frozen_noise.npz`` (spike counts, labels, train/test split).
2. ``python benchmarks/nir_exporters/make_graphs.py snntorch`` in an environment with
   ``torch==2.13.0 snntorch nirtorch nir`` (e.g. ``/work/venv-export``): trains a feed-forward
   network (``Synaptic`` hidden and output layers) and a recurrent one (``RSynaptic`` hidden
   layer) per seed, exports each with ``snntorch.export_to_nir``, and writes
   ``snntorch_<kind>_s<seed>.nir`` plus ``exporters.json`` (the test accuracy each network had
   in its own framework, before export).
3. ``python benchmarks/nir_exporters/make_graphs.py spyx`` (``pip install spyx``): the same
   feed-forward network in spyx (``CuBaLIF`` hidden and output), exported with
   ``spyx.nir.to_nir(..., dt=1e-4)``.

Conventions: one step is snnTorch's hard-coded export step, ``dt = 1e-4`` s (so tau = dt /
(1 - beta)); a network classifies by its output layer's spike counts. alpha = 0.95, beta = 0.98
(tau_syn 2 ms = 20 steps, tau_mem 5 ms = 50 steps): forward Euler's step error stays a few %
there (the DPI's operating range at this dt), where alpha = 0.8 (5 steps) would be raised to
10 steps by the import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests" / "data" / "nir"
DATA = OUT / "frozen_noise.npz"
DT = 1e-4
SEEDS = (0, 1, 2)
N_HIDDEN = 40
ALPHA, BETA = 0.95, 0.98
EPOCHS, BATCH, LR = 40, 50, 1e-2
OUT_MAX, HIDDEN_MAX, PENALTY = 0.15, 0.05, 30.0
"""Rate ceilings in spikes per step (0.1 per step = 1 kHz at 0.1 ms) and their weight."""
TASK = dict(
    n_classes=4,
    n_channels=30,
    duration=0.01,
    dt=DT,
    rate=200.0,
    n_samples=600,
    jitter=2e-4,
    drop=0.15,
    add=30.0,
)


def make_data() -> None:
    from dynapse2.datasets import frozen_noise, train_test_split  # noqa: PLC0415

    x, y = frozen_noise(**TASK, key=0)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=200, key=1)
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        DATA,
        x_train=x_tr.astype(np.uint8),
        y_train=y_tr,
        x_test=x_te.astype(np.uint8),
        y_test=y_te,
        dt=DT,
        task=json.dumps(TASK),
    )
    print(f"wrote {DATA}: train {x_tr.shape}, test {x_te.shape}")


def load() -> tuple[np.ndarray, ...]:
    d = np.load(DATA)
    return (
        d["x_train"].astype(np.float32),
        d["y_train"],
        d["x_test"].astype(np.float32),
        d["y_test"],
    )


def _record(name: str, accuracy: float, meta: dict) -> None:
    path = OUT / "exporters.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    table[name] = {"test_accuracy": accuracy, **meta}
    path.write_text(json.dumps(dict(sorted(table.items())), indent=1) + "\n")


# --- snnTorch -----------------------------------------------------------------------------------
def snntorch_net(kind: str):
    import snntorch as snn  # noqa: PLC0415
    import torch  # noqa: PLC0415

    n_in, n_out = TASK["n_channels"], TASK["n_classes"]
    # per-neuron alpha, beta and threshold: with scalars the exporter writes shapeless nodes, which
    # nir's type inference refuses
    ab = lambda n: dict(  # noqa: E731
        alpha=torch.full((n,), ALPHA), beta=torch.full((n,), BETA), threshold=torch.ones(n)
    )
    if kind == "ff":
        hidden = snn.Synaptic(**ab(N_HIDDEN), init_hidden=True)
    else:
        hidden = snn.RSynaptic(
            **ab(N_HIDDEN), init_hidden=True, all_to_all=True, linear_features=N_HIDDEN
        )
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, N_HIDDEN, bias=False),
        hidden,
        torch.nn.Linear(N_HIDDEN, n_out, bias=False),
        snn.Synaptic(**ab(n_out), init_hidden=True, output=True),
    )


def snntorch_run(net, x):
    """Output spike counts (batch, n_out) of ``x`` (batch, T, n_in), and the hidden layer's
    mean spikes per neuron and step."""
    import snntorch.utils  # noqa: PLC0415
    import torch  # noqa: PLC0415

    snntorch.utils.reset(net)
    for m in net.modules():  # RSynaptic keeps its last spikes across calls: start from zero
        if torch.is_tensor(getattr(m, "spk", None)):
            m.spk = torch.zeros_like(m.spk).detach()
    hidden = []
    hook = net[1].register_forward_hook(lambda mod, inp, out: hidden.append(out))
    counts = 0
    for t in range(x.shape[1]):
        spk, *_ = net(x[:, t])
        counts = counts + spk
    hook.remove()
    h = [o[0] if isinstance(o, tuple) else o for o in hidden]
    return counts, torch.stack(h).mean()


def count_loss(counts, y, steps: int, hidden_rate=None):
    """Cross-entropy of the output spike counts, plus penalties on output rates above
    ``OUT_MAX`` and hidden rates above ``HIDDEN_MAX`` (spikes per step): they keep the rates
    in the range a DPI neuron follows (intervals of ~10 steps or more). Works on torch and jax
    arrays alike (``xp``)."""
    try:
        import torch  # noqa: PLC0415

        is_torch = torch.is_tensor(counts)
    except ImportError:
        is_torch = False
    if is_torch:
        ce = torch.nn.functional.cross_entropy(counts, y.long())
        relu = torch.relu
    else:
        import jax  # noqa: PLC0415
        import optax  # noqa: PLC0415

        ce = optax.softmax_cross_entropy_with_integer_labels(counts, y).mean()
        relu = jax.nn.relu
    loss = ce + PENALTY * (relu(counts / steps - OUT_MAX) ** 2).mean()
    if hidden_rate is not None:
        loss = loss + PENALTY * relu(hidden_rate - HIDDEN_MAX) ** 2
    return loss


def make_snntorch() -> None:
    import nir  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from snntorch.export_nir import export_to_nir  # noqa: PLC0415

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = (torch.tensor(a) for a in load())
    for kind in ("ff", "rec"):
        for seed in SEEDS:
            torch.manual_seed(seed)
            net = snntorch_net(kind)
            opt = torch.optim.Adam(net.parameters(), lr=LR)
            for _ in range(EPOCHS):
                perm = torch.randperm(len(x_tr))
                for i in range(0, len(x_tr), BATCH):
                    idx = perm[i : i + BATCH]
                    counts, hidden = snntorch_run(net, x_tr[idx])
                    loss = count_loss(counts, y_tr[idx], x_tr.shape[1], hidden)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            with torch.no_grad():
                acc = float((snntorch_run(net, x_te)[0].argmax(1) == y_te).float().mean())
                rate_tr = snntorch_run(net, x_tr[:64])[0].mean()
            graph = export_to_nir(net, x_tr[0, 0])
            name = f"snntorch_{kind}_s{seed}"
            nir.write(OUT / f"{name}.nir", graph)
            _record(
                name,
                acc,
                {
                    "framework": "snntorch",
                    "kind": kind,
                    "seed": seed,
                    "epochs": EPOCHS,
                    "output_count_mean": float(rate_tr),
                },
            )
            print(f"{name}: test accuracy {acc:.3f}; nodes {sorted(graph.nodes)}")


# --- spyx ---------------------------------------------------------------------------------------
def make_spyx() -> None:
    import jax  # noqa: PLC0415
    import jax.numpy as jnp  # noqa: PLC0415
    import nir  # noqa: PLC0415
    import optax  # noqa: PLC0415
    import spyx  # noqa: PLC0415
    import spyx.nir  # noqa: PLC0415
    from flax import nnx  # noqa: PLC0415

    x_tr, y_tr, x_te, y_te = load()
    n_in, n_out = TASK["n_channels"], TASK["n_classes"]
    for seed in SEEDS:
        rngs = nnx.Rngs(seed)
        model = spyx.nn.Sequential(
            nnx.Linear(n_in, N_HIDDEN, use_bias=False, rngs=rngs),
            spyx.nn.CuBaLIF((N_HIDDEN,), alpha=ALPHA, beta=BETA, rngs=rngs),
            nnx.Linear(N_HIDDEN, n_out, use_bias=False, rngs=rngs),
            spyx.nn.CuBaLIF((n_out,), alpha=ALPHA, beta=BETA, rngs=rngs),
        )

        def counts(model, x):
            spikes, _ = spyx.nn.run(model, jnp.asarray(x), batch_major=True)  # (B, T, n)
            return spikes.sum(axis=1)

        opt = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

        @nnx.jit
        def train_step(model, opt, x, y):
            def loss_fn(model):
                return count_loss(counts(model, x), y, x.shape[1])

            loss, grads = nnx.value_and_grad(loss_fn)(model)
            opt.update(model, grads)
            return loss

        key = jax.random.PRNGKey(seed)
        for _ in range(EPOCHS):
            key, sub = jax.random.split(key)
            perm = np.asarray(jax.random.permutation(sub, len(x_tr)))
            for i in range(0, len(x_tr), BATCH):
                idx = perm[i : i + BATCH]
                train_step(model, opt, x_tr[idx], y_tr[idx])
        acc = float((np.asarray(counts(model, x_te)).argmax(1) == y_te).mean())
        graph = spyx.nir.to_nir(
            model, {"input": np.array([n_in])}, {"output": np.array([n_out])}, dt=DT
        )
        name = f"spyx_ff_s{seed}"
        nir.write(OUT / f"{name}.nir", graph)
        _record(name, acc, {"framework": "spyx", "kind": "ff", "seed": seed, "epochs": EPOCHS})
        print(f"{name}: test accuracy {acc:.3f}; nodes {sorted(graph.nodes)}")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    steps = {"data": make_data, "snntorch": make_snntorch, "spyx": make_spyx}
    if what not in steps:
        raise SystemExit(f"usage: make_graphs.py {{{'|'.join(steps)}}}")
    steps[what]()
