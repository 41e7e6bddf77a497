"""Removable medium: START STOP UNIT and PREVENT ALLOW MEDIUM REMOVAL (SBC-4).

A removable LU (``LuParams.removable``) can unload its medium; commands that need it then end
with NOT READY, MEDIUM NOT PRESENT (``common.check_ready``). Removal is prevented while any
I_T nexus holds a PREVENT; a nexus loss, logout or reset drops its hold (``release_prevention``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


def medium_present(lu: LogicalUnit) -> bool:
    return not lu.state.medium_removed


def release_prevention(lu: LogicalUnit, nexus_key: str | None = None) -> None:
    """Drop the PREVENT held by one I_T nexus (its loss or logout), or by all (LU or target reset)."""
    held = lu.state.preventers
    if nexus_key is None:
        held.clear()
    else:
        held.discard(nexus_key)


def start_stop_unit(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 START STOP UNIT: load/unload a removable medium; START and power conditions need no action here.

    A POWER CONDITION other than 0 makes the device server ignore LOEJ and START. Stopping without
    NO_FLUSH writes the cache out first. Loading or unloading while removal is prevented fails with
    MEDIUM REMOVAL PREVENTED.
    """
    b4 = cmd.cdb[4]
    if b4 >> 4:  # POWER CONDITION: hpt has no power states to change
        return GOOD
    start, loej, no_flush = b4 & 0x01, b4 & 0x02, b4 & 0x04
    if loej and not lu.params.removable:
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=1)
    if loej and lu.state.preventers:
        raise SenseError(MEDIUM_REMOVAL_PREVENTED)
    if not start and not no_flush and lu.store is not None and medium_present(lu):
        lu.store.sync()
    if loej:
        if start:
            if lu.state.medium_removed:
                lu.state.medium_removed = False
                lu.ua.establish(MEDIUM_CHANGED, exclude=cmd.nexus.initiator_port)
        else:
            lu.state.medium_removed = True
    return GOOD


def prevent_allow(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SBC-4 PREVENT ALLOW MEDIUM REMOVAL: PREVENT 01b holds the medium for this I_T nexus,
    00b releases its hold.

    10b and 11b are obsolete; a LU without removable medium accepts only 00b.
    """
    prevent = cmd.cdb[4] & 0x03
    if prevent > 1 or (prevent and not lu.params.removable):
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=1)  # the PREVENT field's leftmost bit
    if prevent:
        lu.state.preventers.add(cmd.nexus.initiator_port)
    else:
        release_prevention(lu, cmd.nexus.initiator_port)
    return GOOD
