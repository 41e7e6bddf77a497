"""Records on a cartridge: a 32-byte header in front of every block and filemark (``docs/media.md``).

A record header holds its kind, the data length, its logical object number (SSC-4 3.1.39: blocks and
filemarks are numbered together from 0 at beginning of partition), the offset of the previous record's
header (the back-link SPACE reverse follows), the CRC-32 of the data and the CRC-32 of the header.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

RECORD = struct.Struct(">2sBBIQQI")  # magic, kind, flags, length, object, previous offset, data CRC
HEADER_LEN = RECORD.size + 4  # + header CRC
MAGIC = b"HR"
BLOCK, FILEMARK = 1, 2


@dataclass(frozen=True, slots=True)
class Record:
    """One record: where its header is (``offset``), what it is and how long its data is."""

    offset: int
    kind: int
    length: int
    obj: int
    prev: int
    crc: int

    @property
    def data_offset(self) -> int:
        return self.offset + HEADER_LEN

    @property
    def end(self) -> int:
        """Offset of the next record's header."""
        return self.offset + HEADER_LEN + self.length

    @property
    def filemark(self) -> bool:
        return self.kind == FILEMARK


def encode(kind: int, length: int, obj: int, prev: int, crc: int) -> bytes:
    head = RECORD.pack(MAGIC, kind, 0, length, obj, prev, crc)
    return head + struct.pack(">I", zlib.crc32(head))


def decode(raw: bytes, offset: int) -> Record | None:
    """The record whose header is ``raw`` (read at ``offset``), or None for anything torn or foreign."""
    if len(raw) < HEADER_LEN:
        return None
    magic, kind, _, length, obj, prev, crc = RECORD.unpack_from(raw)
    if magic != MAGIC or kind not in (BLOCK, FILEMARK):
        return None
    if struct.unpack_from(">I", raw, RECORD.size)[0] != zlib.crc32(raw[:RECORD.size]):
        return None
    return Record(offset, kind, length, obj, prev, crc)
