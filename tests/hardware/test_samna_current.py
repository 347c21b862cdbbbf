"""The current-samna board adapter against the samna double (tests/hardware/samna_double):
to_hardware(net) as a user with a board calls it, and the faults a board shows."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware import samna_current as cur
from dynapse2.hardware.config import Parameter
from dynapse2.hardware.device import to_hardware
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.network import map_network
from dynapse2.hardware.virtual_board import VirtualBoard
from dynapse2.nn import DynapSim, Linear, Sequential


@pytest.fixture
def samna(samna_double):
    return samna_double


def _net(n_chips: int = 1) -> Sequential:
    """A network whose output population sits on chip ``n_chips - 1``."""
    rng = np.random.default_rng(0)
    n1 = 1100 if n_chips == 2 else 16  # 1100 neurons spill onto a second chip
    return Sequential(
        Linear((8, n1), weight=rng.uniform(0, 6, (8, n1)), has_bias=False),
        DynapSim(n1),
        Linear((n1, 6), weight=rng.uniform(0, 3, (n1, 6)) * (rng.random((n1, 6)) < 8 / n1)),
        DynapSim(6),
    )


def _input(steps: int = 120, batch: int = 2) -> np.ndarray:
    return (np.random.default_rng(1).random((batch, steps, 8)) < 0.15).astype(np.int32)


def test_the_double_is_a_current_real_build(samna):
    st = sb.samna_status()
    assert (st.kind, st.version) == ("real", "0.48.6")


@pytest.mark.parametrize("n_chips", [1, 2])
def test_to_hardware_on_the_board_equals_the_virtual_board(samna, n_chips):
    """Discovery (a DevBoard beside the Stack), bitfile, apply, clock, events in and out,
    decoding by hops on two chips: the same spikes as the virtual board."""
    net = _net(n_chips)
    cfg = map_network(net).config
    assert len(cfg.chips) == n_chips
    samna._double.plug("DYNAP-SE2 DevBoard")
    samna._double.plug(n_chips=2)
    samna._double.expect(cfg)
    hw = to_hardware(net)  # drained trials: independent of the idle time between them
    assert isinstance(hw.board, cur.StackBoard)
    assert samna._double.applied[-1].chips[0] == cfg.chips[0]  # what the chips hold
    x = _input()
    hw(x)  # compiles the emulated chips' simulation, which can outlast a trial's read window
    out, _, rec = hw(x, record=True)  # on a loaded machine (seen in CI runs side by side)
    want = to_hardware(net, device=VirtualBoard(n_chips))(x)[0]
    assert want.sum() > 20
    np.testing.assert_array_equal(out, want)
    if n_chips == 2:
        chips = np.concatenate([e["chip"] for e in rec["events"]])
        assert set(chips.tolist()) == {1}  # the outputs came from chip 1, read from hops
    hw.close()


def test_a_trial_across_the_timestamp_wrap(samna):
    net = _net()
    samna._double.plug()
    samna._double.expect(map_network(net).config)
    hw = to_hardware(net)
    x = _input(steps=2000, batch=1)
    hw(x)  # compiled: the next trial starts within a few hundred ms
    expected = to_hardware(net, device=VirtualBoard())(x)[0]
    # The clock wraps 1 s from now: in the middle of the next 2 s trial, whatever the drain,
    # the clock probe and the 100 ms lead take (up to 1 s on a quiet machine). On a loaded
    # machine the trial can start after the wrap; then the trial is still checked and the
    # wrap is tried again (at most 3 times), so the test never passes without a trial that
    # spans it.
    for _ in range(3):
        hw.board.device.set_fpga_clock((1 << 32) - 1_000_000)
        out, _, rec = hw(x, record=True)
        np.testing.assert_array_equal(out, expected)
        raw = rec["events"][0]["timestamp_us"] % (1 << 32)
        if raw.max() > (1 << 32) - 100_000 and raw.min() < 100_000:
            break
    assert raw.max() > (1 << 32) - 100_000 and raw.min() < 100_000  # a trial spanned the wrap


def test_drained_trials_are_independent_and_reapply_is_incremental(samna):
    net = _net()
    cfg = map_network(net).config
    samna._double.plug()
    samna._double.expect(cfg)
    hw = to_hardware(net)  # drains before each trial
    x = _input(batch=1)[0]
    first, second = hw(np.stack([x, x]))[0]
    np.testing.assert_array_equal(first, second)
    # the drain's re-apply changed biases only
    assert hw.board.last_changes is not None and not hw.board.last_changes.routing
    hw.apply(map_network(net).config)  # the same network mapped again
    assert hw.board.last_changes.empty  # nothing differs, nothing sent


def test_a_devboard_alone_is_not_a_stack(samna):
    samna._double.plug("DYNAP-SE2 DevBoard")
    with pytest.raises(
        sb.HardwareUnavailableError,
        match=r"no Dynap-SE2 Stack board found \(found: DYNAP-SE2 DevBoard\)",
    ) as e:
        to_hardware(_net())
    assert e.value.reason == "no-board"


def test_bitfile_missing_or_refused(samna, monkeypatch, tmp_path):
    samna._double.plug()
    monkeypatch.delenv(cur.BITFILE_ENV)
    with pytest.raises(
        sb.HardwareUnavailableError, match="no FPGA bitfile: the Stack board needs"
    ) as e:
        to_hardware(_net())
    assert e.value.reason == "no-bitfile"
    with pytest.raises(sb.HardwareUnavailableError, match="does not exist"):
        to_hardware(_net(), bitfile=str(tmp_path / "nothing.bit"))
    bad = tmp_path / "bad.bit"
    bad.write_bytes(b"corrupt" + b"\x00" * 8)
    with pytest.raises(sb.HardwareUnavailableError, match="refused the bitfile") as e:
        to_hardware(_net(), bitfile=str(bad))
    assert e.value.reason == "no-bitfile"
    assert samna._double.plugged[0].opened is None  # closed again


def test_an_unresponsive_fpga_times_out(samna):
    net = _net()
    samna._double.plug(responsive=False)
    samna._double.expect(map_network(net).config)
    hw = to_hardware(net, drain=False)
    with pytest.raises(TimeoutError, match="did not return the clock event"):
        hw(_input(batch=1)[0])


def test_too_few_chips_on_the_board(samna):
    net = _net(2)
    samna._double.plug(n_chips=1)
    with pytest.raises(sb.HardwareUnavailableError, match="has 2 chips; the board has 1") as e:
        to_hardware(net)
    assert e.value.reason == "too-few-chips"
    assert samna._double.plugged[0].opened is None


def test_an_old_generation_cannot_drive_a_board(monkeypatch):
    monkeypatch.setattr(
        sb, "samna_status", lambda: sb.SamnaStatus("real", "0.7.1.0", "samna 0.7.1.0")
    )
    monkeypatch.setitem(sys.modules, "samna", type(sys)("samna"))
    with pytest.raises(
        sb.HardwareUnavailableError,
        match=r"samna 0.7.1.0 converts .* cannot drive a board.*samna >= 0.14",
    ) as e:
        to_hardware(_net())
    assert e.value.reason == "unsupported"


def test_source_position_inverts_the_hops_of_host_events():
    x, y = cur.source_position(np.array([-6, -5, -2]), np.array([0, 0, 1]))
    assert x.tolist() == [0, 1, 4] and y.tolist() == [0, 0, 1]


def test_the_board_handle(samna):
    """read_configuration gives back what was applied; the board closes as a context
    manager; input hops beyond the grid from the entry chip are refused before sending."""
    net = _net()
    cfg = map_network(net).config
    samna._double.plug()
    samna._double.expect(cfg)
    with to_hardware(net, drain=False).board as board:
        held = board.read_configuration()
        assert held.chips[0].cores == cfg.chips[0].cores
        ev = np.zeros(1, dtype=EVENT_DTYPE)
        ev["x_hop"] = 7
        far = cfg.copy()
        far.chips[0].position = (3, 0)
        board.config = far  # as if the network sat 3 chips east of the entry
        with pytest.raises(ValueError, match=r"hops from chip \(0, 0\) exceed -7..7"):
            board.write(ev)
    assert samna._double.plugged[0].opened is None


def test_errors_the_board_reports_after_an_apply(samna):
    net = _net()
    cfg = map_network(net).config
    samna._double.plug()
    samna._double.expect(cfg)
    hw = to_hardware(net, drain=False)
    hw.board.model.fail_next_apply = ["chip 0 core 1: CAM write failed"]
    tuned = cfg.copy()
    tuned.chips[0].cores[0].parameters["DEAM_ITAU_P"] = Parameter(2, 10, "P")
    with pytest.raises(RuntimeError, match=r"reported 1 error\(s\) .*CAM write failed"):
        hw.apply(tuned)
