"""CRC32C header and data digests (RFC 7143 11.1, 13.1), hardware-accelerated by the crc32c package.

The digest goes on the wire least significant byte first (as the Linux and libiscsi initiators send it).
"""

from __future__ import annotations

import struct

from crc32c import crc32c as _crc32c

_LE = struct.Struct("<I")


def crc32c(*parts: bytes | bytearray | memoryview) -> int:
    """CRC32C over the concatenation of ``parts`` without joining them."""
    crc = 0
    for p in parts:
        crc = _crc32c(p, crc)
    return crc


def digest_bytes(*parts: bytes | bytearray | memoryview) -> bytes:
    """The 4-byte wire form of the digest of ``parts``."""
    return _LE.pack(crc32c(*parts))


def digest_ok(wire: bytes | bytearray | memoryview, *parts: bytes | bytearray | memoryview) -> bool:
    return _LE.unpack(wire)[0] == crc32c(*parts)
