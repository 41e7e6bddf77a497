"""The DVD drive's mode pages (MMC-6): 05h Write Parameters and 2Ah MM Capabilities and Mechanical
Status (MMC-3, which Linux ``sr`` reads at probe); no block descriptor (MMC-6)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.speed import BUFFER_BYTES
from hpt.scsi.mmc.state import MAX_SPEED
from hpt.scsi.spc.mode import Medium, ModePage, page_bytes

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


def _device_specific(lu: LogicalUnit) -> int:
    return 0


def _no_descriptor(lu: LogicalUnit, long: bool) -> bytes:
    return b""


def _refuse_descriptor(lu: LogicalUnit, data: memoryview, offset: int) -> None:
    raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)


DVD_MEDIUM = Medium(_device_specific, _no_descriptor, _refuse_descriptor)

# Write Parameters (MMC-6): BUFE, track mode 5, data block type 8 (mode 1), packet size 16, audio
# pause 150; every field is changeable (a burning tool writes its choice; a DVD+R is burned alike).
_WRITE_BODY = bytes((0x40, 0x05, 0x08, 0, 0, 0, 0, 0)) + struct.pack(">IH", 16, 150) + bytes(36)
WRITE_PARAMETERS = ModePage(0x05, 0, page_bytes(0x05, _WRITE_BODY), bytes(2) + b"\xff" * len(_WRITE_BODY))

# MM Capabilities: reads DVD-ROM and DVD-R, writes DVD-R (sr's test for a DVD writer), multi-session;
# tray loading, eject, lock; obsolete speeds, buffer size; one write speed performance descriptor.
_CAPABILITIES = (
    bytes((0x18, 0x10, 0x40, 0x00, 0x29, 0x00))  # bytes 2..7
    + struct.pack(">HHHHxx", MAX_SPEED, 0, BUFFER_BYTES >> 10, MAX_SPEED)  # 8..17
    + struct.pack(">HHH3xB", MAX_SPEED, MAX_SPEED, 0, 0)  # 18..27
    + struct.pack(">HH", MAX_SPEED, 1) + struct.pack(">xBH", 0, MAX_SPEED)  # 28..35
)
MM_CAPABILITIES = ModePage(0x2A, 0, page_bytes(0x2A, _CAPABILITIES), bytes(2 + len(_CAPABILITIES)))

DVD_MODE_PAGES = (WRITE_PARAMETERS, MM_CAPABILITIES)
