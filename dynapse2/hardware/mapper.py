"""The mapper: neurons -> chips and cores, tags, SRAM destinations and CAM entries.

Placement (:func:`place`). Populations (the DynapSim layers of a network) are placed one
after another; within a population every parameter group gets cores of its own (a core holds
one parameter group), at most 256 neurons per core, a group larger than 256 spanning several
cores; neurons keep their order within a group. Cores are filled in order: chip 0 cores
0..3, then chip 1, ... Chip ``i`` sits at grid position ``positions[i]`` (default
:func:`default_positions`: row-major on a square as small as the chip count allows).

Routing (:func:`route`). A *source* is a network input channel (a virtual neuron injected by
the host) or a neuron. A source reaches the neurons of a *target chip* through one event:
an SRAM destination (or, for an input channel, an :class:`~dynapse2.hardware.config.InputRoute`)
holding a tag, the x/y hops from the source's chip to the target chip, and the 4-bit mask of
the target chip's cores that hold its postsynaptic partners. On those cores, a CAM entry of
each partner listens for the tag (dendrite = synapse type, 4-bit weight mask). Tag rule: a
tag identifies its source **per receiving chip**: on every chip the sources that send to it
get tags 0, 1, 2, ... (input channels first, by channel, then neurons, by population and
index; the reserved tag 2047 is skipped), so a source may carry different tags to different
chips, and a chip hears at most 2047 distinct sources. Output neurons get one more
destination toward the host (``chip.HOST_HOPS``) whose tag is the output channel's tag,
unique over the whole board (0, 1, ... in output order), since events reaching the host do
not say which chip sent them.

Limits checked, each error naming the neuron (or chip) and the limit: 64 CAM entries per
neuron, 4 SRAM destinations per neuron (one per target chip, plus one to the host for an
output neuron), 2047 tags per receiving chip, hops in -7..+7 (and never the host's hop).

The inverse, :func:`unroute`, reads the connections back from any configuration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dynapse2 import checks
from dynapse2.hardware import chip as C
from dynapse2.hardware.config import Chip, Configuration, Core, InputRoute, OutputRoute, Parameter

__all__ = [
    "Placement",
    "Connections",
    "default_positions",
    "place",
    "route",
    "unroute",
    "usable_tags",
    "flat_id",
    "check_fan_in",
]

_HOST = C.HOST_HOPS


def usable_tags(n: int) -> np.ndarray:
    """The first ``n`` tags that are not reserved, in increasing order."""
    tags = np.array([t for t in range(C.TAG_MAX + 1) if t not in C.RESERVED_TAGS])
    return tags[:n]


def flat_id(chip: np.ndarray | int, core: np.ndarray | int, neuron: np.ndarray | int):
    """One integer per hardware neuron: ``chip * 1024 + core * 256 + neuron``."""
    return (np.asarray(chip) * C.N_CORES + np.asarray(core)) * C.N_NEURONS_PER_CORE + np.asarray(
        neuron
    )


def default_positions(n_chips: int) -> tuple[tuple[int, int], ...]:
    """Grid positions ``(x, y)`` of ``n_chips`` chips: row-major on a square of side
    ``ceil(sqrt(n_chips))`` (at most ``chip.GRID_SIZE``), which keeps hops short."""
    checks.integer("default_positions", "n_chips", n_chips, lo=1)
    if n_chips > C.GRID_SIZE**2:
        raise ValueError(
            f"default_positions: n_chips = {n_chips}: a network needs {n_chips} chips; the "
            f"grid holds 1..{C.GRID_SIZE**2} chips ({C.GRID_SIZE} x {C.GRID_SIZE})"
        )
    side = max(1, math.ceil(math.sqrt(n_chips)))
    return tuple((i % side, i // side) for i in range(n_chips))


@dataclass(frozen=True)
class Placement:
    """Where every neuron of a network sits.

    Neurons are numbered globally, population after population (``layer``, ``index``).

    Attributes:
        layer, index: ``(N,)`` population of each neuron and its index in it.
        chip, core, neuron: ``(N,)`` its chip (index into ``Configuration.chips``), core
            (0..3) and neuron (0..255) on that core.
        positions: grid position ``(x, y)`` of every chip.
    """

    layer: np.ndarray
    index: np.ndarray
    chip: np.ndarray
    core: np.ndarray
    neuron: np.ndarray
    positions: tuple[tuple[int, int], ...]

    @property
    def n_chips(self) -> int:
        """Chips used."""
        return len(self.positions)

    @property
    def global_core(self) -> np.ndarray:
        """``(N,)`` ``chip * 4 + core`` of every neuron."""
        return self.chip * C.N_CORES + self.core

    def locate(self, layer: int, index: int) -> tuple[int, int, int]:
        """``(chip, core, neuron)`` of neuron ``index`` of population ``layer``."""
        hit = np.flatnonzero((self.layer == layer) & (self.index == index))
        if hit.size == 0:
            raise IndexError(f"Placement.locate: no neuron {index} in population {layer}")
        g = int(hit[0])
        return int(self.chip[g]), int(self.core[g]), int(self.neuron[g])

    def of_layer(self, layer: int) -> np.ndarray:
        """Global indices of the neurons of population ``layer``, in order."""
        return np.flatnonzero(self.layer == layer)

    def describe(self, g: int) -> str:
        """``"layer L neuron i (chip c, core k, neuron j)"`` for global neuron ``g``."""
        return (
            f"layer {int(self.layer[g])} neuron {int(self.index[g])} (chip {int(self.chip[g])}, "
            f"core {int(self.core[g])}, neuron {int(self.neuron[g])})"
        )

    def summary(self) -> str:
        """One line per used core: chip, position, core, population and neuron range."""
        rows = [f"{len(self.layer)} neurons on {self.n_chips} chip(s)"]
        for gc in np.unique(self.global_core).tolist():
            sel = np.flatnonzero(self.global_core == gc)
            ch, co = divmod(gc, C.N_CORES)
            layers = np.unique(self.layer[sel])
            idx = self.index[sel]
            rows.append(
                f"  chip {ch} at {self.positions[ch]}, core {co}: {sel.size:3d} neurons of layer "
                f"{','.join(map(str, layers.tolist()))} (index {int(idx.min())}..{int(idx.max())})"
            )
        return "\n".join(rows)


def place(
    groups: Sequence[Sequence[int]],
    positions: Sequence[tuple[int, int]] | None = None,
) -> Placement:
    """Place populations on cores and chips.

    Args:
        groups: one sequence per population: the parameter group of each of its neurons
            (``DynapSim.groups``). Each (population, group) gets cores of its own, in
            increasing group order, 256 neurons per core at most.
        positions: grid position of each chip; default :func:`default_positions`.

    Returns:
        A :class:`Placement`.

    Raises:
        ValueError: more chips are needed than ``positions`` gives or the grid holds, or
            positions repeat.
    """
    layer_l, index_l, gcore_l, slot_l = [], [], [], []
    next_core = 0
    for li, g in enumerate(groups):
        g = np.asarray(g, dtype=np.int64)
        for grp in np.unique(g).tolist():
            members = np.flatnonzero(g == grp)
            for start in range(0, members.size, C.N_NEURONS_PER_CORE):
                chunk = members[start : start + C.N_NEURONS_PER_CORE]
                layer_l.append(np.full(chunk.size, li))
                index_l.append(chunk)
                gcore_l.append(np.full(chunk.size, next_core))
                slot_l.append(np.arange(chunk.size))
                next_core += 1
    n_chips = max(1, math.ceil(next_core / C.N_CORES))
    if positions is None:
        positions = default_positions(n_chips)
    for i, p in enumerate(positions):
        if (
            not isinstance(p, tuple | list)
            or len(p) != 2
            or not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in p)
        ):
            raise ValueError(f"positions[{i}] = {p!r} must be a grid position (x, y) of integers")
    positions = tuple((int(x), int(y)) for x, y in positions)
    if len(positions) < n_chips:
        raise ValueError(
            f"the network needs {next_core} cores, i.e. {n_chips} chips, but positions "
            f"lists only {len(positions)} chip(s)"
        )
    positions = positions[:n_chips]
    if len(set(positions)) != len(positions):
        raise ValueError(f"chip positions must be distinct, got {positions}")
    cat = (
        (lambda xs: np.concatenate(xs).astype(np.int64))
        if layer_l
        else (lambda xs: np.zeros(0, np.int64))
    )
    layer, index, gcore, slot = cat(layer_l), cat(index_l), cat(gcore_l), cat(slot_l)
    order = np.lexsort((index, layer))  # global numbering: population, then index
    return Placement(
        layer=layer[order],
        index=index[order],
        chip=gcore[order] // C.N_CORES,
        core=gcore[order] % C.N_CORES,
        neuron=slot[order],
        positions=positions,
    )


@dataclass(frozen=True)
class Connections:
    """Synapses of a network, one row per CAM entry to write.

    ``pre`` numbers sources: ``0 .. n_inputs - 1`` are input channels, ``n_inputs + g`` is
    global neuron ``g`` (of a :class:`Placement`). ``post`` is a global neuron,
    ``dendrite`` a samna dendrite code (``chip.DENDRITE_CODES``), ``weight`` a 4-bit mask.
    """

    n_inputs: int
    pre: np.ndarray
    post: np.ndarray
    dendrite: np.ndarray
    weight: np.ndarray


def _hops(positions, src_chip: int, dst_chip: int) -> tuple[int, int]:
    (x0, y0), (x1, y1) = positions[src_chip], positions[dst_chip]
    return x1 - x0, y1 - y0


def _source_name(pre: int, n_in: int, placement: Placement) -> str:
    return f"input channel {pre}" if pre < n_in else placement.describe(pre - n_in)


def route(
    placement: Placement,
    conns: Connections,
    outputs: Sequence[int],
    *,
    parameters: Mapping[int, Mapping[str, Parameter]] | None = None,
    latches: np.ndarray | None = None,
    meta: Mapping | None = None,
) -> Configuration:
    """Build the configuration of a placed network: tags, destinations, CAM entries, maps.

    Args:
        placement: where the neurons are.
        conns: the synapses (at most 64 per postsynaptic neuron).
        outputs: global neuron of each output channel, in channel order.
        parameters: global core (``chip * 4 + core``) -> BG name -> :class:`Parameter`.
        latches: ``(N, 14)`` bool latches of every global neuron (``chip.NEURON_LATCHES``).
        meta: ``Configuration.meta``.

    Returns:
        A validated :class:`~dynapse2.hardware.config.Configuration`.

    Raises:
        ValueError: a limit of the chip is exceeded; the message names the neuron (or chip)
            and the limit.
    """
    n_chips = placement.n_chips
    pre = np.asarray(conns.pre, np.int64)
    post = np.asarray(conns.post, np.int64)
    # first: the most common way a network does not fit
    check_fan_in(placement, np.bincount(post, minlength=len(placement.layer)))
    events = _events(pre, placement.chip[post], placement.core[post], conns.n_inputs, placement)
    params = parameters or {}
    cores = [
        [
            Core._unchecked(dict(params.get(ch * C.N_CORES + co, {})), 0, {}, {})
            for co in range(C.N_CORES)
        ]
        for ch in range(n_chips)
    ]  # empty chips with their parameters
    outputs = [int(g) for g in outputs]
    out_tags = usable_tags(len(outputs))
    if len(out_tags) < len(outputs):
        raise ValueError(
            f"{len(outputs)} output channels, but only {len(usable_tags(C.TAG_MAX + 1))} "
            "tags can tell outputs apart at the host"
        )
    _write_destinations(cores, placement, events, conns.n_inputs, outputs, out_tags)
    _write_cam(cores, placement, conns, events)
    if latches is not None:
        for g in range(len(placement.layer)):
            core = cores[int(placement.chip[g])][int(placement.core[g])]
            core.latches[int(placement.neuron[g])] = latches[g]
    output_map = {
        j: OutputRoute(
            chip=int(placement.chip[g]),
            core=int(placement.core[g]),
            neuron=int(placement.neuron[g]),
            tag=int(out_tags[j]),
        )
        for j, g in enumerate(outputs)
    }
    chips = [Chip._unchecked(cores[ch], placement.positions[ch], {}, {}) for ch in range(n_chips)]
    input_map = _input_map(events, conns.n_inputs)
    return Configuration(chips, input_map=input_map, output_map=output_map, meta=meta)


@dataclass
class _Events:
    """One event per (source, target chip) pair, reaching the cores of its partners there,
    in increasing order of ``source * n_chips + chip``, with its tag on that chip;
    ``inverse`` maps each synapse to its event."""

    source: np.ndarray  # input channel, or n_inputs + global neuron id
    chip: np.ndarray  # target chip
    core_mask: np.ndarray  # bit c: the event reaches core c of the chip
    inverse: np.ndarray  # (n_synapses,) event of each synapse
    tag: np.ndarray  # tag of the event on its chip


def check_fan_in(
    placement: Placement,
    fan_in: np.ndarray,
    neurons: np.ndarray | None = None,
    what: str = "incoming synapses",
    hint: str = "",
) -> None:
    """A ValueError naming the first neuron with more than ``C.N_CAM`` (64) ``what`` (its CAM
    entries): ``fan_in[i]`` is the count of global neuron ``neurons[i]`` (default ``i``);
    ``hint`` is added to the advice (prune its inputs)."""
    if fan_in.size and fan_in.max() > C.N_CAM:
        i = int(np.argmax(fan_in))
        g = i if neurons is None else int(neurons[i])
        raise ValueError(
            f"{placement.describe(g)} has {int(fan_in[i])} {what}; a neuron has {C.N_CAM} CAM "
            f"entries (prune its inputs to at most {C.N_CAM}{hint})"
        )


def _events(
    pre: np.ndarray, tchip: np.ndarray, tcore: np.ndarray, n_in: int, placement: Placement
) -> _Events:
    n_chips = placement.n_chips
    key = pre * n_chips + tchip
    uniq, inv = np.unique(key, return_inverse=True)
    cmask = np.zeros(uniq.size, np.int64)
    np.bitwise_or.at(cmask, inv, 1 << tcore)
    source, chip_of = uniq // n_chips, uniq % n_chips
    tag = _assign_tags(source, chip_of, n_in, placement)
    return _Events(source, chip_of, cmask, inv.ravel(), tag)


def _assign_tags(
    source: np.ndarray, chip_of: np.ndarray, n_in: int, placement: Placement
) -> np.ndarray:
    """Tags per receiving chip: sources in increasing order (inputs, then neurons)."""
    tag = np.zeros(source.size, np.int64)
    all_tags = usable_tags(C.TAG_MAX + 1)
    for ch in range(placement.n_chips):
        sel = np.flatnonzero(chip_of == ch)  # already sorted by source
        if sel.size > all_tags.size:
            first = int(source[sel[all_tags.size]])
            raise ValueError(
                f"chip {ch} receives events from {sel.size} distinct sources, but a chip has "
                f"only {all_tags.size} usable tags (0..{C.TAG_MAX} less the reserved "
                f"{sorted(C.RESERVED_TAGS)}); the first one over the limit is "
                f"{_source_name(first, n_in, placement)}"
            )
        tag[sel] = all_tags[: sel.size]
    return tag


def _write_destinations(
    cores: list[list[Core]],
    placement: Placement,
    events: _Events,
    n_in: int,
    outputs: list[int],
    out_tags: np.ndarray,
) -> None:
    """SRAM destinations of neurons (and the host route of output neurons)."""
    pos = placement.positions
    dests: dict[int, list[tuple[int, int, int, int]]] = {}
    for p, ch, m, t in zip(
        events.source.tolist(), events.chip.tolist(), events.core_mask.tolist(),
        events.tag.tolist(), strict=True,
    ):  # fmt: skip
        if p < n_in:
            continue
        g = p - n_in
        src = int(placement.chip[g])
        dx, dy = _hops(pos, src, ch)
        if not (C.HOP_MIN <= dx <= C.HOP_MAX and C.HOP_MIN <= dy <= C.HOP_MAX):
            raise ValueError(
                f"{placement.describe(g)} at {pos[src]} projects to chip {ch} "
                f"at {pos[ch]}: hops ({dx}, {dy}) are outside {C.HOP_MIN}..{C.HOP_MAX}"
            )
        if (dx, dy) == _HOST:
            raise ValueError(
                f"{placement.describe(g)} projects to chip {ch} at hops {_HOST}, which is the "
                "route to the host; place the chips differently (positions=...)"
            )
        dests.setdefault(g, []).append((t, m, dx, dy))
    for j, g in enumerate(outputs):
        dests.setdefault(g, []).append((int(out_tags[j]), (1 << C.N_CORES) - 1, *_HOST))
    for g, lst in dests.items():
        if len(lst) > C.N_SRAM:
            raise ValueError(
                f"{placement.describe(g)} needs {len(lst)} SRAM destinations (one per target "
                f"chip{', plus one to the host as an output' if g in outputs else ''}); a "
                f"neuron has {C.N_SRAM}"
            )
        core = cores[int(placement.chip[g])][int(placement.core[g])]
        n = int(placement.neuron[g])
        for k, (t, m, dx, dy) in enumerate(lst):
            core.dest_tag[n, k], core.dest_core[n, k] = t, m
            core.dest_x_hop[n, k], core.dest_y_hop[n, k] = dx, dy


def _write_cam(
    cores: list[list[Core]], placement: Placement, conns: Connections, events: _Events
) -> None:
    """CAM entries: per postsynaptic neuron, ordered by source then synapse type."""
    pre = np.asarray(conns.pre, np.int64)
    post = np.asarray(conns.post, np.int64)
    code_rank = {code: r for r, code in enumerate(sorted(set(C.DENDRITE_CODES.values())))}
    rank = np.array([code_rank[int(d)] for d in conns.dendrite], np.int64)
    order = np.lexsort((rank, pre, post))
    post_o = post[order]
    start = np.searchsorted(post_o, post_o, side="left")
    slot = np.arange(order.size) - start
    for i, k in zip(order.tolist(), slot.tolist(), strict=True):
        g = int(post[i])
        core = cores[int(placement.chip[g])][int(placement.core[g])]
        n = int(placement.neuron[g])
        core.syn_tag[n, k] = int(events.tag[events.inverse[i]])
        core.syn_dendrite[n, k] = int(conns.dendrite[i])
        core.syn_weight[n, k] = int(conns.weight[i])


def _input_map(events: _Events, n_in: int) -> dict[int, tuple[InputRoute, ...]]:
    """The chips, tags and cores each input channel's events go to."""
    input_map: dict[int, tuple[InputRoute, ...]] = {}
    for p, ch, m, t in zip(
        events.source.tolist(), events.chip.tolist(), events.core_mask.tolist(),
        events.tag.tolist(), strict=True,
    ):  # fmt: skip
        if p < n_in:
            input_map.setdefault(p, ())
            input_map[p] = input_map[p] + (InputRoute(chip=ch, tag=t, core_mask=m),)
    return input_map


