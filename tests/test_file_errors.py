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


def _paths(node, prefix=()):
    """Every (path, value) of a JSON document."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


_VALUES = st.sampled_from(
    ["x", -1, 0, 1, 2**40, -(2**40), 1.5, float("nan"), float("inf"), None, True, [], {},
     [1, 2, 3], {"k": 1}, "2047", 2047, 4096, -8, 8]
)  # fmt: skip


@_SETTINGS
@given(st.data())
def test_every_field_of_a_configuration_file_is_checked(valid_files, tmp_path, data):
    """Replace, delete or add one field anywhere in a valid configuration's JSON (metadata
    included): it loads and round-trips equal, or raises FileFormatError."""
    import json

    doc = json.loads(valid_files[0])
    paths = [p for p, _ in _paths(doc) if p]
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for k in path[:-1]:
        parent = parent[k]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = data.draw(_VALUES)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent["unexpected"] = data.draw(_VALUES)
    else:
        parent.append(data.draw(_VALUES))
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps(doc))  # NaN/inf written as Python's json writes them
    try:
        cfg = Configuration.load(f)
    except FileFormatError as e:
        assert str(e).startswith(str(f))
        return
    cfg.save(tmp_path / "again.json")
    assert Configuration.load(tmp_path / "again.json") == cfg


# The long profile (pytest -m slow): the same properties, 2000 examples each.
_LONG = settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.slow
@_LONG
@given(_edits)
def test_a_damaged_configuration_long(valid_files, tmp_path, edits):
    test_a_damaged_configuration_loads_or_says_so.hypothesis.inner_test(
        valid_files, tmp_path, edits
    )


@pytest.mark.slow
@_LONG
@given(_edits)
def test_a_damaged_checkpoint_long(valid_files, tmp_path, edits):
    test_a_damaged_checkpoint_loads_or_says_so.hypothesis.inner_test(valid_files, tmp_path, edits)


@pytest.mark.slow
@_LONG
@given(st.data())
def test_every_field_of_a_configuration_file_long(valid_files, tmp_path, data):
    test_every_field_of_a_configuration_file_is_checked.hypothesis.inner_test(
        valid_files, tmp_path, data
    )
