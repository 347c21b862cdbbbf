"""Recurrence strategies: how a run turns the previous step's spikes into recurrent input.

Each strategy is a small, hashable object with one contract:

- ``table(p, shards)``: what it needs built on the host before the run (a fan-out table, from
  the weights or the CAM structure of :class:`~dynapse2.nn.params.SimParams` ``p``; one per
  block of neurons with ``shards`` blocks), or ``None``;
- ``build(p, table, neurons)``: inside the trace, the :class:`~dynapse2.nn.products.Recurrence`
  of ``p`` (the product, its split by synapse type and its weight gradient).

``neurons = (mesh axis, shards)``: ``p`` is one device's block of ``p.n`` postsynaptic neurons
of a network of ``p.n * shards`` neurons split along that mesh axis (inside ``jax.shard_map``;
``w_rec`` holds the block's columns, or its rows of CAM entries). The product first
all-gathers the presynaptic spikes of every device, then computes the block's columns
exactly as the one-device product computes them (same path, same event budget, same order of
the sums), so the spikes are those of one device, bit for bit.

Which strategy runs is decided by the run plan (:mod:`dynapse2.nn.plan`) from the network's
declared structure and the call; every strategy gives the spikes of the dense product (each
adds the same terms per column in the same order), and they differ in cost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.core import Tracer

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.inputs import concrete
from dynapse2.nn.params import SimParams
from dynapse2.nn.products import (
    CamTable,
    Recurrence,
    cam_fanout,
    cam_fanout_product,
    cam_fanout_values,
    cam_product,
    cam_weight_grad,
    cam_width,
    event_budget,
    event_product,
    fanout_product,
    fanout_table,
    type_major,
)

FANOUT_MAX_FRACTION = 0.25
"""A fan-out table (:class:`FanoutTable`, :class:`CamFanout`) is built when no row of the
recurrent matrix has more nonzero entries than this fraction of its length."""

CAM_FANOUT_MAX_WIDTH = 1024
"""Chip-shaped weights drive events through their fan-out (:class:`CamFanout`) when no
presynaptic neuron reaches more than this many (type, postsynaptic) pairs (the table is
``n x width`` int32)."""

Neurons = tuple[str, int] | None


class _Common:
    """Shapes and the per-block all-gather shared by the strategies."""

    def __init__(self, p: SimParams, neurons: Neurons):
        self.n, self.k = p.n, len(p.rec_types)  # n: postsynaptic neurons (this block)
        if neurons is None:
            self.n_pre, self.gather = self.n, lambda s: s
        else:
            axis, shards = neurons
            self.n_pre = self.n * shards
            self.gather = lambda s: jax.lax.all_gather(s, axis, axis=s.ndim - 1, tiled=True)

    def split(self, r: jax.Array) -> jax.Array:  # type-major (B, k n) -> (k, B, n)
        return jnp.moveaxis(r.reshape(r.shape[0], self.k, self.n), 1, 0)


@dataclass(frozen=True)
class RecurrenceStrategy:
    """Base of the recurrence strategies (see the module docstring)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def table(self, p: SimParams, shards: int = 1) -> Any:
        """Host-side preparation before the run (none by default)."""
        return None

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        """The :class:`~dynapse2.nn.products.Recurrence` of ``p`` (inside the trace)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name


class _DenseProduct(RecurrenceStrategy):
    """The type-major dense matrix ``(n_pre, k n)`` of ``p`` (sparse weights densified)."""

    def _matrix(self, p: SimParams, c: _Common) -> jax.Array:
        w = p.w_rec
        if isinstance(w, SparseWeights):
            w = w.to_dense(c.n_pre)
        return type_major(w, p.rec_types)

    def _recurrence(self, p: SimParams, neurons: Neurons, product: Callable) -> Recurrence:
        c = _Common(p, neurons)
        w = self._matrix(p, c)
        return Recurrence(
            w,
            lambda s, w: product(c.gather(s), w),
            c.split,
            _dense_weight_grad(c),
            _transposed(neurons),
        )


def _dense_weight_grad(c: _Common) -> Callable:
    def weight_grad(s: jax.Array, g: jax.Array, w: jax.Array) -> jax.Array:
        # one (n, M B) x (M B, k n) product over every step and batch element
        return c.gather(s).reshape(-1, c.n_pre).T @ g.reshape(-1, g.shape[-1])

    return weight_grad


def _transposed(neurons: Neurons) -> Callable:
    """The reverse pass's ``g @ M^T`` with ``M^T`` materialised (one device; a block's product
    starts with the all-gather, and JAX's own transpose of it is kept)."""
    return (lambda w: w.T) if neurons is None else (lambda w: None)


@dataclass(frozen=True)
class Matmul(_DenseProduct):
    """The dense product ``s @ W`` each step (small networks: cheapest under 256 neurons)."""

    name: ClassVar[str] = "matmul"
    summary: ClassVar[str] = "dense product s @ W every step"

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        return self._recurrence(p, neurons, lambda s, w: s @ w)


