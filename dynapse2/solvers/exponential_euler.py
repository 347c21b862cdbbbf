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
   but for the positive feedback I_pf(I_mem) (in I_sum) and the NMDA gate
   I_nmda I_mem / (I_mem + I_f) (in I_in). The step linearises R around the state,
   R ~ R_n - k (y - y_n) with k = -R'(I_mem) dI_mem/dy = -R'(I_mem) I_mem / (I_mem + I_gain),
   and integrates that exactly (an exponential Rosenbrock-Euler step in y):

       y_{n+1} = y_n + (h/tau) phi_1(-k h/tau) R_n,   phi_1(z) = (exp(z) - 1)/z.

   This is exact for the leak (k > 0: exponential relaxation to the fixed point, at any
   amplitude), exact for the multiplicative growth from rest (I_mem << I_gain: dI_mem/dy ~ 0,
   ln I_mem grows linearly at the rate I_in / (tau I_tau), which no step in I_mem or in
   ln I_mem alone gets right: from rest under nA drive the membrane grows e-fold in ~10 us
   and saturates at I_gain), and follows the runaway of the positive feedback (k < 0:
   exponential growth with the local rate). Only ``h = dt - (refractory time left)`` of the
   step integrates.

   The NMDA gate is concave in I_mem and a step can carry I_mem across all of it (from
   I_f / 100 to 100 I_f): its tangent at the start overstates the growth of the input
   within the step, holding it understates it. Its slope in k is the *chord* of the gate
   between I_mem at the start of the step and I_p, the end of the step without the
   linear part's relaxation (y + h R_n / tau, inverted with the first guess of the
   inversion below); where NMDA is computed the soma takes the step in :data:`NMDA_SUBSTEPS`
   halves, each with its own chord (the gate's change within a step is the one effect
   the exponential step does not follow; see ``benchmarks/solvers.py``). A step in which no
   neuron's NMDA current is above I_0 (NMDA computed but idle, as in a jitted call, where the
   state's values are not known and all four types are computed) takes one part without the
   chord, the same values at half the cost (:attr:`~dynapse2.physics.step.Ops.cond` runs
   only the branch taken).

   I_mem is recovered from y by one Newton step on I_n (e^w - 1) + I_gain w = y - y_n
   (w = ln(I/I_n)) from a bracketing first guess.
3. Spike where y crosses y_thr = I_spkthr + I_gain ln I_spkthr, the crossing time t_c is
   solved on the step's exponential trajectory, t_c = -(tau/k) ln(1 - k (y_thr - y_n)/R_n);
   I_mem resets to I_0 and the refractory period starts at t_c, so that t_ref - (h - t_c)
   of it is left at the end of the step. Inter-spike intervals are therefore not whole
   numbers of steps. At most one spike per step; if t_ref is shorter than the rest of the
   step after a spike, the neuron stays at I_0 until the step ends.

Cost: five transcendental functions per neuron and step (Euler: two), of which the
crossing time and the Newton step share one ``log`` (a neuron that crosses needs the
crossing time, one that does not needs the Newton step), and about 2.3x Euler's element-wise
operations. XLA's CPU compiler keeps a value in memory only where it comes from an expensive
operation (``exp``, ``log``, a division by a full array) read by several kernels, and
recomputes every cheap one in each kernel that reads it; the step is therefore written with
z = h_tau (I_mem dR/dI_mem) / (I_mem + I_gain) as one division (the synapse means and R are
computed twice, not three times) and the Newton update as one division. On CPU the step
compiles to 19 kernels and 197 element-wise operations against Euler's 9 and 77
(``python benchmarks/solvers.py --hlo``) and costs about 2.1x Euler's time per step (1 x 1024
and 32 x 256 neurons, ``--step``); a whole recurrent network's step, 1.5-1.9x
(``--speed``).

