"""Quantization-aware training: simulate the network the chip would hold, train the floats.

:func:`quantization_aware` returns a transform for :func:`dynapse2.train.fit`::

    qat = quantization_aware(net)     # fits the chip's levels once
    net, _ = fit(net, x, y, loss, robustness=Robustness(transform=qat), ...)
    mapping = map_network(qat(net))   # deploy the weights training saw

(forward: quantized; backward: identity).

Inside the loss, every weight the mapper quantizes (each ``Linear`` weight feeding a
``DynapSim`` and each ``w_rec``) is replaced by its nearest level on its postsynaptic core,
and (``currents=True``) every DynapSim current by its bias-generator value, with a
straight-through gradient (:func:`~dynapse2.hardware.weights.fake_quantize_levels`). So the
forward pass is the quantized network's, bit for bit, and the floats keep learning.

Decisions (measured on the frozen-noise example, 60 -> 32 neurons on one core):

- The per-core base currents (the 16 levels) are **frozen**: fitted once, by
  :func:`~dynapse2.hardware.network.map_network` itself, when the transform is built. A fit
  runs Lloyd's algorithm from ~100 starts in NumPy and snaps the bases to the BG grid
  (~0.3 s for this layer): it cannot run inside the jitted step, and a differentiable,
  jittable re-fit would not give the mapper's levels. Between rounds of ``fit`` one may
  build a new transform from the current weights; the transform is an ``equinox.Module``
  whose level tables are arrays, so a new one of the same network reuses the compiled step.
- With ``activity=`` (per-source rates), the levels are the mapper's activity-weighted fit
  (:func:`~dynapse2.hardware.network.map_network`). Training rounds every weight to its
  nearest level; the mapper's rounding that keeps each neuron's mean drive applies to
  weights between levels, so deploying ``qat(net)`` (weights on the levels) gives the
  network training simulated, as without ``activity``.
- The neuron -> core assignment is the mapper's placement (``DynapSim.groups``), so the
  cores sharing levels in training are those sharing them on the chip.
- Deploy ``qat(net)``, not ``net``: after training the floats sit anywhere inside the
  levels' bins, and re-fitting bases on them may pick other levels than those the network
  was trained through. ``qat(net)`` holds exactly the trained levels (values that are sums
  of BG currents), which the mapper recovers as they are (see
  :mod:`dynapse2.hardware.levels`), so ``map_network(qat(net)).network`` simulates what
  training simulated.
- Currents are frozen at their BG values at construction: with trainable currents either
  pass ``currents=False`` (the forward then uses the float currents) or rebuild the
  transform between rounds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from dynapse2.hardware.activity import check_activity
from dynapse2.hardware.levels import level_table
from dynapse2.hardware.network import map_network
from dynapse2.hardware.weights import fake_quantize_levels
from dynapse2.nn import CURRENTS, DynapSim, Linear, Sequential
from dynapse2.nn.connectivity import SparseWeights
from dynapse2.nn.module import Module
from dynapse2.nn.sequential import population_slots

__all__ = ["QuantizationAware", "quantization_aware"]


def _slots(net: Module) -> tuple[tuple[int | None, int], ...]:
    """Per population ``(index of its input Linear or None, index of the DynapSim)`` in
    ``net.modules`` (:func:`~dynapse2.nn.sequential.population_slots`)."""
    return population_slots(net, "quantization_aware")


def _module(net: Module, i: int) -> Module:
    return net.modules[i] if isinstance(net, Sequential) else net


def _linear(net: Module, i: int) -> Linear:
    """The Linear at slot index ``i`` of ``net`` (see :func:`_slots`)."""
    m = _module(net, i)
    if not isinstance(m, Linear):
        raise TypeError(f"quantization_aware: module {i} is a {type(m).__name__}, not a Linear")
    return m


def _sim(net: Module, i: int) -> DynapSim:
    """The DynapSim at slot index ``i`` of ``net`` (see :func:`_slots`)."""
    m = _module(net, i)
    if not isinstance(m, DynapSim):
        raise TypeError(f"quantization_aware: module {i} is a {type(m).__name__}, not a DynapSim")
    return m


def _straight_through(value: jax.Array, like: jax.Array) -> jax.Array:
    """``value`` in the forward pass (exactly), gradient of ``like`` in the backward pass."""
    return jax.lax.stop_gradient(value) + (like - jax.lax.stop_gradient(like))


class QuantizationAware(eqx.Module):
    """The transform ``net -> net'`` of quantization-aware training (see the module docstring).

    Attributes:
        levels: per population, ``(n_cores, 16)`` float32 realisable weight magnitudes of its
            cores (units of ``Iscale``; index = CAM mask), from the mapper's fit.
        core: per population, ``(n,)`` int32 core (row of ``levels``) of each neuron.
        currents: per population, the DynapSim currents (name -> ``(n,)`` A) as the bias
            generator realises them; ``None`` when currents are left as they are.
        slots: per population, the module indices of its input Linear (or None) and DynapSim.
    """

    levels: tuple[jax.Array, ...]
    core: tuple[jax.Array, ...]
    currents: tuple[dict[str, jax.Array], ...] | None
    slots: tuple[tuple[int | None, int], ...] = eqx.field(static=True)

    def __call__(self, net: Module) -> Module:
        """``net`` with every mapped weight (and current) replaced by its quantized value,
        gradients passing straight through. Pure and jit-compatible.

        Raises:
            ValueError: ``net`` does not have the structure the transform was built for.
        """
        if _slots(net) != self.slots:
            raise ValueError(
                "quantization_aware: the network's layers differ from those the transform was "
                f"built for (populations at module indices {self.slots}, got {_slots(net)})"
            )
        getters, values = [], []
        for p, (li, di) in enumerate(self.slots):
            lv, core = self.levels[p], self.core[p]
            if li is not None:
                getters.append(lambda t, i=li: _linear(t, i).weight)
                values.append(fake_quantize_levels(_linear(net, li).weight, lv, core))
            sim = _sim(net, di)
            if isinstance(sim.w_rec, SparseWeights):
                raise TypeError(
                    "quantization_aware: chip-shaped recurrent weights (SparseWeights) are not "
                    "supported; build the DynapSim with a dense w_rec"
                )
            if sim.w_rec is not None:
                getters.append(lambda t, i=di: _sim(t, i).w_rec)
                values.append(fake_quantize_levels(sim.w_rec, lv, core))
            if self.currents is not None:
                for name, value in self.currents[p].items():
                    getters.append(lambda t, i=di, n=name: getattr(_module(t, i), n))
                    values.append(_straight_through(value, getattr(sim, name)))
        return eqx.tree_at(lambda t: [g(t) for g in getters], net, values)


def quantization_aware(
    net: Module,
    *,
    currents: bool = True,
    positions: Sequence[tuple[int, int]] | None = None,
    activity: Sequence[Any] | None = None,
) -> QuantizationAware:
    """Build the quantization-aware transform of ``net`` for
    ``fit(..., robustness=Robustness(transform=...))``.

    Maps ``net`` once (:func:`~dynapse2.hardware.network.map_network`, same placement and
    weight fit as deployment) and freezes, per population and core, the 16 weight levels
    the fit chose and, with ``currents``, the BG values of the currents.

    Args:
        net: a network :func:`~dynapse2.hardware.network.map_network` accepts, with the
            weights to start fine-tuning from.
        currents: also replace the DynapSim currents by their BG values (frozen; see the
            module docstring).
        positions: chip grid positions, as for ``map_network``.
        activity: per-source rates (Hz) for the activity-weighted fit of the levels, as for
            ``map_network``; deploy with the same ``activity`` (or ``map_network(qat(net))``,
            which recovers the trained levels whatever the fit).

    Returns:
        A :class:`QuantizationAware` (a callable ``equinox.Module``).

    Raises:
        ValueError: as ``map_network`` (unsupported network, over the chip's limits).
    """
    slots = _slots(net)
    if activity is not None:
        activity = check_activity("quantization_aware", net, activity)
    mapping = map_network(net, positions=positions, activity=activity)
    levels, cores, quantized = [], [], []
    sims = [m for m in mapping.network.modules if isinstance(m, DynapSim)]
    for p, (_, di) in enumerate(slots):
        fit = mapping.weights[p].fit
        iscale = float(_sim(net, di).Iscale)
        levels.append(jnp.asarray(level_table(fit.base, iscale), jnp.float32))
        cores.append(jnp.asarray(np.asarray(fit.core), jnp.int32))
        quantized.append({name: jnp.asarray(getattr(sims[p], name)) for name in CURRENTS})
    return QuantizationAware(
        levels=tuple(levels),
        core=tuple(cores),
        currents=tuple(quantized) if currents else None,
        slots=slots,
    )
