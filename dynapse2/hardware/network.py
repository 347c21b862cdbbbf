"""Networks <-> configurations: quantize, map and write a network; read it back.

Supported networks (what :func:`map_network` accepts):

- a bare ``DynapSim(n, ...)`` (or ``Sequential(DynapSim)``): ``n`` input channels, channel
  ``i`` driving neuron ``i`` through AMPA with weight 1 (the input must be non-negative event
  counts: events on the chip carry no sign);
- ``Sequential(Linear((n_in, n)), DynapSim(n, ...))``: the Linear weights become the CAM
  entries with which the DynapSim neurons listen to the input channels' tags (positive
  weights AMPA, negative GABA), with ``w_rec`` if ``has_rec`` (any synapse type; dense, or
  chip-shaped ``SparseWeights``, whose CAM entries map as their dense form: entries that
  repeat a (pre, type) are one synapse of their summed weight);
- deeper ``Sequential`` chains of ``[Linear,] DynapSim`` pairs: each DynapSim is a population
  on the chips, a Linear between two DynapSims (or none: identity) becomes their connections.

Not supported (a clear error): a Linear with a bias, a Linear after the last DynapSim (a
readout runs on the host, not on the chip), other module types. The network's output is the
last population's spikes; its input, non-negative event counts per channel.

What the configuration holds per core (everything the simulator needs is recovered from it):
the BG settings of the 19 DynapSim currents (``chip.SIM_TO_BG``) and of the base weights
``SYAM_W0_P..SYAM_W3_P``; per neuron the CAM entries (tag, dendrite, weight mask), SRAM
destinations and latches. ``Configuration.meta["dynapse2"]`` keeps what the silicon does not
hold: population structure (which neurons form which population, in which order), ``dt``,
``Iscale``, capacitances and physical constants, so that :func:`network_from_config`
rebuilds the same ``Sequential``. Without it (a configuration read from a board) every
neuron with a synapse, a destination or an output forms one population with recurrent
connections, simulated with the nominal constants.

Decisions:

- Mismatch is a property of the silicon: the nominal currents are quantized, mismatch
  factors are ignored; the quantized and rebuilt networks have no mismatch (pass
  ``mismatch=`` to :func:`network_from_config` to simulate a chip).
- A core holds one value per parameter: with ``reduce="mean"`` (default) the neurons of a
  core that ask for different values get their mean, with a :class:`UserWarning` naming the
  parameter and the core; ``reduce="raise"`` refuses instead. ``DynapSim.groups`` decides
  which neurons share a core, so a network trained with tied groups never triggers this.
- A current that quantizes to 0 A (below half the BG's smallest step) takes the smallest
  nonzero setting (coarse 0, fine 1) instead: the simulator needs positive currents, and the
  silicon leaks about a picoampere at fine 0 anyway.
- Latches: ``so_adaptation`` where the AHP weight (``SOAD_W_N``) is set above what ``I_0``
  quantizes to, ``so_dc`` likewise for ``SOIF_DC_P``, ``denm_nmda`` where a neuron has NMDA
  synapses. Reading back, a neuron whose latch is off gets the quantized ``I_0`` for that
  current (the circuit is off). ``soif_type`` (on: the thresholded soma, off at reset: the
  exponential one) is on for every neuron of a population with ``positive_feedback=False``;
  reading back, a population whose neurons all have it on gets ``positive_feedback=False``
  (a population with some on and some off is an error). Other latches stay at reset.
- Weights are written in the canonical form of :mod:`dynapse2.hardware.levels`, so that
  network -> configuration -> network -> configuration gives an identical configuration.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeGuard

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import activity as A
from dynapse2.hardware import bias
from dynapse2.hardware import chip as C
from dynapse2.hardware.bias import ParameterTable, quantize_parameters
from dynapse2.hardware.config import Configuration, Parameter
from dynapse2.hardware.levels import CanonicalWeights, canonical_quantize, level_table
from dynapse2.hardware.mapper import (
    Connections,
    Placement,
    check_fan_in,
    flat_id,
    place,
    route,
    unroute,
)
from dynapse2.nn import CURRENTS, DynapSim, Linear, Sequential
from dynapse2.nn.backends import BACKENDS
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.dynapsim import DEFAULT_CONSTANTS, TAU_OF
from dynapse2.nn.module import Module
from dynapse2.nn.plan import PlanOptions
from dynapse2.nn.sequential import population_slots
from dynapse2.physics import constants as K
from dynapse2.physics.synapses import (
    AMPA,
    GABA,
    NMDA,
    SIGNED_TYPES,
    signed_from_typed,
    typed_from_signed,
)
from dynapse2.solvers import solver_from_name

__all__ = [
    "NetworkMapping",
    "map_network",
    "config_from_network",
    "quantize_network",
    "network_from_config",
    "population_neurons",
    "META_KEY",
]

META_KEY = "dynapse2"
"""Key of ``Configuration.meta`` that holds the network structure."""
_META_VERSION = 1
_TYPES = C.SYNAPSE_TYPES
_CODE = [C.DENDRITE_CODES[t] for t in _TYPES]
_TYPE_OF_CODE = {code: i for i, code in enumerate(_CODE)}
_LATCH = {name: i for i, name in enumerate(C.NEURON_LATCHES)}
_CONSTANTS = ("Ut", "kappa_n", "kappa_p", "Io", "Vth")
# Current -> latch that switches its circuit on (off: the current is the quantized I_0).
_LATCHED = {"Iw_ahp": "so_adaptation", "Idc": "so_dc"}
_SIM_OPTIONS = (
    "synapse_model",
    "detach_feedback",
    "detach_reset",
    "surrogate",
    "surrogate_slope",
    "solver",
    "plan_options",
)


# --- reading a network ----------------------------------------------------------------------
def _layers(net: Module) -> tuple[int, list[DynapSim], list[np.ndarray]]:
    """``(n_in, populations, signed input weights of each population)``."""
    slots = population_slots(
        net,
        "map_network",
        "a readout runs on the host, not on the chip; map the network without it and apply "
        "the readout to the output spikes",
    )
    mods = net.modules if isinstance(net, Sequential) else (net,)
    layers: list[DynapSim] = []
    weights: list[np.ndarray] = []
    for li, di in slots:
        sim = mods[di]
        assert isinstance(sim, DynapSim)
        if li is None:
            weights.append(np.eye(sim.n))
        else:
            lin = mods[li]
            assert isinstance(lin, Linear)
            if lin.bias is not None:
                raise ValueError(
                    f"map_network: module {li} (Linear) has a bias; the chip has no bias "
                    "currents per synapse: build the Linear with has_bias=False"
                )
            weights.append(np.asarray(lin.weight, np.float64))
        layers.append(sim)
    return weights[0].shape[0], layers, weights


def pairs(net: Sequential) -> list[tuple[Linear, DynapSim]]:
    """The ``(Linear, DynapSim)`` pairs of a network that :func:`network_from_config` or
    :func:`map_network` built, in order.

    Raises:
        TypeError: ``net`` is not such a network.
    """
    mods = net.modules if isinstance(net, Sequential) else ()
    out: list[tuple[Linear, DynapSim]] = []
    for a, b in zip(mods[0::2], mods[1::2], strict=False):
        if isinstance(a, Linear) and isinstance(b, DynapSim):
            out.append((a, b))
    if not out or 2 * len(out) != len(mods):
        raise TypeError(
            f"pairs: expected a Sequential of (Linear, DynapSim) pairs, got {type(net).__name__}"
        )
    return out


# --- building a network (shared by quantize_network and network_from_config) ----------------
def _neutral(name: str, io: float) -> tuple[int, int]:
    """BG setting of ``I_0`` for a latched current: what "circuit off" looks like."""
    return _setting(name, io)


def _setting(name: str, amps: float) -> tuple[int, int]:
    c, f = bias.quantize_current(name, amps)
    c, f = int(c), int(f)
    if f == 0:  # 0 A would be no current: take the smallest step (see the module docstring)
        c, f = 0, 1
    return c, f


def _currents(settings: list[dict[str, tuple[int, int]]], latches: np.ndarray, io: float):
    """Per-neuron currents (A) from each neuron's core settings and latches."""
    out = {}
    for name in CURRENTS:
        bg = C.SIM_TO_BG[name]
        cf = np.array([s[bg] for s in settings], np.int64).reshape(-1, 2)
        if name in _LATCHED:
            off = ~latches[:, _LATCH[_LATCHED[name]]]
            cf[off] = _neutral(name, io)
        out[name] = np.asarray(bias.current(name, cf[:, 0], cf[:, 1]), np.float64)
    return out


