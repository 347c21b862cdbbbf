"""Time Rockpool 3.1.0's ``DynapSim`` on a workload saved by ``benchmarks/simulate.py``.

Run by ``simulate.py`` in the Python environment that has Rockpool (possibly another venv):
``python benchmarks/rockpool_dynapsim.py WORKLOAD.npz`` prints one JSON object with, per
batch size, the wall time (s, min over repeats, after compilation) of

- ``call``: ``mod(x)`` as users call it (Rockpool's own per-call path, no outer jit);
- ``jit``: ``jax.jit`` of the call with the module closed over (parameters are constants of the
  compiled program: Rockpool's fastest form);
- ``train``: one ``value_and_grad`` of a spike-count loss plus an optax Adam update, jitted with
  the parameters as arguments (as training must).

Rockpool 3.1.0's DynapSim has one (merged) synapse per neuron: input ``(B, T, n)`` event
counts, ``w_rec`` ``(n, n)``. It gets the same input and connectivity as dynapse2 (the signed
recurrent weights; Rockpool clips negative drive at I_0).
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings

logging.disable(logging.WARNING)
warnings.filterwarnings("ignore")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402


def best(f, repeat):
    jax.block_until_ready(f())
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(path: str) -> None:
    import optax
    from rockpool import __version__
    from rockpool.devices.dynapse import DynapSim

    d = np.load(path)
    w, repeat = d["w_rec"], int(d["repeat"])
    out = {"version": __version__}
    for key in [k for k in d.files if k.startswith("x_b")]:
        x = jnp.asarray(d[key])
        mod = DynapSim(w.shape[0], has_rec=True, w_rec=jnp.asarray(w), dt=float(d["dt"]))
        res = {"call": best(lambda: mod(x)[0], repeat)}  # noqa: B023
        fast = jax.jit(lambda x: mod(x, record=False)[0])  # noqa: B023
        res["jit"] = best(lambda: fast(x), repeat)  # noqa: B023
        if bool(d[f"train_{key}"]):
            params = mod.parameters()
            opt = optax.adam(1e-3)
            opt_state = opt.init(params)

            def loss(p, x):
                spikes = mod.set_attributes(p)(x, record=False)[0]  # noqa: B023
                return jnp.mean((spikes.sum(axis=1) - 20.0) ** 2)

            @jax.jit
            def train_step(p, s, x):
                v, g = jax.value_and_grad(loss)(p, x)
                upd, s = opt.update(g, s, p)  # noqa: B023
                return optax.apply_updates(p, upd), s, v

            res["train"] = best(lambda: train_step(params, opt_state, x), repeat)  # noqa: B023
        out[key] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
