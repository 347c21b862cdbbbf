"""Training: losses, the optax training loop, chip constraints, mismatch, checkpoints.

Typical use::

    from dynapse2.train import Robustness, fit, max_imem_cross_entropy
    net, history = fit(net, x, y, max_imem_cross_entropy, epochs=15, key=jax.random.PRNGKey(0),
                       robustness=Robustness(mismatch=0.2))
"""

from dynapse2.train.baseline import rate_baseline_accuracy
from dynapse2.train.checkpoint import Checkpoint, load, save
from dynapse2.train.constraints import WEIGHT_BOUND, current_bounds, group_mean, project
from dynapse2.train.evaluate import evaluate
from dynapse2.train.fit import EpochEnd, default_optimizer, fit
from dynapse2.train.history import History
from dynapse2.train.losses import (
    accuracy,
    firing_rate_regulariser,
    first_spike_logits,
    first_spike_loss,
    max_imem_cross_entropy,
    max_imem_logits,
    max_imem_loss,
    output_imem,
    predict_max_imem,
    predict_spike_count,
    rate_mse,
    spike_count_cross_entropy,
    spike_count_logits,
    spike_count_loss,
    weighted_sum,
)
from dynapse2.train.mismatch import with_mismatch
from dynapse2.train.options import Checkpointing, InTheLoop, Robustness
from dynapse2.train.spread import Spread, mismatch_spread
from dynapse2.train.trainable import WEIGHTS, trainable_mask

__all__ = [
    "WEIGHTS",
    "WEIGHT_BOUND",
    "Checkpoint",
    "Checkpointing",
    "InTheLoop",
    "Robustness",
    "Spread",
    "EpochEnd",
    "History",
    "accuracy",
    "current_bounds",
    "evaluate",
    "first_spike_logits",
    "first_spike_loss",
    "firing_rate_regulariser",
    "default_optimizer",
    "fit",
    "group_mean",
    "load",
    "max_imem_cross_entropy",
    "max_imem_logits",
    "max_imem_loss",
    "mismatch_spread",
    "output_imem",
    "predict_max_imem",
    "predict_spike_count",
    "rate_baseline_accuracy",
    "project",
    "rate_mse",
    "save",
    "spike_count_cross_entropy",
    "spike_count_logits",
    "spike_count_loss",
    "trainable_mask",
    "weighted_sum",
    "with_mismatch",
]
