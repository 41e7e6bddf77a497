"""READ ELEMENT STATUS (SMC-3 6.10): element status data, pages and descriptors.

The data is an 8-byte element status data header, then one element status page per element type
(in the order transport, storage, import/export, data transfer), each an 8-byte page header and
descriptors of one length. With VOLTAG a descriptor carries the 36-byte primary volume tag (the
barcode, PVOLTAG); with DVCID the data transfer elements carry their drive's device identification
descriptor (SMC-3 6.10.4), the other types an empty one.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.smc.elements import INVALID_ELEMENT_ADDRESS, ORDER, Element, ElementType

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit
    from hpt.scsi.smc.changer import Changer

VOLTAG_LEN = 36  # 32 bytes of volume identifier, 2 reserved, 2 of volume sequence number
DVCID_HEADER = 4  # CODE SET, IDENTIFIER TYPE, reserved, IDENTIFIER LENGTH
PVOLTAG = 0x80
# element flags (byte 2 of a descriptor, SMC-3 6.10.x)
FULL, IMPEXP, ACCESS, INENAB, EXENAB = 0x01, 0x02, 0x08, 0x20, 0x10
SVALID = 0x80  # byte 9
DATA_MEDIUM = 0x01  # MEDIUM TYPE: data medium (SMC-3 6.10.x table)
LU_VALID = 0x10  # data transfer element byte 6: the LUN field is valid


def volume_tag(barcode: str) -> bytes:
    """The 36-byte volume tag: the identifier left-aligned and space-padded, sequence number 0."""
    return barcode.encode("ascii", "replace")[:32].ljust(32) + bytes(4)


def _flags(element: Element) -> int:
    flags = FULL if element.medium is not None else 0
    if element.type != ElementType.TRANSPORT:
        flags |= ACCESS
    if element.type == ElementType.IMPORT_EXPORT:
        flags |= INENAB | EXENAB | (IMPEXP if element.imported else 0)
    return flags


def _identifier(element: Element) -> bytes:
    """The drive's device identification descriptor, or an empty one."""
    if element.drive is None:
        return bytes(DVCID_HEADER)
    ident = bytes(element.drive.drive.identifier())
    return ident if len(ident) >= DVCID_HEADER else bytes(DVCID_HEADER)


def descriptor(element: Element, voltag: bool, dvcid: bool) -> bytes:
    """One element descriptor (SMC-3 6.10.3-6.10.6), not yet padded to its page's length."""
    lun_byte = 0
    if element.drive is not None and element.drive.lun < 8:
        lun_byte = LU_VALID | element.drive.lun
    medium_byte, source = 0, 0
    if element.medium is not None:
        medium_byte = DATA_MEDIUM
        if element.source is not None:
            medium_byte |= SVALID
            source = element.source
    out = struct.pack(">HBxBBBxxBH", element.address, _flags(element), 0, 0, lun_byte, medium_byte, source)
    if voltag:
        out += volume_tag(element.medium.barcode) if element.medium is not None else bytes(VOLTAG_LEN)
    if dvcid:
        out += _identifier(element)
    return out


def _page(kind: ElementType, elements: list[Element], voltag: bool, dvcid: bool) -> bytes:
    """An element status page: its header, then descriptors padded to one length (a multiple of 4)."""
    descs = [descriptor(e, voltag, dvcid) for e in elements]
    length = max(len(d) for d in descs)
    length += -length % 4 if dvcid else 0
    body = b"".join(d.ljust(length, b"\0") for d in descs)
    header = struct.pack(">BBHx", kind, PVOLTAG if voltag else 0, length)
    return header + len(body).to_bytes(3, "big") + body


def element_status(changer: Changer, kind: ElementType, start: int, count: int, voltag: bool,
                   dvcid: bool) -> bytes:
    """The whole element status data: elements of ``kind`` (ALL: every type) at addresses from
    ``start`` on, ``count`` at most, in reporting order."""
    chosen = [e for e in changer.of_type(kind) if e.address >= start][:count]
    pages = b""
    for page_kind in ORDER:
        members = [e for e in chosen if e.type == page_kind]
        if members:
            pages += _page(page_kind, members, voltag, dvcid)
    first = chosen[0].address if chosen else 0
    return struct.pack(">HHx", first, len(chosen)) + len(pages).to_bytes(3, "big") + pages


def read_element_status(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SMC-3 READ ELEMENT STATUS: the elements asked for, cut to the ALLOCATION LENGTH.

    CURDATA asks that no element be moved to find its status: hpt never moves one for this, so it
    is accepted and needs nothing. A STARTING ELEMENT ADDRESS above every element of the type asked
    for is INVALID ELEMENT ADDRESS.
    """
    cdb = cmd.cdb
    code = cdb[1] & 0x0F
    if code > ElementType.DATA_TRANSFER:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=3)
    kind = ElementType(code)
    voltag, dvcid = bool(cdb[1] & 0x10), bool(cdb[6] & 0x01)
    start, count = u16(cdb, 2), u16(cdb, 4)
    alloc = int.from_bytes(cdb[7:10], "big")
    changer: Changer = lu.state
    if not any(e.address >= start for e in changer.of_type(kind)):
        raise SenseError(INVALID_ELEMENT_ADDRESS, field=2)
    return cmd.reply(element_status(changer, kind, start, count, voltag, dvcid), alloc)
