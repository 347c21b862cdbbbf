"""Sharding strategies: where a run's batch elements and neurons are computed.

One contract: ``local_batch(batch)`` (batch elements per device), ``shards`` (blocks of
neurons) and ``run(p, x, typed, record, batched, ext, types, scan, recurrence)`` -> the
results of :func:`~dynapse2.nn.simulate.simulate`, placed as the input is:

- :class:`OneDevice`: the whole run on the input's device;
- :class:`BatchSharded`: ``jax.shard_map`` with the batch axis split along a mesh axis,
  everything else replicated (also the recurrence's table, so that each device sums the
  recurrent input as one device does);
- :class:`NeuronSharded`: ``jax.shard_map`` with the neuron axis split (one contiguous block
  of neurons per device, each step all-gathers the spikes), the batch optionally too.

The run plan (:mod:`dynapse2.nn.plan`) picks one from the input's ``NamedSharding``
(:func:`~dynapse2.nn.parallel.shard_batch`, :func:`~dynapse2.nn.parallel.shard_neurons`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.sharding import Mesh, PartitionSpec

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.params import STATE_NDIM, SimParams
from dynapse2.nn.simulate import simulate


@dataclass(frozen=True)
class OneDevice:
    """The whole run on one device."""

    name: ClassVar[str] = "one device"
    shards: ClassVar[int] = 1

    def local_batch(self, batch: int) -> int:
        return batch

    def run(self, p, x, typed, record, batched, ext, types, scan, recurrence):
        table = None if recurrence is None else recurrence.table(p)
        xb = x if batched else x[None]
        return simulate(p, xb, typed, record, batched, ext, types, scan, recurrence, table)

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class BatchSharded:
    """The batch split along mesh axis ``axis`` (see the module docstring)."""

    mesh: Mesh
    axis: str
    name: ClassVar[str] = "batch"
    shards: ClassVar[int] = 1

    def local_batch(self, batch: int) -> int:
        return batch // self.mesh.shape[self.axis]

    def run(self, p, x, typed, record, batched, ext, types, scan, recurrence):
        table = None if recurrence is None else recurrence.table(p)
        args = (typed, record, ext, types, scan, recurrence, self.mesh, self.axis)
        return _batch_sharded(p, x, table, *args)

    def __str__(self) -> str:
        return f"batch split over {self.mesh.shape[self.axis]} devices (mesh axis {self.axis!r})"


@eqx.filter_jit
def _batch_sharded(p: SimParams, x, table, typed, record, ext, types, scan, recurrence, mesh, axis):
    state = p.state
    dyn, static = eqx.partition(dataclasses.replace(p, state=None), eqx.is_array)
    batch_spec = PartitionSpec(axis)
    state_specs = {
        k: batch_spec if jnp.ndim(v) == STATE_NDIM[k] + 1 else PartitionSpec()
        for k, v in state.items()
    }

    def local(dyn: Any, state: dict, x: jax.Array, table: Any):
        q = dataclasses.replace(eqx.combine(dyn, static), state=state)
        return simulate(q, x, typed, record, True, ext, types, scan, recurrence, table)

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(PartitionSpec(), state_specs, batch_spec, PartitionSpec()),
        out_specs=batch_spec,
        check_vma=False,  # the replicated initial state becomes per-device in the scan
    )
    return run(dyn, state, x, table)


@dataclass(frozen=True)
class NeuronSharded:
    """The neurons split along mesh axis ``axis`` (the batch along ``batch_axis`` if given):
    each device simulates a contiguous block of ``n / shards`` neurons (their input, state,
    per-neuron currents and mismatch factors, and the columns of ``w_rec`` of its
    postsynaptic neurons: dense ``w_rec[:, block]``, or the block's rows of
    ``SparseWeights``). Each step all-gathers the previous step's spikes of every device. The
    recurrence's table is one per block, ``(shards, ...)``."""

    mesh: Mesh
    batch_axis: str | None
    axis: str
    name: ClassVar[str] = "neurons"

    @property
    def shards(self) -> int:
        return self.mesh.shape[self.axis]

    def local_batch(self, batch: int) -> int:
        return batch // (self.mesh.shape[self.batch_axis] if self.batch_axis else 1)

    def run(self, p, x, typed, record, batched, ext, types, scan, recurrence):
        table = None if recurrence is None else recurrence.table(p, self.shards)
        args = (typed, record, batched, ext, types, scan, recurrence)
        return _neuron_sharded(p, x, table, *args, self.mesh, self.batch_axis, self.axis)

    def __str__(self) -> str:
        out = f"neurons split over {self.shards} devices (mesh axis {self.axis!r})"
        if self.batch_axis:
            out += f", batch over {self.mesh.shape[self.batch_axis]} ({self.batch_axis!r})"
        return out


@eqx.filter_jit
def _neuron_sharded(
    p, x, table, typed, record, batched, ext, types, scan, recurrence, mesh, batch_axis, axis
):
    shards = mesh.shape[axis]
    n_local = p.n // shards
    b = batch_axis if batched else None
    state = p.state
    dyn, static = eqx.partition(dataclasses.replace(p, state=None), eqx.is_array)

    def per_neuron(a: Any) -> PartitionSpec:  # currents, mismatch factors: (n,) or scalar
        split = jnp.ndim(a) >= 1 and jnp.shape(a)[0] == p.n
        return PartitionSpec(axis) if split else PartitionSpec()

    dyn_specs = jax.tree.map(per_neuron, dyn)
    if p.w_rec is not None:  # dense (pre, post, 4): post split; sparse (post, fan_in): rows
        w_spec = (
            PartitionSpec(axis) if isinstance(p.w_rec, SparseWeights) else PartitionSpec(None, axis)
        )
        dyn_specs = eqx.tree_at(lambda d: d.w_rec, dyn_specs, w_spec)

    def state_spec(k: str, lead: tuple) -> PartitionSpec:
        return PartitionSpec(*lead, axis, *(None,) * (STATE_NDIM[k] - 1))

    state_specs = {
        k: state_spec(k, () if jnp.ndim(v) == STATE_NDIM[k] else (b,)) for k, v in state.items()
    }
    x_spec = PartitionSpec(*((b, None) if batched else (None,)), axis, *((None,) if typed else ()))
    out_spec = PartitionSpec(*((b, None) if batched else (None,)), axis)
    new_state_specs = {k: state_spec(k, (b,) if batched else ()) for k in STATE_NDIM}

    def local(dyn: Any, state: dict, x: jax.Array, table: Any):
        q = dataclasses.replace(eqx.combine(dyn, static), state=state, n=n_local)
        xb = x if batched else x[None]
        table = jax.tree.map(lambda a: a[0], table)  # this block's table (or None)
        args = (typed, record, batched, ext, types, scan, recurrence, table, (axis, shards))
        return simulate(q, xb, *args)

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(dyn_specs, state_specs, x_spec, PartitionSpec(axis)),
        out_specs=(out_spec, new_state_specs, out_spec),
        check_vma=False,  # the initial state becomes per-device in the scan, as above
    )
    return run(dyn, state, x, table)
