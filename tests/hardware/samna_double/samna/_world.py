"""The double's physical world: boards plugged in, each a Stack (or another board) whose
chips are a VirtualBoard running in wall-clock time."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration
from dynapse2.hardware.device import DRAIN_PARAMETERS
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.virtual_board import VirtualBoard

from . import dynapse2 as se2

WRAP = 1 << 32
CONTROL_TAG = C.TAG_MAX
CONTROL_IN, CONTROL_OUT = (C.HOP_MIN, C.HOP_MIN), (C.HOP_MIN + 1, C.HOP_MIN)
CHUNK = 10
"""Simulation steps the emulated chips run at a time."""
BAD_BITFILE = b"corrupt"
"""A bitfile starting with these bytes is refused by the double's FPGA."""


@dataclass
class DeviceInfo:
    device_type_name: str
    serial_number: str
    usb_bus_number: int = 1
    usb_device_address: int = 1
    daughter_board_num: int = 0
    logic_version: int = 0


class Hardware:
    """One plugged-in board: its chips (a VirtualBoard), FPGA clock offset and state."""

    def __init__(self, info, board, clock_start_us, responsive):
        self.info, self.board = info, board
        self.clock_start_us, self.responsive = int(clock_start_us), responsive
        self.opened = None


class World:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.plugged: list[Hardware] = []
        self.expected: Configuration | None = None
        self.applied: list[Configuration] = []

    def plug(
        self,
        type_name: str = "DYNAP-SE2 Stack",
        *,
        n_chips: int = 1,
        mismatch: float = 0.0,
        seed: int = 0,
        clock_start_us: int = 0,
        responsive: bool = True,
    ) -> Hardware:
        """Connect a board whose FPGA clock reads ``clock_start_us`` when it is reset;
        ``responsive=False``: an FPGA that never answers (e.g. not powered)."""
        info = DeviceInfo(type_name, f"double-{len(self.plugged)}")
        board = VirtualBoard(n_chips, mismatch, seed)
        h = Hardware(info, board, clock_start_us, responsive)
        self.plugged.append(h)
        return h

    def expect(self, cfg: Configuration) -> None:
        """The maps and metadata of the network the chips will be given."""
        self.expected = cfg

    def open(self, info: DeviceInfo):
        h = next(h for h in self.plugged if h.info is info)
        if h.opened is None:
            h.opened = Dynapse2Stack(self, h)
        return h.opened  # a device is opened once per process; again: the same handle

    def close(self, device) -> None:
        device.hardware.opened = None
        device.closed = True


def _is_leaky(cfg: Configuration, n_chips: int) -> bool:
    """Every leak of the first ``n_chips`` chips (those the network uses) at its maximum."""
    top = (C.BG_COARSE_MAX, C.BG_FINE_MAX)
    return all(
        (core.parameters[p].coarse, core.parameters[p].fine) == top
        for chip in cfg.chips[:n_chips]
        for core in chip.cores
        for p in DRAIN_PARAMETERS
    )


class Dynapse2Model:
    def __init__(self, world: World, hardware: Hardware) -> None:
        self.world, self.hardware = world, hardware
        n = hardware.board.n_chips
        self._held = Configuration.reset(n)
        self.errors: list = []
        self.fail_next_apply: list = []  # test hook: errors the next apply reports

    def get_configuration(self):
        from dynapse2.hardware.samna_backend import to_samna

        obj = se2.Dynapse2Configuration()
        obj.chips = [se2.Dynapse2Chip() for _ in self._held.chips]
        return to_samna(self._held, base=obj)

    def apply_configuration(self, obj) -> bool:
        """What the chips now hold: the received chips, with the expected network's maps."""
        from dynapse2.hardware.samna_backend import from_samna

        received = from_samna(obj)
        self._held = received
        self.errors += self.fail_next_apply
        self.fail_next_apply = []
        self.world.applied.append(received)
        board = self.hardware.board
        exp = self.world.expected
        if exp is None:
            raise RuntimeError("samna double: call samna._double.expect(cfg) first")
        if _is_leaky(received, len(exp.chips)):
            board.drain()  # every leak at its maximum: the capacitors empty
            return True
        chips = received.chips[: len(exp.chips)]
        for c, e in zip(chips, exp.chips, strict=True):
            c.position = e.position
        board.apply(
            Configuration(chips, input_map=exp.input_map, output_map=exp.output_map, meta=exp.meta)
        )
        return True

    def clear_error_queue(self) -> None:
        self.errors.clear()

    def get_error_events(self) -> list:
        return list(self.errors)


