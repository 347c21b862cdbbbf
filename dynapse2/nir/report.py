"""What :func:`dynapse2.nir.from_nir` did: one row per NIR node, and the readouts' scales."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ImportReport", "ReportRow"]


@dataclass(frozen=True)
class ReportRow:
    """One NIR node: its name, type, what it became, what was approximated."""

    node: str
    nir_type: str
    became: str
    approximated: str


@dataclass
class ImportReport:
    """What :func:`from_nir` did, one :class:`ReportRow` per NIR node; ``str()`` is a table."""

    rows: list[ReportRow] = field(default_factory=list)
    convention: str = ""
    """How the graph's parameters were read (:mod:`dynapse2.nir.conventions`); ``str()``
    shows it above the table."""
    readouts: dict[str, tuple[float, np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Per LI/CubaLI readout node: ``(rest, alpha, v_leak)``, rest in A, alpha in A per NIR
    volt, v_leak in NIR volts (``(n,)`` each): its potential is v = v_leak + (I_mem - rest) /
    alpha (see :meth:`potential`)."""

    def potential(self, imem: Any, node: str | None = None) -> np.ndarray:
        """The NIR potential v (float64, same shape as ``imem``, last axis the neurons) of
        readout ``node`` (default: the only one) from its membrane current ``imem`` (A),
        e.g. ``record["<k>_DynapSim"]["imem"]``."""
        if node is None:
            if len(self.readouts) != 1:
                raise ValueError(
                    f"ImportReport.potential: node = None, but the graph has readouts "
                    f"{sorted(self.readouts)}; name one"
                )
            node = next(iter(self.readouts))
        if node not in self.readouts:
            raise ValueError(
                f"ImportReport.potential: node = {node!r} is not a readout; readouts are "
                f"{sorted(self.readouts)}"
            )
        rest, alpha, v_leak = self.readouts[node]
        return v_leak + (np.asarray(imem, np.float64) - rest) / alpha

    def add(self, node: str, nir_type: str, became: str, approximated: str = "-") -> None:
        """Record what ``node`` (of NIR type ``nir_type``) became and what was approximated."""
        self.rows.append(ReportRow(node, nir_type, became, approximated))

    def table(self) -> str:
        """The rows as a plain-text table (node, NIR type, became, approximated)."""
        head = ("node", "NIR type", "became", "approximated")
        cells = [head] + [(r.node, r.nir_type, r.became, r.approximated) for r in self.rows]
        widths = [max(len(c[k]) for c in cells) for k in range(4)]
        fmt = lambda c: " | ".join(s.ljust(w) for s, w in zip(c, widths, strict=True))  # noqa: E731
        lines = [fmt(head), "-+-".join("-" * w for w in widths)] + [fmt(c) for c in cells[1:]]
        return "\n".join(line.rstrip() for line in lines)

    def __str__(self) -> str:
        return f"{self.convention}\n{self.table()}" if self.convention else self.table()
