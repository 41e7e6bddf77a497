"""CDB builders for the tape tests."""

from __future__ import annotations

import struct

TUR = bytes(6)


def read6(n: int, fixed: bool = False, sili: bool = False) -> bytes:
    return bytes((0x08, (0x02 if sili else 0) | int(fixed))) + n.to_bytes(3, "big") + b"\x00"


def write6(n: int, fixed: bool = False) -> bytes:
    return bytes((0x0A, int(fixed))) + n.to_bytes(3, "big") + b"\x00"


def weof(n: int = 1, immed: bool = False) -> bytes:
    return bytes((0x10, int(immed))) + n.to_bytes(3, "big") + b"\x00"


def space6(code: int, count: int) -> bytes:
    return bytes((0x11, code)) + (count & 0xFFFFFF).to_bytes(3, "big") + b"\x00"


def space16(code: int, count: int, plen: int = 0) -> bytes:
    return bytes((0x91, code, 0, 0)) + struct.pack(">qH", count, plen) + bytes(2)


def locate10(obj: int, cp: bool = False, partition: int = 0) -> bytes:
    return bytes((0x2B, 0x02 if cp else 0, 0)) + struct.pack(">I", obj) + bytes((0, partition, 0))


def locate16(ident: int, dest: int = 0) -> bytes:
    return bytes((0x92, dest << 3, 0, 0)) + struct.pack(">Q", ident) + bytes(4)


def read_position(sa: int = 0, alloc: int = 0) -> bytes:
    return bytes((0x34, sa, 0, 0, 0, 0, 0)) + struct.pack(">H", alloc) + b"\x00"


REWIND = bytes((0x01, 0, 0, 0, 0, 0))
ERASE = bytes((0x19, 0x01, 0, 0, 0, 0))
UNLOAD = bytes((0x1B, 0, 0, 0, 0, 0))
LOAD = bytes((0x1B, 0, 0, 0, 1, 0))
PREVENT = bytes((0x1E, 0, 0, 0, 1, 0))
ALLOW = bytes((0x1E, 0, 0, 0, 0, 0))
BLOCK_LIMITS = bytes((0x05, 0, 0, 0, 0, 0))
