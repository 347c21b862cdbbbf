"""The module system: Module, Linear, Sequential, DynapSim; multi-device and chunked runs."""

from dynapse2.nn.dynapsim import CURRENTS, DynapSim, default_currents
from dynapse2.nn.linear import Linear
from dynapse2.nn.module import Module
from dynapse2.nn.parallel import (
    batch_mesh,
    evolve_chunked,
    neuron_mesh,
    neuron_sharding,
    shard_batch,
    shard_neurons,
)
from dynapse2.nn.plan import PlanOptions
from dynapse2.nn.sequential import Sequential

__all__ = [
    "CURRENTS",
    "DynapSim",
    "Linear",
    "Module",
    "PlanOptions",
    "Sequential",
    "batch_mesh",
    "default_currents",
    "evolve_chunked",
    "neuron_mesh",
    "neuron_sharding",
    "shard_batch",
    "shard_neurons",
]
