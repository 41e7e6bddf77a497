"""INQUIRY (SPC-5 6.7): standard INQUIRY data and the EVPD dispatch to ``vpd.py``.

The VERSION field claims SPC-4 (06h): libiscsi's conformance suite accepts only 04h..06h. The
version descriptors also name SPC-5 and SAM-5, the transport, and the device type's command sets.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.command import Nexus, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, LUN_NOT_SUPPORTED, DeviceType
from hpt.scsi.core.sense import SenseError
from hpt.scsi.lu import LuParams
from hpt.scsi.spc.alua import TPGS_IMPLICIT
from hpt.scsi.spc.vpd import vpd_page

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

VERSION_SPC4 = 0x06
STANDARD_LENGTH = 96
# Version descriptors (SPC-5 6.7.2 table 152).
SAM_5, SPC_5, SPC_4 = 0x00A0, 0x05C0, 0x0460
TRANSPORT_VERSIONS = {5: 0x0960, 0: 0x0A40}  # protocol identifier -> iSCSI, FCP-4

QUALIFIER_NOT_CONNECTED = 0b011  # SPC-5 6.7.2: no logical unit at this LUN
_HISUP, _RDF = 0x10, 0x02
_MULTIP, _CMDQUE, _RMB = 0x10, 0x02, 0x80
_3PC = 0x08  # byte 5: third-party copy (EXTENDED COPY) supported
EXTENDED_COPY = 0x83


def _ascii(text: str, width: int) -> bytes:
    """Left-aligned, space-padded ASCII (SPC-5 4.3.1): other characters become spaces."""
    raw = bytes(c if 0x20 <= c <= 0x7E else 0x20 for c in text.encode("ascii", "replace"))
    return raw[:width].ljust(width)


def standard_data(params: LuParams, *, peripheral: int, tpgs: int, multiport: bool,
                  versions: tuple[int, ...], third_party_copy: bool = False) -> bytes:
    """96 bytes of standard INQUIRY data (SPC-5 6.7.2 table 148); 3PC when the LU is a copy manager."""
    head = struct.pack(
        ">BBBBBBBB",
        peripheral,
        _RMB if params.removable else 0,
        VERSION_SPC4,
        _HISUP | _RDF,
        STANDARD_LENGTH - 5,
        tpgs << 4 | (_3PC if third_party_copy else 0),
        _MULTIP if multiport else 0,
        _CMDQUE,
    )
    ident = _ascii(params.vendor, 8) + _ascii(params.product, 16) + _ascii(params.revision, 4)
    descriptors = struct.pack(">8H", *(versions + (0,) * 8)[:8])
    return head + ident + bytes(22) + descriptors + bytes(22)


def standard_inquiry(lu: LogicalUnit, nexus: Nexus) -> bytes:
    versions = (SAM_5, SPC_5, SPC_4)
    transport = TRANSPORT_VERSIONS.get(nexus.protocol)
    if transport is not None:
        versions += (transport,)
    versions += lu.profile.versions
    target = lu.target
    ports = 1 if target is None else len(target.relative_port_ids)
    tpgs = TPGS_IMPLICIT if target is None else target.tpgs
    return standard_data(lu.params, peripheral=lu.profile.device_type, tpgs=tpgs, multiport=ports > 1,
                         versions=versions, third_party_copy=lu.table.has_service_actions(EXTENDED_COPY))


def _cdb_fields(cmd: ScsiCommand) -> tuple[bool, int, int]:
    """EVPD, PAGE CODE and ALLOCATION LENGTH, checked: CMDDT must be zero, a page code needs EVPD."""
    cdb = cmd.cdb
    if cdb[1] & 0x02:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)
    evpd = bool(cdb[1] & 0x01)
    if not evpd and cdb[2]:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    (alloc,) = struct.unpack_from(">H", cdb, 3)
    return evpd, cdb[2], alloc


def inquiry(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """INQUIRY: standard data, or the VPD page named by PAGE CODE (unknown: INVALID FIELD IN CDB)."""
    evpd, page, alloc = _cdb_fields(cmd)
    if not evpd:
        return cmd.reply(standard_inquiry(lu, cmd.nexus), alloc)
    data = vpd_page(lu, cmd.nexus, page)
    if data is None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    return cmd.reply(data, alloc)


def absent_lun_inquiry(cmd: ScsiCommand) -> ScsiResult:
    """INQUIRY to a LUN with no logical unit: qualifier 011b, type 1Fh (SPC-5 6.7.2)."""
    evpd, _, alloc = _cdb_fields(cmd)
    if evpd:
        raise SenseError(LUN_NOT_SUPPORTED)
    peripheral = QUALIFIER_NOT_CONNECTED << 5 | DeviceType.UNKNOWN
    data = standard_data(LuParams(product=""), peripheral=peripheral, tpgs=0, multiport=False,
                         versions=())
    return cmd.reply(data, alloc)
