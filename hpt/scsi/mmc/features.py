"""GET CONFIGURATION (MMC-6): the drive's profiles and features (MMC-6 features and profiles).

The profiles are DVD-ROM (0010h) and DVD+R (001Bh); the current profile is the loaded disc's, 0 with
none. The features are those Linux ``sr``/``cdrom``, udev's ``cdrom_id``, ``growisofs`` and ``xorriso``
look for. A feature is current when the disc in the drive can use it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.media.disc import BLOCK, ECC_BLOCKS, Disc
from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

DVD_ROM, DVD_PLUS_R = 0x0010, 0x001B
RT_ALL, RT_CURRENT, RT_ONE = 0, 1, 2


def profile_of(disc: Disc | None) -> int:
    """The current profile: the loaded disc's (MMC-6 Profile List feature), 0 when there is none."""
    if disc is None:
        return 0
    return DVD_PLUS_R if disc.recordable else DVD_ROM


@dataclass(frozen=True, slots=True)
class Feature:
    """A feature descriptor: code, version, persistent, when it is current, its data."""

    code: int
    version: int
    persistent: bool
    current: Callable[[Disc | None], bool]
    data: Callable[[Disc | None], bytes]

    def descriptor(self, disc: Disc | None) -> bytes:
        flags = self.version << 2 | (0x02 if self.persistent else 0) | (0x01 if self.current(disc) else 0)
        body = self.data(disc)
        return struct.pack(">HBB", self.code, flags, len(body)) + body


def _always(disc: Disc | None) -> bool:
    return True


def _present(disc: Disc | None) -> bool:
    return disc is not None


def _burnable(disc: Disc | None) -> bool:
    return disc is not None and disc.writable


def _profile_list(disc: Disc | None) -> bytes:
    current = profile_of(disc)
    return b"".join(struct.pack(">HBx", p, p == current) for p in (DVD_PLUS_R, DVD_ROM))


FEATURES = (
    Feature(0x0000, 0, True, _always, _profile_list),  # Profile List (5.3.1)
    Feature(0x0001, 2, True, _always, lambda d: struct.pack(">IBxxx", 1, 0x03)),  # Core: SCSI, INQ2, DBE
    # Morphing: events by polling (ASYNC 0), media class only (OCEvent 0: no operational change events)
    Feature(0x0002, 1, True, _always, lambda d: bytes(4)),
    # Removable Medium: tray loading mechanism, Load, Eject, Lock
    Feature(0x0003, 2, True, _always, lambda d: bytes((0x20 | 0x10 | 0x08 | 0x01, 0, 0, 0))),
    # Random Readable: 2048-byte blocks, blocking 16, PP
    Feature(0x0010, 0, False, _present, lambda d: struct.pack(">IHBx", BLOCK, ECC_BLOCKS, 0x01)),
    Feature(0x001F, 2, False, _present, lambda d: bytes(4)),  # DVD Read
    # Incremental Streaming Writable: data block type 8 (mode 1), BUF, one link size of 16
    Feature(0x0021, 1, False, _burnable, lambda d: struct.pack(">HBBB3x", 0x0100, 0x01, 1, 16)),
    Feature(0x002B, 0, False, _burnable, lambda d: bytes((0x01, 0, 0, 0))),  # DVD+R: Write
    # Real Time Streaming: RBCB, SCS, MP2A, WSPD, SW
    Feature(0x0107, 3, False, _always, lambda d: bytes((0x1F, 0, 0, 0))),
)


def get_configuration(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """GET CONFIGURATION: the feature header (current profile) and the descriptors RT asks for, from
    STARTING FEATURE NUMBER on; RT 10b is that one feature only."""
    cdb = cmd.cdb
    rt, start, alloc = cdb[1] & 0x03, u16(cdb, 2), u16(cdb, 7)
    if rt == 3:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    disc = state_of(lu).disc
    if state_of(lu).tray_open:
        disc = None
    chosen = [f for f in FEATURES if (f.code == start if rt == RT_ONE else f.code >= start)
              and (rt != RT_CURRENT or f.current(disc))]
    body = b"".join(f.descriptor(disc) for f in chosen)
    header = struct.pack(">IxxH", 4 + len(body), profile_of(disc))
    return cmd.reply(header + body, alloc)
