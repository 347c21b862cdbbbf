"""Generated spike-raster tasks for training and testing (nothing is downloaded).

Every generator returns ``(x, y)``: ``x`` of shape ``(n_samples, T, n_channels)``, float32 spike
counts per time bin of ``dt`` seconds, and ``y`` of shape ``(n_samples,)``, int32 class labels,
balanced (each class appears ``n_samples // n_classes`` or one more times) and shuffled.

Randomness comes from ``key``: a ``jax.random`` key or a non-negative int. The same key always
gives the same data; generation itself runs in NumPy (event lists are easier there).

- :func:`frozen_noise`: each class is one fixed Poisson raster ("frozen noise"); a sample is
  its class's raster with every spike jittered in time, some spikes dropped and some spurious
  spikes added. Rates and timing both carry the class.
- :func:`ordered_bursts`: two channel groups A and B each fire one burst; class 0 is A then B,
  class 1 is B then A. Every channel emits exactly the same number of burst spikes in both
  classes, so spike counts per channel carry no information: only timing does.
- :func:`yin_yang`: points of the Yin-Yang data set (Kriener, Goeltz & Petrovici 2021), a
  three-class task that needs a hidden layer; it returns points ``(n_samples, 4)``, which
  :func:`latency_encode` turns into rasters (one spike per value, plus a bias spike).
"""

from dynapse2.datasets.encoding import latency_encode
from dynapse2.datasets.frozen_noise import frozen_noise
from dynapse2.datasets.ordered_bursts import ordered_bursts
from dynapse2.datasets.split import train_test_split
from dynapse2.datasets.yin_yang import YIN_YANG_CLASSES, yin_yang, yin_yang_class

__all__ = [
    "YIN_YANG_CLASSES",
    "frozen_noise",
    "latency_encode",
    "ordered_bursts",
    "train_test_split",
    "yin_yang",
    "yin_yang_class",
]
