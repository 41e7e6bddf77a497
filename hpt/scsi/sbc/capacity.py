"""READ CAPACITY (10/16) and GET LBA STATUS (SBC-4 READ CAPACITY (10), READ CAPACITY (16), GET LBA STATUS).

Capacity data: LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT from ``physical_block_size`` (0 without
it), LOWEST ALIGNED LBA 0 (LBA 0 starts a physical block), no protection. A thin LU sets LBPME and
LBPRZ: every store reads deallocated blocks back as zeroes. GET LBA STATUS walks the store's mapped extents.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u32, u64
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, LBA_OUT_OF_RANGE
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import check_ready
from hpt.scsi.sbc.vpd import physical_ratio

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.store.base import BackingStore

_RC10 = struct.Struct(">II")
_RC16 = struct.Struct(">QIBBH16x")  # RETURNED LBA, BLOCK LENGTH, PROT, LBPPBE, LBPME|LBPRZ|LALBA
_LBAS_HEADER = struct.Struct(">I4x")
_LBAS_DESC = struct.Struct(">QIB3x")  # LBA, NUMBER OF LOGICAL BLOCKS, PROVISIONING STATUS

LBPME = 0x8000
LBPRZ = 0x4000
MAPPED, DEALLOCATED = 0, 1  # GET LBA STATUS descriptor PROVISIONING STATUS
MAX_LBA_STATUS_DESCRIPTORS = 256  # per GET LBA STATUS response
_MAX_DESC_BLOCKS = 0xFFFFFFFF


def _last_lba(lu: LogicalUnit) -> int:
    return max(lu.nblocks - 1, 0)


def read_capacity10(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ CAPACITY (10): last LBA (FFFFFFFFh when it does not fit) and block length.

    The LBA field must be zero unless PMI is set (SBC-3; both fields are obsolete in SBC-4).
    """
    cdb = cmd.cdb
    check_ready(lu)
    if not cdb[8] & 0x01 and u32(cdb, 2):
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    return cmd.reply(_RC10.pack(min(_last_lba(lu), 0xFFFFFFFF), lu.params.block_size))


def read_capacity16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ CAPACITY (16): 32 bytes of capacity data cut to the ALLOCATION LENGTH (bytes 10..13)."""
    check_ready(lu)
    flags = LBPME | LBPRZ if lu.params.thin else 0
    exponent = physical_ratio(lu.params).bit_length() - 1  # a power of two (validated)
    data = _RC16.pack(_last_lba(lu), lu.params.block_size, 0, exponent, flags)
    return cmd.reply(data, u32(cmd.cdb, 10))


def lba_runs(store: BackingStore, bs: int, lba: int, end: int, limit: int) -> list[tuple[int, int, int]]:
    """Up to ``limit`` (lba, count, status) runs from ``lba`` to ``end`` in provisioning order.

    A block holding any mapped byte counts as mapped; runs of one state merge up to the
    32-bit NUMBER OF LOGICAL BLOCKS of a descriptor.
    """
    runs: list[tuple[int, int, int]] = []
    while lba < end:
        mapped, length = store.mapped_extent(lba * bs)
        if mapped:
            count = -(-length // bs)
        else:
            count = length // bs
            if not count:
                mapped, count = True, 1
        count = max(1, min(count, end - lba))
        status = MAPPED if mapped else DEALLOCATED
        if runs and runs[-1][2] == status and runs[-1][1] + count <= _MAX_DESC_BLOCKS:
            start, prev, _ = runs[-1]
            runs[-1] = (start, prev + count, status)
        elif len(runs) == limit:
            break
        else:
            runs.append((lba, min(count, _MAX_DESC_BLOCKS), status))
            count = min(count, _MAX_DESC_BLOCKS)
        lba += count
    return runs


def get_lba_status(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 GET LBA STATUS: provisioning status from STARTING LOGICAL BLOCK ADDRESS (bytes 2..9) onwards.

    A starting LBA past the last one is LOGICAL BLOCK ADDRESS OUT OF RANGE (compared as
    integers, so 2**63 and 2**64-1 cannot wrap). A fully provisioned LU reports one mapped run.
    """
    cdb = cmd.cdb
    check_ready(lu)
    lba, alloc = u64(cdb, 2), u32(cdb, 10)
    end = lu.nblocks
    if lba >= end:
        raise SenseError(LBA_OUT_OF_RANGE, field=2)
    limit = min(MAX_LBA_STATUS_DESCRIPTORS, max(1, (alloc - 8) // 16))
    if lu.params.thin and lu.store is not None:
        runs = lba_runs(lu.store, lu.params.block_size, lba, end, limit)
    else:
        runs = [(lba, min(end - lba, _MAX_DESC_BLOCKS), MAPPED)]
    data = bytearray(_LBAS_HEADER.pack(4 + 16 * len(runs)))
    for run in runs:
        data += _LBAS_DESC.pack(*run)
    return cmd.reply(data, alloc)
