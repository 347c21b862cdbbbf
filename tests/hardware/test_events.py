"""Raster <-> board events, without samna."""

from __future__ import annotations

import numpy as np
import pytest

from dynapse2.hardware.config import InputRoute, OutputRoute
from dynapse2.hardware.events import EVENT_DTYPE, decode_output, encode_input


def test_encode_input_timestamps_routes_and_counts():
    raster = np.zeros((5, 3), int)
    raster[1, 0] = 1
    raster[3, 2] = 2
    raster[3, 0] = 1
    routes = {0: (InputRoute(0, 10, 0b0011),), 2: (InputRoute(1, 20, 0b1000, -1, 2),)}
    ev = encode_input(raster, routes, dt_us=1000, t0_us=500)
    assert ev.dtype == EVENT_DTYPE
    assert ev["timestamp_us"].tolist() == [1500, 3500, 3500, 3500]
    assert ev["tag"].tolist() == [10, 10, 20, 20]
    assert ev["chip"].tolist() == [0, 0, 1, 1]
    assert ev["core_mask"].tolist() == [3, 3, 8, 8]
    assert (ev["x_hop"][2], ev["y_hop"][2]) == (-1, 2)


def test_encode_input_rejects_unrouted_channel_and_bad_dt():
    with pytest.raises(ValueError, match=r"input channels \[1\] spike but have no route"):
        encode_input(np.eye(2, dtype=int), {0: (InputRoute(0, 1),)}, 1000)
    with pytest.raises(ValueError, match=r"encode_input: dt_us .* = 0 must be an integer >= 1"):
        encode_input(np.zeros((2, 2), int), {}, 0)
    with pytest.raises(ValueError, match=r"non-negative integer spike counts"):
        encode_input(np.full((2, 2), 0.5), {}, 10)


def test_decode_output_inverts_encoding_and_drops_probe():
    rng = np.random.default_rng(0)
    raster = rng.integers(0, 3, (50, 4))
    in_map = {c: (InputRoute(0, 100 + c),) for c in range(4)}
    ev = encode_input(raster, in_map, dt_us=250, t0_us=1000)
    out_map = {c: OutputRoute(0, 1, c, 100 + c) for c in range(4)}
    probe = np.zeros(2, EVENT_DTYPE)
    probe["tag"], probe["x_hop"], probe["y_hop"], probe["timestamp_us"] = 2047, -7, -7, 1200
    late = np.zeros(1, EVENT_DTYPE)
    late["tag"], late["timestamp_us"] = 100, 1000 + 50 * 250
    back = decode_output(np.concatenate([ev, probe, late]), out_map, 50, 250, t0_us=1000)
    np.testing.assert_array_equal(back, raster)


def test_decode_output_needs_chip_for_repeated_tags():
    out_map = {0: OutputRoute(0, 0, 1, 5), 1: OutputRoute(1, 0, 1, 5)}
    ev = np.zeros(2, EVENT_DTYPE)
    ev["tag"], ev["chip"], ev["timestamp_us"] = 5, [0, 1], [0, 10]
    with pytest.raises(ValueError, match="use_chip=True"):
        decode_output(ev, out_map, 2, 10)
    np.testing.assert_array_equal(
        decode_output(ev, out_map, 2, 10, use_chip=True), [[1, 0], [0, 1]]
    )