@dataclass
class _Layer:
    n: int
    in_w: np.ndarray  # (n_src, n) signed, units of Iscale
    w_rec: np.ndarray | None  # (n, n, 4) typed or None (no recurrence)
    currents: dict[str, np.ndarray]
    groups: tuple[int, ...]
    sim: dict[str, Any]  # dt, Iscale, capacitances, constants, options


def _build(layers: list[_Layer], backend: str, mismatch: float, key: Any) -> Sequential:
    mods: list[Module] = []
    for L in layers:
        mods.append(Linear(L.in_w.shape, weight=L.in_w.astype(np.float32)))
        s = L.sim
        mods.append(
            DynapSim(
                L.n,
                has_rec=L.w_rec is not None,
                w_rec=L.w_rec,
                dt=s["dt"],
                groups=L.groups,
                mismatch=mismatch,
                key=key,
                backend=backend,
                **{k: s[k] for k in _SIM_OPTIONS if k in s},
                positive_feedback=s.get("positive_feedback", True),
                **L.currents,
                **s["capacitances"],
                Iscale=s["Iscale"],
                **{k: s[k] for k in _CONSTANTS},
            )
        )
    return Sequential(*mods)


def _sim_of(m: DynapSim) -> dict[str, Any]:
    return {
        "dt": m.dt,
        "Iscale": m.Iscale,
        "capacitances": dict(m.capacitances),
        **{k: getattr(m, k) for k in _CONSTANTS},
        "synapse_model": m.synapse_model,
    }


