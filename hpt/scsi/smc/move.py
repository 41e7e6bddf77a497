"""The commands that move the picker: MOVE MEDIUM (SMC-3 6.6), EXCHANGE MEDIUM (6.5) and POSITION TO
ELEMENT (6.9). Media have one side, so INVERT is refused (mode page 1Eh: ROTATE is zero)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.smc.changer import Changer


def _no_invert(cdb: bytes | memoryview, offset: int, bits: int) -> None:
    if cdb[offset] & bits:
        raise SenseError(INVALID_FIELD_IN_CDB, field=offset, bit=(cdb[offset] & bits).bit_length() - 1)


def _changer(lu: LogicalUnit, cdb: bytes | memoryview) -> Changer:
    """The LU's changer, once the MEDIUM TRANSPORT ADDRESS (bytes 2..3) is checked."""
    changer: Changer = lu.state
    changer.check_transport(u16(cdb, 2))
    return changer


def move_medium(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 MOVE MEDIUM: SOURCE ADDRESS (bytes 4..5) to DESTINATION ADDRESS (6..7)."""
    cdb = cmd.cdb
    _no_invert(cdb, 10, 0x01)
    _changer(lu, cdb).move(u16(cdb, 4), u16(cdb, 6))
    return GOOD


def exchange_medium(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 EXCHANGE MEDIUM: SOURCE (bytes 4..5) to FIRST DESTINATION (6..7), whose medium goes
    to SECOND DESTINATION (8..9)."""
    cdb = cmd.cdb
    _no_invert(cdb, 10, 0x03)
    _changer(lu, cdb).exchange(u16(cdb, 4), u16(cdb, 6), u16(cdb, 8))
    return GOOD


def position_to_element(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 POSITION TO ELEMENT: the picker goes in front of DESTINATION ADDRESS (bytes 4..5);
    there is nothing to wait for, so only the addresses are checked."""
    cdb = cmd.cdb
    _no_invert(cdb, 8, 0x01)
    _changer(lu, cdb).element(u16(cdb, 4), field=4)
    return GOOD
