"""The direct-access device's mode pages (SBC-4 6.5) and its mode parameter header and block descriptor."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc.mode import (
    CONTROL,
    SWP,
    WP,
    Binding,
    Medium,
    ModePage,
    mask,
    page_bytes,
    software_write_protect,
)

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

DPOFUA = 0x10  # device-specific parameter: DPO and FUA supported (SBC-4 6.5.1)

_WCE = Binding(2, 0x04, "wce", lambda params: params.write_cache)

# 01h Read-Write Error Recovery (SBC-4 6.5.10): no recovery parameters to tune.
READ_WRITE_ERROR_RECOVERY = ModePage(0x01, 0, page_bytes(0x01, bytes(10)), bytes(12))
# 08h Caching (SBC-4 6.5.5): WCE changeable.
CACHING = ModePage(0x08, 0, page_bytes(0x08, bytes(18)), mask(20, (2, 0x04)), (_WCE,))
# 0Ah Control (SPC-5 7.5.10) as SPC serves it, with SWP changeable: software write protect, honoured by
# every command that writes the medium (``common.check_writable``).
_SWP_MASK = mask(len(CONTROL.changeable), (4, SWP))
DISK_CONTROL = replace(CONTROL, changeable=bytes(a | b for a, b in zip(CONTROL.changeable, _SWP_MASK,
                                                                          strict=True)))


def _disk_block_descriptor(lu: LogicalUnit, long: bool) -> bytes:
    """Short (8-byte) or long LBA (16-byte) direct-access block descriptor (SBC-4 6.5.2)."""
    if long:
        return struct.pack(">Q4xI", lu.nblocks, lu.block_size)
    return struct.pack(">II", min(lu.nblocks, 0xFFFFFFFF), lu.block_size & 0xFFFFFF)


def _check_disk_block_descriptor(lu: LogicalUnit, data: memoryview, offset: int) -> None:
    """The block length must stay; NUMBER OF LOGICAL BLOCKS may be zero or the current capacity."""
    if len(data) == 16:
        count, size = struct.unpack_from(">Q4xI", data)
        size_at, full = 12, lu.nblocks
    else:
        count, size = struct.unpack_from(">II", data)
        size, size_at, full = size & 0xFFFFFF, 5, min(lu.nblocks, 0xFFFFFFFF)
    if size != lu.block_size:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + size_at, in_cdb=False)
    if count not in (0, full):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)


def _device_specific(lu: LogicalUnit) -> int:
    """WP (read-only LU or SWP set, SBC-4 6.5.1) and DPOFUA."""
    return (WP if lu.params.readonly or software_write_protect(lu) else 0) | DPOFUA


DISK_MEDIUM = Medium(_device_specific, _disk_block_descriptor, _check_disk_block_descriptor)

DISK_MODE_PAGES = (READ_WRITE_ERROR_RECOVERY, CACHING, DISK_CONTROL)
