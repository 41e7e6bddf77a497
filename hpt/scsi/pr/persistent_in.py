"""PERSISTENT RESERVE IN (SPC-5 6.16): READ KEYS, READ RESERVATION, REPORT CAPABILITIES, READ FULL STATUS."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.pr.transport_id import encode as encode_transport_id

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.pr.reservations import Reservations

READ_KEYS, READ_RESERVATION, REPORT_CAPABILITIES, READ_FULL_STATUS = 0, 1, 2, 3

# REPORT CAPABILITIES (SPC-5 6.16.4): CRH, SIP_C, ATP_C; TMV with ALLOW COMMANDS 011b
# (TEST UNIT READY through WE and EA, MODE SENSE and friends through WE only) and the six types.
_CRH, _SIP_C, _ATP_C, _PTPL_C = 0x10, 0x08, 0x04, 0x01
_TMV_ALLOW_COMMANDS, _PTPL_A = 0x80 | 0x30, 0x01
_TYPE_MASK = 0xEA01  # WR_EX_AR EX_AC_RO WR_EX_RO EX_AC WR_EX | EX_AC_AR


def _read_keys(pr: Reservations) -> bytes:
    keys = b"".join(struct.pack(">Q", reg.key) for reg in pr.registrations)
    return struct.pack(">II", pr.generation, len(keys)) + keys


def _read_reservation(pr: Reservations) -> bytes:
    res = pr.reservation
    if res is None:
        return struct.pack(">II", pr.generation, 0)
    key = 0 if res.holder is None else res.holder.key  # all-registrants: key zero (SPC-5 6.16.3.2)
    return struct.pack(">IIQ4xxBxx", pr.generation, 16, key, res.scope << 4 | res.type)


def _report_capabilities(pr: Reservations) -> bytes:
    caps = _CRH | _SIP_C | _ATP_C | (_PTPL_C if pr.can_persist else 0)
    return struct.pack(">HBBH2x", 8, caps, _TMV_ALLOW_COMMANDS | (_PTPL_A if pr.aptpl else 0), _TYPE_MASK)


def _read_full_status(pr: Reservations) -> bytes:
    res = pr.reservation
    out = bytearray()
    for reg in pr.registrations:
        holder = pr.is_holder(reg)
        flags = (0x02 if reg.all_tg_pt else 0) | (0x01 if holder else 0)
        scope_type = res.scope << 4 | res.type if holder and res is not None else 0
        tid = encode_transport_id(reg.protocol, reg.name, reg.isid)
        out += struct.pack(">Q4xBB4xHI", reg.key, flags, scope_type, reg.rtpi, len(tid)) + tid
    return struct.pack(">II", pr.generation, len(out)) + out


_SERVICE_ACTIONS: dict[int, Callable[[Reservations], bytes]] = {
    READ_KEYS: _read_keys,
    READ_RESERVATION: _read_reservation,
    REPORT_CAPABILITIES: _report_capabilities,
    READ_FULL_STATUS: _read_full_status,
}


def persistent_reserve_in(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """PERSISTENT RESERVE IN; the ADDITIONAL LENGTH is never cut by the allocation length (6.16.2)."""
    cdb = cmd.cdb
    build = _SERVICE_ACTIONS.get(cdb[1] & 0x1F)
    if build is None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)
    (alloc,) = struct.unpack_from(">H", cdb, 7)
    lu.pr.ports[cmd.nexus.initiator_port] = cmd.nexus
    lu.pr.refresh()
    return cmd.reply(build(lu.pr), alloc)
