"""Tests of the bias-generator model and quantizers (dynapse2.hardware.bias)."""

import numpy as np
import pytest
from seeds import sweep

from dynapse2.hardware import bias, chip

NAMES = sorted(chip.CORE_PARAMETERS)
ALL_C, ALL_F = np.meshgrid(np.arange(6), np.arange(256), indexing="ij")
ALL_C, ALL_F = ALL_C.ravel(), ALL_F.ravel()  # coarse-major order: the tie rule's order


def _log_uniform(rng, lo, hi, size):
    return np.exp(rng.uniform(np.log(lo), np.log(hi), size))


def test_tables_cover_every_core_parameter():
    assert set(chip.BG_SCALE) == set(chip.CORE_PARAMETERS)
    for t in ("N", "P"):
        i_max = np.asarray(chip.BG_I_MAX[t])
        assert i_max.shape == (chip.BG_COARSE_MAX + 1,)
        ratios = i_max[1:] / i_max[:-1]
        assert np.all((ratios > 7.5) & (ratios < 8.5))  # about 8x per coarse step
    assert all(
        p < n for p, n in zip(chip.BG_I_MAX["P"], chip.BG_I_MAX["N"], strict=True)
    )  # p-type slightly weaker


def test_current_model_values():
    # SOIF_LEAK_N: n-type, scale 0.61; coarse 3, fine 100.
    expected = chip.BG_I_MAX["N"][3] * 100 / 255 * 0.61
    assert bias.current("SOIF_LEAK_N", 3, 100) == pytest.approx(expected, rel=1e-15)
    assert bias.current("Itau_mem", 3, 100) == bias.current("SOIF_LEAK_N", 3, 100)
    assert bias.current("Idc", 5, 255) == pytest.approx(chip.BG_I_MAX["P"][5] * 0.38)
    assert bias.current("SYAM_W0_P", 2, 0) == 0.0
    got = bias.current("DEAM_ETAU_P", np.array([[0, 1], [2, 3]]), 255)
    assert got.shape == (2, 2)
    np.testing.assert_allclose(got.ravel(), np.asarray(chip.BG_I_MAX["P"][:4]) * 0.2)


@pytest.mark.parametrize("name", ["SOIF_LEAK_N", "DEAM_ETAU_P", "SYSA_VB_P", "Ipulse"])
def test_quantize_is_optimal_against_brute_force(name):
    rng = np.random.default_rng(0)
    lo, hi = bias.current_range(name)
    x = np.concatenate(
        [_log_uniform(rng, lo / 10, hi, 3000), [0.0, lo, hi, lo / 2, lo * 0.49, lo * 0.51]]
    )
    c, f = bias.quantize_current(name, x)
    table = bias.current(name, ALL_C, ALL_F)  # all 6 * 256 currents
    err_all = np.abs(table[None, :] - x[:, None])
    best = np.argmin(err_all, axis=1)  # first minimum: smallest coarse, then fine
    mine = np.abs(bias.current(name, c, f) - x)
    np.testing.assert_array_equal(mine, err_all.min(axis=1))
    np.testing.assert_array_equal(c, ALL_C[best])
    np.testing.assert_array_equal(f, ALL_F[best])


