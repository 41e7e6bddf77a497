"""Logical block provisioning: UNMAP and WRITE SAME (10/16) (SBC-4 logical block provisioning).

Only a thin-provisioned LU (``LuParams.thin``) deallocates: UNMAP, and WRITE SAME with the UNMAP
bit (a deallocated block reads back as zeroes, LBPRZ).
ANCHOR is not supported (ANC_SUP 0 in the Logical Block Provisioning VPD page).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import CdbForm, u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_OPCODE,
    LBA_OUT_OF_RANGE,
    PARAMETER_LIST_LENGTH_ERROR,
    Asc,
    SenseKey,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import (
    MAX_UNMAP_DESCRIPTORS,
    MAX_UNMAP_LBA_COUNT,
    MAX_WRITE_SAME_BLOCKS,
    NO_LIMIT,
    WSNZ,
    check_ready,
    check_writable,
    checked_blocks,
    data_out,
    is_zero,
    out_result,
)

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.store.base import BackingStore

_UNMAP_DESC = struct.Struct(">QI4x")
INVALID_FIELD_IN_CIU = Asc(SenseKey.ILLEGAL_REQUEST, 0x0E, 0x03)  # not in hpt.scsi.core.constants yet
_PATTERN_CHUNK = 1 << 20

ANCHOR = 0x10  # WRITE SAME byte 1 bit 4 (UNMAP: byte 1 bit 0)
UNMAP = 0x08  # WRITE SAME byte 1 bit 3
NDOB = 0x01  # WRITE SAME(16) byte 1 bit 0: no Data-Out buffer, the block is zeroes
_OBSOLETE_PB_LB_DATA = 0x06  # WRITE SAME byte 1 bits 2..1 (PBDATA, LBDATA): obsolete in SBC-4


def deallocate(store: BackingStore, offset: int, length: int) -> None:
    """Deallocate a byte range, or zero it where the store cannot deallocate."""
    if store.supports_discard:
        store.discard(offset, length)
    else:
        store.write_zeroes(offset, length)


def unmap(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 UNMAP: deallocate the ranges of the parameter list's block descriptors.

    The whole list is checked before anything is deallocated: more descriptors than
    MAX_UNMAP_DESCRIPTORS or more blocks than MAX_UNMAP_LBA_COUNT is INVALID FIELD IN PARAMETER
    LIST, a range past the last LBA is LBA OUT OF RANGE. A PARAMETER LIST LENGTH of 1..7 is a
    PARAMETER LIST LENGTH ERROR; an incomplete trailing descriptor is ignored. A fully provisioned
    LU does not implement UNMAP (INVALID COMMAND OPERATION CODE, as its VPD page says LBPU 0).
    """
    cdb = cmd.cdb
    if not lu.params.thin:
        raise SenseError(INVALID_OPCODE, field=0)
    if cdb[1] & 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    check_ready(lu)
    check_writable(lu)
    plen = u16(cdb, 7)
    if not plen:
        return out_result(cmd, 0)
    data = data_out(cmd, plen)
    if plen < 8 or len(data) < 8:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=7)
    count = min(u16(data, 2), len(data) - 8) // 16
    if MAX_UNMAP_DESCRIPTORS != NO_LIMIT and count > MAX_UNMAP_DESCRIPTORS:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=2, in_cdb=False)
    ranges = [_UNMAP_DESC.unpack_from(data, 8 + 16 * i) for i in range(count)]
    total, end = 0, lu.nblocks
    for i, (lba, n) in enumerate(ranges):
        total += n
        if MAX_UNMAP_LBA_COUNT != NO_LIMIT and total > MAX_UNMAP_LBA_COUNT:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=16 + 16 * i, in_cdb=False)
        if lba + n > end:
            raise SenseError(LBA_OUT_OF_RANGE, field=8 + 16 * i, in_cdb=False)
    store = lu.store
    assert store is not None
    bs = lu.params.block_size
    for lba, n in ranges:
        if n:
            deallocate(store, lba * bs, n * bs)
    return out_result(cmd, plen)


def one_block(cmd: ScsiCommand, bs: int) -> memoryview:
    """The one block of write data WRITE SAME replicates.

    A Data-Out buffer shorter or longer than one block ends the command with INVALID FIELD IN
    COMMAND INFORMATION UNIT (SPC-5 Annex F): no CDB field holds its length, and writing a guessed
    pattern over many blocks is worse than failing (libiscsi WriteSame*.InvalidDataOutSize).
    """
    buf = cmd.data_out
    if buf is None or len(buf) < bs or cmd.expected_out > bs:
        raise SenseError(INVALID_FIELD_IN_CIU)
    return buf if len(buf) == bs else buf[:bs]


def _fill(store: BackingStore, offset: int, length: int, block: memoryview) -> None:
    """Write ``block`` repeatedly over ``length`` bytes, a chunk of copies at a time."""
    bs = len(block)
    chunk = memoryview(bytes(block) * max(1, min(length, _PATTERN_CHUNK) // bs))
    end = offset + length
    while offset < end:
        n = min(len(chunk), end - offset)
        store.write_from(offset, chunk[:n])
        offset += n


def write_same(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 WRITE SAME (10/16): write one block (or zeroes with NDOB, 16 only) to n blocks.

    n 0 means up to the last LBA (WSNZ 0 in the Block Limits VPD page). With UNMAP set on a
    thin LU the range is deallocated and reads back as zeroes, whatever the block holds (as LIO does;
    libiscsi's WriteSame10/16.UnmapUntilEnd unmap with a block of FFh and expect zeroes). ANCHOR (no
    ANC_SUP), the obsolete PBDATA/LBDATA bits, UNMAP on a fully provisioned LU and more than
    MAX_WRITE_SAME_BLOCKS are INVALID FIELD IN CDB. The Data-Out buffer must be exactly one block.
    """
    cdb = cmd.cdb
    flags = cdb[1]
    ndob = form.size == 16 and flags & NDOB
    lba, n = checked_blocks(form, lu, cdb, transfer=False)
    check_writable(lu)
    if flags & ANCHOR:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    if flags & _OBSOLETE_PB_LB_DATA:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=2)
    if flags & UNMAP and not lu.params.thin:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=3)
    if not n:
        if WSNZ:
            raise SenseError(INVALID_FIELD_IN_CDB, field=form.len_field)
        if lba >= lu.nblocks:  # no block from here to the end
            raise SenseError(LBA_OUT_OF_RANGE, field=form.lba_field)
        n = lu.nblocks - lba
    if MAX_WRITE_SAME_BLOCKS and n > MAX_WRITE_SAME_BLOCKS:
        raise SenseError(INVALID_FIELD_IN_CDB, field=form.len_field)
    bs = lu.params.block_size
    needed = 0 if ndob else bs
    block = one_block(cmd, bs) if needed else memoryview(b"")
    store = lu.store
    assert store is not None
    offset, length = lba * bs, n * bs
    if length:
        if flags & UNMAP:  # deallocated blocks read back as zeroes (LBPRZ), whatever the block held
            deallocate(store, offset, length)
        elif ndob or is_zero(block):
            store.write_zeroes(offset, length)
        else:
            _fill(store, offset, length, block)
        if not lu.wce:
            store.sync(offset, length)
    return out_result(cmd, needed)
