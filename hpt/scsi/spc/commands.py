"""The SPC commands every device type includes (``SPC_ENTRIES``) and the small ones among them:
TEST UNIT READY (SPC-5 6.47), REQUEST SENSE (6.39), SEND DIAGNOSTIC (6.42) and RECEIVE
DIAGNOSTIC RESULTS (6.29).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    NO_ADDITIONAL_SENSE,
    PARAMETER_LIST_LENGTH_ERROR,
)
from hpt.scsi.core.opcodes import Access, OpcodeEntry
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.pr import persistent_in, persistent_out, reservations
from hpt.scsi.spc import alua, inquiry, mode, report_luns, rsoc
from hpt.scsi.spc.rsoc import CONTROL, usage

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

SUPPORTED_DIAGNOSTIC_PAGES = 0x00
def test_unit_ready(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """TEST UNIT READY: GOOD unless the device profile's ready check objects (e.g. NOT READY,
    MEDIUM NOT PRESENT)."""
    check = lu.profile.ready
    if check is not None:
        check(lu)
    return GOOD


def request_sense(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """REQUEST SENSE: a pending unit attention (reported and cleared) or NO SENSE; DESC picks the format."""
    desc = bool(cmd.cdb[1] & 0x01)
    asc = lu.ua.pop(cmd.nexus.initiator_port) or NO_ADDITIONAL_SENSE
    return cmd.reply(build_sense(asc, desc), cmd.cdb[4])


def send_diagnostic(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SEND DIAGNOSTIC: the default self-test (SELFTEST=1) passes; page 00h is the only page."""
    cdb = cmd.cdb
    code, pf, selftest = cdb[1] >> 5, bool(cdb[1] & 0x10), bool(cdb[1] & 0x04)
    (length,) = struct.unpack_from(">H", cdb, 3)
    if code:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=7)  # no background/foreground self-tests
    if selftest:
        if length:
            raise SenseError(INVALID_FIELD_IN_CDB, field=3)
        return GOOD
    if length == 0:
        return GOOD
    if not pf:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    data = parameter_list(cmd, length)
    if length < 4 or 4 + struct.unpack_from(">H", data, 2)[0] != length:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    if data[0] != SUPPORTED_DIAGNOSTIC_PAGES:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, in_cdb=False)
    return GOOD


