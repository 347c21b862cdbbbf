"""Seed sweeps for the tests that assert a statistic (an accuracy, a rate, an error).

A statistical test runs at one seed by default and at :data:`N_SEEDS` - 1 more under the
``slow`` marker, so that ``pytest -m slow`` repeats the sweep that set its margin. Every
such test states, beside its assertion, the distribution measured over the sweep
(min / median / max) and asserts well below its minimum: a different machine (other float
rounding, other thread count) is one more draw from that distribution, not a new one.
"""

from __future__ import annotations

import pytest

N_SEEDS = 12


def sweep(n: int = N_SEEDS, default: int = 0) -> list:
    """Seeds ``0..n-1`` for ``pytest.mark.parametrize``: ``default`` always runs, the rest
    are marked ``slow``."""
    return [s if s == default else pytest.param(s, marks=pytest.mark.slow) for s in range(n)]