@dataclass(frozen=True)
class Synapses:
    """Connections read back from a configuration (:func:`unroute`), one row per active CAM
    entry whose tag some source delivers.

    Attributes:
        pre_input: ``(E,)`` bool, True where the source is an input channel.
        pre: ``(E,)`` input channel, or :func:`flat_id` of the source neuron.
        post: ``(E,)`` :func:`flat_id` of the postsynaptic neuron.
        dendrite, weight: ``(E,)`` samna dendrite code and 4-bit weight mask.
        outputs: host tag -> :func:`flat_id` of the neuron that sends it to the host.
        dangling: active CAM entries whose tag no source delivers (they never fire).
    """

    pre_input: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    dendrite: np.ndarray
    weight: np.ndarray
    outputs: dict[int, int]
    dangling: int


def _delivered(
    cfg: Configuration,
) -> tuple[dict[tuple[int, int, int], tuple[bool, int]], dict[int, int]]:
    """Who delivers which tag where: ``(chip, core, tag) -> (from an input, source id)``, and
    the host tag -> neuron of every output route."""
    where = {tuple(c.position): i for i, c in enumerate(cfg.chips)}
    heard: dict[tuple[int, int, int], tuple[bool, int]] = {}
    outputs: dict[int, int] = {}

    def deliver(
        src: tuple[bool, int], chip_i: int, dx: int, dy: int, mask: int, tag: int, what: str
    ) -> None:
        x, y = cfg.chips[chip_i].position
        target = where.get((x + dx, y + dy))
        if target is None:
            raise ValueError(
                f"{what}: hops ({dx}, {dy}) from chip {chip_i} at {(x, y)} lead to no chip"
            )
        for co in range(C.N_CORES):
            if mask >> co & 1:
                k = (target, co, tag)
                if k in heard and heard[k] != src:
                    raise ValueError(
                        f"{what}: tag {tag} reaches chip {target} core {co} from two sources; "
                        "tags must identify their source on each receiving core"
                    )
                heard[k] = src

    for ch, routes in cfg.input_map.items():
        for r in routes:
            deliver((True, ch), r.chip, r.x_hop, r.y_hop, r.core_mask, r.tag, f"input {ch}")
    for ci, chip in enumerate(cfg.chips):
        for co, core in enumerate(chip.cores):
            for n, k in np.argwhere(core.dest_core != 0).tolist():
                dx, dy = int(core.dest_x_hop[n, k]), int(core.dest_y_hop[n, k])
                src = int(flat_id(ci, co, n))
                if (dx, dy) == _HOST:
                    outputs[int(core.dest_tag[n, k])] = src
                    continue
                deliver(
                    (False, src),
                    ci,
                    dx,
                    dy,
                    int(core.dest_core[n, k]),
                    int(core.dest_tag[n, k]),
                    f"chip {ci} core {co} neuron {n}",
                )
    return heard, outputs


