"""Chain modules one after another."""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from dynapse2.nn.dynapsim import DynapSim
from dynapse2.nn.linear import Linear
from dynapse2.nn.module import Module
from dynapse2.nn.plan import SequentialPlan


class Sequential(Module):
    """Feed each module's output to the next.

    Sub-modules are named ``"{index}_{ClassName}"`` (``"0_Linear"``, ``"1_DynapSim"``);
    parameters, state and records nest under those names. Shapes are checked at construction.
    """

    modules: tuple[Module, ...]

    def __init__(self, *modules: Module):
        if not modules:
            raise ValueError("Sequential needs at least one module")
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: modules[{i}] = {m!r} must be a dynapse2 Module (Linear, "
                    f"DynapSim, ...), got {type(m).__name__}"
                )
        for a, b in zip(modules[:-1], modules[1:], strict=True):
            if a.shape[1] != b.shape[0]:
                raise ValueError(
                    f"Sequential: {type(a).__name__} has shape {a.shape} (output {a.shape[1]}) "
                    f"but the next module {type(b).__name__} has shape {b.shape} "
                    f"(input {b.shape[0]})"
                )
        self.modules = tuple(modules)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the sub-modules, in order."""
        return tuple(f"{i}_{type(m).__name__}" for i, m in enumerate(self.modules))

    def __getitem__(self, key: int | str) -> Module:
        if isinstance(key, str):
            return self.modules[self.names.index(key)]
        return self.modules[key]

    def __len__(self) -> int:
        return len(self.modules)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.modules[0].shape[0], self.modules[-1].shape[1])

    def _nested(self, method: str) -> dict[str, Any]:
        return {n: getattr(m, method)() for n, m in zip(self.names, self.modules, strict=True)}

    def parameters(self) -> dict[str, Any]:
        return self._nested("parameters")

    def state(self) -> dict[str, Any]:
        return self._nested("state")

    def simulation_parameters(self) -> dict[str, Any]:
        return self._nested("simulation_parameters")

    def initial_state(self) -> dict[str, Any]:
        return self._nested("initial_state")

    def set_attributes(self, new: dict[str, Any]) -> Sequential:
        unknown = sorted(set(new) - set(self.names))
        if unknown:
            raise KeyError(
                f"Sequential.set_attributes: unknown module name(s) {unknown}; "
                f"modules are {list(self.names)}"
            )
        mods = tuple(
            m.set_attributes(new[n]) if n in new else m
            for n, m in zip(self.names, self.modules, strict=True)
        )
        return Sequential(*mods)

    def with_backend(self, backend: str) -> Sequential:
        return Sequential(*(m.with_backend(backend) for m in self.modules))

    def evolve(self, x: Any, record: bool = False) -> tuple[Any, dict, dict]:
        states, records = {}, {}
        for name, m in zip(self.names, self.modules, strict=True):
            x, states[name], rec = m(x, record=record)
            if record:
                records[name] = rec
                records[f"{name}_output"] = x
        return x, states, records

    def plan(self, x: Any, record: bool = False) -> SequentialPlan:
        """The plan of each layer for an input of shape ``x`` (a tuple; each layer's input
        shape is the previous one's output): ``print(net.plan(x.shape))``."""
        layers = []
        shape = tuple(np.shape(x)) if not isinstance(x, tuple | list) else tuple(x)
        for name, m in zip(self.names, self.modules, strict=True):
            p = m.plan(shape, record=record)
            layers.append((name, p))
            shape = p.output_shape
        return SequentialPlan(tuple(layers))

    def __repr__(self) -> str:
        inner = "\n".join(f"  {n}: {m!r}" for n, m in zip(self.names, self.modules, strict=True))
        return f"Sequential(shape={self.shape},\n{inner}\n)"


def population_slots(
    net: Module, where: str, last_linear: str = "a DynapSim must come last"
) -> tuple[tuple[int | None, int], ...]:
    """Each ``DynapSim`` of ``net`` with the ``Linear`` that feeds it: ``(index of the Linear
    in net.modules or None, index of the DynapSim)``, in order. ``net``: a ``Sequential`` of
    ``[Linear,] DynapSim`` pairs, or one module (index 0).

    Raises:
        ValueError: naming ``where`` and the module, when ``net`` is not such a chain (a
            module of another kind, two ``Linear`` in a row), or when it ends with a ``Linear``
            (``last_linear`` says why that is refused). A network that passes has a
            ``DynapSim``.
    """
    mods = net.modules if isinstance(net, Sequential) else (net,)
    slots: list[tuple[int | None, int]] = []
    pending: int | None = None
    for i, m in enumerate(mods):
        if isinstance(m, Linear):
            if pending is not None:
                raise ValueError(f"{where}: module {i}: two Linear layers in a row are not allowed")
            pending = i
        elif isinstance(m, DynapSim):
            slots.append((pending, i))
            pending = None
        else:
            raise ValueError(
                f"{where}: module {i} is a {type(m).__name__}; supported networks are chains of "
                "[Linear,] DynapSim pairs"
            )
    if pending is not None:
        raise ValueError(f"{where}: the network ends with a Linear layer: {last_linear}")
    return tuple(slots)


def population_pairs(
    net: Module, where: str, last_linear: str = "a DynapSim must come last"
) -> list[tuple[Linear | None, DynapSim]]:
    """The modules of :func:`population_slots`: each ``DynapSim`` of ``net`` with the
    ``Linear`` that feeds it (``None``: none), in order; raises as it does."""
    mods = net.modules if isinstance(net, Sequential) else (net,)
    return [
        (None if li is None else cast(Linear, mods[li]), cast(DynapSim, mods[di]))
        for li, di in population_slots(net, where, last_linear)
    ]
