"""The double's ``samna.dynapse2``: the configuration object model and the event types.

Verified (samna 0.7.1.0's real build, through ``tests/hardware/test_samna.py``): the object
names, attributes, parameter tables, the ``Dendrite`` codes, that ``.chips`` returns a new
list and is assigned whole, that weights and core masks are lists of 4 bools. Assumed for
current samna (0.14+, from Rockpool's current interface): ``NormalGridEvent`` with ``.event``
(a ``Dynapse2Destination``) and ``.timestamp`` (us, 32-bit).
"""

from __future__ import annotations

import copy
import enum

from dynapse2.hardware import chip as C


class Dendrite(enum.IntEnum):
    none = C.DENDRITE_CODES["none"]
    ampa = C.DENDRITE_CODES["ampa"]
    gaba = C.DENDRITE_CODES["gaba"]
    nmda = C.DENDRITE_CODES["nmda"]
    shunt = C.DENDRITE_CODES["shunt"]


class Dynapse2Parameter:
    def __init__(self, type_: str = "N") -> None:
        self.coarse_value, self.fine_value, self.type = 0, 0, type_


def _group(table: dict[str, str]) -> dict[str, Dynapse2Parameter]:
    return {name: Dynapse2Parameter(t) for name, t in table.items()}


class Dynapse2Synapse:
    def __init__(self) -> None:
        self.tag, self.dendrite, self.weight = C.RESET_TAG, Dendrite.none, [False] * 4
        self.stp = self.precise_delay = self.mismatched_delay = False


class Dynapse2Destination:
    def __init__(self) -> None:
        self.tag, self.core, self.x_hop, self.y_hop = C.RESET_TAG, [False] * 4, 0, 0


class Dynapse2Neuron:
    def __init__(self) -> None:
        self.synapses = [Dynapse2Synapse() for _ in range(C.N_CAM)]
        self.destinations = [Dynapse2Destination() for _ in range(C.N_SRAM)]
        for name in C.NEURON_LATCHES:
            setattr(self, f"latch_{name}", False)


class Dynapse2Core:
    def __init__(self) -> None:
        self.parameters = _group(C.CORE_PARAMETERS)
        self.monitored_neuron = 0
        for name in C.CORE_FLAGS:
            setattr(self, name, False)
        self.neurons = [Dynapse2Neuron() for _ in range(C.N_NEURONS_PER_CORE)]


class Dynapse2Bioamps:
    def __init__(self) -> None:
        self.common_parameters = _group(C.CHIP_BIOAMP_COMMON_PARAMETERS)
        self.channel_parameters = [
            _group(C.CHIP_BIOAMP_CHANNEL_PARAMETERS) for _ in range(C.N_BIOAMP_CHANNELS)
        ]


class Dynapse2Chip:
    def __init__(self) -> None:
        self.global_parameters = _group(C.CHIP_GLOBAL_PARAMETERS)
        self.shared_parameters01 = _group(C.CHIP_SHARED_PARAMETERS)
        self.shared_parameters23 = _group(C.CHIP_SHARED_PARAMETERS)
        self.sadc_group_parameters01 = [
            _group(C.CHIP_SADC_PARAMETERS) for _ in range(C.N_SADC_GROUPS)
        ]
        self.sadc_group_parameters23 = [
            _group(C.CHIP_SADC_PARAMETERS) for _ in range(C.N_SADC_GROUPS)
        ]
        self.bioamps = Dynapse2Bioamps()
        for name in C.CHIP_FLAGS:
            setattr(self, name, False)
        self.cores = [Dynapse2Core() for _ in range(C.N_CORES)]


class Dynapse2Configuration:
    def __init__(self) -> None:
        self._chips = [Dynapse2Chip()]

    @property
    def chips(self) -> list[Dynapse2Chip]:
        return list(self._chips)  # a new list each time, as samna's

    @chips.setter
    def chips(self, value: list[Dynapse2Chip]) -> None:
        self._chips = list(value)

    def copy(self) -> Dynapse2Configuration:
        return copy.deepcopy(self)


class NormalGridEvent:
    def __init__(self) -> None:
        self.event, self.timestamp = Dynapse2Destination(), 0
