"""Every DynapSim setting (``DynapSim.settings()``: the static fields the leaves do not carry)
survives a checkpoint and ``network_from_config(map_network(net).config)`` through JSON.
Parametrised over the settings themselves: a setting added later without a case here, or
without persistence, fails."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from dynapse2.errors import FileFormatError
from dynapse2.hardware import Configuration, map_network, network_from_config
from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.nn.dynapsim import SETTINGS
from dynapse2.nn.plan import PlanOptions
from dynapse2.physics import constants as K
from dynapse2.solvers import ExponentialEuler
from dynapse2.train import History, load, save

KEY = jax.random.PRNGKey(3)
N = 4
_W_REC = np.zeros((N, N, 4))
_W_REC[..., 0] = 2.0 * (1 - np.eye(N))  # AMPA: types (0,), NMDA added below for rec_types

# A value other than the default for each setting, as DynapSim's keyword arguments.
NON_DEFAULT: dict[str, dict] = {
    "dt": {"dt": 5e-4},
    "capacitances": {"C_mem": 2 * K.CAPACITANCES["C_mem"]},
    "Iscale": {"Iscale": 2 * K.ISCALE},
    "Ut": {"Ut": 0.027},
    "kappa_n": {"kappa_n": 0.7},
    "kappa_p": {"kappa_p": 0.62},
    "Io": {"Io": 2 * K.IO},
    "Vth": {"Vth": 1.2 * K.VTH},
    "mismatch": {"mismatch": 0.1, "key": KEY},
    "rec_types": {"w_rec": _W_REC + np.eye(4)[1] * (1 - np.eye(N))[..., None]},  # AMPA + NMDA
    "groups": {"groups": (0, 0, 1, 1)},
    "synapse_model": {"synapse_model": "full"},
    "detach_feedback": {"detach_feedback": False},
    "detach_reset": {"detach_reset": False},
    "surrogate": {"surrogate": "linear"},
    "surrogate_slope": {"surrogate_slope": 3.0},
    "positive_feedback": {"positive_feedback": False},
    "solver": {"solver": ExponentialEuler()},
    "backend": {"backend": "numpy"},
    "plan_options": {"plan_options": PlanOptions("rows", "traced", "plain")},
}
# Settings that network_from_config takes as arguments instead of reading them.
NOT_IN_A_CONFIGURATION = {
    "mismatch": "a property of the silicon: network_from_config(cfg, mismatch=, key=)",
    "backend": "how to simulate, not what: network_from_config(cfg, backend=)",
}


def _net(**kw) -> Sequential:
    pop = {"w_rec": _W_REC, **kw}
    return Sequential(Linear((3, N), weight=np.full((3, N), 2.0)), DynapSim(N, has_rec=True, **pop))


def test_every_setting_has_a_case():
    assert set(NON_DEFAULT) == set(SETTINGS), "add a non-default value (and persist it)"
    assert set(DynapSim(1).settings()) == set(SETTINGS)


@pytest.mark.parametrize("name", SETTINGS)
def test_a_setting_survives_a_checkpoint(name, tmp_path):
    net = _net(**NON_DEFAULT[name])
    like = _net(mismatch=0.2, key=KEY) if name == "mismatch" else _net()
    assert getattr(net[1], name) != getattr(like[1], name)  # the case is not the default
    save(tmp_path / "c.npz", net, (), History(), 1)
    back = load(tmp_path / "c.npz", like=like).net[1]
    assert back.settings() == net[1].settings()
    assert type(getattr(back, name)) is type(getattr(net[1], name))
    if name == "mismatch":  # the stored draw, not like's
        for k, v in net[1].mismatch_factors.items():
            np.testing.assert_array_equal(back.mismatch_factors[k], v)


@pytest.mark.parametrize("name", [s for s in SETTINGS if s not in NOT_IN_A_CONFIGURATION])
def test_a_setting_survives_the_configuration(name, tmp_path):
    net = _net(**NON_DEFAULT[name])
    assert getattr(net[1], name) != getattr(_net()[1], name)
    cfg = map_network(net).config
    cfg.save(tmp_path / "c.json")
    for c in (cfg, Configuration.load(tmp_path / "c.json")):
        back = network_from_config(c)[1]
        assert getattr(back, name) == getattr(net[1], name)
        assert type(getattr(back, name)) is type(getattr(net[1], name))


def test_the_configuration_exemptions_are_arguments():
    cfg = map_network(_net(**NON_DEFAULT["mismatch"])).config
    assert network_from_config(cfg)[1].mismatch == 0.0
    assert network_from_config(cfg, mismatch=0.1, key=KEY)[1].mismatch == 0.1
    assert network_from_config(cfg, backend="numpy")[1].backend == "numpy"


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"dt": -1.0}, r"DynapSim.with_settings: dt = -1.0 must be"),
        ({"surrogate": "tanh"}, r"surrogate = 'tanh' must be one of \['log', 'linear'\]"),
        ({"rec_types": [2, 0]}, r"rec_types = \[2, 0\] must be increasing synapse types"),
        ({"capacitances": {"C_mem": 1e-12}}, r"capacitances = .* must map \["),
        ({"bogus": 1}, r"unknown setting\(s\) \['bogus'\]"),
        ({"dt": 0.1}, r"must be at least"),  # the time-constant limit on the result
    ],
)
def test_with_settings_checks_as_the_constructor_does(settings, match):
    with pytest.raises((TypeError, ValueError), match=match):
        DynapSim(2).with_settings(**settings)


@pytest.mark.parametrize(
    "options",
    [
        PlanOptions(recurrence="rows", weights="traced", scan="plain"),
        PlanOptions(recurrence="matmul"),
        PlanOptions(weights="constant"),
        PlanOptions(scan="plain"),
    ],
)
def test_plan_options_survive_value_by_value(options, tmp_path):
    net = _net(plan_options=options)
    save(tmp_path / "c.npz", net, (), History(), 1)
    cfg = map_network(net).config
    cfg.save(tmp_path / "c.json")
    backs = [
        load(tmp_path / "c.npz", like=_net()).net[1],
        network_from_config(cfg)[1],
        network_from_config(Configuration.load(tmp_path / "c.json"))[1],
    ]
    for back in backs:
        assert type(back.plan_options) is PlanOptions
        for field in ("recurrence", "weights", "scan"):
            assert getattr(back.plan_options, field) == getattr(options, field)


def test_plan_options_stored_form():
    options = PlanOptions(recurrence="fanout", weights="constant", scan="plain")
    assert options.to_dict() == {"recurrence": "fanout", "weights": "constant", "scan": "plain"}
    assert PlanOptions.from_dict(options.to_dict()) == options
    assert PlanOptions.from_dict({}) == PlanOptions()  # each key optional: its default


@pytest.mark.parametrize(
    ("stored", "match"),
    [
        ("rows", r"plan_options = 'rows' must be .*an object with the keys \['recurrence', "),
        ({"recurence": "rows"}, r"plan_options = \{'recurence': 'rows'\} must be an object"),
        (
            {"recurrence": "dense"},
            r"plan_options\['recurrence'\] = 'dense' must be one of \['auto', 'matmul', ",
        ),
        ({"scan": 3}, r"plan_options\['scan'\] = 3 must be one of \['custom_grad', 'plain'\]"),
    ],
)
def test_a_bad_stored_plan_options_is_refused(stored, match, tmp_path):
    with pytest.raises((TypeError, ValueError), match="DynapSim.with_settings: " + match):
        DynapSim(2).with_settings(plan_options=stored)
    # a checkpoint whose stored plan_options is bad: a FileFormatError naming the field
    path = tmp_path / "c.npz"
    save(path, _net(), (), History(), 1)
    with np.load(path) as z:
        arrays = dict(z)
    meta = json.loads(arrays["meta"].tobytes())
    meta["settings"][0]["plan_options"] = stored
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(FileFormatError, match=r"field 'settings': DynapSim.with_settings: "):
        load(path, like=_net())
    with pytest.raises(FileFormatError, match=match):
        load(path, like=_net())
    # a configuration whose stored plan_options is bad: refused on reading, naming the layer
    cfg = map_network(_net()).config
    cfg.meta["dynapse2"]["layers"][0]["plan_options"] = stored
    with pytest.raises(ValueError, match=r"configuration meta 'dynapse2': layer 0: " + match):
        network_from_config(cfg)
