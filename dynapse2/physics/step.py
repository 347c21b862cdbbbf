"""One forward-Euler time step of a population of Dynap-SE2 neurons.

Pure function of (circuit constants, state, input); the same code runs under JAX (float32,
``jit``/``scan``, surrogate gradients) and NumPy (the float64 reference) through :class:`Ops`.

Order within a step of length dt, for neurons of shape (..., n):
1. Synapses (AMPA, NMDA, GABA, SHUNT, stacked on a last axis of 4): forward-Euler decay over
   dt, then the charge of this step's input events as one pulse (:mod:`dynapse2.physics.dpi`).
2. Adaptation (AHP DPI): decay, then the charge of the neuron's own spike of the previous step.
3. Soma: unless refractory, one forward-Euler step of the membrane equation
   (:mod:`dynapse2.physics.soma`), clipped at I_0 from below.
4. Spike where I_mem > I_spkthr; reset I_mem to I_0; the neuron then stays refractory (I_mem
   held at I_0, no input integrates) for ceil(t_ref / dt) steps. At most one spike per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dynapse2.physics.dpi import decay, pulse_full, pulse_linear, pulse_width, time_constant
from dynapse2.physics.soma import membrane_derivative, nmda_gate
from dynapse2.physics.soma import positive_feedback as feedback_current
from dynapse2.physics.spike import spike_jax, spike_numpy
from dynapse2.physics.synapses import AMPA, GABA, NMDA, SHUNT, SYNAPSE_TYPES

SYNAPSE_MODELS: tuple[str, ...] = ("linear", "full")
"""How an input pulse charges a synapse: the linear closed form, or the full DPI equation."""


class Ops(NamedTuple):
    """An array namespace plus the operations that differ between backends (NumPy has no
    gradients: there ``stop_gradient`` and ``with_gradient`` return their first argument)."""

    xp: Any
    spike: Callable[[Any, Any, float, str], Any]
    stop_gradient: Callable[[Any], Any]
    with_gradient: Callable[[Any, Any, Any], Any]
    """``with_gradient(value, proxy, slope)``: ``value``, differentiated as ``slope * proxy``
    (the gradient reaches ``proxy``'s inputs, none reaches ``value``'s or ``slope``'s)."""
    cond: Callable[..., Any]
    """``cond(pred, if_true, if_false, *args)``: ``if_true(*args)`` where the scalar ``pred``
    holds, else ``if_false(*args)``; only the branch taken runs (``jax.lax.cond``; under
    ``vmap`` with a batched ``pred`` JAX runs both and selects)."""


@jax.custom_jvp
def with_gradient_jax(value: jax.Array, proxy: jax.Array, slope: jax.Array) -> jax.Array:
    """``value`` with the derivative of ``slope * proxy`` (see :attr:`Ops.with_gradient`);
    ``proxy`` and ``slope`` are not computed where nothing is differentiated."""
    return value


@with_gradient_jax.defjvp
def _with_gradient_jvp(primals: tuple, tangents: tuple) -> tuple:
    value, _, slope = primals
    return value, tangents[1] * jax.lax.stop_gradient(slope)


def _cond_numpy(pred: Any, if_true: Callable, if_false: Callable, *args: Any) -> Any:
    return if_true(*args) if pred else if_false(*args)


JAX_OPS = Ops(jnp, spike_jax, jax.lax.stop_gradient, with_gradient_jax, jax.lax.cond)
NUMPY_OPS = Ops(np, spike_numpy, lambda x: x, lambda value, proxy, slope: value, _cond_numpy)


class Circuit(NamedTuple):
    """Per-neuron circuit constants, derived once outside the time loop.

    Synapse fields have shape (n, 4) (AMPA, NMDA, GABA, SHUNT); the others (n,). Currents in
    A, times in s.
    """

    syn_tau: Any
    syn_igain: Any
    syn_itau: Any
    syn_iw: Any
    t_pulse: Any
    tau_mem: Any
    igain_mem: Any
    itau_mem: Any
    idc: Any
    if_nmda: Any
    ispkthr: Any
    t_ref: Any
    ahp_tau: Any
    ahp_igain: Any
    ahp_itau: Any
    iw_ahp: Any
    t_pulse_ahp: Any


class State(NamedTuple):
    """Neuron state: currents (A) of shape (..., n) (``isyn``: (..., n, 4)), ``timer`` the
    refractory time left (s), ``spikes`` the previous step's spikes (0/1)."""

    imem: Any
    isyn: Any
    iahp: Any
    timer: Any
    spikes: Any


def circuit(xp: Any, p: dict[str, Any], kappa: float, ut: float, vth: float) -> Circuit:
    """Derive the :class:`Circuit` from per-neuron currents and capacitances ``p`` (A, F).

    ``p`` holds the DynapSim current names (``Itau_ampa``, ...), the capacitances (``C_ampa``,
    ...) and ``Iscale``, each broadcastable to (n,).
    """
    stack = lambda key: xp.stack([p[key.format(t)] for t in SYNAPSE_TYPES], axis=-1)  # noqa: E731
    syn_itau = stack("Itau_{}")
    return Circuit(
        syn_tau=time_constant(stack("C_{}"), syn_itau, kappa, ut),
        syn_igain=stack("Igain_{}"),
        syn_itau=syn_itau,
        syn_iw=p["Iscale"][..., None] * xp.ones_like(syn_itau),
        t_pulse=pulse_width(p["C_pulse"], p["Ipulse"], vth)[..., None],
        tau_mem=time_constant(p["C_mem"], p["Itau_mem"], kappa, ut),
        igain_mem=p["Igain_mem"],
        itau_mem=p["Itau_mem"],
        idc=p["Idc"],
        if_nmda=p["If_nmda"],
        ispkthr=p["Ispkthr"],
        t_ref=pulse_width(p["C_ref"], p["Iref"], vth),
        ahp_tau=time_constant(p["C_ahp"], p["Itau_ahp"], kappa, ut),
        ahp_igain=p["Igain_ahp"],
        ahp_itau=p["Itau_ahp"],
        iw_ahp=p["Iw_ahp"],
        t_pulse_ahp=pulse_width(p["C_pulse_ahp"], p["Ipulse_ahp"], vth),
    )


class StepOptions(NamedTuple):
    """The keyword options of a step, defined once: those of :func:`step`,
    :func:`~dynapse2.physics.fused.step_fused` and every solver's
    :meth:`~dynapse2.solvers.AbstractSolver.step` (a DynapSim passes them from its settings).

    Attributes:
        kappa: mean subthreshold slope factor (dimensionless).
        io: the dark current I_0 (A), the floor of every current.
        synapse_model: ``"linear"`` (closed-form pulse, default) or ``"full"`` (nonlinear DPI
            integrated through the pulse).
        detach_feedback: stop the gradient through the positive-feedback current I_pf (the
            forward pass is unchanged); keeps backpropagation through time from exploding.
        detach_reset: stop the gradient through the reset (the surrogate then reaches a spike's
            cause but not the membrane after it). Each inter-spike cycle grows I_mem by ~10^5
            from I_0 to threshold; letting the gradient pass the reset multiplies those factors
            from cycle to cycle and overflows float32 within a few hundred steps.
        slope, surrogate: slope and kind of the surrogate spike derivative (see
            :mod:`dynapse2.physics.spike`).
        positive_feedback: include the exponential positive feedback I_pf in the soma
            (default); ``False`` drops it (I_pf = 0: the chip's thresholded soma, latch
            ``soif_type``), so that the membrane is a leaky integrator at any I_mem.
    """

    kappa: float
    io: float
    synapse_model: str = "linear"
    detach_feedback: bool = True
    detach_reset: bool = True
    slope: float = 1.0
    surrogate: str = "log"
    positive_feedback: bool = True


def step(
    ops: Ops,
    c: Circuit,
    s: State,
    x: Any,
    dt: float,
    **options: Any,
) -> State:
    """Advance the neurons by one step of ``dt`` seconds.

    Args:
        ops: backend operations (:data:`JAX_OPS` or :data:`NUMPY_OPS`).
        c: circuit constants. s: state at the start of the step.
        x: weighted input event counts of this step, shape (..., n, 4), in units of I_scale.
        **options: the fields of :class:`StepOptions` (``kappa`` and ``io`` required).
    Returns:
        The state at the end of the step; ``spikes`` are the spikes emitted in this step.
    """
    kappa, io, synapse_model, detach_feedback, detach_reset, slope, surrogate, positive_feedback = (
        StepOptions(**options)
    )
    xp = ops.xp
    pulse = pulse_linear if synapse_model == "linear" else pulse_full

    isyn = decay(xp, s.isyn, c.syn_tau, dt, io)
    isyn = pulse(xp, isyn, x, c.syn_igain, c.syn_itau, c.syn_iw, c.syn_tau, c.t_pulse)

    iahp = decay(xp, s.iahp, c.ahp_tau, dt, io)
    iahp = pulse_linear(
        xp, iahp, s.spikes, c.ahp_igain, c.ahp_itau, c.iw_ahp, c.ahp_tau, c.t_pulse_ahp
    )

    iampa, inmda, igaba, ishunt = (isyn[..., k] for k in (AMPA, NMDA, GABA, SHUNT))
    ipf = feedback_current(xp, s.imem, kappa, io) if positive_feedback else 0.0
    if detach_feedback and positive_feedback:
        ipf = ops.stop_gradient(ipf)
    i_in = iampa + inmda * nmda_gate(s.imem, c.if_nmda) + c.idc - igaba
    i_sum = c.itau_mem + iahp + ishunt - ipf
    didt = membrane_derivative(s.imem, i_in, i_sum, c.igain_mem, c.itau_mem, c.tau_mem)
    refractory = s.timer > 1e-3 * dt
    imem = xp.where(refractory, s.imem, xp.maximum(s.imem + dt * didt, io))

    spikes = ops.spike(imem, c.ispkthr, slope, surrogate)
    fired = ops.stop_gradient(spikes) if detach_reset else spikes
    imem = imem * (1.0 - fired) + io * fired
    timer = xp.where(spikes > 0, c.t_ref, xp.maximum(s.timer - dt, 0.0))
    return State(imem, isyn, iahp, timer, spikes)
