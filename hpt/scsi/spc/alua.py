"""ALUA commands: REPORT TARGET PORT GROUPS (SPC-5 6.36) and SET TARGET PORT GROUPS (6.46).

The states, the target port groups and what each state allows are ``hpt.scsi.core.alua``'s. A group
leaves an active state through the administrator (implicit ALUA) or, with explicit ALUA enabled (TPGS
11b), SET TARGET PORT GROUPS; either way the other I_T nexuses get ASYMMETRIC ACCESS STATE CHANGED
(``ScsiTarget.set_alua_states``).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.alua import AO, SETTABLE_STATES, SUPPORTED_STATES, AluaState
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_OPCODE,
    PARAMETER_LIST_LENGTH_ERROR,
)
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError

__all__ = ["AluaState", "report_target_port_groups", "set_target_port_groups"]

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

TPGS_IMPLICIT, TPGS_EXPLICIT = 0b01, 0b10  # standard INQUIRY TPGS field bits (SPC-5 6.7.2)
DEFAULT_PORT_GROUP = 1
FORMAT_LENGTH_ONLY, FORMAT_EXTENDED = 0b000, 0b001
IMPLICIT_TRANSITION_TIME = 1  # seconds: hpt's own transitions are immediate (6.36.1 extended header)


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
                          supported: tuple[AluaState, ...] = SUPPORTED_STATES) -> bytes:
    """A target port group descriptor with its relative target port identifiers (6.36.2)."""
    sup = 0
    for s in (*supported, state):
        sup |= _SUPPORTED[s]
    head = struct.pack(">BBHxxxB", state, sup, group, len(ports))
    return head + b"".join(struct.pack(">xxH", p) for p in ports)


def report_target_port_groups(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MAINTENANCE IN / REPORT TARGET PORT GROUPS: every group with its ports and state, with the
    length-only or the extended header (6.36)."""
    cdb = cmd.cdb
    fmt = cdb[1] >> 5
    (alloc,) = struct.unpack_from(">I", cdb, 6)
    target = lu.target
    if target is None:
        desc = port_group_descriptor(DEFAULT_PORT_GROUP, AO, [cmd.nexus.rtpi])
    else:
        groups = target.port_groups
        desc = b"".join(port_group_descriptor(g, groups.states[g], ports)
                        for g, ports in sorted(groups.members.items()))
    if fmt == FORMAT_LENGTH_ONLY:
        data = struct.pack(">I", len(desc)) + desc
    elif fmt == FORMAT_EXTENDED:
        data = struct.pack(">IBBxx", len(desc) + 4, FORMAT_EXTENDED << 4, IMPLICIT_TRANSITION_TIME) + desc
    else:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=7)
    return cmd.reply(data, alloc)


def set_target_port_groups(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """MAINTENANCE OUT / SET TARGET PORT GROUPS (6.46): explicit transitions, all or none; refused as
    an unsupported command unless the target offers explicit ALUA (TPGS bit 1). The LU's other
    gateways set the same states when its store shares state with them (``hpt.scsi.pr.shared``);
    else a peer gateway's group is an invalid field here: it changes through that gateway."""
    target = lu.target
    if target is None or not target.tpgs & TPGS_EXPLICIT:
        raise SenseError(INVALID_OPCODE, field=0)
    (length,) = struct.unpack_from(">I", cmd.cdb, 6)
    if length == 0:
        return GOOD
    data = parameter_list(cmd, length)
    if length < 4 or length % 4:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    states: dict[int, AluaState] = {}
    for off in range(4, length, 4):
        (group,) = struct.unpack_from(">H", data, off + 2)
        state = data[off] & 0x0F
        peer = group in target.port_groups.peers
        if group not in target.port_groups.states or peer and lu.pr.shared is None:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off + 2, in_cdb=False)
        if state not in SETTABLE_STATES:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off, bit=3, in_cdb=False)
        states[group] = AluaState(state)
    target.set_alua_states(states, by=cmd.nexus.initiator_port)
    if lu.pr.shared is not None:  # the LU's other gateways set them too
        lu.pr.shared.share_alua(states)
    return GOOD
