"""Exponential Euler: exact decays, the soma integrated in its linear variable, spikes inside
the step.

Inputs (the synaptic input events of a step, the previous step's spike into the adaptation)
arrive at the start of the step; every other current is held at its mean over the step
while the membrane is integrated. Per step of length dt:

1. Synapses and adaptation (DPIs): charged by the step's pulse (closed form, as
   :class:`~dynapse2.solvers.Euler`), then decayed *exactly*, I <- max(I exp(-dt/tau), I_0).
   Their mean over the step, I (tau/dt)(1 - exp(-dt/tau)), drives the soma.
2. Soma: the DPI soma equation is linear in y = I_mem + I_gain ln I_mem, the variable the
   circuit integrates:

       tau dy/dt = tau (1 + I_gain/I_mem) dI_mem/dt = R(I_mem)
                 = (I_gain/I_tau)(I_in - I_sum) - I_sum I_mem / I_tau

   (:func:`dynapse2.physics.soma.membrane_drive`). With the inputs held, R is affine in I_mem
   but for the positive feedback I_pf(I_mem) (in I_sum) and the NMDA gate (in I_in). The
   step linearises R around the state, R ~ R_n - k (y - y_n) with
   k = -R'(I_mem) dI_mem/dy = -R'(I_mem) I_mem / (I_mem + I_gain) (the NMDA gate's slope
   counted at :data:`NMDA_SLOPE` of its tangent), and integrates that
   exactly (an exponential Rosenbrock-Euler step in y):

       y_{n+1} = y_n + (h/tau) phi_1(-k h/tau) R_n,   phi_1(z) = (exp(z) - 1)/z.

   This is exact for the leak (k > 0: exponential relaxation to the fixed point, at any
   amplitude), exact for the multiplicative growth from rest (I_mem << I_gain: dI_mem/dy ~ 0,
   ln I_mem grows linearly at the rate I_in / (tau I_tau), which no step in I_mem or in
   ln I_mem alone gets right: from rest under nA drive the membrane grows e-fold in ~10 us
   and saturates at I_gain), and follows the runaway of the positive feedback (k < 0:
   exponential growth with the local rate). I_mem is recovered from y by Newton's method
   on e^u + I_gain u = y (u = ln I_mem) from a bracketing first guess.
   Only ``h = dt - (refractory time left)`` of the step integrates.
3. Spike: where y crosses y_thr = I_spkthr + I_gain ln I_spkthr, the crossing time t_c is
   solved on the step's exponential trajectory, t_c = -(tau/k) ln(1 - k (y_thr - y_n)/R_n);
   I_mem resets to I_0 and the refractory period starts at t_c, so that t_ref - (h - t_c)
   of it is left at the end of the step. Inter-spike intervals are therefore not whole
   numbers of steps. At most one spike per step; if t_ref is shorter than the rest of the
   step after a spike, the neuron stays at I_0 until the step ends.

Gradients: as :class:`~dynapse2.solvers.Euler` (surrogate spike on the end-of-step I_mem,
``detach_feedback`` stops the gradient through I_pf, and ``detach_reset`` through the
reset and through the crossing time).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

from dynapse2.physics.dpi import pulse_full
from dynapse2.physics.fused import AMPA, GABA, NMDA, SHUNT, FusedState
from dynapse2.physics.step import Circuit, Ops
from dynapse2.solvers.base import AbstractSolver

NMDA_SLOPE = 0.5
"""Fraction of the NMDA gate's tangent slope d(I_mem/(I_mem + I_f_nmda))/dI_mem used in the
step's linearisation. The gate is concave in I_mem: its tangent (1) overstates its growth over
a step in which I_mem grows (measured: NMDA-driven rates +11 % at 1 ms), holding it (0)
understates it (-14 %). One half, the secant over a step that about triples I_mem near
I_f_nmda, is a heuristic between the two bounds (measured: -5 % .. -2 % at 1 ms); NMDA-driven
neurons are ExponentialEuler's least accurate case."""
Z_MAX = 30.0
"""Largest growth exponent -k h / tau of one step: a membrane that grows by more than e^30 in
a step has crossed threshold near the start of it (the cap only avoids float overflow)."""


class ExpPrepared(NamedTuple):
    """Loop invariants of one population, ``(n,)`` each; ``syn_*`` tuples hold one entry per
    computed synapse type."""

    syn_keep: tuple  # exp(-dt/tau_syn)
    syn_mean: tuple  # (tau/dt)(1 - exp(-dt/tau_syn)): mean over a step / start value
    syn_charge: tuple  # 1 - exp(-t_pulse/tau_syn)
    syn_gain: tuple  # I_gain/I_tau * I_w (A per unit weight)
    syn_full: tuple  # (igain, itau, iw, tau, t_pulse) per type, for synapse_model="full"
    ahp_keep: Any
    ahp_mean: Any
    ahp_charge: Any
    ahp_gain: Any
    tau_mem: Any  # s
    mem_g: Any  # I_gain_mem / I_tau_mem
    mem_r_itau: Any  # 1 / I_tau_mem (1/A)
    itau_mem: Any
    igain_mem: Any
    idc: Any
    if_nmda: Any
    ispkthr: Any
    y_thr: Any  # I_spkthr + I_gain ln I_spkthr (A)
    t_ref: Any


