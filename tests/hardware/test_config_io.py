"""JSON round trip, compactness, strict reading and atomic files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hw_factories import random_configuration
from hypothesis import given, settings
from hypothesis import strategies as st

from dynapse2.hardware import config_io
from dynapse2.hardware.config import Configuration, Parameter


def _assert_same(a: Configuration, b: Configuration) -> None:
    """Field-by-field comparison (independent of ``__eq__``)."""
    assert len(a.chips) == len(b.chips)
    for ca, cb in zip(a.chips, b.chips, strict=True):
        assert ca.position == cb.position and ca.flags == cb.flags
        for attr in config_io.CHIP_PARAMETER_GROUPS:
            assert getattr(ca, attr) == getattr(cb, attr), attr
        for ka, kb in zip(ca.cores, cb.cores, strict=True):
            assert ka.parameters == kb.parameters
            assert (ka.monitored_neuron, ka.flags) == (kb.monitored_neuron, kb.flags)
            for f in config_io._ARRAY_FIELDS:
                np.testing.assert_array_equal(getattr(ka, f), getattr(kb, f), err_msg=f)
                assert getattr(ka, f).dtype == getattr(kb, f).dtype
    assert a.input_map == b.input_map and a.output_map == b.output_map and a.meta == b.meta


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_chips=st.integers(1, 3),
    density=st.sampled_from([0.0, 0.05, 1.0]),
)
def test_json_round_trip_random(seed, n_chips, density):
    cfg = random_configuration(seed, n_chips, density)
    back = Configuration.from_json(cfg.to_json())
    _assert_same(cfg, back)
    assert back == cfg


def test_reset_json_is_tiny_and_sparse_json_small():
    text = Configuration.reset(4).to_json()
    assert len(text) < 200
    assert Configuration.from_json(text) == Configuration.reset(4)
    cfg = Configuration()
    core = cfg.chips[0].cores[1]
    core.syn_tag[10, :20] = 7
    core.syn_dendrite[10, :20] = 1024
    core.set_parameter("SOIF_LEAK_N", 2, 40)
    text = cfg.to_json()
    assert len(text) < 600
    doc = json.loads(text)
    assert doc["chips"][0]["cores"]["1"]["parameters"] == {"SOIF_LEAK_N": [2, 40]}
    assert doc["chips"][0]["cores"]["1"]["synapses"]["index"] == list(range(640, 660))


def test_switchable_type_written_only_when_it_differs():
    cfg = Configuration()
    cfg.chips[0].shared_parameters01["NCCF_CAL_REFBIAS_V"] = Parameter(1, 2, "P")
    doc = json.loads(cfg.to_json())
    assert doc["chips"][0]["parameters"] == {
        "shared_parameters01": {"NCCF_CAL_REFBIAS_V": [1, 2, "P"]}
    }
    assert Configuration.from_json(cfg.to_json()) == cfg


def _doc_with_synapse(**cols):
    base = {
        "index": [5],
        "tag": [1],
        "dendrite": [1024],
        "weight": [1],
        "stp": [0],
        "precise_delay": [0],
        "mismatched_delay": [0],
    }
    base.update(cols)
    return json.dumps(
        {
            "format": config_io.FORMAT,
            "version": 1,
            "chips": [{"position": [0, 0], "cores": {"2": {"synapses": base}}}],
        }
    )


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("{", r"JSON: not valid JSON"),
        ('{"format": "x", "version": 1, "chips": []}', r"format = 'x'"),
        (json.dumps({"format": config_io.FORMAT, "version": 99, "chips": []}), r"version = 99"),
        (
            json.dumps({"format": config_io.FORMAT, "version": 1, "chips": [], "extra": 1}),
            r"unknown keys \['extra'\]",
        ),
        (
            _doc_with_synapse(tag=[70000]),
            r"neuron 0, entry 5: tag = 70000 is outside the allowed range 0\.\.2047",
        ),
        (
            _doc_with_synapse(dendrite=[3]),
            r"^chip 0, core 2, neuron 0, synapse 5: dendrite = 3 is outside one of",
        ),
        (
            _doc_with_synapse(tag=[2047]),
            r"^chip 0, core 2, neuron 0, synapse 5: tag = 2047 is reserved",
        ),
        (_doc_with_synapse(index=[16384]), r"indices must be distinct and in 0\.\.16383"),
        (_doc_with_synapse(weight=[1, 2]), r"expected 1 items, got 2"),
        (_doc_with_synapse(stp=[0.5]), r"stp: must hold integers"),
    ],
)
def test_from_json_rejects(text, pattern):
    with pytest.raises(ValueError, match=pattern):
        Configuration.from_json(text)


def test_parameter_out_of_range_in_json_is_rejected():
    doc = {
        "format": config_io.FORMAT,
        "version": 1,
        "chips": [{"position": [0, 0], "cores": {"3": {"parameters": {"SOIF_DC_P": [6, 0]}}}}],
    }
    with pytest.raises(
        ValueError,
        match=r"^chip 0, core 3: parameter SOIF_DC_P coarse = 6 is outside "
        r"the allowed range 0\.\.5",
    ):
        Configuration.from_json(json.dumps(doc))


def test_save_load_round_trip(tmp_path):
    cfg = random_configuration(11, 2, 0.2)
    path = tmp_path / "cfg.json"
    cfg.save(path)
    assert Configuration.load(path) == cfg
    assert os.listdir(tmp_path) == ["cfg.json"]


class _Explodes:
    """Not JSON-serialisable: the encoder fails when it reaches it (after other output)."""


def test_failed_save_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "cfg.json"
    old = random_configuration(1, 1, 0.1)
    old.save(path)
    before = path.read_bytes()
    new = random_configuration(2, 2, 1.0)
    new.meta["zzz"] = _Explodes()  # refused before anything is written
    with pytest.raises(ValueError, match="not JSON serializable; meta must be strict JSON"):
        config_io.save(new, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["cfg.json"]
    assert Configuration.load(path) == old


def test_failed_replace_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "cfg.json"
    Configuration.reset(1).save(path)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(config_io.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        random_configuration(5).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["cfg.json"]


def test_json_of_three_full_chips_is_fast():
    import time

    cfg = random_configuration(7, 3, 1.0)
    t0 = time.perf_counter()
    back = Configuration.from_json(cfg.to_json())
    assert back == cfg
    assert time.perf_counter() - t0 < 5.0
