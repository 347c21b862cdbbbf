"""Run a network on a Dynap-SE2 Stack board: :func:`to_hardware` and :class:`DynapseBoard`.

:func:`to_hardware` maps the network (:func:`~dynapse2.hardware.network.map_network`), opens
the board (:func:`open_device`), applies the configuration
and returns a :class:`DynapseBoard`: a module with the usual contract, input raster
``(T, n_in)`` or ``(batch, T, n_in)`` of event counts -> output raster ``(T, n_out)`` /
``(batch, T, n_out)``. Without a usable board it raises one
:class:`~dynapse2.hardware.samna_backend.HardwareUnavailableError` whose ``reason`` is
``"missing"`` (samna not installed), ``"bootstrapper"`` (a samna that would download its
binary at import), ``"unsupported"`` (a samna generation that cannot drive a board),
``"no-board"``, ``"no-bitfile"`` or ``"too-few-chips"``, and whose message says what to do.

The board itself is driven by the adapter of the installed samna's generation
(:mod:`dynapse2.hardware.samna_current`: opening, bitfile, clock, events, drain), which is
tested against a samna double written from documented facts, never against a board. Every
step above it (encoding, timing, decoding) is pure and tested, and the whole path runs
against :class:`~dynapse2.hardware.virtual_board.VirtualBoard`, an emulated board that
answers the same calls: ``to_hardware(net, device=VirtualBoard())``. Every apply is
incremental: a drain writes 6 parameters per core, a retrained network only the neurons
whose weights changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip as C
from dynapse2.hardware import samna_backend as sb
from dynapse2.hardware import samna_current
from dynapse2.hardware.config import Configuration
from dynapse2.hardware.drain import DRAIN_PARAMETERS, leaky_configuration
from dynapse2.hardware.events import decode_output, encode_input
from dynapse2.hardware.network import map_network, pairs
from dynapse2.hardware.virtual_board import VirtualBoard
from dynapse2.nn.module import Module, simulation

__all__ = [
    "DRAIN_PARAMETERS",
    "DynapseBoard",
    "leaky_configuration",
    "open_device",
    "run_trial",
    "run_trials",
    "to_hardware",
]


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
        board: the opened :class:`~dynapse2.hardware.samna_current.StackBoard` or a
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
        board: Any,
        dt: float,
        n_in: int,
        lead_s: float | None = None,
        tail_s: float | None = None,
        drain: bool = True,
        drain_s: float = 0.005,
    ) -> None:
        where = "DynapseBoard"
        if not isinstance(config, Configuration):
            raise TypeError(f"{where}: config must be a Configuration, got {type(config).__name__}")
        checks.number(where, "dt", dt, lo=0, lo_open=True)
        checks.integer(where, "n_in", n_in, lo=1)
        for name, v in (("lead_s", lead_s), ("tail_s", tail_s)):
            if v is not None:
                checks.number(where, name, v, lo=0)
        checks.boolean(where, "drain", drain)
        checks.number(where, "drain_s", drain_s, lo=0)
        self.config, self.board, self.dt = config, board, float(dt)
        self.n_in, self.n_out = int(n_in), len(config.output_map)
        self.lead_s = float(getattr(board, "lead_s", 0.1) if lead_s is None else lead_s)
        self.tail_s = float(getattr(board, "tail_s", 0.1) if tail_s is None else tail_s)
        self.drain, self.drain_s = bool(drain), float(drain_s)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_in, self.n_out)

    def evolve(self, x: Any, record: bool = False) -> tuple[np.ndarray, dict, dict]:
        """Run ``x`` (event counts, ``(T, n_in)`` or ``(batch, T, n_in)``, bins of ``dt`` s)
        on the board: ``(spikes (T, n_out) / (batch, T, n_out), {}, record)``, with the raw
        output events per trial in ``record["events"]`` when ``record=True``."""
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
            self.board, self.config, trials, self.dt, self.lead_s, self.tail_s, drain_s
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

    def apply_network(self, net: Module, **kwargs: Any) -> DynapseBoard:
        """Map ``net`` (:func:`~dynapse2.hardware.network.map_network` with ``kwargs``) and
        :meth:`apply` its configuration; returns this module. Chip-in-the-loop training
        (``fit(..., hardware=board)``) calls it after every step, so that the training loop
        needs the board object only, never the hardware package."""
        return self.apply(map_network(net, **kwargs).config)

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
    (:class:`~dynapse2.hardware.samna_current.StackBoard` on a board, a
    :class:`~dynapse2.hardware.virtual_board.VirtualBoard`,
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


def open_device(
    cfg: Configuration | None = None, device: Any = None, bitfile: str | None = None
) -> Any:
    """Open the Stack board with the adapter of the installed samna's generation, and apply
    ``cfg`` if given.

    Generations: samna 0.7.1.0 (and older real builds) converts configurations
    (:func:`to_samna`) but has no device listing, ``NormalGridEvent`` or ``read_events``, so
    it cannot drive a board; samna 0.14 and later is driven by
    :func:`~dynapse2.hardware.samna_current.open_board` (see that module).

    Args:
        cfg: configuration to apply after opening.
        device: a samna ``DeviceInfo`` to open; default: the only Stack board listed.
        bitfile: the FPGA bitfile (default ``$DYNAPSE2_BITFILE``).

    Returns:
        A :class:`~dynapse2.hardware.samna_current.StackBoard`.

    Raises:
        HardwareUnavailableError: ``reason`` ``"missing"`` or ``"bootstrapper"`` (samna
            unusable), ``"unsupported"`` (a samna generation that cannot drive a board),
            or the adapter's (``"no-board"``, ``"no-bitfile"``, ``"too-few-chips"``).
        TypeError: ``cfg`` is not a Configuration or ``bitfile`` not a path (checked before
            samna is imported).
    """
    if cfg is not None and not isinstance(cfg, Configuration):
        raise TypeError(
            f"open_device: cfg must be a Configuration or None, got {type(cfg).__name__}"
        )
    if bitfile is not None:
        bitfile = checks.path("open_device", "bitfile", bitfile)
    samna = sb._require_samna()
    version = sb.samna_status().version
    if version is not None and sb._version_tuple(version) < samna_current.MIN_VERSION:
        need = ".".join(map(str, samna_current.MIN_VERSION))
        raise sb.HardwareUnavailableError(
            "unsupported",
            f"samna {version} converts configurations (to_samna) but cannot drive a board: it "
            f"has no device listing, NormalGridEvent or read_events; install the vendor's "
            f"samna >= {need} (Python >= 3.9) in the environment beside the board, or save the "
            "configuration with save_samna_json and apply it there.",
        )
    return samna_current.open_board(samna, cfg, device, bitfile)


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
        bitfile: FPGA bitfile to load after opening (the Stack board needs one after every
            power-up); default ``$DYNAPSE2_BITFILE``.
        drain: drain the neurons' state before every trial (see :class:`DynapseBoard`).
        **kwargs: passed to :func:`~dynapse2.hardware.network.map_network`.

    Raises:
        HardwareUnavailableError: samna missing, a bootstrapper or a generation that cannot
            drive a board, no board, no bitfile, or too few chips (``reason`` says which;
            the message says what to do).
        ValueError: the network is not supported or does not fit the chips (or the virtual
            board's chip count).
    """
    checks.boolean("to_hardware", "drain", drain)
    if bitfile is not None:
        checks.path("to_hardware", "bitfile", bitfile)
    mapping = map_network(net, **kwargs)
    if isinstance(device, VirtualBoard):
        device.apply(mapping.config)
        board: Any = device
    else:
        board = open_device(mapping.config, device, bitfile)
    n_in = net.shape[0]
    dt = pairs(mapping.network)[0][1].dt
    return DynapseBoard(mapping.config, board, dt=dt, n_in=n_in, drain=drain)
