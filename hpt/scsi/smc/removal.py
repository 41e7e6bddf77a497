"""PREVENT ALLOW MEDIUM REMOVAL on the changer (SMC-3 6.13): while an I_T nexus prevents it, no
medium goes in or out through the import/export slots by an operator's hand; the application may
still move media to and from them. A nexus loss, logout or reset drops its hold (``release``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.smc.changer import Changer


def prevent_allow(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 PREVENT ALLOW MEDIUM REMOVAL: PREVENT 01b holds the import/export slots for this I_T
    nexus, 00b releases its hold; 10b and 11b are reserved."""
    prevent = cmd.cdb[4] & 0x03
    if prevent > 1:
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=1)
    changer: Changer = lu.state
    if prevent:
        changer.preventers.add(cmd.nexus.initiator_port)
    else:
        changer.preventers.discard(cmd.nexus.initiator_port)
    return GOOD


def release(lu: LogicalUnit, nexus_key: str | None = None) -> None:
    """Drop the hold of one I_T nexus (its loss), or of all (LU or target reset)."""
    changer: Changer = lu.state
    if nexus_key is None:
        changer.preventers.clear()
    else:
        changer.preventers.discard(nexus_key)