def _cam_entries(
    cfg: Configuration, heard: dict[tuple[int, int, int], tuple[bool, int]]
) -> tuple[list[list[np.ndarray]], int]:
    """Every core's CAM entries with the source that delivers their tag: the columns
    ``(pre_input, pre, post, dendrite, weight)``, and the number of entries no source
    reaches."""
    # Dense (chip, core, tag) -> source tables, then every core's CAM entries at once.
    src_id = np.full((len(cfg.chips), C.N_CORES, C.TAG_MAX + 1), -1, np.int64)
    src_input = np.zeros(src_id.shape, bool)
    for (target, co, tag), (is_input, src) in heard.items():
        src_id[target, co, tag], src_input[target, co, tag] = src, is_input
    cols: list[list[np.ndarray]] = [[], [], [], [], []]
    dangling = 0
    for ci, chip in enumerate(cfg.chips):
        for co, core in enumerate(chip.cores):
            n, k = np.nonzero(core.syn_dendrite != 0)
            tag = core.syn_tag[n, k]
            found = src_id[ci, co, tag] >= 0
            dangling += int((~found).sum())
            n, k, tag = n[found], k[found], tag[found]
            for out, v in zip(
                cols,
                (
                    src_input[ci, co, tag],
                    src_id[ci, co, tag],
                    flat_id(ci, co, n),
                    core.syn_dendrite[n, k],
                    core.syn_weight[n, k],
                ),
                strict=True,
            ):
                out.append(v)
    return cols, dangling


def unroute(cfg: Configuration) -> Synapses:
    """Read the connections a configuration implements.

    Every active destination (non-empty core mask) delivers its tag to the cores in its mask
    on the chip its hops lead to (``chip.HOST_HOPS`` leads to the host); every input route
    likewise from its chip. A CAM entry hears the source that delivers its tag to its core.

    Raises:
        ValueError: a destination leads to a position without a chip, or two sources deliver
            the same tag to the same core (the configuration is ambiguous).
    """
    heard, outputs = _delivered(cfg)
    cols, dangling = _cam_entries(cfg, heard)
    pre_input, pre, post, dendrite, weight = (np.concatenate(c) if c else np.zeros(0) for c in cols)
    return Synapses(
        pre_input=pre_input.astype(bool),
        pre=pre.astype(np.int64),
        post=post.astype(np.int64),
        dendrite=dendrite.astype(np.int64),
        weight=weight.astype(np.int64),
        outputs=outputs,
        dangling=dangling,
    )
