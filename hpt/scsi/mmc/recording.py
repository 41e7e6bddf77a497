"""RESERVE TRACK (MMC-6), CLOSE TRACK/SESSION (MMC-6) and SEND OPC INFORMATION (MMC-6)
on a DVD+R (MMC-6): the commands a burning tool sends around its WRITEs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.media.disc import NOT_WRITABLE, DiscRuleError, RecordableDisc
from hpt.scsi.core.cdb import u16, u32
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.sense import rule_sense
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

CLOSE_TRACK, CLOSE_SESSION, FINALIZE_MINIMAL, FINALIZE = 1, 2, 5, 6  # DVD+R close functions
OPC_ENTRY = 8  # bytes of one OPC table entry


def _burnable(lu: LogicalUnit) -> RecordableDisc:
    """The disc, when it is a DVD+R this drive may write; else DATA PROTECT, WRITE PROTECTED."""
    st = state_of(lu)
    disc = st.medium()
    if not isinstance(disc, RecordableDisc) or not disc.writable or st.readonly:
        raise SenseError(rule_sense(NOT_WRITABLE))
    return disc


def reserve_track(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """RESERVE TRACK with ARSV 0: the invisible track gets RESERVATION SIZE blocks (rounded up to an
    ECC block); ARSV 1 (by address) is for other media."""
    cdb = cmd.cdb
    if cdb[1] & 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    size = u32(cdb, 5)
    disc = _burnable(lu)
    try:
        disc.reserve(size)
    except DiscRuleError as err:
        raise SenseError(rule_sense(err.kind)) from err
    return GOOD


def close_track_session(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """CLOSE TRACK/SESSION: 001b closes TRACK NUMBER, 010b the session, 101b and 110b also finalize the
    disc (it becomes complete). The work is done before the status, with IMMED as without."""
    cdb = cmd.cdb
    function, track = cdb[2] & 0x07, u16(cdb, 4)
    if function not in (CLOSE_TRACK, CLOSE_SESSION, FINALIZE_MINIMAL, FINALIZE):
        raise SenseError(INVALID_FIELD_IN_CDB, field=2, bit=2)
    disc = _burnable(lu)
    try:
        if function == CLOSE_TRACK:
            disc.close_track(track)
        else:
            disc.close_session(finalize=function != CLOSE_SESSION)
    except DiscRuleError as err:
        raise SenseError(rule_sense(err.kind)) from err
    return GOOD


def send_opc_information(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SEND OPC INFORMATION: DOOPC asks for power calibration (nothing to calibrate: GOOD); a parameter
    list is whole OPC table entries of 8 bytes."""
    cdb = cmd.cdb
    length = u16(cdb, 7)
    _burnable(lu)
    if length % OPC_ENTRY:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    parameter_list(cmd, length)
    return GOOD