Gradients: as :class:`~dynapse2.solvers.Euler`, the surrogate spike acts on the end-of-step
I_mem, ``detach_feedback`` stops the gradient through I_pf and ``detach_reset`` through the
reset. The end-of-step I_mem is differentiated as the exact inverse of y at the step's
y_{n+1} = y_n + (h/tau) phi_1(z) R_n (R_n, the exponent z and I_pf differentiated with
respect to I_mem, the held inputs and the circuit's currents), dI = (dy_{n+1} - ln I dI_gain)
I / (I + I_gain), and not through the numerical devices that only make the values accurate:
the first guess and Newton step of the inversion, the NMDA chord's end point, the crossing
time, the refractory timer (which, as with Euler, carries no gradient). Against central
differences of the float64 reference this is within 0.4 % on subthreshold runs
(``tests/solvers``); where the one Newton step leaves the value off the exact inverse (a
pulse lifting I_mem from near rest by 10-300x in one step: up to 6.5 %), the derivative is
the exact inverse's, up to 40 % above the approximate value's. A training step costs about
1.7-2x Euler's, where differentiating every operation of the step cost 7-9x (``python
benchmarks/solvers.py --train``).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

from dynapse2.physics.dpi import pulse_full
from dynapse2.physics.fused import FusedState
from dynapse2.physics.soma import positive_feedback_of_log
from dynapse2.physics.step import Circuit, Ops, StepOptions
from dynapse2.physics.synapses import AMPA, GABA, NMDA, SHUNT
from dynapse2.solvers.base import AbstractSolver

NMDA_SUBSTEPS = 2
"""Soma sub-steps per step where NMDA is computed (the NMDA gate re-linearised at each)."""
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
    r_tau: Any  # 1 / tau_mem (1/s)
    mem_g: Any  # I_gain_mem / I_tau_mem
    mem_r_itau: Any  # 1 / I_tau_mem (1/A)
    itau_mem: Any
    igain_mem: Any
    idc: Any
    if_nmda: Any
    ispkthr: Any
    y_thr: Any  # I_spkthr + I_gain ln I_spkthr (A)
    t_ref: Any


def _growth(xp: Any, z: Any) -> tuple[Any, Any, Any]:
    """``(exp(z) - 1, phi_1(z), phi_1'(z))`` with phi_1(z) = (exp(z) - 1)/z (1 at z = 0): ``exp``
    and a series below |z| = 0.1 (``expm1`` is about twice as slow as ``exp`` on XLA's CPU);
    phi_1' is 0 where z is capped at :data:`Z_MAX`."""
    small = xp.abs(z) < 0.1
    zs = xp.where(small, 1.0, z)
    em1 = xp.exp(z) - 1.0
    series = 1.0 + z * (0.5 + z * (1.0 / 6.0 + z * (1.0 / 24.0 + z / 120.0)))
    phi1 = xp.where(small, series, em1 / zs)
    d_phi1 = xp.where(small, 0.5 + z * (1.0 / 3.0 + z * 0.125), (em1 - phi1 + 1.0) / zs)
    return em1, phi1, xp.where(z < Z_MAX, d_phi1, 0.0)


def _first_guess(xp: Any, dy: Any, i0: Any, igain: Any, io: float) -> Any:
    """A bracketing first guess of v = I_mem / ``i0`` after y = I_mem + I_gain ln I_mem changed
    by ``dy`` from ``i0``: v = 1 + d' (d' = dy / i0) for I_mem >> I_gain, e^d (d = dy / (i0 +
    I_gain)) for I_mem << I_gain. Where y grew, the lower of the two (an upper bound of v);
    where it fell, 1 + d' where that stays above I_gain / i0 (a lower bound), else e^d."""
    v_exp = xp.exp(xp.minimum(dy / (i0 + igain), 60.0))
    v_lin = 1.0 + dy / i0
    v = xp.where(dy > 0, xp.minimum(v_exp, v_lin), xp.where(i0 + dy > igain, v_lin, v_exp))
    return xp.maximum(v, io / i0)


class _Held(NamedTuple):
    """The soma's inputs held over a step (A, ``(..., n)``)."""

    i_in: Any  # I_dc + I_ampa - I_gaba
    nmda: Any  # the NMDA current before its gate (I_0 where NMDA is not computed)
    i_leak: Any  # I_tau + I_ahp + I_shunt: I_sum without the positive feedback


