"""START STOP UNIT (MMC-6), PREVENT ALLOW MEDIUM REMOVAL (MMC-6) and MECHANISM STATUS
(MMC-6): the tray, its lock and what the mechanism reports.

LOEJ with START 0 opens the tray (the disc stays in it, for a changer to take) unless an initiator
prevents removal; LOEJ with START 1 closes it, and the disc is ready again with NEW MEDIA pending and
NOT READY TO READY CHANGE for the other initiators.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import MEDIA_REMOVAL, NEW_MEDIA, state_of
from hpt.scsi.spc import removable

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

LOEJ, START = 0x02, 0x01
_POWER_CONDITIONS = (0x0, 0x1, 0x2, 0x3, 0x5, 0x7, 0xA, 0xB)  # MMC-6 START STOP UNIT


def start_stop_unit(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """START STOP UNIT: eject and load with LOEJ; START alone spins (nothing to do); a POWER CONDITIONS
    value other than 0h makes the drive ignore START and LOEJ (MMC-6)."""
    b4 = cmd.cdb[4]
    power = b4 >> 4
    if power not in _POWER_CONDITIONS:
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=7)
    if power or not b4 & LOEJ:
        return GOOD
    st = state_of(lu)
    if b4 & START:
        if st.tray_open:
            st.tray_open = False
            if st.disc is not None:
                st.event = NEW_MEDIA
                lu.ua.establish(MEDIUM_CHANGED, exclude=cmd.nexus.initiator_port)
        return GOOD
    if st.preventers:
        raise SenseError(MEDIUM_REMOVAL_PREVENTED)
    if not st.tray_open:
        if st.disc is not None:
            st.disc.sync()
            st.event = MEDIA_REMOVAL
        st.tray_open = True
    return GOOD


def prevent_allow(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """PREVENT ALLOW MEDIUM REMOVAL: PREVENT 01b locks the tray for this I_T nexus, 00b unlocks its
    lock; persistent prevention (1xb) is not supported."""
    return removable.prevent_allow(state_of(lu).preventers, cmd)


def mechanism_status(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MECHANISM STATUS: no fault, no changer, mechanism idle, DOOR OPEN when the tray is out, no slot
    tables."""
    st = state_of(lu)
    return cmd.reply(struct.pack(">BBBHBH", 0, 0x10 if st.tray_open else 0, 0, 0, 0, 0), u16(cmd.cdb, 8))
