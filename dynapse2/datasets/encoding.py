"""Encoders that turn real-valued data into spike rasters a network can read."""

from __future__ import annotations

from typing import Any

import numpy as np

from dynapse2.datasets._common import in_range, positive_int

__all__ = ["latency_encode"]


def latency_encode(
    values: Any,
    *,
    window: float = 0.03,
    dt: float = 1e-3,
    duration: float | None = None,
    copies: int = 1,
    bias: float | None = 0.0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Time-to-first-spike code: every value becomes one spike, earlier for smaller values.

    Value ``v`` of ``value_range = (lo, hi)`` fires in step ``round((v - lo) / (hi - lo) *
    window / dt)``: ``lo`` at ``t = 0``, ``hi`` at ``t = window``. With ``bias`` set, one more
    channel fires a single spike at ``t = bias`` (s) in every sample, a reference the network
    can time the others against (and a constant drive in place of a bias term). The whole set
    of channels (values, then bias) is repeated ``copies`` times: channel ``k d' + j`` is copy
    ``k`` of channel ``j``, ``d' = d + 1`` with a bias. Copies give a layer several
    independent weights per input, so that one input spike can drive a neuron strongly while
    every weight stays within the chip's 4-bit range.

    Args:
        values: ``(n_samples, d)`` real values in ``value_range``.
        window: time (s) over which the values are spread, >= ``dt``.
        dt: time step (s).
        duration: sample length (s), at least ``window`` (and ``bias``); default
            ``window + 20 ms``, so that a network has time to answer to the latest spike.
            ``T = round(duration / dt) + 1`` steps (so that ``t = duration`` is a step).
        copies: how many times the channels are repeated (>= 1).
        bias: time (s) of the bias spike in ``[0, duration]``, or ``None`` for no bias channel.
        value_range: ``(lo, hi)`` with ``lo < hi``: the values mapped to ``t = 0`` and
            ``t = window``.

    Returns:
        ``(n_samples, T, (d + (bias is not None)) * copies)`` float32 spike counts, exactly
        one spike per channel and sample.

    Raises:
        ValueError: an argument out of its range, or a value outside ``value_range`` (the
            message names the first offending sample and channel).
    """
    fn = "latency_encode"
    dt = in_range(fn, "dt", dt, 0.0, np.inf, lo_open=True, unit=" s")
    window = in_range(fn, "window", window, dt, np.inf, unit=" s")
    duration = window + 0.02 if duration is None else duration
    duration = in_range(fn, "duration", duration, window, np.inf, unit=" s")
    copies = positive_int(fn, "copies", copies)
    if bias is not None:
        bias = in_range(fn, "bias", bias, 0.0, duration, unit=" s")
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 1:
        raise ValueError(f"{fn}: values has shape {v.shape}; expected (n_samples, d), both >= 1")
    if len(value_range) != 2 or not float(value_range[0]) < float(value_range[1]):
        raise ValueError(f"{fn}: value_range = {value_range!r} must be a pair (lo, hi), lo < hi")
    lo, hi = (float(b) for b in value_range)
    bad = ~((v >= lo) & (v <= hi))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise ValueError(
            f"{fn}: values[{i}, {j}] = {float(v[i, j])!r} is outside value_range [{lo:g}, {hi:g}]"
        )
    n_steps = round(duration / dt) + 1
    steps = np.rint((v - lo) / (hi - lo) * (window / dt)).astype(np.int64)
    if bias is not None:
        steps = np.concatenate([steps, np.full((v.shape[0], 1), round(bias / dt))], axis=1)
    steps = np.tile(steps, (1, copies))
    x = np.zeros((v.shape[0], n_steps, steps.shape[1]), np.float32)
    sample, chan = np.indices(steps.shape)
    x[sample, steps, chan] = 1.0
    return x
