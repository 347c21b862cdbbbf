"""Shared test configuration: float32 JAX on CPU, deterministic; the samna double."""

import importlib
import sys
from pathlib import Path

import jax
import pytest

jax.config.update("jax_platform_name", "cpu")

SAMNA_DOUBLE = Path(__file__).resolve().parent / "hardware" / "samna_double"


def _drop_samna() -> None:
    for name in [m for m in sys.modules if m == "samna" or m.startswith("samna.")]:
        sys.modules.pop(name, None)


@pytest.fixture
def samna_double(monkeypatch, tmp_path):
    """The samna double (tests/hardware/samna_double) as the installed samna: a real 0.48.6
    build by its metadata, no board plugged in (``samna._double.plug(...)``), a bitfile in
    $DYNAPSE2_BITFILE, no settle time after applying a configuration."""
    from dynapse2.hardware import samna_current

    monkeypatch.syspath_prepend(str(SAMNA_DOUBLE))
    _drop_samna()
    module = importlib.import_module("samna")
    module._double.reset()
    bitfile = tmp_path / "Dynapse2Stack.bit"
    bitfile.write_bytes(b"\x00" * 64)
    monkeypatch.setenv(samna_current.BITFILE_ENV, str(bitfile))
    monkeypatch.setattr(samna_current.StackBoard, "settle_s", 0.0)
    yield module
    _drop_samna()
