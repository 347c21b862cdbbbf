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
from dynapse2.nn.dynapsim import CURRENTS, SETTINGS, DynapSim, _replace
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
        "has_rec": m.w_rec is not None,
        "mismatch_names": sorted(m.mismatch_factors) if m.mismatch_factors else [],
        "linear_bias": None if lin is None or lin.bias is None else True,
    } | _json_settings(m)
    f32 = lambda v: np.asarray(v, np.float32)  # noqa: E731
    meta: dict[str, Any] = {"dynapse2": json.dumps(d)}
    meta |= {f"dynapse2.{c}": f32(getattr(m, c)) for c in CURRENTS}
    if m.w_rec is not None:
        meta["dynapse2.w_rec"] = f32(m.w_rec)
    for k, v in (m.mismatch_factors or {}).items():
        meta[f"dynapse2.mismatch.{k}"] = f32(v)
    return meta


def _json_settings(m: DynapSim) -> dict[str, Any]:
    """Every setting of ``m`` (:data:`~dynapse2.nn.dynapsim.SETTINGS`) as JSON: tuples as
    lists, the solver by name, ``plan_options`` by :meth:`PlanOptions.to_dict`."""
    out = {k: list(v) if isinstance(v, tuple) else v for k, v in m.settings().items()}
    return out | {"solver": m.solver.name, "plan_options": m.plan_options.to_dict()}


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
    # every setting stored (SETTINGS); older files nest the constants and lack the later ones
    stored = {k: d[k] for k in SETTINGS if k in d} | d.get("constants", {})
    solver = solver_from_name(stored.pop("solver", "euler"), "dynapse2 metadata: solver")
    first = {k: stored.pop(k) for k in ("dt", "positive_feedback") if k in stored}
    values = {c: arr(c) for c in CURRENTS} | stored.pop("capacitances")
    values |= {k: stored.pop(k) for k in ("Iscale", "Ut", "kappa_n", "kappa_p", "Io", "Vth")}
    has_rec = d["has_rec"]
    pop = DynapSim(
        d["n"],
        has_rec=has_rec,
        w_rec=arr("w_rec") if has_rec else None,
        backend=backend,
        solver=solver,
        **first,
        **values,
    )
    stored["mismatch"] = 0.0  # set with the stored factors below, not a fresh draw
    pop = pop.with_settings(**stored)  # the rest, the stored backend and plan_options included
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
        m = Linear(w.shape, weight=w, has_bias=d.get("linear_bias") is not None)
        if d.get("linear_bias") is not None:
            m = m.set_attributes({"bias": jnp.asarray(nodes[exact[0]].metadata["dynapse2.bias"])})
        mods.append(m)
    return [*mods, pop], f"DynapSim({d['n']}{', has_rec' if has_rec else ''})"
