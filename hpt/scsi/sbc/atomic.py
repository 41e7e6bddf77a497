"""WRITE ATOMIC (16) (SBC-4 5.48, atomic writes 4.29).

The blocks are written as one unit: the opcode table gives the command an exclusive LBA range in the
LU's task set (as COMPARE AND WRITE), so no overlapping READ or WRITE sees or lands between its
blocks. The Block Limits VPD page says what it takes (``vpd.max_atomic_blocks``: what its 16-bit
length holds, within the MAXIMUM TRANSFER LENGTH; no alignment or granularity; no atomic boundaries).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import Cdb, CdbForm, u16
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.rw import span, write_blocks
from hpt.scsi.sbc.vpd import max_atomic_blocks

if TYPE_CHECKING:
    from hpt.scsi.core.command import ScsiCommand, ScsiResult
    from hpt.scsi.core.opcodes import Span
    from hpt.scsi.lu import LogicalUnit

_LBA_LEN = struct.Struct(">Q2xH")  # bytes 2..9 LBA, 10..11 ATOMIC BOUNDARY, 12..13 TRANSFER LENGTH


def _lba_len(cdb: Cdb) -> tuple[int, int]:
    return _LBA_LEN.unpack_from(cdb, 2)  # type: ignore[return-value]


#: WRITE ATOMIC (16): LBA in bytes 2..9, a 16-bit TRANSFER LENGTH in bytes 12..13; WRPROTECT DPO FUA.
ATOMIC16 = CdbForm(16, _lba_len, 2, 12, True)
ATOMIC_BOUNDARY_FIELD = 10

atomic_span: Callable[[Cdb], Span] = span(ATOMIC16, exclusive=True)


def write_atomic16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 WRITE ATOMIC (16): WRITE (16)'s checks and data path, plus the atomic limits: an ATOMIC
    BOUNDARY other than 0 (no boundaries are offered) and more blocks than the MAXIMUM ATOMIC TRANSFER
    LENGTH are INVALID FIELD IN CDB. A TRANSFER LENGTH of 0 writes nothing (after the range check)."""
    cdb = cmd.cdb
    if u16(cdb, ATOMIC_BOUNDARY_FIELD):
        raise SenseError(INVALID_FIELD_IN_CDB, field=ATOMIC_BOUNDARY_FIELD)
    if u16(cdb, ATOMIC16.len_field) > max_atomic_blocks(lu.params):
        raise SenseError(INVALID_FIELD_IN_CDB, field=ATOMIC16.len_field)
    return write_blocks(ATOMIC16, lu, cmd)
