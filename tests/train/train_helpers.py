"""Small networks shared by the training tests."""

import jax

from dynapse2.nn import DynapSim, Linear, Sequential


def small_net(n_in=10, n_out=2, has_rec=False, has_bias=False, seed=1, **kw):
    """Linear((n_in, n_out)) -> DynapSim(n_out)."""
    return Sequential(
        Linear((n_in, n_out), has_bias=has_bias, key=jax.random.PRNGKey(seed)),
        DynapSim(n_out, has_rec=has_rec, **kw),
    )