@dataclass(frozen=True)
class Rows(_DenseProduct):
    """Event-driven rows (:func:`~dynapse2.nn.products.event_product`): each spike adds its
    row of the dense matrix; more spikes than the event budget take the dense product."""

    name: ClassVar[str] = "rows"
    summary: ClassVar[str] = "event-driven: each spike adds its row of the dense matrix"

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        b = event_budget(p.n if neurons is None else p.n * neurons[1])
        return self._recurrence(p, neurons, lambda s, w: event_product(s, w, b))


@dataclass(frozen=True)
class FanoutTable(_DenseProduct):
    """Event-driven through a fan-out table of the dense matrix
    (:func:`~dynapse2.nn.products.fanout_product`): each spike scatters only its row's
    nonzero entries. The table is built on the host from the weights, which must be known
    (constants of the call); where they are traced, or a row is more than
    :data:`FANOUT_MAX_FRACTION` nonzero, it runs as :class:`Rows` (the same sums)."""

    name: ClassVar[str] = "fanout"
    summary: ClassVar[str] = "event-driven: each spike scatters its row's nonzero entries"

    def table(self, p: SimParams, shards: int = 1) -> np.ndarray | None:
        """``(n, width)`` int32 (``(shards, n, width)`` with blocks, each of its block's own
        type-major columns ``type * n / shards + post in block``, as wide as the widest row
        within a block), or ``None``. Cached per weight array."""
        w = p.w_rec
        refs = (w.pre, w.syn_type, w.weight) if isinstance(w, SparseWeights) else (w,)
        return _cached(
            (self.name, *map(id, refs), p.rec_types, shards), refs, _dense_table, p, shards
        )

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        if table is None:
            return Rows().build(p, None, neurons)
        c = _Common(p, neurons)
        w = self._matrix(p, c)
        b = event_budget(c.n_pre)
        cols = jnp.asarray(table)
        vals = jnp.take_along_axis(w, cols, axis=1)
        grad = _dense_weight_grad(c)
        transposed = _transposed(neurons)
        return Recurrence(
            (w, cols, vals),
            lambda s, wf: fanout_product(c.gather(s), *wf, b),
            c.split,
            # the table is a function of w: all of the gradient goes to w
            lambda s, g, wf: (grad(s, g, wf[0]), None, None),
            lambda wf: transposed(wf[0]),
        )


