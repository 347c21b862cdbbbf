"""The run plan of a DynapSim call: which strategies simulate it, and why.

A :class:`Plan` is decided by :func:`make_plan` from the network's declared structure (its
size, whether it has recurrent weights and of which kind: dense or chip-shaped
:class:`~dynapse2.nn.connectivity.SparseWeights`, its active synapse types, its backend and
its :class:`PlanOptions`) and from the call's declared arguments (the input's shape and
layout, ``record``, the mesh the input is placed on, and whether the recurrent weights are
constants of the call or traced), never from the values of the data. Three choices still read
values, each printed by the plan and none changing a result, only its cost: the widest
fan-out of chip-shaped weights (``Structure.cam_width``: with constant weights, of their
nonzero entries), a dense matrix's row density (``fanout`` falls back to ``rows`` above 25 %,
inside the call) and the synapse types a call integrates (:attr:`Plan.types`). It names three
strategies, each a small object with one contract:

- recurrence (:mod:`dynapse2.nn.recurrence`): ``matmul``, ``rows``, ``fanout``,
  ``cam_gather``, ``cam_fanout``;
- scan (:mod:`dynapse2.nn.scan`): ``custom_grad`` (default) or ``plain``;
- sharding (:mod:`dynapse2.nn.sharding`): one device, batch split, or neurons split.

``DynapSim.plan(x_shape)`` (and ``Sequential.plan``) returns it; ``str(plan)`` says what will
run and why. Every recurrence strategy gives the spikes of the others (they add the same
terms per column in the same order); they differ in cost, and in the weight gradient's
float32 summation order.

Weights, constant or traced. Fan-out tables are built on the host (NumPy) from the weights
(``fanout``) or from the CAM structure (``cam_fanout``, which with constant weights lists
only the nonzero entries). That needs the weights' values at the call: they are constants
there when the module is called directly, and traced inside ``jax.jit``, ``jax.grad`` or
``jax.vmap`` over it (training). ``PlanOptions(weights=...)`` declares which:
``"constant"`` (a traced weight then raises), ``"traced"`` (plan for training: the weight
gradient of densifiable chip-shaped weights is one dense product), or ``"auto"`` (the
default: whichever they are at the call; the plan says which it found).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from dynapse2 import checks
from dynapse2.nn.recurrence import (
    SPARSE_ONLY,
    STRATEGIES,
    CamFanout,
    CamGather,
    FanoutTable,
    Matmul,
    RecurrenceStrategy,
    Rows,
    cam_cap,
)
from dynapse2.nn.scan import SCANS
from dynapse2.nn.sharding import BatchSharded, NeuronSharded, OneDevice
from dynapse2.physics.synapses import SYNAPSE_TYPES

EVENT_MIN_NEURONS = 256
"""Recurrence is event-driven from this many neurons on (below, the dense product is cheap
enough)."""

DENSE_LIMIT_BYTES = 64 * 2**20
"""Chip-shaped weights whose dense ``(n, k n)`` float32 form fits in this many bytes may be
densified once per call (under :data:`EVENT_MIN_NEURONS` neurons, and with traced weights);
larger ones keep the O(n x 64) CAM form."""

FANOUT_MIN_BATCH = 8
"""Dense weights drive events through their fan-out table from this batch size (per device)
on. XLA's CPU scatter costs ~4 ns per entry, so below it one spike's ~64-90 scattered entries
cost about as much as adding its whole contiguous row, which stays in cache (1024 neurons, ms
per simulated second, table vs rows, host-built table: batch 1 18-26 vs 20, batch 2 34-35 vs
37-45, batch 4 87-96 vs 77-101; with the table traced per call, session 1: 8: 149 vs 160, 16:
279 vs 313)."""

RECURRENCES = ("auto", *STRATEGIES)
WEIGHTS = ("auto", "constant", "traced")


@dataclass(frozen=True)
class PlanOptions:
    """The strategies a DynapSim asks for (static: part of the compiled program).

    Args:
        recurrence: ``"auto"`` (decided by :func:`make_plan`) or a strategy's name:
            ``"matmul"``, ``"rows"``, ``"fanout"``, ``"cam_gather"``, ``"cam_fanout"`` (the
            last two need chip-shaped ``SparseWeights``; dense strategies densify them).
        weights: ``"auto"``, ``"constant"`` or ``"traced"``: whether the recurrent weights
            are known at the call or traced (see the module docstring).
        scan: ``"custom_grad"`` (default) or ``"plain"`` (JAX's own reverse mode).
    """

    recurrence: str = "auto"
    weights: str = "auto"
    scan: str = "custom_grad"

    def __post_init__(self) -> None:
        checks.choice("PlanOptions", "recurrence", self.recurrence, RECURRENCES)
        checks.choice("PlanOptions", "weights", self.weights, WEIGHTS)
        checks.choice("PlanOptions", "scan", self.scan, tuple(SCANS))

    def to_dict(self) -> dict[str, str]:
        """The options as JSON (how checkpoints and configurations store them)."""
        return {"recurrence": self.recurrence, "weights": self.weights, "scan": self.scan}

    @classmethod
    def from_dict(cls, value: Any, where: str = "PlanOptions.from_dict") -> PlanOptions:
        """The options stored by :meth:`to_dict`: an object with the keys ``recurrence``,
        ``weights`` and ``scan`` (each optional, a default otherwise); a ValueError naming
        ``where``, the value and what is accepted otherwise."""
        keys = ("recurrence", "weights", "scan")
        if not isinstance(value, dict) or not set(value) <= set(keys):
            raise ValueError(
                f"{where}: plan_options = {value!r} must be an object with the keys {list(keys)}"
            )
        allowed = {"recurrence": RECURRENCES, "weights": WEIGHTS, "scan": tuple(SCANS)}
        for k, v in value.items():
            checks.choice(where, f"plan_options[{k!r}]", v, allowed[k])
        return cls(**value)


class Structure(NamedTuple):
    """The declared structure of a DynapSim that its plan depends on. ``weights``:
    ``"none"``, ``"dense"`` or ``"sparse"``; ``cam_width``: for chip-shaped weights, their
    widest fan-out at the call (:func:`~dynapse2.nn.recurrence.widest_fanout`: with constant
    weights of the nonzero entries, a value, since an unused CAM slot is a zero weight;
    ``None`` while the CAM structure is traced, or for dense weights)."""

    n: int
    weights: str
    rec_types: tuple[int, ...]
    backend: str
    options: PlanOptions
    cam_width: int | None = None


@dataclass(frozen=True)
class Plan:
    """Which strategies run a call, and why (``str(plan)``); see the module docstring."""

    shape: tuple[int, ...]
    typed: bool
    batched: bool
    record: bool
    backend: str
    recurrence: RecurrenceStrategy | None
    scan: Any
    sharding: Any
    weights: str
    why: dict[str, str] = field(compare=False)
    label: str = "DynapSim"
    rec_types: tuple[int, ...] = ()

    @property
    def types(self) -> str:
        """Which synapse types a call integrates: decided at the call from values (the input's
        nonzero types and the state's), the one choice of the plan that reads data values; a
        type left out stays at I_0 exactly, so it changes the cost, never the result."""
        rec = "+".join(SYNAPSE_TYPES[t].upper() for t in self.rec_types) or "none"
        drive = "its nonzero columns" if self.typed else "AMPA if any x > 0, GABA if any x < 0"
        return (
            f"recurrent {rec}, those the input drives ({drive}) and those whose state is off "
            "I_0: read from the values at the call (a type left out stays at I_0 exactly)"
        )

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the spikes returned: the input's without the synapse-type axis."""
        return self.shape[:-1] if self.typed else self.shape

    def __str__(self) -> str:
        kind = "typed (..., n, 4)" if self.typed else "signed: + AMPA, - GABA"
        lead = f"batched ({self.shape[0]})" if self.batched else "unbatched"
        lines = [f"{self.label} plan for input {self.shape}: {kind}, {lead}, record={self.record}"]
        if self.backend == "numpy":
            rows = [("backend", "numpy: float64 loop, dense recurrent matrix (the reference)")]
        else:
            rec = "none" if self.recurrence is None else str(self.recurrence)
            if self.recurrence is not None:
                rec += f": {self.recurrence.summary}"
            rows = [
                ("backend", "jax: float32, jit, one compiled loop over time"),
                ("recurrence", rec),
                ("weights", self.weights),
                ("types", self.types),
                ("scan", f"{self.scan}: {self.scan.summary}"),
                ("sharding", str(self.sharding)),
            ]
        for key, text in rows:
            lines.append(f"  {key + ':':<12}{text}")
            if key in self.why:
                lines.append(f"  {'':<12}why: {self.why[key]}")
        lines.append(
            "  choose with DynapSim(..., plan_options=PlanOptions(recurrence=..., weights=..., "
            "scan=...)) or .with_plan_options(...)"
        )
        return "\n".join(lines)


@dataclass(frozen=True)
class LayerPlan:
    """The plan of a module without strategies to choose (``Linear``: one dense product)."""

    label: str
    shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.label} on input {self.shape}: no strategies to choose (dense product)"


@dataclass(frozen=True)
class SequentialPlan:
    """The plans of a chain of modules, one per layer (``str``: each layer's, in order)."""

    layers: tuple[tuple[str, Any], ...]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1][1].output_shape

    def __getitem__(self, name: str) -> Any:
        return dict(self.layers)[name]

    def __str__(self) -> str:
        return "\n".join(f"{name}: {plan}" for name, plan in self.layers)


