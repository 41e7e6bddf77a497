"""The OSD CDB (OSD-2 5.2): a variable-length CDB (7Fh) of 236 bytes whose service action names the
command; its header, the attribute parameters of the GET/SET CDBFMT it chose, the capability and the
security parameters. Decoded once per command into :class:`OsdCdb`."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError

CDB_LEN = 236  # OSD-2 5.2.1: ADDITIONAL CDB LENGTH 228
ADDITIONAL_LENGTH = CDB_LEN - 8
CAPABILITY_OFFSET = 80  # OSD-2 5.2.1: the capability, bytes 80..183
CAPABILITY_LEN = 104
UNUSED_OFFSET = 0xFFFFFFFF  # an offset field that names no data (OSD-2 4.14.5)
MIN_EXPONENT = -5

# byte offsets of the fields named in sense data (sense-key specific field pointer)
PARTITION_FIELD = 16
OBJECT_FIELD = 24
LENGTH_FIELD = 32
START_FIELD = 40
LIST_ID_FIELD = 48
ATTR_FIELD = 52

_HEAD = struct.Struct(">BBBxxxQQQQI28s")  # bytes 10..79: options .. attribute parameters


class GetSet(IntEnum):
    """GET/SET CDBFMT (OSD-2 5.2.4.1): how the CDB names attributes to get and set."""

    NONE = 0
    SET_ONE = 1  # one attribute value in the CDB (OSD-2 5.2.4.2)
    PAGE = 2  # get one page, set one attribute (OSD-2 5.2.4.3)
    LIST = 3  # get and set lists (OSD-2 5.2.4.4)


def decode_offset(value: int) -> int | None:
    """A Data-In / Data-Out buffer offset (OSD-2 4.14.5): a 28-bit mantissa shifted by a signed 4-bit
    exponent plus 8, the exponent -5..7 (so offsets are multiples of 8 at least); FFFFFFFFh names none
    (None). A reserved exponent (-8..-6) raises ValueError."""
    if value == UNUSED_OFFSET:
        return None
    exponent = value >> 28
    if exponent & 0x8:
        exponent -= 16
    if exponent < MIN_EXPONENT:
        raise ValueError(f"offset {value:#010x}: reserved exponent {exponent}")
    return (value & 0x0FFFFFFF) << (exponent + 8)


def encode_offset(offset: int) -> int:
    """The smallest encoded offset that holds ``offset`` exactly (it must be a multiple of 8)."""
    for exponent in (*range(8), *range(-1, MIN_EXPONENT - 1, -1)):
        shift = exponent + 8
        if offset % (1 << shift) == 0 and offset >> shift < 1 << 28:
            return ((exponent & 0xF) << 28) | (offset >> shift)
    raise ValueError(f"offset {offset} cannot be encoded")


@dataclass(frozen=True, slots=True)
class OsdCdb:
    """The fields every OSD command shares (OSD-2 5.2.1); ``length`` is also the allocation length of
    LIST, ``start`` the starting byte address or initial object id, ``list_id`` the LIST identifier."""

    action: int
    options: int  # byte 10: DPO, FUA, isolation
    specific: int  # byte 11: GET/SET CDBFMT in bits 5..4, command-specific bits
    timestamps: int
    partition: int
    object: int
    length: int
    start: int
    list_id: int
    attrs: bytes  # bytes 52..79: the attribute parameters
    capability: bytes  # bytes 80..183

    @property
    def getset(self) -> GetSet:
        return GetSet((self.specific >> 4) & 3)


def parse(cdb: bytes | memoryview) -> OsdCdb:
    """Decode an OSD CDB; a CDB of another length is an invalid field (the ADDITIONAL CDB LENGTH)."""
    if len(cdb) != CDB_LEN or cdb[7] != ADDITIONAL_LENGTH:
        raise SenseError(INVALID_FIELD_IN_CDB, field=7)
    action = cdb[8] << 8 | cdb[9]
    opts, specific, stamps, pid, oid, length, start, list_id, attrs = _HEAD.unpack_from(cdb, 10)
    return OsdCdb(action, opts, specific, stamps, pid, oid, length, start, list_id, attrs,
                  bytes(cdb[CAPABILITY_OFFSET:CAPABILITY_OFFSET + CAPABILITY_LEN]))
