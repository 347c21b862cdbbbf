"""to_hardware: the three ways a board is unavailable, and a trial against a fake board."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware.device import DynapseBoard, run_trial, to_hardware
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.network import map_network
from dynapse2.nn import DynapSim, Linear, Sequential


def _net():
    return Sequential(Linear((3, 4), weight=np.eye(3, 4) * 2.0), DynapSim(4))


def _status(kind, version=None):
    return lambda: sb.SamnaStatus(kind, version, f"samna {version} test status")


def test_no_samna(monkeypatch):
    monkeypatch.setattr(sb, "samna_status", _status("missing"))
    monkeypatch.setitem(sys.modules, "samna", None)  # an import would fail loudly
    with pytest.raises(sb.HardwareUnavailableError, match="samna is not installed; install") as e:
        _net().to_hardware()
    assert e.value.reason == "missing"


def test_bootstrapper_is_not_imported(monkeypatch):
    monkeypatch.setattr(sb, "samna_status", _status("bootstrapper", "0.48.6"))
    monkeypatch.setitem(sys.modules, "samna", None)
    with pytest.raises(sb.HardwareUnavailableError, match="so it is not imported") as e:
        to_hardware(_net())
    assert e.value.reason == "bootstrapper"


def test_no_board(monkeypatch):
    fake = types.ModuleType("samna")
    fake.device = types.SimpleNamespace(get_all_devices=lambda: [])
    monkeypatch.setattr(sb, "samna_status", _status("real", "0.48.6"))
    monkeypatch.setitem(sys.modules, "samna", fake)
    with pytest.raises(
        sb.HardwareUnavailableError, match="no Dynap-SE2 Stack board found: connect"
    ) as e:
        to_hardware(_net())
    assert e.value.reason == "no-board"


class _FakeIO:
    """Records what run_trial sends; answers every input event with an output event of the
    neuron behind the same input index, 3 ms later."""

    def __init__(self, cfg):
        self.cfg, self.sent, self.flushed = cfg, None, 0

    def flush(self, n_chips):
        self.flushed += 1

    def now_us(self):
        return 5_000

    def write(self, events):
        self.sent = events

    def read(self, duration_s):
        out = np.zeros(self.sent.size, EVENT_DTYPE)
        out["tag"] = [self.cfg.output_map[0].tag] * self.sent.size
        out["timestamp_us"] = self.sent["timestamp_us"] + 3_000
        return out


def test_trial_encodes_timing_and_decodes():
    cfg = map_network(_net()).config
    io = _FakeIO(cfg)
    raster = np.zeros((20, 3), np.int64)
    raster[2, 0] = 1
    raster[5, 1] = 2
    out, ev = run_trial(io, cfg, raster, dt=1e-3, lead_s=0.1, tail_s=0.0)
    t0 = 5_000 + 100_000
    assert io.flushed == 1
    assert io.sent["timestamp_us"].tolist() == [t0 + 2_000, t0 + 5_000, t0 + 5_000]
    assert io.sent["tag"].tolist() == [
        cfg.input_map[0][0].tag,
        cfg.input_map[1][0].tag,
        cfg.input_map[1][0].tag,
    ]
    want = np.zeros((20, 4), np.int32)
    want[5, 0], want[8, 0] = 1, 2
    np.testing.assert_array_equal(out, want)
    assert ev.size == 3
    with pytest.raises(ValueError, match="non-negative integer event counts"):
        run_trial(io, cfg, raster * 0.5, dt=1e-3, lead_s=0.1, tail_s=0.0)


def test_board_module_contract(monkeypatch):
    cfg = map_network(_net()).config
    calls = []

    def fake_trial(io, cfg_, raster, dt, lead, tail):
        calls.append(raster.shape)
        return np.ones((raster.shape[0], len(cfg_.output_map)), np.int32), np.zeros(0, EVENT_DTYPE)

    monkeypatch.setattr("dynapse2.hardware.device.run_trial", fake_trial)
    board = DynapseBoard(cfg, board=None, dt=1e-3, n_in=3, drain=False)
    assert board.shape == (3, 4)
    out, state, rec = board(np.zeros((2, 7, 3)), record=True)
    assert out.shape == (2, 7, 4) and state == {} and len(rec["events"]) == 2
    out, _, rec = board(np.zeros((7, 3)))
    assert out.shape == (7, 4) and rec == {}
    with pytest.raises(ValueError, match=r"expected \(T, 3\) or \(batch, T, 3\)"):
        board(np.zeros((7, 5)))
