"""The file error contract: every loader, for any content of an existing file, returns a
valid object or raises FileFormatError naming the file (never another exception type).
Random truncations, byte flips and insertions of valid files (hypothesis, bounded)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dynapse2 import DynapSim, FileFormatError, Linear, Sequential
from dynapse2.hardware.config import Configuration, InputRoute, OutputRoute, Parameter
from dynapse2.train import History, checkpoint

NET = Sequential(Linear((3, 4), key=jax.random.PRNGKey(0)), DynapSim(4))


def _config() -> Configuration:
    cfg = Configuration.reset(2)
    core = cfg.chips[1].cores[2]
    core.parameters["DEAM_ITAU_P"] = Parameter(3, 77, "P")
    core.syn_tag[5, :3] = [7, 8, 9]
    core.syn_dendrite[5, :3] = 1024
    core.syn_weight[5, :3] = [1, 5, 15]
    core.dest_core[9, 0], core.dest_tag[9, 0], core.dest_x_hop[9, 0] = 3, 100, -1
    return Configuration(
        cfg.chips,
        input_map={0: (InputRoute(1, 7),), 3: (InputRoute(0, 8, 5, 1, 0),)},
        output_map={0: OutputRoute(1, 2, 9, 100)},
        meta={"note": "fuzz", "n": [1, 2.5, None]},
    )


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("valid")
    _config().save(d / "cfg.json")
    checkpoint.save(d / "ck.npz", NET, None, History(loss=[1.0, 0.5]), epoch=3)
    return (d / "cfg.json").read_bytes(), (d / "ck.npz").read_bytes()


_edits = st.lists(
    st.tuples(
        st.sampled_from(["truncate", "flip", "insert", "delete"]),
        st.floats(0.0, 1.0),
        st.binary(min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=3,
)


def _mutate(data: bytes, edits) -> bytes:
    b = bytearray(data)
    for kind, where, blob in edits:
        i = int(where * max(len(b) - 1, 0))
        if kind == "truncate":
            del b[i:]
        elif kind == "flip" and b:
            b[i] ^= blob[0] or 1
        elif kind == "insert":
            b[i:i] = blob
        elif b:
            del b[i : i + len(blob)]
    return bytes(b)


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(_edits)
def test_a_damaged_configuration_loads_or_says_so(valid_files, tmp_path, edits):
    path = tmp_path / "cfg.json"
    path.write_bytes(_mutate(valid_files[0], edits))
    try:
        cfg = Configuration.load(path)
    except FileFormatError as e:
        assert str(e).startswith(str(path)) and e.path == str(path)
        return
    cfg.save(tmp_path / "again.json")  # what loads is valid and round-trips equal
    assert Configuration.load(tmp_path / "again.json") == cfg


@_SETTINGS
@given(_edits)
def test_a_damaged_checkpoint_loads_or_says_so(valid_files, tmp_path, edits):
    path = tmp_path / "ck.npz"
    path.write_bytes(_mutate(valid_files[1], edits))
    try:
        ck = checkpoint.load(path, like=NET)
    except FileFormatError as e:
        assert str(e).startswith(str(path))
        return
    assert isinstance(ck.epoch, int) and ck.epoch >= 0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty file"),
        (b"\x80\x81 not utf-8", "not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (b'{"format": "something else"}', "format = 'something else'"),
        (b"{", "not valid JSON"),
    ],
)
def test_configuration_file_errors(tmp_path, content, match):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=match) as e:
        Configuration.load(path)
    assert str(path) in str(e.value)


def test_checkpoint_file_errors(tmp_path, valid_files):
    path = tmp_path / "bad.npz"
    for content, match in (
        (b"", "truncated or corrupted"),
        (valid_files[1][: len(valid_files[1]) // 2], "truncated or corrupted"),
        (np.random.default_rng(0).bytes(4096), "truncated or corrupted|not a readable"),
    ):
        path.write_bytes(content)
        with pytest.raises(FileFormatError, match=match):
            checkpoint.load(path, like=NET)
    path.write_bytes(valid_files[1])
    wider = Sequential(Linear((3, 5), key=jax.random.PRNGKey(0)), DynapSim(5))
    with pytest.raises(FileFormatError, match="'net' network does not fit the structure"):
        checkpoint.load(path, like=wider)
