"""Solvers: how one time step advances the Dynap-SE2 physics (chosen by argument, as in
diffrax).

- :class:`Euler` (default): the seed's forward Euler, the reference.
- :class:`ExponentialEuler`: exact decays, the soma's linear part integrated exactly, the
  threshold crossing, reset and refractory period placed inside the step.

``DynapSim(n, dt=1e-3, solver=ExponentialEuler())``. Every solver implements the small
contract of :class:`AbstractSolver` (:mod:`dynapse2.solvers.base`).
"""

from __future__ import annotations

from typing import Any

from dynapse2.solvers.base import AbstractSolver
from dynapse2.solvers.euler import Euler
from dynapse2.solvers.exponential_euler import ExponentialEuler

__all__ = [
    "AbstractSolver",
    "Euler",
    "ExponentialEuler",
    "SOLVERS",
    "check_solver",
    "solver_from_name",
]

SOLVERS: dict[str, type[AbstractSolver]] = {s.name: s for s in (Euler, ExponentialEuler)}
"""Every solver by the name it is saved under."""


def solver_from_name(name: Any, where: str = "solver") -> AbstractSolver:
    """The solver saved as ``name`` (``"euler"``, ``"exponential_euler"``); a ValueError
    naming ``where`` and the allowed values otherwise."""
    if not isinstance(name, str) or name not in SOLVERS:
        raise ValueError(f"{where} = {name!r}; allowed values are {list(SOLVERS)}")
    return SOLVERS[name]()


def check_solver(solver: Any, where: str = "DynapSim") -> AbstractSolver:
    """``solver`` if it is a solver instance, the solver of that name if it is a known name,
    else a ValueError naming ``solver`` and the allowed values."""
    if isinstance(solver, AbstractSolver):
        return solver
    if isinstance(solver, str) and solver in SOLVERS:
        return SOLVERS[solver]()
    allowed = f"allowed values are {[f'{c.__name__}()' for c in SOLVERS.values()]}"
    if isinstance(solver, type) and issubclass(solver, AbstractSolver):
        raise ValueError(
            f"{where}: solver = {solver.__name__} is a class; pass an instance, "
            f"{solver.__name__}(); {allowed}"
        )
    raise ValueError(f"{where}: solver = {solver!r}; {allowed} (or their names {list(SOLVERS)})")