def _feedback_of(latches: np.ndarray, layer: int) -> bool:
    """``positive_feedback`` of a population from its neurons' latches ``(n, 14)``: False
    where every ``soif_type`` latch is on (the thresholded soma), True where none is."""
    on = latches[:, _LATCH["soif_type"]]
    if on.any() and not on.all():
        raise ValueError(
            f"layer {layer}: {int(on.sum())} of {on.size} neurons have the soif_type latch on "
            "(thresholded soma) and the others off (exponential); a DynapSim population has "
            "one soma type: set the latch alike for all its neurons"
        )
    return not bool(on.any())


def _group_ranks(gcore: np.ndarray) -> tuple[int, ...]:
    """Parameter group of each neuron = rank of its core among the population's cores."""
    return tuple(np.unique(gcore, return_inverse=True)[1].ravel().tolist())


# --- network -> configuration ---------------------------------------------------------------
@dataclass(frozen=True)
class NetworkMapping:
    """Everything :func:`map_network` decided.

    Attributes:
        config: the configuration.
        placement: neuron -> chip, core, neuron (populations in network order).
        network: the quantized network: a ``Sequential`` of ``(Linear, DynapSim)`` pairs that
            simulates what ``config`` holds (equal to ``network_from_config(config)``).
        weights: per population, the :class:`~dynapse2.hardware.levels.CanonicalWeights`
            (input rows first, then recurrent rows).
        parameters: per population, the BG :class:`~dynapse2.hardware.bias.ParameterTable`
            (core numbers are global: ``chip * 4 + core``).
        pruned: per population, the number of incoming connections ``prune=True`` removed
            from each neuron, ``(n,)`` ints (all zero without pruning).
    """

    config: Configuration
    placement: Placement
    network: Sequential
    weights: tuple[CanonicalWeights, ...]
    parameters: tuple[ParameterTable, ...]
    pruned: tuple[np.ndarray, ...] = ()

    def summary(self) -> str:
        """Placement, CAM/SRAM use and the quantization error, as text."""
        cfg = self.config
        n_syn = sum(int((c.syn_dendrite != 0).sum()) for ch in cfg.chips for c in ch.cores)
        n_dst = sum(int((c.dest_core != 0).sum()) for ch in cfg.chips for c in ch.cores)
        lines = [self.placement.summary()]
        lines.append(
            f"{n_syn} CAM entries, {n_dst} SRAM destinations, {len(cfg.input_map)} input "
            f"channels routed, {len(cfg.output_map)} output channels"
        )
        for li, w in enumerate(self.weights):
            err = ", ".join(f"{e:.3f}" for e in w.fit.error)
            lines.append(
                f"layer {li}: relative weight error per core [{err}], "
                f"{len(w.fit.dropped)} connection(s) rounded to 0 (dropped)"
            )
        for li, p in enumerate(self.pruned):
            if p.any():
                lines.append(
                    f"layer {li}: pruned {int(p.sum())} weakest connection(s) of "
                    f"{int(np.count_nonzero(p))} neuron(s) to fit {C.N_CAM} CAM entries"
                )
        return "\n".join(lines)


def _quantize_currents(
    m: DynapSim, gcore: np.ndarray, reduce: Literal["mean", "median", "raise"], layer: int
) -> tuple[ParameterTable, dict[int, dict[str, tuple[int, int]]]]:
    values = {name: np.asarray(getattr(m, name), np.float64) for name in CURRENTS}
    try:
        table = quantize_parameters(values, gcore, reduce="raise")
    except ValueError as e:
        if reduce == "raise" or "differs within core" not in str(e):
            raise ValueError(f"layer {layer}: {e}") from e
        warnings.warn(
            f"layer {layer}: {e}; using the {reduce} of each core (further differences are "
            "averaged silently)",
            UserWarning,
            stacklevel=3,
        )
        table = quantize_parameters(values, gcore, reduce=reduce)
    # Time constants: the nearest setting may make a DPI slightly faster than the module's
    # solver accepts (tau >= solver.min_tau_steps dt, DynapSim.max_leak_current); then take
    # the largest setting below it.
    limit = {i: m.max_leak_current(i) for _, i in TAU_OF.values()}
    settings = []
    for s in table.settings:
        c, f = (s.coarse, s.fine) if s.fine > 0 or s.requested == 0 else (0, 1)
        if s.name in limit and float(bias.current(s.name, c, f)) > limit[s.name]:
            c, f = _floor_setting(s.name, limit[s.name])
        settings.append(replace(s, coarse=c, fine=f, current=float(bias.current(s.name, c, f))))
    table = ParameterTable(settings=tuple(settings), core=table.core)
    per_core: dict[int, dict[str, tuple[int, int]]] = {}
    for s in table.settings:
        per_core.setdefault(s.core, {})[s.bg_name] = (s.coarse, s.fine)
    return table, per_core


def _floor_setting(name: str, amps: float) -> tuple[int, int]:
    """The BG setting of the largest current not above ``amps``."""
    c, f = (int(v) for v in bias.quantize_current(name, min(amps, bias.current_range(name)[1])))
    while f > 1 and float(bias.current(name, c, f)) > amps:
        f -= 1
    if float(bias.current(name, c, f)) > amps:
        raise ValueError(f"{name}: no BG setting at or below {amps:.4g} A")
    return c, f


