"""Assertions shared by the OSD tests: the sense a refused command returns."""

from __future__ import annotations

import struct

from tests.osd.initiator import OsdClient, Reply


def refused(osd: OsdClient, raw_cdb: bytes, key_asc: tuple[int, int, int], field: int | None = None,
            out: bytes = b"", read: int = 0) -> Reply:
    """Send ``raw_cdb`` and check CHECK CONDITION with ``key_asc`` (and the sense-key specific field
    pointer ``field``, in the CDB) and the OSD object identification descriptor (OSD-2 4.16.2.2)."""
    reply = osd.send(raw_cdb, out, read)
    assert reply.status == 0x02, reply
    assert reply.key_asc == key_asc, reply
    assert reply.sense[0] == 0x72  # descriptor format
    assert reply.descriptor(0x06) is not None and len(reply.descriptor(0x06) or b"") == 32
    if field is not None:
        sks = reply.descriptor(0x02)
        assert sks is not None and sks[4] & 0x80, reply.sense.hex()
        assert struct.unpack_from(">H", sks, 5)[0] == field, reply.sense.hex()
    return reply


def ids_of(reply: Reply) -> tuple[int, int]:
    """(partition, object) of the sense data's object identification descriptor."""
    desc = reply.descriptor(0x06)
    assert desc is not None
    return struct.unpack_from(">QQ", desc, 16)  # type: ignore[return-value]