def _growth(xp: Any, z: Any) -> tuple[Any, Any]:
    """``(exp(z) - 1, phi_1(z))`` with phi_1(z) = (exp(z) - 1)/z (1 at z = 0): ``exp`` and a
    series below |z| = 0.1 (``expm1`` is about twice as slow as ``exp`` on XLA's CPU)."""
    small = xp.abs(z) < 0.1
    zs = xp.where(small, 1.0, z)
    em1 = xp.exp(z) - 1.0
    series = 1.0 + z * (0.5 + z * (1.0 / 6.0 + z * (1.0 / 24.0 + z / 120.0)))
    return em1, xp.where(small, series, em1 / zs)


def _invert(xp: Any, dy: Any, u0: Any, i0: Any, igain: Any, io: float) -> Any:
    """I_mem (A) after y = I_mem + I_gain ln I_mem changed by ``dy`` from ``i0`` (ln: ``u0``).

    I_mem = i0 v with a (v - 1) + (1 - a) ln v = d, a = i0 / (i0 + I_gain),
    d = dy / (i0 + I_gain): v = 1 + d for I_mem >> I_gain, e^d for I_mem << I_gain. The first
    guess is the lower of the two, an upper bound of v when y grew (when it fell: 1 + dy / i0
    where that is above I_gain / i0, a lower bound, else e^d); then one Newton step in ln v,
    where the equation is convex and increasing, with exp(-delta) ~ 1 / (1 + delta + delta^2/2).
    """
    s = i0 + igain
    d = dy / s
    a = i0 / s
    v_exp = xp.exp(xp.minimum(d, 60.0))
    v_lin = 1.0 + dy / i0
    v = xp.where(dy > 0, xp.minimum(v_exp, v_lin), xp.where(i0 + dy > igain, v_lin, v_exp))
    v = xp.maximum(v, io / i0)
    delta = (a * (v - 1.0) + (1.0 - a) * xp.log(v) - d) * s / (i0 * v + igain)
    v = v / (1.0 + delta + 0.5 * delta * delta)
    return xp.maximum(i0 * v, io)


