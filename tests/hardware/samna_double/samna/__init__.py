"""A samna double: the parts of a current samna build (0.14+; it reports 0.48.6) that drive a
Dynap-SE2 Stack board, backed by a :class:`dynapse2.hardware.VirtualBoard` that runs in wall
clock time, as a board does. For dynapse2's tests only: it is not samna.

Written from the facts in the project's ``shared/samna-current.md`` (samna 0.7.1.0's own
object model; Rockpool's current Dynap-SE2 interface and the INI lab scripts for how current
samna is called). Verified against a real build (0.7.1.0): the configuration object model.
Taken from working code, not verified on a board: device listing and type names, opening,
``configure_opal_kelly`` returning a bool, ``reset_fpga``, the model's methods, the control
event bounce (tag 2047, hops (-7, -7) in, (-6, -7) back, stamped with the FPGA clock),
``NormalGridEvent``, ``grid_bus_write_events``, ``input_interface_write_events``,
``read_events`` returning what arrived since the last call, 32-bit microsecond timestamps.
Assumed, as :mod:`dynapse2.hardware.samna_current` assumes (no source states them): input
events enter the chip grid at the chip at position (0, 0), their hops counted from there; an
output event sent with hops (-7, 0) from the chip at (x, y) arrives with hops (-6 + x, y);
``get_number_of_chips()`` is the board's chip count.

The test arranges the world through :data:`_double`: ``_double.plug(...)`` connects a board,
``_double.expect(cfg)`` tells the chips the network's input/output maps and metadata (which
the silicon does not need and samna's configuration does not carry, but the emulating
simulator does).
"""

from __future__ import annotations

from . import device, dynapse2
from ._world import WORLD

__version__ = "0.48.6"
_double = WORLD

__all__ = ["device", "dynapse2"]
