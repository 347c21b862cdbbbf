"""Simulation backends of DynapSim: one contract, two numerical implementations.

- ``"jax"``: ``jax.lax.scan`` over time inside ``equinox.filter_jit``, float32, differentiable
  through the surrogate spike.
- ``"numpy"``: a plain loop in float64 NumPy, the reference the JAX backend is tested against.

Both build the same step (:func:`dynapse2.physics.step.step`) from the same circuit constants.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name
from jax.custom_derivatives import SymbolicZero
from jax.sharding import PartitionSpec

from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.parallel import split_axes
from dynapse2.physics.fused import FusedState, Prepared, prepare, step_fused
from dynapse2.physics.soma import membrane_voltage
from dynapse2.physics.step import JAX_OPS, NUMPY_OPS, Ops, State, circuit, step

if TYPE_CHECKING:
    from dynapse2.nn.dynapsim import DynapSim

BACKENDS: tuple[str, ...] = ("jax", "numpy")
STATE_NDIM = {"imem": 1, "isyn": 2, "iahp": 1, "timer": 1, "spikes": 1}


def _concrete(x: Any) -> np.ndarray | None:
    """``x`` as a NumPy array, or ``None`` while it is being traced."""
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


def check_input(x: Any, typed: bool) -> None:
    """Raise ``ValueError`` for non-finite input, or negative typed event counts."""
    a = _concrete(x)
    if a is None:
        return
    if not np.isfinite(a).all():
        idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"DynapSim: input x{list(idx)} = {float(a[idx])!r}; input must be finite")
    if typed and (a < 0).any():
        idx = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise ValueError(
            f"DynapSim: input x{list(idx)} = {float(a[idx])!r} is negative; typed event counts "
            f"(..., n, 4) must be >= 0 (pass a signed (..., n) input to drive GABA)"
        )


def _batched_state(m: DynapSim, batch: int, xp: Any, dtype: Any) -> State:
    out = {}
    for k, nd in STATE_NDIM.items():
        v = xp.asarray(getattr(m, k), dtype=dtype)
        if v.ndim == nd:
            v = xp.broadcast_to(v, (batch, *v.shape))
        elif v.ndim != nd + 1 or v.shape[0] != batch:
            raise ValueError(
                f"DynapSim: state {k} has shape {v.shape}; expected {v.shape[-nd:]} or "
                f"({batch}, ...) for a batch of {batch}"
            )
        out[k] = v
    return State(**out)


def _body(ops: Ops, m: DynapSim, c: Any, w: Any, typed: bool, record: bool) -> Callable:
    xp = ops.xp
    n, k = m.n, len(m.rec_types)

    def body(s: State, x_t: Any) -> tuple[State, Any]:
        if typed:
            cols = [x_t[..., t] for t in range(4)]
        else:
            zero = xp.zeros_like(x_t)
            cols = [xp.maximum(x_t, 0), zero, xp.maximum(-x_t, 0), zero]
        if w is not None:
            rec = (s.spikes @ w).reshape(*s.spikes.shape[:-1], n, k)
            for j, t in enumerate(m.rec_types):
                cols[t] = cols[t] + rec[..., j]
        s = step(
            ops,
            c,
            s,
            xp.stack(cols, axis=-1),
            m.dt,
            kappa=m.kappa,
            io=m.Io,
            synapse_model=m.synapse_model,
            detach_feedback=m.detach_feedback,
            detach_reset=m.detach_reset,
            slope=m.surrogate_slope,
        )
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    return body


def _recurrent_matrix(m: DynapSim, xp: Any, dtype: Any) -> Any:
    """Dense ``(n, n * k)`` recurrent matrix of the active types (column = post * k + j)."""
    if m.w_rec is None or not m.rec_types:
        return None
    w = m.w_rec.to_dense() if isinstance(m.w_rec, SparseWeights) else m.w_rec
    w = xp.asarray(w, dtype=dtype)[:, :, list(m.rec_types)]
    return w.reshape(m.n, m.n * len(m.rec_types))


def _package(
    m: DynapSim, xp: Any, s: State, out: Any, record: bool, batched: bool, time_major: bool = True
):
    """Turn the scan outputs (time-major, or batch-major ``(B, T, ...)``) into ``(spikes,
    state, record)``."""
    if time_major:
        tm = lambda a: xp.moveaxis(a, 0, 1)  # noqa: E731  (T, B, ...) -> (B, T, ...)
    else:
        tm = lambda a: a  # noqa: E731
    un = (lambda a: a) if batched else (lambda a: a[0])  # noqa: E731
    new_state = {k: un(v) for k, v in s._asdict().items()}
    if not record:
        return un(tm(out)), new_state, {}
    imem, isyn, iahp, spikes = (tm(a) for a in out)
    rec = {
        "imem": imem,
        "vmem": membrane_voltage(xp, imem, m.kappa, m.Ut, m.Io),
        **{f"i{t}": isyn[..., j] for j, t in enumerate(("ampa", "nmda", "gaba", "shunt"))},
        "iahp": iahp,
        "spikes": spikes,
    }
    return un(spikes), new_state, {k: un(v) for k, v in rec.items()}


EVENT_MIN_NEURONS = 256
"""Dense recurrence is event-driven from this many neurons on (below, the dense product is
cheap enough)."""

DENSE_LIMIT_BYTES = 64 * 2**20
"""Sparse recurrent weights whose dense ``(n, k n)`` float32 form fits in this many bytes are
densified once per call and driven event by event (faster on CPU than gathering the 64
inputs of every neuron); larger ones keep the O(n x 64) gather."""


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
        return out, SymbolicZero(jax.core.get_aval(out).to_tangent_aval())
    return out, terms[0] if len(terms) == 1 else terms[0] + terms[1]


event_product.defjvp(_event_product_jvp, symbolic_zeros=True)


FANOUT_MAX_FRACTION = 0.25
"""The fan-out table (:func:`fanout_product`) is used when no row of the recurrent matrix has
more nonzero entries than this fraction of its length."""


FANOUT_MIN_BATCH = 8
"""The fan-out table drives events from this batch size on: XLA's CPU scatter costs ~4 ns
per entry, so one spike's ~64-90 scattered entries cost more than adding its whole
contiguous row when the rows stay in cache (batch 1, 1024 neurons: 26 ms per simulated
second with rows, 36 ms with the table; batch 4: 81 vs 79; 8: 160 vs 149; 16: 313 vs 279)."""


def fanout_table(w: Any, width: int) -> np.ndarray:
    """Columns ``(n, width)`` int32 of the nonzero entries of each row of ``w`` (concrete,
    ``(n, m)``), in ascending order; a row with fewer is padded with distinct columns of zero
    entries (``width`` >= its most nonzeros, <= ``m``). Computed on the host: inside a trace
    with the weights as constants, XLA would constant-fold a sort of the whole matrix (a
    minute of compilation for one chip)."""
    zero = np.asarray(w) == 0
    return np.argsort(zero, axis=1, kind="stable")[:, :width].astype(np.int32)


def _fanout_rows(
    s: jax.Array, cols: jax.Array, vals: jax.Array, budget: int, m: int, dense: Callable
) -> jax.Array:
    """``(m,)`` sum over the nonzero entries of one sparse vector ``s`` ``(n,)`` of their rows
    of the fan-out table: each spike scatters ``vals[i] * s[i]`` into columns ``cols[i]``
    (``lax.top_k`` finds at most ``budget`` spikes, added in the order of :func:`_event_rows`;
    with more, ``lax.cond`` takes ``dense(s)``). Columns of a row are distinct; those ``>= m``
    are padding (value 0) and are dropped."""
    count = jnp.sum(s != 0)

    def rows(_: Any) -> jax.Array:
        v, idx = jax.lax.top_k(s, budget)

        def add(i: Any, acc: jax.Array) -> jax.Array:
            j = idx[i]
            return acc.at[cols[j]].add(vals[j] * v[i], unique_indices=True)

        acc = jnp.zeros(m + cols.shape[1], vals.dtype)
        return jax.lax.fori_loop(0, count, add, acc)[:m]

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
    pre, typ = _concrete(w.pre), _concrete(w.syn_type)
    if pre is None or typ is None:
        return None
    weight = _concrete(w.weight)
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

    return _per_sample(lambda r: _fanout_rows(r, cols, vals, budget, k * n_post, dense), s)


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
        return out, SymbolicZero(jax.core.get_aval(out).to_tangent_aval())
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
def _product_transposed(product: Callable, s: jax.Array, w: Any, wt: jax.Array) -> jax.Array:
    """``product(s, w)`` (``= s @ M``) whose reverse pass multiplies the spikes' cotangent by
    ``wt = M^T`` ``(k n, n)``, materialised row-major once before the loop: ``g @ wt``. JAX's
    own transpose of ``s @ M`` contracts the last axes of ``g`` and ``M`` (``g M^T`` read
    column-wise), which XLA's CPU backend runs 2-3x slower at batch 32 (1024 neurons: 2.1 vs
    0.7-0.8 ms per step). Only ``s`` is differentiated: ``w`` and ``wt`` are constants of the
    loop (the weight gradient is formed after it, :func:`_scan_with_grad`)."""
    return product(s, w)


@_product_transposed.defjvp
def _product_transposed_jvp(product, primals, tangents):
    s, w, wt = primals
    return product(s, w), jnp.matmul(tangents[0], wt.T)


def _recurrence(
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
                lambda r: jnp.moveaxis(r.reshape(r.shape[0], k, n), 1, 0),
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
    if n_pre >= EVENT_MIN_NEURONS and fan_cols is not None:
        b = event_budget(n_pre)
        cols = jnp.asarray(fan_cols)
        vals = jnp.take_along_axis(w, cols, axis=1)

        def weight_grad_fan(s: jax.Array, g: jax.Array, wf: tuple) -> tuple:
            # the table is a function of w: all of the gradient goes to w
            return gather(s).reshape(-1, n_pre).T @ g.reshape(-1, g.shape[-1]), None, None

        return Recurrence(
            (w, cols, vals),
            lambda s, wf: fanout_product(gather(s), *wf, b),
            lambda r: jnp.moveaxis(r.reshape(r.shape[0], k, n), 1, 0),
            weight_grad_fan,
            lambda wf: transposed(wf[0]),
        )
    if n_pre >= EVENT_MIN_NEURONS:
        b = event_budget(n_pre)
        product = lambda s, w: event_product(gather(s), w, b)  # noqa: E731
    else:
        product = lambda s, w: gather(s) @ w  # noqa: E731

    def weight_grad(s: jax.Array, g: jax.Array, w: jax.Array) -> jax.Array:
        # one (n, M B) x (M B, k n) product over every step and batch element
        return gather(s).reshape(-1, n_pre).T @ g.reshape(-1, g.shape[-1])

    return Recurrence(
        w,
        product,
        lambda r: jnp.moveaxis(r.reshape(r.shape[0], k, n), 1, 0),
        weight_grad,
        transposed,
    )


_SAVE_REC = jax.checkpoint_policies.save_only_these_names("recurrent_input")


def _scan_with_grad(
    body: Callable, rec: Recurrence | None, args: tuple, length: int, spikes_of: Callable
) -> tuple:
    """``lax.scan`` of ``body(p, s, x_t, r_t)`` over time, where ``r_t`` is the recurrent
    input ``rec.product(s.spikes, W)`` (``None`` without recurrence), with a custom gradient.

    The forward value is that of the plain scan. Its reverse mode differs from JAX's
    default transpose of ``lax.scan`` in three ways, none of which changes the maths (only the
    order of float32 sums):

    - recurrent weights: the default adds the step's weight gradient ``s_t^T g_t`` to an
      ``(n, k n)`` accumulator at every step (reading and writing all of it). Here the
      backward scan only produces ``g_t``, the cotangent of ``r_t`` (as the cotangent of a zero
      input added to it), and the weight gradient is formed once afterwards from the stored
      spikes: ``dW = sum_t s_t^T g_t`` (:attr:`Recurrence.weight_grad`, one matrix product
      over all steps and batch elements). The cotangent of the presynaptic spikes
      (``g_t W^T``) stays inside the scan.
    - per-neuron parameters ``p`` (``(n,)`` leaves) are broadcast to ``(B, n)`` before the
      scan, so that the backward step accumulates their cotangents element-wise and the sum
      over the batch happens once afterwards (instead of one reduction per parameter and step).
    - the step is rematerialised (``jax.checkpoint``): the scan stores the state and ``r_t``
      of each step (a few ``(B, n)`` arrays) and recomputes the element-wise update in the
      backward pass, instead of storing every intermediate.

    Args:
        body: ``(p, state, x_t, r_t) -> (state, out_t)``.
        args: ``(p, initial state, xs)``, differentiable; ``xs`` batch-major (leaves
            ``(B, T, ...)``), and so are the stacked outputs returned.
        spikes_of: time-major stacked outputs -> spikes ``(T, B, n)``.

    Without differentiation the loop reads and writes the batch-major arrays in place (no
    transposes); the differentiated forward and backward scans run time-major.
    """

    to_time = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 1, 0))  # (B, T, ..) -> (T, B, ..)
    to_batch = partial(jax.tree.map, lambda a: jnp.moveaxis(a, 0, 1))

    def run(w: Any, args: tuple, z: Any, wt: jax.Array | None = None) -> tuple:
        p, f0, xs = args

        def step(s: Any, xz: tuple) -> tuple:
            x_t, z_t = xz
            if rec is None:
                return body(p, s, x_t, None)
            if wt is None:
                r = rec.product(s.spikes, w)
            else:
                r = _product_transposed(rec.product, s.spikes, w, wt)
            r = checkpoint_name(r, "recurrent_input")
            return body(p, s, x_t, r if z_t is None else r + z_t)

        if z is not None:  # differentiated: store the state and r_t per step, recompute the rest
            step = jax.checkpoint(step, policy=_SAVE_REC)
        return jax.lax.scan(step, f0, (xs, z), length=length)

    def run_in_place(w: Any, args: tuple) -> tuple:
        # the forward without differentiation: reads x_t and writes the outputs of step t in
        # place in the batch-major arrays (no (T, B, ...) <-> (B, T, ...) transposes, each a
        # copy of the whole input or output)
        p, f0, xs = args

        def step(s: Any, x_t: Any) -> tuple:
            return body(p, s, x_t, None if rec is None else rec.product(s.spikes, w))

        x0 = jax.tree.map(lambda a: a[:, 0], xs)
        shapes = jax.eval_shape(step, f0, x0)[1]
        bufs = jax.tree.map(
            lambda o: jnp.zeros((o.shape[0], length, *o.shape[1:]), o.dtype), shapes
        )

        def loop(t: Any, c: tuple) -> tuple:
            s, bufs = c
            x_t = jax.tree.map(lambda a: jax.lax.dynamic_index_in_dim(a, t, 1, False), xs)
            s, o = step(s, x_t)
            put = lambda b, o: jax.lax.dynamic_update_index_in_dim(b, o, t, 1)  # noqa: E731
            return s, jax.tree.map(put, bufs, o)

        return jax.lax.fori_loop(0, length, loop, (f0, bufs))

    @jax.custom_vjp
    def scan(w: Any, args: tuple) -> tuple:
        return run_in_place(w, args)

    def fwd(w: Any, args: tuple) -> tuple:
        p, f0, xs = args
        xs = to_time(xs)
        batch = f0.imem.shape[0]
        wide = lambda a: jnp.broadcast_to(a, (batch, *a.shape)) if jnp.ndim(a) == 1 else a  # noqa: E731
        p_b = jax.tree.map(wide, p)
        if rec is None:
            z = wt = None
        else:
            shape = jax.eval_shape(rec.product, f0.spikes, w)
            z = jnp.zeros((length, *shape.shape), shape.dtype)
            wt = rec.transposed(w)
        out, vjp = jax.vjp(lambda pb, f0, xs, z: run(w, (pb, f0, xs), z, wt), p_b, f0, xs, z)
        if rec is None:
            return (out[0], to_batch(out[1])), (vjp, None, w)
        spikes = spikes_of(out[1])
        prev = jnp.concatenate([f0.spikes[None].astype(spikes.dtype), spikes[:-1]])
        return (out[0], to_batch(out[1])), (vjp, prev, w)

    def bwd(res: tuple, ct: tuple) -> tuple:
        vjp, prev, w = res
        d_pb, d_f0, d_xs, g = vjp((ct[0], to_time(ct[1])))
        d_xs = to_batch(d_xs)
        narrow = lambda d: d.sum(axis=0) if jnp.ndim(d) == 2 else d  # noqa: E731
        d_p = jax.tree.map(narrow, d_pb)
        d_w = None if rec is None else rec.weight_grad(prev, g, w)
        return d_w, (d_p, d_f0, d_xs)

    scan.defvjp(fwd, bwd)
    return scan(None if rec is None else rec.weights, args)


@eqx.filter_jit
def _scan(
    m: DynapSim,
    x: jax.Array,
    typed: bool,
    record: bool,
    batched: bool,
    ext: tuple[int, ...],
    types: tuple[int, ...],
    custom_grad: bool = True,
    fan_cols: jax.Array | None = None,
    neurons: tuple[str, int] | None = None,
):
    """The JAX simulation of ``m`` on batched input ``x`` (see :func:`run_jax`); ``neurons``:
    ``m`` is one device's block of neurons inside ``jax.shard_map`` (see
    :func:`_recurrence`)."""
    io = m.Io
    c = circuit(jnp, m.effective_values(), m.kappa, m.Ut, m.Vth)
    p = prepare(jnp, c, m.dt, types)
    batch = x.shape[0]
    s0 = _batched_state(m, batch, jnp, jnp.float32)
    f0 = FusedState(s0.imem, tuple(s0.isyn[..., t] for t in types), s0.iahp, s0.timer, s0.spikes)
    rec = _recurrence(m, fan_cols, neurons)
    rec_slot = {t: j for j, t in enumerate(m.rec_types)}
    if typed:
        xs = tuple(x[..., t] for t in ext)  # (B, T, n) each
    else:
        xs = x

    def body(p: Prepared, s: FusedState, x_t: Any, r: Any):
        if typed:
            inp = dict(zip(ext, x_t, strict=True))
        else:
            inp = {0: jnp.maximum(x_t, 0.0), 2: jnp.maximum(-x_t, 0.0)}
            inp = {t: v for t, v in inp.items() if t in ext}
        if r is not None:
            r = rec.split(r)
            for t, j in rec_slot.items():
                inp[t] = inp[t] + r[j] if t in inp else r[j]
        s = step_fused(
            JAX_OPS,
            p,
            s,
            tuple(inp.get(t) for t in types),
            m.dt,
            types=types,
            kappa=m.kappa,
            io=io,
            synapse_model=m.synapse_model,
            detach_feedback=m.detach_feedback,
            detach_reset=m.detach_reset,
            slope=m.surrogate_slope,
        )
        return s, ((s.imem, s.isyn, s.iahp, s.spikes) if record else s.spikes)

    if not custom_grad:  # JAX's own reverse mode through the scan (reference for the tests)
        step = lambda s, x_t: body(p, s, x_t, rec and rec.product(s.spikes, rec.weights))  # noqa: E731
        f, out = jax.lax.scan(step, f0, jax.tree.map(lambda a: jnp.moveaxis(a, 1, 0), xs))
        out = jax.tree.map(lambda a: jnp.moveaxis(a, 0, 1), out)
    else:
        spikes_of = (lambda o: o[3]) if record else (lambda o: o)  # noqa: E731
        f, out = _scan_with_grad(body, rec, (p, f0, xs), x.shape[1], spikes_of)

    def full_isyn(isyn: tuple, rest: jax.Array, shape: tuple) -> jax.Array:
        cols = dict(zip(types, isyn, strict=True))
        return jnp.stack(
            [cols[t] if t in cols else jnp.broadcast_to(rest[..., t], shape) for t in range(4)],
            axis=-1,
        )

    s = State(f.imem, full_isyn(f.isyn, s0.isyn, f.imem.shape), f.iahp, f.timer, f.spikes)
    if record:
        imem, isyn, iahp, spikes = out
        held = jnp.full((1, 1, 1, 4), io, jnp.float32)
        out = (imem, full_isyn(isyn, held, imem.shape), iahp, spikes)
    return _package(m, jnp, s, out, record, batched, time_major=False)


def _external_types(x: Any, typed: bool) -> tuple[int, ...]:
    """Synapse types the input can drive: those with a nonzero entry when ``x`` is concrete,
    else every type of its layout (typed: all four; signed: AMPA and GABA)."""
    a = _concrete(x)
    if a is None:
        return (0, 1, 2, 3) if typed else (0, 2)
    if typed:
        return tuple(t for t in range(4) if a[..., t].any())
    return tuple(t for t, v in ((0, (a > 0).any()), (2, (a < 0).any())) if v)


def _computed_types(m: DynapSim, ext: tuple[int, ...]) -> tuple[int, ...]:
    """Synapse types to integrate: those with input (external or recurrent) and those whose
    current is not at I_0 (all four when the state is traced). Any other type stays at I_0
    exactly (its decay max(I_0 (1 - dt/tau), I_0) = I_0), so leaving it out is exact."""
    isyn = _concrete(m.isyn)
    held = set(range(4)) if isyn is None else {t for t in range(4) if (isyn[..., t] != m.Io).any()}
    return tuple(sorted(set(ext) | set(m.rec_types) | held))


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
    gathered = isinstance(w, SparseWeights) and n * n * k * 4 > DENSE_LIMIT_BYTES
    if isinstance(w, SparseWeights):  # the arrays that define the pattern
        refs = (w.pre, w.syn_type, w.weight)
        refs = refs if _concrete(w.weight) is not None else refs[:2]
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
        a = _concrete(w.to_dense())
    else:
        a = _concrete(w)
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


def _cam(m: DynapSim) -> bool:
    """Whether ``m``'s recurrence is the chip-shaped product (:func:`cam_product`), whose
    fan-out pays at every batch size (it replaces an ``n x fan_in`` gather)."""
    w, n, k = m.w_rec, m.n, len(m.rec_types)
    return isinstance(w, SparseWeights) and k > 0 and n * n * k * 4 > DENSE_LIMIT_BYTES


def run_jax(m: DynapSim, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with JAX (float32, jit, lax.scan). Shapes as :meth:`DynapSim.evolve`.

    An input whose batch axis is sharded across devices (see
    :func:`dynapse2.nn.parallel.shard_batch`) runs each device's batch elements on that
    device; one whose neuron axis is sharded (:func:`dynapse2.nn.parallel.shard_neurons`,
    possibly with the batch axis too) runs each device's block of neurons on that device.
    Either way the arrays returned are sharded the same way."""
    check_input(x, typed)
    ext = _external_types(x, typed)
    types = _computed_types(m, ext)
    split = split_axes(x, np.ndim(x) - (2 if typed else 1), batched)
    x = jnp.asarray(x, jnp.float32)
    if split is not None and split[2] is not None:
        mesh, batch_axis, neuron_axis = split
        local_batch = x.shape[0] // (mesh.shape[batch_axis] if batch_axis else 1)
        fan = (
            fanout_columns(m, mesh.shape[neuron_axis])
            if (batched and local_batch >= FANOUT_MIN_BATCH) or _cam(m)
            else None
        )
        return _neuron_sharded_scan(
            m, x, typed, record, batched, ext, types, fan, mesh, batch_axis, neuron_axis
        )
    if split is not None:
        return _sharded_scan(m, x, typed, record, ext, types, split[0], split[1])
    fan = fanout_columns(m) if (batched and x.shape[0] >= FANOUT_MIN_BATCH) or _cam(m) else None
    return _scan(m, x if batched else x[None], typed, record, batched, ext, types, True, fan)


