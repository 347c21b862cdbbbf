"""Run a network on a Dynap-SE2 Stack board: :func:`to_hardware` and :class:`DynapseBoard`.

:func:`to_hardware` maps the network (:func:`~dynapse2.hardware.network.map_network`), opens
the board (:func:`~dynapse2.hardware.samna_backend.open_device`), applies the configuration
and returns a :class:`DynapseBoard`: a module with the usual contract, input raster
``(T, n_in)`` or ``(batch, T, n_in)`` of event counts -> output raster ``(T, n_out)`` /
``(batch, T, n_out)``. Without a usable board it raises one
:class:`~dynapse2.hardware.samna_backend.HardwareUnavailableError` whose ``reason`` is
``"missing"`` (samna not installed), ``"bootstrapper"`` (a samna that would download its
binary at import) or ``"no-board"`` (no device listing, or no board connected), and whose
message says what to do.

UNTESTED ON A BOARD. The event I/O (:class:`_BoardIO`) follows samna's documented Dynap-SE2
interface as used in SynSense's public examples: events are
``samna.dynapse2.NormalGridEvent`` objects (a ``Dynapse2Destination`` ``event`` plus a
``timestamp`` in FPGA ticks of 1 us), written with ``device.grid_bus_write_events(list)``
and read with ``device.read_events()``; the FPGA clock is read by sending tag 2047 (the
board's timing probe) and reading the timestamp that comes back with ``output_read()``;
``model.reset(ResetType.LogicReset, chip_mask)`` flushes the event buffers; draining the
neurons' state applies :func:`leaky_configuration` (every leak current at its maximum), waits,
and applies the network's configuration again. Every apply is incremental
(:meth:`~dynapse2.hardware.samna_backend.Board.apply`): a drain writes 6 parameters per core,
a retrained network only the neurons whose weights changed. Everything above that layer (encoding,
decoding, timing) is pure and tested, and the whole path runs against
:class:`~dynapse2.hardware.virtual_board.VirtualBoard`, an emulated board that answers the
same calls: ``to_hardware(net, device=VirtualBoard())``.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration, Parameter
from dynapse2.hardware.events import EVENT_DTYPE, decode_output, encode_input
from dynapse2.hardware.network import map_network
from dynapse2.hardware.samna_backend import Board, open_device
from dynapse2.hardware.virtual_board import VirtualBoard
from dynapse2.nn.dynapsim import TAU_OF
from dynapse2.nn.module import Module, simulation

__all__ = ["DynapseBoard", "leaky_configuration", "run_trial", "run_trials", "to_hardware"]

DRAIN_PARAMETERS: tuple[str, ...] = tuple(C.SIM_TO_BG[leak] for _, leak in TAU_OF.values())
"""BG parameters of the leak currents of every DPI (the four synapses, the membrane, the
adaptation): at their maximum they empty the circuits' capacitors (:func:`leaky_configuration`)."""


def leaky_configuration(cfg: Configuration) -> Configuration:
    """A copy of ``cfg`` with every leak current (:data:`DRAIN_PARAMETERS`) at the BG's
    maximum, coarse 5 fine 255, on every core: applied for a few milliseconds, it drains the
    neurons' and synapses' state (the practice of Rockpool's Dynap-SE2 board support)."""
    out = cfg.copy()
    top = (C.BG_COARSE_MAX, C.BG_FINE_MAX)
    for chip in out.chips:
        for core in chip.cores:
            for name in DRAIN_PARAMETERS:
                core.parameters[name] = Parameter(*top, C.CORE_PARAMETERS[name])
    return out


