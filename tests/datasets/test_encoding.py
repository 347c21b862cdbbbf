"""Latency encoding: spike times against the formula, bias, copies, errors."""

import numpy as np
import pytest

from dynapse2.datasets import latency_encode


def test_one_spike_per_channel_at_the_latency_of_its_value():
    v = np.array([[0.0, 0.5, 1.0], [0.2, 0.9, 0.33]])
    x = latency_encode(v, window=0.03, dt=1e-3, bias=None)
    assert x.shape == (2, 51, 3) and x.dtype == np.float32  # default duration 50 ms
    assert (x.sum(axis=1) == 1).all()
    np.testing.assert_array_equal(x.argmax(axis=1), [[0, 15, 30], [6, 27, 10]])


def test_bias_channel_and_copies_in_channel_order():
    v = np.array([[0.1, 0.4]])
    x = latency_encode(v, window=0.02, dt=1e-3, duration=0.04, copies=3, bias=0.005)
    assert x.shape == (1, 41, 9)
    assert x.argmax(axis=1)[0].tolist() == [2, 8, 5] * 3


def test_value_range_maps_its_ends_to_the_window():
    v = np.array([[-1.0, 3.0, 1.0]])
    x = latency_encode(v, window=0.01, dt=5e-4, value_range=(-1.0, 3.0), bias=None)
    assert x.argmax(axis=1)[0].tolist() == [0, 20, 10]


@pytest.mark.parametrize(
    ("values", "kwargs", "message"),
    [
        (np.zeros(3), {}, r"latency_encode: values has shape \(3,\)"),
        (np.zeros((1, 2)), dict(dt=0.0), r"latency_encode: dt = 0.0 s must be in \(0, inf\]"),
        (np.zeros((1, 2)), dict(window=1e-4), r"window = 0.0001 s must be in \[0.001, inf\]"),
        (np.zeros((1, 2)), dict(duration=0.01), r"duration = 0.01 s must be in \[0.03, inf\]"),
        (np.zeros((1, 2)), dict(copies=0), "copies = 0 must be an integer >= 1"),
        (np.zeros((1, 2)), dict(bias=0.1), r"bias = 0.1 s must be in \[0, 0.05\]"),
        (np.zeros((1, 2)), dict(value_range=(1, 0)), r"value_range = \(1, 0\) must be a pair"),
        (np.array([[0.0, 1.5]]), {}, r"values\[0, 1\] = 1.5 is outside value_range \[0, 1\]"),
        (np.array([[np.nan, 0.0]]), {}, r"values\[0, 0\] = nan is outside"),
    ],
)
def test_bad_arguments_are_named(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        latency_encode(values, **kwargs)
