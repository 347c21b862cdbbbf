"""Checkpoints: a network, its optimizer state and its training history in one file,
written atomically.

Format: a NumPy ``.npz`` archive holding ``net`` and ``best`` (the network's leaves as
serialised by :func:`equinox.tree_serialise_leaves`), ``opt_0``, ``opt_1``, ... (the leaves of
the optimizer state, in tree order) and ``meta`` (UTF-8 JSON: format version, epoch,
history, PRNG key data, and per DynapSim its solver and its settings, the static fields the
leaves do not carry: see :meth:`dynapse2.nn.DynapSim.settings`).

Written with :func:`dynapse2.atomic.atomic_write`: a crash at any point leaves either the
previous checkpoint or the new one, never a partial file.
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.atomic import atomic_write
from dynapse2.errors import FileFormatError
from dynapse2.nn import Module, Sequential
from dynapse2.nn.dynapsim import DynapSim
from dynapse2.solvers import solver_from_name
from dynapse2.train.history import History

__all__ = ["Checkpoint", "load", "save"]

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What :func:`load` returns.

    Attributes:
        net: the network (structure of ``like``).
        opt_state_leaves: leaves of the optimizer state, in tree order;
            ``fit(checkpointing=Checkpointing(resume=...))``
            puts them back into the structure its optimizer builds.
        history: the run's :class:`History` up to ``epoch``.
        epoch: number of completed epochs.
        key: the run's ``jax.random`` key (raw uint32 key data), or None.
        best: the weights of the best validation epoch so far (early stopping), or None.
    """

    net: Module
    opt_state_leaves: list[np.ndarray]
    history: History
    epoch: int
    key: jax.Array | None
    best: Module | None


