"""Asymmetric logical unit access: REPORT TARGET PORT GROUPS (SPC-5 5.16, 6.36).

hpt implements implicit ALUA only (TPGS 01b): one target port group per target, whose state the
target sets; SET TARGET PORT GROUPS (explicit ALUA) is not in the opcode table.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

TPGS_IMPLICIT = 0b01  # standard INQUIRY TPGS field (SPC-5 6.7.2)
DEFAULT_PORT_GROUP = 1
FORMAT_LENGTH_ONLY, FORMAT_EXTENDED = 0b000, 0b001


class AluaState(IntEnum):
    """SPC-5 6.36.2 table 280 asymmetric access states."""

    ACTIVE_OPTIMIZED = 0x0
    ACTIVE_NON_OPTIMIZED = 0x1
    STANDBY = 0x2
    UNAVAILABLE = 0x3
    LBA_DEPENDENT = 0x4
    OFFLINE = 0xE
    TRANSITIONING = 0xF


# Supported-state bits of the descriptor: T_SUP, O_SUP, LBD_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP.
_SUPPORTED = {
    AluaState.ACTIVE_OPTIMIZED: 0x01,
    AluaState.ACTIVE_NON_OPTIMIZED: 0x02,
    AluaState.STANDBY: 0x04,
    AluaState.UNAVAILABLE: 0x08,
    AluaState.LBA_DEPENDENT: 0x10,
    AluaState.OFFLINE: 0x40,
    AluaState.TRANSITIONING: 0x80,
}


def port_group_descriptor(group: int, state: AluaState, ports: list[int],
                          supported: tuple[AluaState, ...] = (AluaState.ACTIVE_OPTIMIZED,)) -> bytes:
    """A target port group descriptor with its relative target port identifiers (6.36.2)."""
    sup = 0
    for s in (*supported, state):
        sup |= _SUPPORTED[s]
    head = struct.pack(">BBHxxxB", state, sup, group, len(ports))
    return head + b"".join(struct.pack(">xxH", p) for p in ports)


def report_target_port_groups(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MAINTENANCE IN / REPORT TARGET PORT GROUPS, length-only or extended header (6.36)."""
    cdb = cmd.cdb
    fmt = cdb[1] >> 5
    (alloc,) = struct.unpack_from(">I", cdb, 6)
    target = lu.target
    if target is None:
        desc = port_group_descriptor(DEFAULT_PORT_GROUP, AluaState.ACTIVE_OPTIMIZED, [cmd.nexus.rtpi])
    else:
        desc = port_group_descriptor(target.port_group_id, target.alua_state, target.relative_port_ids)
    if fmt == FORMAT_LENGTH_ONLY:
        data = struct.pack(">I", len(desc)) + desc
    elif fmt == FORMAT_EXTENDED:
        data = struct.pack(">IBxxx", len(desc) + 4, FORMAT_EXTENDED << 4) + desc
    else:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=7)
    return cmd.reply(data, alloc)