def receive_diagnostic_results(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """RECEIVE DIAGNOSTIC RESULTS: the Supported Diagnostic Pages page (SPC-5 7.3.2)."""
    cdb = cmd.cdb
    if cdb[1] & 0x01 and cdb[2] != SUPPORTED_DIAGNOSTIC_PAGES:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    (alloc,) = struct.unpack_from(">H", cdb, 3)
    return cmd.reply(struct.pack(">BxHB", SUPPORTED_DIAGNOSTIC_PAGES, 1, SUPPORTED_DIAGNOSTIC_PAGES), alloc)


def _e(name: str, handler: Callable[..., ScsiResult], access: Access, opcode: int, *masks: int,
       sa: int | None = None, exempt: bool = False) -> OpcodeEntry:
    """An entry whose CDB length is its usage map's: the opcode and one mask per further byte."""
    data = usage(opcode, *masks, CONTROL, sa=sa)
    return OpcodeEntry(opcode, name, handler, len(data), access, sa, data, exempt)


_PR_IN_SAS = (persistent_in.READ_KEYS, persistent_in.READ_RESERVATION, persistent_in.REPORT_CAPABILITIES,
              persistent_in.READ_FULL_STATUS)
_FF4 = (0xFF, 0xFF, 0xFF, 0xFF)
R, W, C, A = Access.READ, Access.WRITE, Access.CONFLICT, Access.ALWAYS

SPC_ENTRIES: list[OpcodeEntry] = [
    _e("TEST UNIT READY", test_unit_ready, C, 0x00, 0, 0, 0, 0),
    _e("REQUEST SENSE", request_sense, A, 0x03, 0x01, 0, 0, 0xFF, exempt=True),
    _e("INQUIRY", inquiry.inquiry, A, 0x12, 0x03, 0xFF, 0xFF, 0xFF, exempt=True),
    _e("MODE SELECT(6)", mode.mode_select, C, 0x15, 0x11, 0, 0, 0xFF),
    _e("RESERVE(6)", reservations.reserve, C, 0x16, 0x11, 0, 0, 0),
    _e("RELEASE(6)", reservations.release, C, 0x17, 0x11, 0, 0, 0),
    _e("MODE SENSE(6)", mode.mode_sense, R, 0x1A, 0x08, 0xFF, 0xFF, 0xFF),
    _e("RECEIVE DIAGNOSTIC RESULTS", receive_diagnostic_results, R, 0x1C, 0x01, 0xFF, 0xFF, 0xFF),
    _e("SEND DIAGNOSTIC", send_diagnostic, C, 0x1D, 0xF4, 0, 0xFF, 0xFF),
    _e("MODE SELECT(10)", mode.mode_select, C, 0x55, 0x11, 0, 0, 0, 0, 0, 0xFF, 0xFF),
    _e("RESERVE(10)", reservations.reserve, C, 0x56, 0x13, 0, 0, 0, 0, 0, 0, 0),
    _e("RELEASE(10)", reservations.release, C, 0x57, 0x13, 0, 0, 0, 0, 0, 0, 0),
    _e("MODE SENSE(10)", mode.mode_sense, R, 0x5A, 0x18, 0xFF, 0xFF, 0, 0, 0, 0xFF, 0xFF),
    # PERSISTENT RESERVE IN/OUT: one entry per service action for REPORT SUPPORTED OPERATION CODES,
    # and a plain entry in front of them that dispatch finds first, so that an unsupported service
    # action ends with INVALID FIELD IN CDB rather than INVALID COMMAND OPERATION CODE (which
    # libiscsi reads as "PERSISTENT RESERVE not implemented").
    _e("PERSISTENT RESERVE IN", persistent_in.persistent_reserve_in, R, 0x5E, 0x1F, *bytes(5), 0xFF, 0xFF),
    *(_e(f"PERSISTENT RESERVE IN/{sa:02X}h", persistent_in.persistent_reserve_in, R,
         0x5E, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, sa=sa) for sa in _PR_IN_SAS),
    _e("PERSISTENT RESERVE OUT", persistent_out.persistent_reserve_out, W, 0x5F, 0x1F, 0xFF, 0, 0, *_FF4),
    *(_e(f"PERSISTENT RESERVE OUT/{sa:02X}h", persistent_out.persistent_reserve_out, W,
         0x5F, 0, 0xFF, 0, 0, *_FF4, sa=sa) for sa in range(persistent_out.REGISTER_AND_MOVE + 1)),
    _e("REPORT LUNS", report_luns.report_luns, A, 0xA0, 0, 0xFF, 0, 0, 0, *_FF4, 0, exempt=True),
    _e("REPORT TARGET PORT GROUPS", alua.report_target_port_groups, A, 0xA3, 0xE0, 0, 0, 0, 0, *_FF4, 0,
       sa=0x0A),
    _e("SET TARGET PORT GROUPS", alua.set_target_port_groups, C, 0xA4, 0, 0, 0, 0, 0, *_FF4, 0, sa=0x0A),
    _e("REPORT SUPPORTED OPERATION CODES", rsoc.report_supported_opcodes, A, 0xA3, 0, 0x87, 0xFF, 0xFF, 0xFF,
       *_FF4, 0, sa=0x0C),
    _e("REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", rsoc.report_supported_tmfs, A, 0xA3, 0, 0x80, 0, 0, 0,
       *_FF4, 0, sa=0x0D),
]
"""Every device type's table starts from these: ``OpcodeTable(SPC_ENTRIES).extend(...)``.

Reservation access (``reservations.py``): ALWAYS never conflicts; READ conflicts under Exclusive
Access types; CONFLICT (and WRITE) under any reservation held by another I_T nexus. TEST UNIT READY,
PERSISTENT RESERVE IN/OUT pass any persistent reservation but not an SPC-2 RESERVE.
"""
