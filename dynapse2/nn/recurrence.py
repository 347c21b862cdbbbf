"""The recurrent product of DynapSim: presynaptic spikes -> recurrent input per synapse type.

One network's recurrence is a :class:`Recurrence` (:func:`make_recurrence`): the product,
its split by synapse type and its weight gradient for the custom reverse mode of the scan
(:mod:`dynapse2.nn.backends`). The product is chosen by size and sparsity; each choice gives
the same sums per column in the same order (spike order), so the spikes are those of the
dense product:

- dense ``s @ W`` (under :data:`EVENT_MIN_NEURONS` neurons);
- event-driven rows (:func:`event_product`): each spike adds its row of ``W``;
- the fan-out table (:func:`fanout_product`, from batch :data:`FANOUT_MIN_BATCH`, weights
  known on the host): each spike scatters only its row's nonzero entries;
- chip-shaped weights too large to densify: the CAM gather (:func:`cam_product`, cost
  ``n x 64``), driven by events through the CAM fan-out (:func:`cam_fanout_product`).

Tables are built on the host from concrete weights or CAM structure
(:func:`fanout_columns`), never traced: inside ``jax.jit`` with constant weights XLA would
constant-fold their sort.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from dynapse2.nn.connectivity import SparseWeights

if TYPE_CHECKING:
    from dynapse2.nn.dynapsim import DynapSim


def concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` while it is being traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


EVENT_MIN_NEURONS = 256
"""Dense recurrence is event-driven from this many neurons on (below, the dense product is
cheap enough)."""

DENSE_LIMIT_BYTES = 64 * 2**20
"""Sparse recurrent weights whose dense ``(n, k n)`` float32 form fits in this many bytes may
be densified once per call (below :data:`EVENT_MIN_NEURONS`, and in training, see
:func:`uses_cam_fanout`); larger ones keep the O(n x 64) CAM gather, driven by events
through their fan-out where it fits."""


def event_budget(n: int) -> int:
    """Spikes per step and batch element handled event by event (more fall back to the dense
    product): n / 16, at least 16 (64 for one 1024-neuron chip)."""
    return max(16, n // 16)


def _event_rows(s: jax.Array, w: jax.Array, budget: int) -> jax.Array:
    """``s @ w`` for one sparse vector ``s`` ``(n,)``: the rows of ``w`` of its nonzero
    entries, added one by one (``lax.top_k`` finds at most ``budget``; with more, ``lax.cond``
    takes the dense product)."""
    count = jnp.sum(s != 0)

    def rows(_: Any) -> jax.Array:
        vals, idx = jax.lax.top_k(s, budget)

        def add(i: Any, acc: jax.Array) -> jax.Array:
            return acc + jax.lax.dynamic_index_in_dim(w, idx[i], 0, keepdims=False) * vals[i]

        return jax.lax.fori_loop(0, count, add, jnp.zeros(w.shape[1], w.dtype))

    return jax.lax.cond(count <= budget, rows, lambda _: s @ w, None)


@partial(jax.custom_jvp, nondiff_argnums=(2,))
def event_product(s: jax.Array, w: jax.Array, budget: int) -> jax.Array:
    """``s @ w`` for sparse spikes ``s`` ``(B, n)`` and weights ``w`` ``(n, m)``, event-driven:
    each batch element (``lax.map``) adds the rows of its spiking neurons (see
    :func:`_event_rows`). Equal to the dense product up to float32 summation order; its
    derivative is that of the dense product, so gradients also reach the rows of neurons
    that did not spike (through the surrogate)."""
    if s.shape[0] == 1:  # no loop over one batch element
        return _event_rows(s[0], w, budget)[None]
    return jax.lax.map(lambda r: _event_rows(r, w, budget), s)


def _event_product_jvp(budget, primals, tangents):
    (s, w), (ds, dw) = primals, tangents
    out = event_product(s, w, budget)
    terms = []
    if not isinstance(ds, SymbolicZero):
        terms.append(ds @ w)
    if not isinstance(dw, SymbolicZero):
        terms.append(s @ dw)
    if not terms:
        return out, SymbolicZero(jax.typeof(out).to_tangent_aval())
    return out, terms[0] if len(terms) == 1 else terms[0] + terms[1]


event_product.defjvp(_event_product_jvp, symbolic_zeros=True)


FANOUT_MAX_FRACTION = 0.25
"""The fan-out table (:func:`fanout_product`) is used when no row of the recurrent matrix has
more nonzero entries than this fraction of its length."""


FANOUT_MIN_BATCH = 8
"""The fan-out table of dense weights drives events from this batch size on. XLA's CPU
scatter costs ~4 ns per entry, so below it one spike's ~64-90 scattered entries cost about as
much as adding its whole contiguous row, which stays in cache (1024 neurons, ms per simulated
second, table vs rows, host-built table: batch 1 18-26 vs 20, batch 2 34-35 vs 37-45, batch 4
87-96 vs 77-101; with the table traced per call, session 1: 8: 149 vs 160, 16: 279 vs 313)."""


def fanout_table(w: Any, width: int) -> np.ndarray:
    """Columns ``(n, width)`` int32 of the nonzero entries of each row of ``w`` (concrete,
    ``(n, m)``), in ascending order; a row with fewer is padded with distinct columns of zero
    entries (``width`` >= its most nonzeros, <= ``m``). Computed on the host: inside a trace
    with the weights as constants, XLA would constant-fold a sort of the whole matrix (a
    minute of compilation for one chip)."""
    zero = np.asarray(w) == 0
    return np.argsort(zero, axis=1, kind="stable")[:, :width].astype(np.int32)


def _fanout_rows(
    s: jax.Array,
    cols: jax.Array,
    vals: jax.Array,
    budget: int,
    m: int,
    dense: Callable,
    pad: int = 0,
) -> jax.Array:
    """``(m,)`` sum over the nonzero entries of one sparse vector ``s`` ``(n,)`` of their rows
    of the fan-out table: each spike scatters ``vals[i] * s[i]`` into columns ``cols[i]``
    (``lax.top_k`` finds at most ``budget`` spikes, added in the order of :func:`_event_rows`;
    with more, ``lax.cond`` takes ``dense(s)``). Columns of a row are distinct; ``pad``
    columns past ``m`` take a table's padding (value 0) and are dropped."""
    count = jnp.sum(s != 0)

    def rows(_: Any) -> jax.Array:
        v, idx = jax.lax.top_k(s, budget)

        def add(i: Any, acc: jax.Array) -> jax.Array:
            j = idx[i]
            return acc.at[cols[j]].add(vals[j] * v[i], unique_indices=True)

        acc = jax.lax.fori_loop(0, count, add, jnp.zeros(m + pad, vals.dtype))
        return acc[:m] if pad else acc

    return jax.lax.cond(count <= budget, rows, dense, s)


