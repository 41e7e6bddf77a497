"""Cache and medium housekeeping: SYNCHRONIZE CACHE, PRE-FETCH, FORMAT UNIT, READ DEFECT DATA.

SBC-4 SYNCHRONIZE CACHE (10/16), PRE-FETCH (10/16), FORMAT UNIT and READ DEFECT DATA (10/12).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import CdbForm, u16, u32
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    PARAMETER_LIST_LENGTH_ERROR,
    Status,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import PREFETCH_CACHE_BYTES, check_ready, check_writable, checked_blocks, out_result

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

_DEFECT10 = struct.Struct(">xBH")  # flags|format, DEFECT LIST LENGTH 0
_DEFECT12 = struct.Struct(">xBHI")  # flags|format, GENERATION CODE, DEFECT LIST LENGTH 0


def _byte_range(form: CdbForm, lu: LogicalUnit, cdb: bytes | memoryview) -> tuple[int, int]:
    """The checked range (length 0: up to the last LBA) as (offset, length) in bytes."""
    lba, n = checked_blocks(form, lu, cdb, transfer=False)
    bs = lu.params.block_size
    return lba * bs, (n or lu.nblocks - lba) * bs


def synchronize_cache(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 SYNCHRONIZE CACHE (10/16): make the range durable (fdatasync for a file); IMMED
    needs no special handling."""
    offset, length = _byte_range(form, lu, cmd.cdb)
    if length and lu.store is not None:
        lu.store.sync(offset, length)
    return GOOD


def prefetch(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 PRE-FETCH (10/16): ask the store to read the range ahead; CONDITION MET when it fits
    in the cache.

    The cache is the host's page cache; PREFETCH_CACHE_BYTES is what a PRE-FETCH may claim of it.
    Larger ranges are still read ahead but answer GOOD.
    """
    offset, length = _byte_range(form, lu, cmd.cdb)
    advise = getattr(lu.store, "prefetch", None)
    if advise is not None and length:
        advise(offset, length)
    return ScsiResult(Status.CONDITION_MET) if length <= PREFETCH_CACHE_BYTES else GOOD


def format_unit(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 FORMAT UNIT: a virtual medium needs no formatting; the data is kept.

    Protection information (FMTPINFO, PROTECTION FIELD USAGE), defect lists and initialization
    patterns are not supported. With FMTDATA the 4-byte (or LONGLIST 8-byte) parameter list
    header is checked; without it the DEFECT LIST FORMAT must be zero.
    """
    cdb = cmd.cdb
    check_ready(lu)
    check_writable(lu)
    b1 = cdb[1]
    if b1 & 0xC0:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=7)
    if not b1 & 0x10:
        if b1 & 0x07:
            raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=2)
        return out_result(cmd, 0)
    long_list = bool(b1 & 0x20)
    size = 8 if long_list else 4
    data = cmd.data_out if cmd.data_out is not None else memoryview(b"")
    if len(data) < size:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    if data[0] & 0x07 or (long_list and data[3]):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0 if data[0] & 0x07 else 3, in_cdb=False)
    if data[1] & 0x08:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=1, bit=3, in_cdb=False)
    if (u32(data, 4) if long_list else u16(data, 2)):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=size - (4 if long_list else 2), in_cdb=False)
    return out_result(cmd, size)


def read_defect_data10(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ DEFECT DATA (10): the requested lists are valid and empty."""
    flags = cmd.cdb[2] & 0x1F
    return cmd.reply(_DEFECT10.pack(flags, 0), u16(cmd.cdb, 7))


def read_defect_data12(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ DEFECT DATA (12): the requested lists are valid and empty."""
    flags = cmd.cdb[1] & 0x1F
    return cmd.reply(_DEFECT12.pack(flags, 0, 0), u32(cmd.cdb, 6))