def map_network(
    net: Module,
    *,
    positions: Sequence[tuple[int, int]] | None = None,
    reduce: Literal["mean", "median", "raise"] = "mean",
    prune: bool = False,
    backend: str = "jax",
    activity: Sequence[Any] | None = None,
) -> NetworkMapping:
    """Quantize, place and route a network, and write its configuration.

    Args:
        net: a supported network (see the module docstring).
        positions: grid position ``(x, y)`` of each chip; default
            :func:`~dynapse2.hardware.mapper.default_positions`.
        reduce: how a core's differing parameter values become one (see module docstring).
        prune: keep only the 64 strongest incoming connections (input and recurrent, all
            synapse types) of a neuron that has more, instead of raising; how many each
            neuron lost is reported in :attr:`NetworkMapping.pruned` and the summary.
        backend: backend of the quantized network's DynapSim layers.
        activity: the mean rates (Hz, >= 0, finite) of the sources, to fit each core's 16
            weight levels where the drive is: a sequence of ``1 + n_populations`` arrays,
            ``(n_in,)`` for the input channels, then ``(n_k,)`` for the neurons of
            population ``k`` (:func:`~dynapse2.hardware.activity.source_rates` computes them by
            simulating ``net`` once on sample input: use training data). Each connection's
            squared error then counts ``rate**2`` times in the fit of its core's levels
            (the mean drive's error; a core whose sources are all silent is fitted
            unweighted), the rounding keeps each neuron's mean drive per synapse type
            (``quantize_weights(..., rates=)``: a weight goes to its nearest level or the
            other neighbouring one), and ``prune`` keeps the connections of largest
            ``rate * |w|`` (the drive they carry). See :mod:`dynapse2.hardware.activity`.
            ``None`` (default): the unweighted fit, nearest levels, pruning by ``|w|``.

    Returns:
        A :class:`NetworkMapping`.

    Raises:
        ValueError: an unsupported network, or one that does not fit the chips (the message
            names the neuron and the limit: 64 CAM entries, 4 destinations, 2047 tags per
            chip, hops in -7..7), or a current or base weight outside the BG's range.
    """
    _check_options("map_network", reduce, prune, backend)
    n_in, layers, in_ws = _layers(net)
    act = None if activity is None else A.check_activity("map_network", net, activity)
    placement = place([m.groups for m in layers], positions)
    offsets = np.cumsum([0] + [m.n for m in layers])
    conns: list[tuple[np.ndarray, ...]] = []
    params: dict[int, dict[str, Parameter]] = {}
    latches = np.zeros((len(placement.layer), len(C.NEURON_LATCHES)), bool)
    built: list[_Layer] = []
    weights, tables, pruned = [], [], []
    for li, (m, w_in) in enumerate(zip(layers, in_ws, strict=True)):
        glob = placement.of_layer(li)  # global ids, in layer order
        gcore = placement.global_core[glob]
        importance = None
        if act is not None:  # the rates of the input rows, then of the recurrent rows
            src = act[li] if m.w_rec is None else np.concatenate([act[li], act[li + 1]])
            importance = src**A.POWER
        w, lost = _incoming(m, w_in, prune, placement, glob, importance)
        if prune:
            pruned.append(lost)
        try:
            q = canonical_quantize(
                w,
                np.unique(gcore, return_inverse=True)[1].ravel(),
                m.Iscale,
                importance,
                src if act is not None and A.DRIVE else None,
            )
        except ValueError as e:
            raise ValueError(f"layer {li}: {e}") from e
        weights.append(q)
        table, per_core = _quantize_currents(m, gcore, reduce, li)
        tables.append(table)
        # Connections: source ids are input channels, or n_in + global neuron id.
        n_src = w_in.shape[0]
        src_ids = np.arange(n_src) if li == 0 else n_in + offsets[li - 1] + np.arange(n_src)
        if m.w_rec is not None:
            src_ids = np.concatenate([src_ids, n_in + offsets[li] + np.arange(m.n)])
        r, c, t = np.nonzero(q.mask)
        conns.append((src_ids[r], glob[c], np.asarray(_CODE)[t], q.mask[r, c, t]))
        neuron_settings = _core_settings(m, q, gcore, per_core, params, latches, glob)
        built.append(_quantized_layer(m, q, gcore, n_src, neuron_settings, latches[glob]))
    cat = lambda i: np.concatenate([c[i] for c in conns]).astype(np.int64)  # noqa: E731
    connections = Connections(n_in, cat(0), cat(1), cat(2), cat(3))
    outputs = placement.of_layer(len(layers) - 1).tolist()
    meta = _meta(n_in, placement, layers)
    cfg = route(placement, connections, outputs, parameters=params, latches=latches, meta=meta)
    network = _build(built, backend, 0.0, None)
    return NetworkMapping(cfg, placement, network, tuple(weights), tuple(tables), tuple(pruned))