def _per_sample(f: Callable, s: jax.Array) -> jax.Array:
    """``f`` on each batch element of ``s`` ``(B, n)`` (``lax.map``; no loop for one)."""
    return f(s[0])[None] if s.shape[0] == 1 else jax.lax.map(f, s)


@partial(jax.custom_jvp, nondiff_argnums=(4,))
def fanout_product(s: jax.Array, w: jax.Array, cols: jax.Array, vals: jax.Array, budget: int):
    """``s @ w`` as :func:`event_product`, each spike scattering only its row's nonzero
    entries (``cols`` from :func:`fanout_table`, ``vals = w[row, cols]``). Bit-identical to
    :func:`event_product`; derivative that of ``s @ w`` (``vals`` is a function of ``w``, so
    its tangent is not used)."""
    m = w.shape[1]
    return _per_sample(lambda r: _fanout_rows(r, cols, vals, budget, m, lambda r: r @ w), s)


def _fanout_product_jvp(budget, primals, tangents):
    s, w, cols, vals = primals
    out = fanout_product(s, w, cols, vals, budget)
    _, dot = _event_product_jvp(budget, (s, w), tangents[:2])
    return out, dot


fanout_product.defjvp(_fanout_product_jvp, symbolic_zeros=True)


def cam_product(s: jax.Array, wt: jax.Array, pre: jax.Array) -> jax.Array:
    """Recurrent input ``(k, ..., n_post)`` of chip-shaped weights: for each postsynaptic
    neuron, the sum over its CAM entries of weight x spike of the entry's presynaptic neuron.
    ``s`` ``(..., n_pre)``, ``wt`` ``(k, n_post, fan_in)`` per-type entry weights
    (:meth:`SparseWeights.by_type`), ``pre`` ``(n_post, fan_in)``. Cost ``n_post x fan_in``
    (gathered) per batch element."""
    return jnp.einsum("...nf,knf->k...n", s[..., pre], wt)


