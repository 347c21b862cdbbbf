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
        (b"", "empty file"),
        (b"PK", "truncated or corrupted"),
        (valid_files[1][: len(valid_files[1]) // 2], "truncated or corrupted"),
        (np.random.default_rng(0).bytes(4096), "not a dynapse2 checkpoint"),
    ):
        path.write_bytes(content)
        with pytest.raises(FileFormatError, match=match):
            checkpoint.load(path, like=NET)


def test_a_file_of_pickled_objects_is_refused_without_advice_to_unpickle(tmp_path):
    # numpy refuses object arrays with a message that suggests allow_pickle=True: the one
    # unsafe thing to do with a file of unknown origin. The loader must not pass it on.
    npy, npz = tmp_path / "obj.npy", tmp_path / "obj.npz"
    np.save(npy, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.savez(npz, meta=np.array([{"a": 1}], dtype=object), net=np.zeros(3))
    for path, match in ((npy, "not a dynapse2 checkpoint"), (npz, "Python objects")):
        with pytest.raises(FileFormatError, match=match) as info:
            checkpoint.load(path, like=NET)
        assert "allow_pickle" not in str(info.value) and str(path) in str(info.value)


_K = jax.random.PRNGKey(0)
_SAVED = Sequential(
    Linear((3, 60), key=_K), DynapSim(60, has_rec=True, key=_K), Linear((60, 2), key=_K),
    DynapSim(2),
)  # fmt: skip


@pytest.mark.parametrize(
    ("like", "says"),
    [
        (
            Sequential(Linear((3, 60), key=_K), DynapSim(60), Linear((60, 2), key=_K), DynapSim(2)),
            ["layer 1 has `w_rec` in the file but not in `like`"],
        ),
        (
            Sequential(
                Linear((3, 12), key=_K), DynapSim(12, has_rec=True), Linear((12, 2), key=_K),
                DynapSim(2),
            ),
            ["layer 0 (Linear): shape (3, 60) in the file, (3, 12) in `like`",
             "layer 1 (DynapSim): width 60 in the file, 12 in `like`",
             "layer 2 (Linear): shape (60, 2) in the file, (12, 2) in `like`"],
        ),
        (
            Sequential(
                Linear((3, 60), key=_K), DynapSim(60, has_rec=True, mismatch=0.1, key=_K),
                Linear((60, 2), key=_K), DynapSim(2),
            ),
            ["layer 1 has `mismatch_factors` in `like` but not in the file"],
        ),
        (
            Sequential(Linear((3, 60), key=_K), DynapSim(60)),
            ["the file has 4 layers, `like` has 2"],
        ),
        (
            Sequential(DynapSim(3), Linear((3, 60), key=_K), DynapSim(60, has_rec=True),
                       Linear((60, 2), key=_K)),
            ["layer 0 is a Linear in the file, a DynapSim in `like`"],
        ),
    ],
)  # fmt: skip
def test_a_checkpoint_of_another_structure_says_what_differs(tmp_path, like, says):
    path = tmp_path / "ck.npz"
    checkpoint.save(path, _SAVED, None, History(), epoch=1)
    with pytest.raises(FileFormatError) as e:
        checkpoint.load(path, like=like)
    assert str(e.value).startswith(f"{path}: the network in the file has another structure")
    for words in says:
        assert words in str(e.value)
    assert checkpoint.load(path, like=_SAVED).epoch == 1  # the right `like` loads


def _rewrite_meta(path, edit) -> None:
    """Rewrite a checkpoint's metadata JSON with ``edit`` applied (as a damaged or older
    file would hold it)."""
    import json

    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes())
    edit(meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_an_older_checkpoint_without_structure_still_says_it_does_not_fit(tmp_path):
    path = tmp_path / "ck.npz"
    checkpoint.save(path, NET, None, History(), epoch=1)
    _rewrite_meta(path, lambda m: m.pop("structure"))
    assert checkpoint.load(path, like=NET).epoch == 1
    wider = Sequential(Linear((3, 5), key=_K), DynapSim(5))
    with pytest.raises(FileFormatError, match="'net' network does not fit the structure"):
        checkpoint.load(path, like=wider)


_META_VALUES = st.sampled_from(
    ["x", -1, 0, 1, 2**70, 1.5, float("nan"), None, True, [], {}, [1, 2], {"k": 1},
     [[3], "float32"], {"type": "Linear", "shape": [3, 4], "leaves": {}}]
)  # fmt: skip


@_SETTINGS
@given(st.data())
def test_every_field_of_a_checkpoints_metadata_is_checked(tmp_path, data):
    """Replace, delete or add one field anywhere in a checkpoint's metadata JSON (structure
    and history included): it loads or raises FileFormatError naming the file."""
    path = tmp_path / "ck.npz"
    checkpoint.save(path, NET, None, History(loss=[1.0, 0.5]), epoch=3, key=_K)

    _rewrite_meta(path, lambda meta: _edit_one_field(meta, data, _META_VALUES))
    try:
        ck = checkpoint.load(path, like=NET)
    except FileFormatError as e:
        assert str(e).startswith(str(path))
        return
    assert isinstance(ck.epoch, int) and ck.epoch >= 0


def _edit_one_field(doc, data, values) -> None:
    """Replace, delete or add (drawn from ``values``) one field anywhere in the JSON
    document ``doc``, in place."""
    where = data.draw(st.sampled_from([p for p, _ in _paths(doc) if p]))
    parent = doc
    for k in where[:-1]:
        parent = parent[k]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[where[-1]] = data.draw(values)
    elif action == "delete":
        del parent[where[-1]]
    elif isinstance(parent, dict):
        parent["unexpected"] = data.draw(values)
    else:
        parent.append(data.draw(values))


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
    _edit_one_field(doc, data, _VALUES)
    f = tmp_path / "cfg.json"
    f.write_text(json.dumps(doc))  # NaN/inf written as Python's json writes them
    try:
        cfg = Configuration.load(f)
    except FileFormatError as e:
        assert str(e).startswith(str(f))
        return
    cfg.save(tmp_path / "again.json")
    assert Configuration.load(tmp_path / "again.json") == cfg


@pytest.fixture(scope="module")
def nir_file(tmp_path_factory):
    nir = pytest.importorskip("nir")
    from dynapse2.nir import to_nir

    path = tmp_path_factory.mktemp("nir") / "net.nir"
    nir.write(path, to_nir(NET))
    return path.read_bytes()


@_SETTINGS
@given(_edits)
def test_a_damaged_nir_file_imports_or_says_so(nir_file, tmp_path, edits):
    from dynapse2.nir import from_nir

    path = tmp_path / "net.nir"
    path.write_bytes(_mutate(nir_file, edits))
    try:
        net = from_nir(path, dt=1e-3)
    except FileFormatError as e:
        assert str(e).startswith(str(path)) and e.path == str(path)
        return
    assert isinstance(net, Sequential)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not a readable NIR file"),
        (b"\x89HDF\r\n\x1a\n" + bytes(100), "not a readable NIR file"),
        (b'{"format": "dynapse2.configuration"}', "not a readable NIR file"),
    ],
)
def test_nir_file_errors(tmp_path, nir_file, content, match):
    from dynapse2.nir import from_nir

    path = tmp_path / "bad.nir"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=match) as e:
        from_nir(path, dt=1e-3)
    assert e.value.path == str(path)
    path.write_bytes(nir_file[: len(nir_file) // 2])
    with pytest.raises(FileFormatError, match="truncated"):
        from_nir(str(path), dt=1e-3)
    with pytest.raises(FileNotFoundError):
        from_nir(tmp_path / "missing.nir", dt=1e-3)
    with pytest.raises(IsADirectoryError):
        from_nir(tmp_path, dt=1e-3)


def test_nir_file_of_a_graph_the_chip_cannot_run(tmp_path):
    nir = pytest.importorskip("nir")
    from dynapse2.nir import from_nir

    graph = nir.NIRGraph.from_list(nir.Delay(np.ones(3)))
    path = tmp_path / "delay.nir"
    nir.write(path, graph)
    with pytest.raises(FileFormatError, match=r"graph cannot be imported: .*DynapSim has no"):
        from_nir(path, dt=1e-3)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"[" * 100_000, "nested too deeply"),
        (b'{"value0": {"chips": [{"globalParameters": [{"key": [1], "value": {}}]}]}}', "."),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_samna_json_file_errors(tmp_path, content, match):
    from dynapse2.hardware import load_samna_json

    path = tmp_path / "samna.json"
    path.write_bytes(content)
    with pytest.raises(FileFormatError, match=match) as e:
        load_samna_json(path)
    assert e.value.path == str(path)


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
@given(_edits)
def test_a_damaged_nir_file_long(nir_file, tmp_path, edits):
    test_a_damaged_nir_file_imports_or_says_so.hypothesis.inner_test(nir_file, tmp_path, edits)


@pytest.mark.slow
@_LONG
@given(st.data())
def test_every_field_of_a_checkpoints_metadata_long(tmp_path, data):
    test_every_field_of_a_checkpoints_metadata_is_checked.hypothesis.inner_test(tmp_path, data)


@pytest.mark.slow
@_LONG
@given(st.data())
def test_every_field_of_a_configuration_file_long(valid_files, tmp_path, data):
    test_every_field_of_a_configuration_file_is_checked.hypothesis.inner_test(
        valid_files, tmp_path, data
    )


def test_a_checkpoint_with_an_unknown_compression_method_says_so(valid_files, tmp_path):
    # found by the fuzz test above: one flipped bit in the central directory's compression
    # method (0 -> 256), which zipfile answers with NotImplementedError
    b = bytearray(valid_files[1])
    i = b.index(b"PK\x01\x02") + 10  # the first central directory entry's method field
    b[i : i + 2] = (256).to_bytes(2, "little")
    path = tmp_path / "ck.npz"
    path.write_bytes(bytes(b))
    with pytest.raises(FileFormatError, match=r"truncated or corrupted.*compression method"):
        checkpoint.load(path, like=NET)
    with pytest.raises(FileFormatError) as e:
        checkpoint.load(path, like=NET)
    assert str(e.value).startswith(str(path))