def _incoming(
    m: DynapSim,
    w_in: np.ndarray,
    prune: bool,
    placement: Placement,
    glob: np.ndarray,
    importance: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The typed incoming weights of population ``m`` (input rows, then recurrent rows),
    pruned to the CAM's 64 entries per neuron with ``prune`` (and how many each lost; the
    largest ``importance * w**2`` kept, ``|w|`` without ``importance``), else a ValueError
    naming the first neuron over."""
    rows = [typed_from_signed(w_in)]
    if isinstance(m.w_rec, SparseWeights):  # chip-shaped: each CAM entry at (pre, post, type)
        rows.append(np.asarray(m.w_rec.to_dense(), np.float64))  # repeated entries add up
    elif m.w_rec is not None:
        rows.append(np.asarray(m.w_rec, np.float64))
    w = np.concatenate(rows, axis=0)
    lost = None
    if prune:
        w, lost = _prune(w, C.N_CAM, importance)
    fan = np.count_nonzero(np.moveaxis(w, 1, 0).reshape(m.n, -1), axis=1)
    hint = ", or pass prune=True to keep the strongest"
    check_fan_in(placement, fan, glob, "nonzero incoming weights", hint)
    return w, lost


def _core_settings(
    m: DynapSim,
    q: CanonicalWeights,
    gcore: np.ndarray,
    per_core: dict[int, dict[str, tuple[int, int]]],
    params: dict[int, dict[str, Parameter]],
    latches: np.ndarray,
    glob: np.ndarray,
) -> list[dict[str, tuple[int, int]]]:
    """Write the BG parameters of the population's cores into ``params`` and its neurons'
    latches into ``latches``; returns each neuron's core settings (BG name -> (coarse,
    fine))."""
    cores, local = np.unique(gcore, return_inverse=True)
    settings = []
    for k, gc in enumerate(cores.tolist()):
        s = dict(per_core[gc])
        for b, name in enumerate(C.BASE_WEIGHT_PARAMETERS):
            s[name] = (int(q.coarse[k, b]), int(q.fine[k, b]))
        params[gc] = {n: Parameter(cf[0], cf[1], C.CORE_PARAMETERS[n]) for n, cf in s.items()}
        settings.append(s)
    neuron_settings = [settings[k] for k in local.ravel().tolist()]
    for name, latch in _LATCHED.items():
        bg = C.SIM_TO_BG[name]
        on = np.array([s[bg] != _neutral(name, m.Io) for s in neuron_settings], bool)
        latches[glob, _LATCH[latch]] = on
    latches[glob, _LATCH["denm_nmda"]] = (q.mask[..., NMDA] > 0).any(axis=0)
    latches[glob, _LATCH["soif_type"]] = not m.positive_feedback
    return neuron_settings


def _quantized_layer(
    m: DynapSim,
    q: CanonicalWeights,
    gcore: np.ndarray,
    n_src: int,
    neuron_settings: list[dict[str, tuple[int, int]]],
    latches: np.ndarray,
) -> _Layer:
    """The population as the chips hold it: level weights, BG currents, core groups."""
    local = np.unique(gcore, return_inverse=True)[1].ravel()
    lv = level_table(q.base, m.Iscale)  # (n_cores, 16)
    mag = lv[local[None, :, None], q.mask]  # typed magnitudes
    in_q = mag[:n_src]
    return _Layer(
        n=m.n,
        in_w=signed_from_typed(in_q),  # a Linear drives AMPA and GABA only
        w_rec=mag[n_src:] if m.w_rec is not None else None,
        currents=_currents(neuron_settings, latches, m.Io),
        groups=_group_ranks(gcore),
        sim={
            **_sim_of(m),
            **{k: getattr(m, k) for k in _SIM_OPTIONS},
            "positive_feedback": m.positive_feedback,
        },
    )


def _meta(n_in: int, placement: Placement, layers: list[DynapSim]) -> dict[str, Any]:
    """``Configuration.meta``: the network structure and simulation settings (META_KEY)."""
    return {
        META_KEY: {
            "version": _META_VERSION,
            "n_in": int(n_in),
            "layers": [
                {
                    "neurons": flat_id(
                        placement.chip[placement.of_layer(li)],
                        placement.core[placement.of_layer(li)],
                        placement.neuron[placement.of_layer(li)],
                    ).tolist(),
                    "has_rec": m.w_rec is not None,
                    **_json_sim({**_sim_of(m), **{k: getattr(m, k) for k in _SIM_OPTIONS}}),
                }
                for li, m in enumerate(layers)
            ],
        }
    }


def _prune(
    w: np.ndarray, keep: int, importance: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Zero all but the ``keep`` largest entries of each postsynaptic neuron of the typed
    weights ``w`` ``(n_pre, n_post, 4)`` (largest ``importance[pre] * w**2`` with
    ``importance`` ``(n_pre,)``: the squared error each would leave; ties: lower pre, then
    type); returns the pruned copy and the number of nonzero entries removed per neuron
    ``(n_post,)``."""
    n_pre, n_post, k = w.shape
    flat = np.moveaxis(w, 1, 0).reshape(n_post, n_pre * k)
    score = np.abs(flat)
    if importance is not None:
        score = np.repeat(importance, k)[None, :] * flat**2
    order = np.argsort(-score, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_pre * k)[None, :], axis=1)
    drop = (rank >= keep) & (flat != 0)
    flat = np.where(drop, 0.0, flat)
    return np.moveaxis(flat.reshape(n_post, n_pre, k), 0, 1), drop.sum(axis=1)


