"""samna's own JSON without samna: save_samna_json / load_samna_json.

The tests without the ``samna`` marker need no samna (any Python). Those marked ``samna``
check the format against the real samna 0.7.1.0 build (Python 3.10 environment) and are
skipped without it; with DYNAPSE2_REQUIRE_SAMNA=1 (set by .ci/samna_tests.sh) a missing
build is a failure instead of a skip.

Regenerate the shipped table dynapse2/hardware/samna_json_tables.py (samna 0.7.1.0 env)::

    .venv-samna/bin/python tests/hardware/test_samna_json.py --write-tables
    .venv/bin/ruff format dynapse2/hardware/samna_json_tables.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hw_factories import random_configuration
from samna_ready import needs_samna

from dynapse2.hardware import chip as C
from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware import samna_json as sj
from dynapse2.hardware import samna_json_tables
from dynapse2.hardware.config import (
    CHIP_PARAMETER_GROUPS,
    NEURON_FIELDS,
    Configuration,
    Parameter,
)


def _as_read_back(cfg: Configuration) -> Configuration:
    """What samna can hold of ``cfg``: chips at (i, 0), no maps, no meta."""
    chips = cfg.copy().chips
    for i, c in enumerate(chips):
        c.position = (i, 0)
    return Configuration(chips)


def _assert_same(a: Configuration, b: Configuration) -> None:
    """Field-by-field comparison (independent of ``__eq__``)."""
    assert len(a.chips) == len(b.chips)
    for ca, cb in zip(a.chips, b.chips, strict=True):
        assert ca.position == cb.position and ca.flags == cb.flags
        for attr in CHIP_PARAMETER_GROUPS:
            assert getattr(ca, attr) == getattr(cb, attr), attr
        for ka, kb in zip(ca.cores, cb.cores, strict=True):
            assert ka.parameters == kb.parameters
            assert (ka.monitored_neuron, ka.flags) == (kb.monitored_neuron, kb.flags)
            for f in NEURON_FIELDS:
                np.testing.assert_array_equal(getattr(ka, f), getattr(kb, f), err_msg=f)
                assert getattr(ka, f).dtype == getattr(kb, f).dtype, f
    assert a.input_map == b.input_map and a.output_map == b.output_map and a.meta == b.meta


@pytest.fixture(scope="module")
def reset_text() -> str:
    return sj.to_samna_json(Configuration())


@pytest.fixture(scope="module")
def reset_doc(reset_text) -> dict:
    return json.loads(reset_text)


# --- without samna ------------------------------------------------------------------------
def test_round_trip_two_chips(tmp_path):
    cfg = random_configuration(11, n_chips=2)  # multi-core, every field random, with maps
    cfg.chips[1].position = (3, 2)
    path = tmp_path / "cfg.samna.json"
    sj.save_samna_json(cfg, path)
    back = sj.load_samna_json(path)
    expected = _as_read_back(cfg)
    _assert_same(back, expected)
    assert back == expected
    assert [c.position for c in back.chips] == [(0, 0), (1, 0)]
    assert back.input_map == {} and back.output_map == {}
    text = path.read_text()
    assert text == sj.to_samna_json(cfg)
    assert sj.from_samna_json(text) == expected
    assert sj.from_samna_json(text.encode()) == expected
    assert [p.name for p in tmp_path.iterdir()] == ["cfg.samna.json"]  # no temporary left


def test_round_trip_sparse_and_reset(tmp_path):
    cfg = random_configuration(3, n_chips=1, density=0.05)
    sj.save_samna_json(cfg, tmp_path / "a.json")
    assert sj.load_samna_json(tmp_path / "a.json") == _as_read_back(cfg)
    assert sj.load_samna_json(str(tmp_path / "a.json")) == _as_read_back(cfg)


def test_reset_document(reset_text, reset_doc):
    assert list(reset_doc) == ["value0"] and list(reset_doc["value0"]) == ["chips"]
    chip = reset_doc["value0"]["chips"][0]
    core = chip["cores"]["value2"]
    assert core["_id"] == samna_json_tables.CORE_IDS[2] == 2 and core["_cookie"] == 0
    neuron = core["neurons"]["value255"]
    assert neuron["synapses"]["value63"] == {
        "dendrite": 0,
        "stp": False,
        "weight": {f"value{i}": False for i in range(4)},
        "preciseDelay": False,
        "mismatchedDelay": False,
        "tag": 0,
    }
    assert neuron["latchHoActive"] is False and len(neuron) == 2 + len(C.NEURON_LATCHES)
    p = chip["sharedParameters23"][
        [e["key"] for e in chip["sharedParameters23"]].index("NCCF_CAL_REFBIAS_V")
    ]["value"]
    assert (p["type"], p["_initialType"], p["_switchableType"]) == (ord("N"), 1, True)
    assert sj.from_samna_json(reset_text) == Configuration()


def test_values_land_where_samna_puts_them():
    cfg = Configuration.reset(2)
    core = cfg.chips[1].cores[3]
    core.syn_tag[200, 17], core.syn_dendrite[200, 17], core.syn_weight[200, 17] = 1234, 512, 0b1010
    core.syn_stp[200, 17] = True
    core.dest_tag[9, 2], core.dest_core[9, 2], core.dest_x_hop[9, 2] = 77, 0b0110, -7
    core.dest_y_hop[9, 2] = 5
    core.latches[4, C.NEURON_LATCHES.index("de_mux")] = True
    core.set_parameter("SOIF_LEAK_N", 3, 201)
    core.monitored_neuron = 42
    core.flags["enable_pulse_extender_monitor2"] = True
    cfg.chips[1].sadc_group_parameters23[2]["NCCF_REF_L_V"] = Parameter(5, 9, "N")
    cfg.chips[1].shared_parameters01["NCCF_CAL_REFBIAS_V"] = Parameter(1, 2, "P")  # switched
    cfg.chips[1].flags["param_gen1_powerdown"] = True
    cfg.validate()
    doc = json.loads(sj.to_samna_json(cfg))
    chip = doc["value0"]["chips"][1]
    sc = chip["cores"]["value3"]
    s = sc["neurons"]["value200"]["synapses"]["value17"]
    assert s == {
        "dendrite": 512,
        "stp": True,
        "weight": {"value0": False, "value1": True, "value2": False, "value3": True},
        "preciseDelay": False,
        "mismatchedDelay": False,
        "tag": 1234,
    }
    d = sc["neurons"]["value9"]["destinations"]["value2"]
    assert d == {
        "core": {"value0": False, "value1": True, "value2": True, "value3": False},
        "xHop": -7,
        "yHop": 5,
        "tag": 77,
    }
    assert sc["neurons"]["value4"]["latchDeMux"] is True
    assert sc["monitoredNeuron"] == 42 and sc["enablePulseExtenderMonitor2"] is True
    leak = next(e["value"] for e in sc["parameters"] if e["key"] == "SOIF_LEAK_N")
    assert (leak["type"], leak["coarseValue"], leak["fineValue"]) == (78, 3, 201)
    ref = next(
        e["value"] for e in chip["sadcGroupParameters23"]["value2"] if e["key"] == "NCCF_REF_L_V"
    )
    assert (ref["coarseValue"], ref["fineValue"]) == (5, 9)
    sw = next(e["value"] for e in chip["sharedParameters01"] if e["key"] == "NCCF_CAL_REFBIAS_V")
    assert (sw["type"], sw["_initialType"], sw["coarseValue"]) == (80, 1, 1)
    assert chip["paramGen1Powerdown"] is True and chip["paramGen0Powerdown"] is False
    assert sj.from_samna_json(json.dumps(doc)) == _as_read_back(cfg)


def _mutate(doc: dict, path: tuple, value: Any) -> str:
    """JSON of ``doc`` with ``path`` set to ``value`` (deleted if value is ...), restored after."""
    node = doc
    for key in path[:-1]:
        node = node[key]
    old = node[path[-1]]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        return json.dumps(doc, separators=(",", ":"))
    finally:
        node[path[-1]] = old


_NEURON = ("value0", "chips", 0, "cores", "value1", "neurons", "value5")
_SYN = (*_NEURON, "synapses", "value3")
_PARAM0 = ("value0", "chips", 0, "cores", "value1", "parameters", 0)


@pytest.mark.parametrize(
    "case, make, fragments",
    [
        ("empty", lambda doc, text: "", ["empty"]),
        ("blank", lambda doc, text: "  \n", ["empty"]),
        ("not json", lambda doc, text: "hello, samna", ["not valid JSON"]),
        ("truncated", lambda doc, text: text[: len(text) // 2], ["not valid JSON"]),
        ("a list", lambda doc, text: "[1, 2]", ["not a samna Dynapse2Configuration JSON"]),
        (
            "our own JSON",
            lambda doc, text: Configuration().to_json(),
            ["not a samna Dynapse2Configuration JSON"],
        ),
        (
            "something else",
            lambda doc, text: '{"value0": {"dendrite": 0, "tag": 3}}',
            ["not a samna Dynapse2Configuration JSON"],
        ),
        (
            "no chips",
            lambda doc, text: '{"value0": {"chips": []}}',
            ["no chips"],
        ),
        (
            "missing field",
            lambda doc, text: _mutate(doc, (*_SYN, "tag"), ...),
            ["chips[0].cores[1].neurons[5].synapses[3]", "'tag' is missing"],
        ),
        (
            "wrong type",
            lambda doc, text: _mutate(doc, (*_SYN, "stp"), 1),
            ["chips[0].cores[1].neurons[5].synapses[3].stp", "true or false"],
        ),
        (
            "weight bit",
            lambda doc, text: _mutate(doc, (*_SYN, "weight", "value2"), 0),
            ["chips[0].cores[1].neurons[5].synapses[3][2]", "true or false"],
        ),
        (
            "three cores",
            lambda doc, text: _mutate(doc, ("value0", "chips", 0, "cores", "value3"), ...),
            ["chips[0].cores", "expected 4 entries, got 3"],
        ),
        (
            "out of range tag",
            lambda doc, text: _mutate(doc, (*_SYN, "tag"), 5000),
            ["chip 0, core 1, neuron 5, synapse 3", "tag = 5000", "0..2047"],
        ),
        (
            "out of range hop",
            lambda doc, text: _mutate(doc, (*_NEURON, "destinations", "value2", "xHop"), 9),
            ["chip 0, core 1, neuron 5, destination 2", "x_hop = 9"],
        ),
        (
            "dendrite code",
            lambda doc, text: _mutate(doc, (*_SYN, "dendrite"), 3),
            ["chip 0, core 1, neuron 5, synapse 3", "dendrite = 3"],
        ),
        (
            "huge integer",
            lambda doc, text: _mutate(doc, (*_SYN, "tag"), 2**70),
            ["chips[0].cores[1].neurons[5].synapses[3].tag", "outside"],
        ),
        (
            "coarse value",
            lambda doc, text: _mutate(doc, (*_PARAM0, "value", "coarseValue"), 6),
            ["chip 0, core 1", "coarse = 6"],
        ),
        (
            "type code",
            lambda doc, text: _mutate(doc, (*_PARAM0, "value", "type"), 81),
            ["cores[1].parameters[0]", "81 is not 78 ('N') or 80 ('P')"],
        ),
        (
            "unknown parameter",
            lambda doc, text: _mutate(doc, (*_PARAM0, "key"), "FOO_P"),
            ["cores[1].parameters[0]", "unknown parameter 'FOO_P'"],
        ),
        (
            "missing parameter",
            lambda doc, text: _mutate(
                doc,
                ("value0", "chips", 0, "globalParameters"),
                [doc["value0"]["chips"][0]["globalParameters"][0]],
            ),
            ["globalParameters", "parameters missing"],
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else "",
)
def test_bad_files_raise_value_error_naming_the_file(
    tmp_path, reset_text, reset_doc, case, make, fragments
):
    path = tmp_path / "bad.json"
    path.write_text(make(reset_doc, reset_text))
    with pytest.raises(ValueError) as info:
        sj.load_samna_json(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    cfg = random_configuration(5, n_chips=2, density=0.1)
    cfg.chips[1].cores[2].syn_tag[7, 9] = 4096  # written past the views' checks
    with pytest.raises(ValueError) as info:
        sj.save_samna_json(cfg, path)
    assert str(path) in str(info.value)
    assert "chip 1, core 2, neuron 7, synapse 9" in str(info.value)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(TypeError, match="save_samna_json: cfg must be a Configuration"):
        sj.save_samna_json({"chips": []}, path)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
    # a failure while writing: the previous file stays, no temporary is left
    path.write_text("previous")
    calls = []

    def broken(core):
        calls.append(core)
        if len(calls) == 3:
            raise OSError("disk full")
        return "{}"

    monkeypatch.setattr(sj, "_neurons_text", broken)
    with pytest.raises(OSError, match="disk full"):
        sj.save_samna_json(Configuration.reset(1), path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert path.read_text() == "previous"


def test_module_does_not_import_samna():
    code = (
        "import sys, dynapse2.hardware.samna_json as m; "
        "m.from_samna_json(m.to_samna_json(m.Configuration())); "
        "assert 'samna' not in sys.modules, 'samna imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- with the real samna 0.7.1.0 ----------------------------------------------------------
_TABLES_PATH = Path(sj.__file__).with_name("samna_json_tables.py")
_GROUP_PATHS = sj._GROUP_KEYS
_TABLE_DOCS = {
    "SAMNA_VERSION": "The samna build these fields were read from.",
    "PARAMETERS": "Parameter group -> one table per dict of the group (4 for the cores' "
    "groups, 3 per sadc group, 8 bioamp channels), each the group's entries "
    "(name, _address) in samna's order.",
    "CORE_IDS": "``_id`` of cores 0..3.",
    "CORE_SADC_ENABLES": "A core's ``sadcEnables`` at reset (not converted).",
    "CHIP_SADC_ENABLES": "A chip's ``sadcEnables`` at reset (not converted).",
    "DVS_IF": "A chip's ``dvsIf`` at reset (not converted); ``pixelDestinations`` holds the "
    "number of reset destinations.",
    "BIOAMPS_SETTINGS": "The non-parameter fields of a chip's ``bioamps`` at reset, in order "
    "(not converted).",
}
_TABLES_HEADER = '''"""Fixed internal fields of samna 0.7.1.0's Dynapse2Configuration JSON.

