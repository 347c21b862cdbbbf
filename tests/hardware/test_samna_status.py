"""samna detection without importing samna, and the errors when no board can be used."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import PurePosixPath

import pytest

from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware.config import Configuration
from dynapse2.hardware.device import open_device


class _FakeDist:
    def __init__(self, version, files):
        self.version = version
        self.files = [PurePosixPath(f) for f in files]


def _fake_metadata(monkeypatch, dist):
    def distribution(name):
        assert name == "samna"
        if dist is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return dist

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)


@pytest.fixture
def no_samna_import(monkeypatch):
    """Any `import samna` in the code under test fails loudly (ImportError)."""
    monkeypatch.setitem(sys.modules, "samna", None)


def test_status_missing(monkeypatch):
    _fake_metadata(monkeypatch, None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    st = sb.samna_status()
    assert (st.kind, st.version, str(st)) == ("missing", None, "missing")


def test_status_bootstrapper(monkeypatch):
    _fake_metadata(
        monkeypatch, _FakeDist("0.48.6", ["samna/__init__.py", "samna-0.48.6.dist-info/RECORD"])
    )
    st = sb.samna_status()
    assert st.kind == "bootstrapper" and st.version == "0.48.6"
    assert "version >= 0.9" in st.detail


def test_status_real_build(monkeypatch):
    files = ["samna/__init__.py", "samna/samna.cpython-310-x86_64-linux-gnu.so"]
    _fake_metadata(monkeypatch, _FakeDist("0.7.1.0", files))
    st = sb.samna_status()
    assert (st.kind, st.version) == ("real", "0.7.1.0")


def test_status_old_version_without_extension_is_not_real(monkeypatch):
    _fake_metadata(monkeypatch, _FakeDist("0.5.0", ["samna/__init__.py"]))
    st = sb.samna_status()
    assert st.kind == "bootstrapper" and "no compiled extension" in st.detail


def test_open_device_without_samna_says_what_to_do(monkeypatch, no_samna_import):
    _fake_metadata(monkeypatch, None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(sb.HardwareUnavailableError, match=r"samna is not installed") as e:
        open_device(Configuration())
    assert e.value.reason == "missing"
    assert "pip install samna==0.7.1.0" in str(e.value) and "Python 3.10" in str(e.value)
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(sb.HardwareUnavailableError, match=r"samna is not installed"):
        sb.to_samna(Configuration())


def test_open_device_with_bootstrapper_never_imports_it(monkeypatch, no_samna_import):
    _fake_metadata(monkeypatch, _FakeDist("0.40.1", ["samna/__init__.py"]))
    with pytest.raises(sb.HardwareUnavailableError, match=r"samna 0\.40\.1 is a bootstrapper") as e:
        open_device()
    assert e.value.reason == "bootstrapper"
    assert "not imported" in str(e.value) and "samna==0.7.1.0" in str(e.value)