_FLAGS = ("detach_feedback", "detach_reset")
_NAMES = ("synapse_model", "surrogate", "solver")


def _json_sim(sim: dict[str, Any]) -> dict[str, Any]:
    """``sim`` as JSON: numbers as floats, the flags as booleans, the names as strings."""
    out: dict[str, Any] = {
        k: float(v)
        for k, v in sim.items()
        if k not in ("capacitances", "plan_options", *_FLAGS, *_NAMES)
    }
    if "plan_options" in sim:
        out["plan_options"] = sim["plan_options"].to_dict()
    out["capacitances"] = {k: float(v) for k, v in sim["capacitances"].items()}
    out.update({k: bool(sim[k]) for k in _FLAGS if k in sim})
    out.update({k: str(getattr(sim[k], "name", sim[k])) for k in _NAMES if k in sim})
    return out


def config_from_network(net: Module, **kwargs: Any) -> Configuration:
    """The configuration of ``net``: ``map_network(net, **kwargs).config``."""
    _check_options("config_from_network", **kwargs)
    return map_network(net, **kwargs).config


def quantize_network(net: Module, **kwargs: Any) -> Sequential:
    """``net`` as the chips would run it (quantized weights and currents, no mismatch):
    ``map_network(net, **kwargs).network``."""
    _check_options("quantize_network", **kwargs)
    return map_network(net, **kwargs).network


def _check_options(
    where: str,
    reduce: str = "mean",
    prune: bool = False,
    backend: str = "jax",
    **unknown: Any,
) -> None:
    """The options of :func:`map_network`, checked whether or not the network needs them
    (``positions`` and ``activity`` are checked by ``map_network``, against the network)."""
    for name in ("positions", "activity"):
        unknown.pop(name, None)
    if unknown:
        raise TypeError(
            f"{where}: unknown keyword argument(s) {sorted(unknown)}; the options are "
            "positions, reduce, prune, backend and activity"
        )
    checks.choice(where, "reduce", reduce, _REDUCE)
    checks.boolean(where, "prune", prune)
    checks.choice(where, "backend", backend, BACKENDS)


# --- configuration -> network ---------------------------------------------------------------
def _default_structure(cfg: Configuration, syn) -> dict[str, Any]:
    used = set(syn.post.tolist()) | set(syn.pre[~syn.pre_input].tolist())
    used |= {flat_id(r.chip, r.core, r.neuron).item() for r in cfg.output_map.values()}
    for ci, chip in enumerate(cfg.chips):
        for co, core in enumerate(chip.cores):
            for n in np.flatnonzero((core.dest_core != 0).any(axis=1)).tolist():
                used.add(int(flat_id(ci, co, n)))
    sim = _json_sim(
        {
            "dt": 1e-3,
            "Iscale": DEFAULT_CONSTANTS["Iscale"],
            "capacitances": dict(K.CAPACITANCES),
            **{k: DEFAULT_CONSTANTS[k] for k in _CONSTANTS},
            "synapse_model": "linear",
        }
    )
    n_in = max(cfg.input_map, default=-1) + 1
    return {
        "version": _META_VERSION,
        "n_in": max(n_in, 1),
        "layers": [{"neurons": sorted(used), "has_rec": True, **sim}],
    }


_REDUCE = ("mean", "median", "raise")
_SIM_NUMBERS = ("dt", "Iscale", "Ut", "kappa_n", "kappa_p", "Io", "Vth")


def _structure(cfg: Configuration, syn) -> dict[str, Any]:
    """The network structure: ``meta["dynapse2"]`` (checked as strictly as the chips) or,
    without it, one population of every neuron in use."""
    meta = cfg.meta.get(META_KEY)
    if meta is None:
        meta = _default_structure(cfg, syn)
        if not meta["layers"][0]["neurons"]:
            raise ValueError(
                "network_from_config: the configuration holds no network: no neuron has a "
                "synapse, a destination or an output route (a blank Configuration()?); map a "
                "network with map_network"
            )
    _check_structure(meta, len(cfg.chips) * C.N_NEURONS_PER_CHIP)
    return meta


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_structure(meta: Any, n_neurons: int) -> None:
    """Raise ValueError naming the field when ``meta`` is not a valid network structure."""
    where = f"configuration meta {META_KEY!r}"
    if not isinstance(meta, dict):
        raise ValueError(f"{where} must be an object, got {type(meta).__name__}")
    if meta.get("version") != _META_VERSION:
        raise ValueError(
            f"{where} has version {meta.get('version')!r}; this library reads {_META_VERSION}"
        )
    n_in = meta.get("n_in")
    if not _is_int(n_in) or n_in < 1:
        raise ValueError(f"{where}: n_in = {n_in!r} must be an integer >= 1")
    layers = meta.get("layers")
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"{where}: layers must be a non-empty list of populations")
    seen: set[int] = set()
    for li, L in enumerate(layers):
        _check_layer(L, f"{where}: layer {li}", n_neurons, seen)


