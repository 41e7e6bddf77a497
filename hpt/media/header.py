"""The cartridge header: what a cartridge says about itself (barcode, capacity, WORM, load count ...).

The first 4096 bytes of a cartridge file hold two header slots of 2048 bytes. A slot is a magic, a
sequence number, a JSON object of the fields and a CRC-32 of the whole; a write goes to the slot not
holding the newest valid copy and is synchronised, so a crash while the header is rewritten leaves the
older copy readable (``docs/media.md``). The fields feed the Medium Auxiliary Memory attributes that READ
ATTRIBUTE reports (SPC-5 7.4.2).
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from dataclasses import asdict, dataclass, fields, replace

MAGIC = b"HPTTAPE\x00"
VERSION = 1
SLOT = 2048
HEADER_SIZE = 2 * SLOT  # the data area starts here
_HEAD = struct.Struct(">8sHHII")  # magic, version, reserved, sequence, JSON length
MEDIUM_TYPES = ("data", "clean", "worm")
MAX_BARCODE = 32  # VOLUME IDENTIFIER / BARCODE attributes are 32 ASCII bytes (SPC-5 7.4.2.3)


class MediaError(ValueError):
    """A file that is not a cartridge, or a damaged one: the message says which and why."""


@dataclass(frozen=True, slots=True)
class CartridgeInfo:
    """The header fields. ``clean`` and the ``eod_*``/``index_offset`` fields describe the records as the
    last orderly close left them; ``synced`` is the offset up to which records are known durable."""

    barcode: str
    capacity: int  # bytes of the data area, record headers included
    worm: bool = False
    write_protect: bool = False
    medium_type: str = "data"
    load_count: int = 0
    manufacturer: str = "HPT"
    serial: str = ""
    density: int = 0x5A  # the density code REPORT DENSITY SUPPORT and MODE SENSE report (SSC-4 5.3)
    created: str = ""  # YYYYMMDD, the MEDIUM MANUFACTURE DATE attribute
    early_warning: int = 0  # bytes before the end of the medium where early warning begins
    clean: bool = True
    eod_offset: int = HEADER_SIZE
    index_offset: int = 0
    synced: int = HEADER_SIZE

    def with_(self, **changes: object) -> CartridgeInfo:
        return replace(self, **changes)  # type: ignore[arg-type]


def _encode(info: CartridgeInfo, sequence: int) -> bytes:
    body = json.dumps(asdict(info), sort_keys=True).encode()
    data = _HEAD.pack(MAGIC, VERSION, 0, sequence, len(body)) + body
    if len(data) + 4 > SLOT:
        raise MediaError(f"header of {len(data)} bytes does not fit a {SLOT}-byte slot")
    return (data + struct.pack(">I", zlib.crc32(data))).ljust(SLOT, b"\x00")


def _decode(slot: bytes) -> tuple[int, CartridgeInfo] | None:
    if len(slot) < _HEAD.size or slot[:8] != MAGIC:
        return None
    _, version, _, sequence, length = _HEAD.unpack_from(slot)
    end = _HEAD.size + length
    if version != VERSION or end + 4 > len(slot):
        return None
    if struct.unpack_from(">I", slot, end)[0] != zlib.crc32(slot[:end]):
        return None
    try:
        raw = json.loads(slot[_HEAD.size:end])
        known = {f.name for f in fields(CartridgeInfo)}
        return sequence, CartridgeInfo(**{k: v for k, v in raw.items() if k in known})
    except (ValueError, TypeError):
        return None


def is_cartridge(prefix: bytes) -> bool:
    """True when ``prefix`` (the file's first bytes) starts with the cartridge magic."""
    return prefix[:8] == MAGIC


class Header:
    """The two header slots of an open cartridge file: read the newest valid one, write the other."""

    def __init__(self, fd: int, path: str) -> None:
        self._fd = fd
        found = [_decode(os.pread(fd, SLOT, i * SLOT)) for i in (0, 1)]
        valid = [(seq, i, info) for i, f in enumerate(found) if f is not None for seq, info in (f,)]
        if not valid:
            raise MediaError(f"{path}: not a cartridge (no valid header)")
        self.sequence, self._slot, self.info = max(valid, key=lambda v: v[0])

    def write(self, info: CartridgeInfo) -> None:
        """Write ``info`` to the other slot and synchronise it: the newest copy is then ``info``."""
        self.sequence += 1
        self._slot ^= 1
        os.pwrite(self._fd, _encode(info, self.sequence), self._slot * SLOT)
        os.fdatasync(self._fd)
        self.info = info


def new_header(info: CartridgeInfo) -> bytes:
    """The header area of a new cartridge: ``info`` in slot 0, slot 1 empty."""
    return _encode(info, 1) + bytes(SLOT)
