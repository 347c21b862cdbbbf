"""The solver survives network_from_config (configuration metadata, JSON) and checkpoints."""

import json

import jax
import numpy as np
import pytest

from dynapse2 import FileFormatError
from dynapse2.hardware import Configuration, map_network, network_from_config
from dynapse2.hardware.network import META_KEY
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.solvers import Euler, ExponentialEuler
from dynapse2.train import History, load, save


def _net(solver):
    return Sequential(
        Linear((3, 4), has_bias=False, key=jax.random.PRNGKey(0)),
        DynapSim(4, has_rec=True, solver=solver),
    )


def test_network_from_config_keeps_the_solver_through_json(tmp_path):
    cfg = map_network(_net(ExponentialEuler())).config
    assert cfg.meta[META_KEY]["layers"][0]["solver"] == "exponential_euler"
    assert network_from_config(cfg).modules[1].solver == ExponentialEuler()
    cfg.save(tmp_path / "c.json")
    again = network_from_config(Configuration.load(tmp_path / "c.json"))
    assert again.modules[1].solver == ExponentialEuler()


def test_older_configurations_default_to_euler_and_bad_names_are_refused():
    # an older configuration: written before solvers, by the Euler-only mapper (a mapping
    # with ExponentialEuler may hold time constants under Euler's 10 dt, as that solver
    # accepts them, so it cannot stand in for an older file)
    cfg = map_network(_net(Euler())).config
    del cfg.meta[META_KEY]["layers"][0]["solver"]
    assert network_from_config(cfg).modules[1].solver == Euler()
    cfg.meta[META_KEY]["layers"][0]["solver"] = "rk4"
    with pytest.raises(ValueError, match=r"solver = 'rk4'; allowed values are \['euler'"):
        network_from_config(cfg)


def test_checkpoint_keeps_the_solver(tmp_path):
    net = _net(ExponentialEuler())
    save(tmp_path / "c.npz", net, (), History(), 1)
    back = load(tmp_path / "c.npz", like=_net(Euler()))
    assert back.net.modules[1].solver == ExponentialEuler()
    x = (np.random.default_rng(0).random((50, 3)) < 0.2).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(back.net(x)[0]), np.asarray(net(x)[0]))


def test_checkpoint_with_a_bad_solver_name_is_a_file_format_error(tmp_path):
    path = tmp_path / "c.npz"
    save(path, _net(Euler()), (), History(), 1)
    with np.load(path) as z:
        arrays = dict(z)
    meta = json.loads(arrays["meta"].tobytes())
    meta["solvers"] = ["rk4"]
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(FileFormatError, match="solver"):
        load(path, like=_net(Euler()))


def test_calibration_twins_keep_the_solver():
    from dynapse2.hardware.calibration import _subset, _tiled

    m = DynapSim(8, solver=ExponentialEuler(), Idc=3e-11)
    part = _subset(m, np.arange(4), {"Idc": 1e-11})
    assert part.solver == ExponentialEuler()
    assert _tiled([part, part]).solver == ExponentialEuler()
    assert _subset(DynapSim(8), np.arange(4)).solver == Euler()