class Dynapse2Stack:
    """An opened board."""

    def __init__(self, world: World, hardware: Hardware) -> None:
        self.world, self.hardware = world, hardware
        self.model = Dynapse2Model(world, hardware)
        self.configured, self.closed = False, False
        self._t0 = time.monotonic()
        self._pending: list = []

    # FPGA
    def configure_opal_kelly(self, path: str) -> bool:
        if not os.path.isfile(path):
            return False
        with open(path, "rb") as f:
            self.configured = not f.read(len(BAD_BITFILE)).startswith(BAD_BITFILE)
        return self.configured

    def reset_fpga(self) -> None:
        self._t0 = time.monotonic()  # the clock restarts from clock_start_us

    def get_model(self) -> Dynapse2Model:
        return self.model

    def get_number_of_chips(self) -> int:
        return self.hardware.board.n_chips

    # clock: board time (us since reset) and the 32-bit FPGA stamp
    def _now(self) -> int:
        """Board time (us since the reset), in whole steps of the emulating simulator: its
        chips advance in steps of dt, so the clock it reports does too (on silicon, time is
        continuous and bins fall where they fall)."""
        us = int((time.monotonic() - self._t0) * 1e6)
        step = getattr(self.hardware.board, "_step_us", 1)
        return us - us % step

    def set_fpga_clock(self, stamp: int) -> None:
        """Test hook (not samna's): make the FPGA clock read ``stamp`` now."""
        self.hardware.clock_start_us = (int(stamp) - self._now()) % WRAP

    def _stamp(self, board_us: int) -> int:
        return (self.hardware.clock_start_us + board_us) % WRAP

    def _board_time(self, stamp: int) -> int:
        """A 32-bit stamp as board time: the nearest at or after now minus one wrap half."""
        now = self._now()
        raw_now = self._stamp(now)
        return now + ((int(stamp) - raw_now + WRAP // 2) % WRAP) - WRAP // 2

    def _alive(self) -> bool:
        return self.configured and self.hardware.responsive and not self.closed

    # events
    def input_interface_write_events(self, interface: int, events: list) -> None:
        if not self._alive():
            return
        for ev in events:
            d = ev.event
            if d.tag == CONTROL_TAG and (d.x_hop, d.y_hop) == CONTROL_IN:
                back = se2.NormalGridEvent()
                back.event.tag, back.event.core = d.tag, list(d.core)
                back.event.x_hop, back.event.y_hop = CONTROL_OUT
                back.timestamp = self._stamp(self._now())
                self._pending.append(back)

    def grid_bus_write_events(self, events: list) -> None:
        if not self._alive():
            return
        board = self.hardware.board
        entry = [i for i, c in enumerate(board.config.chips) if tuple(c.position) == (0, 0)]
        out = np.zeros(len(events), EVENT_DTYPE)
        for i, ev in enumerate(events):
            d = ev.event
            mask = sum(int(bool(b)) << k for k, b in enumerate(d.core))
            out[i] = (entry[0], d.tag, mask, d.x_hop, d.y_hop, self._board_time(ev.timestamp))
        board.write(out)

    def read_events(self) -> list:
        if not self._alive():
            return []
        board = self.hardware.board
        if board.config is not None:
            # the chips run in chunks of CHUNK steps (one compiled simulation), so events
            # reach the host up to CHUNK steps late, as through a USB link
            chunks = (self._now() - board.clock_us) // (board._step_us * CHUNK)
            if chunks > 0:
                for e in self._run(board, int(chunks)):
                    x, y = board.config.chips[int(e["chip"])].position
                    ev = se2.NormalGridEvent()
                    ev.event.tag = int(e["tag"])
                    ev.event.core = [bool(int(e["core_mask"]) >> k & 1) for k in range(4)]
                    ev.event.x_hop, ev.event.y_hop = C.HOP_MIN + 1 + x, y
                    ev.timestamp = self._stamp(int(e["timestamp_us"]))
                    self._pending.append(ev)
        out, self._pending = self._pending, []
        return out

    @staticmethod
    def _run(board: VirtualBoard, chunks: int) -> np.ndarray:
        seconds = CHUNK * board._step_us * C.FPGA_TICK_S
        return np.concatenate([board.read(seconds) for _ in range(chunks)])


WORLD = World()
"""The one world of this process (``samna._double``)."""
