"""Train small spiking networks in snnTorch and spyx and export them with their own NIR
exporters: the graphs ``tests/data/nir/*.nir`` that the tests, ``benchmarks/nir_fidelity.py``
and the tutorial "Bring your network" import (none of them needs torch or spyx).

Three steps, in two environments (the exporters need torch / spyx, which dynapse2 does not):

1. ``python benchmarks/nir_exporters/make_graphs.py data`` (with dynapse2 importable): the task,
   frozen noise from :func:`dynapse2.datasets.frozen_noise`, written to
   ``tests/data/nir/frozen_noise.npz`` (spike counts, labels, train/test split).
2. ``python benchmarks/nir_exporters/make_graphs.py snntorch [kinds]`` in an environment with
   ``torch==2.13.0 snntorch==1.0.0 nirtorch nir==1.0.8`` (``/work/venv-export``): per seed
   (0, 1, 2) a feed-forward network (kind ``ff``: ``Linear(30, 32) -> Synaptic ->
   Linear(32, 4) -> Synaptic``) and a recurrent one (``rec``: ``RSynaptic`` hidden layer with
   a bias-free all-to-all ``Linear(32, 32)``, started at zero), plus the bursting case
   (``burst``, seed 0; :data:`BURST`), exported with ``snntorch.export_to_nir`` as
   ``snntorch_<kind>_s<seed>.nir``; ``exporters.json`` records the test accuracy each network
   had in its own framework before export, the versions, and its test-set rates.
3. ``python benchmarks/nir_exporters/make_graphs.py spyx`` (``spyx==1.0.0``, jax, flax): the
   feed-forward network in spyx (``CuBaLIF`` hidden and output), exported with
   ``spyx.nir.to_nir(..., dt=1e-4)``; import it with ``from_nir(..., convention="spyx")``.

What a Dynap-SE2 user would deploy: reset to zero (``reset_mechanism="zero"``, the NIR graph's
v_reset and the DPI's reset; spyx has only subtraction), weights clipped to
[-:data:`W_BOUND`, W_BOUND] (the 4-bit weights of a core), 32 hidden neurons (30 inputs + 32
recurrent sources fit a neuron's 64 CAM entries), alpha and beta fixed, and rate penalties:
pairs of spikes closer than :data:`ISI_MIN` steps and per-neuron rates above :data:`RATE_MAX`.
On the test set (``exporters.json``) snnTorch's output layers have 0-0.04 pairs closer than
10 steps per spike, spyx's 0.11-0.29; the hidden layers, driven by coincident input spikes,
keep 0.5-1.4 (snnTorch) and 0.7-0.9 (spyx) at 0.002-0.007 spikes per step (with a penalty ten
times stronger, one try on seed 0: 1.1, and 60 % accuracy). Cross-entropy
on output spike counts, Adam 1e-2, 40 epochs of 400 samples, batch 50.

Conventions: one step is snnTorch's hard-coded export step, ``dt = 1e-4`` s (so tau = dt /
(1 - beta)); a network classifies by its output layer's spike counts. alpha = 0.95, beta = 0.98
(tau_syn 2 ms = 20 steps, tau_mem 5 ms = 50 steps), above the import solver's 8-step floor.
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
N_HIDDEN = 32
"""Hidden neurons: 30 inputs + 32 recurrent = 62 sources per recurrent neuron, within a
neuron's 64 CAM entries (so ``map_network`` prunes nothing)."""
ALPHA, BETA = 0.95, 0.98
EPOCHS, BATCH, LR = 40, 50, 1e-2
ISI_MIN = 10
"""The shortest inter-spike interval (steps) the training allows, the DPI's operating range at
the import: a DynapSim neuron holds one refractory step after each spike and restarts from
I_0, so each interval of k steps of the NIR LIF becomes about k + 1 on the chip: the rate
error is about -1/k, within 10 % from k = 10 (the NIR LIF itself can fire at every step)."""
ISI_PENALTY = 100.0
"""Weight of the mean number (per neuron and step) of spike pairs closer than ISI_MIN."""
RATE_MAX, RATE_PENALTY = 1 / ISI_MIN, 30.0
"""Per-neuron rate ceiling (spikes per step) and its weight."""
W_BOUND = 0.3
"""Every weight is clipped to [-W_BOUND, W_BOUND] after each step (one input spike then lifts
v by at most ~3 thresholds). A Dynap-SE2 weight is a 4-bit sum of 4 base currents shared by
the neurons of a core, so the weights of a core must fit ~15 levels of one grid: trained
without a bound, the output layers grew inhibitory weights up to 2.3 beside excitatory ones
of 0.03 and lost 28-70 points when quantized (seeds 0-2; the bound was chosen on seed 1's
feed-forward network, one try, and is the same for every graph)."""
BURST = dict(n_hidden=40, out_max=0.15, hidden_max=0.05, penalty=30.0)
"""The bursting case (kind "burst", seed 0; the graphs of the first benchmark): 40 hidden
neurons, snnTorch's default reset by subtraction, and only a penalty on the *mean* rates
(output above 0.15, hidden layer above 0.05 spikes per step), which let the neurons fire at
consecutive steps: outside the DPI's range, kept as the counter-example."""
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


