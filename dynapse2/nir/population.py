"""One NIR neuron node (and the weights into it) as ``[Linear, DynapSim]``: the mapping of
:mod:`dynapse2.nir.mapping` applied to a population."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from dynapse2.nir.graph import Conn
from dynapse2.nir.mapping import (
    IMPORT_SOLVER,
    READOUT_FLOOR,
    READOUT_SPAN,
    SPKTHR_MAX,
    WEIGHT_MAX,
    charge,
    dpi_currents,
    leak_node,
)
from dynapse2.nir.nodes import LifParams, lif_params, reject
from dynapse2.nn.dynapsim import DynapSim
from dynapse2.nn.linear import Linear
from dynapse2.physics import constants as K
from dynapse2.solvers import solver_from_name

Readout = tuple[float, np.ndarray, np.ndarray]
"""(rest (A), alpha (A per NIR volt, ``(n,)``), v_leak (NIR volts, ``(n,)``)) of a readout."""


def import_population(
    name: str,
    node: Any,
    ff: Conn,
    rec: Conn | None,
    dt: float,
    backend: str,
    readout_range: float = 1.0,
    solver: str = IMPORT_SOLVER,
) -> tuple[list[Any], list[str], Readout | None]:
    """``[Linear, DynapSim]`` of the NIR neuron node ``name`` fed by ``ff`` (and ``rec``, its
    self-recurrence), run by ``solver`` (a name of :data:`dynapse2.solvers.SOLVERS`), the
    notes of what was approximated, and for a readout its :data:`Readout` scale (None for a
    spiking population)."""
    p = lif_params(node, dt, solver)
    assert p.tau_syn is not None  # lif_params gives every node a synapse once dt is known
    n = p.tau_mem.size
    cur = dpi_currents(p.tau_mem, p.tau_syn, dt, solver)
    isum = leak_node(cur["Itau_mem"])
    gain = cur["Igain_mem"] / isum
    alpha, rest, idc = _soma(p, cur, isum, gain, readout_range)
    j = charge(cur["Igain_ampa"], cur["Itau_ampa"], K.ISCALE, K.T_PULSE, p.tau_syn)
    # NIR weight -> Iscale; a spike is one step of height 1 (area dt)
    k_syn = alpha * p.r * p.w_in * dt / (gain * p.tau_syn * j)
    k_dc = alpha * p.r * p.w_in / gain  # NIR bias -> A
    idc = _dc(idc, k_dc, ff, rec, p.approx)
    w_in, w_ff, w_rec = _weights(name, node, n, ff, rec, k_syn)
    w_ff, w_rec, iscale = _weight_unit(w_ff, w_rec, p.approx)
    lin = Linear((w_in.shape[1], n), weight=w_ff)
    values: dict[str, Any] = {**cur, "Idc": idc}
    pop = DynapSim(
        n,
        has_rec=rec is not None,
        w_rec=w_rec,
        dt=dt,
        backend=backend,
        positive_feedback=False,
        solver=solver_from_name(solver),
        Iscale=iscale,
        **values,
    )
    if rest is None:
        return [lin, pop], p.approx, None
    # a readout starts at rest (v = v_leak), as the NIR readout does, not at I_0
    pop = pop.set_attributes({"imem": jnp.full((n,), rest, jnp.float32)})
    return [lin, pop], p.approx, (rest, alpha, p.v_leak)


def _soma(
    p: LifParams,
    cur: dict[str, np.ndarray],
    isum: np.ndarray,
    gain: np.ndarray,
    readout_range: float,
) -> tuple[np.ndarray, float | None, np.ndarray]:
    """The soma's scale alpha (A per NIR volt, ``(n,)``), its rest current (A; None for a
    spiking population) and its DC before biases (A, ``(n,)``). A readout's threshold is set
    in ``cur`` at the top of its range, and its linear range noted in ``p.approx``."""
    n = p.tau_mem.size
    rest: float | None = None
    if p.v_threshold is None:  # a readout: thresholded soma, threshold at the top of its range
        alpha = np.full(n, READOUT_SPAN / readout_range)
        rest = READOUT_SPAN + READOUT_FLOOR * float(cur["Igain_mem"].max())
        cur["Ispkthr"] = np.full(n, SPKTHR_MAX)
        idc = isum + rest / gain
        p.approx.append(
            f"I_mem is the output, v = v_leak + (I_mem - {rest:.3g} A) / {alpha[0]:.3g} A/V; "
            f"linear for |v - v_leak| <= {readout_range:g}, never spikes below "
            f"{SPKTHR_MAX:.3g} A"
        )
    else:
        alpha = cur["Ispkthr"] / (p.v_threshold - p.v_leak)
        idc = isum.copy()  # the DC cancels the leak node's offset
    return alpha, rest, idc


def _dc(
    idc: np.ndarray, k_dc: np.ndarray, ff: Conn, rec: Conn | None, approx: list[str]
) -> np.ndarray:
    """The DC current (A, ``(n,)``) with the NIR biases of ``ff`` and ``rec`` added (``k_dc``
    A per NIR bias unit), clipped at I_0 (noted in ``approx``)."""
    if ff.b is not None:
        idc = idc + k_dc * ff.b
    if rec is not None and rec.b is not None:
        idc = idc + k_dc * rec.b
    if (idc < K.IO).any():
        approx.append(f"negative DC clipped at I_0 ({int((idc < K.IO).sum())} neurons)")
        idc = np.maximum(idc, K.IO)
    return idc


def _weights(
    name: str, node: Any, n: int, ff: Conn, rec: Conn | None, k_syn: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The NIR input weights ``(n, in)`` and the DynapSim weights (units of the nominal
    Iscale; ``k_syn`` per NIR weight unit): feed-forward ``(in, n)``, recurrent ``(pre, post)``
    (None without ``rec``)."""
    w_in = np.eye(n) if ff.w is None else ff.w
    if w_in.shape[0] != n:
        raise reject(name, node, f"input weights of shape {w_in.shape}", f"expected ({n}, .)")
    w_ff = (w_in * k_syn[:, None]).T  # (in, n), units of the nominal Iscale
    w_rec = None
    if rec is not None:
        w_rec = (np.eye(n) if rec.w is None else rec.w) * k_syn[:, None]  # (post, pre)
        w_rec = w_rec.T  # DynapSim: row presynaptic, column postsynaptic
    return w_in, w_ff, w_rec


def _weight_unit(
    w_ff: np.ndarray, w_rec: np.ndarray | None, approx: list[str]
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """The weights rescaled to the weight unit Iscale (A), and Iscale: raised above
    ``K.ISCALE`` (noted in ``approx``) where a weight would exceed WEIGHT_MAX unit weights, so
    that every weight fits the 4 bits of the core's base weights (and fit's default bound)."""
    w_max = max(
        float(np.abs(w_ff).max(initial=0)),
        float(np.abs(w_rec).max(initial=0)) if w_rec is not None else 0.0,
    )
    iscale = K.ISCALE * max(1.0, w_max / WEIGHT_MAX)
    if iscale > K.ISCALE:
        w_ff = w_ff * (K.ISCALE / iscale)
        w_rec = None if w_rec is None else w_rec * (K.ISCALE / iscale)
        approx.append(f"Iscale {iscale * 1e9:.3g} nA (weights up to {WEIGHT_MAX:g} units)")
    return w_ff, w_rec, iscale


__all__ = ["Readout", "import_population"]
