"""The module system: immutable JAX pytrees with Rockpool's interface.

A module is an :class:`equinox.Module`, so ``jax.jit``, ``jax.grad`` and ``jax.vmap`` apply to
it directly. Each dataclass field has a role, set with :func:`parameter`, :func:`state` or
:func:`simulation`:

- parameters: trainable arrays (``module.parameters()``);
- state: arrays carried from one call to the next (``module.state()``);
- simulation parameters: fixed values such as ``dt`` and physical constants
  (``module.simulation_parameters()``).

Calling a module, ``module(x, record=False)``, returns ``(output, new_state, record_dict)``;
the new state is returned, never stored. ``module.set_attributes(d)`` returns a copy with the
given parameters or state replaced.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

import equinox as eqx
import numpy as np

from dynapse2 import checks
from dynapse2.nn.plan import LayerPlan

_M = TypeVar("_M", bound="Module")  # methods that return a copy return the same class


def parameter(**kwargs: Any) -> Any:
    """Declare a trainable field."""
    return eqx.field(metadata={"role": "parameter"}, **kwargs)


def state(**kwargs: Any) -> Any:
    """Declare a state field (carried across calls)."""
    return eqx.field(metadata={"role": "state"}, **kwargs)


def simulation(static: bool = True, **kwargs: Any) -> Any:
    """Declare a fixed simulation parameter (static, i.e. part of the compiled program, by
    default)."""
    return eqx.field(metadata={"role": "simulation"}, static=static, **kwargs)


class Module(eqx.Module):
    """Base class of all dynapse2 modules.

    Subclasses implement :meth:`evolve` and :attr:`shape`, and declare fields with a role.
    """

    # -- interface implemented by subclasses ------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        """``(n_in, n_out)``."""
        raise NotImplementedError

    def evolve(self, x: Any, record: bool = False) -> tuple[Any, dict, dict]:
        """Simulate the module on input ``x``; returns ``(output, new_state, record_dict)``."""
        raise NotImplementedError

    def initial_state(self) -> dict[str, Any]:
        """The state a freshly built module starts from."""
        return {}

    def time_axis(self, x: Any) -> int:
        """The time axis of input ``x``: 1 for batched ``(batch, T, ...)`` input, else 0."""
        return 1 if np.ndim(x) >= 3 else 0

    def plan(self, x: Any, record: bool = False) -> Any:
        """What runs a call on an input of shape ``x`` (see :mod:`dynapse2.nn.plan`); a module
        without strategies to choose says so."""
        shape = tuple(np.shape(x)) if not isinstance(x, tuple | list) else tuple(x)
        return LayerPlan(type(self).__name__, shape, (*shape[:-1], self.shape[1]))

    # -- generic machinery ------------------------------------------------------------------
    def __call__(self, x: Any, record: bool = False) -> tuple[Any, dict, dict]:
        checks.boolean(type(self).__name__, "record", record)
        return self.evolve(x, record=record)

    def _role(self, role: str) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.metadata.get("role") == role
        }

    def parameters(self) -> dict[str, Any]:
        """Trainable parameters, a (nested, for composites) dict of arrays."""
        return self._role("parameter")

    def state(self) -> dict[str, Any]:
        """Current state, a (nested, for composites) dict of arrays."""
        return self._role("state")

    def simulation_parameters(self) -> dict[str, Any]:
        """Fixed simulation parameters (dt, capacitances, physical constants, ...)."""
        return self._role("simulation")

    def set_attributes(self: _M, new: dict[str, Any]) -> _M:
        """Return a copy with the named parameters or state replaced.

        Raises:
            KeyError: a name that is not a parameter or state of this module.
        """
        settable = {**self.parameters(), **self.state()}
        unknown = sorted(set(new) - set(settable))
        if unknown:
            raise KeyError(
                f"{type(self).__name__}.set_attributes: unknown name(s) {unknown}; "
                f"parameters and state are {sorted(settable)}"
            )
        if not new:
            return self
        names = list(new)
        return eqx.tree_at(
            lambda m: [getattr(m, k) for k in names],
            self,
            [new[k] for k in names],
            is_leaf=lambda v: v is None,
        )

    def reset_state(self: _M) -> _M:
        """Return a copy with the state set back to :meth:`initial_state`."""
        return self.set_attributes(self.initial_state())

    def with_backend(self: _M, backend: str) -> _M:
        """Return a copy that simulates with ``backend`` (modules without one return self)."""
        return self

    # -- deployment (lazy: the module system never imports the hardware package at import) --
    def to_config(self, **kwargs: Any) -> Any:
        """The Dynap-SE2 configuration of this network
        (:func:`dynapse2.hardware.config_from_network`; issue 4 asked for both spellings)."""
        from dynapse2.hardware.network import config_from_network  # noqa: PLC0415

        return config_from_network(self, **kwargs)

    def to_hardware(self, device: Any = None, **kwargs: Any) -> Module:
        """Run this network on a Dynap-SE2 board (:func:`dynapse2.hardware.to_hardware`)."""
        from dynapse2.hardware.device import to_hardware  # noqa: PLC0415

        return to_hardware(self, device, **kwargs)
