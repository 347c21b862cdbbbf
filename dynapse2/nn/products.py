"""The recurrent products of DynapSim: presynaptic spikes -> recurrent input per synapse type.

The numerical kernels that the recurrence strategies (:mod:`dynapse2.nn.recurrence`) are made
of. Each gives the same sums per column in the same order (spike order), so the spikes are
those of the dense product:

- event-driven rows (:func:`event_product`): each spike adds its row of ``W``;
- the fan-out table (:func:`fanout_product`): each spike scatters only its row's nonzero
  entries (table from :func:`fanout_table`);
- chip-shaped weights: the CAM gather (:func:`cam_product`, cost ``n x 64``), or driven by
  events through the CAM fan-out (:func:`cam_fanout_product`, table from :func:`cam_fanout`).

Tables are built on the host (NumPy), never traced: inside ``jax.jit`` with constant weights
XLA would constant-fold their sort.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.inputs import concrete


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


class CamTable(NamedTuple):
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
) -> CamTable | None:
    """The :class:`CamTable` of ``w`` for the active ``types``, or ``None`` when the
    structure is traced or a presynaptic neuron reaches more than ``max_width`` (type,
    postsynaptic) pairs (:func:`cam_width`). With concrete weights only nonzero entries are
    listed; with traced ones (training) every entry (its weight may change, its place may
    not). Entries that repeat a (pre, type, post) share one position, where their weights add
    up. ``width``: at least this wide (to stack the tables of several blocks)."""
    found = _cam_entries(w, types)
    if found is None:
        return None
    key, used, span = found
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
    return CamTable(cols.astype(np.int32), slot.astype(np.int32))


def _cam_entries(w: SparseWeights, types: tuple[int, ...]) -> tuple | None:
    """Per CAM entry of ``w`` (flattened): its key ``pre * span + type slot * n_post +
    post``, whether it counts (an active type and, with concrete weights, a nonzero weight:
    an unused slot is a zero weight), and ``span = len(types) * n_post``; ``None`` while the
    structure is traced."""
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
    return key, used.ravel(), span


def cam_width(w: SparseWeights, types: tuple[int, ...], n_pre: int) -> int | None:
    """The widest fan-out of ``w``: the most distinct (active type, postsynaptic) pairs one
    presynaptic neuron reaches through the entries that count (with concrete weights the
    nonzero ones, with traced weights every entry); ``None`` while the structure is traced."""
    found = _cam_entries(w, types)
    if found is None:
        return None
    key, used, span = found
    return int(np.bincount(np.unique(key[used]) // span, minlength=n_pre).max(initial=0))


def cam_fanout_values(fan: CamTable, weight: jax.Array) -> jax.Array:
    """``(n_pre, width)`` values of the table: each CAM entry's weight added at its slot."""
    n_pre, width = fan.cols.shape
    vals = jnp.zeros(n_pre * width + 1, weight.dtype).at[jnp.asarray(fan.slot)]
    return vals.add(weight.ravel())[:-1].reshape(n_pre, width)


@partial(jax.custom_jvp, nondiff_argnums=(5,))
def cam_fanout_product(s, wt, pre, cols, vals, budget):
    """:func:`cam_product` (as ``(..., k n_post)``, type-major) for sparse spikes ``s``
    ``(B, n_pre)``, event-driven: each spike scatters its fan-out (``cols``, ``vals``:
    :class:`CamTable`, :func:`cam_fanout_values`); more than ``budget`` spikes in a batch
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


def type_major(w: Any, types: tuple[int, ...]) -> jax.Array:
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

    weights: Any  # an array or a tuple of arrays: the pytree W
    product: Callable[[jax.Array, Any], jax.Array]
    split: Callable[[jax.Array], jax.Array]
    weight_grad: Callable[[jax.Array, jax.Array, Any], Any]  # a pytree of W's structure
    transposed: Callable[[Any], jax.Array | None] = lambda w: None


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def product_transposed(product: Callable, s: jax.Array, w: Any, wt: jax.Array) -> jax.Array:
    """``product(s, w)`` (``= s @ M``) whose reverse pass multiplies the spikes' cotangent by
    ``wt = M^T`` ``(k n, n)``, materialised row-major once before the loop: ``g @ wt``. JAX's
    own transpose of ``s @ M`` contracts the last axes of ``g`` and ``M`` (``g M^T`` read
    column-wise), which XLA's CPU backend runs 2-3x slower at batch 32 (1024 neurons: 2.1 vs
    0.7-0.8 ms per step). Only ``s`` is differentiated: ``w`` and ``wt`` are constants of the
    loop (the weight gradient is formed after it, :mod:`dynapse2.nn.scan`)."""
    return product(s, w)


@product_transposed.defjvp
def _product_transposed_jvp(product, primals, tangents):
    s, w, wt = primals
    return product(s, w), jnp.matmul(tangents[0], wt.T)