def make_plan(
    s: Structure,
    shape: tuple[int, ...],
    typed: bool,
    batched: bool,
    record: bool,
    split: tuple | None = None,
    traced: bool | None = None,
    label: str = "DynapSim",
) -> Plan:
    """The :class:`Plan` of a call of a network of structure ``s`` on an input of ``shape``.

    Args:
        s: the network's declared :class:`Structure`.
        shape, typed, batched: the input's shape and layout.
        record: whether the state is recorded.
        split: ``(mesh, batch axis, neuron axis)`` of the input's sharding
            (:func:`~dynapse2.nn.parallel.split_axes`), or ``None``.
        traced: whether the recurrent weights are traced at this call (``None``: not known,
            as for a plan made from a shape: read as constant). Used where
            ``s.options.weights`` is ``"auto"``; with ``"constant"``, ``True`` raises.
    """
    o = s.options
    why: dict[str, str] = {}
    weights = _weights(o, traced, why)
    sharding = _sharding(split)
    recurrence = scan = None  # the NumPy reference loops in Python, one step at a time
    if s.backend != "numpy":
        local = sharding.local_batch(shape[0]) if batched else 1
        per_device = " per device" if local != (shape[0] if batched else 1) else ""
        recurrence = _recurrence(s, batched, local, per_device, weights, why)
        scan = SCANS[o.scan]()
        if o.scan != "custom_grad":
            why["scan"] = "declared"
    return Plan(
        shape,
        typed,
        batched,
        record,
        s.backend,
        recurrence,
        scan,
        sharding,
        weights,
        why,
        label,
        s.rec_types,
    )