def _drive(p: ExpPrepared, held: _Held, imem: Any, ipf: Any, kappa: float) -> tuple[Any, Any]:
    """The soma's drive R (A) and I_mem dR/dI_mem (A) at ``imem`` (A) with the inputs ``held``
    and the positive feedback ``ipf`` (A), the NMDA gate's slope left out, ``(..., n)`` each.

    With g = I_gain / I_tau and s = I_sum / I_tau (I_sum = I_tau + I_ahp + I_shunt - I_pf):
    R = g (I_in - I_sum) - I_sum I_mem / I_tau = g I_in - s (I_mem + I_gain), and, as
    d I_pf / d I_mem = beta I_pf / I_mem (beta = kappa / (kappa + 1)),
    I_mem dR/dI_mem = beta I_pf (g + I_mem / I_tau) - s I_mem."""
    s_sum = (held.i_leak - ipf) / p.itau_mem
    i_in = held.i_in + held.nmda * imem / (imem + p.if_nmda)
    drive = p.mem_g * i_in - s_sum * (imem + p.igain_mem)
    beta = kappa / (kappa + 1.0)
    return drive, beta * ipf * (p.mem_g + imem * p.mem_r_itau) - s_sum * imem


class _End(NamedTuple):
    """The soma at the end of a step, before the spike (values only, ``(..., n)``)."""

    imem: Any  # I_mem (A)
    h_tau: Any  # the integrated part of the step / tau_mem
    phi1: Any  # phi_1(z), z = -k h / tau
    d_phi1: Any  # phi_1'(z) (0 where z is capped at Z_MAX)
    d_iin: Any  # the slope of the NMDA gate's term in I_in that k holds (0 without the chord)
    ipf: Any  # I_pf at the start (A)
    theta: Any  # where it crossed: the crossing time / h (else 1, or 0 if above from the start)
    d_imem: Any  # d I_mem / d y at the end, I / (I + I_gain) (0 where held at I_0)


def _chord(xp: Any, p: ExpPrepared, held: _Held, imem: Any, dy_euler: Any, io: float) -> Any:
    """The NMDA gate's slope in I_in that k holds (dimensionless, ``(..., n)``): the gate's chord
    from ``imem`` (A) to I_p, the end of the step without the linear part's relaxation (y grown
    by ``dy_euler`` = h R / tau, A, inverted with :func:`_first_guess`); 0 where NMDA is at I_0
    (as where it is not computed)."""
    i_p = imem * _first_guess(xp, xp.maximum(dy_euler, 0.0), imem, p.igain_mem, io)
    d_iin = held.nmda * p.if_nmda / ((imem + p.if_nmda) * (i_p + p.if_nmda))
    return xp.where(held.nmda > io, d_iin, 0.0)


def _invert_and_cross(
    xp: Any, p: ExpPrepared, imem: Any, y0: Any, dy: Any, z: Any, em1: Any, io: float
) -> tuple[Any, Any]:
    """``(v, theta)``: I_mem at the end of the step over ``imem`` (where y = I_mem + I_gain
    ln I_mem grew from ``y0`` by ``dy``, A), and where y crossed y_thr as a fraction of the
    integrated part of the step (else 1, or 0 if above from the start); ``z`` the step's growth
    exponent, ``em1`` = exp(z) - 1.

    I_mem from y: first guess v, then one Newton step in w = ln v on
    I_mem (e^w - 1) + I_gain w = dy, where it is convex and increasing. A neuron that crossed
    resets: its end value only decides the spike (the guess bounds v from above), and the log
    serves its crossing time instead: y(t) - y0 = dy (e^(z t/h) - 1) / (e^z - 1)."""
    igain = p.igain_mem
    crossed = (y0 + dy >= p.y_thr) & (y0 < p.y_thr)
    v = _first_guess(xp, dy, imem, igain, io)
    r = xp.clip((p.y_thr - y0) / xp.where(crossed, dy, 1.0), 0.0, 1.0)
    ln = xp.log(xp.where(crossed, xp.maximum(1.0 + r * em1, 1e-30), v))
    # delta = res / den, and v e^-delta ~ v / (1 + delta + delta^2 / 2) in one division
    iv = imem * v
    res, den = iv - imem + igain * ln - dy, iv + igain
    v = xp.where(crossed, v, v * den * den / (den * (den + res) + 0.5 * res * res))
    flat = xp.abs(z) < 1e-3
    theta = xp.where(flat, r, ln / xp.where(flat, 1.0, z))  # crossing time / h
    # a spike without a crossing of y: above threshold from the start (0) or by rounding (1)
    theta = xp.where(crossed, xp.clip(theta, 0.0, 1.0), xp.where(y0 < p.y_thr, 1.0, 0.0))
    return v, theta