def _check_layer(L: Any, at: str, n_neurons: int, seen: set[int]) -> None:
    """Raise ValueError naming ``at`` and the field when ``L`` is not a valid population of
    the network structure; adds its neuron ids to ``seen`` (each id in one population only)."""
    if not isinstance(L, dict):
        raise ValueError(f"{at} must be an object")
    neurons = L.get("neurons")
    if not isinstance(neurons, list) or not neurons:
        raise ValueError(f"{at}: neurons must be a non-empty list of neuron ids")
    for i, f in enumerate(neurons):
        if not _is_int(f) or not 0 <= f < n_neurons:
            raise ValueError(
                f"{at} neuron {i} = {f!r} is not a neuron of this configuration "
                f"(0..{n_neurons - 1})"
            )
        if f in seen:
            raise ValueError(f"{at} neuron {i} = {f} is already in a population")
        seen.add(int(f))
    if not isinstance(L.get("has_rec"), bool):
        raise ValueError(f"{at}: has_rec = {L.get('has_rec')!r} must be true or false")
    for k in _SIM_NUMBERS:
        v = L.get(k)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"{at}: {k} = {v!r} must be a positive number")
    caps = L.get("capacitances")
    if not isinstance(caps, dict) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in caps.values()
    ):
        raise ValueError(f"{at}: capacitances must map names to positive numbers (F)")
    if not isinstance(L.get("synapse_model"), str):
        raise ValueError(f"{at}: synapse_model must be a string")
    for k in _FLAGS:
        if k in L and not isinstance(L[k], bool):
            raise ValueError(f"{at}: {k} = {L[k]!r} must be true or false")
    if "solver" in L:  # older files: Euler
        solver_from_name(L["solver"], where=f"{at}: solver")
    if "plan_options" in L:  # older files: the defaults
        PlanOptions.from_dict(L["plan_options"], where=at)
    if "surrogate" in L and not isinstance(L["surrogate"], str):
        raise ValueError(f"{at}: surrogate = {L['surrogate']!r} must be a string")
    slope = L.get("surrogate_slope", 1.0)
    if isinstance(slope, bool) or not isinstance(slope, int | float) or not slope > 0:
        raise ValueError(f"{at}: surrogate_slope = {slope!r} must be a positive number")


def population_neurons(cfg: Configuration) -> list[np.ndarray]:
    """The flat hardware id (``chip * 1024 + core * 256 + neuron``) of every neuron of each
    population that :func:`network_from_config` builds from ``cfg``, in its order: one
    ``(n_l,)`` int64 array per ``DynapSim`` layer."""
    meta = _structure(cfg, unroute(cfg))
    return [np.asarray(L["neurons"], np.int64) for L in meta["layers"]]


def network_from_config(
    cfg: Configuration,
    *,
    backend: str = "jax",
    mismatch: float = 0.0,
    key: Any = None,
    dt: float | None = None,
) -> Sequential:
    """The network a configuration implements, as a ``Sequential`` of ``(Linear, DynapSim)``.

    Weights are the CAM masks' sums of the core's base currents over ``Iscale`` (positive for
    AMPA, negative for GABA in a Linear; per type in ``w_rec``); currents are the BG settings'
    currents. With ``meta["dynapse2"]`` (written by :func:`map_network`) the populations,
    their order, ``dt``, ``Iscale`` and constants are restored; without it see the module
    docstring.

    Args:
        cfg: the configuration.
        backend: backend of the DynapSim layers.
        mismatch, key: device mismatch to simulate (default none) and the ``jax.random`` key
            of its draw (required when ``mismatch > 0``).
        dt: simulation time step (s) of every population; default the one the configuration
            records (1 ms without ``meta["dynapse2"]``).

    Raises:
        ValueError: connections a ``Sequential`` cannot express (a population listening to
            a population other than itself or the previous one, input channels reaching a
            population other than the first, NMDA or SHUNT synapses from the input or from
            the previous population, or both AMPA and GABA between one pair), or an
            ambiguous configuration.
    """
    checks.choice("network_from_config", "backend", backend, BACKENDS)
    checks.mismatch("network_from_config", "mismatch", mismatch)
    if mismatch > 0 and key is None:
        raise TypeError(
            f"network_from_config: key is required when mismatch = {mismatch!r} > 0 (the "
            "mismatch factors are drawn with it): pass key=jax.random.PRNGKey(seed)"
        )
    if dt is not None:
        checks.number("network_from_config", "dt", dt, lo=0, lo_open=True)
    syn = unroute(cfg)
    meta = _structure(cfg, syn)
    where: dict[int, tuple[int, int]] = {}  # flat neuron id -> (layer, index in it)
    for li, L in enumerate(meta["layers"]):
        for i, f in enumerate(L["neurons"]):
            where[int(f)] = (li, i)
    read = [_read_layer(cfg, meta, li, dt) for li in range(len(meta["layers"]))]
    layers = [r[0] for r in read]
    typed_in = _read_synapses(syn, where, read)
    for li, L in enumerate(layers):
        L.in_w = _signed_input(typed_in[li], li)
    if not layers:
        raise ValueError("the configuration describes no population")
    return _build(layers, backend, mismatch, key)