class _BoardIO:
    """The only code that moves events to and from the board (untested on a board)."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.device = board.device
        import samna.dynapse2 as se2  # noqa: PLC0415  (samna is real here: the board is open)

        self.se2 = se2

    def _event(self, tag: int, core_mask: int, x_hop: int, y_hop: int, ts: int) -> Any:
        ev = self.se2.NormalGridEvent()
        dest = self.se2.Dynapse2Destination()
        dest.tag = int(tag)
        dest.core = [bool(core_mask >> i & 1) for i in range(C.N_CORES)]
        dest.x_hop, dest.y_hop = int(x_hop), int(y_hop)
        ev.event = dest
        ev.timestamp = int(ts)
        return ev

    def flush(self, n_chips: int) -> None:
        self.board.model.reset(self.se2.ResetType.LogicReset, (1 << n_chips) - 1)
        self.device.read_events()

    def drain(self, cfg: Configuration, seconds: float) -> None:
        """Drain the analog state: the leaky configuration for ``seconds``, then ``cfg``."""
        self.board.apply(leaky_configuration(cfg))
        time.sleep(seconds)
        self.board.apply(cfg)

    def now_us(self, wait_s: float = 0.01, retries: int = 20) -> int:
        """The FPGA clock (us), by bouncing the timing probe (tag 2047) off the board."""
        probe = self._event(max(C.RESERVED_TAGS), 0b1111, C.HOP_MIN, C.HOP_MIN, 0)
        self.device.input_interface_write_events(0, [probe] * 4)
        for _ in range(retries):
            time.sleep(wait_s)
            stamps = self.device.output_read()
            if len(stamps):
                return int(stamps[-1])
            wait_s *= 2
        raise TimeoutError("the board's FPGA did not answer the timing probe")

    def write(self, events: np.ndarray) -> None:
        self.device.grid_bus_write_events(
            [
                self._event(e["tag"], e["core_mask"], e["x_hop"], e["y_hop"], e["timestamp_us"])
                for e in events
            ]
        )

    def read(self, duration_s: float, poll_s: float = 0.01) -> np.ndarray:
        """Events that reach the host within ``duration_s``, as :data:`EVENT_DTYPE`."""
        rows = []
        stop = time.time() + duration_s
        while time.time() < stop:
            for ev in self.device.read_events():
                d = ev.event
                mask = sum(int(bool(b)) << i for i, b in enumerate(d.core))
                rows.append((0, d.tag, mask, d.x_hop, d.y_hop, ev.timestamp))
            time.sleep(poll_s)
        return np.array(rows, dtype=EVENT_DTYPE)


class DynapseBoard(Module):
    """A network running on a Dynap-SE2 Stack board, real or virtual (see the module docstring).

    Built by :func:`to_hardware`. Calling it, ``board(x)``, sends ``x`` as timed events and
    returns ``(spikes, {}, record)``: ``spikes`` an int32 raster of the output channels (the
    last population's neurons) of ``x``'s leading shape; ``record`` holds the raw output
    ``events`` of every trial when ``record=True``. The trials of a batch run one after
    another on the board, which keeps its own (analog) state: with ``drain=True`` (default)
    the state is drained before every trial, so that trials are independent.

    Attributes:
        config: the applied configuration.
        board: the opened :class:`~dynapse2.hardware.samna_backend.Board` or a
            :class:`~dynapse2.hardware.virtual_board.VirtualBoard`.
        dt: seconds per time bin of the rasters.
        lead_s: time between reading the FPGA clock and the first input bin (s).
        tail_s: time to keep reading after the last bin (s).
        drain: drain the neurons' state before each trial.
        drain_s: how long a drain lasts (s).
    """

    on_board: ClassVar[bool] = True  # evaluate() and fit() run it unjitted, spikes only

    config: Configuration = simulation()
    board: Any = simulation()
    dt: float = simulation()
    lead_s: float = simulation()
    tail_s: float = simulation()
    n_in: int = simulation()
    n_out: int = simulation()
    drain: bool = simulation()
    drain_s: float = simulation()

    def __init__(
        self,
        config: Configuration,
        board: Board | VirtualBoard,
        dt: float,
        n_in: int,
        lead_s: float | None = None,
        tail_s: float | None = None,
        drain: bool = True,
        drain_s: float = 0.005,
    ) -> None:
        self.config, self.board, self.dt = config, board, float(dt)
        self.n_in, self.n_out = int(n_in), len(config.output_map)
        self.lead_s = float(getattr(board, "lead_s", 0.1) if lead_s is None else lead_s)
        self.tail_s = float(getattr(board, "tail_s", 0.1) if tail_s is None else tail_s)
        self.drain, self.drain_s = bool(drain), float(drain_s)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_in, self.n_out)

    def _io(self) -> Any:
        return self.board if isinstance(self.board, VirtualBoard) else _BoardIO(self.board)

    def evolve(self, x: Any, record: bool = False) -> tuple[np.ndarray, dict, dict]:
        x = np.asarray(x)
        batched = x.ndim == 3
        trials = x if batched else x[None]
        if trials.ndim != 3 or trials.shape[-1] != self.n_in:
            raise ValueError(
                f"DynapseBoard: input has shape {x.shape}; expected (T, {self.n_in}) or "
                f"(batch, T, {self.n_in})"
            )
        drain_s = self.drain_s if self.drain else None
        runs = run_trials(
            self._io(), self.config, trials, self.dt, self.lead_s, self.tail_s, drain_s
        )
        spikes = np.stack([out for out, _ in runs])
        events = [ev for _, ev in runs]
        return (spikes if batched else spikes[0]), {}, ({"events": events} if record else {})

    def apply(self, config: Configuration) -> DynapseBoard:
        """Apply another configuration of the same network shape (e.g. retrained weights) to
        the board; this module runs it from then on (a board handle is stateful, like a file:
        the module is updated in place) and is returned. Only what differs from the applied
        configuration is written (``board.last_changes`` says what)."""
        if max(config.input_map, default=-1) >= self.n_in or len(config.output_map) != self.n_out:
            raise ValueError(
                f"DynapseBoard.apply: the configuration has {len(config.output_map)} outputs "
                f"and input channels up to {max(config.input_map, default=-1)}; this board "
                f"module has {self.n_in} inputs and {self.n_out} outputs"
            )
        self.board.apply(config)
        object.__setattr__(self, "config", config)  # the board now holds it
        return self

    def close(self) -> None:
        """Close the board."""
        self.board.close()


def _counts(cfg: Configuration, raster: np.ndarray) -> np.ndarray:
    """``raster`` as integer event counts, with the channels no synapse listens to zeroed."""
    raster = np.asarray(raster)
    if raster.dtype.kind == "f":
        if not np.all(raster == np.round(raster)) or (raster < 0).any():
            raise ValueError("the board takes non-negative integer event counts per bin")
        raster = raster.astype(np.int64)
    routed = np.zeros(raster.shape[1], bool)
    routed[[c for c in cfg.input_map if c < raster.shape[1]]] = True
    return np.where(routed, raster, 0)


def run_trial(
    io: Any, cfg: Configuration, raster: np.ndarray, dt: float, lead_s: float, tail_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Send one ``(T, n_in)`` raster and return ``((T, n_out) raster, raw events)``.

    ``io`` provides ``flush(n_chips)``, ``now_us()``, ``write(events)``, ``read(seconds)``
    (:class:`_BoardIO` on a board, a :class:`~dynapse2.hardware.virtual_board.VirtualBoard`,
    or any object with these methods in tests). Channels without an input route (no synapse
    listens to them) are not sent.
    """
    raster = _counts(cfg, raster)
    dt_us = int(round(dt / C.FPGA_TICK_S))
    io.flush(len(cfg.chips))
    t0 = io.now_us() + int(round(lead_s / C.FPGA_TICK_S))
    io.write(encode_input(raster, cfg.input_map, dt_us, t0))
    ev = io.read(lead_s + raster.shape[0] * dt + tail_s)
    return decode_output(ev, cfg.output_map, raster.shape[0], dt_us, t0), ev


def run_trials(
    io: Any,
    cfg: Configuration,
    rasters: np.ndarray,
    dt: float,
    lead_s: float,
    tail_s: float,
    drain_s: float | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`run_trial` for each ``(T, n_in)`` raster of ``rasters``, one after another,
    each after a drain of ``drain_s`` seconds when given (``io.drain(cfg, drain_s)``).

    Drained trials are independent; a board that can run them side by side (a
    :class:`~dynapse2.hardware.virtual_board.VirtualBoard`'s ``trials_from_rest``) gets them
    as one batch, with the same events, state and counters as one by one.
    """
    if drain_s is None or not hasattr(io, "trials_from_rest"):
        out = []
        for raster in rasters:
            if drain_s is not None:
                io.drain(cfg, drain_s)
            out.append(run_trial(io, cfg, raster, dt, lead_s, tail_s))
        return out
    counts = [_counts(cfg, r) for r in rasters]
    steps = counts[0].shape[0] if counts else 0
    dt_us, lead_us = int(round(dt / C.FPGA_TICK_S)), int(round(lead_s / C.FPGA_TICK_S))
    runs = io.trials_from_rest(
        lambda i, start: encode_input(counts[i], cfg.input_map, dt_us, start + lead_us),
        len(counts),
        lead_s + steps * dt + tail_s,
        drain_s,
    )
    return [
        (decode_output(ev, cfg.output_map, steps, dt_us, start + lead_us), ev) for start, ev in runs
    ]


def to_hardware(
    net: Module,
    device: Any = None,
    *,
    bitfile: str | None = None,
    drain: bool = True,
    **kwargs: Any,
) -> DynapseBoard:
    """Map ``net``, open a Stack board, apply the configuration; return the board as a module.

    Args:
        net: a supported network (see :mod:`dynapse2.hardware.network`).
        device: a :class:`~dynapse2.hardware.virtual_board.VirtualBoard` (an emulated board),
            or the samna ``DeviceInfo`` of a board; default: the first Dynap-SE2 found.
        bitfile: FPGA bitfile to load after opening (the Stack board needs one after
            power-up).
        drain: drain the neurons' state before every trial (see :class:`DynapseBoard`).
        **kwargs: passed to :func:`~dynapse2.hardware.network.map_network`.

    Raises:
        HardwareUnavailableError: samna missing or a bootstrapper, or no board (``reason``
            says which; the message says what to do).
        ValueError: the network is not supported or does not fit the chips (or the virtual
            board's chip count).
    """
    mapping = map_network(net, **kwargs)
    if isinstance(device, VirtualBoard):
        device.apply(mapping.config)
        board: Board | VirtualBoard = device
    else:
        board = open_device(mapping.config, device, bitfile)
    first = net.modules[0] if hasattr(net, "modules") else net
    n_in = first.shape[0]
    dt = mapping.network.modules[1].dt
    return DynapseBoard(mapping.config, board, dt=dt, n_in=n_in, drain=drain)
