"""Two header copies of one JSON document, for media whose header must survive a crash mid-update.

A medium file starts with two slots of ``size`` bytes. Each holds: magic (8 bytes), version (2),
sequence number (4), JSON length (4), the JSON document, CRC-32 of all that (4), zero padding. The
valid copy with the higher sequence number is current; an update goes to the other slot and is
synchronised (``fdatasync``) before it counts, so a torn write leaves the previous copy (docs/media.md).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from typing import Any

from hpt.media.header import MediaError

_FIXED = struct.Struct(">8sHII")  # magic, version, sequence, JSON length


def pack(magic: bytes, version: int, sequence: int, doc: dict[str, Any], size: int) -> bytes:
    """One slot holding ``doc``; MediaError when it does not fit ``size`` bytes."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    body = _FIXED.pack(magic, version, sequence, len(text)) + text
    if len(body) + 4 > size:
        raise MediaError(f"a header of {len(body) + 4} bytes does not fit its {size}-byte slot")
    return (body + zlib.crc32(body).to_bytes(4, "big")).ljust(size, b"\x00")


def unpack(magic: bytes, version: int, raw: bytes) -> tuple[int, dict[str, Any]] | None:
    """(sequence, document) of a valid slot, or None for a torn, foreign or damaged one."""
    if len(raw) < _FIXED.size or raw[:8] != magic:
        return None
    _, found, sequence, length = _FIXED.unpack_from(raw)
    end = _FIXED.size + length
    if found != version or end + 4 > len(raw):
        return None
    if int.from_bytes(raw[end:end + 4], "big") != zlib.crc32(raw[:end]):
        return None
    try:
        doc = json.loads(raw[_FIXED.size:end])
    except ValueError:
        return None
    return (sequence, doc) if isinstance(doc, dict) else None


class SlotPair:
    """The two slots at the start of an open file: ``doc`` is the current copy, :meth:`store` replaces it."""

    def __init__(self, fd: int, magic: bytes, version: int, size: int, name: str) -> None:
        self._fd, self._magic, self._version, self._size = fd, magic, version, size
        copies = [unpack(magic, version, os.pread(fd, size, i * size)) for i in (0, 1)]
        best = max(((c[0], i, c[1]) for i, c in enumerate(copies) if c is not None), default=None)
        if best is None:
            raise MediaError(f"{name}: no valid header")
        self.sequence, self._current, self.doc = best

    def store(self, doc: dict[str, Any]) -> None:
        """Write ``doc`` into the slot not holding the current copy and synchronise it."""
        target = self._current ^ 1
        os.pwrite(self._fd, pack(self._magic, self._version, self.sequence + 1, doc, self._size),
                  target * self._size)
        os.fdatasync(self._fd)
        self.sequence, self._current, self.doc = self.sequence + 1, target, doc
