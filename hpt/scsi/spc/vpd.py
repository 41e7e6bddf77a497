"""Vital product data pages (SPC-5 7.7, SBC-4 6.6) and the LU identifiers they carry.

INQUIRY with EVPD=1 serves SPC's pages (``SPC_VPD_PAGES``) and the pages of the LU's device profile.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.scsi.core.command import Nexus

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

# Designator fields (SPC-5 7.7.6.1): code sets, associations, types.
CODE_BINARY, CODE_ASCII, CODE_UTF8 = 1, 2, 3
ASSOC_LU, ASSOC_TARGET_PORT, ASSOC_TARGET_DEVICE = 0, 1, 2
TYPE_T10_VENDOR, TYPE_NAA, TYPE_RELATIVE_PORT, TYPE_PORT_GROUP, TYPE_SCSI_NAME = 1, 3, 4, 5, 8
NAA_LOCALLY_ASSIGNED = 0x3


@dataclass(frozen=True, slots=True)
class VpdPage:
    """A VPD page: code and the builder of the bytes after the 4-byte header."""

    code: int
    build: Callable[[LogicalUnit, Nexus], bytes]


def pages_for(lu: LogicalUnit) -> dict[int, VpdPage]:
    """SPC's pages and the LU's device profile's, by page code (a profile page replaces SPC's)."""
    pages = {p.code: p for p in SPC_VPD_PAGES}
    pages.update((p.code, p) for p in lu.profile.vpd_pages)
    return dict(sorted(pages.items()))


def vpd_page(lu: LogicalUnit, nexus: Nexus, code: int) -> bytes | None:
    """The whole page (header included) or None if the LU's device type has no such page."""
    page = pages_for(lu).get(code)
    if page is None:
        return None
    body = page.build(lu, nexus)
    return struct.pack(">BBH", lu.profile.device_type, code, len(body)) + body


# -- identifiers -------------------------------------------------------------------------------
def _digest(lu: LogicalUnit) -> bytes:
    target = "" if lu.target is None else lu.target.name
    return hashlib.sha1(f"{target}:{lu.lun}".encode()).digest()


def serial_of(lu: LogicalUnit) -> str:
    """PRODUCT SERIAL NUMBER: the configured one or 16 hex digits derived from target name and LUN."""
    return lu.params.serial or _digest(lu)[:8].hex().upper()


def naa_of(lu: LogicalUnit) -> int:
    """The 64-bit NAA identifier: the configured one, or NAA 3 (locally assigned) derived stably."""
    if lu.params.naa is not None:
        return lu.params.naa & 0xFFFFFFFFFFFFFFFF
    low60 = int.from_bytes(_digest(lu)[8:16], "big") & ((1 << 60) - 1)
    return NAA_LOCALLY_ASSIGNED << 60 | low60


def scsi_name_string(name: str) -> bytes:
    """SCSI NAME STRING: UTF-8, NUL-terminated, padded to a multiple of four (SPC-5 7.7.6.11)."""
    raw = name.encode()
    return raw + bytes(4 - len(raw) % 4)


def designator(code_set: int, assoc: int, dtype: int, value: bytes, protocol: int | None = None) -> bytes:
    """One designation descriptor; ``protocol`` sets PIV and the PROTOCOL IDENTIFIER (7.7.6.1)."""
    b0 = code_set | (0 if protocol is None else protocol << 4)
    b1 = (0 if protocol is None else 0x80) | assoc << 4 | dtype
    return struct.pack(">BBxB", b0, b1, len(value)) + value


# -- page builders -----------------------------------------------------------------------------
def _supported_pages(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """00h: page codes in ascending order (SPC-5 7.7.18)."""
    return bytes(sorted(pages_for(lu)))


def _unit_serial(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """80h Unit Serial Number (SPC-5 7.7.19)."""
    return serial_of(lu).encode("ascii", "replace")


def _device_identification(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """83h Device Identification (SPC-5 7.7.6): LU, target port and target device designators."""
    naa = naa_of(lu)
    vendor = lu.params.vendor.encode("ascii", "replace")[:8].ljust(8)
    out = [
        designator(CODE_BINARY, ASSOC_LU, TYPE_NAA, naa.to_bytes(8, "big")),
        designator(CODE_ASCII, ASSOC_LU, TYPE_T10_VENDOR, vendor + serial_of(lu).encode("ascii", "replace")),
        designator(CODE_UTF8, ASSOC_LU, TYPE_SCSI_NAME, scsi_name_string(f"naa.{naa:016X}")),
    ]
    target = lu.target
    proto = nexus.protocol
    out.append(designator(CODE_BINARY, ASSOC_TARGET_PORT, TYPE_RELATIVE_PORT,
                          struct.pack(">xxH", nexus.rtpi), proto))
    if target is not None:
        out.append(designator(CODE_BINARY, ASSOC_TARGET_PORT, TYPE_PORT_GROUP,
                              struct.pack(">xxH", target.port_groups.group_of(nexus.rtpi)), proto))
    port_name = nexus.target_port or ("" if target is None else target.target_port_name)
    if port_name:
        name = scsi_name_string(port_name)
        out.append(designator(CODE_UTF8, ASSOC_TARGET_PORT, TYPE_SCSI_NAME, name, proto))
    if target is not None and target.name:
        out.append(designator(CODE_UTF8, ASSOC_TARGET_DEVICE, TYPE_SCSI_NAME, scsi_name_string(target.name),
                              proto))
    return b"".join(out)


def _extended_inquiry(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """86h Extended INQUIRY Data (SPC-5 7.7.7): HEADSUP ORDSUP SIMPSUP, the profile's byte 6 (V_SUP
    for disks), LUICLR."""
    body = bytearray(60)
    body[1] = 0x07
    body[2] = lu.profile.extended_vpd_flags
    body[3] = 0x01
    return bytes(body)


SPC_VPD_PAGES: tuple[VpdPage, ...] = (
    VpdPage(0x00, _supported_pages),
    VpdPage(0x80, _unit_serial),
    VpdPage(0x83, _device_identification),
    VpdPage(0x86, _extended_inquiry),
)