# --- the loss (torch and jax alike) --------------------------------------------------------------
def close_pairs(spikes):
    """Mean number, per neuron and step, of spike pairs less than ``ISI_MIN`` steps apart in
    ``spikes`` ``(batch, T, n)`` (torch or jax): zero when every interval is >= ISI_MIN."""
    pairs = sum((spikes[:, k:] * spikes[:, :-k]).sum() for k in range(1, ISI_MIN))
    return pairs / (spikes.numel() if callable(spikes.size) else spikes.size)


def rate_loss(logits, y, layers, burst: bool = False):
    """Cross-entropy of the output spike counts ``logits`` ``(batch, n_out)`` plus the rate
    penalties on ``layers`` (spikes ``(batch, T, n)`` of the hidden and output layers): pairs
    closer than ``ISI_MIN`` steps and per-neuron rates above ``RATE_MAX`` (``burst=True``: the
    old penalty on the layers' mean rates, :data:`BURST`)."""
    try:
        import torch  # noqa: PLC0415

        is_torch = torch.is_tensor(logits)
    except ImportError:
        is_torch = False
    if is_torch:
        ce = torch.nn.functional.cross_entropy(logits, y.long())
        relu = torch.relu
    else:
        import jax  # noqa: PLC0415
        import optax  # noqa: PLC0415

        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        relu = jax.nn.relu
    loss = ce
    if burst:
        hidden, out = layers
        loss = loss + BURST["penalty"] * (relu(out.mean(1) - BURST["out_max"]) ** 2).mean()
        return loss + BURST["penalty"] * relu(hidden.mean() - BURST["hidden_max"]) ** 2
    for s in layers:
        loss = loss + ISI_PENALTY * close_pairs(s)
        loss = loss + RATE_PENALTY * (relu(s.mean(1) - RATE_MAX) ** 2).mean()
    return loss


def _stats(layers) -> dict:
    """Per-layer mean rate (spikes per step) and the share of spikes closer than ISI_MIN steps
    to the previous spike of the same neuron (numpy arrays ``(batch, T, n)``)."""
    out = {}
    for name, s in zip(("hidden", "output"), layers, strict=True):
        s = np.asarray(s, np.float64)
        close = sum((s[:, k:] * s[:, :-k]).sum() for k in range(1, ISI_MIN))
        out[name] = {
            "rate": float(s.mean()),
            "close_pairs_per_spike": float(close / max(s.sum(), 1)),
        }
    return out


