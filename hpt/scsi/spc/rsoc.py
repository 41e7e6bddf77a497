"""REPORT SUPPORTED OPERATION CODES (SPC-5 6.35) and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (6.38).

Both read the LU's :class:`OpcodeTable`; :func:`usage` builds the CDB USAGE DATA every
:class:`OpcodeEntry` carries.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.alua import MAINTENANCE_OUT, SET_TARGET_PORT_GROUPS
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.opcodes import VARIABLE_LENGTH, OpcodeEntry, OpcodeTable
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc.alua import TPGS_EXPLICIT

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

CONTROL = 0x00  # usage mask of the CONTROL byte: hpt supports neither NACA nor linked commands
NOMINAL_TIMEOUT = 0  # seconds; 0: not specified (SPC-5 6.35.4)
RECOMMENDED_TIMEOUT = 30
SUPPORT_NOT_SUPPORTED, SUPPORT_STANDARD = 0b001, 0b011  # SPC-5 table 268 SUPPORT values
ALL_COMMANDS, ONE_OPCODE, ONE_SERVICE_ACTION, OPCODE_OR_SERVICE_ACTION = 0, 1, 2, 3
# REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS byte 0: ATS, ATSS, CTSS, LURS, TRS (the TMFs hpt serves)
TMF_SUPPORT = 0x80 | 0x40 | 0x10 | 0x08 | 0x02


def usage(opcode: int, *masks: int, sa: int | None = None) -> bytes:
    """CDB USAGE DATA (SPC-5 6.35.3): the opcode, one bit mask per further CDB byte, and the
    service action ``sa`` written into its field (byte 1, or bytes 8..9 of a variable-length CDB).

    ``usage(0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, CONTROL)`` describes READ(10).
    """
    data = bytearray((opcode, *masks))
    if sa is not None:
        if opcode == VARIABLE_LENGTH:
            data[8:10] = sa.to_bytes(2, "big")
        else:
            data[1] = (data[1] & 0xE0) | sa
    return bytes(data)


def usage_of(entry: OpcodeEntry) -> bytes:
    """The entry's usage data, or a minimal one (opcode and service action only) if it has none."""
    if entry.usage:
        return entry.usage
    return usage(entry.opcode, *bytes(entry.cdb_len - 1), sa=entry.service_action)


def _timeouts() -> bytes:
    """Command timeouts descriptor (SPC-5 6.35.4): length 0Ah, nominal and recommended seconds."""
    return struct.pack(">HxxII", 0x0A, NOMINAL_TIMEOUT, RECOMMENDED_TIMEOUT)


def reported(table: OpcodeTable, lu: LogicalUnit | None = None) -> list[OpcodeEntry]:
    """The entries to report: a plain entry that only fronts its opcode's service actions is left out,
    and so is one the LU does not offer now (``offered``)."""
    return [e for e in table if (e.service_action is not None or not table.has_service_actions(e.opcode))
            and (lu is None or offered(lu, e))]


def offered(lu: LogicalUnit, entry: OpcodeEntry) -> bool:
    """SET TARGET PORT GROUPS is supported only with explicit ALUA, TPGS 1xb (SPC-5 6.46)."""
    if (entry.opcode, entry.service_action) != (MAINTENANCE_OUT, SET_TARGET_PORT_GROUPS):
        return True
    return lu.target is not None and bool(lu.target.tpgs & TPGS_EXPLICIT)


def _all_commands(lu: LogicalUnit, rctd: bool) -> bytes:
    """Reporting option 000b: one command descriptor per opcode and service action (6.35.3)."""
    out = bytearray()
    for e in reported(lu.table, lu):
        flags = (0x01 if e.service_action is not None else 0) | (0x02 if rctd else 0)
        out += struct.pack(">BxHxBH", e.opcode, e.service_action or 0, flags, len(usage_of(e)))
        if rctd:
            out += _timeouts()
    return struct.pack(">I", len(out)) + out


def _lookup_one(table: OpcodeTable, option: int, opcode: int, sa: int) -> OpcodeEntry | None:
    """The entry reporting options 001b..011b ask about; option/opcode mismatches are CDB errors."""
    has_sa = table.has_service_actions(opcode)
    if option == ONE_OPCODE and has_sa:
        raise SenseError(INVALID_FIELD_IN_CDB, field=3)
    if option == ONE_SERVICE_ACTION and not has_sa and table.get(opcode) is not None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=3)
    return table.get(opcode, sa) if has_sa else table.get(opcode)


def _one_command(lu: LogicalUnit, option: int, opcode: int, sa: int, rctd: bool) -> bytes:
    """Reporting options 001b, 010b, 011b: the one-command parameter data (6.35.4)."""
    entry = _lookup_one(lu.table, option, opcode, sa)
    if entry is None or not offered(lu, entry):
        return struct.pack(">xBH", SUPPORT_NOT_SUPPORTED, 0)
    cdb_usage = usage_of(entry)
    head = struct.pack(">xBH", (0x80 if rctd else 0) | SUPPORT_STANDARD, len(cdb_usage))
    return head + cdb_usage + (_timeouts() if rctd else b"")


def report_supported_opcodes(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MAINTENANCE IN / REPORT SUPPORTED OPERATION CODES (SPC-5 6.35)."""
    cdb = cmd.cdb
    rctd = bool(cdb[2] & 0x80)
    option = cdb[2] & 0x07
    opcode, sa, alloc = cdb[3], *struct.unpack_from(">HI", cdb, 4)
    if option == ALL_COMMANDS:
        data = _all_commands(lu, rctd)
    elif option <= OPCODE_OR_SERVICE_ACTION:
        data = _one_command(lu, option, opcode, sa, rctd)
    else:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2, bit=2)
    return cmd.reply(data, alloc)


def report_supported_tmfs(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MAINTENANCE IN / REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (SPC-5 6.38), REPD 0 or 1."""
    cdb = cmd.cdb
    (alloc,) = struct.unpack_from(">I", cdb, 6)
    if alloc < 4:
        raise SenseError(INVALID_FIELD_IN_CDB, field=6)
    extended = bool(cdb[2] & 0x80)  # REPD: the 16-byte format with ADDITIONAL DATA LENGTH 0Ch
    data = struct.pack(">BxxB12x", TMF_SUPPORT, 0x0C) if extended else struct.pack(">Bxxx", TMF_SUPPORT)
    return cmd.reply(data, alloc)
