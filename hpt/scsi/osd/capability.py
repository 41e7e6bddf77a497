"""Capabilities and the NOSEC security method (OSD-2 4.11.2.2 capability format, 4.12 security methods).

Each command carries a capability in CDB bytes 80..183. hpt supports the NOSEC security method: no
integrity check value, but the capability is still validated: its format and security method, its
expiration time, the object type and the ids its object descriptor allows against the partition and
object the command addresses, and its permissions bit mask against what the command does. A failed
check is ILLEGAL REQUEST, INVALID FIELD IN CDB pointing at the capability's field.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntFlag

from hpt.media.objects import Kind
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.osd.cdb import CAPABILITY_OFFSET

NOSEC = 0  # security method (OSD-2 4.12.4.2)
FORMATS = (1, 2)  # CAPABILITY FORMAT values of the 104-byte capability


class Permission(IntFlag):
    """The permissions bit mask, bytes 49..50 of the capability (OSD-2 4.11.2.2)."""

    READ = 0x8000
    WRITE = 0x4000
    GET_ATTR = 0x2000
    SET_ATTR = 0x1000
    CREATE = 0x0800
    REMOVE = 0x0400
    OBJ_MGMT = 0x0200
    APPEND = 0x0100
    DEV_MGMT = 0x0080
    GLOBAL = 0x0040
    POL_SEC = 0x0020
    NONE = 0


class Descriptor:
    """OBJECT DESCRIPTOR TYPE, the high nibble of byte 55 (OSD-2 4.11.2.2)."""

    OBJECT = 1  # a user object or collection: partition and object ids must match
    PARTITION = 2  # a partition (or the root, partition 0): the partition id must match
    COLLECTION = 3  # a collection and its members


_HEAD = struct.Struct(">BBB x6s 20x 12x 6s B H 4x B 4x 4x 2x 6x QQ")  # bytes 0..87


@dataclass(frozen=True, slots=True)
class Capability:
    format: int
    security_method: int
    expires_ms: int  # milliseconds since the epoch; 0: never
    created_ms: int  # the object's creation time it was issued for; 0: any
    object_type: int
    permissions: Permission
    descriptor: int
    partition: int
    object: int


# byte offsets in the capability (for the sense data's field pointer)
FORMAT_BYTE, METHOD_BYTE, EXPIRY_BYTE, CREATED_BYTE, TYPE_BYTE, PERMISSIONS_BYTE = 0, 2, 4, 42, 48, 49
DESCRIPTOR_BYTE, PARTITION_BYTE, OBJECT_BYTE = 55, 72, 80


def decode(raw: bytes) -> Capability:
    fmt, _key, method, expiry, created, otype, perms, desc, pid, oid = _HEAD.unpack_from(raw)
    return Capability(fmt & 0xF, method & 0xF, int.from_bytes(expiry, "big"), int.from_bytes(created, "big"),
                      otype,
                      Permission(perms & 0xFFE0), desc >> 4, pid, oid)


def _refuse(byte: int) -> SenseError:
    return SenseError(INVALID_FIELD_IN_CDB, field=CAPABILITY_OFFSET + byte)


def check(raw: bytes, partition: int, obj: int, types: tuple[Kind, ...], needed: Permission,
          created_ms: Callable[[], int]) -> None:
    """Validate the command's capability (OSD-2 4.11.2.2, 4.12.4.2): NOSEC, not expired, an object type
    in ``types`` (what the command addresses), the object descriptor allowing ``partition``/``obj``,
    every permission the command ``needed``, and an OBJECT CREATED TIME, when given, equal to the
    object's (``created_ms()``: so a capability dies with the object it was issued for)."""
    cap = decode(raw)
    if cap.format not in FORMATS:
        raise _refuse(FORMAT_BYTE)
    if cap.security_method != NOSEC:
        raise _refuse(METHOD_BYTE)
    if cap.expires_ms and cap.expires_ms < time.time() * 1000:
        raise _refuse(EXPIRY_BYTE)
    if cap.object_type not in types:
        raise _refuse(TYPE_BYTE)
    if cap.descriptor == Descriptor.PARTITION:
        if cap.partition != partition:
            raise _refuse(PARTITION_BYTE)
    elif cap.descriptor in (Descriptor.OBJECT, Descriptor.COLLECTION):
        if cap.partition != partition:
            raise _refuse(PARTITION_BYTE)
        if cap.object != obj:
            raise _refuse(OBJECT_BYTE)
    else:
        raise _refuse(DESCRIPTOR_BYTE)
    if needed & ~cap.permissions:
        raise _refuse(PERMISSIONS_BYTE)
    if cap.created_ms and cap.created_ms != created_ms():
        raise _refuse(CREATED_BYTE)