# --- snnTorch -----------------------------------------------------------------------------------
def snntorch_net(kind: str):
    import snntorch as snn  # noqa: PLC0415
    import torch  # noqa: PLC0415

    n_in, n_out = TASK["n_channels"], TASK["n_classes"]
    n_hid = BURST["n_hidden"] if kind == "burst" else N_HIDDEN
    # the reset the NIR graph states (v_reset = 0, what a DPI does), except in the bursting case
    reset = "subtract" if kind == "burst" else "zero"

    def ab(n, **kw):
        # per-neuron alpha, beta and threshold: with scalars the exporter writes shapeless
        # nodes, which nir's type inference refuses
        return dict(alpha=torch.full((n,), ALPHA), beta=torch.full((n,), BETA),
                    threshold=torch.ones(n), reset_mechanism=reset, init_hidden=True,
                    **kw)  # fmt: skip

    if kind == "rec":
        hidden = snn.RSynaptic(**ab(n_hid), all_to_all=True, linear_features=n_hid)
        # the chip has no bias: a bias-free recurrent Linear, started at zero (from the default
        # init, scaled by 0.3, it trained to 49-50 % on seeds 0-2; from zero to 99 % on seed 0)
        hidden.recurrent = torch.nn.Linear(n_hid, n_hid, bias=False)
        with torch.no_grad():
            hidden.recurrent.weight.zero_()
    else:
        hidden = snn.Synaptic(**ab(n_hid))
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, n_hid, bias=False),
        hidden,
        torch.nn.Linear(n_hid, n_out, bias=False),
        snn.Synaptic(**ab(n_out), output=True),
    )


def snntorch_run(net, x):
    """Output spike counts ``(batch, n_out)`` of ``x`` ``(batch, T, n_in)`` and the spikes
    ``(batch, T, n)`` of the hidden and output layers."""
    import snntorch.utils  # noqa: PLC0415
    import torch  # noqa: PLC0415

    snntorch.utils.reset(net)
    for m in net.modules():  # RSynaptic keeps its last spikes across calls: start from zero
        if torch.is_tensor(getattr(m, "spk", None)):
            m.spk = torch.zeros_like(m.spk).detach()
    hidden = []
    hook = net[1].register_forward_hook(lambda mod, inp, out: hidden.append(out))
    outs = []
    for t in range(x.shape[1]):
        spk, *_ = net(x[:, t])
        outs.append(spk)
    hook.remove()
    h = torch.stack([o[0] if isinstance(o, tuple) else o for o in hidden], 1)
    o = torch.stack(outs, 1)
    return o.sum(1), [h, o]


