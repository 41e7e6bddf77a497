"""LOAD UNLOAD, ERASE, PREVENT ALLOW MEDIUM REMOVAL, READ BLOCK LIMITS and REPORT DENSITY SUPPORT
(SSC-4 and SPC-5 PREVENT ALLOW MEDIUM REMOVAL).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc import removable
from hpt.scsi.ssc.common import state_of
from hpt.scsi.ssc.state import MAX_BLOCK, MIN_BLOCK

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

DENSITY = 0x5A  # the density code hpt's cartridges are written in
_DENSITY_NAME, _ORGANIZATION = b"HPT-V1  ", b"HPT     "
_DESCRIPTION = b"hpt virtual tape".ljust(20)


def load_unload(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """LOAD UNLOAD (SSC-4): LOAD 1 makes an unloaded cartridge ready at beginning of partition; LOAD 0
    rewinds, synchronises and unloads it (it stays in the drive for a changer to take), refused while
    medium removal is prevented. HOLD keeps it loaded; RETEN needs nothing."""
    b4 = cmd.cdb[4]
    load, eot, hold = bool(b4 & 0x01), bool(b4 & 0x04), bool(b4 & 0x08)
    st = state_of(lu)
    if load and eot:
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=2)
    cart = st.cartridge
    if cart is None:
        st.medium()  # NOT READY, MEDIUM NOT PRESENT
        return GOOD
    if load:
        if st.ejected:
            st.ejected = False
            lu.ua.establish(MEDIUM_CHANGED, exclude=cmd.nexus.initiator_port)
        st.pos = 0
        return GOOD
    if st.preventers and not hold:
        raise SenseError(MEDIUM_REMOVAL_PREVENTED)
    if not st.ejected:
        cart.sync()
    st.pos = 0
    st.ejected = not hold
    return GOOD


def erase(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """ERASE (SSC-4): short and long both end the data at the current position (a long erase of a
    virtual tape has nothing more to overwrite); refused on a write-protected cartridge and, before end
    of data, on WORM."""
    st = state_of(lu)
    cart = st.writable_medium()
    cart.truncate(st.pos)
    cart.sync()
    return GOOD


def prevent_allow(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """PREVENT ALLOW MEDIUM REMOVAL (SPC-5): PREVENT 01b holds the cartridge for this I_T nexus, 00b
    releases its hold; 10b and 11b (medium changer values) are invalid for a tape drive."""
    return removable.prevent_allow(state_of(lu).preventers, cmd)


def read_block_limits(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ BLOCK LIMITS (SSC-4): granularity 0, the largest and smallest block; with MLOC the 20-byte
    form whose MAXIMUM LOGICAL OBJECT IDENTIFIER is unlimited (0)."""
    if cmd.cdb[1] & 0x01:
        return cmd.reply(struct.pack(">12xQ", 0))
    return cmd.reply(struct.pack(">BBHH", 0, MAX_BLOCK >> 16, MAX_BLOCK & 0xFFFF, MIN_BLOCK))


def report_density_support(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """REPORT DENSITY SUPPORT (SSC-4): one density support descriptor; MEDIA 1 reports the loaded
    cartridge's density (NOT READY without one). Medium type descriptors (MEDIUM TYPE 1) are not kept."""
    cdb = cmd.cdb
    if cdb[1] & 0x02:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    st = state_of(lu)
    capacity_mb = 0
    if cdb[1] & 0x01:
        capacity_mb = st.medium().info.capacity // 1_000_000
    flags = 0x80 | 0x20 | 0x01  # WRTOK, DEFLT, DLV
    desc = (struct.pack(">BBBH3sHHI", DENSITY, DENSITY, flags, 49, bytes(3), 0, 1, capacity_mb)
            + _ORGANIZATION + _DENSITY_NAME + _DESCRIPTION)
    body = desc
    return cmd.reply(struct.pack(">HH", len(body) + 2, 0) + body, struct.unpack_from(">H", cdb, 7)[0])