def _weights(o: PlanOptions, traced: bool | None, why: dict[str, str]) -> str:
    """Whether the recurrent weights are ``"constant"`` or ``"traced"`` at the call (see
    :func:`make_plan`'s ``traced``), its reason in ``why``; a ValueError where ``o`` declares
    them constant and they are traced."""
    if o.weights == "auto":
        why["weights"] = (
            "auto: " + ("traced at this call (jit, grad or vmap)" if traced else "concrete")
            if traced is not None
            else "auto: read as constant (no call yet; traced inside jit, grad or vmap)"
        )
        return "traced" if traced else "constant"
    if o.weights == "constant" and traced:
        raise ValueError(
            "DynapSim: plan_options.weights = 'constant' declares the recurrent weights "
            "constants of the call, but they are traced here (inside jax.jit, grad or "
            "vmap); declare weights='traced' (or 'auto')"
        )
    why["weights"] = "declared"
    return o.weights


def _sharding(split: tuple | None) -> Any:
    """The sharding strategy of an input split as ``split`` (see :func:`make_plan`)."""
    if split is None:
        return OneDevice()
    if split[2] is not None:
        return NeuronSharded(*split)
    return BatchSharded(split[0], split[1])


def _recurrence(
    s: Structure, batched: bool, local_batch: int, per_device: str, weights: str, why: dict
) -> RecurrenceStrategy | None:
    """The recurrence strategy of ``s`` (see :func:`make_plan`), its reason in ``why``."""
    n, k = s.n, len(s.rec_types)
    if s.weights == "none" or not k:
        why["recurrence"] = "no recurrent weights" if s.weights == "none" else "no active type"
        return None
    fits = n * n * k * 4 <= DENSE_LIMIT_BYTES
    size = (
        f"dense form {n * n * k * 4 / 2**20:.3g} MiB "
        f"{'<=' if fits else '>'} DENSE_LIMIT_BYTES = {DENSE_LIMIT_BYTES / 2**20:g} MiB"
    )
    if s.options.recurrence != "auto":
        return _declared_recurrence(s, fits, why)
    kind = "chip-shaped (SparseWeights)" if s.weights == "sparse" else "dense"
    if n < EVENT_MIN_NEURONS:
        if s.weights == "sparse" and not fits:
            why["recurrence"] = f"{kind} w_rec, {size}"
            return CamGather()
        why["recurrence"] = f"{kind} w_rec, {n} < EVENT_MIN_NEURONS = {EVENT_MIN_NEURONS} neurons"
        return Matmul()
    events = f"{kind} w_rec, {n} >= EVENT_MIN_NEURONS = {EVENT_MIN_NEURONS} neurons"
    if s.weights == "sparse":
        return _sparse_recurrence(s, events, size, fits, weights, why)
    return _dense_recurrence(events, batched, local_batch, per_device, weights, why)


