"""Bad input at the public boundary: one clear error, naming the parameter, the value and
what is allowed, before any work (cases found by trying the API as a new user)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dynapse2 import DynapSim, Linear, Sequential
from dynapse2.hardware import Configuration, VirtualBoard, map_network, network_from_config
from dynapse2.hardware.network import META_KEY
from dynapse2.train import History, checkpoint, evaluate, fit, max_imem_loss

NET = Sequential(Linear((3, 4), key=jax.random.PRNGKey(0)), DynapSim(4))


def _meta_edit(edit):
    cfg = map_network(NET).config.copy()
    edit(cfg.meta[META_KEY])
    return cfg


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: NET(np.zeros((0, 3))), ValueError, r"no time steps"),
        (
            lambda: (
                NET.set_backend("numpy")(np.zeros((0, 3)))
                if hasattr(NET, "set_backend")
                else Sequential(
                    Linear((3, 4), key=jax.random.PRNGKey(0)), DynapSim(4, backend="numpy")
                )(np.zeros((0, 3)))
            ),
            ValueError,
            r"no time steps",
        ),
        (lambda: NET(np.zeros((2, 0, 3))), ValueError, r"no time steps"),
        (lambda: DynapSim(4, dt="1e-3"), TypeError, r"dt = '1e-3' must be a number, got str"),
        (lambda: DynapSim(4, mismatch=[0.1]), TypeError, r"mismatch = \[0.1\] must be a number"),
        (lambda: DynapSim(4, C_mem="big"), TypeError, r"C_mem = 'big' must be a number"),
        (
            lambda: Linear((2, 2), weight=np.array([[1.0, np.inf], [0.0, 1.0]])),
            ValueError,
            r"weight\[0, 1\] = inf is not finite",
        ),
        (lambda: map_network(NET, reduce="bogus"), ValueError, r"reduce = 'bogus' must be one of"),
        (lambda: map_network(NET, prune="yes"), TypeError, r"prune = 'yes' must be True or False"),
        (
            lambda: checkpoint.save("x.npz", NET, None, History(), epoch=-1),
            ValueError,
            r"epoch = -1 must be a non-negative integer",
        ),
        (
            lambda: Configuration().chips[0].cores[0].neurons[0].destinations[4],
            IndexError,
            r"a neuron has 4 SRAM entries \(destinations\), indices 0..3; got 4",
        ),
        (
            lambda: Configuration().chips[0].cores[0].neurons[0].synapses[64],
            IndexError,
            r"a neuron has 64 CAM entries \(synapses\), indices 0..63; got 64",
        ),
        (
            lambda: Configuration(meta={"x": float("nan")}).to_json(),
            ValueError,
            r"configuration meta: .*must be strict JSON",
        ),
        (
            lambda: network_from_config(Configuration()),
            ValueError,
            r"the configuration holds no network",
        ),
        (
            lambda: network_from_config(
                _meta_edit(lambda m: m["layers"][0]["neurons"].__setitem__(0, 99_999))
            ),
            ValueError,
            r"layer 0 neuron 0 = 99999 is not a neuron of this configuration \(0..1023\)",
        ),
        (
            lambda: network_from_config(_meta_edit(lambda m: m.__setitem__("n_in", -1))),
            ValueError,
            r"n_in = -1 must be an integer >= 1",
        ),
        (
            lambda: network_from_config(
                _meta_edit(lambda m: m["layers"][0].__setitem__("dt", "fast"))
            ),
            ValueError,
            r"layer 0: dt = 'fast' must be a positive number",
        ),
        (
            lambda: fit(
                NET, np.zeros((4, 5, 3)), np.zeros(4, int), max_imem_loss(), validation=(1,)
            ),
            ValueError,
            r"fit: validation must be a pair \(x_val, y_val\)",
        ),
        (
            lambda: fit(NET, np.zeros((4, 5, 3)), np.zeros(4, int), max_imem_loss(), key=3),
            ValueError,
            r"fit: key = 3 must be a jax.random key",
        ),
        (
            lambda: evaluate(
                NET, np.zeros((4, 5, 3)), np.zeros(4, int), max_imem_loss(), batch_size=0
            ),
            ValueError,
            r"evaluate: batch_size = 0 must be an integer >= 1",
        ),
        (lambda: VirtualBoard(mismatch="0.2"), TypeError, r"mismatch = '0.2' must be a number"),
        (
            lambda: map_network(NET, positions=[(0,)]),
            ValueError,
            r"positions\[0\] = \(0,\) must be a grid position \(x, y\) of integers",
        ),
    ],
)
def test_bad_input_is_named(call, error, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=match):
        call()
    assert not list(tmp_path.iterdir())  # nothing was written
