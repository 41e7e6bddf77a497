"""The tape drive's mode pages and block descriptor (SSC-4; SPC-5 7.5).

The block descriptor carries the density code and the block length (0: variable-block mode), which
MODE SELECT changes; the device-specific parameter has WP and BUFFERED MODE 1. Pages: 01h Read-Write
Error Recovery, 0Fh Data Compression (DCE changeable; data is stored as written), 10h Device
Configuration (BIS, EEG, SEW; SELECT DATA COMPRESSION ALGORITHM changeable), 11h Medium Partition
(one partition); page 00h is the header and block descriptor alone.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc.mode import WP, Medium, ModePage, mask, page_bytes
from hpt.scsi.ssc.common import state_of
from hpt.scsi.ssc.medium import DENSITY
from hpt.scsi.ssc.state import MAX_BLOCK

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

BUFFERED_MODE_1 = 0x10
NO_CHANGE = 0x7F  # density code "keep the current density" (SSC-4)


def _device_specific(lu: LogicalUnit) -> int:
    return (WP if state_of(lu).write_protected() else 0) | BUFFERED_MODE_1


def _block_descriptor(lu: LogicalUnit, long: bool) -> bytes:
    """The 8-byte block descriptor (SSC-4): density, NUMBER OF BLOCKS 0, BLOCK LENGTH."""
    st = state_of(lu)
    density = st.cartridge.info.density if st.cartridge is not None else 0
    return struct.pack(">I", density << 24) + struct.pack(">I", st.block_length & 0xFFFFFF)


def _check_block_descriptor(lu: LogicalUnit, data: memoryview, offset: int) -> None:
    if len(data) != 8:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)
    if data[0] not in (0, NO_CHANGE, DENSITY):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)
    if data[1] or data[2] or data[3]:  # NUMBER OF BLOCKS: the whole medium
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 1, in_cdb=False)
    length = data[5] << 16 | data[6] << 8 | data[7]
    if length > MAX_BLOCK:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 5, in_cdb=False)


def _apply_block_descriptor(lu: LogicalUnit, data: memoryview) -> None:
    state_of(lu).block_length = data[5] << 16 | data[6] << 8 | data[7]


TAPE_MEDIUM = Medium(_device_specific, _block_descriptor, _check_block_descriptor, _apply_block_descriptor)

READ_WRITE_ERROR_RECOVERY = ModePage(0x01, 0, page_bytes(0x01, bytes(10)), bytes(12))
DATA_COMPRESSION = ModePage(  # DCE 0, DCC 1; DDE 1; no algorithms
    0x0F, 0, page_bytes(0x0F, bytes((0x40, 0x80)) + bytes(12)), mask(16, (2, 0x80)))
DEVICE_CONFIGURATION = ModePage(  # BIS (byte 8), EEG and SEW (byte 10)
    0x10, 0, page_bytes(0x10, bytes(6) + bytes((0x40, 0, 0x18)) + bytes(5)), mask(16, (14, 0xFF)))
MEDIUM_PARTITION = ModePage(  # no additional partitions; format and partition recognition
    0x11, 0, page_bytes(0x11, bytes((0, 0, 0, 0x03, 0, 0, 0, 0))), bytes(10))

#: Page 00h (vendor specific, SPC-5): no page data, so MODE SENSE of it returns the header and the block
#: descriptor only; Linux st asks for it on every open to learn the density and the block length.
HEADER_ONLY = ModePage(0x00, 0, b"", b"")

TAPE_MODE_PAGES = (HEADER_ONLY, READ_WRITE_ERROR_RECOVERY, DATA_COMPRESSION, DEVICE_CONFIGURATION,
                   MEDIUM_PARTITION)