Generated from ``samna.dynapse2.Dynapse2Configuration().to_json()`` of samna 0.7.1.0 (the
real cp310 build from PyPI); do not edit. These values depend only on an object's place in
a chip (core index, parameter group, name), not on the values it holds, on the chip's
index nor on the process (checked against samna: a random 2-chip configuration converted
with ``to_samna`` carries the same fields, and so do other processes). ``_initialType``
(1 for "N", 0 for "P") and ``_switchableType`` follow from chip.py's tables. ``_cookie`` is
not here: samna draws it per process (see samna_json.py).

Regenerate in the Python 3.10 environment with samna 0.7.1.0::

    .venv-samna/bin/python tests/hardware/test_samna_json.py --write-tables
    .venv/bin/ruff format dynapse2/hardware/samna_json_tables.py

(``test_shipped_tables_match_samna`` checks this file against samna.)
"""

from __future__ import annotations

from typing import Any'''


def derive_tables(reset_json: str) -> dict[str, Any]:
    """The data of samna_json_tables.py, from samna's ``Dynapse2Configuration().to_json()``."""
    chip = json.loads(reset_json)["value0"]["chips"][0]
    cores = list(chip["cores"].values())

    def entries(plist):
        return tuple((p["key"], p["value"]["_address"]) for p in plist)

    params: dict[str, Any] = {"core_parameters": tuple(entries(c["parameters"]) for c in cores)}
    for attr, path in _GROUP_PATHS.items():
        node = chip
        for key in path:
            node = node[key]
        lists = [node] if isinstance(node, list) else list(node.values())
        params[attr] = tuple(entries(g) for g in lists)
    sadc = [c["sadcEnables"] for c in cores]
    assert all(s == sadc[0] for s in sadc)
    dvs = dict(chip["dvsIf"])
    pixels = list(dvs["pixelDestinations"].values())
    assert all(p == pixels[0] for p in pixels)
    dvs["pixelDestinations"] = len(pixels)
    return {
        "SAMNA_VERSION": "0.7.1.0",
        "PARAMETERS": params,
        "CORE_IDS": tuple(c["_id"] for c in cores),
        "CORE_SADC_ENABLES": sadc[0],
        "CHIP_SADC_ENABLES": chip["sadcEnables"],
        "DVS_IF": dvs,
        "BIOAMPS_SETTINGS": {
            k: v
            for k, v in chip["bioamps"].items()
            if k not in ("commonParameters", "channelParameters")
        },
    }


