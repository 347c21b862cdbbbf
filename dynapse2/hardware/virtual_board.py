"""An emulated Dynap-SE2 Stack board: :class:`VirtualBoard`.

``to_hardware(net, device=VirtualBoard(...))`` runs every step a real board runs except the
samna calls themselves: the configuration is applied and the board simulates what the silicon
holds (:func:`~dynapse2.hardware.network.network_from_config`: the quantized CAM/SRAM entries
and bias-generator settings, never the float network), input rasters reach it as timed
events (:func:`~dynapse2.hardware.events.encode_input`), each event is delivered by its tag,
core mask and hops to the cores that listen, and the spikes of every neuron with a
destination toward the host come back as timed events, decoded by the host
(:func:`~dynapse2.hardware.events.decode_output`).

The board is the object behind the event interface that
:func:`~dynapse2.hardware.device.run_trial` drives (``flush``, ``drain``, ``now_us``,
``write``, ``read``), the same one the samna board answers. Its clock counts FPGA ticks
(1 us) of simulated time: ``read(10.0)`` simulates 10 s and returns as soon as the simulator
is done, it never sleeps.

Emulated facts and assumptions:

- **Device mismatch**: ``mismatch`` is the relative spread of the board's own hidden
  mismatch: one factor ``1 + mismatch N(0, 1)`` (clipped at
  :data:`~dynapse2.nn.dynapsim.MISMATCH_FLOOR`) per physical neuron and per quantity of
  :data:`~dynapse2.nn.dynapsim.MISMATCHED` (every current of the soma, the four synapse
  circuits and the adaptation, every capacitance, and the weight scale ``Iscale``), drawn once
  from ``seed`` and fixed for the life of the board whatever configuration is applied.
  Another seed is another chip. The factors are not public (silicon does not tell them);
  tests read them from ``board._mismatch`` (name -> ``(n_chips * 1024,)`` array).
- **Routing**: an event injected into chip ``c`` with hops ``(dx, dy)`` reaches the chip at
  ``position(c) + (dx, dy)``, on the cores of its mask; a core hears it where a CAM entry has
  its tag. An event that reaches no chip, or no listening core, is lost (counted in
  ``events["unheard"]``). On one core a tag identifies one source, as on silicon, so each
  delivery is the input channel that sent it.
- **Rates**: the FPGA link's capacity is not published; the board assumes
  :data:`~dynapse2.hardware.chip.FPGA_INPUT_RATE_MAX` and
  :data:`~dynapse2.hardware.chip.FPGA_OUTPUT_RATE_MAX` events/s (set your board's figures
  with ``max_input_rate`` / ``max_output_rate``). Per simulation step, events beyond
  ``rate * dt`` are dropped, latest first, counted in ``events["dropped_input"]`` /
  ``events["dropped_output"]`` and reported with a :class:`RuntimeWarning`.
- **State**: the analog state of every neuron is kept between reads and trials, as on a
  board. :meth:`drain` emulates the practice of draining it (applying a configuration with
  every leak current at its maximum, coarse 5 fine 255, which empties the DPI capacitors in
  nanoseconds, then the network's configuration again): every neuron returns to rest.
- **Timing**: the board simulates in steps of ``dt`` (default: the configuration's own) on a
  grid that starts at tick 0; an input event acts in the step that holds its timestamp; an
  output event carries the start of the step it fired in. Events stamped before the board's
  clock act at once (counted in ``events["late"]``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration
from dynapse2.hardware.config_diff import Changes, changes
from dynapse2.hardware.events import EVENT_DTYPE
from dynapse2.hardware.network import network_from_config, pairs, population_neurons
from dynapse2.nn import DynapSim, Sequential
from dynapse2.nn.backends import BACKENDS
from dynapse2.nn.dynapsim import draw_mismatch

__all__ = ["VirtualBoard"]

_STATE = ("imem", "isyn", "iahp", "timer", "spikes")
_COUNTERS = ("sent", "received", "unheard", "late", "dropped_input", "dropped_output")


class VirtualBoard:
    """An emulated Stack board with ``n_chips`` Dynap-SE2 chips (see the module docstring).

    Args:
        n_chips: chips on the board (1..225); a configuration with more is refused.
        mismatch: relative standard deviation of the board's hidden device mismatch, in
            [0, 1).
        seed: seed of the mismatch draw (which chip this is).
        dt: simulation step (s); default the step each applied configuration records.
        max_input_rate, max_output_rate: capacity of the FPGA link (events/s) toward the
            chips and toward the host.
        backend: simulation backend (``"jax"`` or ``"numpy"``).

    Attributes:
        config: the applied configuration (``None`` before :meth:`apply`).
        last_changes: what the last :meth:`apply` changed
            (:class:`~dynapse2.hardware.config_diff.Changes`; ``None`` for the first).
        events: cumulative event counters: ``sent``, ``received``, ``unheard``, ``late``,
            ``dropped_input``, ``dropped_output``.
        lead_s, tail_s: the latency margins a trial needs on this board (0: no USB link).
    """

    lead_s: float = 0.0
    tail_s: float = 0.0

    def __init__(
        self,
        n_chips: int = 1,
        mismatch: float = 0.0,
        seed: int = 0,
        *,
        dt: float | None = None,
        max_input_rate: float = C.FPGA_INPUT_RATE_MAX,
        max_output_rate: float = C.FPGA_OUTPUT_RATE_MAX,
        backend: str = "jax",
    ) -> None:
        where = "VirtualBoard"
        checks.integer(where, "n_chips", n_chips, lo=1, hi=C.GRID_SIZE**2)
        checks.mismatch(where, "mismatch", mismatch)
        checks.integer(where, "seed", seed, lo=0)
        if dt is not None:
            checks.number(where, "dt (s, at least one FPGA tick)", dt, lo=C.FPGA_TICK_S)
        checks.number(where, "max_input_rate (events/s)", max_input_rate, lo=0, lo_open=True)
        checks.number(where, "max_output_rate (events/s)", max_output_rate, lo=0, lo_open=True)
        checks.choice(where, "backend", backend, BACKENDS)
        self.n_chips, self.mismatch, self.seed = int(n_chips), float(mismatch), int(seed)
        self.dt = None if dt is None else float(dt)
        self.max_input_rate, self.max_output_rate = float(max_input_rate), float(max_output_rate)
        self.backend = backend
        n = self.n_chips * C.N_NEURONS_PER_CHIP
        self._mismatch: dict[str, np.ndarray] | None = (
            {
                k: np.asarray(v, np.float32)
                for k, v in draw_mismatch(jax.random.PRNGKey(self.seed), n, self.mismatch).items()
            }
            if self.mismatch > 0
            else None
        )
        self._store = {k: np.zeros((n, 4) if k == "isyn" else n, np.float32) for k in _STATE}
        self._at_rest = np.ones(n, bool)
        self._queue = np.zeros(0, EVENT_DTYPE)
        self.clock_us = 0
        self.config: Configuration | None = None
        self.last_changes: Changes | None = None
        self.events: dict[str, int] = dict.fromkeys(_COUNTERS, 0)

    def __repr__(self) -> str:
        return (
            f"VirtualBoard(n_chips={self.n_chips}, mismatch={self.mismatch}, seed={self.seed}, "
            f"dt={self.dt}, clock_us={self.clock_us})"
        )

    # -- configuration ---------------------------------------------------------------------
    def apply(self, cfg: Configuration) -> None:
        """Apply a configuration: the board now simulates what ``cfg`` holds.

        Incremental, as on a board: nothing is rebuilt when nothing differs from the applied
        configuration (:func:`~dynapse2.hardware.config_diff.changes`, kept in
        :attr:`last_changes`), and the event router is kept when no route differs (e.g. only
        weights or biases changed). The neurons' state is kept either way.

        Raises:
            ValueError: ``cfg`` has more chips than the board, or a population the simulator
                cannot run (e.g. a time constant shorter than 10 steps of the board's ``dt``).
        """
        if len(cfg.chips) > self.n_chips:
            raise ValueError(
                f"the configuration has {len(cfg.chips)} chips; this VirtualBoard has "
                f"{self.n_chips} (build it with VirtualBoard(n_chips={len(cfg.chips)}) or map "
                "the network onto fewer chips)"
            )
        cfg.validate()
        ch = None if self.config is None else changes(self.config, cfg)
        if ch is not None and ch.empty:
            self.last_changes = ch
            return
        net = network_from_config(cfg, backend=self.backend, dt=self.dt)
        step_s = float(pairs(net)[0][1].dt)
        step_us = int(round(step_s / C.FPGA_TICK_S))
        if abs(step_us * C.FPGA_TICK_S - step_s) > 1e-12:
            raise ValueError(
                f"VirtualBoard: the simulation step {step_s} s is not a whole number of "
                f"FPGA ticks ({C.FPGA_TICK_S} s)"
            )
        rebuild = ch is None or ch.routing
        flat = population_neurons(cfg) if rebuild else self._flat
        mods = list(net.modules)
        if self._mismatch is not None:
            for i in range(1, len(mods), 2):
                mods[i] = eqx.tree_at(
                    lambda m: m.mismatch_factors,
                    mods[i],
                    {k: jnp.asarray(v[flat[i // 2]]) for k, v in self._mismatch.items()},
                    is_leaf=lambda v: v is None,
                )
        self._net, self._flat = Sequential(*mods), flat
        self._step_s, self._step_us = step_s, step_us
        if rebuild:
            self._build_router(cfg)
        self._listen0 = self._listeners()
        self.config = cfg.copy()  # what the board holds, whatever the caller does to cfg
        self.last_changes = ch

    def read_configuration(self) -> Configuration:
        """The applied configuration."""
        if self.config is None:
            raise RuntimeError("VirtualBoard: no configuration applied yet")
        return self.config

    def _build_router(self, cfg: Configuration) -> None:
        """Tables of the event path: (chip, core, tag) -> input channel heard there, the
        layer-0 neurons of each core, and the neurons that report to the host."""
        where = {tuple(c.position): i for i, c in enumerate(cfg.chips)}
        n_keys = self.n_chips * C.N_CORES * (C.TAG_MAX + 1)
        heard = np.full(n_keys, -1, np.int64)
        for ch, routes in cfg.input_map.items():
            for r in routes:
                x, y = cfg.chips[r.chip].position
                target = where.get((x + r.x_hop, y + r.y_hop))
                if target is None:
                    continue
                for co in range(C.N_CORES):
                    if r.core_mask >> co & 1:
                        listens = (cfg.chips[target].cores[co].syn_dendrite != 0) & (
                            cfg.chips[target].cores[co].syn_tag == r.tag
                        )
                        if listens.any():
                            heard[(target * C.N_CORES + co) * (C.TAG_MAX + 1) + r.tag] = ch
        self._heard = heard
        self._positions = np.array([c.position for c in cfg.chips], np.int64)
        self._where = where
        self._n_in = self._net.modules[0].shape[0]
        gcore0 = self._flat[0] // C.N_NEURONS_PER_CORE
        self._cores0 = [(int(g), np.flatnonzero(gcore0 == g)) for g in np.unique(gcore0)]
        # Neurons with a destination toward the host: (flat id, tag, chip, core mask).
        src, tag, chip, mask = [], [], [], []
        for ci, chp in enumerate(cfg.chips):
            for co, core in enumerate(chp.cores):
                host = (
                    (core.dest_core != 0)
                    & (core.dest_x_hop == C.HOST_HOPS[0])
                    & (core.dest_y_hop == C.HOST_HOPS[1])
                )
                for n, k in np.argwhere(host).tolist():
                    src.append((ci * C.N_CORES + co) * C.N_NEURONS_PER_CORE + n)
                    tag.append(int(core.dest_tag[n, k]))
                    chip.append(ci)
                    mask.append(int(core.dest_core[n, k]))
        # Column of each reporting neuron in the concatenated spikes of all populations.
        column = {int(f): i for i, f in enumerate(np.concatenate(self._flat).tolist())}
        keep = [i for i, f in enumerate(src) if f in column]
        self._out_col = np.array([column[src[i]] for i in keep], np.int64)
        self._out_tag = np.array([tag[i] for i in keep], np.int64)
        self._out_chip = np.array([chip[i] for i in keep], np.int64)
        self._out_mask = np.array([mask[i] for i in keep], np.int64)

    def _listeners(self) -> list[np.ndarray]:
        """Per core of the first population, the input channels with a nonzero weight."""
        w0 = np.asarray(pairs(self._net)[0][0].weight)
        return [np.flatnonzero(w0[:, cols].any(axis=1)) for _, cols in self._cores0]

    # -- the event interface (what run_trial drives) ---------------------------------------
    def flush(self, n_chips: int | None = None) -> None:
        """Discard the events waiting to be injected (the board's logic reset)."""
        self._queue = np.zeros(0, EVENT_DTYPE)

    def drain(self, cfg: Configuration | None = None, seconds: float = 0.0) -> None:
        """Bring every neuron back to rest (see the module docstring) and re-apply the
        configuration (``cfg``, the applied one, is kept: the board's interface passes it);
        the clock moves on by ``seconds`` (rounded up to whole steps)."""
        self._at_rest[:] = True
        if seconds > 0:
            self.clock_us += self._steps(seconds) * self._step_us

    def now_us(self) -> int:
        """The board's clock (FPGA ticks of 1 us of simulated time)."""
        return int(self.clock_us)

    def write(self, events: np.ndarray) -> None:
        """Queue timed input events (:data:`~dynapse2.hardware.events.EVENT_DTYPE`)."""
        events = np.asarray(events)
        if events.dtype != EVENT_DTYPE:
            raise TypeError(
                f"VirtualBoard.write: events must have dtype EVENT_DTYPE, got {events.dtype}"
            )
        bad = (events["chip"] < 0) | (events["chip"] >= self.n_chips)
        if bad.any():
            raise ValueError(
                f"VirtualBoard.write: event injected into chip {int(events['chip'][bad][0])}; "
                f"the board has chips 0..{self.n_chips - 1}"
            )
        self.events["sent"] += int(events.size)
        q = np.concatenate([self._queue, events])
        self._queue = q[np.argsort(q["timestamp_us"], kind="stable")]

    def read(self, duration_s: float, poll_s: float | None = None) -> np.ndarray:
        """Simulate the next ``duration_s`` seconds (whole steps) with the queued events and
        return the output events of that window (:data:`EVENT_DTYPE`, sorted by time)."""
        if self.config is None:
            raise RuntimeError("VirtualBoard: apply a configuration before reading events")
        n_steps = self._steps(duration_s)
        if n_steps == 0:
            return np.zeros(0, EVENT_DTYPE)
        start = self.clock_us
        end = start + n_steps * self._step_us
        due = self._queue["timestamp_us"] < end
        events, self._queue = self._queue[due], self._queue[~due]
        self.events["late"] += int((events["timestamp_us"] < start).sum())
        events = self._limit(events, start, n_steps, self.max_input_rate, "input")
        spikes = self._simulate(self._deliver(events, start, n_steps))
        out = self._emit(spikes, start)
        self.clock_us = end
        self.events["received"] += int(out.size)
        return out

    def trials_from_rest(
        self,
        encode: Callable[[int, int], np.ndarray],
        n_trials: int,
        seconds: float,
        drain_s: float,
    ) -> list[tuple[int, np.ndarray]]:
        """``n_trials`` drained trials, simulated side by side as one batch.

        Gives what this sequence gives, trial after trial, in the board's state and counters
        as well: ``drain(seconds=drain_s)``, ``flush()``, ``start = now_us()``,
        ``write(encode(i, start))``, ``read(seconds)``. Every trial starts at rest, so the
        trials are independent; the board is left in the last trial's final state.

        Args:
            encode: ``(trial index, start tick) -> input events`` of that trial (the host's
                encoding, :func:`~dynapse2.hardware.events.encode_input`).
            n_trials: number of trials.
            seconds: each trial's reading window (s).
            drain_s: the drain before each trial (s).

        Returns:
            ``(start tick, output events)`` per trial.
        """
        if self.config is None:
            raise RuntimeError("VirtualBoard: apply a configuration before reading events")
        n_steps, gap = self._steps(seconds), self._steps(drain_s) * self._step_us
        starts = [
            self.clock_us + gap + i * (gap + n_steps * self._step_us) for i in range(n_trials)
        ]
        if n_steps == 0 or n_trials == 0:
            self.clock_us += n_trials * gap
            return [(t, np.zeros(0, EVENT_DTYPE)) for t in starts]
        deliveries = []
        for i, start in enumerate(starts):
            self.flush()
            self.write(encode(i, start))
            due = self._queue["timestamp_us"] < start + n_steps * self._step_us
            events, self._queue = self._queue[due], self._queue[~due]
            self.events["late"] += int((events["timestamp_us"] < start).sum())
            events = self._limit(events, start, n_steps, self.max_input_rate, "input")
            deliveries.append(self._deliver(events, start, n_steps))
        self._at_rest[:] = True
        spikes = self._simulate(np.stack(deliveries))
        out = [(t, self._emit(sp, t)) for t, sp in zip(starts, spikes, strict=True)]
        self.clock_us = starts[-1] + n_steps * self._step_us
        self.events["received"] += sum(int(ev.size) for _, ev in out)
        return out

    def close(self) -> None:
        """Nothing to release (kept for the board interface)."""

    # -- internals -------------------------------------------------------------------------
    def _steps(self, seconds: float) -> int:
        us = max(0.0, float(seconds)) / C.FPGA_TICK_S
        return int(math.ceil(round(us) / self._step_us))

    def _bins(self, ts: np.ndarray, start: int) -> np.ndarray:
        return np.maximum(ts.astype(np.int64) - start, 0) // self._step_us

    def _limit(
        self, events: np.ndarray, start: int, n_steps: int, rate: float, kind: str
    ) -> np.ndarray:
        """Drop the events of each step beyond ``rate * dt`` (latest first), counting them."""
        if events.size == 0:
            return events
        cap = max(1, int(math.floor(rate * self._step_s)))
        bins = self._bins(events["timestamp_us"], start)
        counts = np.bincount(bins, minlength=n_steps)
        if counts.max() <= cap:
            return events
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(events.size) - first[bins]  # events are sorted by time
        keep = rank < cap
        lost = int((~keep).sum())
        self.events[f"dropped_{kind}"] += lost
        warnings.warn(
            f"VirtualBoard: dropped {lost} {kind} events beyond the FPGA link's "
            f"{rate:.3g} events/s ({cap} per {self._step_s:g} s step)",
            RuntimeWarning,
            stacklevel=3,
        )
        return events[keep]

    def _deliver(self, events: np.ndarray, start: int, n_steps: int) -> np.ndarray:
        """Per core of the first population, the input-channel counts it hears per step:
        ``(n_cores, n_steps, n_in)``."""
        deliveries = np.zeros((len(self._cores0), n_steps, self._n_in), np.int32)
        if events.size == 0:
            return deliveries
        pos = self._positions[events["chip"]] + np.stack(
            [events["x_hop"], events["y_hop"]], axis=1
        ).astype(np.int64)
        uniq, inverse = np.unique(pos, axis=0, return_inverse=True)
        target = np.array([self._where.get((int(x), int(y)), -1) for x, y in uniq], np.int64)
        target = target[inverse.ravel()]
        bins = self._bins(events["timestamp_us"], start)
        index = {g: i for i, (g, _) in enumerate(self._cores0)}
        heard_any = np.zeros(events.size, bool)
        for co in range(C.N_CORES):
            sel = (target >= 0) & ((events["core_mask"].astype(np.int64) >> co) & 1 == 1)
            key = (target * C.N_CORES + co) * (C.TAG_MAX + 1) + events["tag"].astype(np.int64)
            ch = np.where(sel, self._heard[np.where(sel, key, 0)], -1)
            hit = ch >= 0
            heard_any |= hit
            gcore = target * C.N_CORES + co
            for g in np.unique(gcore[hit]).tolist():
                on = hit & (gcore == g)
                if g in index:
                    np.add.at(deliveries[index[g]], (bins[on], ch[on]), 1)
        self.events["unheard"] += int((~heard_any).sum())
        return deliveries

    def _simulate(self, deliveries: np.ndarray) -> np.ndarray:
        """Run every population from the stored state; return the spikes of all populations,
        concatenated over neurons: ``(n_steps, sum n_l)``. With a batch of deliveries
        ``(batch, n_cores, n_steps, n_in)`` (trials from rest): ``(batch, n_steps, sum n_l)``,
        and the stored state is the last trial's."""
        layers = pairs(self._net)
        batched = deliveries.ndim == 4
        core_axis = 1 if batched else 0
        x = deliveries.max(axis=core_axis)
        lin0 = layers[0][0]
        same = all(
            np.array_equal(d[..., c], x[..., c])
            for d, c in zip(np.moveaxis(deliveries, core_axis, 0), self._listen0, strict=True)
        )
        if same:  # every core heard the same events: the network's own input layer
            drive, _, _ = lin0(jnp.asarray(x, jnp.float32))
        else:  # some deliveries were lost on some cores: each core's own
            w = jnp.asarray(lin0.weight)
            drive = jnp.zeros((*x.shape[:-1], w.shape[1]), jnp.float32)
            for d, (_, cols) in zip(
                np.moveaxis(deliveries, core_axis, 0), self._cores0, strict=True
            ):
                drive = drive.at[..., cols].set(jnp.asarray(d, jnp.float32) @ w[:, cols])
        spikes = []
        h = drive
        for li, (lin, sim) in enumerate(layers):
            if li > 0:
                h, _, _ = lin(h)
            dyn = self._with_state(sim, self._flat[li])
            h, state, _ = dyn(h)
            if batched:
                state = {k: v[-1] for k, v in state.items()}
            self._keep_state(state, self._flat[li])
            spikes.append(np.asarray(h))
        return np.concatenate(spikes, axis=-1)

    def _with_state(self, m: DynapSim, flat: np.ndarray) -> DynapSim:
        rest = m.initial_state()
        at_rest = self._at_rest[flat]
        if at_rest.all():
            return m.set_attributes(rest)
        new = {}
        for k in _STATE:
            stored = self._store[k][flat]
            mask = at_rest[:, None] if stored.ndim == 2 else at_rest
            new[k] = jnp.asarray(np.where(mask, np.asarray(rest[k]), stored), jnp.float32)
        return m.set_attributes(new)

    def _keep_state(self, state: dict[str, Any], flat: np.ndarray) -> None:
        for k in _STATE:
            self._store[k][flat] = np.asarray(state[k])
        self._at_rest[flat] = False

    def _emit(self, spikes: np.ndarray, start: int) -> np.ndarray:
        t, m = np.nonzero(spikes[:, self._out_col] > 0)
        order = np.argsort(t, kind="stable")
        t, m = t[order], m[order]
        out = np.zeros(t.size, EVENT_DTYPE)
        out["chip"], out["tag"], out["core_mask"] = (
            self._out_chip[m],
            self._out_tag[m],
            self._out_mask[m],
        )
        out["x_hop"], out["y_hop"] = C.HOST_HOPS
        out["timestamp_us"] = start + t.astype(np.int64) * self._step_us
        return self._limit(out, start, spikes.shape[0], self.max_output_rate, "output")
