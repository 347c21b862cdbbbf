"""The exact round trip ``from_nir(to_nir(net))``: :func:`to_nir` writes every module
parameter into the NIR nodes' metadata (float32 arrays of the currents, ``w_rec`` and mismatch
factors; JSON of the static settings), and :func:`from_nir` rebuilds a population from it bit
for bit instead of re-deriving it from the ``CubaLIF`` approximation."""

from __future__ import annotations

import json
from typing import Any

import jax.numpy as jnp
import numpy as np

from dynapse2 import checks
from dynapse2.nir.graph import Conn
from dynapse2.nn.dynapsim import CURRENTS, DynapSim, _replace
from dynapse2.nn.linear import Linear
from dynapse2.solvers import solver_from_name

FORMAT = "dynapse2.nir/1"
"""The metadata format written by :func:`population_metadata` (and the graph's
``dynapse2.format``)."""


def exact(node: Any) -> dict[str, Any] | None:
    """The settings :func:`population_metadata` wrote into ``node``, or None (a node from
    another exporter, or another format)."""
    meta = getattr(node, "metadata", None) or {}
    s = meta.get("dynapse2")
    if s is None:
        return None
    s = s.decode() if isinstance(s, bytes) else str(s)
    d = json.loads(s)
    return d if d.get("format") == FORMAT else None


def population_metadata(m: DynapSim, lin: Linear | None) -> dict[str, Any]:
    """The metadata of population ``m`` (and of its input ``Linear``'s bias flag) from which
    :func:`rebuild` makes it again."""
    d = {
        "format": FORMAT,
        "n": m.n,
        "dt": m.dt,
        "has_rec": m.w_rec is not None,
        "capacitances": m.capacitances,
        "constants": {k: getattr(m, k) for k in ("Iscale", "Ut", "kappa_n", "kappa_p", "Io")}
        | {"Vth": m.Vth},
        "groups": list(m.groups),
        "mismatch": m.mismatch,
        "mismatch_names": sorted(m.mismatch_factors) if m.mismatch_factors else [],
        "synapse_model": m.synapse_model,
        "detach_feedback": m.detach_feedback,
        "detach_reset": m.detach_reset,
        "surrogate": m.surrogate,
        "surrogate_slope": m.surrogate_slope,
        "solver": m.solver.name,
        "positive_feedback": m.positive_feedback,
        "linear_bias": None if lin is None or lin.bias is None else True,
    }
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    meta: dict[str, Any] = {"dynapse2": json.dumps(d)}
    meta |= {f"dynapse2.{c}": f32(getattr(m, c)) for c in CURRENTS}
    if m.w_rec is not None:
        meta["dynapse2.w_rec"] = f32(m.w_rec)
    for k, v in (m.mismatch_factors or {}).items():
        meta[f"dynapse2.mismatch.{k}"] = f32(v)
    return meta


def linear_metadata(lin: Linear) -> dict[str, Any]:
    """The metadata of a ``Linear`` (its exact weight and bias)."""
    meta = {"dynapse2.weight": np.asarray(lin.weight, np.float32)}
    if lin.bias is not None:
        meta["dynapse2.bias"] = np.asarray(lin.bias, np.float32)
    return meta


def rebuild(
    node: Any,
    d: dict[str, Any],
    ff: Conn,
    rec: Conn | None,
    nodes: dict[str, Any],
    dt: float,
    backend: str,
) -> tuple[list[Any], str]:
    """``[Linear,] DynapSim`` of a population written by ``to_nir`` (``d = exact(node)``), and
    what it became (a report cell)."""
    meta = node.metadata
    arr = lambda k: np.asarray(meta[f"dynapse2.{k}"])  # noqa: E731
    if abs(d["dt"] - dt) > 1e-12 * d["dt"]:
        raise ValueError(
            f"from_nir: the population was exported with dt = {d['dt']!r} s; rebuild it with "
            f"that dt (got {dt!r}) or strip its metadata to re-derive it"
        )
    values: dict[str, Any] = {c: arr(c) for c in CURRENTS} | d["capacitances"] | d["constants"]
    has_rec = d["has_rec"]
    pop = DynapSim(
        d["n"],
        has_rec=has_rec,
        w_rec=arr("w_rec") if has_rec else None,
        dt=d["dt"],
        groups=np.asarray(d["groups"], np.int64),
        backend=backend,
        synapse_model=d["synapse_model"],
        detach_feedback=d["detach_feedback"],
        detach_reset=d["detach_reset"],
        surrogate=d["surrogate"],
        surrogate_slope=d["surrogate_slope"],
        solver=solver_from_name(d.get("solver", "euler"), "dynapse2 metadata: solver"),
        positive_feedback=d.get("positive_feedback", True),  # older files: the exponential soma
        **values,
    )
    mismatch = checks.mismatch("from_nir", "dynapse2 metadata: mismatch", d["mismatch"])
    if mismatch > 0:  # the stored factors, not a fresh draw
        factors = {k: jnp.asarray(arr(f"mismatch.{k}")) for k in d["mismatch_names"]}
        pop = _replace(pop, mismatch=mismatch, mismatch_factors=factors)
    mods: list[Any] = []
    if ff.via:
        exact = [v for v in ff.via if "dynapse2.weight" in (nodes[v].metadata or {})]
        if len(exact) != 1 or len(ff.via) != 1:
            raise ValueError(
                f"from_nir: population exported by dynapse2 has input path {ff.via}; expected "
                "one Affine written by to_nir"
            )
        w = np.asarray(nodes[exact[0]].metadata["dynapse2.weight"])
        m = Linear(w.shape, weight=w)
        if d.get("linear_bias") is not None:
            m = m.set_attributes({"bias": jnp.asarray(nodes[exact[0]].metadata["dynapse2.bias"])})
        mods.append(m)
    return [*mods, pop], f"DynapSim({d['n']}{', has_rec' if has_rec else ''})"
