"""Beyond one device: batch- and neuron-parallel simulation, and long runs in chunks of bounded
memory.

Several devices (:func:`shard_batch`)
    ``DynapSim.evolve`` on an input whose batch axis is sharded across devices (a
    ``jax.Array`` with a :class:`jax.sharding.NamedSharding` that splits axis 0) runs each
    device's batch elements on that device (``jax.shard_map``; the module's parameters are
    replicated) and returns outputs and new state sharded the same way. The batch elements
    of a network are independent, so the spikes are those of one device, bit for bit.
    Inside ``jax.jit`` (training), shard the batch with :func:`shard_batch` outside and the
    compiler partitions the program from the input's sharding (GSPMD); gradients are then
    reduced across devices by the compiler.

    One CPU: XLA's CPU backend runs each element-wise loop of a step on one core, so a
    batch on one CPU device leaves the other cores mostly idle. Expose one host device per
    core before the first JAX call (``jax.config.update("jax_num_cpu_devices", cores)``, or
    ``XLA_FLAGS=--xla_force_host_platform_device_count=cores``) and :func:`shard_batch` the
    input: each core then runs its share of the batch (one chip, batch 32, 2 cores: 0.33
    instead of 0.54 s per simulated second; ``benchmarks/simulate.py``).

    Several hosts: start every process with ``jax.distributed.initialize(coordinator_address,
    num_processes, process_id)`` before any other JAX call; ``jax.devices()`` then lists the
    devices of all hosts, a ``Mesh`` over them spans the hosts, and each process builds its
    share of a global batch with ``jax.make_array_from_process_local_data(sharding,
    local_batch)`` (or :func:`shard_batch` on the full batch, which every process then
    holds). Everything else is unchanged (not tested here: one host only). The same holds
    for :func:`shard_neurons`, whose per-step all-gather then crosses hosts.

Several devices along the neuron axis (:func:`shard_neurons`)
    ``DynapSim.evolve`` on an input whose neuron axis is sharded (the last axis of a signed
    ``(..., T, n)`` input, the one before last of a typed ``(..., T, n, 4)`` one) simulates
    one contiguous block of ``n / devices`` neurons per device (e.g. one chip each): the
    block's input, state, per-neuron currents and mismatch factors, and the recurrent
    weights onto its neurons (the postsynaptic columns ``w_rec[:, block]`` of dense weights,
    the block's rows of :class:`~dynapse2.nn.connectivity.SparseWeights`, whose presynaptic
    indices stay global). A recurrent step needs the spikes of every neuron of the previous
    step, so each step all-gathers them (``jax.lax.all_gather`` inside ``jax.shard_map``);
    each device then adds the rows of the spiking neurons, restricted to its own columns,
    in the order one device adds them (same path, same event budget), so the spikes, state
    and records are those of one device, bit for bit. They come back sharded the same way.
    The batch axis may be split too, on another mesh axis (``neuron_mesh(batch=2)``: a
    ``(batch, neuron)`` mesh).

    Cost and when it pays: the per-step all-gather moves ``B x n`` spikes (float32) to every
    device and costs one collective's latency per time step (larger across hosts than
    between the devices of one host; not measured here), and each device still selects the
    spiking neurons among all ``n`` (the rest of a step's work is divided). Batch
    sharding needs no communication at all, so prefer it whenever the network fits on one
    device; shard the neurons when it does not (the dense recurrent weights, ``n^2 x k x 4``
    bytes, are divided by the number of devices, as are the state and the per-step work) or
    when the batch is too small to split, and when each step's work per device is large
    against the latency of a collective (many neurons, large batches).

    Inside ``jax.jit`` (training) the input is a tracer: nothing is dispatched on its
    sharding, and the compiler partitions the program from the sharding of the arguments
    (GSPMD), as for the batch. The results (spikes, gradients) equal one device's up to
    float32 summation order; how the compiler places the work (it may gather the neuron
    axis) is its choice. The per-step all-gather of spikes above is the path outside
    ``jit``, which ``jax.grad`` also differentiates (a concrete sharded input): the weight
    gradient of each block is formed from the gathered spikes of every device.

Long runs (:func:`evolve_chunked`)
    The state carries exactly from one call to the next, so a long input simulated in
    chunks of ``chunk`` steps gives the spikes of one run while device memory stays that of
    one chunk (the input may be an iterator that makes its chunks on the fly).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, cast

import jax
import numpy as np
from jax.core import Tracer
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from dynapse2 import checks
from dynapse2.nn.inputs import input_layout

BATCH_AXIS = "batch"
"""Default name of the mesh axis the batch is split along."""

NEURON_AXIS = "neuron"
"""Default name of the mesh axis the neurons are split along."""


def batch_mesh(devices: Any = None, axis: str = BATCH_AXIS) -> Mesh:
    """A one-axis mesh over ``devices`` (default: every device, of every host)."""
    devices = _devices("batch_mesh", devices)
    _axis_name("batch_mesh", "axis", axis)
    return Mesh(np.asarray(devices), (axis,))


def _devices(where: str, devices: Any) -> list:
    """``devices`` (``None``: every device) as a non-empty list of distinct ``jax.Device``."""
    if devices is None:
        return jax.devices()
    if isinstance(devices, jax.Device):
        raise TypeError(
            f"{where}: devices = {devices!r} must be a sequence of jax devices (e.g. "
            f"jax.devices()), not one device: pass [{devices!r}]"
        )
    if isinstance(devices, str | bytes) or not isinstance(devices, Iterable):
        raise TypeError(
            f"{where}: devices = {devices!r} must be a sequence of jax devices (e.g. "
            f"jax.devices()), got {type(devices).__name__}"
        )
    out = list(devices)
    for i, d in enumerate(out):
        if not isinstance(d, jax.Device):
            raise TypeError(
                f"{where}: devices[{i}] = {d!r} must be a jax device (from jax.devices()), "
                f"got {type(d).__name__}"
            )
    if not out:
        raise ValueError(f"{where}: devices is empty; give at least one device")
    if len(set(out)) != len(out):
        raise ValueError(f"{where}: devices lists a device more than once: {out}")
    return out


def _axis_name(where: str, name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(
            f"{where}: {name} = {value!r} must be a mesh axis name (str), "
            f"got {type(value).__name__}"
        )


def shard_batch(x: Any, mesh: Mesh | None = None, axis: str | None = None) -> jax.Array:
    """Place ``x`` with its leading (batch) axis split across the devices of ``mesh``.

    Args:
        x: array ``(batch, ...)``; ``batch`` must be a multiple of the mesh axis size.
        mesh: default :func:`batch_mesh` over every device.
        axis: mesh axis name (default: the mesh's first axis).

    Returns:
        ``x`` as a ``jax.Array`` with ``NamedSharding(mesh, PartitionSpec(axis))``.
    """
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(
            f"shard_batch: mesh = {mesh!r} must be a jax.sharding.Mesh (e.g. batch_mesh()) or "
            f"None, got {type(mesh).__name__}"
        )
    if axis is not None:
        _axis_name("shard_batch", "axis", axis)
    kind = getattr(getattr(x, "dtype", None), "kind", None)
    if kind is None and not isinstance(x, str | bytes):
        try:
            kind = np.asarray(x).dtype.kind
        except (TypeError, ValueError):  # ragged
            kind = None
    if kind not in ("b", "i", "u", "f", "c"):
        raise TypeError(
            f"shard_batch: x must be an array (batch, ...) of numbers, got {type(x).__name__}"
        )
    if not np.ndim(x):
        raise ValueError("shard_batch: x is a scalar; it needs a leading batch axis (batch, ...)")
    mesh = batch_mesh() if mesh is None else mesh
    axis = mesh.axis_names[0] if axis is None else axis
    if axis not in mesh.axis_names:
        raise ValueError(
            f"shard_batch: axis = {axis!r} is not an axis of the mesh {tuple(mesh.axis_names)}"
        )
    size = mesh.shape[axis]
    # Any again: the str/bytes test above narrowed x, and numpy's stub types a str's shape ()
    batch = np.shape(cast(Any, x))[0]
    if batch % size:
        raise ValueError(
            f"shard_batch: batch {batch} is not a multiple of the {size} devices of "
            f"mesh axis {axis!r}"
        )
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(axis)))


def neuron_mesh(
    devices: Any = None, axis: str = NEURON_AXIS, *, batch: int = 1, batch_axis: str = BATCH_AXIS
) -> Mesh:
    """A mesh over ``devices`` (default: every device, of every host) whose axis ``axis``
    splits the neurons; with ``batch > 1``, a ``(batch_axis, axis)`` mesh of shape
    ``(batch, devices / batch)`` that also splits the batch ``batch`` ways."""
    checks.integer("neuron_mesh", "batch", batch, lo=1)
    devices = _devices("neuron_mesh", devices)
    _axis_name("neuron_mesh", "axis", axis)
    _axis_name("neuron_mesh", "batch_axis", batch_axis)
    if batch == 1:
        return Mesh(np.asarray(devices), (axis,))
    if len(devices) % batch:
        raise ValueError(
            f"neuron_mesh: batch = {batch!r} must be a positive integer dividing the "
            f"{len(devices)} devices"
        )
    return Mesh(np.asarray(devices).reshape(batch, -1), (batch_axis, axis))


def shard_neurons(
    x: Any, n: int, mesh: Mesh | None = None, axis: str | None = None, *, batch_axis: Any = None
) -> jax.Array:
    """Place the input ``x`` of a ``DynapSim`` of ``n`` neurons with its neuron axis split
    across the devices of mesh axis ``axis`` (contiguous blocks of ``n / devices`` neurons).

    Args:
        x: ``(batch, T, n)``, ``(T, n)``, ``(batch, T, n, 4)`` or ``(T, n, 4)`` (as
            :meth:`DynapSim.evolve <dynapse2.nn.DynapSim.evolve>`); ``n`` must be a multiple
            of the size of mesh axis ``axis``.
        n: the module's number of neurons (tells the layouts apart).
        mesh: default :func:`neuron_mesh` over every device.
        axis: mesh axis of the neurons (default: ``"neuron"`` if the mesh has it, else its
            last axis).
        batch_axis: mesh axis to split the batch along too (batched ``x`` only; the batch
            must be a multiple of its size). Default: ``"batch"`` when the mesh has that
            axis and ``x`` is batched, else the batch is not split.

    Returns:
        ``x`` as a ``jax.Array`` with a ``NamedSharding`` such as ``PartitionSpec("batch",
        None, "neuron")``; ``DynapSim.evolve`` on it runs one block of neurons per device.

    Raises:
        ValueError: ``n`` (or the batch) is not a multiple of the mesh axis size, a mesh axis
            is unknown, or ``x`` has none of the shapes above.
    """
    checks.integer("shard_neurons", "n", n, lo=1)
    typed, batched = input_layout(x, n)
    mesh = neuron_mesh() if mesh is None else mesh
    names = tuple(mesh.axis_names)
    if axis is None:
        axis = NEURON_AXIS if NEURON_AXIS in names else names[-1]
    if batch_axis is None and batched and BATCH_AXIS in names and axis != BATCH_AXIS:
        batch_axis = BATCH_AXIS
    for name, a in (("axis", axis), ("batch_axis", batch_axis)):
        if a is not None and a not in names:
            raise ValueError(f"shard_neurons: {name} = {a!r} is not an axis of the mesh {names}")
    if batch_axis is not None and (batch_axis == axis or not batched):
        raise ValueError(
            f"shard_neurons: batch_axis = {batch_axis!r} needs a batched input and a mesh "
            f"axis other than the neuron axis {axis!r}"
        )
    size = mesh.shape[axis]
    if n % size:
        near = " or ".join(str(v) for v in (n - n % size, n - n % size + size) if v > 0)
        raise ValueError(
            f"shard_neurons: n = {n} neurons is not a multiple of the {size} devices of mesh "
            f"axis {axis!r}; n must be a multiple of {size} (nearest: {near}), or the mesh "
            f"axis size a divisor of {n}"
        )
    if batch_axis is not None and np.shape(x)[0] % mesh.shape[batch_axis]:
        raise ValueError(
            f"shard_neurons: batch {np.shape(x)[0]} is not a multiple of the "
            f"{mesh.shape[batch_axis]} devices of mesh axis {batch_axis!r}"
        )
    spec: list[str | None] = [None] * np.ndim(x)
    spec[np.ndim(x) - (2 if typed else 1)] = axis
    if batch_axis is not None:
        spec[0] = batch_axis
    return jax.device_put(x, NamedSharding(mesh, PartitionSpec(*spec)))


def split_axes(
    x: Any, neuron_dim: int, batched: bool
) -> tuple[Mesh, str | None, str | None] | None:
    """``(mesh, batch axis, neuron axis)`` of a concrete ``jax.Array`` ``x`` with a
    ``NamedSharding`` that splits its axis 0 (``batched`` only) and/or its axis
    ``neuron_dim`` across more than one device, each along one mesh axis (a mesh axis of size
    1 counts as not split, and reads ``None``); ``None`` when neither is split, or when any
    other axis is."""
    s = getattr(x, "sharding", None)
    if isinstance(x, Tracer) or not isinstance(s, NamedSharding) or not isinstance(s.mesh, Mesh):
        return None  # traced, unsharded, or placed on an abstract mesh (only under a trace)
    spec = tuple(s.spec) + (None,) * (np.ndim(x) - len(s.spec))
    found: dict[int, str | None] = {}
    for dim, a in enumerate(spec):
        if a is None:
            continue
        if not isinstance(a, str) or dim not in ((0,) if batched else ()) + (neuron_dim,):
            return None
        found[dim] = a if s.mesh.shape[a] > 1 else None
    batch_axis = found.get(0) if batched and neuron_dim != 0 else None
    neuron_axis = found.get(neuron_dim)
    if batch_axis is None and neuron_axis is None:
        return None
    return s.mesh, batch_axis, neuron_axis


def neuron_sharding(x: Any, n: int) -> tuple[Mesh, str, str | None] | None:
    """``(mesh, neuron axis, batch axis or None)`` when ``x``, an input of a ``DynapSim`` of
    ``n`` neurons, is a concrete ``jax.Array`` whose neuron axis is split over more than one
    device by a ``NamedSharding`` (as :func:`shard_neurons` makes it); else ``None``."""
    checks.integer("neuron_sharding", "n", n, lo=1)
    typed, batched = input_layout(x, n)
    split = split_axes(x, np.ndim(x) - (2 if typed else 1), batched)
    if split is None or split[2] is None:
        return None
    return split[0], split[2], split[1]


def _chunks(x: Any, chunk: int | None, module: Any) -> Iterator[tuple[Any, int]]:
    if isinstance(x, np.ndarray | jax.Array):
        ax = module.time_axis(x)
        steps = x.shape[ax]
        chunk = steps if chunk is None else chunk
        for t in range(0, steps, chunk):
            idx = [slice(None)] * np.ndim(x)
            idx[ax] = slice(t, t + chunk)
            yield x[tuple(idx)], ax
    else:
        if chunk is not None:
            raise ValueError("evolve_chunked: chunk applies to an array input, not to an iterable")
        for c in x:
            yield c, module.time_axis(c)


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
    if chunk is not None:
        checks.integer("evolve_chunked", "chunk", chunk, lo=1)
    checks.boolean("evolve_chunked", "record", record)
    checks.boolean("evolve_chunked", "keep", keep)
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
