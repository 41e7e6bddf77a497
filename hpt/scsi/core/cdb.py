"""CDB field decoders for the block commands (SBC-4 CDB layouts, SPC-5 CDB formats).

The decoders take the CDB (bytes or memoryview) and return plain ints. The structs are compiled
once: they run for every READ and WRITE, so they stay lean (no checks, no copies). A
:class:`CdbForm` says where one CDB size keeps its LBA and length, so a handler written once
serves READ (6/10/12/16), VERIFY (10/12/16) and the other families.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_LBA_LEN10 = struct.Struct(">IxH")  # bytes 2..5 LBA, 6 GROUP NUMBER, 7..8 TRANSFER LENGTH
_LBA_LEN12 = struct.Struct(">II")  # bytes 2..5 LBA, 6..9 TRANSFER LENGTH
_LBA_LEN16 = struct.Struct(">QI")  # bytes 2..9 LBA, 10..13 TRANSFER LENGTH

Cdb = bytes | bytearray | memoryview
FUA = 0x08  # byte 1 bit 3 of the 10/12/16-byte forms: force unit access (SBC-4 READ (10))


def u16(cdb: Cdb, offset: int) -> int:
    return _U16.unpack_from(cdb, offset)[0]


def u32(cdb: Cdb, offset: int) -> int:
    return _U32.unpack_from(cdb, offset)[0]


def u64(cdb: Cdb, offset: int) -> int:
    return _U64.unpack_from(cdb, offset)[0]


def lba_len6(cdb: Cdb) -> tuple[int, int]:
    """READ(6)/WRITE(6): 21-bit LBA, 8-bit length where 0 means 256 blocks (SBC-4 READ (6), WRITE (6))."""
    return (cdb[1] & 0x1F) << 16 | cdb[2] << 8 | cdb[3], cdb[4] or 256


def lba_len10(cdb: Cdb) -> tuple[int, int]:
    """The 10-byte form: 32-bit LBA in bytes 2..5, 16-bit length in bytes 7..8."""
    return _LBA_LEN10.unpack_from(cdb, 2)  # type: ignore[return-value]


def lba_len12(cdb: Cdb) -> tuple[int, int]:
    """The 12-byte form: 32-bit LBA in bytes 2..5, 32-bit length in bytes 6..9."""
    return _LBA_LEN12.unpack_from(cdb, 2)  # type: ignore[return-value]


def lba_len16(cdb: Cdb) -> tuple[int, int]:
    """The 16-byte form: 64-bit LBA in bytes 2..9, 32-bit length in bytes 10..13."""
    return _LBA_LEN16.unpack_from(cdb, 2)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class CdbForm:
    """One CDB size of a command family: its decoder and the byte offsets of its LBA and length
    fields (for sense-key specific field pointers). ``flags``: byte 1 carries the PROTECT field,
    DPO and FUA (every form but the 6-byte one)."""

    size: int
    decode: Callable[[Cdb], tuple[int, int]]
    lba_field: int
    len_field: int
    flags: bool


FORM6 = CdbForm(6, lba_len6, 1, 4, False)
FORM10 = CdbForm(10, lba_len10, 2, 7, True)
FORM12 = CdbForm(12, lba_len12, 2, 6, True)
FORM16 = CdbForm(16, lba_len16, 2, 10, True)
