"""READ ATTRIBUTE (SPC-5 6.16): the cartridge's Medium Auxiliary Memory (SPC-5 7.4), from its header.

Attributes are read-only here (hpt has no WRITE ATTRIBUTE); volume 0, partition 0 only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.ssc.common import state_of

if TYPE_CHECKING:
    from hpt.media.tape import Cartridge
    from hpt.scsi.lu import LogicalUnit

VALUES, ATTRIBUTE_LIST, VOLUME_LIST, PARTITION_LIST, SUPPORTED = 0x00, 0x01, 0x02, 0x03, 0x05
BINARY, ASCII = 0x00, 0x01
READ_ONLY = 0x80
MIB = 1 << 20
MEDIUM_TYPE_CODE = {"data": 0x00, "clean": 0x01}
WORM_TYPE = 0x80


def _ascii(text: str, size: int) -> bytes:
    return text.encode("ascii", "replace")[:size].ljust(size)


def _medium_type(c: Cartridge) -> bytes:
    return bytes((WORM_TYPE if c.info.worm else MEDIUM_TYPE_CODE.get(c.info.medium_type, 0),))


#: identifier -> (format, value from the cartridge)
ATTRIBUTES: dict[int, tuple[int, Callable[[Cartridge], bytes]]] = {
    0x0000: (BINARY, lambda c: (c.remaining // MIB).to_bytes(8, "big")),  # REMAINING CAPACITY IN PARTITION
    0x0001: (BINARY, lambda c: (c.info.capacity // MIB).to_bytes(8, "big")),  # MAXIMUM CAPACITY
    0x0003: (BINARY, lambda c: c.info.load_count.to_bytes(8, "big")),  # LOAD COUNT
    0x0006: (BINARY, lambda c: bytes((c.info.density,))),  # FORMATTED DENSITY CODE
    0x0008: (ASCII, lambda c: _ascii(c.info.barcode, 32)),  # VOLUME IDENTIFIER
    0x0400: (ASCII, lambda c: _ascii(c.info.manufacturer, 8)),  # MEDIUM MANUFACTURER
    0x0401: (ASCII, lambda c: _ascii(c.info.serial, 32)),  # MEDIUM SERIAL NUMBER
    0x0405: (BINARY, lambda c: bytes((c.info.density,))),  # MEDIUM DENSITY CODE
    0x0406: (ASCII, lambda c: _ascii(c.info.created, 8)),  # MEDIUM MANUFACTURE DATE
    0x0408: (BINARY, _medium_type),  # MEDIUM TYPE
    0x0806: (ASCII, lambda c: _ascii(c.info.barcode, 32)),  # BARCODE
}


def _attribute(ident: int, cart: Cartridge) -> bytes:
    fmt, value = ATTRIBUTES[ident]
    raw = value(cart)
    return struct.pack(">HBH", ident, READ_ONLY | fmt, len(raw)) + raw


def read_attribute(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ ATTRIBUTE: attribute values from FIRST ATTRIBUTE IDENTIFIER on, the attribute list, the
    volume and partition lists, or the supported attributes."""
    cdb = cmd.cdb
    sa = cdb[1] & 0x1F
    (first,) = struct.unpack_from(">H", cdb, 8)
    (alloc,) = struct.unpack_from(">I", cdb, 10)
    if sa not in (VALUES, ATTRIBUTE_LIST, VOLUME_LIST, PARTITION_LIST, SUPPORTED):
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    if cdb[5]:
        raise SenseError(INVALID_FIELD_IN_CDB, field=5)  # LOGICAL VOLUME NUMBER
    if cdb[7]:
        raise SenseError(INVALID_FIELD_IN_CDB, field=7)  # PARTITION NUMBER
    cart = state_of(lu).medium()
    if sa in (VOLUME_LIST, PARTITION_LIST):
        return cmd.reply(struct.pack(">HBB", 2, 0, 1), alloc)
    if sa == VALUES:
        body = b"".join(_attribute(i, cart) for i in ATTRIBUTES if i >= first)
    else:
        body = b"".join(struct.pack(">H", i) for i in ATTRIBUTES)
    return cmd.reply(struct.pack(">I", len(body)) + body, alloc)
