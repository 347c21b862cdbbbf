"""The board adapter for current samna (0.14 and later): :class:`StackBoard`, :func:`open_board`.

The only code that drives a Dynap-SE2 Stack board. It follows how current samna is used for
Dynap-SE2 by working code (SynSense's Rockpool and the INI lab scripts; see
``shared/samna-current.md`` of the project), and is tested against a samna double written
from those facts (``tests/hardware/samna_double``), never against a board:

- **Opening**: ``samna.device.get_all_devices()`` lists ``DeviceInfo`` objects; the Stack is
  the one whose ``device_type_name`` is ``"DYNAP-SE2 Stack"`` (a ``"DYNAP-SE2 DevBoard"`` is
  another board, not driven here). ``samna.device.open_device(info)`` opens it;
  ``configure_opal_kelly(bitfile)`` loads the FPGA, which must be done after every power-up,
  and returns ``False`` on failure; then ``reset_fpga()``.
- **Configuration**: ``model = device.get_model()``; before applying,
  ``model.clear_error_queue()``; ``model.apply_configuration(obj)`` sends what differs from
  the applied configuration; working code waits about 0.1 s after it (``settle_s``); then
  ``model.get_error_events()`` lists what went wrong (an error is raised if anything did).
- **Clock**: a control event (tag 2047, all cores, ``x_hop = y_hop = -7``) written with
  ``input_interface_write_events(0, [...])`` comes back through ``read_events()`` with
  ``x_hop = -6, y_hop = -7``; its ``timestamp`` is the FPGA clock in microseconds.
- **Events**: ``samna.dynapse2.NormalGridEvent`` (``.event``, a ``Dynapse2Destination``
  with ``tag``, ``core`` (4 bools), ``x_hop``, ``y_hop``; ``.timestamp`` in us), written
  with ``grid_bus_write_events(list)`` and read by polling ``read_events()``. Timestamps are
  32-bit and wrap after 2**32 us (71.6 min); this adapter unwraps them against its own clock,
  so a trial may span a wrap.
- **State between trials**: drained by applying
  :func:`~dynapse2.hardware.drain.leaky_configuration` for a few ms (no ``LogicReset``).

Unverified (no public source states it; the double assumes the same):

- input events enter the grid at the chip at position ``(0, 0)``, their hops counted from
  there (:meth:`StackBoard.write`);
- the source chip of an output event follows from its received hops the way the control
  event's does: each chip the event passes westward on its way to the FPGA adds 1 to its
  ``x_hop``, so a chip at grid position ``(x, y)`` that sends with
  :data:`~dynapse2.hardware.chip.HOST_HOPS` ``(-7, 0)`` is received with
  ``x_hop = -6 + x`` and ``y_hop = y`` (:func:`source_position`);
- ``get_number_of_chips()`` tells the chips on the board.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Chip, Configuration
from dynapse2.hardware.config_diff import Changes, changes
from dynapse2.hardware.drain import leaky_configuration
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.masks import bits_mask, mask_bits
from dynapse2.hardware.samna_backend import HardwareUnavailableError, from_samna, to_samna

__all__ = ["STACK_NAME", "MIN_VERSION", "StackBoard", "open_board", "source_position"]

STACK_NAME = "DYNAP-SE2 Stack"
"""``DeviceInfo.device_type_name`` of the Stack board."""
MIN_VERSION: tuple[int, ...] = (0, 14)
"""The oldest samna generation with device listing, ``NormalGridEvent`` and ``read_events``."""
BITFILE_ENV = "DYNAPSE2_BITFILE"
"""Environment variable naming the FPGA bitfile when ``bitfile=`` is not given."""
CLOCK_TAG = C.TAG_MAX
"""Tag of the control event that reads the FPGA clock."""
CLOCK_SENT_HOPS: tuple[int, int] = (C.HOP_MIN, C.HOP_MIN)
CLOCK_BACK_HOPS: tuple[int, int] = (C.HOP_MIN + 1, C.HOP_MIN)
_WRAP = 1 << 32


def source_position(x_hop: np.ndarray, y_hop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid position ``(x, y)`` of the chip an output event came from, by its received hops
    (inferred, see the module docstring)."""
    return np.asarray(x_hop) - (C.HOST_HOPS[0] + 1), np.asarray(y_hop) - C.HOST_HOPS[1]