def cam_weight_grad(s: jax.Array, g: jax.Array, wp: tuple) -> jax.Array:
    """Cotangent ``(k, n_post, fan_in)`` of the per-type entry weights of ``sum_t
    cam_product(s_t, wt, pre)`` for stacked spikes ``s`` ``(T, B, n_pre)`` and cotangents
    ``g`` ``(T, k, B, n_post)``; ``wp = (wt, pre)``. Step by step (the gathered spikes of all
    steps at once would be ``T x B x n_post x fan_in``)."""
    wt, pre = wp

    def acc(total: jax.Array, sg: tuple) -> tuple:
        return total + jnp.einsum("...nf,k...n->knf", sg[0][..., pre], sg[1]), None

    return jax.lax.scan(acc, jnp.zeros_like(wt), (s, g))[0]


class CamFanout(NamedTuple):
    """The fan-out of chip-shaped weights, built on the host from their CAM structure
    (:func:`cam_fanout`); the output columns are type-major (``slot * n_post + post``).

    ``cols`` ``(n_pre, width)`` int32: the output columns of each presynaptic neuron's
    entries (one per distinct (type, postsynaptic neuron); padding: ``k n_post + j``, past
    the end); ``slot`` ``(n_post * fan_in,)`` int32: the flat table position (``pre * width
    + j``) each CAM entry adds its weight to (``n_pre * width`` for an entry left out)."""

    cols: np.ndarray
    slot: np.ndarray


def cam_fanout(
    w: SparseWeights, types: tuple[int, ...], n_pre: int, max_width: int, width: int = 0
) -> CamFanout | None:
    """The :class:`CamFanout` of ``w`` for the active ``types``, or ``None`` when the
    structure is traced or a presynaptic neuron reaches more than ``max_width`` (type,
    postsynaptic) pairs. With concrete weights only nonzero entries are listed; with traced
    ones (training) every entry (its weight may change, its place may not). Entries that
    repeat a (pre, type, post) share one position, where their weights add up. ``width``:
    at least this wide (to stack the tables of several blocks)."""
    pre, typ = concrete(w.pre), concrete(w.syn_type)
    if pre is None or typ is None:
        return None
    weight = concrete(w.weight)
    n_post, k = pre.shape[0], len(types)
    lut = np.full(4, -1)
    lut[list(types)] = np.arange(k)
    j = lut[typ.astype(np.intp)]
    used = (j >= 0) & (True if weight is None else weight != 0)
    span = k * n_post
    key = (pre.astype(np.int64) * span + j * n_post + np.arange(n_post)[:, None]).ravel()
    used = used.ravel()
    keys = np.unique(key[used])  # sorted: by presynaptic neuron, then column
    row = keys // span
    counts = np.bincount(row, minlength=n_pre)
    need = int(counts.max(initial=0))
    if need > max_width:
        return None
    width = max(need, width, 1)
    pos = np.arange(len(keys)) - (np.cumsum(counts) - counts)[row]
    cols = np.broadcast_to(span + np.arange(width), (n_pre, width)).copy()
    cols[row, pos] = keys % span
    slot = np.full(key.shape, n_pre * width, np.int64)
    idx = np.searchsorted(keys, key[used])
    slot[used] = row[idx] * width + pos[idx]
    return CamFanout(cols.astype(np.int32), slot.astype(np.int32))


def cam_fanout_values(fan: CamFanout, weight: jax.Array) -> jax.Array:
    """``(n_pre, width)`` values of the table: each CAM entry's weight added at its slot."""
    n_pre, width = fan.cols.shape
    vals = jnp.zeros(n_pre * width + 1, weight.dtype).at[jnp.asarray(fan.slot)]
    return vals.add(weight.ravel())[:-1].reshape(n_pre, width)


@partial(jax.custom_jvp, nondiff_argnums=(5,))
def cam_fanout_product(s, wt, pre, cols, vals, budget):
    """:func:`cam_product` (as ``(..., k n_post)``, type-major) for sparse spikes ``s``
    ``(B, n_pre)``, event-driven: each spike scatters its fan-out (``cols``, ``vals``:
    :class:`CamFanout`, :func:`cam_fanout_values`); more than ``budget`` spikes in a batch
    element fall back to the gather. Cost per step: spikes x their fan-out, instead of
    ``n_post x fan_in`` per batch element. Derivative that of :func:`cam_product`."""
    k, n_post = wt.shape[:2]

    def dense(r: jax.Array) -> jax.Array:
        return cam_product(r, wt, pre).reshape(k * n_post)

    pad = cols.shape[1]  # padding columns of the CAM table point past the end

    def rows(r: jax.Array) -> jax.Array:
        return _fanout_rows(r, cols, vals, budget, k * n_post, dense, pad)

    return _per_sample(rows, s)