def tables_source(data: dict[str, Any]) -> str:
    """Python source of samna_json_tables.py (run ruff format on it afterwards)."""
    types = {
        "SAMNA_VERSION": "str",
        "PARAMETERS": "dict[str, tuple[tuple[tuple[str, int], ...], ...]]",
        "CORE_IDS": "tuple[int, ...]",
        "CORE_SADC_ENABLES": "dict[str, bool]",
        "CHIP_SADC_ENABLES": "dict[str, bool]",
        "DVS_IF": "dict[str, Any]",
        "BIOAMPS_SETTINGS": "dict[str, Any]",
    }
    lines = [_TABLES_HEADER, ""]
    for name, value in data.items():
        if name == "PARAMETERS":
            lines.append(f"{name}: {types[name]} = {{")
            for group, tables in value.items():
                lines.append(f"    {group!r}: (")
                for table in tables:
                    lines.append("        (")
                    lines.extend(f"            {e!r}," for e in table)
                    lines.append("        ),")
                lines.append("    ),")
            lines.append("}")
        else:
            lines.append(f"{name}: {types[name]} = {value!r}")
        lines.append(textwrap.fill(f'"""{_TABLE_DOCS[name]}"""', width=96))
    return "\n".join(lines) + "\n"


def _shipped_tables() -> dict[str, Any]:
    return {name: getattr(samna_json_tables, name) for name in _TABLE_DOCS}