def _unavailable(reason: str, message: str) -> Exception:
    return HardwareUnavailableError(reason, message)


class StackBoard:
    """An opened Stack board: the event interface that
    :func:`~dynapse2.hardware.device.run_trial` drives (``flush``, ``drain``, ``now_us``,
    ``write``, ``read``) plus ``apply``, ``read_configuration`` and ``close``.

    Args:
        samna: the imported samna module.
        device: samna's opened device (``samna.device.open_device(info)``).
        settle_s: wait after each applied configuration (s; default 0.1).
        poll_s: interval between ``read_events()`` polls (s; default 1 ms).

    Attributes:
        config: the applied configuration (``None`` before :meth:`apply`).
        last_changes: what the last :meth:`apply` changed (``None`` for the first).
        lead_s, tail_s: margins of a trial: the input starts ``lead_s`` after the clock
            was read (USB latency), and events are read until ``tail_s`` after the last bin.
    """

    lead_s: float = 0.1
    tail_s: float = 0.05
    settle_s: float = 0.1
    poll_s: float = 1e-3

    def __init__(
        self,
        samna: Any,
        device: Any,
        *,
        n_chips: int | None = None,
        settle_s: float | None = None,
        poll_s: float | None = None,
    ):
        self._samna, self.device = samna, device
        self.model = device.get_model()
        self.n_chips = None if n_chips is None else int(n_chips)
        if settle_s is not None:
            self.settle_s = float(settle_s)
        if poll_s is not None:
            self.poll_s = float(poll_s)
        self.config: Configuration | None = None
        self.last_changes: Changes | None = None
        self._target: Any = None  # samna's configuration object that holds self.config
        self._clock: int | None = None  # last FPGA time seen, unwrapped (us)
        self._positions: dict[tuple[int, int], int] = {}

    # -- configuration ---------------------------------------------------------------------
    def apply(self, cfg: Configuration) -> None:
        """Write ``cfg`` into the board's configuration and apply it.

        Incremental: after the first call, only the chips, cores and neurons that differ
        from the configuration applied last (:func:`~dynapse2.hardware.config_diff.changes`,
        kept in :attr:`last_changes`) are written into samna's configuration object, and
        nothing is sent when nothing differs; samna's ``apply_configuration`` sends the
        differences to the chips.

        Raises:
            RuntimeError: samna refused the configuration, or the board reported errors
                after applying it (the first five are quoted).
        """
        cfg = self._padded(cfg)
        ch = None if self.config is None else changes(self.config, cfg)
        if ch is not None and ch.empty:
            self.last_changes = ch
            return
        if ch is None or ch.layout:
            self._target = to_samna(cfg, base=self.model.get_configuration())
        else:
            to_samna(cfg, base=self._target, changed=ch)
        self.model.clear_error_queue()
        if self.model.apply_configuration(self._target) is False:
            raise RuntimeError("the board refused the configuration (apply_configuration)")
        time.sleep(self.settle_s)
        errors = list(self.model.get_error_events())
        if errors:
            shown = "; ".join(str(e) for e in errors[:5])
            raise RuntimeError(
                f"the board reported {len(errors)} error(s) after applying the configuration: "
                f"{shown}"
            )
        self.config = cfg.copy()  # what the board holds, whatever the caller does to cfg
        self.last_changes = ch
        self._positions = {
            (int(c.position[0]), int(c.position[1])): i for i, c in enumerate(cfg.chips)
        }

    def _padded(self, cfg: Configuration) -> Configuration:
        """``cfg`` (validated) with reset chips appended up to the board's chip count (samna's
        configuration holds every chip of the board)."""
        cfg.validate()
        if self.n_chips is None or len(cfg.chips) >= self.n_chips:
            return cfg
        x0 = max(c.position[0] for c in cfg.chips) + 1
        extra = [Chip(position=(x0 + i, 0)) for i in range(self.n_chips - len(cfg.chips))]
        return Configuration(
            [*cfg.chips, *extra], input_map=cfg.input_map, output_map=cfg.output_map, meta=cfg.meta
        )

    def read_configuration(self) -> Configuration:
        """The configuration the board holds now (samna's copy of the last applied one)."""
        return from_samna(self.model.get_configuration())

    # -- events ----------------------------------------------------------------------------
    def _event(self, tag: int, core_mask: int, x_hop: int, y_hop: int, ts: int) -> Any:
        se2 = self._samna.dynapse2
        dest = se2.Dynapse2Destination()
        dest.tag = int(tag)
        dest.core = list(mask_bits(core_mask, C.N_CORES))
        dest.x_hop, dest.y_hop = int(x_hop), int(y_hop)
        ev = se2.NormalGridEvent()
        ev.event = dest
        ev.timestamp = int(ts) % _WRAP
        return ev

    def _unwrap(self, stamp: int) -> int:
        """A 32-bit FPGA timestamp as the unwrapped time nearest to the last one seen (a
        trial is far shorter than half a wrap, 35.8 min)."""
        if self._clock is None:
            return int(stamp)
        return self._clock + (int(stamp) - self._clock + _WRAP // 2) % _WRAP - _WRAP // 2

    def flush(self, n_chips: int | None = None) -> None:
        """Discard the events waiting to be read."""
        self.device.read_events()

    def drain(self, cfg: Configuration, seconds: float) -> None:
        """Drain the analog state: the leaky configuration for ``seconds``, then ``cfg``."""
        self.apply(leaky_configuration(cfg))
        time.sleep(seconds)
        self.apply(cfg)

    def now_us(self, timeout_s: float = 1.0) -> int:
        """The FPGA clock (us, unwrapped), by bouncing a control event off the board.

        Raises:
            TimeoutError: the control event did not come back within ``timeout_s``.
        """
        probe = self._event(CLOCK_TAG, (1 << C.N_CORES) - 1, *CLOCK_SENT_HOPS, 0)
        self.device.input_interface_write_events(0, [probe])
        stop = time.monotonic() + timeout_s
        while time.monotonic() < stop:
            for ev in self.device.read_events():
                d = ev.event
                if d.tag == CLOCK_TAG and (d.x_hop, d.y_hop) == CLOCK_BACK_HOPS:
                    self._clock = self._unwrap(ev.timestamp)
                    return self._clock
            time.sleep(self.poll_s)
        raise TimeoutError(
            f"the board's FPGA did not return the clock event within {timeout_s} s (is the "
            "bitfile loaded and the board powered?)"
        )

    def write(self, events: np.ndarray) -> None:
        """Send timed input events (:data:`~dynapse2.hardware.events.EVENT_DTYPE`, unwrapped
        timestamps). The FPGA injects every event at the chip at grid position (0, 0)
        (inferred, see the module docstring), so an event for chip ``c`` with hops
        ``(dx, dy)`` is sent with hops ``position(c) + (dx, dy)``."""
        if self.config is None:
            raise RuntimeError("StackBoard.write: apply a configuration before sending events")
        pos = np.array([c.position for c in self.config.chips], np.int64)[events["chip"]]
        x = pos[:, 0] + events["x_hop"]
        y = pos[:, 1] + events["y_hop"]
        if events.size and (np.abs(x).max() > C.HOP_MAX or np.abs(y).max() > C.HOP_MAX):
            raise ValueError("an input event's hops from chip (0, 0) exceed -7..7")
        self.device.grid_bus_write_events(
            [
                self._event(e["tag"], e["core_mask"], xi, yi, e["timestamp_us"])
                for e, xi, yi in zip(events, x.tolist(), y.tolist(), strict=True)
            ]
        )

    def read(self, duration_s: float) -> np.ndarray:
        """The output events that reach the host within ``duration_s`` of wall time, with
        unwrapped timestamps and the source chip derived from their hops
        (:func:`source_position`); control events are left out."""
        rows = []
        stop = time.monotonic() + duration_s
        while True:
            # decided before reading, so the last read starts after the window has closed:
            # what reached the host while the previous read was being handled is kept
            done = time.monotonic() >= stop
            for ev in self.device.read_events():
                d = ev.event
                if d.tag == CLOCK_TAG and (d.x_hop, d.y_hop) == CLOCK_BACK_HOPS:
                    continue
                self._clock = self._unwrap(ev.timestamp)
                x, y = source_position(d.x_hop, d.y_hop)
                chip = self._positions.get((int(x), int(y)), -1)
                mask = bits_mask(d.core)
                rows.append((chip, d.tag, mask, d.x_hop, d.y_hop, self._clock))
            if done:
                break
            time.sleep(self.poll_s)
        return np.array(rows, dtype=EVENT_DTYPE)

    def close(self) -> None:
        """Close the device."""
        self._samna.device.close_device(self.device)

    def __enter__(self) -> StackBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_board(
    samna: Any, cfg: Configuration | None = None, device: Any = None, bitfile: str | None = None
) -> StackBoard:
    """Find and open the Stack board, load the FPGA, and apply ``cfg`` if given.

    Args:
        samna: the imported samna module (a current build).
        cfg: configuration to apply after opening.
        device: a samna ``DeviceInfo`` to open; default: the only ``"DYNAP-SE2 Stack"``.
        bitfile: the FPGA bitfile (``Dynapse2Stack.bit``, shipped with the vendor's
            software); default: the file named by ``$DYNAPSE2_BITFILE``.

    Raises:
        HardwareUnavailableError: ``reason`` ``"no-board"`` (no Stack listed, or several),
            ``"no-bitfile"`` (none given, a missing file, or one the FPGA refused) or
            ``"too-few-chips"`` (``cfg`` needs more chips than the board has).
    """
    listing = samna.device.get_all_devices()
    if device is None:
        stacks = [i for i in listing if str(i.device_type_name) == STACK_NAME]
        others = sorted({str(i.device_type_name) for i in listing} - {STACK_NAME})
        if not stacks:
            seen = f" (found: {', '.join(others)})" if others else ""
            raise _unavailable(
                "no-board",
                f"no Dynap-SE2 Stack board found{seen}: connect it by USB 3, power it, install "
                "samna's udev rules on Linux, and run `python -m dynapse2.doctor`.",
            )
        if len(stacks) > 1:
            raise _unavailable(
                "no-board",
                f"{len(stacks)} Stack boards found; pass device= one of "
                "samna.device.get_all_devices()",
            )
        device = stacks[0]
    bitfile = bitfile if bitfile is not None else os.environ.get(BITFILE_ENV)
    if not bitfile:
        raise _unavailable(
            "no-bitfile",
            f"no FPGA bitfile: the Stack board needs one after every power-up; pass "
            f"to_hardware(net, bitfile=...) or set {BITFILE_ENV} to the Dynapse2Stack.bit "
            "that ships with the vendor's software",
        )
    if not os.path.isfile(bitfile):
        raise _unavailable("no-bitfile", f"the FPGA bitfile {bitfile!r} does not exist")
    opened = samna.device.open_device(device)
    try:
        if not opened.configure_opal_kelly(str(bitfile)):
            raise _unavailable(
                "no-bitfile",
                f"the board's FPGA refused the bitfile {bitfile!r} (configure_opal_kelly "
                "returned False): use the Dynapse2Stack.bit of the vendor's samna release",
            )
        time.sleep(0.1)
        opened.reset_fpga()
        time.sleep(0.1)
        n = int(opened.get_number_of_chips())
        board = StackBoard(samna, opened, n_chips=n)
        if cfg is not None:
            if len(cfg.chips) > n:
                raise _unavailable(
                    "too-few-chips",
                    f"the configuration has {len(cfg.chips)} chips; the board has {n} (map "
                    "the network onto fewer chips)",
                )
            board.apply(cfg)
    except BaseException:
        samna.device.close_device(opened)
        raise
    return board