def _cam_fanout_product_jvp(budget, primals, tangents):
    s, wt, pre, cols, vals = primals
    ds, dwt = tangents[:2]
    out = cam_fanout_product(s, wt, pre, cols, vals, budget)
    flat = lambda r: jnp.moveaxis(r, 0, -2).reshape(out.shape)  # noqa: E731  (k,B,n)->(B,kn)
    terms = []
    if not isinstance(ds, SymbolicZero):
        terms.append(flat(cam_product(ds, wt, pre)))
    if not isinstance(dwt, SymbolicZero):
        terms.append(flat(cam_product(s, dwt, pre)))
    if not terms:
        return out, SymbolicZero(jax.typeof(out).to_tangent_aval())
    return out, terms[0] if len(terms) == 1 else terms[0] + terms[1]


cam_fanout_product.defjvp(_cam_fanout_product_jvp, symbolic_zeros=True)


def _type_major(w: Any, types: tuple[int, ...]) -> jax.Array:
    """Dense ``(n_pre, n_post, 4)`` weights as ``(n_pre, k * n_post)``, column
    ``j * n_post + post`` for type j."""
    w = jnp.asarray(w, jnp.float32)[:, :, list(types)]
    n_pre, n_post = w.shape[:2]
    return jnp.transpose(w, (0, 2, 1)).reshape(n_pre, len(types) * n_post)


class Recurrence(NamedTuple):
    """The recurrent product of one network, split for the custom gradient of the scan.

    ``weights``: the differentiable weights ``W``: dense ``(n, k n)`` type-major, or
    ``(per-type CAM weights (k, n, fan_in), presynaptic indices (n, fan_in))``;
    ``product(s, W)``: presynaptic spikes ``(B, n)`` -> recurrent input ``r`` (``(B, k n)``
    dense, ``(k, B, n)`` gathered), linear in ``W``; ``split(r)`` -> ``(k, B, n)``;
    ``weight_grad(S, G, W)``: the cotangent of ``W`` for stacked spikes ``S`` ``(T, B, n)``
    and cotangents ``G`` of ``r`` (``(T, ...)``), i.e. the transpose of ``W -> sum_t
    product(S_t, W)``; ``transposed(W)``: the dense ``(k n, n)`` matrix ``M^T`` of the product
    ``s @ M`` (``None`` when it is not a dense product), for the reverse pass.
    """

    weights: Any
    product: Callable[[jax.Array, jax.Array], jax.Array]
    split: Callable[[jax.Array], jax.Array]
    weight_grad: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]
    transposed: Callable[[Any], jax.Array | None] = lambda w: None


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def product_transposed(product: Callable, s: jax.Array, w: Any, wt: jax.Array) -> jax.Array:
    """``product(s, w)`` (``= s @ M``) whose reverse pass multiplies the spikes' cotangent by
    ``wt = M^T`` ``(k n, n)``, materialised row-major once before the loop: ``g @ wt``. JAX's
    own transpose of ``s @ M`` contracts the last axes of ``g`` and ``M`` (``g M^T`` read
    column-wise), which XLA's CPU backend runs 2-3x slower at batch 32 (1024 neurons: 2.1 vs
    0.7-0.8 ms per step). Only ``s`` is differentiated: ``w`` and ``wt`` are constants of the
    loop (the weight gradient is formed after it, :func:`_scan_with_grad`)."""
    return product(s, w)


@product_transposed.defjvp
def _product_transposed_jvp(product, primals, tangents):
    s, w, wt = primals
    return product(s, w), jnp.matmul(tangents[0], wt.T)


