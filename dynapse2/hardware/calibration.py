"""Calibration: fit a simulation's per-neuron mismatch to what a board does.

:func:`calibrate` takes the :class:`~dynapse2.hardware.device.DynapseBoard` that
:func:`~dynapse2.hardware.device.to_hardware` returned and measures the board with probes of
its own, using only what a user can do on a real board:

- **probe configurations**: the network's own configuration with every CAM entry and
  destination cleared, then, on every core the network occupies, each neuron listening to
  one AMPA input (base weight ``SYAM_W0_P``) and one GABA input (``SYAM_W1_P``) broadcast to
  the chip, and reporting its spikes to the host; in some of them DC injection
  (``SOIF_DC_P`` with the ``so_dc`` latch) at a few levels per core;
- **probe stimuli**: DC alone at 5 levels, regular AMPA spike trains at 4 rates, regular
  GABA spike trains at 3 rates over the middle DC level; levels and weights are chosen per
  core from the nominal simulation so that the nominal neuron fires at 20-120 Hz.

It records every neuron's firing rate and fits, per neuron, the mismatch factors of
:data:`FITTED` (log-factors, Gauss-Newton with finite-difference Jacobians and a Gaussian
prior of width ``prior`` around 1) so that the simulation of the same probes predicts the
board. Each neuron is fitted on 3 DC levels, 3 AMPA and 2 GABA rates and scored on the rest
(held out). The fitted factors are effective ones: the board's mismatch perturbs every
current and capacitance, and a factor here also absorbs those its probes cannot tell apart
(e.g. ``Igain_mem`` stands for the ratio of gain to threshold and leak).

The result's :attr:`Calibration.simulator` is the network of the board's configuration with
those factors: same input and output as the board, and it predicts the board.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.hardware import bias
from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Configuration, InputRoute, OutputRoute, Parameter
from dynapse2.hardware.network import META_KEY, network_from_config, pairs, population_neurons
from dynapse2.nn import DynapSim, Sequential
from dynapse2.nn.dynapsim import CURRENTS, DEFAULT_CONSTANTS, MISMATCHED

__all__ = ["FITTED", "Calibration", "calibrate"]

FITTED: tuple[str, ...] = ("Idc", "Igain_mem", "C_mem", "Iref", "Igain_ampa", "Igain_gaba")
"""Mismatch factors :func:`calibrate` fits per neuron (the others stay 1)."""

_TAGS = {"ampa": 2000, "gaba": 2001}
_DC_TARGETS_HZ = (25.0, 40.0, 60.0, 85.0, 120.0)  # fit: 0, 2, 4; held out: 1, 3
_DC_FIT = (0, 2, 4)
_AMPA_RATES_HZ = (100.0, 150.0, 200.0, 300.0)  # fit: 0, 2, 3; held out: 1
_AMPA_FIT = (0, 2, 3)
_GABA_RATES_HZ = (100.0, 200.0, 300.0)  # fit: 0, 2; held out: 1
_GABA_FIT = (0, 2)
_AMPA_TARGET_HZ = 50.0  # nominal rate at 200 Hz AMPA input
_FLOOR_HZ = 1.0  # rates enter the fit as log(rate + floor)
_FD_STEP = 0.05  # finite-difference step of the log-factors


@dataclass
class Calibration:
    """What :func:`calibrate` found.

    Attributes:
        config: the board's (network's) configuration.
        factors: name of :data:`FITTED` -> ``(n_chips * 1024,)`` fitted factor of every
            physical neuron (1 where not calibrated).
        calibrated: ``(n_chips * 1024,)`` bool, the neurons calibrated.
        report: ``nominal_error`` and ``calibrated_error`` (median over neurons of the mean
            relative firing-rate error on held-out probes), ``seconds``, ``iterations``,
            ``neurons``, and ``history`` (per chip, the median absolute log-rate residual of
            the fitted probes after each iteration).
    """

    config: Configuration
    factors: dict[str, np.ndarray]
    calibrated: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    def mismatch_factors(self, flat: np.ndarray) -> dict[str, jnp.ndarray]:
        """Factors of every name of :data:`~dynapse2.nn.dynapsim.MISMATCHED` for the physical
        neurons ``flat``: a ``DynapSim.mismatch_factors`` dict, ``(len(flat),)`` each."""
        ones = np.ones(len(flat), np.float32)
        return {
            k: jnp.asarray(self.factors[k][flat] if k in self.factors else ones, jnp.float32)
            for k in MISMATCHED
        }

    def apply(self, net: Sequential, config: Configuration | None = None) -> Sequential:
        """``net`` (the network ``config`` was mapped from; default :attr:`config`) with the
        fitted factors of the neurons it occupies as its device mismatch: train it to
        compensate for this board."""
        cfg = self.config if config is None else config
        flats = population_neurons(cfg)
        mods, li = list(net.modules), 0
        for i, m in enumerate(mods):
            if isinstance(m, DynapSim):
                mods[i] = _with_factors(m, self.mismatch_factors(flats[li]))
                li += 1
        if li != len(flats):
            raise ValueError(
                f"Calibration.apply: the network has {li} DynapSim layers; the configuration "
                f"holds {len(flats)} populations"
            )
        return Sequential(*mods)

    def network(self, config: Configuration | None = None, backend: str = "jax") -> Sequential:
        """The network ``config`` (default :attr:`config`) holds, simulated with the fitted
        factors: what the board does with that configuration."""
        cfg = self.config if config is None else config
        return self.apply(network_from_config(cfg, backend=backend), cfg)

    @property
    def simulator(self) -> Sequential:
        """The calibrated simulation of the board's configuration (input ``(T, n_in)`` or
        ``(batch, T, n_in)`` event counts, output spikes of the same channels as the board)."""
        return self.network()


def _with_factors(m: DynapSim, factors: dict[str, Any]) -> DynapSim:
    return eqx.tree_at(lambda d: d.mismatch_factors, m, factors, is_leaf=lambda v: v is None)


# --- probes ------------------------------------------------------------------------------
def _probe_config(
    cfg: Configuration,
    chip: int,
    cores: list[int],
    dc: dict[int, tuple[int, int]] | None,
    weights: dict[int, tuple[tuple[int, int], tuple[int, int]]],
) -> Configuration:
    """``cfg`` with its connections cleared and the probe circuit on ``cores`` of ``chip``."""
    out = cfg.copy()
    for ch in out.chips:
        for core in ch.cores:
            core.syn_dendrite[:] = 0
            core.dest_core[:] = 0
    outputs, amp, gab = {}, C.DENDRITE_CODES["ampa"], C.DENDRITE_CODES["gaba"]
    so_dc = C.NEURON_LATCHES.index("so_dc")
    for co in cores:
        core = out.chips[chip].cores[co]
        core.syn_tag[:, 0], core.syn_dendrite[:, 0], core.syn_weight[:, 0] = _TAGS["ampa"], amp, 1
        core.syn_tag[:, 1], core.syn_dendrite[:, 1], core.syn_weight[:, 1] = _TAGS["gaba"], gab, 2
        (wa, wg) = weights[co]
        core.parameters["SYAM_W0_P"] = Parameter(*wa, C.CORE_PARAMETERS["SYAM_W0_P"])
        core.parameters["SYAM_W1_P"] = Parameter(*wg, C.CORE_PARAMETERS["SYAM_W1_P"])
        if dc is not None:
            core.parameters["SOIF_DC_P"] = Parameter(*dc[co], C.CORE_PARAMETERS["SOIF_DC_P"])
        core.latches[:, so_dc] = dc is not None
        n = np.arange(C.N_NEURONS_PER_CORE)
        core.dest_tag[:, 0] = co * C.N_NEURONS_PER_CORE + n
        core.dest_core[:, 0] = 1
        core.dest_x_hop[:, 0], core.dest_y_hop[:, 0] = C.HOST_HOPS
        for i in n.tolist():
            outputs[len(outputs)] = OutputRoute(chip, co, i, co * C.N_NEURONS_PER_CORE + i)
    routes = {k: (InputRoute(chip, t, 0b1111),) for k, t in enumerate(_TAGS.values())}
    meta = {}
    if META_KEY in cfg.meta:  # keep the network's dt and constants; one population, no recurrence
        structure = cfg.meta[META_KEY]
        layer = {k: v for k, v in structure["layers"][0].items() if k != "neurons"}
        flat = [
            (chip * C.N_CORES + co) * C.N_NEURONS_PER_CORE + i for co in cores for i in range(256)
        ]
        layer.update(neurons=flat, has_rec=False)
        meta = {META_KEY: {**structure, "n_in": 2, "layers": [layer]}}
    return Configuration(out.chips, input_map=routes, output_map=outputs, meta=meta)


def _regular(rate_hz: float, steps: int, dt: float) -> np.ndarray:
    """A regular spike train, ``(steps,)`` int32."""
    x = np.zeros(steps, np.int32)
    if rate_hz > 0:
        period = max(1, int(round(1.0 / (rate_hz * dt))))
        x[::period] = 1
    return x


def _rates(spikes: np.ndarray, dt: float) -> np.ndarray:
    """Firing rate (Hz) of each neuron of ``(..., T, n)`` spikes: ``(count - 1) / (last -
    first spike time)`` with 3 or more spikes (smooth in the circuit parameters), else the
    count over the window."""
    s = np.asarray(spikes) > 0
    steps = s.shape[-2]
    count = s.sum(-2)
    first = np.argmax(s, axis=-2)
    last = steps - 1 - np.argmax(s[..., ::-1, :], axis=-2)
    span = np.maximum(last - first, 1) * dt
    return np.where(count >= 3, (count - 1) / span, count / (steps * dt))


def _currents(m: DynapSim) -> dict[str, np.ndarray]:
    """Every current of ``m`` per neuron (A), ``(n,)`` each."""
    return {c: np.broadcast_to(np.asarray(getattr(m, c)), (m.n,)) for c in CURRENTS}


def _like(m: DynapSim, currents: dict[str, np.ndarray]) -> DynapSim:
    """A DynapSim with ``m``'s step, solver, capacitances and constants and these per-neuron
    currents (A, ``(n,)`` each); no recurrence, no mismatch."""
    values: dict[str, Any] = {**currents, **m.capacitances}  # currents (A) and capacitances (F)
    return DynapSim(
        len(currents["Itau_mem"]),
        dt=m.dt,
        solver=m.solver,
        positive_feedback=m.positive_feedback,
        synapse_model=m.synapse_model,
        **values,
        **{k: getattr(m, k) for k in DEFAULT_CONSTANTS},
    )


def _tiled(mods: list[DynapSim]) -> DynapSim:
    """One DynapSim holding the neurons of every module of ``mods`` side by side."""
    cur = [_currents(d) for d in mods]
    return _like(mods[0], {c: np.concatenate([k[c] for k in cur]) for c in CURRENTS})


def _subset(m: DynapSim, idx: np.ndarray, override: dict[str, float] | None = None) -> DynapSim:
    """The neurons ``idx`` of ``m`` as a module of their own, with currents ``override``."""
    cur = {c: v[idx] for c, v in _currents(m).items()}
    cur.update({k: np.full(idx.size, v) for k, v in (override or {}).items()})
    return _like(m, cur)


def _tiled_factors(theta: np.ndarray, copies: int) -> dict[str, jnp.ndarray]:
    """``DynapSim.mismatch_factors`` of ``copies`` side-by-side copies of the neurons whose
    fitted log-factors are ``theta`` ``(n, len(FITTED))``; the other quantities at 1."""
    f = np.exp(np.tile(theta, (copies, 1))).astype(np.float32)
    out = {m: jnp.ones(f.shape[0], jnp.float32) for m in MISMATCHED}
    out.update({name: jnp.asarray(f[:, i]) for i, name in enumerate(FITTED)})
    return out


class _Bench:
    """Probes of one chip: their configurations, stimuli and simulated twins."""

    def __init__(self, cfg: Configuration, chip: int, cores: list[int], dt: float, steps: int):
        self.cfg, self.chip, self.cores, self.dt, self.steps = cfg, chip, cores, dt, steps
        self.flat = np.concatenate(
            [(chip * C.N_CORES + co) * C.N_NEURONS_PER_CORE + np.arange(256) for co in cores]
        )
        self.n = self.flat.size
        # Levels: the nominal circuit of a weightless, DC-free probe sets them.
        nominal = self._module(_probe_config(cfg, chip, cores, None, self._weights(None)))
        self.weights = self._choose_weights(nominal)
        dc_amps = self._choose_dc(nominal)
        self.dc = [{co: _setting("SOIF_DC_P", a[i]) for i, co in enumerate(cores)} for a in dc_amps]
        self.probes = (
            [("dc", k, 0.0) for k in range(len(_DC_TARGETS_HZ))]
            + [("ampa", None, r) for r in _AMPA_RATES_HZ]
            + [("gaba", 2, r) for r in _GABA_RATES_HZ]
        )
        fit = (
            list(_DC_FIT)
            + [len(_DC_TARGETS_HZ) + k for k in _AMPA_FIT]
            + [len(_DC_TARGETS_HZ) + len(_AMPA_RATES_HZ) + k for k in _GABA_FIT]
        )
        self.fit = np.array(fit)
        self.held = np.array([k for k in range(len(self.probes)) if k not in fit])
        self.configs = {lv: self._config(lv) for lv in {p[1] for p in self.probes}}
        self.nets = {lv: network_from_config(c) for lv, c in self.configs.items()}

    def _weights(self, w) -> dict[int, tuple[tuple[int, int], tuple[int, int]]]:
        zero = (0, 0)
        return {co: (zero, zero) if w is None else w for co in self.cores}

    def _config(self, level: int | None) -> Configuration:
        dc = None if level is None else self.dc[level]
        return _probe_config(self.cfg, self.chip, self.cores, dc, self.weights)

    def _module(self, cfg: Configuration) -> DynapSim:
        return pairs(network_from_config(cfg))[0][1]

    def stimulus(self, probe) -> np.ndarray:
        kind, _, rate = probe
        x = np.zeros((self.steps, 2), np.int32)
        if kind != "dc":
            x[:, 0 if kind == "ampa" else 1] = _regular(rate, self.steps, self.dt)
        return x

    def _sweep(self, m: DynapSim, values: np.ndarray, probe_of) -> np.ndarray:
        """Median nominal rate per core, ``(cores, len(values))``, of 16 neurons per core of
        ``m`` under each value; ``probe_of(v) -> (current overrides, (T,) drive)``."""
        sub = np.concatenate([np.arange(16) + 256 * i for i in range(len(self.cores))])
        mods, drives = [], []
        for v in values:
            cur, drive = probe_of(v)
            mods.append(_subset(m, sub, cur))
            drives.append(np.repeat(drive[:, None], sub.size, axis=1))
        out, _, _ = _tiled(mods)(jnp.asarray(np.concatenate(drives, axis=1), jnp.float32))
        r = _rates(np.asarray(out), self.dt).reshape(len(values), len(self.cores), 16)
        return np.median(r, axis=-1).T

    def _choose_dc(self, m: DynapSim) -> list[np.ndarray]:
        lo, hi = bias.current_range("SOIF_DC_P")
        cand = np.geomspace(max(lo, 1e-12), hi, 40)
        zero = np.zeros(self.steps, np.float32)
        med = self._sweep(m, cand, lambda v: ({"Idc": v}, zero))
        return [_interpolate(cand, med, t) for t in _DC_TARGETS_HZ]

    def _choose_weights(self, m: DynapSim):
        iscale = float(m.Iscale)
        cand = np.geomspace(0.05, 50.0, 30)  # units of Iscale
        spikes = _regular(200.0, self.steps, self.dt).astype(np.float32)
        med = self._sweep(m, cand, lambda v: ({}, spikes * v))
        wa = _interpolate(cand, med, _AMPA_TARGET_HZ)
        q = {co: _setting("SYAM_W0_P", wa[i] * iscale) for i, co in enumerate(self.cores)}
        # GABA (W1) takes the same base weight; against the middle DC level it slows the rate
        return {co: (q[co], q[co]) for co in self.cores}

    def twins(self, probes: np.ndarray) -> tuple[DynapSim, np.ndarray]:
        """The simulation of ``probes`` side by side and its input ``(T, K n)``."""
        mods, drives = [], []
        for k in probes.tolist():
            p = self.probes[k]
            net = self.nets[p[1]]
            mods.append(net.modules[1])
            d, _, _ = net.modules[0](jnp.asarray(self.stimulus(p), jnp.float32))
            drives.append(np.asarray(d))
        return _tiled(mods), np.concatenate(drives, axis=1)


def _interpolate(values: np.ndarray, rates: np.ndarray, target: float) -> np.ndarray:
    """Per row of ``rates`` (increasing in ``values``), the value where the rate crosses
    ``target`` (log-linear interpolation; the end values when it never does)."""
    out = []
    for r in rates:
        above = np.flatnonzero(r >= target)
        if above.size == 0:
            out.append(values[-1])
        elif above[0] == 0:
            out.append(values[0])
        else:
            i = above[0]
            f = (target - r[i - 1]) / max(r[i] - r[i - 1], 1e-9)
            out.append(float(np.exp(np.log(values[i - 1]) + f * np.log(values[i] / values[i - 1]))))
    return np.asarray(out)


def _setting(name: str, amps: float) -> tuple[int, int]:
    """The BG setting nearest ``amps`` (A), at least the smallest nonzero one."""
    lo, hi = bias.current_range(name)
    coarse, fine = bias.quantize_current(name, float(np.clip(amps, lo, hi)))
    return (int(coarse), max(int(fine), 1))


# --- the fit -----------------------------------------------------------------------------
def _fit(
    bench: _Bench, measured: np.ndarray, prior: float, iterations: int
) -> tuple[np.ndarray, list[float]]:
    """Per-neuron log-factors ``(n, P)`` of :data:`FITTED` that make the simulation of the
    fitted probes predict ``measured`` rates ``(K, n)`` (Levenberg-Marquardt, vectorised over
    neurons: each neuron's probe responses depend on its own factors only)."""
    model, drive = bench.twins(bench.fit)
    k, n, p = bench.fit.size, bench.n, len(FITTED)
    x = jnp.asarray(drive, jnp.float32)
    target = np.log(measured + _FLOOR_HZ)
    noise = 0.02  # residual scale: log-rate resolution of a 1 s probe

    def residual(theta: np.ndarray) -> np.ndarray:
        out, _, _ = _with_factors(model, _tiled_factors(theta, k))(x)
        r = _rates(np.asarray(out), bench.dt).reshape(k, n)
        return (np.log(r + _FLOOR_HZ) - target).T  # (n, K)

    def cost(theta, res):
        return (res**2).sum(1) / noise**2 + (theta**2).sum(1) / prior**2

    theta = np.zeros((n, p))
    res = residual(theta)
    c = cost(theta, res)
    lam = np.full(n, 1e-2)
    history = [float(np.median(np.abs(res)))]
    for _ in range(iterations):
        jac = np.zeros((n, k, p))
        for i in range(p):
            step = theta.copy()
            step[:, i] += _FD_STEP
            jac[:, :, i] = (residual(step) - res) / _FD_STEP
        a = np.einsum("nki,nkj->nij", jac, jac) / noise**2 + np.eye(p) / prior**2
        g = np.einsum("nki,nk->ni", jac, res) / noise**2 + theta / prior**2
        damp = a + lam[:, None, None] * np.eye(p) * np.diagonal(a, axis1=1, axis2=2)[:, None, :]
        delta = -np.linalg.solve(damp, g[..., None])[..., 0]
        delta = np.clip(delta, -0.5, 0.5)
        trial = theta + delta
        res_t = residual(trial)
        c_t = cost(trial, res_t)
        better = c_t < c
        theta[better], res[better], c[better] = trial[better], res_t[better], c_t[better]
        lam = np.where(better, lam / 3, lam * 4)
        history.append(float(np.median(np.abs(res))))
    return theta, history


def _board_rates(hw: Any, bench: _Bench, probes: np.ndarray) -> np.ndarray:
    """Rates ``(K, n)`` of the calibrated neurons on the board for ``probes``."""
    from dynapse2.hardware.device import DynapseBoard  # noqa: PLC0415  (no import cycle)

    out = np.zeros((probes.size, bench.n))
    for level, cfg in bench.configs.items():
        idx = [i for i, k in enumerate(probes.tolist()) if bench.probes[k][1] == level]
        if not idx:
            continue
        hw.board.apply(cfg)
        probe = DynapseBoard(cfg, hw.board, hw.dt, n_in=2, drain=True)
        x = np.stack([bench.stimulus(bench.probes[probes[i]]) for i in idx])
        spikes, _, _ = probe(x)
        out[idx] = _rates(spikes, hw.dt)
    return out


def _relative_error(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Per neuron, the mean over probes of ``|pred - meas| / meas`` where the board fires
    (``(n,)``; NaN for a neuron silent on every probe)."""
    on = measured >= _FLOOR_HZ
    err = np.where(on, np.abs(predicted - measured) / np.maximum(measured, _FLOOR_HZ), 0.0)
    with np.errstate(invalid="ignore"):
        return err.sum(0) / on.sum(0)


def calibrate(
    hw: Any,
    *,
    duration: float = 1.0,
    iterations: int = 6,
    prior: float = 0.25,
) -> Calibration:
    """Measure a board with probes and fit the mismatch of a simulation that predicts it.

    Args:
        hw: the :class:`~dynapse2.hardware.device.DynapseBoard` of :func:`to_hardware` (a
            real board or a :class:`~dynapse2.hardware.virtual_board.VirtualBoard`). Its
            configuration is applied again at the end.
        duration: length of each probe trial (s).
        iterations: Levenberg-Marquardt iterations.
        prior: expected relative spread of the board's mismatch (the prior's width).

    Returns:
        A :class:`Calibration`; ``.simulator`` predicts the board.

    Raises:
        TypeError, ValueError: bad ``hw``, ``duration``, ``iterations`` or ``prior``
            (checked before any probe).
    """
    if not (hasattr(hw, "config") and hasattr(hw, "dt") and hasattr(hw, "board")):
        raise TypeError(
            f"calibrate: hw = {hw!r} must be the DynapseBoard of to_hardware (a real or a "
            "virtual board)"
        )
    where = "calibrate"
    checks.number(where, "duration (s, at least 50 dt)", duration, lo=50 * hw.dt)
    checks.integer(where, "iterations", iterations, lo=0)
    checks.number(where, "prior", prior, lo=0, hi=1, lo_open=True, hi_open=True)
    t0 = time.perf_counter()
    cfg = hw.config
    n_total = len(cfg.chips) * C.N_NEURONS_PER_CHIP
    factors = {k: np.ones(n_total, np.float32) for k in FITTED}
    calibrated = np.zeros(n_total, bool)
    gcores = np.unique(np.concatenate(population_neurons(cfg)) // C.N_NEURONS_PER_CORE)
    steps = int(round(duration / hw.dt))
    nominal_err, fitted_err, history = [], [], []
    try:
        for chip in np.unique(gcores // C.N_CORES).tolist():
            cores = [int(g % C.N_CORES) for g in gcores if g // C.N_CORES == chip]
            bench = _Bench(cfg, chip, cores, hw.dt, steps)
            measured = _board_rates(hw, bench, np.arange(len(bench.probes)))
            theta, hist = _fit(bench, measured[bench.fit], prior, iterations)
            history.append(hist)
            for i, name in enumerate(FITTED):
                factors[name][bench.flat] = np.exp(theta[:, i])
            calibrated[bench.flat] = True
            model, drive = bench.twins(bench.held)
            k = bench.held.size
            x = jnp.asarray(drive, jnp.float32)
            nominal, _, _ = model(x)
            fitted, _, _ = _with_factors(model, _tiled_factors(theta, k))(x)
            held = measured[bench.held]
            r_nom = _rates(np.asarray(nominal), hw.dt).reshape(k, bench.n)
            r_fit = _rates(np.asarray(fitted), hw.dt).reshape(k, bench.n)
            nominal_err.append(_relative_error(r_nom, held))
            fitted_err.append(_relative_error(r_fit, held))
    finally:
        hw.board.apply(cfg)
    report = {
        "nominal_error": float(np.nanmedian(np.concatenate(nominal_err))),
        "calibrated_error": float(np.nanmedian(np.concatenate(fitted_err))),
        "seconds": time.perf_counter() - t0,
        "iterations": iterations,
        "neurons": int(calibrated.sum()),
    }
    report["history"] = history
    return Calibration(cfg, factors, calibrated, report)
