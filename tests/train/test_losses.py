"""Losses and readouts on hand-made outputs and records."""

import jax.numpy as jnp
import numpy as np
import pytest

from dynapse2.train import (
    accuracy,
    firing_rate_regulariser,
    max_imem_cross_entropy,
    max_imem_logits,
    max_imem_loss,
    output_imem,
    rate_mse,
    spike_count_cross_entropy,
    weighted_sum,
)


def _spikes(counts, T=10):
    """(batch, T, n) spikes with the given counts per neuron (first steps)."""
    counts = np.asarray(counts)
    t = np.arange(T)[None, :, None]
    return jnp.asarray((t < counts[:, None, :]).astype(np.float32))


def test_spike_count_cross_entropy_prefers_the_target_neuron():
    out = _spikes([[5, 0], [0, 5]])
    good = spike_count_cross_entropy(out, {}, jnp.array([0, 1]))
    bad = spike_count_cross_entropy(out, {}, jnp.array([1, 0]))
    assert float(good) == pytest.approx(np.log1p(np.exp(-5.0)), rel=1e-5)
    assert float(bad) == pytest.approx(5 + np.log1p(np.exp(-5.0)), rel=1e-5)
    assert float(accuracy(out, {}, jnp.array([0, 1]))) == 1.0


def test_max_imem_readout_uses_log_of_the_peak_over_threshold():
    imem = jnp.full((1, 5, 2), 1e-12).at[0, 2, 0].set(1e-7).at[0, 3, 1].set(1e-9)
    rec = {"0_Linear": {}, "1_DynapSim": {"imem": imem}, "1_DynapSim_output": imem}
    assert output_imem(rec) is imem
    logits = max_imem_logits(rec)
    np.testing.assert_allclose(logits, [[0.0, np.log(1e-2)]], atol=1e-5)
    loss = max_imem_cross_entropy(None, rec, jnp.array([0]))
    assert float(loss) == pytest.approx(np.log1p(1e-2), rel=1e-4)
    pooled = max_imem_loss(pool=2)
    assert pooled.predict(None, {"imem": jnp.concatenate([imem, imem[..., ::-1]], -1)}).shape == (
        1,
    )


def test_pool_must_divide_the_outputs():
    rec = {"imem": jnp.ones((1, 3, 3))}
    with pytest.raises(ValueError, match="pool = 2 does not divide the 3 output neurons"):
        max_imem_logits(rec, pool=2)
    with pytest.raises(ValueError, match="pool = 0 must be an integer >= 1"):
        max_imem_loss(pool=0)


def test_output_imem_names_the_problem():
    with pytest.raises(KeyError, match="no 'imem' trace in the record"):
        output_imem({"0_Linear": {}})


def test_rate_losses_in_hertz():
    out = _spikes([[5, 0]], T=10)  # 5 spikes in 10 ms -> 500 Hz, and 0 Hz
    assert float(rate_mse(out, {}, jnp.array([[500.0, 0.0]]))) == pytest.approx(0.0)
    assert float(rate_mse(out, {}, jnp.array([[400.0, 0.0]]))) == pytest.approx(100**2 / 2)
    reg = firing_rate_regulariser(out, {}, None, low=10.0, high=400.0)
    assert float(reg) == pytest.approx((100**2 + 10**2) / 2)
    total = weighted_sum((spike_count_cross_entropy, 1.0), (firing_rate_regulariser, 0.5))
    y = jnp.array([0])
    expected = spike_count_cross_entropy(out, {}, y) + 0.5 * firing_rate_regulariser(out, {}, y)
    assert float(total(out, {}, y)) == pytest.approx(float(expected))
    assert total.predict is spike_count_cross_entropy.predict and not total.needs_record


def test_spike_count_loss_pools_and_predicts():
    from dynapse2.train import spike_count_loss

    out = _spikes([[4, 2, 0, 0], [0, 1, 3, 3]])  # pools of 2: means (3, 0) and (0.5, 3)
    loss = spike_count_loss(pool=2)
    want = np.mean([np.log1p(np.exp(-3.0)), np.log1p(np.exp(-2.5))])
    assert float(loss(out, {}, jnp.array([0, 1]))) == pytest.approx(want, rel=1e-5)
    np.testing.assert_array_equal(loss.predict(out, {}), [0, 1])
    assert loss.needs_record is False and loss.predict.needs_record is False
    with pytest.raises(ValueError, match="pool = 0 must be an integer >= 1"):
        spike_count_loss(pool=0)
    with pytest.raises(ValueError, match="spike_count_loss: scale = -1.0 must be a finite number"):
        spike_count_loss(scale=-1.0)


def test_first_spike_loss_rewards_the_earliest_pool():
    from dynapse2.train import first_spike_logits, first_spike_loss

    out = jnp.zeros((1, 10, 2)).at[0, 2, 0].set(1.0).at[0, 6, 1].set(1.0)
    logits = first_spike_logits(out, tau_steps=4.0)
    floor = np.exp(-10 / 4.0)
    np.testing.assert_allclose(
        logits[0], np.log([floor + np.exp(-2 / 4.0), floor + np.exp(-6 / 4.0)]), rtol=1e-6
    )
    silent = first_spike_logits(jnp.zeros((1, 10, 1)), tau_steps=4.0)
    assert float(silent[0, 0]) == pytest.approx(-10 / 4.0)
    loss = first_spike_loss(tau_steps=4.0)
    assert float(loss(out, {}, jnp.array([0]))) < float(loss(out, {}, jnp.array([1])))
    np.testing.assert_array_equal(loss.predict(out, {}), [0])
    with pytest.raises(ValueError, match="first_spike_loss: tau_steps = 0.0 must be a finite"):
        first_spike_loss(tau_steps=0.0)


def test_options_are_checked_but_traced_values_pass():
    """The Python-level options are checked (before any work); a traced option (differentiated
    or under jit) passes unchecked, and so do traced outputs and records."""
    import jax

    from dynapse2.train import first_spike_logits, spike_count_logits

    out = _spikes([[5, 0], [0, 5]])
    grad = jax.grad(lambda s: spike_count_logits(out, s).sum())(2.0)
    assert float(grad) == pytest.approx(10.0)
    rec = {"imem": jnp.full((2, 5, 2), 1e-9)}
    y = jnp.array([0, 1])
    g = jax.grad(lambda t: max_imem_cross_entropy(None, rec, y, temperature=t))(1.0)
    assert np.isfinite(float(g))
    jitted = jax.jit(lambda o, r, t: rate_mse(o, r, t) + max_imem_loss(pool=2)(o, r, y))
    rec4 = {"imem": jnp.full((2, 5, 4), 1e-9)}
    assert np.isfinite(float(jitted(_spikes([[1, 0, 0, 0], [0, 1, 0, 0]]), rec4, jnp.zeros(4))))
    with pytest.raises(TypeError, match=r"first_spike_logits: tau_steps = '4' must be a number"):
        first_spike_logits(out, tau_steps="4")
    with pytest.raises(ValueError, match=r"max_imem_loss: temperature = 0.0 must be a finite"):
        max_imem_loss(temperature=0.0)