def make_recurrence(
    m: DynapSim, fan_cols: jax.Array | None = None, neurons: tuple[str, int] | None = None
) -> Recurrence | None:
    """The recurrent product of ``m`` (``None`` without recurrent weights); ``fan_cols``: the
    fan-out table of its type-major matrix (:func:`fanout_columns`; this device's block's
    table when the neurons are split), to drive events through it.

    ``neurons = (mesh axis, shards)``: ``m`` is one device's block of ``m.n`` postsynaptic
    neurons of a network of ``m.n * shards`` neurons split along that mesh axis (inside
    ``jax.shard_map``; ``w_rec`` holds the block's columns, or its rows of CAM entries).
    The product first all-gathers the presynaptic spikes of every device, then computes the
    block's columns exactly as the one-device product computes them (same path, same event
    budget, same order of the sums), so the spikes are those of one device, bit for bit."""
    if m.w_rec is None or not m.rec_types:
        return None
    n, k = m.n, len(m.rec_types)  # n: postsynaptic neurons (this device's block)

    def split(r: jax.Array) -> jax.Array:  # type-major (B, k n) -> (k, B, n)
        return jnp.moveaxis(r.reshape(r.shape[0], k, n), 1, 0)

    if neurons is None:
        n_pre, gather = n, lambda s: s  # noqa: E731
    else:
        axis, shards = neurons
        n_pre = n * shards

        def gather(s: jax.Array) -> jax.Array:
            return jax.lax.all_gather(s, axis, axis=s.ndim - 1, tiled=True)

    w = m.w_rec
    if isinstance(w, SparseWeights):
        if isinstance(fan_cols, CamFanout):
            b = event_budget(n_pre)
            cols = jnp.asarray(fan_cols.cols)
            wf = (w.by_type(m.rec_types), w.pre, cols, cam_fanout_values(fan_cols, w.weight))

            def weight_grad_cam(s: jax.Array, g: jax.Array, wf: tuple) -> tuple:
                # g (T, B, k n) -> (T, k, B, n), then as the gathered product's (the table's
                # values are a function of the entry weights: all of the gradient goes there)
                g = jnp.moveaxis(g.reshape(*g.shape[:2], k, n), 2, 1)
                return cam_weight_grad(gather(s), g, wf[:2]), None, None, None

            return Recurrence(
                wf,
                lambda s, wf: cam_fanout_product(gather(s), *wf, b),
                split,
                weight_grad_cam,
            )
        if n_pre * n_pre * k * 4 > DENSE_LIMIT_BYTES:
            # (per-type weights, presynaptic indices): passed, not closed over, so that the
            # custom gradient of the scan sees every traced value as an argument
            wp = (w.by_type(m.rec_types), w.pre)

            def product(s: jax.Array, wp: tuple) -> jax.Array:
                return cam_product(gather(s), *wp)

            def weight_grad(s: jax.Array, g: jax.Array, wp: tuple) -> tuple:
                return cam_weight_grad(gather(s), g, wp), None

            return Recurrence(wp, product, lambda r: r, weight_grad)
        w = w.to_dense(n_pre)
    w = _type_major(w, m.rec_types)
    # the reverse pass's g @ M^T with M^T materialised (one device; a block's product starts
    # with the all-gather, and JAX's own transpose of it is kept)
    transposed = (lambda w: w.T) if neurons is None else (lambda w: None)  # noqa: E731

    def weight_grad(s: jax.Array, g: jax.Array, w: jax.Array) -> jax.Array:
        # one (n, M B) x (M B, k n) product over every step and batch element
        return gather(s).reshape(-1, n_pre).T @ g.reshape(-1, g.shape[-1])

    if n_pre >= EVENT_MIN_NEURONS and fan_cols is not None:
        b = event_budget(n_pre)
        cols = jnp.asarray(fan_cols)
        vals = jnp.take_along_axis(w, cols, axis=1)
        return Recurrence(
            (w, cols, vals),
            lambda s, wf: fanout_product(gather(s), *wf, b),
            split,
            # the table is a function of w: all of the gradient goes to w
            lambda s, g, wf: (weight_grad(s, g, wf[0]), None, None),
            lambda wf: transposed(wf[0]),
        )
    if n_pre >= EVENT_MIN_NEURONS:
        b = event_budget(n_pre)
        product = lambda s, w: event_product(gather(s), w, b)  # noqa: E731
    else:
        product = lambda s, w: gather(s) @ w  # noqa: E731
    return Recurrence(w, product, split, weight_grad, transposed)


_FANOUT_CACHE: dict[tuple, tuple[tuple, Any]] = {}

CAM_FANOUT_MAX_WIDTH = 1024
"""Chip-shaped weights drive events through their fan-out (:func:`cam_fanout`) when no
presynaptic neuron reaches more than this many (type, postsynaptic) pairs (the table is
``n x width`` int32)."""


