"""LUN encodings: the 8-byte SAM-5 LUN structure (SAM-5 4.7) to and from a flat number."""

from __future__ import annotations

import struct


def encode_lun(lun: int) -> bytes:
    """Peripheral device addressing below 256, flat space addressing up to 16383 (SAM-5 4.7.7)."""
    if lun < 256:
        return struct.pack(">BB6x", 0, lun)
    if lun < 0x4000:
        return struct.pack(">H6x", 0x4000 | lun)
    raise ValueError(f"LUN {lun} out of range (0..16383)")


def decode_lun(raw: bytes | memoryview) -> int:
    """The LUN number of an 8-byte LUN field; -1 for forms hpt does not address (e.g. extended)."""
    b0, b1 = raw[0], raw[1]
    method = b0 >> 6
    if method in (0, 1) and not any(raw[2:8]):
        return ((b0 & 0x3F) << 8 | b1) if method == 1 else (b1 if b0 == 0 else -1)
    return -1
