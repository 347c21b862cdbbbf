"""Beyond one device: data-parallel simulation, and long runs in chunks of bounded memory.

Several devices (:func:`shard_batch`)
    ``DynapSim.evolve`` on an input whose batch axis is sharded across devices (a
    ``jax.Array`` with a :class:`jax.sharding.NamedSharding` that splits axis 0) runs each
    device's batch elements on that device (``jax.shard_map``; the module's parameters are
    replicated) and returns outputs and new state sharded the same way. The batch elements
    of a network are independent, so the spikes are those of one device, bit for bit.
    Inside ``jax.jit`` (training), shard the batch with :func:`shard_batch` outside and the
    compiler partitions the program from the input's sharding (GSPMD); gradients are then
    reduced across devices by the compiler.

    Several hosts: start every process with ``jax.distributed.initialize(coordinator_address,
    num_processes, process_id)`` before any other JAX call; ``jax.devices()`` then lists the
    devices of all hosts, a ``Mesh`` over them spans the hosts, and each process builds its
    share of a global batch with ``jax.make_array_from_process_local_data(sharding,
    local_batch)`` (or :func:`shard_batch` on the full batch, which every process then
    holds). Everything else is unchanged (not tested here: one host only).

    Sharding the neuron axis (one chip per device) is not implemented: a recurrent step
    needs every device's spikes of the previous step (an all-gather per time step).

Long runs (:func:`evolve_chunked`)
    The state carries exactly from one call to the next, so a long input simulated in
    chunks of ``chunk`` steps gives the spikes of one run while device memory stays that of
    one chunk (the input may be an iterator that makes its chunks on the fly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

BATCH_AXIS = "batch"
"""Default name of the mesh axis the batch is split along."""


def batch_mesh(devices: Any = None, axis: str = BATCH_AXIS) -> Mesh:
    """A one-axis mesh over ``devices`` (default: every device, of every host)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (axis,))


def shard_batch(x: Any, mesh: Mesh | None = None, axis: str | None = None) -> jax.Array:
    """Place ``x`` with its leading (batch) axis split across the devices of ``mesh``.

    Args:
        x: array ``(batch, ...)``; ``batch`` must be a multiple of the mesh axis size.
        mesh: default :func:`batch_mesh` over every device.
        axis: mesh axis name (default: the mesh's first axis).

    Returns:
        ``x`` as a ``jax.Array`` with ``NamedSharding(mesh, PartitionSpec(axis))``.
    """
    mesh = batch_mesh() if mesh is None else mesh
    axis = mesh.axis_names[0] if axis is None else axis
    size = mesh.shape[axis]
    if np.shape(x)[0] % size:
        raise ValueError(
            f"shard_batch: batch {np.shape(x)[0]} is not a multiple of the {size} devices of "
            f"mesh axis {axis!r}"
        )
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(axis)))


def batch_sharding(x: Any) -> tuple[Mesh, str] | None:
    """``(mesh, axis)`` when ``x`` is a concrete ``jax.Array`` whose axis 0 (only) is split
    over more than one device by a ``NamedSharding``; else ``None``."""
    s = getattr(x, "sharding", None)
    if isinstance(x, jax.core.Tracer) or not isinstance(s, NamedSharding):
        return None
    spec = tuple(s.spec) + (None,) * (np.ndim(x) - len(s.spec))
    if not spec or spec[0] is None or any(a is not None for a in spec[1:]):
        return None
    axis = spec[0]
    if not isinstance(axis, str) or s.mesh.shape[axis] == 1:
        return None
    return s.mesh, axis


def time_axis(module: Any, x: Any) -> int:
    """The time axis of input ``x`` of ``module``: 1 for batched input, else 0."""
    from dynapse2.nn.dynapsim import DynapSim, _input_layout

    if isinstance(module, DynapSim):
        return 1 if _input_layout(x, module.n)[1] else 0
    return 1 if np.ndim(x) >= 3 else 0


def _chunks(x: Any, chunk: int | None, module: Any) -> Iterator[tuple[Any, int]]:
    if isinstance(x, np.ndarray | jax.Array):
        ax = time_axis(module, x)
        steps = x.shape[ax]
        chunk = steps if chunk is None else int(chunk)
        if chunk < 1:
            raise ValueError(f"evolve_chunked: chunk = {chunk} must be >= 1")
        for t in range(0, steps, chunk):
            idx = [slice(None)] * np.ndim(x)
            idx[ax] = slice(t, t + chunk)
            yield x[tuple(idx)], ax
    else:
        if chunk is not None:
            raise ValueError("evolve_chunked: chunk applies to an array input, not to an iterable")
        for c in x:
            yield c, time_axis(module, c)


def evolve_chunked(
    module: Any,
    x: Any,
    chunk: int | None = None,
    *,
    record: bool = False,
    keep: bool = True,
    on_chunk: Callable[[Any, dict], None] | None = None,
) -> tuple[Any, dict, dict]:
    """Simulate a long input in chunks of time, carrying the state from chunk to chunk.

    The result equals ``module(x, record)`` (spikes bit for bit: the state carries exactly);
    device memory is that of one chunk. Each chunk length compiles once (a shorter last
    chunk compiles once more).

    Args:
        module: any module (``DynapSim``, ``Sequential``, ...).
        x: the whole input, as ``module`` takes it (time on axis 1 if batched, else 0), cut
            into chunks of ``chunk`` steps; or an iterable of such inputs (e.g. a generator
            that makes each chunk on the fly, so that the whole input never exists).
        chunk: steps per chunk (array input only; default: one chunk).
        record: record the state variables, as ``module.evolve``.
        keep: collect the outputs and records on the host (NumPy, concatenated along time);
            ``False`` keeps nothing (host memory stays flat: use ``on_chunk``).
        on_chunk: called as ``on_chunk(output, record)`` with each chunk's results (device
            arrays), e.g. to count spikes or to write them to disk.

    Returns:
        ``(output, new_state, record)`` as ``module.evolve``, with ``output`` and ``record``
        ``None`` / ``{}`` when ``keep=False``.
    """
    outs: list = []
    recs: list = []
    state, ax = None, 0
    m = module
    for xc, axis in _chunks(x, chunk, module):
        ax = axis
        out, state, rec = m(xc, record=record)
        m = m.set_attributes(state)
        if on_chunk is not None:
            on_chunk(out, rec)
        if keep:
            outs.append(jax.tree.map(np.asarray, out))
            recs.append(jax.tree.map(np.asarray, rec))
    if state is None:
        raise ValueError("evolve_chunked: the input has no time steps")
    if not keep:
        return None, state, {}
    cat = lambda *a: np.concatenate(a, axis=ax)  # noqa: E731
    return jax.tree.map(cat, *outs), state, jax.tree.map(cat, *recs) if record else {}
