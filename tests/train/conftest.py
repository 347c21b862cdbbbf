"""Fixtures of the training tests: a small, fast task."""

import numpy as np
import pytest

from dynapse2.datasets import frozen_noise


@pytest.fixture(scope="session")
def small_task():
    """2 classes of frozen noise, 10 channels, 100 ms: (x, y) with 48 samples."""
    x, y = frozen_noise(2, 10, 0.1, 1e-3, 40.0, 48, key=0, jitter=1e-3, drop=0.05)
    return np.asarray(x), np.asarray(y)
