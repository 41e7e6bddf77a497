"""REWIND, SPACE(6/16), LOCATE(10/16) and READ POSITION (SSC-4).

Positions are logical object numbers (blocks and filemarks counted together, SSC-4); the
cartridge's index finds any of them without reading the tape (``docs/media.md``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u32, u64
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.ssc.common import result, s24, state_of
from hpt.scsi.ssc.sense import BEGINNING_OF_MEDIUM, END_OF_DATA, EOM_BIT, FILEMARK_BIT, FILEMARK_DETECTED

if TYPE_CHECKING:
    from hpt.media.tape import Cartridge
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.ssc.state import TapeState

SPACE_BLOCKS, SPACE_FILEMARKS, SPACE_EOD = 0, 1, 3
SHORT_BLOCK_ID, SHORT_VENDOR, LONG_FORM, EXTENDED_FORM = 0x00, 0x01, 0x06, 0x08
BOP, EOP = 0x80, 0x40


def rewind(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """REWIND (SSC-4): flush, then beginning of partition."""
    st = state_of(lu)
    st.medium().sync()
    st.pos = 0
    return GOOD


def _space_blocks(st: TapeState, cart: Cartridge, count: int) -> SenseError | None:
    pos = st.pos
    i = cart.files_before(pos)  # filemarks before pos; filemark i is the first at or after it
    if count > 0:
        fm = cart.filemark(i) if i < cart.filemarks else None
        if fm is not None and fm < pos + count:
            st.pos = fm + 1
            return SenseError(FILEMARK_DETECTED, info=count - (fm - pos), stream=FILEMARK_BIT)
        if pos + count > cart.objects:
            st.pos = cart.objects
            return SenseError(END_OF_DATA, info=count - (cart.objects - pos))
        st.pos = pos + count
        return None
    n = -count
    fm = cart.filemark(i - 1) if i else None
    if fm is not None and fm >= pos - n:
        st.pos = fm  # on the beginning-of-partition side of the filemark
        return SenseError(FILEMARK_DETECTED, info=n - (pos - 1 - fm), stream=FILEMARK_BIT)
    if pos - n < 0:
        st.pos = 0
        return SenseError(BEGINNING_OF_MEDIUM, info=n - pos, stream=EOM_BIT)
    st.pos = pos - n
    return None


def _space_filemarks(st: TapeState, cart: Cartridge, count: int) -> SenseError | None:
    i = cart.files_before(st.pos)
    if count > 0:
        if i + count <= cart.filemarks:
            st.pos = cart.filemark(i + count - 1) + 1
            return None
        st.pos = cart.objects
        return SenseError(END_OF_DATA, info=count - (cart.filemarks - i))
    n = -count
    if i >= n:
        st.pos = cart.filemark(i - n)
        return None
    st.pos = 0
    return SenseError(BEGINNING_OF_MEDIUM, info=n - i, stream=EOM_BIT)


def _space(lu: LogicalUnit, code: int, count: int) -> ScsiResult:
    st = state_of(lu)
    cart = st.data_medium()
    if code == SPACE_EOD:
        st.pos = cart.objects
        return GOOD
    if code not in (SPACE_BLOCKS, SPACE_FILEMARKS):  # sequential filemarks, setmarks
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=3)
    if count == 0:
        return GOOD
    err = (_space_blocks if code == SPACE_BLOCKS else _space_filemarks)(st, cart, count)
    return result(lu, 0, err)


def space6(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPACE(6) (SSC-4): CODE in byte 1, a signed 24-bit COUNT (negative: toward BOP)."""
    return _space(lu, cmd.cdb[1] & 0x0F, s24(cmd.cdb, 2))


def space16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPACE(16) (SSC-4): a signed 64-bit COUNT; no parameter data."""
    cdb = cmd.cdb
    if cdb[12] or cdb[13]:  # PARAMETER LENGTH
        raise SenseError(INVALID_FIELD_IN_CDB, field=12)
    return _space(lu, cdb[1] & 0x0F, struct.unpack_from(">q", cdb, 4)[0])


def _locate(lu: LogicalUnit, target: int) -> ScsiResult:
    st = state_of(lu)
    cart = st.data_medium()
    cart.sync()
    if target > cart.objects:
        st.pos = cart.objects
        return result(lu, 0, SenseError(END_OF_DATA))
    st.pos = target
    return GOOD


def _partition(cdb: bytes | memoryview, cp: bool, offset: int) -> None:
    if cp and cdb[offset]:  # one partition: partition 0 only
        raise SenseError(INVALID_FIELD_IN_CDB, field=offset)


def locate10(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """LOCATE(10) (SSC-4): to LOGICAL OBJECT IDENTIFIER (bytes 3..6); BT is the same address."""
    cdb = cmd.cdb
    _partition(cdb, bool(cdb[1] & 0x02), 8)
    return _locate(lu, u32(cdb, 3))


def locate16(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """LOCATE(16) (SSC-4): DEST_TYPE 0 a logical object, 1 a logical file (its first object),
    3 end of data."""
    cdb = cmd.cdb
    _partition(cdb, bool(cdb[1] & 0x02), 3)
    dest, ident = (cdb[1] >> 3) & 0x07, u64(cdb, 4)
    if dest == 0:
        return _locate(lu, ident)
    st = state_of(lu)
    cart = st.data_medium()
    if dest == 1:
        if ident == 0:
            return _locate(lu, 0)
        if ident > cart.filemarks:
            return _locate(lu, cart.objects + 1)
        return _locate(lu, cart.filemark(ident - 1) + 1)
    if dest == 3:
        return _locate(lu, cart.objects)
    raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=5)


def read_position(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ POSITION (SSC-4): short (20 bytes), long (32) or extended (32) form; hpt writes
    through, so the object buffer is always empty."""
    cdb = cmd.cdb
    sa = cdb[1] & 0x1F
    st = state_of(lu)
    cart = st.medium()
    pos = st.pos
    flags = (BOP if pos == 0 else 0) | (EOP if cart.beyond_early_warning() and pos == cart.objects else 0)
    if sa in (SHORT_BLOCK_ID, SHORT_VENDOR):
        lolu = 0x04 if pos > 0xFFFFFFFF else 0  # LOCATION OUTSIDE LOGICAL UNIT ... (too big for 32 bits)
        p = min(pos, 0xFFFFFFFF)
        return cmd.reply(struct.pack(">BBxxII8x", flags | lolu, 0, p, p))
    if sa == LONG_FORM:
        return cmd.reply(struct.pack(">B3xIQQ8x", flags, 0, pos, cart.files_before(pos)))
    if sa == EXTENDED_FORM:
        data = struct.pack(">BBHxBHQQQ", flags, 0, 0x1C, 0, 0, pos, pos, 0)
        return cmd.reply(data, struct.unpack_from(">H", cdb, 7)[0])
    raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
