"""The argument contract of the public API, as one table: every public function and
constructor with a scalar option is called with a valid set of arguments in which one
option is replaced by a value of the wrong kind (a string, None, a float for an integer)
or out of its range (NaN, negative, zero, an unknown option). Each such call must raise
``TypeError`` or ``ValueError`` whose message names the function or class, the parameter
and the value, before any work (nothing is written)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest

from dynapse2 import DynapSim, Linear, Sequential, datasets, nir, nn, plot, train
from dynapse2 import hardware as hw
from dynapse2.checks import boolean, choice, integer, mismatch, number, path

KEY = jax.random.PRNGKey(0)
NET = Sequential(Linear((3, 4), key=KEY), DynapSim(4))
X, Y = np.zeros((4, 5, 3), np.float32), np.zeros(4, int)
OUT = np.zeros((2, 5, 4), np.float32)
RECORD = {"1_DynapSim": {"imem": np.full((2, 5, 4), 1e-9, np.float32)}}
CFG = hw.map_network(NET).config

# The bad values of each kind of option (valid ones stay in the base call).
BAD: dict[str, list[Any]] = {
    "positive": ["1", None, math.nan, -1.0, 0.0, [1.0]],
    "nonnegative": ["1", None, math.nan, -1.0],
    "fraction": ["0.5", None, math.nan, -0.5, 1.5],
    "number": ["1", None, math.nan],
    "optional_positive": ["1", math.nan, -1.0, 0.0],
    "optional_nonnegative": ["1", math.nan, -1.0],
    "integer": [1.5, "2", None, True],
    "string": [None, 3],
    "count": [1.5, "2", None, 0, True],  # an integer >= 1
    "index": [1.5, "2", None, -1],  # an integer >= 0
    "optional_count": [1.5, "2", 0],
    "bool": ["yes", None, 2],
    "choice": ["bogus", None, 3],
}


# Known gaps: (where, name) -> (reason, reprs of the bad values that are not refused yet),
# each an expected failure, strict, so that the test says when one is fixed. None now.
KNOWN_GAPS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}


def _case(where: str, fn: Callable[..., Any], base: dict[str, Any], **kinds: str) -> list:
    out = []
    for name, kind in kinds.items():
        reason, gaps = KNOWN_GAPS.get((where, name), ("", ()))
        for bad in BAD[kind]:
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if repr(bad) in gaps else []
            out.append(
                pytest.param(where, fn, base, name, bad, id=f"{where}-{name}={bad!r}", marks=marks)
            )
    return out


def _fit(**kw: Any) -> Any:
    return train.fit(NET, X, Y, train.max_imem_loss(), **kw)


def _board(**kw: Any) -> Any:
    return hw.DynapseBoard(CFG, hw.VirtualBoard(), **kw)


CASES = [
    # dynapse2, dynapse2.nn
    *_case(
        "DynapSim", DynapSim, {"n": 2},
        n="count", dt="positive", mismatch="nonnegative", surrogate_slope="optional_positive",
        backend="choice", synapse_model="choice", surrogate="choice", has_rec="bool",
        detach_feedback="bool", detach_reset="bool", positive_feedback="bool", C_mem="positive",
        Itau_mem="positive", Igain_ampa="positive", Iscale="positive",
    ),
    *_case("DynapSim.resample_mismatch", DynapSim(2).resample_mismatch, {"key": KEY},
           fraction="optional_nonnegative"),
    *_case("DynapSim.with_backend", DynapSim(2).with_backend, {"backend": "numpy"},
           backend="choice"),
    *_case("Linear", Linear, {"shape": (2, 3)}, has_bias="bool"),
    *_case(
        "evolve_chunked", nn.evolve_chunked, {"module": DynapSim(2), "x": np.zeros((4, 2))},
        chunk="optional_count", record="bool", keep="bool",
    ),
    *_case("neuron_mesh", nn.neuron_mesh, {}, batch="count"),
    *_case("neuron_sharding", nn.neuron_sharding, {"x": np.zeros((2, 4))}, n="count"),
    *_case("shard_neurons", nn.shard_neurons, {"x": np.zeros((2, 4))}, n="count"),
    # dynapse2.train
    *_case(
        "fit", _fit, {"epochs": 1, "batch_size": 2, "progress": False},
        epochs="index", batch_size="count", early_stopping="optional_count", progress="bool",
    ),
    *_case("Robustness", train.Robustness, {}, mismatch="fraction", weight_bound="positive"),
    *_case(
        "evaluate", train.evaluate,
        {"net": NET, "x": X, "y": Y, "loss": train.max_imem_loss()},
        batch_size="count", mismatch="nonnegative",
    ),
    *_case(
        "mismatch_spread", train.mismatch_spread,
        {"net": NET, "x": X, "y": Y, "loss": train.max_imem_loss(), "mismatch": 0.1, "draws": 2},
        mismatch="nonnegative", draws="count", batch_size="count",
    ),
    *_case("save", train.save, {"path": "ck.npz", "net": NET, "opt_state": None,
                                "history": train.History(), "epoch": 1}, epoch="index"),
    *_case("Spread", train.Spread, {"values": [0.5, 0.6]}, percent="bool"),
    *_case("with_mismatch", train.with_mismatch, {"net": NET, "key": KEY, "fraction": 0.1},
           fraction="nonnegative"),
    *_case("project", train.project, {"net": NET, "trainable": ["weight"]},
           weight_bound="positive"),
    *_case("current_bounds", train.current_bounds, {"m": DynapSim(2), "name": "Itau_mem"},
           name="choice"),
    *_case(
        "rate_baseline_accuracy", train.rate_baseline_accuracy,
        {"x_train": X, "y_train": Y, "x_test": X, "y_test": Y, "steps": 2},
        steps="count", lr="positive",
    ),
    *_case("max_imem_cross_entropy", train.max_imem_cross_entropy,
           {"output": None, "record": RECORD, "target": np.zeros(2, int)},
           ispkthr="positive", temperature="positive", pool="count"),
    *_case("spike_count_cross_entropy", train.spike_count_cross_entropy,
           {"output": OUT, "record": {}, "target": np.zeros(2, int)}, scale="positive"),
    *_case("max_imem_loss", train.max_imem_loss, {},
           pool="count", temperature="positive", ispkthr="positive"),
    *_case("spike_count_loss", train.spike_count_loss, {}, pool="count", scale="positive"),
    *_case("first_spike_loss", train.first_spike_loss, {},
           pool="count", tau_steps="positive", temperature="positive"),
    *_case("first_spike_logits", train.first_spike_logits, {"output": OUT},
           tau_steps="positive", pool="count"),
    *_case("spike_count_logits", train.spike_count_logits, {"output": OUT}, scale="positive"),
    *_case("max_imem_logits", train.max_imem_logits, {"record": RECORD},
           ispkthr="positive", pool="count"),
    *_case("predict_max_imem", train.predict_max_imem, {"output": OUT, "record": RECORD},
           pool="count"),
    *_case("rate_mse", train.rate_mse,
           {"output": OUT, "record": RECORD, "target": np.zeros((2, 4))}, dt="positive"),
    *_case("firing_rate_regulariser", train.firing_rate_regulariser,
           {"output": OUT, "record": RECORD}, dt="positive", low="nonnegative",
           high="positive"),
    # dynapse2.hardware
    # the records check types; their ranges are checked where they are used (naming the
    # chip, core or channel): see test_config.py
    *_case("Parameter", hw.Parameter, {}, coarse="integer", fine="integer", type="string"),
    *_case("InputRoute", hw.InputRoute, {"chip": 0, "tag": 1},
           chip="integer", tag="integer", core_mask="integer", x_hop="integer"),
    *_case("OutputRoute", hw.OutputRoute, {"chip": 0, "core": 0, "neuron": 0, "tag": 1},
           chip="integer", core="integer", neuron="integer", tag="integer"),
    *_case("Core", hw.Core, {}, monitored_neuron="index"),
    *_case("current", hw.current, {"name": "DEAM_ITAU_P", "coarse": 1, "fine": 1},
           name="choice"),
    *_case("current_range", hw.current_range, {"name": "DEAM_ITAU_P"}, name="choice"),
    *_case("quantize_current", hw.quantize_current, {"name": "DEAM_ITAU_P", "amps": 1e-9},
           name="choice"),
    *_case(
        "quantize_weights", hw.quantize_weights,
        {"w": np.ones((2, 2)), "core": np.zeros(2, int), "iscale": 1e-8},
        iscale="positive", max_fan_in="count", prune="bool", bias_quantize="bool",
    ),
    *_case(
        "quantize_parameters", hw.quantize_parameters,
        {"params": {"Itau_mem": np.full(2, 1e-12)}, "core": np.zeros(2, int)},
        reduce="choice", rtol="nonnegative",
    ),
    *_case("fake_quantize", hw.fake_quantize,
           {"w": np.ones((2, 2)), "base": np.ones((1, 4)), "core": np.zeros(2, int),
            "iscale": 1e-8}, iscale="positive"),
    *_case("default_positions", hw.default_positions, {"n_chips": 2}, n_chips="count"),
    *_case("map_network", hw.map_network, {"net": NET},
           reduce="choice", prune="bool", backend="choice"),
    *_case("network_from_config", hw.network_from_config, {"cfg": CFG},
           backend="choice", mismatch="nonnegative", dt="optional_positive"),
    *_case("config_from_network", hw.config_from_network, {"net": NET},
           reduce="choice", prune="bool"),
    *_case("quantize_network", hw.quantize_network, {"net": NET},
           reduce="choice", prune="bool", backend="choice"),
    *_case(
        "VirtualBoard", hw.VirtualBoard, {},
        n_chips="count", mismatch="nonnegative", seed="index", dt="optional_positive",
        max_input_rate="positive", max_output_rate="positive", backend="choice",
    ),
    *_case(
        "DynapseBoard", _board, {"dt": 1e-3, "n_in": 3},
        dt="positive", n_in="count", lead_s="optional_nonnegative",
        tail_s="optional_nonnegative", drain="bool", drain_s="nonnegative",
    ),
    *_case("to_hardware", hw.to_hardware, {"net": NET, "device": hw.VirtualBoard()},
           drain="bool"),
    *_case("calibrate", hw.calibrate, {"hw": hw.to_hardware(NET, hw.VirtualBoard())},
           duration="positive", iterations="index", prior="fraction"),
    *_case(
        "encode_input", hw.encode_input,
        {"raster": np.zeros((5, 3), int), "input_map": CFG.input_map, "dt_us": 1000},
        dt_us="count", t0_us="integer",
    ),
    *_case(
        "decode_output", hw.decode_output,
        {"events": np.zeros((0, 5), np.int64), "output_map": CFG.output_map, "n_steps": 5,
         "dt_us": 1000},
        n_steps="index", dt_us="count", t0_us="integer", use_chip="bool",
    ),
    # dynapse2.datasets
    *_case(
        "frozen_noise", datasets.frozen_noise,
        {"n_classes": 2, "n_channels": 3, "duration": 0.01, "dt": 1e-3, "rate": 10.0,
         "n_samples": 2, "key": 0},
        n_classes="count", n_channels="count", duration="positive", dt="positive",
        rate="nonnegative", n_samples="count", jitter="nonnegative", drop="fraction",
        add="nonnegative",
    ),
    *_case(
        "latency_encode", datasets.latency_encode, {"values": np.zeros((2, 2))},
        window="positive", dt="positive", duration="optional_positive", copies="count",
    ),
    *_case(
        "ordered_bursts", datasets.ordered_bursts, {"n_samples": 2, "key": 0},
        n_channels="count", duration="positive", dt="positive", spikes_per_burst="count",
        burst_duration="positive", gap="nonnegative",
    ),
    *_case(
        "train_test_split", datasets.train_test_split,
        {"x": np.zeros((4, 2)), "y": np.zeros(4), "test_size": 0.5, "key": 0},
        test_size="fraction",
    ),
    *_case("yin_yang", datasets.yin_yang, {"n_samples": 4, "key": 0},
           n_samples="count", r_small="positive", r_big="positive"),
    *_case("yin_yang_class", datasets.yin_yang_class, {"x": 0.5, "y": 0.5},
           r_small="positive", r_big="positive"),
    # dynapse2.plot
    *_case("raster", plot.raster, {"spikes": np.zeros((5, 2))}, dt="positive"),
    *_case("synapse_responses", plot.synapse_responses, {"responses": {"ampa": np.ones(5)}},
           dt="positive", log="bool"),
    *_case("traces", plot.traces, {"record": {"imem": np.ones((5, 2))}, "keys": ("imem",)},
           dt="positive", batch="index"),
    *_case("histograms", plot.histograms, {"values": {"a": np.ones(5)}}, bins="count"),
    *_case("placement", plot.placement, {"chip_of": np.zeros(4, int), "core_of": np.zeros(4, int)},
           n_chips="optional_count", cols="optional_count"),
    # dynapse2.nir
    *_case("dpi_currents", nir.dpi_currents, {"tau_mem": 0.02, "tau_syn": 0.005, "dt": 1e-3},
           dt="positive"),
    *_case("runaway_current", nir.runaway_current, {"itau_mem": 1e-12},
           io="positive", kappa="positive"),
    *_case("from_nir", nir.from_nir, {"graph_or_path": nir.to_nir(NET), "dt": 1e-3},
           dt="positive", report="bool", backend="choice", readout_range="positive"),
]  # fmt: skip


# The same options in the NumPy backend: refused the same way.
NUMPY_CASES = [
    *_case(
        "DynapSim", DynapSim, {"n": 2, "backend": "numpy"},
        n="count", dt="positive", mismatch="nonnegative", surrogate_slope="optional_positive",
        synapse_model="choice", surrogate="choice", has_rec="bool", detach_feedback="bool",
        detach_reset="bool", C_mem="positive", Itau_mem="positive",
    ),
    *_case("map_network", hw.map_network, {"net": NET, "backend": "numpy"},
           reduce="choice", prune="bool"),
    *_case("network_from_config", hw.network_from_config, {"cfg": CFG, "backend": "numpy"},
           mismatch="nonnegative", dt="optional_positive"),
    *_case("VirtualBoard", hw.VirtualBoard, {"backend": "numpy"}, mismatch="nonnegative"),
    *_case("from_nir", nir.from_nir,
           {"graph_or_path": nir.to_nir(NET), "dt": 1e-3, "backend": "numpy"},
           dt="positive", readout_range="positive"),
]  # fmt: skip


@pytest.mark.parametrize(("where", "fn", "base", "name", "bad"), CASES + NUMPY_CASES)
def test_a_bad_option_is_named(where, fn, base, name, bad, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises((TypeError, ValueError)) as e:
        fn(**{**base, name: bad})
    message = str(e.value)
    assert where.lower() in message.lower() and name in message and repr(bad) in message, message
    assert not list(tmp_path.iterdir())  # refused before any work


# Arguments of the wrong kind that are not scalar options: objects, paths, sequences.
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: Sequential(Linear((3, 4), key=jax.random.PRNGKey(0)), "x"),
            TypeError,
            r"Sequential: modules\[1\] = 'x' must be a dynapse2 Module",
        ),
        (
            lambda: Linear((3, "4")),
            TypeError,
            r"Linear: shape\[1\] \(n_out\) = '4' must be an integer",
        ),
        (
            lambda: Linear((3, 4), weight="w"),
            TypeError,
            r"Linear: weight must be an array of real numbers",
        ),
        (lambda: Linear((3, 4), key="k"), TypeError, r"Linear: key = 'k' must be a jax.random key"),
        (
            lambda: NET(np.zeros((5, 3)), record="yes"),
            TypeError,
            r"Sequential: record = 'yes' must be True or False",
        ),
        (lambda: hw.Configuration(meta=3), TypeError, r"Configuration: meta must be a mapping"),
        (
            lambda: hw.Configuration(chips=3),
            TypeError,
            r"Configuration: chips must be a sequence of Chip",
        ),
        (
            lambda: hw.Configuration.load(3),
            TypeError,
            r"Configuration.load: path = 3 must be a path",
        ),
        (
            lambda: hw.Configuration().save(3),
            TypeError,
            r"Configuration.save: path = 3 must be a path",
        ),
        (
            lambda: hw.Configuration.from_json(3),
            TypeError,
            r"Configuration.from_json: text must be str or bytes",
        ),
        (lambda: hw.load_samna_json(3), TypeError, r"load_samna_json: path = 3 must be a path"),
        (
            lambda: hw.save_samna_json("x", "x.json"),
            TypeError,
            r"save_samna_json: cfg must be a Configuration",
        ),
        (lambda: hw.from_samna_json(3), TypeError, r"from_samna_json: text must be str or bytes"),
        (
            lambda: hw.leaky_configuration(3),
            TypeError,
            r"leaky_configuration: cfg must be a Configuration",
        ),
        (lambda: hw.changes(CFG, 3), TypeError, r"changes: new must be a Configuration"),
        (
            lambda: hw.config_from_network(NET, reduse="mean"),
            TypeError,
            r"config_from_network: unknown keyword argument\(s\) \['reduse'\]",
        ),
        (lambda: hw.calibrate(None), TypeError, r"calibrate: hw = None must be the DynapseBoard"),
        (
            lambda: hw.DynapseBoard(None, None, 1e-3, 3),
            TypeError,
            r"DynapseBoard: config must be a Configuration",
        ),
        (lambda: train.load(3, NET), TypeError, r"load: path = 3 must be a path"),
        (lambda: train.load("ck.npz", None), TypeError, r"load: like must be a network"),
        (
            lambda: train.save(3, NET, None, train.History(), 1),
            TypeError,
            r"save: path = 3 must be a path",
        ),
        (
            lambda: train.History(best_epoch="x"),
            TypeError,
            r"History: best_epoch = 'x' must be an integer",
        ),
        (
            lambda: train.History(loss="x"),
            TypeError,
            r"History: loss = 'x' must be a list of numbers",
        ),
        (
            lambda: nir.from_nir(3, dt=1e-3),
            TypeError,
            r"from_nir: graph_or_path must be a nir.NIRGraph or a path",
        ),
        (
            lambda: train.current_bounds(Linear((2, 2), key=jax.random.PRNGKey(0)), "Itau_mem"),
            TypeError,
            r"current_bounds: m must be a DynapSim",
        ),
        # losses: a loss callable, a weight a real number, arrays where arrays belong
        (
            lambda: train.weighted_sum((train.rate_mse, "1")),
            TypeError,
            r"weighted_sum: terms\[0\] weight = '1' must be a number, got str",
        ),
        (
            lambda: train.weighted_sum(("loss", 1.0)),
            TypeError,
            r"weighted_sum: terms\[0\] loss = 'loss' must be a callable",
        ),
        (
            lambda: train.weighted_sum(train.rate_mse),
            TypeError,
            r"weighted_sum: terms\[0\] = .* must be a \(loss, weight\) pair",
        ),
        (
            lambda: train.firing_rate_regulariser(OUT, {}, low=200.0, high=100.0),
            ValueError,
            r"firing_rate_regulariser: low = 200.0 must be <= high = 100.0",
        ),
        (
            lambda: train.output_imem(OUT),
            TypeError,
            r"output_imem: record must be a dict of state traces",
        ),
        (
            lambda: train.accuracy(OUT, {}, np.zeros(2), predict=3),
            TypeError,
            r"accuracy: predict = 3 must be a callable",
        ),
        (
            lambda: train.accuracy(OUT, {}, np.zeros(3)),
            ValueError,
            r"accuracy: target has shape \(3,\); the predicted classes have shape \(2,\)",
        ),
        (
            lambda: train.spike_count_logits([[1.0]]),
            TypeError,
            r"spike_count_logits: output must be an array of spikes",
        ),
        (
            lambda: train.rate_mse(np.zeros(4), {}, np.zeros(4)),
            ValueError,
            r"rate_mse: output has shape \(4,\); expected \(batch, T, n\)",
        ),
        (
            lambda: train.group_mean("x", [0]),
            TypeError,
            r"group_mean: values must be an array \(n,\) of real numbers, got str",
        ),
        (
            lambda: train.group_mean(np.ones(3), [0, 1]),
            ValueError,
            r"group_mean: groups has shape \(2,\); expected \(3,\)",
        ),
        (
            lambda: train.group_mean(np.ones(2), [0.5, 1.0]),
            TypeError,
            r"group_mean: groups must be a sequence of ints",
        ),
        (
            lambda: train.Spread([0.5, "a"]),
            TypeError,
            r"Spread: values\[1\] = 'a' must be a number",
        ),
        (lambda: train.Spread(0.5), TypeError, r"Spread: values = 0.5 must be a sequence"),
        (
            lambda: train.mismatch_spread(NET, X, Y, None, mismatch=0.1, key=None),
            TypeError,
            r"mismatch_spread: key = None must be an int seed or a jax.random key",
        ),
        # parallel
        (lambda: nn.batch_mesh(3), TypeError, r"batch_mesh: devices = 3 must be a sequence"),
        (lambda: nn.batch_mesh([]), ValueError, r"batch_mesh: devices is empty"),
        (
            lambda: nn.batch_mesh(["cpu"]),
            TypeError,
            r"batch_mesh: devices\[0\] = 'cpu' must be a jax device",
        ),
        (lambda: nn.batch_mesh(axis=0), TypeError, r"batch_mesh: axis = 0 must be a mesh axis"),
        (lambda: nn.shard_batch("x"), TypeError, r"shard_batch: x must be an array"),
        (lambda: nn.shard_batch(1.0), ValueError, r"shard_batch: x is a scalar"),
        (
            lambda: nn.shard_batch(X, mesh="m"),
            TypeError,
            r"shard_batch: mesh = 'm' must be a jax.sharding.Mesh",
        ),
        (
            lambda: nn.shard_batch(X, axis="neuron"),
            ValueError,
            r"shard_batch: axis = 'neuron' is not an axis of the mesh",
        ),
        # samna: the kind is checked before samna is imported (it may be missing)
        (lambda: hw.to_samna(3), TypeError, r"to_samna: cfg must be a Configuration, got int"),
        (lambda: hw.to_samna(CFG, changed=3), TypeError, r"to_samna: changed must be a Changes"),
        (lambda: hw.to_samna(CFG, base=CFG), TypeError, r"to_samna: base must be a samna"),
        (lambda: hw.from_samna(3), TypeError, r"from_samna: obj must be a samna"),
        (lambda: hw.from_samna(CFG), TypeError, r"from_samna: obj is already a dynapse2"),
        (lambda: hw.open_device(3), TypeError, r"open_device: cfg must be a Configuration"),
        (
            lambda: hw.open_device(bitfile=3),
            TypeError,
            r"open_device: bitfile = 3 must be a path",
        ),
        # quantization-aware training: kinds and shapes (static under jit), host core ids
        (
            lambda: hw.fake_quantize_levels("w", np.ones((1, 16)), np.zeros(2, int)),
            TypeError,
            r"fake_quantize_levels: w must be an array of floating-point weights, got str",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones((2, 2)), np.ones((1, 16)), np.zeros(3, int)),
            ValueError,
            r"fake_quantize_levels: core has shape \(3,\); expected \(2,\)",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones((2, 2)), np.ones((1, 16)), np.zeros(2)),
            TypeError,
            r"fake_quantize_levels: core must be an array of integer core ids, got ndarray",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones((2, 2)), np.ones((1, 4)), np.zeros(2, int)),
            ValueError,
            r"fake_quantize_levels: levels has shape \(1, 4\); expected \(n_cores, 16\)",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones((2, 2)), "lv", np.zeros(2, int)),
            TypeError,
            r"fake_quantize_levels: levels must be an array of real numbers, got str",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones((2, 2)), np.ones((1, 16)), [0, 1]),
            ValueError,
            r"fake_quantize_levels: core\[1\] = 1 is not a row of levels \(0..0\)",
        ),
        (
            lambda: hw.fake_quantize_levels(np.ones(2), np.ones((1, 16)), np.zeros(2, int)),
            ValueError,
            r"fake_quantize_levels: w has shape \(2,\); expected \(n_pre, n_post\)",
        ),
        (
            lambda: hw.fake_quantize(np.ones((2, 2)), np.ones((1, 3)), np.zeros(2, int), 1e-8),
            ValueError,
            r"fake_quantize: base has shape \(1, 3\); expected \(n_cores, 4\)",
        ),
        # DynapSim: arguments that are not scalar options
        (
            lambda: DynapSim(2, solver="rk4"),
            ValueError,
            r"DynapSim: solver = 'rk4'; allowed values are",
        ),
        (
            lambda: DynapSim(2, key="k"),
            TypeError,
            r"DynapSim: key = 'k' must be a jax.random key",
        ),
        (
            lambda: DynapSim(2, groups=[0.5, 1.5]),
            TypeError,
            r"DynapSim: groups = \[0.5, 1.5\] must be 2 non-negative integers",
        ),
        (
            lambda: DynapSim(2, groups="ab"),
            TypeError,
            r"DynapSim: groups = 'ab' must be 2 non-negative integers",
        ),
        (
            lambda: DynapSim(2, has_rec=True, w_rec="w"),
            TypeError,
            r"DynapSim: w_rec = 'w' must be an array of real numbers",
        ),
        (
            lambda: DynapSim(2, Itau_mem=np.array(["1", "2"])),
            TypeError,
            r"DynapSim: Itau_mem = array\(\['1', '2'\].* must be a number or an array \(2,\)",
        ),
        (
            lambda: DynapSim(2, Itau_mem=[1e-12, None]),
            TypeError,
            r"DynapSim: Itau_mem = \[1e-12, None\] must be a number or an array \(2,\)",
        ),
        (
            lambda: DynapSim(2).resample_mismatch("k", 0.1),
            TypeError,
            r"DynapSim.resample_mismatch: key = 'k' must be a jax.random key",
        ),
        (
            lambda: DynapSim(2).with_solver(3),
            ValueError,
            r"DynapSim.with_solver: solver = 3; allowed values are",
        ),
        # plot
        (
            lambda: plot.training_history([1.0]),
            TypeError,
            r"training_history: history must be a dynapse2.train.History or a dict",
        ),
        (
            lambda: plot.training_history({"loss": ["a"]}),
            TypeError,
            r"training_history: history\['loss'\] must be an array of real numbers",
        ),
        (
            lambda: plot.training_history({"loss": [[1.0, 2.0]]}),
            ValueError,
            r"training_history: history\['loss'\] has shape \(1, 2\)",
        ),
        (
            lambda: plot.weight_quantization("w", np.ones((2, 2))),
            TypeError,
            r"weight_quantization: w must be an array of real numbers, got str",
        ),
        (
            lambda: plot.weight_quantization(np.ones((2, 2)), np.ones((2, 2)), core=[0, -1]),
            ValueError,
            r"weight_quantization: core must hold integer core ids >= 0",
        ),
        (lambda: plot.bias_table(3), TypeError, r"bias_table: table must be an iterable of rows"),
        (
            lambda: plot.bias_table([{"name": "X", "current": "1e-9"}]),
            TypeError,
            r"bias_table: rows\[0\].current = '1e-9' must be a number",
        ),
        (
            lambda: plot.fi_curve(None, [1.0]),
            TypeError,
            r"fi_curve: currents must be an array of real numbers, got NoneType",
        ),
        (
            lambda: plot.fi_curve([1.0], [[1.0, "a"]]),
            TypeError,
            r"fi_curve: rates must be an array of real numbers",
        ),
    ],
)
def test_a_wrong_kind_of_argument_is_named(call, error, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=match):
        call()
    assert not list(tmp_path.iterdir())


# --- the helpers themselves ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("check", "value", "error", "match"),
    [
        (
            lambda v: number("f", "dt", v, lo=0, lo_open=True),
            "1e-3",
            TypeError,
            r"^f: dt = '1e-3' must be a number, got str$",
        ),
        (
            lambda v: number("f", "dt", v, lo=0, lo_open=True),
            0.0,
            ValueError,
            r"^f: dt = 0.0 must be a finite number > 0$",
        ),
        (
            lambda v: number("f", "p", v, lo=0, hi=1),
            1.5,
            ValueError,
            r"^f: p = 1.5 must be in \[0, 1\]$",
        ),
        (
            lambda v: number("f", "p", v, lo=0, hi=1, hi_open=True),
            1.0,
            ValueError,
            r"must be in \[0, 1\)$",
        ),
        (lambda v: number("f", "x", v), math.inf, ValueError, r"x = inf must be a finite number$"),
        (
            lambda v: number("f", "x", v),
            np.array([1.0]),
            TypeError,
            r"must be a number, got ndarray",
        ),
        (lambda v: number("f", "x", v), True, TypeError, r"x = True must be a number, got bool"),
        (
            lambda v: integer("f", "n", v, lo=1),
            2.0,
            TypeError,
            r"n = 2.0 must be an integer, got float",
        ),
        (
            lambda v: integer("f", "n", v, lo=1),
            0,
            ValueError,
            r"^f: n = 0 must be an integer >= 1$",
        ),
        (
            lambda v: integer("f", "n", v, lo=0, hi=7),
            8,
            ValueError,
            r"n = 8 must be an integer in 0..7",
        ),
        (lambda v: boolean("f", "b", v), 1, TypeError, r"b = 1 must be True or False, got int"),
        (
            lambda v: choice("f", "c", v, ("a", "b")),
            "z",
            ValueError,
            r"c = 'z' must be one of \['a', 'b'\]",
        ),
        (
            lambda v: choice("f", "c", v, ("a", "b")),
            ["a"],
            ValueError,
            r"c = \['a'\] must be one of",
        ),
        (
            lambda v: path("f", "path", v),
            3,
            TypeError,
            r"path = 3 must be a path \(str or os.PathLike\)",
        ),
        (
            lambda v: mismatch("f", "mismatch", v),
            1.0,
            ValueError,
            r"^f: mismatch = 1.0 must be in \[0, 1\)$",
        ),
        (
            lambda v: mismatch("f", "mismatch", v),
            -0.1,
            ValueError,
            r"^f: mismatch = -0.1 must be in \[0, 1\)$",
        ),
        (
            lambda v: mismatch("f", "m", v, zero=False),
            0.0,
            ValueError,
            r"^f: m = 0.0 must be in \(0, 1\)$",
        ),
        (
            lambda v: mismatch("f", "mismatch", v),
            "0.1",
            TypeError,
            r"^f: mismatch = '0.1' must be a number, got str$",
        ),
    ],
)
def test_check_helpers_refuse(check, value, error, match):
    with pytest.raises(error, match=match):
        check(value)


def test_check_helpers_accept_and_convert():
    assert number("f", "x", np.float32(0.5), lo=0, hi=1) == 0.5
    assert type(number("f", "x", 2)) is float
    assert integer("f", "n", np.int64(3), lo=1) == 3 and type(integer("f", "n", np.int64(3))) is int
    assert boolean("f", "b", np.bool_(True)) is True
    assert choice("f", "c", "a", ("a",)) == "a"
    assert mismatch("f", "m", 0) == 0.0 and type(mismatch("f", "m", np.float32(0.25))) is float
    assert mismatch("f", "m", 0.999, zero=False) == 0.999
