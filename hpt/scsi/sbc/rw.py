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
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.common import check_writable, checked_blocks, data_out, out_result

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

#: Where an asynchronous handler reports: the result, or the store's error.
IoComplete = Callable[[ScsiResult | OSError], None]


def _read_plan(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> tuple[int, memoryview | None, ScsiResult]:
    """READ's checks, once for both paths: the byte offset, the part of ``cmd.data_in`` to fill (None
    when nothing moves) and the result."""
    lba, n = checked_blocks(form, lu, cmd.cdb)
    bs = lu.params.block_size
    nbytes = n * bs
    result = ScsiResult(Status.GOOD, b"", nbytes)
    buf = cmd.data_in
    if buf is None or not nbytes or not len(buf):
        return 0, None, result
    return lba * bs, (buf if len(buf) <= nbytes else buf[:nbytes]), result


def _write_plan(form: CdbForm, lu: LogicalUnit,
                cmd: ScsiCommand) -> tuple[int, memoryview | None, ScsiResult, bool]:
    """WRITE's checks, once for both paths: the byte offset, the data to write (None when nothing
    moves), the result and whether the data must be durable before status."""
    cdb = cmd.cdb
    lba, n = checked_blocks(form, lu, cdb)
    check_writable(lu)
    nbytes = n * lu.params.block_size
    result = out_result(cmd, nbytes)
    buf = data_out(cmd, nbytes) if nbytes else None
    if buf is None or not len(buf):
        return 0, None, result, False
    return lba * lu.params.block_size, buf, result, _durable(form, lu, cdb)


def _durable(form: CdbForm, lu: LogicalUnit, cdb: Cdb) -> bool:
    """FUA, or a disabled write cache (WCE 0), asks for the data on the medium before status (SBC-4 5.x)."""
    return bool(form.flags and cdb[1] & FUA) or not lu.wce


def read_blocks(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 READ (6/10/12/16): read the blocks into ``cmd.data_in``; READ(6) length 0 is 256 blocks.

    ``in_len`` is the full transfer even when the initiator's buffer is smaller: the transport
    reports the overflow residual and sends what fits (SAM-5 Execute Command, residuals).
    """
    offset, buf, result = _read_plan(form, lu, cmd)
    if buf is not None:
        store = lu.store
        assert store is not None
        store.read_into(offset, buf)
    return result


def quick_read(form: CdbForm, lu: LogicalUnit, cdb: Cdb, buf: memoryview) -> int:
    """READ's fast lane (``LogicalUnit.quick``): fill ``buf`` when the CDB asks for exactly its length
    and every check passes; -1 otherwise, and the full path reads again and gives the sense."""
    try:
        lba, n = checked_blocks(form, lu, cdb)
    except SenseError:
        return -1
    bs = lu.params.block_size
    if n * bs != len(buf) or not n:
        return -1
    try:
        lu.store.read_into(lba * bs, buf)  # type: ignore[union-attr]
    except OSError:
        return -1
    return len(buf)


def quick_writable(lu: LogicalUnit) -> bool:
    """Whether WRITEs may take the fast lane now: the LU is writable (no read-only LU or store, no
    software write protect) and its write cache enabled, so only a FUA bit asks for durability
    (SBC-4 4.11, 5.x); the lane leaves FUA WRITEs to the full path."""
    try:
        check_writable(lu)
    except SenseError:
        return False
    return lu.wce


def write_blocks(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, durable: bool = False) -> ScsiResult:
    """SBC-4 WRITE (6/10/12/16): write ``cmd.data_out`` at the LBA; WRITE(6) length 0 is 256 blocks.

    Only the bytes received are written when the initiator sent less than the CDB asks for;
    ``out_len`` is what the CDB needed, so the transport reports the residual. FUA, ``durable``
    or a disabled write cache make the data durable before status.
    """
    offset, buf, result, fua = _write_plan(form, lu, cmd)
    if buf is not None:
        store = lu.store
        assert store is not None
        store.write_from(offset, buf)
        if durable or fua:
            store.sync(offset, len(buf))
    return result


def orwrite16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 ORWRITE (16): OR the Data-Out buffer into the blocks, atomically per command.

    ORPROTECT other than 0 is rejected like WRPROTECT. Its entry locks its LBA range exclusively in the
    LU's task set, so no other command sees the blocks between the read and the write.
    """
    offset, new, result, fua = _write_plan(FORM16, lu, cmd)
    if new is not None:
        store = lu.store
        assert store is not None
        m = len(new)
        old = bytearray(m)
        store.read_into(offset, memoryview(old))
        merged = (int.from_bytes(old, "big") | int.from_bytes(new, "big")).to_bytes(m, "big")
        store.write_from(offset, memoryview(merged))
        if fua:
            store.sync(offset, m)
    return result


# -- the asynchronous data path (stores that do real I/O) --------------------------------------
def submit_read(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: IoComplete) -> None:
    """READ as :func:`read_blocks`, with the store's ``submit_read``: ``complete`` gets the result
    (or the store's OSError) from the store's completion thread."""
    offset, buf, result = _read_plan(form, lu, cmd)
    if buf is None:
        complete(result)
        return
    store = lu.store
    assert store is not None
    store.submit_read(offset, buf, lambda err: complete(result if err is None else err))


def submit_write(form: CdbForm, lu: LogicalUnit, cmd: ScsiCommand, complete: IoComplete) -> None:
    """WRITE as :func:`write_blocks`, with the store's ``submit_write``; FUA (or a disabled write
    cache) makes the store complete it only once it is durable."""
    offset, buf, result, fua = _write_plan(form, lu, cmd)
    if buf is None:
        complete(result)
        return
    store = lu.store
    assert store is not None
    store.submit_write(offset, buf, lambda err: complete(result if err is None else err), fua=fua)


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
