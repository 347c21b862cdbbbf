"""python -m dynapse2.doctor: one line per finding, one thing to do per problem, never an
import of a bootstrapper, exit status 1 when deploying would fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dynapse2 import doctor
from dynapse2.hardware import samna_backend as sb


@pytest.fixture(autouse=True)
def udev_rules(monkeypatch, tmp_path):
    """udev rules present (tests that want them missing point UDEV_RULES elsewhere)."""
    (tmp_path / "60-synsense.rules").write_text("# rules\n")
    monkeypatch.setattr(doctor, "UDEV_RULES", (str(tmp_path / "*synsense*"),))


def _findings(out: str) -> dict[str, str]:
    """label -> finding of the report's first block."""
    block = out.split("\n\n")[0].splitlines()
    return {line[:12].strip(): line[12:].strip() for line in block}


def _status(monkeypatch, kind, version):
    monkeypatch.setattr(sb, "samna_status", lambda: sb.SamnaStatus(kind, version, "test"))


def test_samna_missing(monkeypatch, capsys, tmp_path):
    _status(monkeypatch, "missing", None)
    monkeypatch.setitem(sys.modules, "samna", None)  # an import would fail loudly
    bit = tmp_path / "a.bit"
    bit.write_bytes(b"x")
    assert doctor.main(["--bitfile", str(bit)]) == 1
    out = capsys.readouterr().out
    assert _findings(out)["samna"] == "not installed"
    assert "to do: install the vendor's samna >= 0.14" in out
    assert out.count("to do:") == 1  # the bitfile is fine


def test_bootstrapper_is_reported_not_imported(monkeypatch, capsys):
    _status(monkeypatch, "bootstrapper", "0.48.6")
    monkeypatch.setitem(sys.modules, "samna", None)
    monkeypatch.delenv("DYNAPSE2_BITFILE", raising=False)
    assert doctor.main([]) == 1
    out = capsys.readouterr().out
    assert "0.48.6: a bootstrapper, not imported" in out
    assert "it installs samna 0.48.6" in out
    assert "to do: set DYNAPSE2_BITFILE" in out


def test_conversion_only_generation(monkeypatch, capsys):
    _status(monkeypatch, "real", "0.7.1.0")
    monkeypatch.setitem(sys.modules, "samna", None)
    assert doctor.main([]) == 1
    assert "samna 0.7.1.0 cannot drive a board" in capsys.readouterr().out


def test_ready_with_the_double_and_a_stack(samna_double, capsys):
    samna_double._double.plug("DYNAP-SE2 DevBoard")
    samna_double._double.plug()
    assert doctor.main([]) == 0
    out = capsys.readouterr().out
    assert "0.48.6: a real build that drives boards" in out
    assert "DYNAP-SE2 DevBoard, DYNAP-SE2 Stack" in out
    assert "ready: to_hardware(net) can open the board" in out


def test_no_stack_no_bitfile_no_udev(samna_double, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(doctor, "UDEV_RULES", (str(tmp_path / "none" / "*"),))
    monkeypatch.setattr(sys, "platform", "linux")
    assert doctor.main(["--bitfile", str(tmp_path / "missing.bit")]) == 1
    out = capsys.readouterr().out
    assert _findings(out)["devices"] == "none"
    todo = [line for line in out.splitlines() if line.startswith("to do:")]
    assert len(todo) == 3
    assert "no DYNAP-SE2 Stack listed" in todo[0]
    assert "missing.bit does not exist" in todo[1]
    assert "udev rules" in todo[2]


def test_module_runs_without_hanging():
    """The real entry point, in a fresh interpreter (no samna in this environment, or the
    samna of the environment): it answers within the timeout and says what it found."""
    run = subprocess.run(
        [sys.executable, "-m", "dynapse2.doctor"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode in (0, 1)
    assert run.stdout.startswith("python") and "samna" in run.stdout and "bitfile" in run.stdout
