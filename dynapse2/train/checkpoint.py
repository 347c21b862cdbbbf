"""Checkpoints: a network, its optimizer state and its training history in one file,
written atomically.

Format: a NumPy ``.npz`` archive holding ``net`` and ``best`` (the network's leaves as
serialised by :func:`equinox.tree_serialise_leaves`), ``opt_0``, ``opt_1``, ... (the leaves of
the optimizer state, in tree order) and ``meta`` (UTF-8 JSON: format version, epoch,
history, PRNG key data).

Atomic write: the archive goes to a temporary file in the destination's directory, is
flushed and ``fsync``-ed, then ``os.replace``-d over the destination (and the directory
fsync-ed). A crash at any point leaves either the previous checkpoint or the new one, never a
partial file; the temporary file is removed on error.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import equinox as eqx
import jax
import numpy as np

from dynapse2.atomic import atomic_write
from dynapse2.nn import Module
from dynapse2.train.history import History

__all__ = ["Checkpoint", "load", "save"]

FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """What :func:`load` returns.

    Attributes:
        net: the network (structure of ``like``).
        opt_state_leaves: leaves of the optimizer state, in tree order; ``fit(resume=...)``
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
    np.savez(f, **arrays)


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
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save: directory {str(path.parent)!r} does not exist")
    key_data = None
    if key is not None:
        if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
        key_data = np.asarray(key).tolist()
    meta = {
        "format_version": FORMAT_VERSION,
        "epoch": int(epoch),
        "history": history.to_dict(),
        "key": key_data,
        "has_best": best is not None,
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
        FileNotFoundError: no such file. ValueError: not a checkpoint of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load: no checkpoint at {str(path)!r}")
    with np.load(path) as z:
        if "meta" not in z.files or "net" not in z.files:
            raise ValueError(f"load: {str(path)!r} is not a dynapse2 checkpoint")
        meta = json.loads(z["meta"].tobytes().decode())
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"load: {str(path)!r} has format version {meta.get('format_version')!r}; "
                f"this library reads version {FORMAT_VERSION}"
            )
        net = eqx.tree_deserialise_leaves(io.BytesIO(z["net"].tobytes()), like)
        best = None
        if meta["has_best"]:
            best = eqx.tree_deserialise_leaves(io.BytesIO(z["best"].tobytes()), like)
        n_opt = sum(1 for k in z.files if k.startswith("opt_"))
        opt = [np.array(z[f"opt_{i}"]) for i in range(n_opt)]
    key = None if meta["key"] is None else jax.numpy.asarray(meta["key"], dtype=np.uint32)
    return Checkpoint(
        net=net,
        opt_state_leaves=opt,
        history=History.from_dict(meta["history"]),
        epoch=int(meta["epoch"]),
        key=key,
        best=best,
    )