def _read_layer(
    cfg: Configuration, meta: dict[str, Any], li: int, dt: float | None
) -> tuple[_Layer, np.ndarray, np.ndarray]:
    """Population ``li`` of the structure ``meta`` with its currents and settings (weights
    zero, filled by :func:`_read_synapses`), the weight levels of its cores ``(n_cores, 16)``
    (units of Iscale) and the core index of each neuron among them ``(n,)``."""
    L = meta["layers"][li]
    flat = np.asarray(L["neurons"], np.int64)
    gcore = flat // C.N_NEURONS_PER_CORE
    cores, local = np.unique(gcore, return_inverse=True)
    settings, bases = {}, np.zeros((cores.size, C.N_WEIGHT_BITS))
    for k, gc in enumerate(cores.tolist()):
        core = cfg.chips[gc // C.N_CORES].cores[gc % C.N_CORES]
        settings[gc] = {n: (p.coarse, p.fine) for n, p in core.parameters.items()}
        for b, name in enumerate(C.BASE_WEIGHT_PARAMETERS):
            p = core.parameters[name]
            bases[k, b] = float(bias.current(name, p.coarse, p.fine))
    lat = (
        np.stack(
            [
                cfg.chips[f // C.N_NEURONS_PER_CHIP]
                .cores[(f // C.N_NEURONS_PER_CORE) % C.N_CORES]
                .latches[f % C.N_NEURONS_PER_CORE]
                for f in flat.tolist()
            ]
        )
        if flat.size
        else np.zeros((0, len(C.NEURON_LATCHES)), bool)
    )
    sim = {k: L[k] for k in ("dt", "Iscale", "capacitances", "synapse_model", *_CONSTANTS)}
    sim.update({k: L[k] for k in _SIM_OPTIONS if k in L})  # older files: the defaults
    if "plan_options" in sim:
        sim["plan_options"] = PlanOptions.from_dict(sim["plan_options"])
    if dt is not None:
        sim["dt"] = float(dt)
    sim["positive_feedback"] = _feedback_of(lat, li)
    n = flat.size
    n_src = int(meta["n_in"]) if li == 0 else len(meta["layers"][li - 1]["neurons"])
    layer = _Layer(
        n=n,
        in_w=np.zeros((n_src, n)),
        w_rec=np.zeros((n, n, len(_TYPES))) if L["has_rec"] else None,
        currents=_currents([settings[g] for g in gcore.tolist()], lat, float(L["Io"])),
        groups=_group_ranks(gcore),
        sim=sim,
    )
    return layer, level_table(bases, float(L["Iscale"])), local.ravel()


def _read_synapses(
    syn: Any,
    where: dict[int, tuple[int, int]],
    read: list[tuple[_Layer, np.ndarray, np.ndarray]],
) -> list[np.ndarray]:
    """Add every CAM entry's weight to its population's ``w_rec`` (in place) or to the typed
    input weights it returns ``(n_src, n, 4)`` per population; a ValueError for connections
    a Sequential cannot express."""
    layers = [r[0] for r in read]
    typed_in = [np.zeros((*L.in_w.shape, len(_TYPES))) for L in layers]
    for is_in, pre, post, code, mask in zip(
        syn.pre_input.tolist(),
        syn.pre.tolist(),
        syn.post.tolist(),
        syn.dendrite.tolist(),
        syn.weight.tolist(),
        strict=True,
    ):
        if post not in where:
            continue  # a neuron outside the described populations
        li, j = where[post]
        t = _TYPE_OF_CODE[code]
        _, lv, local = read[li]
        value = lv[local[j], mask]
        if is_in:
            if li != 0:
                raise ValueError(
                    f"input channel {pre} reaches layer {li}; only the first population "
                    "listens to input channels"
                )
            typed_in[0][pre, j, t] += value
            continue
        if pre not in where:
            raise ValueError(
                f"neuron {pre} (flat id) projects into layer {li} but belongs to no population"
            )
        lp, i = where[pre]
        w_rec = layers[li].w_rec
        if lp == li and w_rec is not None:
            w_rec[i, j, t] += value
        elif lp == li - 1:
            typed_in[li][i, j, t] += value
        else:
            raise ValueError(
                f"layer {lp} neuron {i} projects to layer {li} neuron {j}: a Sequential only "
                "connects a population to itself (w_rec) and to the next one"
            )
    return typed_in


def _signed_input(w: np.ndarray, li: int) -> np.ndarray:
    """The signed Linear weights ``(n_src, n)`` of typed input weights ``(n_src, n, 4)``:
    AMPA positive, GABA negative; a ValueError for other types or both on one pair."""
    other = [t for t in range(len(_TYPES)) if t not in SIGNED_TYPES and w[..., t].any()]
    if other:
        raise ValueError(
            f"layer {li} receives {_TYPES[other[0]].upper()} synapses from "
            f"{'the input' if li == 0 else f'layer {li - 1}'}; a Linear drives AMPA and "
            "GABA only"
        )
    both = (w[..., AMPA] > 0) & (w[..., GABA] > 0)
    if both.any():
        i, j = (int(v) for v in np.argwhere(both)[0])
        raise ValueError(
            f"layer {li} neuron {j} hears source {i} through both AMPA and GABA; a Linear "
            "weight has one sign"
        )
    return signed_from_typed(w)