def _soma_end(
    xp: Any,
    p: ExpPrepared,
    imem: Any,
    timer: Any,
    held: _Held,
    dt: Any,
    o: StepOptions,
    *,
    chord: bool,
    ipf: Any = None,
) -> _End:
    """The soma's values over ``dt`` seconds (a float or per neuron) from ``imem`` (A) with
    ``timer`` (s) of refractory period left (see the module docstring, steps 2 and 3).
    ``o``: the step's options (``kappa``, ``io``, ``positive_feedback``; with
    ``positive_feedback=False`` I_pf = 0, the thresholded soma, and R is affine in I_mem but for
    the NMDA gate, and the step exact for it). ``chord``: linearise the NMDA gate by its chord
    (else its slope is left out: NMDA at I_0). ``ipf``: I_pf (A) if given, else computed from
    ``imem``."""
    igain, io = p.igain_mem, o.io
    u0 = xp.log(imem)
    if ipf is None:
        ipf = positive_feedback_of_log(xp, u0, o.kappa, io) if o.positive_feedback else 0.0
    h_tau = xp.maximum(dt - timer, 0.0) * p.r_tau  # the part out of the refractory period / tau
    sm = imem + igain
    drive, zn = _drive(p, held, imem, ipf, o.kappa)
    # the NMDA gate's slope d_iin (in I_in), held by k: its chord, or 0 (NMDA not computed, at
    # I_0: its gate's term in R, but not linearised)
    d_iin = _chord(xp, p, held, imem, h_tau * drive, io) if chord else 0.0
    zn = zn + p.mem_g * d_iin * imem if chord else zn
    # -k h / tau = h_tau (dR/dI_mem) dI_mem/dy, dI_mem/dy = I_mem / (I_mem + I_gain)
    z = xp.minimum(h_tau * zn / sm, Z_MAX)
    em1, phi1, d_phi1 = _growth(xp, z)
    y0 = imem + igain * u0
    dy_free = h_tau * phi1 * drive
    dy = xp.maximum(dy_free, io + igain * math.log(io) - y0)
    v, theta = _invert_and_cross(xp, p, imem, y0, dy, z, em1, io)
    new = xp.maximum(imem * v, io)
    d_imem = xp.where((dy == dy_free) & (new > io), new / (new + igain), 0.0)
    return _End(
        imem=new, h_tau=h_tau, phi1=phi1, d_phi1=d_phi1, d_iin=d_iin, ipf=ipf, theta=theta,
        d_imem=d_imem,
    )  # fmt: skip


def _soma(
    ops: Ops,
    p: ExpPrepared,
    imem: Any,
    timer: Any,
    held: _Held,
    dt: Any,
    o: StepOptions,
    *,
    chord: bool,
) -> tuple[Any, Any, Any]:
    """The soma over ``dt`` seconds: ``(imem, spikes, timer)`` at the end of the step (the
    values of :func:`_soma_end`, then the spike, the reset and the refractory period), with
    the step's options ``o``.

    Gradient (module docstring, "Gradients"): the end-of-step I_mem is differentiated as the
    exact inverse of y = I_mem + I_gain ln I_mem at y_{n+1} = y_n + h_tau phi_1(z) R_n,
    dI_{n+1} = (dy_{n+1} - ln I_{n+1} dI_gain) I_{n+1} / (I_{n+1} + I_gain), with R_n and z
    differentiated; nothing is differentiated through the first guess, the Newton step, the
    NMDA chord's end point or the crossing time (nor, as with Euler, through the timer)."""
    xp, sg, io = ops.xp, ops.stop_gradient, o.io
    end = _soma_end(xp, sg(p), sg(imem), sg(timer), sg(held), dt, o, chord=chord)
    ipf = end.ipf
    if o.positive_feedback and not o.detach_feedback:
        ipf = positive_feedback_of_log(xp, xp.log(imem), o.kappa, io)
    drive, zn = _drive(p, held, imem, ipf, o.kappa)
    zn = zn + p.mem_g * sg(end.d_iin) * imem
    h_tau = sg(end.h_tau * p.tau_mem) * p.r_tau  # tau_mem differentiated, the timer not
    y1 = imem + p.igain_mem * (xp.log(imem) - sg(xp.log(end.imem)))
    z = h_tau * zn / (imem + p.igain_mem)
    phi1 = ops.with_gradient(end.phi1, z, end.d_phi1)
    y1 = y1 + h_tau * phi1 * drive
    new = ops.with_gradient(end.imem, y1, end.d_imem)

    spikes = ops.spike(new, p.ispkthr, o.slope, o.surrogate)
    fired = sg(spikes) if o.detach_reset else spikes
    imem = new * (1.0 - fired) + io * fired
    rest = sg(end.h_tau * p.tau_mem * (1.0 - end.theta))  # time from the crossing to the end (s)
    timer = sg(xp.where(spikes > 0, xp.maximum(p.t_ref - rest, 0.0), xp.maximum(timer - dt, 0.0)))
    return imem, spikes, timer