@eqx.filter_jit
def _sharded_scan(m: DynapSim, x: jax.Array, typed, record, ext, types, mesh, axis):
    """:func:`_scan` under ``jax.shard_map``: the batch axis of ``x`` (and of a batched
    state) split along mesh axis ``axis``, everything else replicated."""
    state = {k: getattr(m, k) for k in STATE_NDIM}
    dyn, static = eqx.partition(m.set_attributes(dict.fromkeys(state)), eqx.is_array)
    batch_spec = PartitionSpec(axis)
    state_specs = {
        k: batch_spec if jnp.ndim(v) == STATE_NDIM[k] + 1 else PartitionSpec()
        for k, v in state.items()
    }

    def local(dyn: Any, state: dict, x: jax.Array):
        mod = eqx.combine(dyn, static).set_attributes(state)
        return _scan(mod, x, typed, record, True, ext, types)

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(PartitionSpec(), state_specs, batch_spec),
        out_specs=batch_spec,
        check_vma=False,  # the replicated initial state becomes per-device in the scan
    )
    return run(dyn, state, x)


@eqx.filter_jit
def _neuron_sharded_scan(
    m: DynapSim,
    x: jax.Array,
    typed: bool,
    record: bool,
    batched: bool,
    ext: tuple[int, ...],
    types: tuple[int, ...],
    fan_cols: jax.Array | None,
    mesh: Any,
    batch_axis: str | None,
    axis: str,
):
    """:func:`_scan` under ``jax.shard_map`` with the neuron axis split along mesh axis
    ``axis``: each device simulates a contiguous block of ``n / shards`` neurons (their
    input, state, per-neuron currents and mismatch factors, and the columns of ``w_rec`` of
    its postsynaptic neurons: dense ``w_rec[:, block]``, or the block's rows of
    ``SparseWeights``). Each step all-gathers the previous step's spikes of every device
    (:func:`_recurrence`). The batch axis is also split along ``batch_axis`` if given.
    ``fan_cols``: one fan-out table per block, ``(shards, n, width)``
    (:func:`fanout_columns`), or ``None``."""
    from dynapse2.nn.dynapsim import _replace  # noqa: PLC0415  (dynapsim imports this module)

    shards = mesh.shape[axis]
    n_local = m.n // shards
    b = batch_axis if batched else None
    state = {k: getattr(m, k) for k in STATE_NDIM}
    dyn, static = eqx.partition(m.set_attributes(dict.fromkeys(state)), eqx.is_array)

    def per_neuron(a: Any) -> PartitionSpec:  # currents, mismatch factors: (n,) or scalar
        split = jnp.ndim(a) >= 1 and jnp.shape(a)[0] == m.n
        return PartitionSpec(axis) if split else PartitionSpec()

    dyn_specs = jax.tree.map(per_neuron, dyn)
    if m.w_rec is not None:  # dense (pre, post, 4): post split; sparse (post, fan_in): rows
        w_spec = (
            PartitionSpec(axis) if isinstance(m.w_rec, SparseWeights) else PartitionSpec(None, axis)
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

    def local(dyn: Any, state: dict, x: jax.Array, cols: jax.Array | None):
        mod = _replace(eqx.combine(dyn, static).set_attributes(state), n=n_local)
        xb = x if batched else x[None]
        cols = jax.tree.map(lambda a: a[0], cols)  # this block's table (or None)
        return _scan(mod, xb, typed, record, batched, ext, types, True, cols, (axis, shards))

    run = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(dyn_specs, state_specs, x_spec, PartitionSpec(axis)),
        out_specs=(out_spec, new_state_specs, out_spec),
        check_vma=False,  # the initial state becomes per-device in the scan, as above
    )
    return run(dyn, state, x, fan_cols)


def run_numpy(m: DynapSim, x: Any, *, typed: bool, batched: bool, record: bool):
    """Simulate with NumPy in float64 (the reference). Shapes as :meth:`DynapSim.evolve`."""
    check_input(x, typed)
    x = np.asarray(x, np.float64)
    x = x if batched else x[None]
    vals = {k: np.asarray(v, np.float64) for k, v in m.effective_values().items()}
    c = circuit(np, vals, m.kappa, m.Ut, m.Vth)
    s = _batched_state(m, x.shape[0], np, np.float64)
    w = _recurrent_matrix(m, np, np.float64)
    body = _body(NUMPY_OPS, m, c, w, typed, record)
    outs = []
    for t in range(x.shape[1]):
        s, o = body(s, x[:, t])
        outs.append(o)
    out = tuple(np.stack(a) for a in zip(*outs, strict=True)) if record else np.stack(outs)
    return _package(m, np, s, out, record, batched)
