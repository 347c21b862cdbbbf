"""Small tasks and networks shared by the training tests."""

import jax
import numpy as np

from dynapse2.datasets import frozen_noise
from dynapse2.nn import DynapSim, Linear, Sequential


def small_task_of(seed: int = 0):
    """2 classes of frozen noise, 10 channels, 100 ms: ``(x, y)`` with 48 samples (24 per
    class), everything (the classes' rasters, every sample's jitter and drops) from ``seed``."""
    x, y = frozen_noise(2, 10, 0.1, 1e-3, 40.0, 48, key=seed, jitter=1e-3, drop=0.05)
    return np.asarray(x), np.asarray(y)


def small_net(n_in=10, n_out=2, has_rec=False, has_bias=False, seed=1, **kw):
    """Linear((n_in, n_out)) -> DynapSim(n_out)."""
    return Sequential(
        Linear((n_in, n_out), has_bias=has_bias, key=jax.random.PRNGKey(seed)),
        DynapSim(n_out, has_rec=has_rec, **kw),
    )
