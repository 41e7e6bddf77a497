"""INITIALIZE ELEMENT STATUS (SMC-3 6.2) and INITIALIZE ELEMENT STATUS WITH RANGE (6.3): the
inventory. The library knows where every medium is; taking inventory reads the barcodes again from
the media themselves (a cartridge relabelled with ``hptimg`` shows its new barcode)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.smc.elements import ElementType

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.smc.changer import Changer

RANGE, FAST = 0x01, 0x02


def initialize_element_status(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 INITIALIZE ELEMENT STATUS: take inventory of every element."""
    changer: Changer = lu.state
    changer.relabel(changer.elements)
    return GOOD


def initialize_element_status_with_range(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 INITIALIZE ELEMENT STATUS WITH RANGE: with RANGE, NUMBER OF ELEMENTS (bytes 6..7)
    elements from STARTING ELEMENT ADDRESS (2..3), which must be an element's; without it, all.
    FAST (only look for media that are present) changes nothing here."""
    cdb = cmd.cdb
    changer: Changer = lu.state
    if not cdb[1] & RANGE:
        if u16(cdb, 2) or u16(cdb, 6):
            raise SenseError(INVALID_FIELD_IN_CDB, field=2 if u16(cdb, 2) else 6)
        changer.relabel(changer.elements)
        return GOOD
    start, count = u16(cdb, 2), u16(cdb, 6)
    changer.element(start, field=2)
    chosen = [e for e in changer.of_type(ElementType.ALL) if e.address >= start][:count]
    changer.relabel(chosen)
    return GOOD