class ExponentialEuler(AbstractSolver):
    """Exponential Euler, spikes inside the step (:mod:`dynapse2.solvers.exponential_euler`).

    Synapse and adaptation decays are exact (exp(-dt/tau)); the soma is integrated in the
    circuit's linear variable y = I_mem + I_gain ln I_mem with its leak exact and the positive
    feedback and NMDA gate linearised over the step; the threshold crossing time is solved
    inside the step, and the reset and refractory period start there. At ``dt = 1 ms`` firing
    rates stay within a few percent of the converged ones (forward Euler at 20 us), where
    :class:`~dynapse2.solvers.Euler` is 15-30 % low; see ``benchmarks/solvers.py``.
    """

    name: ClassVar[str] = "exponential_euler"
    min_tau_steps: ClassVar[float] = 8.0
    """8: measured (``python benchmarks/solvers.py --tau``, one time constant at r dt, rates
    against Euler at 20 us). The decays are exact and stable at any dt, and the soma and the
    adaptation stay within 3 % down to tau = 2 dt at dt = 1 ms; what limits the step is a
    short *synaptic* time constant, whose within-step fluctuation the soma sees only as its
    mean: near rheobase (DC against GABA, 8-12 Hz) -17 % at 3 dt, -12 % at 5 dt, within
    1.5 % from 7 dt on. 8 dt keeps a margin over the last failing ratio (5 dt)."""

    def prepare(self, xp: Any, c: Circuit, dt: float, types: tuple[int, ...]) -> ExpPrepared:
        col = lambda a, t: a[..., t]  # noqa: E731
        t_pulse = c.t_pulse[..., 0]
        keep = lambda tau: xp.exp(-dt / tau)  # noqa: E731
        mean = lambda tau: -xp.expm1(-dt / tau) * (tau / dt)  # noqa: E731
        return ExpPrepared(
            syn_keep=tuple(keep(col(c.syn_tau, t)) for t in types),
            syn_mean=tuple(mean(col(c.syn_tau, t)) for t in types),
            syn_charge=tuple(-xp.expm1(-t_pulse / col(c.syn_tau, t)) for t in types),
            syn_gain=tuple(
                col(c.syn_igain, t) / col(c.syn_itau, t) * col(c.syn_iw, t) for t in types
            ),
            syn_full=tuple(
                (
                    col(c.syn_igain, t),
                    col(c.syn_itau, t),
                    col(c.syn_iw, t),
                    col(c.syn_tau, t),
                    t_pulse,
                )
                for t in types
            ),
            ahp_keep=keep(c.ahp_tau),
            ahp_mean=mean(c.ahp_tau),
            ahp_charge=-xp.expm1(-c.t_pulse_ahp / c.ahp_tau),
            ahp_gain=c.ahp_igain / c.ahp_itau * c.iw_ahp,
            tau_mem=c.tau_mem,
            mem_g=c.igain_mem / c.itau_mem,
            mem_r_itau=1.0 / c.itau_mem,
            itau_mem=c.itau_mem,
            igain_mem=c.igain_mem,
            idc=c.idc,
            if_nmda=c.if_nmda,
            ispkthr=c.ispkthr,
            y_thr=c.ispkthr + c.igain_mem * xp.log(c.ispkthr),
            t_ref=c.t_ref,
        )

    def step(
        self,
        ops: Ops,
        p: ExpPrepared,
        s: FusedState,
        x: tuple,
        dt: float,
        *,
        types: tuple[int, ...],
        kappa: float,
        io: float,
        synapse_model: str = "linear",
        detach_feedback: bool = True,
        detach_reset: bool = True,
        slope: float = 1.0,
        surrogate: str = "log",
    ) -> FusedState:
        xp = ops.xp
        # 1. synapses: the step's pulse at its start, then the exact decay; the soma sees the mean
        isyn, mean = [], {}
        for j, t in enumerate(types):
            i = s.isyn[j]
            if x[j] is not None:
                if synapse_model == "linear":
                    charged = i + (p.syn_gain[j] * x[j] - i) * p.syn_charge[j]
                    i = xp.where(x[j] > 0, charged, i)
                else:
                    i = pulse_full(xp, i, x[j], *p.syn_full[j])
            isyn.append(xp.maximum(i * p.syn_keep[j], io))
            mean[t] = xp.maximum(i * p.syn_mean[j], io)
        iahp = xp.where(
            s.spikes > 0, s.iahp + (p.ahp_gain * s.spikes - s.iahp) * p.ahp_charge, s.iahp
        )
        iahp_mean = xp.maximum(iahp * p.ahp_mean, io)
        iahp = xp.maximum(iahp * p.ahp_keep, io)

        # 2. soma: R = tau (1 + Ig/I) dI/dt and its slope in y, at the start of the step
        imem, igain = s.imem, p.igain_mem
        u0 = xp.log(imem)
        beta = kappa / (kappa + 1.0)
        ipf = xp.exp(beta * u0 + math.log(io) / (kappa + 1.0))
        if detach_feedback:
            ipf = ops.stop_gradient(ipf)
        nmda = mean.get(NMDA, io)
        gate_den = imem + p.if_nmda
        i_in = p.idc + mean.get(AMPA, io) - mean.get(GABA, io) + nmda * imem / gate_den
        i_sum = p.itau_mem + iahp_mean + mean.get(SHUNT, io) - ipf
        drive = p.mem_g * (i_in - i_sum) - i_sum * imem * p.mem_r_itau
        d_isum = -beta * ipf / imem  # d I_sum / d I_mem
        d_iin = NMDA_SLOPE * nmda * p.if_nmda / (gate_den * gate_den)  # d I_in / d I_mem
        d_drive = p.mem_g * (d_iin - d_isum) - (d_isum * imem + i_sum) * p.mem_r_itau
        k = -d_drive * imem / (imem + igain)  # relaxation rate of y, in units of 1/tau
        h = xp.maximum(dt - s.timer, 0.0)  # the part of the step out of the refractory period
        h_tau = h / p.tau_mem
        y0 = imem + igain * u0
        z = xp.minimum(-k * h_tau, Z_MAX)
        em1, phi1 = _growth(xp, z)
        dy = h_tau * phi1 * drive
        y1 = xp.maximum(y0 + dy, io + igain * math.log(io))
        new = _invert(xp, y1 - y0, u0, imem, igain, io)

        # 3. spike where y crossed y_thr: the crossing time on the step's trajectory
        #    y(t) - y0 = dy (e^(z t/h) - 1) / (e^z - 1); reset and refractory period from it
        spikes = ops.spike(new, p.ispkthr, slope, surrogate)
        crossed = spikes > 0
        r = xp.clip((p.y_thr - y0) / xp.where(crossed, dy, 1.0), 0.0, 1.0)
        r = xp.where(crossed, r, 0.5)
        flat = xp.abs(z) < 1e-3
        theta = xp.where(flat, r, xp.log(1.0 + r * em1) / xp.where(flat, 1.0, z))
        t_c = xp.clip(theta, 0.0, 1.0) * h
        if detach_reset:
            t_c = ops.stop_gradient(t_c)
        fired = ops.stop_gradient(spikes) if detach_reset else spikes
        imem = new * (1.0 - fired) + io * fired
        timer = xp.where(
            crossed, xp.maximum(p.t_ref - (h - t_c), 0.0), xp.maximum(s.timer - dt, 0.0)
        )
        return FusedState(imem, tuple(isyn), iahp, timer, spikes)