@pytest.mark.parametrize("seed", sweep())
@pytest.mark.parametrize("name", NAMES)
def test_round_trip_within_half_a_fine_step(name, seed):
    rng = np.random.default_rng(1 + seed)
    lo, hi = bias.current_range(name)
    x = _log_uniform(rng, lo, hi, 2000)
    c, f = bias.quantize_current(name, x)
    got = bias.current(name, c, f)
    i_max = np.asarray(chip.BG_I_MAX[chip.CORE_PARAMETERS[name]]) * chip.BG_SCALE[name]
    # the smallest coarse whose top current reaches x: its half step bounds the error
    c_min = np.searchsorted(i_max, x)
    half_step = i_max[c_min] / 255 / 2
    assert np.all(np.abs(got - x) <= half_step * (1 + 1e-12))
    # above coarse 0's range the relative error is at most half a step of ~8x / 255
    ratio = np.max(i_max[1:] / i_max[:-1])
    above = x >= i_max[0]
    assert np.all(np.abs(got - x)[above] / x[above] <= 0.5 * ratio / 255 + 1e-12)
    # bound is tight: 12 seeds x 52 names: max / bound min 0.44, median 0.46, max 0.49; 3.6 %
    # to 6.2 % of the ~1300 draws above coarse 0 exceed 0.3 of the bound, so that none does
    # has probability below (1 - 0.036) ** 1300 < 1e-20
    assert np.max(np.abs(got - x)[above] / x[above]) > 0.3 * ratio / 255


def test_exact_settings_round_trip():
    x = bias.current("SOIF_GAIN_N", ALL_C, ALL_F)
    c2, f2 = bias.quantize_current("SOIF_GAIN_N", x)
    np.testing.assert_array_equal(bias.current("SOIF_GAIN_N", c2, f2), x)
    # settings with the same current (fine 0 at any coarse) pick the smallest coarse
    assert (c2[0], f2[0]) == (0, 0)
    nonzero = ALL_F > 0  # nonzero currents are all distinct: the pair comes back
    np.testing.assert_array_equal(c2[nonzero], ALL_C[nonzero])
    np.testing.assert_array_equal(f2[nonzero], ALL_F[nonzero])
    assert np.all(c2[~nonzero] == 0) and np.all(f2[~nonzero] == 0)  # 0 A: smallest coarse


def test_tiny_currents_map_to_zero():
    lo, _ = bias.current_range("Itau_ampa")
    c, f = bias.quantize_current("Itau_ampa", np.array([0.0, 1e-30, 0.49 * lo, 0.51 * lo]))
    np.testing.assert_array_equal(c, [0, 0, 0, 0])
    np.testing.assert_array_equal(f, [0, 0, 0, 1])


def test_shapes_and_dtypes():
    x = np.full((3, 4, 5), 1e-9)
    c, f = bias.quantize_current("Igain_ampa", x)
    assert c.shape == f.shape == (3, 4, 5)
    assert c.dtype.kind == f.dtype.kind == "i"
    c0, f0 = bias.quantize_current("Igain_ampa", 1e-9)
    assert c0.shape == () and int(c0) == c[0, 0, 0] and int(f0) == f[0, 0, 0]


@pytest.mark.parametrize("bad", [-1e-12, np.nan, np.inf, 1e-3])
def test_out_of_range_currents_raise(bad):
    _, hi = bias.current_range("SOIF_LEAK_N")
    with pytest.raises(ValueError, match=r"SOIF_LEAK_N: current .* A \.\. 1\.39e-06 A"):
        bias.quantize_current("Itau_mem", np.array([1e-9, bad]))
    assert hi == pytest.approx(2.28e-6 * 0.61)


def test_top_current_is_legal_and_just_above_is_not():
    _, hi = bias.current_range("SYAM_W0_P")
    c, f = bias.quantize_current("SYAM_W0_P", hi)
    assert (int(c), int(f)) == (5, 255)
    with pytest.raises(ValueError, match="SYAM_W0_P"):
        bias.quantize_current("SYAM_W0_P", hi * 1.001)


def test_unknown_name_and_bad_settings():
    with pytest.raises(ValueError, match=r"name = 'Itau_foo' is not a bias parameter.*Itau_mem"):
        bias.quantize_current("Itau_foo", 1e-9)
    with pytest.raises(ValueError, match=r"name = 'NOPE_P' is not a bias parameter.*SOIF_LEAK_N"):
        bias.current("NOPE_P", 0, 0)
    with pytest.raises(ValueError, match=r"coarse value of SOIF_LEAK_N must be in 0\.\.5"):
        bias.current("SOIF_LEAK_N", 6, 0)
    with pytest.raises(ValueError, match=r"fine value of SOIF_LEAK_N must be in 0\.\.255"):
        bias.current("SOIF_LEAK_N", 0, 256)
    with pytest.raises(ValueError, match="must be integers"):
        bias.current("SOIF_LEAK_N", 0, 1.5)