def make_snntorch(kinds=("ff", "rec", "burst")) -> None:
    import nir  # noqa: PLC0415
    import snntorch  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from snntorch.export_nir import export_to_nir  # noqa: PLC0415

    torch.set_num_threads(1)
    x_tr, y_tr, x_te, y_te = (torch.tensor(a) for a in load())
    for kind in kinds:
        for seed in SEEDS if kind != "burst" else (0,):
            torch.manual_seed(seed)
            net = snntorch_net(kind)
            opt = torch.optim.Adam(net.parameters(), lr=LR)
            for _ in range(EPOCHS):
                perm = torch.randperm(len(x_tr))
                for i in range(0, len(x_tr), BATCH):
                    idx = perm[i : i + BATCH]
                    logits, layers = snntorch_run(net, x_tr[idx])
                    loss = rate_loss(logits, y_tr[idx], layers, burst=kind == "burst")
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if kind != "burst":  # the first benchmark's graphs had no bound
                        with torch.no_grad():
                            for m in net.modules():
                                if isinstance(m, torch.nn.Linear):
                                    m.weight.clamp_(-W_BOUND, W_BOUND)
            with torch.no_grad():
                logits, layers = snntorch_run(net, x_te)
                acc = float((logits.argmax(1) == y_te).float().mean())
            graph = export_to_nir(net, x_tr[0, 0])
            name = f"snntorch_{kind}_s{seed}"
            nir.write(OUT / f"{name}.nir", graph)
            meta = {"framework": "snntorch", "kind": kind, "seed": seed, "epochs": EPOCHS,
                    "versions": f"snntorch {snntorch.__version__}, torch {torch.__version__}, "
                    f"nir {nir.__version__}", "test_spikes": _stats(layers)}  # fmt: skip
            _record(name, acc, meta)
            print(f"{name}: test accuracy {acc:.3f}; {meta['test_spikes']}", flush=True)


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
    # torch.nn.Linear's initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as in snnTorch:
    # from nnx's default (lecun normal, ~1.7 times larger) the networks start at 0.2-0.4
    # spikes per step, the rate penalties dominate and silence them (44-72 % on seeds 0-2)
    torch_init = nnx.initializers.variance_scaling(1 / 3, "fan_in", "uniform")
    # snnTorch's surrogate (ATan, alpha = 2: 1 / (1 + (pi x)^2)) in spyx's form (arctan(k=1):
    # the same shape, 1/pi of its height), not spyx's default superspike(k = 25), whose narrow
    # gradient left the hidden layers silent under the rate penalties
    atan = spyx.axn.arctan(k=1)
    for seed in SEEDS:
        rngs = nnx.Rngs(seed)
        first = spyx.nn.Sequential(
            nnx.Linear(n_in, N_HIDDEN, use_bias=False, kernel_init=torch_init, rngs=rngs),
            spyx.nn.CuBaLIF((N_HIDDEN,), alpha=ALPHA, beta=BETA, activation=atan, rngs=rngs),
        )
        second = spyx.nn.Sequential(
            nnx.Linear(N_HIDDEN, n_out, use_bias=False, kernel_init=torch_init, rngs=rngs),
            spyx.nn.CuBaLIF((n_out,), alpha=ALPHA, beta=BETA, activation=atan, rngs=rngs),
        )
        model = nnx.List([first, second])

        def run(model, x):
            h, _ = spyx.nn.run(model[0], jnp.asarray(x), batch_major=True)  # (B, T, n)
            o, _ = spyx.nn.run(model[1], h, batch_major=True)
            return o.sum(axis=1), [h, o]

        # only the weights train: alpha and beta stay fixed, as in snnTorch (spyx trains them by
        # default and may push beta above 1, which its forward pass clips and its exporter not)
        weights = nnx.PathContains("kernel")
        opt = nnx.Optimizer(model, optax.adam(LR), wrt=weights)

        @nnx.jit
        def train_step(model, opt, x, y, weights=weights):
            def loss_fn(model):
                logits, layers = run(model, x)
                return rate_loss(logits, y, layers)

            loss, grads = nnx.value_and_grad(loss_fn, argnums=nnx.DiffState(0, weights))(model)
            opt.update(model, grads)
            for lin in (model[0].layers[0], model[1].layers[0]):
                lin.kernel[...] = jnp.clip(lin.kernel[...], -W_BOUND, W_BOUND)
            return loss

        key = jax.random.PRNGKey(seed)
        for _ in range(EPOCHS):
            key, sub = jax.random.split(key)
            perm = np.asarray(jax.random.permutation(sub, len(x_tr)))
            for i in range(0, len(x_tr), BATCH):
                idx = perm[i : i + BATCH]
                train_step(model, opt, x_tr[idx], y_tr[idx])
        logits, layers = run(model, x_te)
        acc = float((np.asarray(logits).argmax(1) == y_te).mean())
        full = spyx.nn.Sequential(*first.layers, *second.layers)
        graph = spyx.nir.to_nir(
            full, {"input": np.array([n_in])}, {"output": np.array([n_out])}, dt=DT
        )
        name = f"spyx_ff_s{seed}"
        nir.write(OUT / f"{name}.nir", graph)
        meta = {"framework": "spyx", "kind": "ff", "seed": seed, "epochs": EPOCHS,
                "versions": f"spyx {spyx.__version__}, jax {jax.__version__}, "
                f"nir {nir.__version__}",
                "test_spikes": _stats(layers)}  # fmt: skip
        _record(name, acc, meta)
        print(f"{name}: test accuracy {acc:.3f}; {meta['test_spikes']}", flush=True)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    steps = {"data": make_data, "snntorch": make_snntorch, "spyx": make_spyx}
    if what not in steps:
        raise SystemExit(f"usage: make_graphs.py {{{'|'.join(steps)}}} [kinds...]")
    steps[what](*([tuple(sys.argv[2:])] if len(sys.argv) > 2 else []))
