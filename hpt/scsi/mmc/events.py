"""GET EVENT STATUS NOTIFICATION, polled: the media class only (media events).

A load (START STOP UNIT, a changer) leaves NEW MEDIA pending, an eject or an unload MEDIA REMOVAL;
reporting the event clears it (the Morphing feature says the drive reports events by polling).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import NO_CHANGE, state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

MEDIA_CLASS = 4  # notification class 100b
SUPPORTED = 1 << MEDIA_CLASS
NEA = 0x80  # no event available


def get_event_status(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """GET EVENT STATUS NOTIFICATION: POLLED 0 (asynchronous) is not supported; a request that names
    no supported class gets the header with NEA set."""
    cdb = cmd.cdb
    if not cdb[1] & 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    alloc = u16(cdb, 7)
    if not cdb[4] & SUPPORTED:
        return cmd.reply(struct.pack(">HBB", 2, NEA, SUPPORTED), alloc)
    st = state_of(lu)
    event, st.event = st.event, NO_CHANGE
    status = (0x02 if st.disc is not None and not st.tray_open else 0) | (0x01 if st.tray_open else 0)
    descriptor = bytes((event, status, 0, 0))
    return cmd.reply(struct.pack(">HBB", 2 + len(descriptor), MEDIA_CLASS, SUPPORTED) + descriptor, alloc)