def _net_bytes(net: Module) -> np.ndarray:
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, net)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def _serialise_into(f: IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    """Write the archive to the open file ``f`` (a seam for tests that simulate a crash)."""
    # The keys are our field names (none is savez's own ``allow_pickle``), which the stub's
    # signature cannot know of a dict.
    np.savez(f, **arrays)  # pyright: ignore[reportArgumentType]


def save(
    path: str | os.PathLike,
    net: Module,
    opt_state: Any,
    history: History,
    epoch: int,
    key: jax.Array | None = None,
    best: Module | None = None,
) -> None:
    """Write a checkpoint to ``path`` atomically (see the module docstring).

    Args:
        path: destination file (its directory must exist); by convention ``*.npz``.
        net: the network. opt_state: the optax state (any pytree of arrays).
        history: the run so far. epoch: completed epochs.
        key: the run's ``jax.random`` key (typed or raw), stored as raw key data.
        best: optionally, the best network so far (early stopping); same structure as ``net``.
    """
    path = Path(checks.path("save", "path", path))
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: directory {str(path.parent)!r} does not exist")
    if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
        raise ValueError(f"save: epoch = {epoch!r} must be a non-negative integer")
    key_data = None
    if key is not None:
        if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        key_data = np.asarray(key).tolist()
    meta = {
        "format_version": FORMAT_VERSION,
        "epoch": int(epoch),
        "history": history.to_dict(),
        "key": key_data,
        "has_best": best is not None,
        "solvers": [m.solver.name for m in _populations(net)],
        "settings": [_json_settings(m) for m in _populations(net)],
        "structure": structure(net),
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        "net": _net_bytes(net),
    }
    if best is not None:
        arrays["best"] = _net_bytes(best)
    for i, leaf in enumerate(jax.tree_util.tree_leaves(opt_state)):
        arrays[f"opt_{i}"] = np.asarray(leaf)
    atomic_write(path, lambda f: _serialise_into(f, arrays), binary=True)


def load(path: str | os.PathLike, like: Module) -> Checkpoint:
    """Read a checkpoint written by :func:`save`.

    Args:
        path: the file.
        like: a network of the same structure (e.g. the freshly built one); its leaves are
            replaced by the stored ones, bit for bit.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: anything else wrong with its content (a ``ValueError`` that names
            the file and what is wrong): truncated, corrupted, not a checkpoint, another
            format version, a field missing or of the wrong type, a network of another
            structure than ``like``.
    """
    path = Path(checks.path("load", "path", path))
    if not isinstance(like, Module):
        raise TypeError(
            f"load: like must be a network (a dynapse2 Module) of the saved structure, got "
            f"{type(like).__name__}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}")
    try:
        meta, net, best, opt = _read(path, like)
        # the static settings; "positive_feedback": files written between solvers and settings
        solvers, settings, flags = (
            meta.get(k) for k in ("solvers", "settings", "positive_feedback")
        )
        net = _with_feedback(_with_settings(net, solvers, settings), flags)
        best = _with_feedback(_with_settings(best, solvers, settings), flags)
        key = None if meta["key"] is None else np.asarray(meta["key"], dtype=np.uint32)
        history, epoch = History.from_dict(meta["history"]), meta["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise _Bad(f"field 'epoch' = {epoch!r} is not a non-negative integer")
        if key is not None and key.shape != (2,):
            raise _Bad(f"field 'key' has shape {key.shape}, expected (2,)")
    except _Bad as e:
        raise FileFormatError(path, str(e), _HINT) from None
    except KeyError as e:
        raise FileFormatError(path, f"field {e} is missing", _HINT) from None
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise FileFormatError(
            path, f"truncated or corrupted, not a complete checkpoint archive ({e})", _HINT
        ) from None
    except (ValueError, TypeError, AttributeError, IndexError, OverflowError) as e:
        why = str(e)
        if "pickle" in why:  # numpy's advice to allow pickles is the one unsafe thing to do
            why = "an entry holds Python objects, which no checkpoint does; never unpickle it"
        raise FileFormatError(path, f"not a readable checkpoint ({why})", _HINT) from None
    return Checkpoint(
        net=net,
        opt_state_leaves=opt,
        history=history,
        epoch=epoch,
        key=None if key is None else jax.numpy.asarray(key),
        best=best,
    )


_HINT = (
    "load a checkpoint written by dynapse2.train.save; after a preempted run, resume from "
    "the previous checkpoint"
)


class _Bad(Exception):
    """A problem found while reading (turned into a FileFormatError naming the file)."""


def _read(path: Path, like: Module) -> tuple[dict, Module, Module | None, list[np.ndarray]]:
    """The archive's metadata, network, best network and optimizer leaves."""
    with open(path, "rb") as f:
        head = f.read(4)
    if not head:
        raise _Bad("empty file (was the save interrupted? save it again)")
    if head != b"PK\x03\x04"[: len(head)] or len(head) < 4:  # a zip archive of .npy entries
        what = "truncated or corrupted" if len(head) < 4 else "not a dynapse2 checkpoint"
        raise _Bad(f"{what} (not a zip archive: it starts with {head!r})")
    with np.load(path, allow_pickle=False) as z:
        if "meta" not in z.files or "net" not in z.files:
            raise _Bad("not a dynapse2 checkpoint (no 'meta' and 'net' entries)")
        try:
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise _Bad(f"its metadata is not JSON ({e})") from None
        if not isinstance(meta, dict):
            raise _Bad("its metadata is not a JSON object")
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise _Bad(
                f"format version {version!r}"
                + (" (written by a newer dynapse2: upgrade)" if newer else "")
                + f"; this library reads version {FORMAT_VERSION}"
            )
        _check_structure(meta.get("structure"), like)
        net = _leaves(z["net"], like, "net")
        best = _leaves(z["best"], like, "best") if meta["has_best"] else None
        n_opt = sum(1 for k in z.files if k.startswith("opt_"))
        opt = [np.array(z[f"opt_{i}"]) for i in range(n_opt)]
    return meta, net, best, opt


def _populations(net: Module) -> list[DynapSim]:
    is_pop = lambda v: isinstance(v, DynapSim)  # noqa: E731
    return [v for v in jax.tree_util.tree_leaves(net, is_leaf=is_pop) if is_pop(v)]


def _json_settings(m: DynapSim) -> dict[str, Any]:
    """``m.settings()`` as JSON, but the solver (saved in field 'solvers')."""
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in m.settings().items()}
    del out["solver"]
    out["plan_options"] = m.plan_options.to_dict()
    return out


_Net = TypeVar("_Net", bound=Module | None)


def _with_settings(net: _Net, solvers: Any, settings: Any) -> _Net:
    """``net`` with the saved solver and settings of each DynapSim (they are static, so the
    leaves do not carry them); a checkpoint without them (older files) keeps ``like``'s."""
    if net is None:
        return net
    n_pops = len(_populations(net))
    for name, value in (("solvers", solvers), ("settings", settings)):
        if value is not None and (not isinstance(value, list) or len(value) != n_pops):
            raise _Bad(f"field {name!r} = {value!r} is not one entry per DynapSim")
    solvers = iter(solvers or [None] * n_pops)
    settings = iter(settings or [None] * n_pops)

    def adopt(m: DynapSim) -> DynapSim:
        s, solver = next(settings), next(solvers)
        if s is not None and not isinstance(s, dict):
            raise _Bad(f"field 'settings' holds {s!r}, not an object of DynapSim settings")
        s = dict(s or {})
        if solver is not None:
            s["solver"] = solver_from_name(solver, "field 'solvers'")
        try:
            return m.with_settings(**s)
        except (TypeError, ValueError) as e:
            raise _Bad(f"field 'settings': {e}") from None

    return jax.tree_util.tree_map(
        lambda v: adopt(v) if isinstance(v, DynapSim) else v,
        net,
        is_leaf=lambda v: isinstance(v, DynapSim),
    )


def _with_feedback(net: _Net, flags: Any) -> _Net:
    """``net`` with the saved ``positive_feedback`` of each DynapSim (static, like the
    solver); a checkpoint without them (older files) keeps ``like``'s."""
    if net is None or flags is None:
        return net
    pops = _populations(net)
    if (
        not isinstance(flags, list)
        or len(flags) != len(pops)
        or not all(isinstance(f, bool) for f in flags)
    ):
        raise _Bad(f"field 'positive_feedback' = {flags!r} is not one boolean per DynapSim")
    it = iter(flags)
    return jax.tree_util.tree_map(
        lambda v: v.with_positive_feedback(next(it)) if isinstance(v, DynapSim) else v,
        net,
        is_leaf=lambda v: isinstance(v, DynapSim),
    )


def _leaves(data: np.ndarray, like: Module, what: str) -> Module:
    try:
        return eqx.tree_deserialise_leaves(io.BytesIO(data.tobytes()), like)
    except Exception as e:  # noqa: BLE001  (equinox raises several types for a mismatch)
        raise _Bad(
            f"its {what!r} network does not fit the structure of `like` "
            f"({type(e).__name__}: {str(e)[:200]})"
        ) from None


# --- the network's structure, stored beside its leaves to say what differs -------------------
def structure(net: Module) -> list[dict[str, Any]]:
    """The network's layers as JSON: per layer its class, its shape ``(n_in, n_out)`` and
    the shape and dtype of each leaf (``{".w_rec": [[4, 4, 4], "float32"], ...}``).

    A ``Sequential``'s layers are its modules; any other network is one layer.
    """
    layers = list(net.modules) if isinstance(net, Sequential) else [net]
    out = []
    for layer in layers:
        leaves = jax.tree_util.tree_flatten_with_path(layer)[0]
        out.append(
            {
                "type": type(layer).__name__,
                "shape": [int(v) for v in layer.shape],
                "leaves": {
                    jax.tree_util.keystr(p): [list(np.shape(v)), _dtype(v)] for p, v in leaves
                },
            }
        )
    return out


def _dtype(v: Any) -> str:
    return str(v.dtype) if hasattr(v, "dtype") else type(v).__name__


def _check_structure(stored: Any, like: Module) -> None:
    """Raise :class:`_Bad` saying, per layer, how the file's network differs from ``like``
    (nothing to compare in files written before the structure was stored)."""
    if stored is None:
        return
    if not _well_formed(stored):
        raise _Bad("field 'structure' is not a list of layers (type, shape, leaves)")
    differences = structure_differences(stored, structure(like))
    if differences:
        raise _Bad(
            "the network in the file has another structure than `like`: "
            + "; ".join(differences)
            + " (build `like` as the network that was saved)"
        )


def _well_formed(stored: Any) -> bool:
    def leaf(v: Any) -> bool:
        return (
            isinstance(v, list)
            and len(v) == 2
            and isinstance(v[0], list)
            and all(isinstance(d, int) for d in v[0])
            and isinstance(v[1], str)
        )

    def layer(d: Any) -> bool:
        return (
            isinstance(d, dict)
            and isinstance(d.get("type"), str)
            and isinstance(d.get("shape"), list)
            and all(isinstance(v, int) for v in d["shape"])
            and isinstance(d.get("leaves"), dict)
            and all(leaf(v) for v in d["leaves"].values())
        )

    return isinstance(stored, list) and all(layer(d) for d in stored)


def structure_differences(file: list[dict], like: list[dict]) -> list[str]:
    """What differs between two :func:`structure` descriptions, in words, layer by layer."""
    if len(file) != len(like):
        return [f"the file has {_layers(len(file))}, `like` has {_layers(len(like))}"]
    out: list[str] = []
    for i, (a, b) in enumerate(zip(file, like, strict=True)):
        name = f"layer {i}" if len(file) > 1 else "the network"
        if a["type"] != b["type"]:
            out.append(f"{name} is a {a['type']} in the file, a {b['type']} in `like`")
        elif a["shape"] != b["shape"]:
            out.append(f"{name} ({a['type']}): {_size(a['shape'], b['shape'])}")
        else:
            out += _leaf_differences(name, a["leaves"], b["leaves"])
    return out


def _layers(n: int) -> str:
    return f"{n} layer" + ("" if n == 1 else "s")


def _size(a: list[int], b: list[int]) -> str:
    if len(a) == len(b) == 2 and a[0] == a[1] and b[0] == b[1]:
        return f"width {a[0]} in the file, {b[0]} in `like`"
    return f"shape {tuple(a)} in the file, {tuple(b)} in `like`"


def _field(path: str) -> str:
    """The layer's attribute a leaf path starts with (``.w_rec.values`` -> ``w_rec``)."""
    m = re.match(r"\.?(\w*)", path)  # always matches (both parts may be empty)
    return (m.group(1) if m else "") or path


def _leaf_differences(name: str, a: dict[str, list], b: dict[str, list]) -> list[str]:
    fields_a, fields_b = {_field(p) for p in a}, {_field(p) for p in b}
    out = [f"{name} has `{f}` in the file but not in `like`" for f in sorted(fields_a - fields_b)]
    out += [f"{name} has `{f}` in `like` but not in the file" for f in sorted(fields_b - fields_a)]
    for path in sorted(set(a) & set(b)):
        (shape_a, dtype_a), (shape_b, dtype_b) = a[path], b[path]
        if shape_a != shape_b:
            out.append(
                f"{name}: `{path[1:]}` has shape {tuple(shape_a)} in the file, "
                f"{tuple(shape_b)} in `like`"
            )
        elif dtype_a != dtype_b:
            out.append(f"{name}: `{path[1:]}` is {dtype_a} in the file, {dtype_b} in `like`")
    common = fields_a & fields_b
    if not out and {p for p in a if _field(p) in common} != {p for p in b if _field(p) in common}:
        out.append(f"{name}: the leaves of {sorted(common)} differ")
    return out
