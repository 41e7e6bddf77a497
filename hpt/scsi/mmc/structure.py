"""READ DVD STRUCTURE and SEND DVD STRUCTURE (MMC-6) for a single-layer DVD.

Formats read: 00h physical format information (book type DVD-ROM or DVD+R, the data area from
physical sector 30000h), 01h copyright information (no protection), 04h disc manufacturing
information, 11h ADIP information of a DVD+R, FFh the list of structures. SEND DVD STRUCTURE
takes the timestamp (0Fh) a burning tool may send; a layer boundary (20h) needs a dual-layer disc.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.media.disc import Disc
    from hpt.scsi.lu import LogicalUnit

DATA_START = 0x030000  # the first physical sector of a DVD's data area
BOOK_DVD_ROM, BOOK_DVD_PLUS_R = 0x0, 0xA
TIMESTAMP, LAYER_BOUNDARY, LIST = 0x0F, 0x20, 0xFF


def physical_format(disc: Disc) -> bytes:
    """The 2048-byte physical format information (READ DVD STRUCTURE format 00h): book type and part
    version, 120 mm, maximum rate not specified, one layer, embossed (ROM) or recordable, the data area."""
    book = (BOOK_DVD_PLUS_R << 4 | 1) if disc.recordable else BOOK_DVD_ROM << 4 | 1
    layer_type = 0x02 if disc.recordable else 0x01
    end = DATA_START + max(disc.capacity if disc.recordable else disc.readable, 1) - 1
    return struct.pack(">BBBBIII", book, 0x0F, layer_type, 0x10, DATA_START, end, 0).ljust(2048, b"\x00")


def _adip(disc: Disc) -> bytes:
    """ADIP information of a DVD+R (format 11h): the physical format's first bytes, then the media
    identifiers (manufacturer "HPT", type "V01")."""
    if not disc.recordable:
        raise SenseError(INVALID_FIELD_IN_CDB, field=7)
    info = bytearray(physical_format(disc)[:256])
    info[19:30] = b"HPT\x00\x00\x00\x00\x00V01"
    return bytes(info)


def _copyright(disc: Disc) -> bytes:
    return bytes(4)  # no copy protection, region management none


def _manufacturing(disc: Disc) -> bytes:
    return bytes(2048)


STRUCTURES: dict[int, Callable[[Disc], bytes]] = {
    0x00: physical_format, 0x01: _copyright, 0x04: _manufacturing, 0x11: _adip,
}


def _list(disc: Disc) -> bytes:
    """Format FFh: each readable structure with SDS (sendable) and RDS (readable) and its length."""
    entries = [(code, 0x40, len(read(disc))) for code, read in STRUCTURES.items()
               if code != 0x11 or disc.recordable]
    entries.append((TIMESTAMP, 0x80, 12))
    return b"".join(struct.pack(">BBH", *e) for e in entries)


def read_dvd_structure(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ DVD STRUCTURE for MEDIA TYPE 0000b (DVD), layer 0."""
    cdb = cmd.cdb
    if cdb[1] & 0x0F:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=3)  # BD structures: not a BD drive
    fmt, alloc = cdb[7], u16(cdb, 8)
    disc = state_of(lu).medium()
    if fmt == LIST:
        body = _list(disc)
    else:
        if cdb[6]:
            raise SenseError(INVALID_FIELD_IN_CDB, field=6)  # one layer
        read = STRUCTURES.get(fmt)
        if read is None:
            raise SenseError(INVALID_FIELD_IN_CDB, field=7)
        body = read(disc)
    return cmd.reply(struct.pack(">Hxx", len(body) + 2) + body, alloc)


def send_dvd_structure(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SEND DVD STRUCTURE: a timestamp (0Fh, 4-byte header and 8 bytes) for a writable disc is taken
    (the medium file keeps its own dates); every other format is refused."""
    cdb = cmd.cdb
    fmt, length = cdb[7], u16(cdb, 8)
    if fmt != TIMESTAMP:
        raise SenseError(INVALID_FIELD_IN_CDB, field=7)
    state_of(lu).medium()
    if length == 0:
        return GOOD
    data = parameter_list(cmd, length)
    if length < 12 or u16(data, 0) + 2 != length:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    return GOOD