def _dense_table(p: SimParams, shards: int) -> np.ndarray | None:
    w, n, k = p.w_rec, p.n, len(p.rec_types)
    if isinstance(w, SparseWeights):
        if any(isinstance(a, Tracer) for a in jax.tree.leaves(w)):
            return None
        a = concrete(w.to_dense())
    else:
        a = concrete(w)
    if a is None:
        return None
    a = a[:, :, list(p.rec_types)]
    if np.count_nonzero(a.reshape(n, -1), axis=1).max() > FANOUT_MAX_FRACTION * n * k:
        return None
    # (pre, type, block, post in block) -> per block (pre, type * post in block)
    blocks = np.transpose(a, (0, 2, 1)).reshape(n, k, shards, n // shards)
    blocks = [blocks[:, :, j].reshape(n, -1) for j in range(shards)]
    width = max(max(int(np.count_nonzero(b, axis=1).max()) for b in blocks), 1)
    cols = np.stack([fanout_table(b, width) for b in blocks])
    return cols[0] if shards == 1 else cols


@dataclass(frozen=True)
class CamGather(RecurrenceStrategy):
    """Chip-shaped weights as they are: for each neuron, the sum over its CAM entries of
    weight x presynaptic spike (:func:`~dynapse2.nn.products.cam_product`; cost ``n x 64``
    per step and batch element, memory O(n x 64))."""

    name: ClassVar[str] = "cam_gather"
    summary: ClassVar[str] = "each neuron gathers the spikes of its CAM entries (n x 64)"

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        c = _Common(p, neurons)
        # (per-type weights, presynaptic indices): passed, not closed over, so that the
        # custom gradient of the scan sees every traced value as an argument
        wp = (p.w_rec.by_type(p.rec_types), p.w_rec.pre)

        def product(s: jax.Array, wp: tuple) -> jax.Array:
            return cam_product(c.gather(s), *wp)

        def weight_grad(s: jax.Array, g: jax.Array, wp: tuple) -> tuple:
            return cam_weight_grad(c.gather(s), g, wp), None

        return Recurrence(wp, product, lambda r: r, weight_grad)


@dataclass(frozen=True)
class CamFanout(RecurrenceStrategy):
    """Chip-shaped weights driven by events through their CAM fan-out
    (:func:`~dynapse2.nn.products.cam_fanout_product`): each spike scatters its entries. The
    table is built on the host from the CAM structure (``pre``, ``syn_type``); with constant
    weights it lists only the nonzero entries, with traced ones every entry. Where the
    structure is traced, or a presynaptic neuron reaches more than
    :data:`CAM_FANOUT_MAX_WIDTH` pairs, it runs as ``fallback``."""

    fallback: RecurrenceStrategy = CamGather()
    name: ClassVar[str] = "cam_fanout"
    summary: ClassVar[str] = "event-driven: each spike scatters its CAM entries (host table)"

    def __str__(self) -> str:
        return f"{self.name} (without a table: {self.fallback})"

    def table(self, p: SimParams, shards: int = 1) -> Any:
        """A :class:`~dynapse2.nn.products.CamTable` (with ``shards`` blocks, one per block
        of postsynaptic rows, stacked), or ``None``; then the fallback's table."""
        w = p.w_rec
        refs = (w.pre, w.syn_type, w.weight)
        refs = refs if concrete(w.weight) is not None else refs[:2]
        key = (self.name, *map(id, refs), p.rec_types, shards)
        fan = _cached(key, refs, _cam_table, p, shards)
        return fan if fan is not None else self.fallback.table(p, shards)

    def build(self, p: SimParams, table: Any, neurons: Neurons = None) -> Recurrence:
        if not isinstance(table, CamTable):
            return self.fallback.build(p, table, neurons)
        c = _Common(p, neurons)
        w = p.w_rec
        b = event_budget(c.n_pre)
        cols = jnp.asarray(table.cols)
        wf = (w.by_type(p.rec_types), w.pre, cols, cam_fanout_values(table, w.weight))
        k, n = c.k, c.n

        def weight_grad(s: jax.Array, g: jax.Array, wf: tuple) -> tuple:
            # g (T, B, k n) -> (T, k, B, n), then as the gathered product's (the table's
            # values are a function of the entry weights: all of the gradient goes there)
            g = jnp.moveaxis(g.reshape(*g.shape[:2], k, n), 2, 1)
            return cam_weight_grad(c.gather(s), g, wf[:2]), None, None, None

        return Recurrence(
            wf, lambda s, wf: cam_fanout_product(c.gather(s), *wf, b), c.split, weight_grad
        )


def _cam_table(p: SimParams, shards: int) -> CamTable | None:
    w, n, k = p.w_rec, p.n, len(p.rec_types)
    cap = cam_cap(n, k)
    cols = cam_fanout(w, p.rec_types, n, cap)
    if cols is None or shards == 1:
        return cols
    rows = n // shards  # one table per block of postsynaptic rows

    def block(j: int, width: int = 0) -> CamTable:
        part = jax.tree.map(lambda a: a[j * rows : (j + 1) * rows], w)
        table = cam_fanout(part, p.rec_types, n, cap, width)
        assert table is not None  # a block's neurons reach no more pairs than the whole's
        return table

    width = max(block(j).cols.shape[1] for j in range(shards))
    blocks = [block(j, width) for j in range(shards)]
    return CamTable(*(np.stack(a) for a in zip(*blocks, strict=True)))


def cam_cap(n: int, k: int) -> int:
    """The widest fan-out (type, postsynaptic pairs of one presynaptic neuron) for which
    :class:`CamFanout` builds a table, with ``n`` neurons and ``k`` active types."""
    return min(CAM_FANOUT_MAX_WIDTH, int(FANOUT_MAX_FRACTION * n * k))  # widths are whole


def widest_fanout(w: SparseWeights, types: tuple[int, ...]) -> int | None:
    """:func:`~dynapse2.nn.products.cam_width` of ``w`` as it is at the call (cached per its
    arrays); ``None`` while its structure is traced."""
    refs = (w.pre, w.syn_type, w.weight)
    refs = refs if concrete(w.weight) is not None else refs[:2]
    return _cached(("width", *map(id, refs), types), refs, cam_width, w, types, w.n_post)


_TABLE_CACHE: dict[tuple, tuple[tuple, Any]] = {}


def _cached(key: tuple, refs: tuple, make: Callable, *args: Any) -> Any:
    """``make(*args)``, remembered per the arrays ``refs`` (immutable: a hit holds the same
    objects); the last 8 tables are kept."""
    hit = _TABLE_CACHE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], refs, strict=True)):
        return hit[1]
    value = make(*args)
    if len(_TABLE_CACHE) >= 8:
        _TABLE_CACHE.pop(next(iter(_TABLE_CACHE)))
    _TABLE_CACHE[key] = (refs, value)
    return value


STRATEGIES: dict[str, type[RecurrenceStrategy]] = {
    s.name: s for s in (Matmul, Rows, FanoutTable, CamGather, CamFanout)
}
"""Recurrence strategies by name (``PlanOptions(recurrence=name)``)."""

SPARSE_ONLY = ("cam_gather", "cam_fanout")
"""Strategies that need chip-shaped :class:`~dynapse2.nn.connectivity.SparseWeights`."""
