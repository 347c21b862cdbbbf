"""Forward Euler: the seed's step, the default solver and the reference of the others."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from dynapse2.physics import constants as K
from dynapse2.physics.fused import FusedState, Prepared, prepare, step_fused
from dynapse2.physics.step import Circuit, Ops, State, step
from dynapse2.solvers.base import AbstractSolver


class Euler(AbstractSolver):
    """Forward Euler, y_{n+1} = y_n + dt f(y_n), with events and spikes at step ends.

    Each step (:func:`dynapse2.physics.step.step`): the synapses decay by the factor
    1 - dt/tau and are charged by the step's input pulse; the adaptation decays and is charged
    by the previous step's spike; unless refractory, the membrane takes one Euler step of the
    DPI soma equation with those currents; a spike where I_mem > I_spkthr at the end of the
    step resets I_mem to I_0 and holds it there for ceil(t_ref / dt) steps.

    Cheap and the reference, but at ``dt = 1 ms`` it under-fires (rates 15-30 % low against
    the converged rates of ``dt = 20 us``): every DPI time constant must be at least 10 dt,
    and inter-spike intervals are whole numbers of steps. See
    :class:`~dynapse2.solvers.ExponentialEuler` for the accurate option.
    """

    name: ClassVar[str] = "euler"
    min_tau_steps: ClassVar[float] = K.MIN_TAU_STEPS
    """10: a decay of 1 - dt/tau per step is 5 % faster than exp(-dt/tau) at tau = 10 dt, and
    unstable (negative) beyond tau = dt."""

    def prepare(self, xp: Any, c: Circuit, dt: float, types: tuple[int, ...]) -> Prepared:
        """The loop invariants of :func:`dynapse2.physics.fused.prepare`."""
        return prepare(xp, c, dt, types)

    def step(
        self,
        ops: Ops,
        p: Prepared,
        s: FusedState,
        x: tuple,
        dt: float,
        *,
        types: tuple[int, ...],
        positive_feedback: bool = True,
        **options: Any,
    ) -> FusedState:
        """One step of :func:`dynapse2.physics.fused.step_fused` (the reference step's
        equations, rearranged for speed); ``positive_feedback=False`` drops the soma's I_pf
        (the thresholded soma, see :func:`dynapse2.physics.step.step`)."""
        return step_fused(
            ops, p, s, x, dt, types=types, positive_feedback=positive_feedback, **options
        )

    def reference_stepper(
        self, ops: Ops, c: Circuit, dt: float, **options: Any
    ) -> Callable[[State, Any], State]:
        """The literal reference step :func:`dynapse2.physics.step.step`."""
        return lambda s, x: step(ops, c, s, x, dt, **options)
