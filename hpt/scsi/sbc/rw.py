"""READ and WRITE (6/10/12/16) and ORWRITE(16): the data path (SBC-4).

Reads fill ``cmd.data_in`` straight from the store and writes hand ``cmd.data_out`` straight to it:
no copies, no per-command allocation beyond the result. DPO is a cache hint and is accepted; FUA
(or a disabled write cache) makes the write durable before status. The handlers take the CDB
form first; the opcode table binds each opcode to its form.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import FORM16, FUA, Cdb, CdbForm
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import Status
from hpt.scsi.core.opcodes import Span
from hpt.scsi.sbc.common import check_writable, checked_blocks, data_out, out_result

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

#: Where an asynchronous handler reports: the result, or the store's error.
IoComplete = Callable[[ScsiResult | OSError], None]


def read_blocks(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ (6/10/12/16): read the blocks into ``cmd.data_in``; READ(6) length 0 is 256 blocks.

    ``in_len`` is the full transfer even when the initiator's buffer is smaller: the transport
    reports the overflow residual and sends what fits (SAM-5 Execute Command, residuals).
    """
    lba, n = checked_blocks(form, lu, cmd.cdb)
    bs = lu.params.block_size
    nbytes = n * bs
    buf = cmd.data_in
    if buf is not None and nbytes and len(buf):
        store = lu.store
        assert store is not None
        store.read_into(lba * bs, buf if len(buf) <= nbytes else buf[:nbytes])
    return ScsiResult(Status.GOOD, b"", nbytes)


def write_blocks(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, durable: bool = False) -> ScsiResult:
    """SBC-4 WRITE (6/10/12/16): write ``cmd.data_out`` at the LBA; WRITE(6) length 0 is 256 blocks.

    Only the bytes received are written when the initiator sent less than the CDB asks for;
    ``out_len`` is what the CDB needed, so the transport reports the residual. FUA, ``durable``
    or a disabled write cache make the data durable before status.
    """
    cdb = cmd.cdb
    lba, n = checked_blocks(form, lu, cdb)
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
            if durable or (form.flags and cdb[1] & FUA) or not lu.wce:
                store.sync(offset, len(buf))
    return out_result(cmd, nbytes)


def orwrite16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 ORWRITE (16): OR the Data-Out buffer into the blocks, atomically per command.

    ORPROTECT other than 0 is rejected like WRPROTECT. Its entry locks its LBA range exclusively in the
    LU's task set, so no other command sees the blocks between the read and the write.
    """
    cdb = cmd.cdb
    lba, n = checked_blocks(FORM16, lu, cdb)
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


# -- the asynchronous data path (stores that do real I/O) --------------------------------------
def submit_read(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: IoComplete) -> None:
    """READ as :func:`read_blocks`, with the store's ``submit_read``: ``complete`` gets the result
    (or the store's OSError) from the store's completion thread."""
    lba, n = checked_blocks(form, lu, cmd.cdb)
    bs = lu.params.block_size
    nbytes = n * bs
    result = ScsiResult(Status.GOOD, b"", nbytes)
    buf = cmd.data_in
    if buf is None or not nbytes or not len(buf):
        complete(result)
        return
    store = lu.store
    assert store is not None
    store.submit_read(lba * bs, buf if len(buf) <= nbytes else buf[:nbytes],
                      lambda err: complete(result if err is None else err))


def submit_write(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: IoComplete) -> None:
    """WRITE as :func:`write_blocks`, with the store's ``submit_write``; FUA (or a disabled write
    cache) makes the store complete it only once it is durable."""
    cdb = cmd.cdb
    lba, n = checked_blocks(form, lu, cdb)
    check_writable(lu)
    bs = lu.params.block_size
    nbytes = n * bs
    result = out_result(cmd, nbytes)
    buf = data_out(cmd, nbytes) if nbytes else None
    if buf is None or not len(buf):
        complete(result)
        return
    store = lu.store
    assert store is not None
    fua = bool(form.flags and cdb[1] & FUA) or not lu.wce
    store.submit_write(lba * bs, buf, lambda err: complete(result if err is None else err), fua=fua)


def span(form: CdbForm, exclusive: bool = False) -> Callable[[Cdb], Span]:
    """The LBA range a command of this form touches, for the task set's range locks; a NUMBER OF
    LOGICAL BLOCKS of 0 (WRITE SAME to the end of the medium) spans to the end."""

    def of(cdb: Cdb) -> Span:
        try:
            lba, n = form.decode(cdb)
        except (struct.error, IndexError):
            return (0, 1 << 64, exclusive)  # too short to decode: the handler will say so
        return (lba, lba + n if n else 1 << 64, exclusive)

    return of
