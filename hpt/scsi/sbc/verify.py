"""VERIFY, WRITE AND VERIFY and COMPARE AND WRITE (SBC-4).

Comparisons read the medium and compare with C-speed buffer compares; a miscompare ends the
command with MISCOMPARE, MISCOMPARE DURING VERIFY OPERATION and the offset of the first differing
byte of the Data-Out buffer in the INFORMATION field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import FUA, CdbForm, u64
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MISCOMPARE_DURING_VERIFY
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import (
    MAX_CAW_BLOCKS,
    check_no_protection,
    check_range,
    check_ready,
    check_writable,
    checked_blocks,
    data_out,
    first_difference,
    out_result,
)
from hpt.scsi.sbc.rw import write_blocks

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.store.base import BackingStore

_CHUNK = 1 << 20  # medium scans read at most this much at a time


def _compare(store: BackingStore, offset: int, expected: memoryview) -> None:
    """Read ``len(expected)`` bytes at ``offset``; MISCOMPARE with the offset of the first difference."""
    current = bytearray(len(expected))
    store.read_into(offset, memoryview(current))
    diff = first_difference(memoryview(current), expected)
    if diff >= 0:
        raise SenseError(MISCOMPARE_DURING_VERIFY, info=diff)


def _scan(store: BackingStore, offset: int, length: int, block: memoryview | None, bs: int) -> None:
    """Read ``length`` bytes in chunks; compare every block with ``block`` when it is given."""
    chunk = max(bs, _CHUNK // bs * bs)
    pattern = memoryview(bytes(block) * (chunk // bs)) if block is not None else None
    buf = memoryview(bytearray(min(chunk, length)))
    done = 0
    while done < length:
        n = min(chunk, length - done)
        view = buf[:n]
        store.read_into(offset + done, view)
        if pattern is not None:
            diff = first_difference(view, pattern[:n])
            if diff >= 0:
                raise SenseError(MISCOMPARE_DURING_VERIFY, info=done + diff)
        done += n


def verify_blocks(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 VERIFY (10/12/16) with BYTCHK 00b (medium check), 01b (compare n blocks) or 11b
    (compare one block with each).

    BYTCHK 10b is reserved. Unmapped blocks compare as zeroes (VBULS in the SBC-4 Block Device
    Characteristics VPD page).
    """
    cdb = cmd.cdb
    bytchk = (cdb[1] >> 1) & 0x03
    if bytchk == 2:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=2)
    lba, n = checked_blocks(form, lu, cdb, transfer=bytchk == 1)
    store = lu.store
    assert store is not None
    bs = lu.params.block_size
    offset = lba * bs
    if bytchk == 0:
        _scan(store, offset, n * bs, None, bs)
        return out_result(cmd, 0)
    if bytchk == 1:
        needed = n * bs
        data = data_out(cmd, needed)
        if len(data):
            _compare(store, offset, data)
        return out_result(cmd, needed)
    needed = bs if n else 0
    block = data_out(cmd, needed)
    if len(block) == bs:
        _scan(store, offset, n * bs, block, bs)
    elif len(block):  # part of the one block arrived: compare that part with the first block
        _compare(store, offset, block)
    return out_result(cmd, needed)


def write_and_verify(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 WRITE AND VERIFY (10/12/16): write durably, then with BYTCHK set read the blocks back
    and compare."""
    result = write_blocks(form, lu, cmd, durable=True)
    if cmd.cdb[1] & 0x02:
        lba, n = form.decode(cmd.cdb)
        data = data_out(cmd, n * lu.params.block_size)
        if len(data):
            assert lu.store is not None
            _compare(lu.store, lba * lu.params.block_size, data)
    return result


def compare_and_write(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 COMPARE AND WRITE: compare n blocks with the first half of the Data-Out buffer and,
    only if all are equal, write the second half; the two steps are one atomic operation.

    NUMBER OF LOGICAL BLOCKS 0 with no Data-Out buffer does nothing. More than MAX_CAW_BLOCKS
    (the Block Limits VPD MAXIMUM COMPARE AND WRITE LENGTH), or a Data-Out buffer other than
    2 * n blocks (e.g. 256 blocks wrapped to 0 in the one-byte field), is INVALID FIELD IN CDB
    pointing at NUMBER OF LOGICAL BLOCKS: a partial compare and write is never attempted.
    """
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = u64(cdb, 2), cdb[13]
    check_ready(lu)
    if n > MAX_CAW_BLOCKS:
        raise SenseError(INVALID_FIELD_IN_CDB, field=13)
    check_range(lu, lba, n)
    check_writable(lu)
    bs = lu.params.block_size
    nbytes = n * bs
    data = cmd.data_out
    if len(data or b"") != 2 * nbytes or cmd.expected_out != 2 * nbytes:
        raise SenseError(INVALID_FIELD_IN_CDB, field=13)
    if not n:
        return GOOD
    assert data is not None
    store = lu.store
    assert store is not None
    offset = lba * bs
    _compare(store, offset, data[:nbytes])  # atomic: CAW locks its range in the task set
    store.write_from(offset, data[nbytes:])
    if cdb[1] & FUA or not lu.wce:
        store.sync(offset, nbytes)
    return out_result(cmd, 2 * nbytes)
