"""The step contract every solver implements.

A solver says how one time step of ``dt`` seconds advances the Dynap-SE2 physics
(:mod:`dynapse2.physics`): the DPI synapses, the adaptation DPI, the soma, the spike, the reset
and the refractory period. It is a small, stateless, hashable object (an
:class:`equinox.Module` without fields), chosen by argument, as diffrax's solvers are:
``DynapSim(n, solver=ExponentialEuler())``. Two solvers compare equal when they are of the
same class, so a solver is a static field of a module and part of its compiled program.

The contract has two halves, one per backend layout of the state:

- :meth:`AbstractSolver.prepare` and :meth:`AbstractSolver.step` (the fast layout, used
  inside ``jax.lax.scan``): ``prepare`` derives the loop invariants of a
  :class:`~dynapse2.physics.step.Circuit` once per call; ``step`` advances a
  :class:`~dynapse2.physics.fused.FusedState` (synaptic currents split by type, only the types
  in ``types`` computed) by one step.
- :meth:`AbstractSolver.reference_stepper` (the literal layout,
  :class:`~dynapse2.physics.step.State` with ``isyn`` of shape ``(..., n, 4)``), used by the
  float64 NumPy reference backend. By default it runs :meth:`step` with all four synapse
  types through a change of layout.

Both halves are pure functions of (invariants, state, input) written against an array
namespace through :class:`~dynapse2.physics.step.Ops`, so JAX (float32, jit, gradients) and
NumPy (float64) run the same equations.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import equinox as eqx

from dynapse2.physics.fused import FusedState
from dynapse2.physics.step import Circuit, Ops, State
from dynapse2.physics.synapses import ALL_TYPES


class AbstractSolver(eqx.Module):
    """How one time step advances the neurons (see the module docstring).

    Subclasses set :attr:`name` and implement :meth:`prepare` and :meth:`step`.

    Keyword options of a step, passed through from :class:`~dynapse2.nn.DynapSim`: the
    fields of :class:`~dynapse2.physics.step.StepOptions` (``kappa``, ``io``,
    ``synapse_model``, ``detach_feedback``, ``detach_reset``, ``slope``, ``surrogate``,
    ``positive_feedback``).
    """

    name: ClassVar[str] = ""
    """The name under which the solver is saved (network metadata, configurations)."""
    min_tau_steps: ClassVar[float] = 10.0
    """The shortest DPI time constant the solver integrates accurately, in time steps: a
    :class:`~dynapse2.nn.DynapSim` refuses a time constant below ``min_tau_steps * dt``, and
    training clips the leak currents there."""

    def prepare(self, xp: Any, c: Circuit, dt: float, types: tuple[int, ...]) -> Any:
        """Loop invariants of circuit ``c`` for the time step ``dt`` (s) and the synapse types
        ``types`` (indices into AMPA, NMDA, GABA, SHUNT): a pytree whose array leaves have
        shape ``(n,)`` (or are scalars)."""
        raise NotImplementedError

    def step(
        self,
        ops: Ops,
        p: Any,
        s: FusedState,
        x: tuple,
        dt: float,
        *,
        types: tuple[int, ...],
        **options: Any,
    ) -> FusedState:
        """Advance the state ``s`` by ``dt`` seconds.

        Args:
            ops: backend operations (:data:`~dynapse2.physics.step.JAX_OPS` or
                :data:`~dynapse2.physics.step.NUMPY_OPS`).
            p: the invariants from :meth:`prepare` (same ``dt`` and ``types``).
            s: the state at the start of the step; ``s.isyn[j]`` is the current (A) of type
                ``types[j]``, ``(..., n)``.
            x: weighted input event counts of this step (units of I_scale), one ``(..., n)``
                array per entry of ``types``, or ``None`` for a type without input.
            types: the synapse types computed; any other type is held at I_0.
            **options: see the class docstring.
        Returns:
            The state at the end of the step; ``spikes`` are this step's spikes (0/1).
        """
        raise NotImplementedError

    def reference_stepper(
        self, ops: Ops, c: Circuit, dt: float, **options: Any
    ) -> Callable[[State, Any], State]:
        """A function ``(state, x) -> state`` advancing a :class:`~dynapse2.physics.step.State`
        (``isyn``: ``(..., n, 4)``) by one step of ``dt`` with input ``x`` ``(..., n, 4)``
        (units of I_scale). Default: :meth:`step` over all four types."""
        p = self.prepare(ops.xp, c, dt, ALL_TYPES)
        xp = ops.xp

        def stepper(s: State, x: Any) -> State:
            f = FusedState(
                s.imem, tuple(s.isyn[..., t] for t in ALL_TYPES), s.iahp, s.timer, s.spikes
            )
            xs = tuple(x[..., t] for t in ALL_TYPES)
            f = self.step(ops, p, f, xs, dt, types=ALL_TYPES, **options)
            return State(f.imem, xp.stack(f.isyn, axis=-1), f.iahp, f.timer, f.spikes)

        return stepper

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