def fanout_columns(m: DynapSim, shards: int = 1) -> np.ndarray | CamFanout | None:
    """The fan-out table (:func:`fanout_table`) of the type-major recurrent matrix of ``m``,
    as wide as its widest row, when the weights are concrete, event-driven and sparse enough
    (no row more than :data:`FANOUT_MAX_FRACTION` nonzero); else ``None``.

    For chip-shaped weights too large to densify (:data:`DENSE_LIMIT_BYTES`): their
    :class:`CamFanout`, built from the CAM structure (also when the entry weights are
    traced); with ``shards`` blocks, one per block of postsynaptic rows, stacked.

    With the neuron axis split into ``shards`` blocks (one per device): one table per block,
    ``(shards, n, width)``, of the block's own type-major columns (``type * n / shards +
    post in block``), as wide as the widest row within a block (whether to use the tables is
    still decided on the whole matrix). Cached per weight array (arrays are immutable)."""
    w, n, k = m.w_rec, m.n, len(m.rec_types)
    if w is None or not k or n < EVENT_MIN_NEURONS:
        return None
    gathered = uses_cam_fanout(m)
    if isinstance(w, SparseWeights):  # the arrays that define the pattern
        refs = (w.pre, w.syn_type, w.weight)
        refs = refs if concrete(w.weight) is not None else refs[:2]
    else:
        refs = (w,)
    key = (*map(id, refs), m.rec_types, shards)
    hit = _FANOUT_CACHE.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], refs, strict=True)):
        return hit[1]
    if gathered:
        cap = min(CAM_FANOUT_MAX_WIDTH, FANOUT_MAX_FRACTION * n * k)
        cols = cam_fanout(w, m.rec_types, n, cap)
        if cols is not None and shards > 1:  # one table per block of postsynaptic rows
            rows = n // shards
            part = lambda j: jax.tree.map(lambda a: a[j * rows : (j + 1) * rows], w)  # noqa: E731
            blocks = [cam_fanout(part(j), m.rec_types, n, cap) for j in range(shards)]
            width = max(b.cols.shape[1] for b in blocks)
            blocks = [cam_fanout(part(j), m.rec_types, n, cap, width) for j in range(shards)]
            cols = CamFanout(*(np.stack(a) for a in zip(*blocks, strict=True)))
        _remember(key, refs, cols)
        return cols
    if isinstance(w, SparseWeights):
        if any(isinstance(a, jax.core.Tracer) for a in jax.tree.leaves(w)):
            return None
        a = concrete(w.to_dense())
    else:
        a = concrete(w)
    if a is None:
        return None
    a = a[:, :, list(m.rec_types)]
    if np.count_nonzero(a.reshape(n, -1), axis=1).max() > FANOUT_MAX_FRACTION * n * k:
        cols = None
    else:  # (pre, type, block, post in block) -> per block (pre, type * post in block)
        blocks = np.transpose(a, (0, 2, 1)).reshape(n, k, shards, n // shards)
        blocks = [blocks[:, :, j].reshape(n, -1) for j in range(shards)]
        width = max(max(int(np.count_nonzero(b, axis=1).max()) for b in blocks), 1)
        cols = np.stack([fanout_table(b, width) for b in blocks])
        cols = cols[0] if shards == 1 else cols
    _remember(key, refs, cols)
    return cols


def _remember(key: tuple, refs: tuple, value: Any) -> None:
    if len(_FANOUT_CACHE) >= 8:
        _FANOUT_CACHE.pop(next(iter(_FANOUT_CACHE)))
    _FANOUT_CACHE[key] = (refs, value)


def uses_cam_fanout(m: DynapSim) -> bool:
    """Whether ``m``'s recurrence is driven through its CAM fan-out (:func:`cam_fanout`):
    chip-shaped weights of an event-driven size, when their entry weights are concrete (the
    forward; faster than the densified rows at every size measured: 1024 neurons, batch 1:
    18 vs 29 ms per simulated second, 2048: 37 vs 144; batch 32: equal) or too large to
    densify. Traced weights that fit (:data:`DENSE_LIMIT_BYTES`, training) are densified:
    their weight gradient is then one dense product instead of a gather per step."""
    w, n, k = m.w_rec, m.n, len(m.rec_types)
    if not isinstance(w, SparseWeights) or not k or n < EVENT_MIN_NEURONS:
        return False
    return concrete(w.weight) is not None or n * n * k * 4 > DENSE_LIMIT_BYTES