def _inputs(
    xp: Any, p: ExpPrepared, s: FusedState, x: tuple, types: tuple[int, ...], o: StepOptions
) -> tuple[tuple, _Held, Any]:
    """Step 1 of the module docstring: ``(isyn, held, iahp)``, the synapse currents
    (one ``(..., n)`` array per computed type, A) and the adaptation current at the end of the
    step, and what the soma holds over it (the means over the step). The step's pulse (``x``,
    one array or ``None`` per computed type) charges a synapse at its start, the previous
    step's spike the adaptation; then each decays exactly."""
    io = o.io
    isyn, mean = [], {}
    for j, t in enumerate(types):
        i = s.isyn[j]
        if x[j] is not None:
            if o.synapse_model == "linear":
                charged = i + (p.syn_gain[j] * x[j] - i) * p.syn_charge[j]
                i = xp.where(x[j] > 0, charged, i)
            else:
                i = pulse_full(xp, i, x[j], *p.syn_full[j])
        isyn.append(xp.maximum(i * p.syn_keep[j], io))
        mean[t] = xp.maximum(i * p.syn_mean[j], io)
    iahp = xp.where(s.spikes > 0, s.iahp + (p.ahp_gain * s.spikes - s.iahp) * p.ahp_charge, s.iahp)
    held = _Held(
        p.idc + mean.get(AMPA, io) - mean.get(GABA, io),
        mean.get(NMDA, io),
        p.itau_mem + xp.maximum(iahp * p.ahp_mean, io) + mean.get(SHUNT, io),
    )
    return tuple(isyn), held, xp.maximum(iahp * p.ahp_keep, io)


def _soma_step(
    ops: Ops, p: ExpPrepared, imem: Any, timer: Any, held: _Held, dt: float, o: StepOptions,
    nmda: bool,
) -> tuple[Any, Any, Any]:  # fmt: skip
    """Steps 2-3 of the module docstring over ``dt`` seconds: ``(imem, spikes, timer)``.
    ``nmda``: NMDA is computed. Where some neuron's NMDA current is then above I_0, each such
    neuron takes the step in :data:`NMDA_SUBSTEPS` parts, each with the NMDA gate's chord, and
    the others in one (then parts of 0 s, which leave them as they are); else all take one part
    without the chord (its slope is 0: the same values), and the parts are not computed
    (``ops.cond``: only the branch taken runs)."""
    xp, io = ops.xp, o.io

    def whole(imem: Any, timer: Any) -> tuple[Any, Any, Any]:
        return _soma(ops, p, imem, timer, held, dt, o, chord=False)

    def parts(imem: Any, timer: Any) -> tuple[Any, Any, Any]:
        part = xp.where(held.nmda > io, dt / NMDA_SUBSTEPS, 0.0)
        spikes = None
        for k in range(NMDA_SUBSTEPS):
            h = dt - (NMDA_SUBSTEPS - 1) * part if k == 0 else part
            imem, fired, timer = _soma(ops, p, imem, timer, held, h, o, chord=True)
            spikes = fired if spikes is None else xp.maximum(spikes, fired)
        return imem, spikes, timer

    if not nmda:
        return whole(imem, timer)
    return ops.cond(xp.any(held.nmda > io), parts, whole, imem, timer)


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
            r_tau=1.0 / c.tau_mem,
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
        positive_feedback: bool = True,
        **options: Any,
    ) -> FusedState:
        """See :meth:`AbstractSolver.step`; ``**options``: the other fields of
        :class:`~dynapse2.physics.step.StepOptions`; ``positive_feedback=False`` drops the
        soma's I_pf (the thresholded soma, see :func:`dynapse2.physics.step.step`)."""
        o = StepOptions(positive_feedback=positive_feedback, **options)
        isyn, held, iahp = _inputs(ops.xp, p, s, x, types, o)
        imem, spikes, timer = _soma_step(ops, p, s.imem, s.timer, held, dt, o, NMDA in types)
        return FusedState(imem, isyn, iahp, timer, spikes)
