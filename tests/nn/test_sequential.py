"""population_slots / population_pairs: the one walk that pairs each DynapSim with the Linear
feeding it (used by map_network, quantization_aware and NIR export)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from dynapse2.nn import DynapSim, Linear, Sequential
from dynapse2.nn.sequential import population_pairs, population_slots

KEY = jax.random.PRNGKey(0)


def _lin(a: int, b: int) -> Linear:
    return Linear((a, b), weight=np.ones((a, b)))


def test_slots_and_pairs_of_a_chain():
    a, b, c = _lin(3, 4), DynapSim(4), DynapSim(4)
    lin2, d = _lin(4, 2), DynapSim(2)
    net = Sequential(a, b, c, lin2, d)
    assert population_slots(net, "f") == ((0, 1), (None, 2), (3, 4))
    pairs = population_pairs(net, "f")
    assert len(pairs) == 3
    for (p, s), (q, t) in zip(pairs, [(a, b), (None, c), (lin2, d)], strict=True):
        assert p is q and s is t


def test_a_lone_dynapsim_is_slot_zero():
    m = DynapSim(3)
    assert population_slots(m, "f") == ((None, 0),)
    assert population_pairs(m, "f")[0][1] is m


@pytest.mark.parametrize(
    ("net", "match"),
    [
        (Sequential(_lin(2, 2), _lin(2, 2), DynapSim(2)), r"^f: module 1: two Linear layers in a"),
        (Sequential(DynapSim(2), _lin(2, 3)), r"^f: the network ends with a Linear layer: why$"),
        (_lin(2, 2), r"^f: the network ends with a Linear layer: why$"),
    ],
)
def test_malformed_chains_are_refused(net, match):
    with pytest.raises(ValueError, match=match):
        population_slots(net, "f", "why")
    with pytest.raises(ValueError, match=match):
        population_pairs(net, "f", "why")


def test_another_module_kind_is_refused_by_name():
    class Other(Linear):
        pass

    # a subclass of Linear is a Linear; a Sequential inside a Sequential is another kind
    inner = Sequential(_lin(2, 2), DynapSim(2))
    with pytest.raises(ValueError, match=r"^f: module 0 is a Sequential; supported networks are"):
        population_slots(Sequential(inner, DynapSim(2)), "f")
    assert population_slots(Sequential(Other((2, 2), weight=np.ones((2, 2))), DynapSim(2)), "f")
