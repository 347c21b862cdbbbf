"""DynapSim: the Dynap-SE2 neuron population as a module."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from dynapse2 import checks
from dynapse2.nn.backends import BACKENDS, run_jax, run_numpy
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.inputs import input_layout
from dynapse2.nn.module import Module, parameter, simulation, state
from dynapse2.nn.parallel import split_axes
from dynapse2.nn.params import STATE_NDIM, SimParams, effective_values
from dynapse2.nn.plan import Plan, PlanOptions, Structure, make_plan
from dynapse2.nn.recurrence import widest_fanout
from dynapse2.physics import constants as K
from dynapse2.physics.chip import N_NEURONS_PER_CORE
from dynapse2.physics.dpi import (
    leak_current,
    mean_kappa,
    pulse_current,
    pulse_width,
    time_constant,
)
from dynapse2.physics.spike import SURROGATE_SLOPES, SURROGATES
from dynapse2.physics.step import SYNAPSE_MODELS
from dynapse2.physics.synapses import (
    N_SYNAPSE_TYPES,
    SIGNED_TYPES,
    SYNAPSE_TYPES,
    typed_from_signed,
)
from dynapse2.solvers import AbstractSolver, Euler, check_solver

KAPPA_DEFAULT = mean_kappa(K.KAPPA_N, K.KAPPA_P)
"""Nominal mean subthreshold slope factor."""
DEFAULT_CONSTANTS: dict[str, float] = {
    "Ut": K.UT,
    "kappa_n": K.KAPPA_N,
    "kappa_p": K.KAPPA_P,
    "Io": K.IO,
    "Vth": K.VTH,
    "Iscale": K.ISCALE,
}
"""Nominal physical constants of DynapSim, by field name: U_T (V), kappa_n, kappa_p, I_0 (A),
V_th (V), I_scale (A)."""


def default_currents() -> dict[str, float]:
    """Nominal currents (A) of every DynapSim parameter, derived from the nominal time
    constants, pulse widths and gain ratios of :mod:`dynapse2.physics.constants`."""
    C, T = K.CAPACITANCES, K.TIME_CONSTANTS
    itau = {s: leak_current(C[f"C_{s}"], T[f"tau_{s}"], KAPPA_DEFAULT, K.UT) for s in SYNAPSE_TYPES}
    itau_mem = leak_current(C["C_mem"], T["tau_mem"], KAPPA_DEFAULT, K.UT)
    itau_ahp = leak_current(C["C_ahp"], T["tau_ahp"], KAPPA_DEFAULT, K.UT)
    out = {f"Itau_{s}": itau[s] for s in SYNAPSE_TYPES}
    out |= {f"Igain_{s}": K.GAIN_RATIO_SYNAPSE * itau[s] for s in SYNAPSE_TYPES}
    out |= {
        "Itau_mem": itau_mem,
        "Igain_mem": K.GAIN_RATIO_MEM * itau_mem,
        "Idc": K.IDC,
        "If_nmda": K.IF_NMDA,
        "Ispkthr": K.ISPKTHR,
        "Iref": pulse_current(C["C_ref"], K.T_REF, K.VTH),
        "Ipulse": pulse_current(C["C_pulse"], K.T_PULSE, K.VTH),
        "Itau_ahp": itau_ahp,
        "Igain_ahp": K.GAIN_RATIO_SYNAPSE * itau_ahp,
        "Iw_ahp": K.IW_AHP,
        "Ipulse_ahp": pulse_current(C["C_pulse_ahp"], K.T_PULSE_AHP, K.VTH),
    }
    return dict(sorted(out.items()))


CURRENTS: tuple[str, ...] = tuple(default_currents())
"""Names of the per-neuron currents of DynapSim (its trainable circuit parameters)."""

TAU_OF: dict[str, tuple[str, str]] = {
    **{f"tau_{s}": (f"C_{s}", f"Itau_{s}") for s in SYNAPSE_TYPES},
    "tau_mem": ("C_mem", "Itau_mem"),
    "tau_ahp": ("C_ahp", "Itau_ahp"),
}
"""DPI time constant -> (capacitance, leak current) it is made of."""

MISMATCHED: tuple[str, ...] = CURRENTS + tuple(K.CAPACITANCES) + ("Iscale",)
"""Quantities that device mismatch perturbs, per neuron."""

MISMATCH_FLOOR = 0.1
"""Lower clip of a mismatch factor, so that no drawn current or capacitance is <= 0."""


def _current_field():
    return parameter()


class DynapSim(Module):
    """A population of ``n`` Dynap-SE2 neurons, integrated by a solver (forward Euler by default).

    Each neuron has four DPI synapses (AMPA, NMDA, GABA, SHUNT), an adaptive exponential DPI
    soma with refractory period and spike-frequency adaptation (AHP), as in
    :mod:`dynapse2.physics.step`. Every current is a per-neuron array of shape ``(n,)`` in A.

    Modelling choices (each one documented option):

    - Synapse pulses: ``synapse_model="linear"`` (default) charges a synapse by the closed-form
      pulse of the linear DPI regime, I <- I_inf + (I - I_inf) exp(-t_pulse/tau) with
      I_inf = (I_gain/I_tau) I_w; ``"full"`` integrates the nonlinear DPI equation through the
      pulse, which grows multiplicatively from rest (much smaller steps for small weights).
    - Positive feedback: the exponential form I_pf = I_0^(1/(k+1)) I_mem^(k/(k+1));
      ``positive_feedback=False`` drops it (the chip's thresholded soma, per-neuron latch
      ``soif_type``): the membrane then stays a leaky integrator up to any I_mem, e.g. a
      non-spiking readout with I_spkthr above its range (``Euler()`` only, for now).
    - Soma: the published equation, leak subtracted once (Rockpool 3.1.0's code subtracts it
      twice; traces differ from Rockpool's).
    - GABA subtracts from the soma's input; SHUNT adds to the leak node, so it acts both
      subtractively and divisively (teili's form).
    - NMDA reaches the soma through the smooth gate 1 / (1 + I_f_nmda / I_mem).
    - Refractory period t_ref = C_ref V_th / I_ref: I_mem is held at I_0 and no input
      integrates for ceil(t_ref / dt) steps after a spike with ``Euler()``, for t_ref from
      the crossing time inside the step with ``ExponentialEuler()`` (synapses keep
      integrating).
    - AHP: a DPI charged by the neuron's own spikes (pulse width C_pulse_ahp V_th / I_pulse_ahp,
      weight current I_w_ahp); off by default (I_w_ahp = I_0), as the chip's latch.
    - Surrogate gradient: fast sigmoid of ln(I_mem / I_spkthr) (``surrogate="log"``, default)
      or of (I_mem - I_spkthr) / I_spkthr (``"linear"``) with slope ``surrogate_slope``
      (default per kind, :data:`~dynapse2.physics.spike.SURROGATE_SLOPES`). The log form
      matches the multiplicative DPI soma, so gradients reach hidden layers (see
      :mod:`dynapse2.physics.spike`). ``detach_feedback=True`` stops the gradient through
      I_pf (forward unchanged), and ``detach_reset=True`` stops it through the reset;
      together they keep backpropagation through time finite (each inter-spike cycle
      multiplies I_mem by ~1e5).
    - Mismatch: ``mismatch=s`` multiplies every current, capacitance and I_scale of every
      neuron by a frozen factor 1 + s N(0, 1) (clipped at 0.1) drawn from ``key``; the
      nominal values stay the trainable parameters.

    Args:
        n: number of neurons.
        has_rec: add recurrent weights ``w_rec``.
        w_rec: ``(n, n, 4)`` non-negative weights (row presynaptic, column postsynaptic, last
            axis AMPA, NMDA, GABA, SHUNT), or a signed ``(n, n)`` array (positive -> AMPA,
            negative -> GABA); in units of ``Iscale``. Default: zeros, AMPA and GABA active.
            Or chip-shaped :class:`~dynapse2.nn.connectivity.SparseWeights` (at most 64
            inputs per neuron; cost grows with n x 64 instead of n^2).
        dt: time step (s); every DPI time constant must be at least ``solver.min_tau_steps``
            dt (10 dt for ``Euler()``, see :mod:`dynapse2.solvers`).
        solver: how a step is taken (:mod:`dynapse2.solvers`; static, part of the compiled
            program and of the saved network): ``Euler()`` (default: forward Euler, events and
            spikes at step ends; rates at ``dt = 1 ms`` are 15-35 % low against the converged
            ones) or ``ExponentialEuler()`` (exact decays, the soma integrated in its linear
            variable, the threshold crossing, reset and refractory period inside the step;
            rates at 1 ms within 5 % of the converged ones, at 0.5 ms within about 2 %; each
            step costs 2-3x Euler's, see ``benchmarks/README.md``). A solver's name (``"euler"``,
            ``"exponential_euler"``) is accepted too.
        groups: the parameter group of each neuron, ``(n,)`` non-negative ints. Neurons of a
            group share every current (on the chip, a core's parameter group): training ties
            them and the hardware mapper places each group on cores of its own. Default:
            consecutive blocks of 256 neurons (one chip core each).
        mismatch: relative standard deviation of device mismatch (0 = none).
        key: ``jax.random`` key of the mismatch draw (required when ``mismatch > 0``).
        backend: ``"jax"`` (jit + lax.scan, float32) or ``"numpy"`` (float64 reference).
        plan_options: the strategies of a run (:class:`~dynapse2.nn.plan.PlanOptions`:
            recurrence, whether the weights are constant or traced, scan); default: decided
            from the structure and each call. :meth:`plan` shows what runs and why. Saved
            with the network (checkpoints, configurations) like the solver.
        **values: any current (``Itau_ampa``, ...; scalar or ``(n,)``), capacitance
            (``C_mem``, ...; F), ``Iscale`` (A), ``Ut`` (V), ``kappa_n``, ``kappa_p``, ``Io`` (A)
            or ``Vth`` (V).

    Input: weighted event counts per synapse type, ``(batch, T, n, 4)`` or ``(T, n, 4)``, in
    units of ``Iscale``; or a signed ``(batch, T, n)`` / ``(T, n)`` array (as a ``Linear``
    layer produces) whose positive part drives AMPA and negative part GABA. (With n = 4, a
    3-d input of shape (T, 4, 4) is read as typed.) Output: spikes ``(batch, T, n)`` (batch
    axis kept or dropped as given). Recurrent spikes of step t arrive at step t + 1.
    """

    # trainable currents, (n,) each
    Idc: jax.Array = _current_field()
    If_nmda: jax.Array = _current_field()
    Igain_ahp: jax.Array = _current_field()
    Igain_ampa: jax.Array = _current_field()
    Igain_gaba: jax.Array = _current_field()
    Igain_mem: jax.Array = _current_field()
    Igain_nmda: jax.Array = _current_field()
    Igain_shunt: jax.Array = _current_field()
    Ipulse: jax.Array = _current_field()
    Ipulse_ahp: jax.Array = _current_field()
    Iref: jax.Array = _current_field()
    Ispkthr: jax.Array = _current_field()
    Itau_ahp: jax.Array = _current_field()
    Itau_ampa: jax.Array = _current_field()
    Itau_gaba: jax.Array = _current_field()
    Itau_mem: jax.Array = _current_field()
    Itau_nmda: jax.Array = _current_field()
    Itau_shunt: jax.Array = _current_field()
    Iw_ahp: jax.Array = _current_field()
    w_rec: jax.Array | SparseWeights | None = parameter()

    # state, (n,) each ((n, 4) for isyn)
    imem: jax.Array = state()
    isyn: jax.Array = state()
    iahp: jax.Array = state()
    timer: jax.Array = state()
    spikes: jax.Array = state()

    # simulation parameters
    n: int = simulation()
    dt: float = simulation()
    capacitances: dict[str, float] = simulation()
    Iscale: float = simulation()
    Ut: float = simulation()
    kappa_n: float = simulation()
    kappa_p: float = simulation()
    Io: float = simulation()
    Vth: float = simulation()
    mismatch: float = simulation()
    mismatch_factors: dict[str, jax.Array] | None = simulation(static=False)
    rec_types: tuple[int, ...] = simulation()
    groups: tuple[int, ...] = simulation()
    synapse_model: str = simulation()
    detach_feedback: bool = simulation()
    detach_reset: bool = simulation()
    surrogate: str = simulation()
    surrogate_slope: float = simulation()
    solver: AbstractSolver = simulation()
    positive_feedback: bool = simulation()
    backend: str = simulation()
    plan_options: PlanOptions = simulation()

    def __init__(
        self,
        n: int,
        has_rec: bool = False,
        w_rec: Any = None,
        dt: float = 1e-3,
        *,
        groups: Any = None,
        mismatch: float = 0.0,
        key: jax.Array | None = None,
        backend: str = "jax",
        synapse_model: str = "linear",
        detach_feedback: bool = True,
        detach_reset: bool = True,
        surrogate: str = "log",
        surrogate_slope: float | None = None,
        solver: AbstractSolver | None = None,
        positive_feedback: bool = True,
        plan_options: PlanOptions | None = None,
        **values: Any,
    ):
        where = "DynapSim"
        a = _check_arguments(
            where,
            n=n,
            has_rec=has_rec,
            dt=dt,
            mismatch=mismatch,
            key=key,
            backend=backend,
            synapse_model=synapse_model,
            detach_feedback=detach_feedback,
            detach_reset=detach_reset,
            surrogate=surrogate,
            surrogate_slope=surrogate_slope,
            solver=solver,
            positive_feedback=positive_feedback,
        )
        currents, caps, constants = _circuit_values(where, values, a.n)
        self.n, self.dt, self.capacitances = a.n, a.dt, caps
        self.Ut, self.kappa_n, self.kappa_p = (constants[k] for k in ("Ut", "kappa_n", "kappa_p"))
        self.Io, self.Vth, self.Iscale = (constants[k] for k in ("Io", "Vth", "Iscale"))
        for name, v in currents.items():
            setattr(self, name, v)
        _check_time_constants(self._nominal(), self.dt, self.kappa, self.Ut, a.solver)
        self.w_rec, self.rec_types = _recurrent_weights(a.has_rec, w_rec, a.n)
        self.groups = _groups(groups, a.n)
        self.mismatch = a.mismatch
        self.mismatch_factors = _mismatch_factors(key, a.n, a.mismatch)
        self.synapse_model = synapse_model
        self.detach_feedback = a.detach_feedback
        self.detach_reset = a.detach_reset
        self.surrogate = surrogate
        self.surrogate_slope = a.surrogate_slope
        self.solver = a.solver
        self.positive_feedback = a.positive_feedback
        self.backend = backend
        self.plan_options = _plan_options(where, plan_options)
        for k, v in self.initial_state().items():
            setattr(self, k, v)

    # -- properties ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(n, n)``: one input channel per neuron (event counts per synapse type)."""
        return (self.n, self.n)

    @property
    def kappa(self) -> float:
        """Mean subthreshold slope factor (kappa_n + kappa_p) / 2 used by every DPI."""
        return mean_kappa(self.kappa_n, self.kappa_p)

    def _tau(self, name: str) -> jax.Array:
        c, i = TAU_OF[name]
        return time_constant(self.capacitances[c], getattr(self, i), self.kappa, self.Ut)

    tau_ampa = property(lambda self: self._tau("tau_ampa"), doc="AMPA time constant (s), (n,).")
    tau_nmda = property(lambda self: self._tau("tau_nmda"), doc="NMDA time constant (s), (n,).")
    tau_gaba = property(lambda self: self._tau("tau_gaba"), doc="GABA time constant (s), (n,).")
    tau_shunt = property(lambda self: self._tau("tau_shunt"), doc="SHUNT time constant (s).")
    tau_mem = property(lambda self: self._tau("tau_mem"), doc="Membrane time constant (s), (n,).")
    tau_ahp = property(lambda self: self._tau("tau_ahp"), doc="AHP time constant (s), (n,).")

    @property
    def t_ref(self) -> jax.Array:
        """Refractory period C_ref V_th / I_ref (s), (n,)."""
        return pulse_width(self.capacitances["C_ref"], self.Iref, self.Vth)

    @property
    def t_pulse(self) -> jax.Array:
        """Synaptic pulse width C_pulse V_th / I_pulse (s), (n,)."""
        return pulse_width(self.capacitances["C_pulse"], self.Ipulse, self.Vth)

    def _nominal(self) -> dict[str, Any]:
        return {
            **{c: getattr(self, c) for c in CURRENTS},
            **self.capacitances,
            "Iscale": self.Iscale,
        }

    def effective_values(self) -> dict[str, jax.Array]:
        """Every current (A), capacitance (F) and ``Iscale`` (A) per neuron, ``(n,)`` each, with
        this module's device mismatch applied."""
        return effective_values(self._nominal(), self.mismatch_factors, self.n)

    # -- state and copies ------------------------------------------------------------------
    def initial_state(self) -> dict[str, jax.Array]:
        """Rest: every current at I_0 (A), ``(n,)`` (``isyn``: ``(n, 4)``); no refractory time
        left, no spike."""
        z = jnp.zeros((self.n,), jnp.float32)
        io = jnp.full((self.n,), self.Io, jnp.float32)
        return {
            "imem": io,
            "isyn": jnp.full((self.n, N_SYNAPSE_TYPES), self.Io, jnp.float32),
            "iahp": io,
            "timer": z,
            "spikes": z,
        }

    def resample_mismatch(self, key: jax.Array, fraction: float | None = None) -> DynapSim:
        """Return a copy with a fresh draw of device mismatch.

        Args:
            key: ``jax.random`` key of the draw.
            fraction: relative standard deviation; default the module's ``mismatch``. A module
                built without mismatch gets one this way (its ``mismatch`` field, a static
                description of the construction, is left as it was, so that the result has
                the same tree structure and a jitted function does not recompile).
        """
        where = "DynapSim.resample_mismatch"
        _check_key(where, "key", key)
        fraction = (
            self.mismatch if fraction is None else checks.mismatch(where, "fraction", fraction)
        )
        if fraction == 0:
            return self
        return eqx.tree_at(
            lambda m: m.mismatch_factors,
            self,
            draw_mismatch(key, self.n, fraction),
            is_leaf=lambda v: v is None,
        )

    def max_leak_current(self, name: str) -> float:
        """The largest value (A) of the leak current ``name`` (``"Itau_ampa"``, ...,
        ``"Itau_mem"``, ``"Itau_ahp"``) that keeps its time constant at least
        ``min_tau_steps * dt`` of the module's solver (10 dt for ``Euler()``):
        ``C U_T / (kappa min_tau_steps dt)``."""
        caps = {i: c for c, i in TAU_OF.values()}
        if name not in caps:
            raise KeyError(f"DynapSim.max_leak_current: {name!r} is not one of {sorted(caps)}")
        return leak_current(
            self.capacitances[caps[name]], self.solver.min_tau_steps * self.dt, self.kappa, self.Ut
        )

    def with_backend(self, backend: str) -> DynapSim:
        """Return a copy that simulates with ``backend`` (``"jax"`` or ``"numpy"``)."""
        checks.choice("DynapSim.with_backend", "backend", backend, BACKENDS)
        return _replace(self, backend=backend)

    def with_plan_options(self, **options: Any) -> DynapSim:
        """Return a copy whose :class:`~dynapse2.nn.plan.PlanOptions` has ``options``
        (``recurrence=``, ``weights=``, ``scan=``) replaced."""
        fields = {**vars(self.plan_options), **options}
        unknown = sorted(set(options) - set(vars(self.plan_options)))
        if unknown:
            raise TypeError(
                f"DynapSim.with_plan_options: unknown option(s) {unknown}; options are "
                f"{sorted(vars(self.plan_options))}"
            )
        return _replace(self, plan_options=PlanOptions(**fields))

    def with_solver(self, solver: AbstractSolver) -> DynapSim:
        """Return a copy that steps with ``solver`` (an instance, e.g. ``ExponentialEuler()``,
        or its name). Its time-constant limit is checked on the nominal currents, as the
        constructor does (``ExponentialEuler()`` accepts shorter time constants than
        ``Euler()``)."""
        solver = check_solver(solver, "DynapSim.with_solver")
        _check_feedback("DynapSim.with_solver", solver, self.positive_feedback)
        _check_time_constants(self._nominal(), self.dt, self.kappa, self.Ut, solver)
        return _replace(self, solver=solver)

    def settings(self) -> dict[str, Any]:
        """Every setting the leaves do not carry, by name: the static simulation fields but
        ``n`` (:data:`SETTINGS`: ``dt`` (s), ``capacitances`` (F), ``Iscale``/``Io`` (A),
        ``Ut``/``Vth`` (V), ``kappa_n``, ``kappa_p``, ``mismatch``, ``rec_types``, ``groups``,
        ``synapse_model``, ``detach_feedback``, ``detach_reset``, ``surrogate``,
        ``surrogate_slope``, ``positive_feedback``, ``solver``, ``backend``,
        ``plan_options``). A checkpoint stores them beside the leaves and
        :meth:`with_settings` puts them back."""
        return {name: getattr(self, name) for name in SETTINGS}

    def with_settings(self, **settings: Any) -> DynapSim:
        """Return a copy with ``settings`` (names of :data:`SETTINGS`) replaced, each checked
        as the constructor checks it (a solver may be given by name, ``groups`` and
        ``rec_types`` as lists); the time-constant limit is checked on the result."""
        where = "DynapSim.with_settings"
        unknown = sorted(set(settings) - set(SETTINGS))
        if unknown:
            raise TypeError(f"{where}: unknown setting(s) {unknown}; the settings are {SETTINGS}")
        new = {k: _check_setting(where, k, v, self) for k, v in settings.items()}
        out = _replace(self, **new)
        _check_time_constants(out._nominal(), out.dt, out.kappa, out.Ut, out.solver)
        _check_feedback(where, out.solver, out.positive_feedback)
        return out

    def with_positive_feedback(self, on: bool) -> DynapSim:
        """Return a copy with the soma's positive feedback on (the exponential soma) or off
        (the thresholded one, chip latch ``soif_type``; see the class docstring)."""
        on = checks.boolean("DynapSim.with_positive_feedback", "on", on)
        _check_feedback("DynapSim.with_positive_feedback", self.solver, on)
        return _replace(self, positive_feedback=on)

    # -- simulation ------------------------------------------------------------------------
    def evolve(self, x: Any, record: bool = False) -> tuple[Any, dict, dict]:
        """Simulate ``x`` (see the class docstring for shapes).

        Returns ``(spikes, new_state, record)``; with ``record=True`` the record holds
        ``imem``, ``vmem``, ``iampa``, ``inmda``, ``igaba``, ``ishunt``, ``iahp`` and ``spikes``,
        each ``(batch, T, n)`` (A, V, or 0/1).
        """
        typed, batched = input_layout(x, self.n)
        params = self.sim_params()
        if self.backend == "numpy":
            return run_numpy(params, x, typed=typed, batched=batched, record=record)
        return run_jax(params, x, self._plan(x, typed, batched, record, self._traced()))

    def time_axis(self, x: Any) -> int:
        """The time axis of input ``x``: 1 for batched input, else 0."""
        return 1 if input_layout(x, self.n)[1] else 0

    def plan(self, x: Any, record: bool = False) -> Plan:
        """The run plan of ``self(x, record)``: which strategies simulate it and why
        (``print(net.plan(x.shape))``; see :mod:`dynapse2.nn.plan`).

        Args:
            x: the input's shape (a tuple), or the input itself (a sharded ``jax.Array``
                plans the sharded run).
            record: whether the call records the state.
        """
        checks.boolean("DynapSim.plan", "record", record)
        if isinstance(x, tuple | list) and all(isinstance(d, int) for d in x):
            x = jax.ShapeDtypeStruct(tuple(x), jnp.float32)
        typed, batched = input_layout(x, self.n)
        return self._plan(x, typed, batched, record, None)

    def _plan(self, x: Any, typed: bool, batched: bool, record: bool, traced: Any) -> Plan:
        w = self.w_rec
        kind = "none" if w is None else "sparse" if isinstance(w, SparseWeights) else "dense"
        width = widest_fanout(w, self.rec_types) if isinstance(w, SparseWeights) else None
        structure = Structure(self.n, kind, self.rec_types, self.backend, self.plan_options, width)
        split = split_axes(x, np.ndim(x) - (2 if typed else 1), batched)
        return make_plan(structure, tuple(np.shape(x)), typed, batched, record, split, traced)

    def _traced(self) -> bool:
        """Whether the recurrent weights are traced (inside jit, grad or vmap) at this call."""
        w = self.w_rec
        w = w.weight if isinstance(w, SparseWeights) else w
        return isinstance(w, Tracer)

    def sim_params(self) -> SimParams:
        """What a run of this module needs (:class:`~dynapse2.nn.params.SimParams`): its
        values, state and weights, as one pytree (gradients pass through to the module)."""
        return SimParams(
            nominal=self._nominal(),
            mismatch_factors=self.mismatch_factors,
            w_rec=self.w_rec,
            state={k: getattr(self, k) for k in STATE_NDIM},
            n=self.n,
            dt=self.dt,
            kappa=self.kappa,
            Ut=self.Ut,
            Io=self.Io,
            Vth=self.Vth,
            rec_types=self.rec_types,
            solver=self.solver,
            synapse_model=self.synapse_model,
            detach_feedback=self.detach_feedback,
            detach_reset=self.detach_reset,
            surrogate=self.surrogate,
            surrogate_slope=self.surrogate_slope,
            positive_feedback=self.positive_feedback,
        )

    def __repr__(self) -> str:
        return (
            f"DynapSim(n={self.n}, has_rec={self.w_rec is not None}, dt={self.dt}, "
            f"mismatch={self.mismatch}, backend={self.backend!r}, "
            f"synapse_model={self.synapse_model!r}, solver={self.solver!r}"
            + ("" if self.positive_feedback else ", positive_feedback=False")
            + ")"
        )


SETTINGS: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(DynapSim)
    if f.metadata.get("role") == "simulation" and f.metadata.get("static") and f.name != "n"
)
"""The settings of a DynapSim (:meth:`DynapSim.settings`): every static simulation field but
``n``, which the leaves' shapes fix."""


# -- helpers --------------------------------------------------------------------------------
class _Arguments(NamedTuple):
    """DynapSim's scalar arguments, checked and converted by :func:`_check_arguments`."""

    n: int
    has_rec: bool
    dt: float  # s
    mismatch: float
    solver: AbstractSolver
    surrogate_slope: float
    detach_feedback: bool
    detach_reset: bool
    positive_feedback: bool


def _check_arguments(
    where: str,
    *,
    n: Any,
    has_rec: Any,
    dt: Any,
    mismatch: Any,
    key: Any,
    backend: Any,
    synapse_model: Any,
    detach_feedback: Any,
    detach_reset: Any,
    surrogate: Any,
    surrogate_slope: Any,
    solver: Any,
    positive_feedback: Any,
) -> _Arguments:
    """DynapSim's arguments other than the weights, groups, circuit values and plan options,
    checked in this order before any work (a TypeError or ValueError naming the first bad
    one); ``surrogate_slope`` None is the surrogate's default, ``solver`` None ``Euler()``."""
    n = checks.integer(where, "n", n, lo=1)
    has_rec = checks.boolean(where, "has_rec", has_rec)
    detach_feedback = checks.boolean(where, "detach_feedback", detach_feedback)
    detach_reset = checks.boolean(where, "detach_reset", detach_reset)
    positive_feedback = checks.boolean(where, "positive_feedback", positive_feedback)
    checks.choice(where, "backend", backend, BACKENDS)
    checks.choice(where, "synapse_model", synapse_model, SYNAPSE_MODELS)
    checks.choice(where, "surrogate", surrogate, SURROGATES)
    solver = Euler() if solver is None else check_solver(solver)
    _check_feedback(where, solver, positive_feedback)
    dt = checks.number(where, "dt", dt, lo=0, lo_open=True)
    mismatch = checks.mismatch(where, "mismatch", mismatch)
    if surrogate_slope is None:
        surrogate_slope = SURROGATE_SLOPES[surrogate]
    surrogate_slope = checks.number(where, "surrogate_slope", surrogate_slope, lo=0, lo_open=True)
    _check_key(where, "key", key, optional=True)
    if mismatch > 0 and key is None:
        raise TypeError(
            f"DynapSim: key is required when mismatch = {mismatch!r} > 0 (the mismatch "
            "factors are drawn with it): pass key=jax.random.PRNGKey(seed)"
        )
    return _Arguments(
        n,
        has_rec,
        dt,
        mismatch,
        solver,
        surrogate_slope,
        detach_feedback,
        detach_reset,
        positive_feedback,
    )


def _circuit_values(
    where: str, values: dict[str, Any], n: int
) -> tuple[dict[str, jax.Array], dict[str, float], dict[str, float]]:
    """DynapSim's ``**values`` over the nominal ones, checked: the currents as ``(n,)`` float32
    arrays (A), by name; the capacitances (F) and the constants (``Ut`` (V), ``kappa_n``,
    ``kappa_p``, ``Io`` (A), ``Vth`` (V), ``Iscale`` (A)) as floats. An unknown name is a
    TypeError."""
    constants = dict(DEFAULT_CONSTANTS)
    caps = dict(K.CAPACITANCES)
    currents = default_currents()
    for name, v in values.items():
        if name in currents:
            currents[name] = v
        elif name in caps:
            caps[name] = v
        elif name in constants:
            constants[name] = v
        else:
            raise TypeError(
                f"DynapSim: unknown argument {name!r}; currents are {list(CURRENTS)}, "
                f"capacitances {list(caps)}, constants {list(constants)}"
            )
    for name, v in {**caps, **constants}.items():
        checks.number(where, name, v, lo=0, lo_open=True)
    caps = {k: float(v) for k, v in caps.items()}
    constants = {k: float(v) for k, v in constants.items()}
    return {name: _per_neuron(name, v, n) for name, v in currents.items()}, caps, constants


def _recurrent_weights(has_rec: bool, w: Any, n: int) -> tuple[Any, tuple[int, ...]]:
    """``(w_rec, rec_types)`` of a new DynapSim: :func:`_recurrent`'s with ``has_rec``,
    ``(None, ())`` without (where a ``w`` given is a ValueError)."""
    if w is not None and not has_rec:
        raise ValueError("DynapSim: w_rec given but has_rec=False; pass has_rec=True")
    return _recurrent(w, n) if has_rec else (None, ())


def _mismatch_factors(
    key: jax.Array | None, n: int, mismatch: float
) -> dict[str, jax.Array] | None:
    """The frozen mismatch factors of a new DynapSim (:func:`draw_mismatch`, ``(n,)`` each), or
    None without mismatch (``key`` is not None where ``mismatch > 0``: see
    :func:`_check_arguments`)."""
    return draw_mismatch(key, n, mismatch) if mismatch > 0 and key is not None else None


def _replace(m: DynapSim, **static: Any) -> DynapSim:
    new = object.__new__(type(m))
    for f in m.__dataclass_fields__:
        object.__setattr__(new, f, static.get(f, getattr(m, f)))
    return new


def _plan_options(where: str, options: Any) -> PlanOptions:
    """``options`` as PlanOptions: None (the defaults), a PlanOptions, or its stored form
    (:meth:`PlanOptions.to_dict`)."""
    if options is None:
        return PlanOptions()
    if isinstance(options, dict):
        return PlanOptions.from_dict(options, where)
    if not isinstance(options, PlanOptions):
        raise TypeError(
            f"{where}: plan_options = {_brief(options)} must be a PlanOptions (e.g. "
            "PlanOptions(recurrence='rows')), its stored form (an object with the keys "
            f"['recurrence', 'weights', 'scan']) or None, got {type(options).__name__}"
        )
    return options


def _check_setting(where: str, name: str, v: Any, m: DynapSim) -> Any:
    """One setting of :meth:`DynapSim.with_settings`, checked and converted."""
    if name in ("detach_feedback", "detach_reset", "positive_feedback"):
        return checks.boolean(where, name, v)
    choices = {"synapse_model": SYNAPSE_MODELS, "surrogate": SURROGATES}
    if name in choices:
        return checks.choice(where, name, v, choices[name])
    if name == "backend":
        return checks.choice(where, name, v, BACKENDS)
    if name == "solver":
        return check_solver(v, where)
    if name == "plan_options":
        return _plan_options(where, v)
    if name == "mismatch":
        return checks.mismatch(where, name, v)
    if name == "groups":
        return _groups(v, m.n)
    if name == "rec_types":
        if not isinstance(v, list | tuple) or list(v) != sorted(set(v)):
            raise TypeError(f"{where}: rec_types = {v!r} must be increasing synapse types")
        types = tuple(checks.integer(where, "rec_types[i]", t, lo=0, hi=3) for t in v)
        if m.w_rec is None and types:
            raise ValueError(f"{where}: rec_types = {v!r} without w_rec (has_rec=False)")
        return types
    if name == "capacitances":
        if not isinstance(v, dict) or set(v) != set(m.capacitances):
            raise TypeError(
                f"{where}: capacitances = {_brief(v)} must map {sorted(m.capacitances)} to F"
            )
        return {k: checks.number(where, f"capacitances[{k!r}]", c, lo=0, lo_open=True)
                for k, c in v.items()}  # fmt: skip
    return checks.number(where, name, v, lo=0, lo_open=True)  # dt, Iscale, constants, slope


def _check_feedback(where: str, solver: AbstractSolver, positive_feedback: bool) -> None:
    """``positive_feedback=False`` needs a solver whose step takes that option (its keyword
    ``positive_feedback``); else a ValueError naming the solver."""
    if (
        not positive_feedback
        and "positive_feedback" not in inspect.signature(solver.step).parameters
    ):
        raise ValueError(
            f"{where}: positive_feedback=False is not supported by {solver!r} yet (its step "
            "always includes the positive feedback); use solver=Euler()"
        )


def _groups(groups: Any, n: int) -> tuple[int, ...]:
    if groups is None:
        return tuple(i // N_NEURONS_PER_CORE for i in range(n))
    g = _as_array(groups)
    if g is None or not np.issubdtype(g.dtype, np.integer):
        raise TypeError(
            f"DynapSim: groups = {_brief(groups)} must be {n} non-negative integers (one per "
            f"neuron), got {_kind(groups, g)}"
        )
    if g.shape != (n,) or (g < 0).any():
        raise ValueError(
            f"DynapSim: groups = {_brief(groups)} must be {n} non-negative integers (one per "
            f"neuron); got shape {g.shape}, dtype {g.dtype}"
        )
    return tuple(int(v) for v in g)


def _as_array(v: Any) -> np.ndarray | None:
    """``v`` as a NumPy array, or None where it is not array-like (a ragged list, an object
    that NumPy cannot read as numbers)."""
    try:
        a = np.asarray(v)
    except (TypeError, ValueError):
        return None
    return None if a.dtype.kind == "O" else a


def _brief(v: Any) -> str:
    """``repr(v)``, or its type and shape where the repr is long (a large array)."""
    r = repr(v)
    if len(r) <= 80:
        return r
    return f"<{type(v).__name__} of shape {np.shape(v)}>" if hasattr(v, "shape") else r[:77] + "..."


def _kind(v: Any, a: np.ndarray | None) -> str:
    return type(v).__name__ if a is None else f"{type(v).__name__} of dtype {a.dtype}"


def _check_key(where: str, name: str, key: Any, optional: bool = False) -> None:
    """A ``jax.random`` key (``jax.random.PRNGKey(seed)`` or ``jax.random.key(seed)``), or None
    where ``optional``; else a TypeError naming ``name``."""
    if key is None and optional:
        return
    dtype = getattr(key, "dtype", None)
    ok = dtype is not None and (
        jnp.issubdtype(dtype, jax.dtypes.prng_key)
        or (getattr(dtype, "kind", None) == "u" and len(getattr(key, "shape", ())) >= 1)
    )
    if not ok:
        raise TypeError(
            f"{where}: {name} = {_brief(key)} must be a jax.random key "
            f"(jax.random.PRNGKey(seed)), got {type(key).__name__}"
        )


def _per_neuron(name: str, v: Any, n: int) -> jax.Array:
    """A current, a positive finite scalar or ``(n,)`` array of them, as ``(n,)`` float32."""
    if not (isinstance(v, list | tuple) or len(getattr(v, "shape", ())) > 0):
        return jnp.full((n,), checks.number("DynapSim", name, v, lo=0, lo_open=True), jnp.float32)
    a = _as_array(v)
    if a is None or a.dtype.kind not in "iuf":
        raise TypeError(
            f"DynapSim: {name} = {_brief(v)} must be a number or an array ({n},) of numbers "
            f"(A), got {_kind(v, a)}"
        )
    if a.shape != (n,):
        raise ValueError(
            f"DynapSim: {name} = {_brief(v)} has shape {a.shape}; expected a scalar or ({n},)"
        )
    a = a.astype(np.float64)
    bad = ~(np.isfinite(a) & (a > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"DynapSim: {name}[{i}] = {float(a[i])!r} A must be a positive, finite current"
        )
    return jnp.asarray(a, jnp.float32)


def _check_time_constants(
    values: dict[str, Any], dt: float, kappa: float, ut: float, solver: AbstractSolver
) -> None:
    """Every DPI time constant at least ``solver.min_tau_steps * dt``, else a ValueError
    naming the time constant, the neuron, the limit and the solver."""
    steps = solver.min_tau_steps
    for name, (c, i) in TAU_OF.items():
        tau = np.asarray(time_constant(values[c], np.asarray(values[i], np.float64), kappa, ut))
        k = int(np.argmin(tau))
        if tau.flat[k] < steps * dt * (1 - 1e-6):
            raise ValueError(
                f"DynapSim: {name} = {float(tau.flat[k]):.3g} s (neuron {k}; from {i} and {c}) "
                f"must be at least {steps:g} * dt = {steps * dt:.3g} s for {solver!r}; "
                f"lower dt or {i}"
            )


def _recurrent(w: Any, n: int) -> tuple[Any, tuple[int, ...]]:
    if w is None:
        return jnp.zeros((n, n, N_SYNAPSE_TYPES), jnp.float32), SIGNED_TYPES
    if isinstance(w, SparseWeights):
        pre, wt = np.asarray(w.pre), np.asarray(w.weight)
        if w.n_post != n or (pre.size and pre.max() >= n):
            raise ValueError(
                f"DynapSim: sparse w_rec has {w.n_post} postsynaptic neurons and presynaptic "
                f"indices up to {int(pre.max()) if pre.size else 0}; expected {n} and < {n}"
            )
        if not np.isfinite(wt).all() or (wt < 0).any():
            raise ValueError("DynapSim: sparse w_rec weights must be finite and >= 0")
        return w, w.types()
    a = _as_array(w)
    if a is None or a.dtype.kind not in "biuf":
        raise TypeError(
            f"DynapSim: w_rec = {_brief(w)} must be an array of real numbers ((n, n, 4) or "
            f"(n, n)) or SparseWeights, got {_kind(w, a)}"
        )
    a = a.astype(np.float64)
    if a.shape == (n, n):
        if not np.isfinite(a).all():
            raise ValueError("DynapSim: w_rec contains NaN or inf")
        return jnp.asarray(typed_from_signed(a), jnp.float32), SIGNED_TYPES
    if a.shape != (n, n, N_SYNAPSE_TYPES):
        raise ValueError(
            f"DynapSim: w_rec has shape {a.shape}; expected (n, n, 4) = {(n, n, 4)} "
            f"(non-negative, per synapse type) or a signed (n, n) = {(n, n)}"
        )
    if not np.isfinite(a).all():
        raise ValueError("DynapSim: w_rec contains NaN or inf")
    if (a < 0).any():
        idx = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise ValueError(
            f"DynapSim: w_rec{list(idx)} = {float(a[idx])!r} is negative; per-type weights must be "
            f">= 0 (the sign comes from the synapse type); pass a signed (n, n) array instead"
        )
    types = tuple(int(t) for t in range(N_SYNAPSE_TYPES) if a[..., t].any())
    return jnp.asarray(a, jnp.float32), types


def draw_mismatch(key: jax.Array, n: int, frac: float) -> dict[str, jax.Array]:
    """Frozen mismatch factors ``1 + frac N(0, 1)`` (clipped at :data:`MISMATCH_FLOOR`), one
    ``(n,)`` array per name of :data:`MISMATCHED`, drawn from ``key``."""
    keys = jax.random.split(key, len(MISMATCHED))
    return {
        name: jnp.maximum(1.0 + frac * jax.random.normal(k, (n,)), MISMATCH_FLOOR)
        for name, k in zip(MISMATCHED, keys, strict=True)
    }