@pytest.fixture(scope="module")
def samna():
    import samna as samna_module

    return samna_module


@pytest.fixture(scope="module")
def imported_at(samna) -> int:
    """A second at or after the one samna drew this process's cookies in."""
    return int(time.time())


@pytest.fixture(scope="module")
def two_chips() -> Configuration:
    """Every core and neuron random, within two rules of samna's validator that
    Configuration.validate does not check: per chip, at most one of the cores'
    enable_pulse_extender_monitor1/2 flags and not both PG reference monitors."""
    cfg = random_configuration(2025, n_chips=2)
    for chip in cfg.chips:
        for core in chip.cores:
            core.flags["enable_pulse_extender_monitor1"] = False
            core.flags["enable_pulse_extender_monitor2"] = False
        chip.cores[1].flags["enable_pulse_extender_monitor2"] = True
        chip.flags["enable_pg0_reference_monitor"] = True
        chip.flags["enable_pg1_reference_monitor"] = False
    return cfg


_COOKIES = re.compile(r'"_cookie": \d+')


def _zero_cookies(text: str) -> str:
    return _COOKIES.sub('"_cookie": 0', text)


def _samna_validates(obj: Any) -> bool:
    """samna's own C++ ``Dynapse2Configuration::validate`` (what apply_configuration runs
    first, refusing the configuration when it fails), called through ctypes; its complaints
    go to stderr."""
    import ctypes
    import ctypes.util

    import samna as samna_module

    folder = Path(samna_module.__file__).parent
    lib = ctypes.CDLL(str(next(folder.glob("samna.cpython-*.so"))))
    validate = lib._ZNK8dynapse221Dynapse2Configuration8validateERSo
    validate.restype, validate.argtypes = ctypes.c_bool, [ctypes.c_void_p, ctypes.c_void_p]
    stdcxx = ctypes.CDLL(ctypes.util.find_library("stdc++") or "libstdc++.so.6")
    cerr = ctypes.addressof(ctypes.c_void_p.in_dll(stdcxx, "_ZSt4cerr"))
    # pybind11 keeps a simple instance's C++ pointer right after the PyObject header
    pointer = ctypes.c_void_p.from_address(id(obj) + 2 * ctypes.sizeof(ctypes.c_void_p)).value
    return bool(validate(pointer, cerr))


