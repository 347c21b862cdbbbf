"""The module system: Module, Linear, Sequential, DynapSim."""

from dynapse2.nn.dynapsim import CURRENTS, DynapSim, default_currents
from dynapse2.nn.linear import Linear
from dynapse2.nn.module import Module
from dynapse2.nn.sequential import Sequential

__all__ = ["CURRENTS", "DynapSim", "Linear", "Module", "Sequential", "default_currents"]
