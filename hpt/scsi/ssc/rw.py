"""READ(6), WRITE(6), WRITE FILEMARKS(6) and VERIFY(6) (SSC-4).

Fixed-block mode moves ``TRANSFER LENGTH`` blocks of the current block length; variable-block mode
moves one block of ``TRANSFER LENGTH`` bytes. A READ streams a block's data from the cartridge file
straight into the command's buffer (only the bytes the buffer holds); a filemark, end of data or a block
of another length ends it with the sense SSC-4 asks for and the residue in INFORMATION.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MISCOMPARE_DURING_VERIFY
from hpt.scsi.core.sense import SenseError
from hpt.scsi.ssc.common import data_in, data_out, reject_fixed_without_length, result, state_of, u24
from hpt.scsi.ssc.sense import (
    EARLY_WARNING,
    END_OF_DATA,
    END_OF_MEDIUM,
    EOM_BIT,
    FILEMARK_BIT,
    FILEMARK_DETECTED,
    ILI_BIT,
    NO_SENSE,
    UNRECOVERED_READ_ERROR,
)
from hpt.scsi.ssc.state import MAX_BLOCK

if TYPE_CHECKING:
    from hpt.media.records import Record
    from hpt.media.tape import Cartridge
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.ssc.state import TapeState

#: ``take(record, index)`` moves one block's data (into the buffer, or checks it) and returns its bytes.
Take = Callable[["Record", int], int]
_CHUNK = 1 << 20


def _walk(st: TapeState, cart: Cartridge, count: int, fixed: bool, sili: bool, take: Take
          ) -> tuple[int, SenseError | None]:
    """Move over ``count`` blocks (fixed) or one block of ``count`` bytes (variable) from ``st.pos``,
    calling ``take`` for each; returns the bytes taken and the sense that ended the walk early."""
    moved = 0
    for i in range(count if fixed else 1):
        if st.pos >= cart.objects:
            return moved, SenseError(END_OF_DATA, info=count - (i if fixed else 0))
        rec = cart.record(st.pos)
        st.pos += 1
        if rec.filemark:
            return moved, SenseError(FILEMARK_DETECTED, info=count - (i if fixed else 0), stream=FILEMARK_BIT)
        want = st.block_length if fixed else count
        if fixed and rec.length != want:
            take(rec, i)  # the incorrect-length block is not counted (SSC-4)
            return moved, SenseError(NO_SENSE, info=count - i, stream=ILI_BIT)
        got = take(rec, i)
        moved += got
        if not fixed and rec.length != count and (rec.length > count or not sili):
            return moved, SenseError(NO_SENSE, info=count - rec.length, stream=ILI_BIT)
    return moved, None


def _decode(lu: LogicalUnit, cmd: ScsiCommand) -> tuple[TapeState, bool, bool, int]:
    cdb = cmd.cdb
    fixed, sili = bool(cdb[1] & 0x01), bool(cdb[1] & 0x02)
    st = state_of(lu)
    if fixed and sili:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    reject_fixed_without_length(fixed, st)
    return st, fixed, sili, u24(cdb, 2)


def read6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ(6) (SSC-4): the next block(s) into the data-in buffer."""
    st, fixed, sili, count = _decode(lu, cmd)
    cart = st.data_medium()
    if count == 0:
        return GOOD
    buf = data_in(cmd)
    size = st.block_length

    def take(rec: Record, i: int) -> int:
        start = i * size if fixed else 0
        end = start + (size if fixed else count)
        return cart.read_into(rec, buf[start:min(end, len(buf))]) if start < len(buf) else 0

    moved, err = _walk(st, cart, count, fixed, sili, take)
    st.counters["read"] += moved
    return result(lu, moved, err)


def verify6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """VERIFY(6) (SSC-4): check the next block(s) are readable (their data CRC), or with BYTCMP
    compare them with the Data-Out bytes (MISCOMPARE on a difference)."""
    cdb = cmd.cdb
    if cdb[1] & 0x3C:  # VTE, VLBAM, VBF, IMMED: verifying to end of data or by object address
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=(cdb[1] & 0x3C).bit_length() - 1)
    bytcmp, fixed = bool(cdb[1] & 0x02), bool(cdb[1] & 0x01)
    st = state_of(lu)
    reject_fixed_without_length(fixed, st)
    count = u24(cdb, 2)
    cart = st.data_medium()
    if count == 0:
        return GOOD
    expect = data_out(cmd, count * st.block_length if fixed else count) if bytcmp else None
    size = st.block_length if fixed else count

    def take(rec: Record, i: int) -> int:
        crc, done, base = 0, 0, i * size
        while done < rec.length:
            chunk = memoryview(bytearray(min(_CHUNK, rec.length - done)))
            cart.read_into(rec, chunk, done)
            if expect is not None and expect[base + done:base + done + len(chunk)] != chunk:
                raise SenseError(MISCOMPARE_DURING_VERIFY, info=count - i if fixed else count)
            crc = zlib.crc32(chunk, crc)
            done += len(chunk)
        if crc != rec.crc:
            raise SenseError(UNRECOVERED_READ_ERROR, info=count - i if fixed else count)
        return rec.length

    _, err = _walk(st, cart, count, fixed, False, take)
    return result(lu, 0, err)


def _early_warning(cart: Cartridge, residue: int = 0) -> SenseError | None:
    """NO SENSE, END-OF-PARTITION/MEDIUM DETECTED with EOM once the medium is past early warning
    (SSC-4): the write was done, the application should finish up."""
    return SenseError(EARLY_WARNING, info=residue, stream=EOM_BIT) if cart.beyond_early_warning() else None


def write6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """WRITE(6) (SSC-4): block(s) at the current position, which becomes end of data."""
    cdb = cmd.cdb
    fixed = bool(cdb[1] & 0x01)
    st = state_of(lu)
    reject_fixed_without_length(fixed, st)
    count = u24(cdb, 2)
    if not fixed and count > MAX_BLOCK:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    cart = st.writable_medium()
    if count == 0:
        return GOOD
    size = st.block_length if fixed else count
    data = data_out(cmd, count * size if fixed else count)
    cart.truncate(st.pos)
    for i in range(min(count, len(data) // size) if fixed else 1):
        block = data[i * size:(i + 1) * size]
        if not cart.fits(len(block)):
            residue = count - i if fixed else count
            return result(lu, 0, SenseError(END_OF_MEDIUM, info=residue, stream=EOM_BIT))
        cart.append(block)
        st.pos += 1
        st.counters["written"] += len(block)
    return result(lu, 0, _early_warning(cart))


def write_filemarks6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """WRITE FILEMARKS(6) (SSC-4): filemarks at the current position; without IMMED everything
    written before them is made durable first (zero filemarks: just that)."""
    cdb = cmd.cdb
    if cdb[1] & 0x02:  # WSMK: setmarks are not supported
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    immed = bool(cdb[1] & 0x01)
    count = u24(cdb, 2)
    st = state_of(lu)
    cart = st.writable_medium() if count else st.data_medium()
    if count:
        cart.truncate(st.pos)
    for i in range(count):
        if not cart.fits(0):
            return result(lu, 0, SenseError(END_OF_MEDIUM, info=count - i, stream=EOM_BIT))
        cart.append(filemark=True)
        st.pos += 1
    if not immed:
        cart.sync()
    return result(lu, 0, _early_warning(cart) if count else None)