def _declared_recurrence(s: Structure, fits: bool, why: dict) -> RecurrenceStrategy:
    """The strategy ``s.options.recurrence`` names (``cam_fanout`` falling back to rows where
    the dense form ``fits`` in :data:`DENSE_LIMIT_BYTES`, else to the CAM gather); a
    ValueError for a sparse-only strategy on dense weights."""
    name = s.options.recurrence
    if name in SPARSE_ONLY and s.weights != "sparse":
        raise ValueError(
            f"DynapSim: plan_options.recurrence = {name!r} needs chip-shaped SparseWeights "
            f"w_rec; this network's w_rec is dense; choose one of "
            f"{[r for r in STRATEGIES if r not in SPARSE_ONLY]}"
        )
    why["recurrence"] = "declared"
    if name == "cam_fanout":
        return CamFanout(Rows() if fits else CamGather())
    return STRATEGIES[name]()


def _sparse_recurrence(
    s: Structure, events: str, size: str, fits: bool, weights: str, why: dict
) -> RecurrenceStrategy:
    """The event-driven strategy of chip-shaped weights (``s.n >= EVENT_MIN_NEURONS``):
    densified rows with traced weights that fit, else the CAM fan-out table where the widest
    fan-out is known and within :func:`~dynapse2.nn.recurrence.cam_cap`, else its fallback."""
    if weights == "traced" and fits:
        why["recurrence"] = (
            f"{events}, weights traced and {size}: densified once per call (the weight "
            "gradient is then one dense product)"
        )
        return Rows()
    fallback = Rows() if fits else CamGather()
    instead = "densified rows" if fits else f"the CAM gather ({size})"
    cap = cam_cap(s.n, len(s.rec_types))
    if s.cam_width is None:
        why["recurrence"] = f"{events}, the CAM structure traced (no host table): {instead}"
        return fallback
    width = f"widest fan-out {s.cam_width} (type, post) pairs (of the entries in use)"
    if s.cam_width > cap:
        limit = f"{cap} (CAM_FANOUT_MAX_WIDTH, or 25 % of the columns)"
        why["recurrence"] = f"{events}, {width} > {limit}: {instead}"
        return fallback
    why["recurrence"] = (
        f"{events}, weights {weights}, {width} <= {cap}: table built on the host"
        + (" (nonzero entries only)" if weights == "constant" else "")
    )
    return CamFanout(fallback)


def _dense_recurrence(
    events: str, batched: bool, local_batch: int, per_device: str, weights: str, why: dict
) -> RecurrenceStrategy:
    """The event-driven strategy of dense weights (``n >= EVENT_MIN_NEURONS``): the host-built
    fan-out table from :data:`FANOUT_MIN_BATCH` inputs per device with constant weights, else
    event rows."""
    if batched and local_batch >= FANOUT_MIN_BATCH and weights == "constant":
        why["recurrence"] = (
            f"{events}, batch {local_batch}{per_device} >= FANOUT_MIN_BATCH = "
            f"{FANOUT_MIN_BATCH}, weights constant: table built on the host (where a row is "
            "more than 25 % nonzero: rows)"
        )
        return FanoutTable()
    reason = (
        f"batch {local_batch}{per_device} < FANOUT_MIN_BATCH = {FANOUT_MIN_BATCH}"
        if not batched or local_batch < FANOUT_MIN_BATCH
        else "weights traced: no host table"
    )
    why["recurrence"] = f"{events}, {reason}"
    return Rows()
