"""READ and WRITE (6/10/12/16) and ORWRITE(16): the data path (SBC-4 5.14-5.17, 5.39-5.42, 5.8).

Reads fill ``cmd.data_in`` straight from the store and writes hand ``cmd.data_out`` straight to it:
no copies, no per-command allocation beyond the result. DPO is a cache hint and is accepted; FUA
(or a disabled write cache) makes the write durable before status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.cdb import FUA, lba_len6, lba_len10, lba_len12, lba_len16
from hpt.scsi.command import ScsiCommand, ScsiResult
from hpt.scsi.constants import Status
from hpt.scsi.sbc_common import (
    check_no_protection,
    check_range,
    check_ready,
    check_transfer,
    check_writable,
    data_out,
    out_result,
)

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


def read_blocks(lu: LogicalUnit, cmd: ScsiCommand, lba: int, n: int, lba_field: int, len_field: int
                ) -> ScsiResult:
    """Check the range and read ``n`` blocks at ``lba`` into ``cmd.data_in``.

    ``in_len`` is the full transfer even when the initiator's buffer is smaller: the transport
    reports the overflow residual and sends what fits (SAM-5 5.4.3).
    """
    check_ready(lu)
    check_range(lu, lba, n, lba_field)
    check_transfer(lu, n, len_field)
    bs = lu.params.block_size
    nbytes = n * bs
    buf = cmd.data_in
    if buf is not None and nbytes and len(buf):
        store = lu.store
        assert store is not None
        store.read_into(lba * bs, buf if len(buf) <= nbytes else buf[:nbytes])
    return ScsiResult(Status.GOOD, b"", nbytes)


def write_blocks(lu: LogicalUnit, cmd: ScsiCommand, lba: int, n: int, lba_field: int, len_field: int,
                 fua: int) -> ScsiResult:
    """Check the range and write protection, then write ``cmd.data_out`` at ``lba``.

    Only the bytes received are written when the initiator sent less than the CDB asks for;
    ``out_len`` is what the CDB needed, so the transport reports the residual.
    """
    check_ready(lu)
    check_range(lu, lba, n, lba_field)
    check_transfer(lu, n, len_field)
    check_writable(lu)
    bs = lu.params.block_size
    nbytes = n * bs
    if nbytes:
        buf = data_out(cmd, nbytes)
        if len(buf):
            store = lu.store
            assert store is not None
            offset = lba * bs
            store.write_from(offset, buf)
            if fua or not lu.wce:
                store.sync(offset, len(buf))
    return out_result(cmd, nbytes)


def read6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.14 READ(6): TRANSFER LENGTH 0 means 256 blocks."""
    lba, n = lba_len6(cmd.cdb)
    return read_blocks(lu, cmd, lba, n, 1, 4)


def read10(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.15 READ(10)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len10(cdb)
    return read_blocks(lu, cmd, lba, n, 2, 7)


def read12(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.16 READ(12)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len12(cdb)
    return read_blocks(lu, cmd, lba, n, 2, 6)


def read16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.17 READ(16)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len16(cdb)
    return read_blocks(lu, cmd, lba, n, 2, 10)


def write6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.39 WRITE(6): TRANSFER LENGTH 0 means 256 blocks; no FUA bit."""
    lba, n = lba_len6(cmd.cdb)
    return write_blocks(lu, cmd, lba, n, 1, 4, 0)


def write10(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.40 WRITE(10)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len10(cdb)
    return write_blocks(lu, cmd, lba, n, 2, 7, cdb[1] & FUA)


def write12(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.41 WRITE(12)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len12(cdb)
    return write_blocks(lu, cmd, lba, n, 2, 6, cdb[1] & FUA)


def write16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.42 WRITE(16)."""
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len16(cdb)
    return write_blocks(lu, cmd, lba, n, 2, 10, cdb[1] & FUA)


def orwrite16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 5.8 ORWRITE(16): OR the Data-Out buffer into the blocks, atomically per command.

    ORPROTECT other than 0 is rejected like WRPROTECT. The LU runs one command at a time
    (``LogicalUnit.execute``), so no other command sees the blocks between the read and the write.
    """
    cdb = cmd.cdb
    check_no_protection(cdb)
    lba, n = lba_len16(cdb)
    check_ready(lu)
    check_range(lu, lba, n)
    check_transfer(lu, n, 10)
    check_writable(lu)
    bs = lu.params.block_size
    nbytes = n * bs
    new = data_out(cmd, nbytes)
    m = len(new)
    if m:
        store = lu.store
        assert store is not None
        offset = lba * bs
        old = bytearray(m)
        store.read_into(offset, memoryview(old))
        merged = (int.from_bytes(old, "big") | int.from_bytes(new, "big")).to_bytes(m, "big")
        store.write_from(offset, memoryview(merged))
        if cdb[1] & FUA or not lu.wce:
            store.sync(offset, m)
    return out_result(cmd, nbytes)