def test_quantize_parameters_per_core():
    core = np.array([0, 0, 1, 1, 1, 3])
    tau = np.array([5e-12, 5e-12, 2e-11, 2e-11, 2e-11, 0.0])
    gain = 2e-9  # scalar: every neuron
    table = bias.quantize_parameters({"Itau_mem": tau, "Igain_mem": gain}, core)
    assert [(s.core, s.name) for s in table.settings] == [
        (0, "Itau_mem"),
        (0, "Igain_mem"),
        (1, "Itau_mem"),
        (1, "Igain_mem"),
        (3, "Itau_mem"),
        (3, "Igain_mem"),
    ]
    s = table.get(1, "Itau_mem")
    c, f = bias.quantize_current("SOIF_LEAK_N", 2e-11)
    assert (s.bg_name, s.coarse, s.fine) == ("SOIF_LEAK_N", int(c), int(f))
    assert s.current == float(bias.current("SOIF_LEAK_N", c, f))
    assert s.rel_error == pytest.approx(abs(s.current - 2e-11) / 2e-11)
    assert table.get(3, "Itau_mem").rel_error == 0.0
    cur = table.currents()
    assert set(cur) == {"Itau_mem", "Igain_mem"}
    np.testing.assert_array_equal(
        cur["Itau_mem"],
        [table.get(int(k), "Itau_mem").current for k in core],
    )
    assert table.coarse_fine(1)["SOIF_LEAK_N"] == (int(c), int(f))
    text = str(table)
    assert "SOIF_GAIN_N" in text and "Itau_mem" in text and len(text.splitlines()) == 8
    with pytest.raises(KeyError, match="core 2"):
        table.get(2, "Itau_mem")


def test_quantize_parameters_spread():
    core = np.array([0, 0, 0])
    tau = np.array([1e-11, 1.2e-11, 1.1e-11])
    with pytest.raises(ValueError, match=r"'Itau_ampa' differs within core 0.*spread 0\.16"):
        bias.quantize_parameters({"Itau_ampa": tau}, core)
    mean = bias.quantize_parameters({"Itau_ampa": tau}, core, reduce="mean")
    med = bias.quantize_parameters({"Itau_ampa": tau}, core, reduce="median")
    assert mean.settings[0].requested == pytest.approx(1.1e-11)
    assert med.settings[0].requested == 1.1e-11
    # float32 round-off is not a spread
    f32 = np.array([1e-11, 1e-11, 1e-11], dtype=np.float32) * np.float32([1, 1 + 2e-7, 1])
    bias.quantize_parameters({"Itau_ampa": f32}, core)


def test_quantize_parameters_bad_input():
    core = np.array([0, 1])
    with pytest.raises(ValueError, match=r"'Itau_mem' has shape \(3,\), expected \(2,\)"):
        bias.quantize_parameters({"Itau_mem": np.ones(3) * 1e-11}, core)
    with pytest.raises(ValueError, match="params key = 'tau' is not a bias parameter"):
        bias.quantize_parameters({"tau": np.ones(2)}, core)
    with pytest.raises(ValueError, match="core must be a 1-D array of non-negative integers"):
        bias.quantize_parameters({"Itau_mem": 1e-11}, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="SOIF_LEAK_N: current 1"):
        bias.quantize_parameters({"Itau_mem": np.array([1.0, 1.0])}, core)
    with pytest.raises(
        ValueError,
        match=r"quantize_parameters: reduce = .* must be one of \['raise', 'mean', 'median'\]",
    ):
        bias.quantize_parameters({"Itau_mem": 1e-11}, core, reduce="max")