@pytest.mark.samna
@needs_samna
def test_shipped_tables_match_samna(samna):
    text = samna.dynapse2.Dynapse2Configuration().to_json()
    assert derive_tables(text) == _shipped_tables()


@pytest.mark.samna
@needs_samna
def test_reset_is_byte_identical_to_samna(samna, reset_text):
    theirs = samna.dynapse2.Dynapse2Configuration().to_json()
    assert reset_text == _zero_cookies(theirs)  # byte for byte, but for the cookies
    assert sj.from_samna_json(theirs) == Configuration()


@pytest.mark.samna
@needs_samna
def test_samna_reads_our_file(samna, two_chips, tmp_path, capfd):
    from test_samna import snapshot

    path = tmp_path / "ours.json"
    sj.save_samna_json(two_chips, path)
    ours = path.read_text()
    obj = samna.dynapse2.Dynapse2Configuration()
    obj.from_json(ours)
    ref = sb.to_samna(two_chips)
    assert len(obj.chips) == 2
    expected = _as_read_back(two_chips)
    assert sb.from_samna(obj) == sb.from_samna(ref) == expected
    assert snapshot(obj) == snapshot(ref)
    # the document samna writes for to_samna(cfg), to the byte, but for the cookies
    assert ours == _zero_cookies(ref.to_json())
    # samna refuses foreign cookies, and accepts them once adopted
    capfd.readouterr()
    assert _samna_validates(ref)
    assert not _samna_validates(obj)
    err = capfd.readouterr().err
    assert "Chip 0 core id 0 is invalid." in err and "Chip 1 core id 3 is invalid." in err
    assert "Chip 1 core 2: Parameter SOIF_DC_P: address" in err
    assert "Chip 1 bioamps channel [7]: Parameter BADCTHUFR: address 1507328 is invalid." in err
    assert err.count(" is invalid.") == 2 * (4 + 378)  # every core and every parameter
    assert sj.adopt_cookies(obj) is obj
    assert _samna_validates(obj)
    assert capfd.readouterr().err == ""
    assert sb.from_samna(obj) == expected


