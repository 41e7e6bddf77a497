"""The medium changer's opcode table (SMC-3 6): SPC's shared commands plus these.

Each entry's usage data is the CDB USAGE DATA of REPORT SUPPORTED OPERATION CODES (SPC-5 6.35.3):
the opcode, then a mask of the CDB bits the handler looks at. All of them change or read only the
changer's state, so they run under the LU's state lock, one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiResult
from hpt.scsi.core.opcodes import Access, OpcodeEntry, OpcodeTable
from hpt.scsi.smc import inventory, move, removal, status
from hpt.scsi.spc.commands import SPC_ENTRIES
from hpt.scsi.spc.rsoc import CONTROL, usage

if TYPE_CHECKING:
    from hpt.scsi.lu import LuParams

R, W = Access.READ, Access.WRITE
_FF2 = (0xFF, 0xFF)


def _entry(name: str, handler: Callable[..., ScsiResult], access: Access, opcode: int,
           *masks: int) -> OpcodeEntry:
    data = usage(opcode, *masks, CONTROL)
    return OpcodeEntry(opcode, name, handler, len(data), access, None, data)


SMC_ENTRIES: list[OpcodeEntry] = [
    _entry("INITIALIZE ELEMENT STATUS", inventory.initialize_element_status, W, 0x07, 0, 0, 0, 0),
    _entry("PREVENT ALLOW MEDIUM REMOVAL", removal.prevent_allow, W, 0x1E, 0, 0, 0, 0x03),
    _entry("POSITION TO ELEMENT", move.position_to_element, W, 0x2B, 0, *_FF2, *_FF2, 0, 0, 0x01),
    _entry("INITIALIZE ELEMENT STATUS WITH RANGE", inventory.initialize_element_status_with_range, W, 0x37,
           0x03, *_FF2, 0, 0, *_FF2, 0),
    _entry("MOVE MEDIUM", move.move_medium, W, 0xA5, 0, *_FF2, *_FF2, *_FF2, 0, 0, 0x01),
    _entry("EXCHANGE MEDIUM", move.exchange_medium, W, 0xA6, 0, *_FF2, *_FF2, *_FF2, *_FF2, 0x03),
    _entry("READ ELEMENT STATUS", status.read_element_status, R, 0xB8, 0x1F, *_FF2, *_FF2, 0x03,
           0xFF, *_FF2, 0),
]


def changer_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the changer's."""
    return OpcodeTable(SPC_ENTRIES).extend(SMC_ENTRIES)
