"""READ CAPACITY (MMC-6), READ FORMAT CAPACITIES (MMC-6) and FORMAT UNIT (MMC-6).

READ CAPACITY gives the last recorded block (0 on a blank disc) and 2048-byte blocks. READ FORMAT
CAPACITIES gives the current/maximum capacity descriptor: a formatted disc's blocks, a blank DVD+R's
capacity, or no medium. A DVD-ROM or DVD+R cannot be formatted: FORMAT UNIT checks its parameter list
and answers CANNOT FORMAT MEDIUM - INCOMPATIBLE MEDIUM.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.media.disc import BLOCK, DVD_BLOCKS
from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.sense import CANNOT_FORMAT_INCOMPATIBLE_MEDIUM
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

UNFORMATTED, FORMATTED, NO_MEDIUM = 1, 2, 3  # descriptor types (MMC-6 READ FORMAT CAPACITIES)


def read_capacity(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ CAPACITY: LAST LOGICAL BLOCK ADDRESS and BLOCK LENGTH IN BYTES (2048)."""
    disc = state_of(lu).medium()
    return cmd.reply(struct.pack(">II", max(disc.readable - 1, 0), BLOCK))


def read_format_capacities(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ FORMAT CAPACITIES: the capacity list header and the current/maximum capacity descriptor."""
    st = state_of(lu)
    disc = None if st.tray_open else st.disc
    if disc is None:
        blocks, kind = DVD_BLOCKS, NO_MEDIUM
    elif disc.recordable:
        blocks, kind = disc.capacity, UNFORMATTED if disc.state == "blank" else FORMATTED
    else:
        blocks, kind = disc.readable, FORMATTED
    descriptor = struct.pack(">IBBH", blocks, kind, BLOCK >> 16, BLOCK & 0xFFFF)
    return cmd.reply(struct.pack(">3xB", len(descriptor)) + descriptor, u16(cmd.cdb, 7))


def format_unit(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """FORMAT UNIT: FMTDATA 1 with a format list header and one format descriptor (MMC-6 FORMAT UNIT);
    neither disc this drive takes is formattable."""
    cdb = cmd.cdb
    if not cdb[1] & 0x10:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    if cdb[1] & 0x07 != 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=2)  # FORMAT CODE 001b
    data = parameter_list(cmd, len(cmd.data_out or b""))
    if len(data) < 12 or u16(data, 2) != 8:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    state_of(lu).medium()
    raise SenseError(CANNOT_FORMAT_INCOMPATIBLE_MEDIUM)
