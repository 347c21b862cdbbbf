"""Spike rasters <-> board events, as pure functions (no samna).

Input events are what the board's FPGA injects (samna's ``NormalGridEvent``: a
``Dynapse2Destination`` plus a timestamp in 1 us ticks); output events are what it reads
back. Both are NumPy structured arrays of :data:`EVENT_DTYPE`, sorted by time.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip as C
from dynapse2.hardware.config import InputRoute, OutputRoute

__all__ = ["EVENT_DTYPE", "encode_input", "decode_output"]

EVENT_DTYPE = np.dtype(
    [
        ("chip", np.int32),  # chip the event is injected into / came from
        ("tag", np.int32),
        ("core_mask", np.uint8),  # bit i: core i of the target chip
        ("x_hop", np.int8),
        ("y_hop", np.int8),
        ("timestamp_us", np.int64),  # FPGA clock, 1 us ticks
    ]
)
"""One event: chip, tag, core mask, hops and timestamp in microseconds."""


def encode_input(
    raster: np.ndarray,
    input_map: Mapping[int, tuple[InputRoute, ...]],
    dt_us: int,
    t0_us: int = 0,
) -> np.ndarray:
    """Turn an input raster into timed board events.

    Args:
        raster: ``(T, n_in)`` non-negative integer spike counts per time bin.
        input_map: channel -> routes (``Configuration.input_map``); every channel that
            spikes needs one. A channel with k routes gives k events per spike.
        dt_us: bin width in microseconds (>= 1).
        t0_us: timestamp of bin 0, in microseconds.

    Returns:
        Events of :data:`EVENT_DTYPE`, sorted by timestamp (stable: channel order within a
        bin); bin t is stamped ``t0_us + t * dt_us``; a count k gives k events.

    Raises:
        ValueError: bad raster or dt, a spiking channel without a route, or a reserved tag.
    """
    checks.integer("encode_input", "dt_us (the FPGA tick is 1 us)", dt_us, lo=1)
    checks.integer("encode_input", "t0_us", t0_us)
    raster = np.asarray(raster)
    if raster.ndim != 2:
        raise ValueError(f"encode_input: raster must have shape (T, n_in), got {raster.shape}")
    if raster.dtype.kind not in "iub" or (raster.size and raster.min() < 0):
        raise ValueError("encode_input: raster must hold non-negative integer spike counts")
    t_idx, ch_idx = np.nonzero(raster)
    counts = raster[t_idx, ch_idx].astype(np.int64)
    missing = sorted(set(np.unique(ch_idx).tolist()) - set(input_map))
    if missing:
        raise ValueError(f"input channels {missing[:10]} spike but have no route in input_map")
    rows = []
    for ch in np.unique(ch_idx).tolist():
        sel = ch_idx == ch
        times = np.repeat(t0_us + t_idx[sel].astype(np.int64) * int(dt_us), counts[sel])
        for r in input_map[ch]:
            if r.tag in C.RESERVED_TAGS:
                raise ValueError(f"input channel {ch}: tag {r.tag} is reserved by the board")
            ev = np.zeros(times.size, EVENT_DTYPE)
            ev["chip"], ev["tag"], ev["core_mask"] = r.chip, r.tag, r.core_mask
            ev["x_hop"], ev["y_hop"], ev["timestamp_us"] = r.x_hop, r.y_hop, times
            rows.append((ch, ev))
    if not rows:
        return np.zeros(0, EVENT_DTYPE)
    events = np.concatenate([ev for _, ev in rows])
    return events[np.argsort(events["timestamp_us"], kind="stable")]


def decode_output(
    events: np.ndarray,
    output_map: Mapping[int, OutputRoute],
    n_steps: int,
    dt_us: int,
    t0_us: int = 0,
    use_chip: bool = False,
) -> np.ndarray:
    """Turn board output events back into a raster over the network's output channels.

    Args:
        events: structured array with at least ``tag`` and ``timestamp_us`` (and ``chip``
            when ``use_chip``), e.g. of :data:`EVENT_DTYPE`.
        output_map: channel -> :class:`OutputRoute` (``Configuration.output_map``).
        n_steps: T, the number of bins.
        dt_us: bin width in microseconds; bin t covers ``[t0 + t*dt, t0 + (t+1)*dt)``.
        t0_us: timestamp of the start of bin 0.
        use_chip: match events by (chip, tag) instead of tag alone; needed when two chips
            use the same output tag.

    Returns:
        ``(T, n_out)`` int32 counts, ``n_out = max(output channel) + 1``. Events with a
        reserved tag (the board's timing probe), unknown tags or times outside the window
        are dropped.
    """
    checks.integer("decode_output", "n_steps", n_steps, lo=0)
    checks.integer("decode_output", "dt_us", dt_us, lo=1)
    checks.integer("decode_output", "t0_us", t0_us)
    checks.boolean("decode_output", "use_chip", use_chip)
    n_out = max(output_map, default=-1) + 1
    out = np.zeros((n_steps, n_out), np.int32)
    # (chip, tag) or tag of each output channel as one code, chip * (TAG_MAX + 1) + tag
    keys = [(r.chip if use_chip else 0) * (C.TAG_MAX + 1) + r.tag for r in output_map.values()]
    if len(set(keys)) != len(keys):
        raise ValueError("output tags repeat across chips: decode with use_chip=True")
    events = np.asarray(events)
    if events.size == 0 or n_out == 0:
        return out
    tags = events["tag"].astype(np.int64)
    ts = events["timestamp_us"].astype(np.int64)
    bins = np.floor_divide(ts - t0_us, int(dt_us))
    keep = (bins >= 0) & (bins < n_steps) & ~np.isin(tags, list(C.RESERVED_TAGS))
    # (chip, tag) or tag -> output channel, as a sorted key table searched in one pass
    chips = events["chip"].astype(np.int64) if use_chip else np.zeros_like(tags)
    code = chips * (C.TAG_MAX + 1) + tags
    table = np.array(keys, np.int64)
    channels = np.array(list(output_map), np.int64)
    order = np.argsort(table)
    table, channels = table[order], channels[order]
    pos = np.clip(np.searchsorted(table, code), 0, table.size - 1)
    keep &= table[pos] == code
    np.add.at(out, (bins[keep], channels[pos[keep]]), 1)
    return out
