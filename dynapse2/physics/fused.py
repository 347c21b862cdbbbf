"""The time step of :mod:`dynapse2.physics.step`, rearranged for speed (same equations).

:func:`dynapse2.physics.step.step` is the literal reference. This module computes the same
forward-Euler step with

- every loop invariant derived once, outside the time loop (:func:`prepare`): decay factors
  1 - dt/tau, pulse charge fractions -expm1(-t_pulse/tau), I_gain/I_tau I_w, dt/tau_mem,
  reciprocals, the positive-feedback prefactor;
- the positive feedback I_0^(1/(k+1)) I_mem^(k/(k+1)) as exp(a ln I_mem + b) (no ``pow``);
- one division for the membrane update and one for the NMDA gate;
- the synaptic currents as one contiguous ``(..., n)`` array per synapse type (the state's
  ``(..., n, 4)`` layout interleaves types, which defeats vectorisation);
- only the synapse types in ``types`` computed. A type that receives no input decays from
  I_0 to max(I_0 (1 - dt/tau), I_0) = I_0: it stays at I_0 exactly. The caller may leave out
  a type only when it cannot receive input and its current is at I_0 (see
  :mod:`dynapse2.nn.backends`); its current then reads as I_0.

Results equal the reference up to float rounding (tests compare both in float64 and compare
the spikes of the JAX backend with the float64 reference).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from dynapse2.physics.dpi import pulse_full
from dynapse2.physics.soma import positive_feedback_of_log
from dynapse2.physics.step import Circuit, Ops, StepOptions
from dynapse2.physics.synapses import AMPA, GABA, NMDA, SHUNT


class Prepared(NamedTuple):
    """Loop invariants of one population, ``(n,)`` each; ``syn_*`` are tuples with one entry
    per computed synapse type (in the order of ``types``)."""

    syn_keep: tuple  # 1 - dt/tau_syn
    syn_charge: tuple  # 1 - exp(-t_pulse/tau_syn)
    syn_gain: tuple  # I_gain/I_tau * I_w (A per unit weight)
    syn_full: tuple  # (igain, itau, iw, tau, t_pulse) per type, for synapse_model="full"
    ahp_keep: Any
    ahp_charge: Any
    ahp_gain: Any
    mem_dt_tau: Any  # dt / tau_mem
    mem_g: Any  # I_gain_mem / I_tau_mem
    mem_r_itau: Any  # 1 / I_tau_mem
    igain_mem: Any
    itau_mem: Any
    idc: Any
    if_nmda: Any
    ispkthr: Any
    t_ref: Any


class FusedState(NamedTuple):
    """Neuron state with the synaptic currents split by type: ``isyn`` is a tuple of
    ``(..., n)`` arrays, one per computed type. Other fields as :class:`~.step.State`."""

    imem: Any
    isyn: tuple
    iahp: Any
    timer: Any
    spikes: Any


def prepare(xp: Any, c: Circuit, dt: float, types: tuple[int, ...]) -> Prepared:
    """Derive the loop invariants of circuit ``c`` for time step ``dt`` (s) and the synapse
    types ``types`` (indices 0..3 of AMPA, NMDA, GABA, SHUNT)."""
    col = lambda a, t: a[..., t]  # noqa: E731
    t_pulse = c.t_pulse[..., 0]
    return Prepared(
        syn_keep=tuple(1.0 - dt / col(c.syn_tau, t) for t in types),
        syn_charge=tuple(-xp.expm1(-t_pulse / col(c.syn_tau, t)) for t in types),
        syn_gain=tuple(col(c.syn_igain, t) / col(c.syn_itau, t) * col(c.syn_iw, t) for t in types),
        syn_full=tuple(
            (col(c.syn_igain, t), col(c.syn_itau, t), col(c.syn_iw, t), col(c.syn_tau, t), t_pulse)
            for t in types
        ),
        ahp_keep=1.0 - dt / c.ahp_tau,
        ahp_charge=-xp.expm1(-c.t_pulse_ahp / c.ahp_tau),
        ahp_gain=c.ahp_igain / c.ahp_itau * c.iw_ahp,
        mem_dt_tau=dt / c.tau_mem,
        mem_g=c.igain_mem / c.itau_mem,
        mem_r_itau=1.0 / c.itau_mem,
        igain_mem=c.igain_mem,
        itau_mem=c.itau_mem,
        idc=c.idc,
        if_nmda=c.if_nmda,
        ispkthr=c.ispkthr,
        t_ref=c.t_ref,
    )


def step_fused(
    ops: Ops,
    p: Prepared,
    s: FusedState,
    x: tuple,
    dt: float,
    *,
    types: tuple[int, ...],
    **options: Any,
) -> FusedState:
    """Advance the neurons by one step of ``dt`` seconds; the equations and their order are
    those of :func:`dynapse2.physics.step.step`.

    Args:
        p: loop invariants from :func:`prepare` (same ``types``).
        s: state; ``s.isyn[j]`` is the current of synapse type ``types[j]``, ``(..., n)`` (A).
        x: weighted input event counts of this step, one ``(..., n)`` array (or ``None``: no
            input) per entry of ``types``, in units of I_scale.
        types: the synapse types computed; any other type is held at I_0.
        **options: the fields of :class:`~dynapse2.physics.step.StepOptions`.
    """
    kappa, io, synapse_model, detach_feedback, detach_reset, slope, surrogate, positive_feedback = (
        StepOptions(**options)
    )
    xp = ops.xp
    isyn = []
    for j in range(len(types)):
        i = xp.maximum(s.isyn[j] * p.syn_keep[j], io)
        if x[j] is not None:
            if synapse_model == "linear":
                charged = i + (p.syn_gain[j] * x[j] - i) * p.syn_charge[j]
                i = xp.where(x[j] > 0, charged, i)
            else:
                i = pulse_full(xp, i, x[j], *p.syn_full[j])
        isyn.append(i)
    cur = dict(zip(types, isyn, strict=True))

    iahp = xp.maximum(s.iahp * p.ahp_keep, io)
    iahp = xp.where(s.spikes > 0, iahp + (p.ahp_gain * s.spikes - iahp) * p.ahp_charge, iahp)

    imem = s.imem
    ipf = 0.0
    if positive_feedback:
        ipf = positive_feedback_of_log(xp, xp.log(imem), kappa, io)
        if detach_feedback:
            ipf = ops.stop_gradient(ipf)
    # I_in = I_ampa + I_nmda gate + I_dc - I_gaba; a type not computed sits at I_0
    ampa, gaba = cur.get(AMPA, io), cur.get(GABA, io)
    i_in = p.idc + (ampa - gaba if (AMPA in cur or GABA in cur) else 0.0)
    i_in = i_in + cur.get(NMDA, io) * imem / (imem + p.if_nmda)
    i_sum = p.itau_mem + iahp - ipf + cur.get(SHUNT, io)
    # dt dI/dt = dt/tau * I (g (I_in - I_sum) - I_sum I / I_tau) / (I + I_gain)
    drive = p.mem_g * (i_in - i_sum) - i_sum * imem * p.mem_r_itau
    new = imem + p.mem_dt_tau * imem * drive / (imem + p.igain_mem)
    refractory = s.timer > 1e-3 * dt
    imem = xp.where(refractory, imem, xp.maximum(new, io))

    spikes = ops.spike(imem, p.ispkthr, slope, surrogate)
    fired = ops.stop_gradient(spikes) if detach_reset else spikes
    imem = imem * (1.0 - fired) + io * fired
    timer = xp.where(spikes > 0, p.t_ref, xp.maximum(s.timer - dt, 0.0))
    return FusedState(imem, tuple(isyn), iahp, timer, spikes)