@pytest.mark.samna
@needs_samna
def test_samna_own_json_from_another_process_needs_adopted_cookies(samna, imported_at, tmp_path):
    path = tmp_path / "elsewhere.json"
    while int(time.time()) <= imported_at:  # another second, so other cookies
        time.sleep(0.05)
    code = (
        "import sys, samna; "
        "open(sys.argv[1], 'w').write(samna.dynapse2.Dynapse2Configuration().to_json())"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=300)
    text = path.read_text()
    obj = samna.dynapse2.Dynapse2Configuration()
    obj.from_json(text)
    assert not _samna_validates(obj)  # samna's own file, from another process
    assert _samna_validates(sj.adopt_cookies(obj))
    assert sj.load_samna_json(path) == Configuration()
    assert _zero_cookies(text) == sj.to_samna_json(Configuration())


@pytest.mark.samna
@needs_samna
def test_load_samna_own_json(two_chips, tmp_path):
    ref = sb.to_samna(two_chips)
    path = tmp_path / "theirs.json"
    path.write_text(ref.to_json())
    back = sj.load_samna_json(path)
    _assert_same(back, sb.from_samna(ref))
    assert back == sb.from_samna(ref) == _as_read_back(two_chips)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-tables"]:
        sys.exit(
            f"usage: {sys.argv[0]} --write-tables   (needs samna {sb.SUPPORTED_SAMNA_VERSION})"
        )
    import samna as _samna

    data = derive_tables(_samna.dynapse2.Dynapse2Configuration().to_json())
    _TABLES_PATH.write_text(tables_source(data))
    print(f"wrote {_TABLES_PATH}; now run ruff format on it")
