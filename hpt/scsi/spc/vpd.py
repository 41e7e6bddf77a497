"""Vital product data pages (SPC-5 7.7, SBC-4 6.6) and the LU identifiers they carry.

Pages are registered per device type (:func:`register_vpd_page`); INQUIRY with EVPD=1 serves
the pages of the LU's type. The SBC constants below are the limits the disk commands enforce.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.scsi.core.command import Nexus
from hpt.scsi.core.constants import DeviceType

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

# Block limits the SBC commands honour (SBC-4 6.6.4); 0xFFFFFFFF and 0 mean "no limit".
MAX_CAW_BLOCKS = 255  # MAXIMUM COMPARE AND WRITE LENGTH
MAX_UNMAP_LBA_COUNT = 0xFFFFFFFF
MAX_UNMAP_BLOCK_DESCRIPTORS = 4095  # the most a 16-bit UNMAP parameter list length holds (SBC-4 5.32)
MAX_WRITE_SAME_BLOCKS = 0
WRITE_SAME_NON_ZERO = True  # WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS zero is rejected
UNMAP_GRANULARITY_BYTES = 4096  # hole-punch granularity of file stores

# Designator fields (SPC-5 7.7.6.1): code sets, associations, types.
CODE_BINARY, CODE_ASCII, CODE_UTF8 = 1, 2, 3
ASSOC_LU, ASSOC_TARGET_PORT, ASSOC_TARGET_DEVICE = 0, 1, 2
TYPE_T10_VENDOR, TYPE_NAA, TYPE_RELATIVE_PORT, TYPE_PORT_GROUP, TYPE_SCSI_NAME = 1, 3, 4, 5, 8
NAA_LOCALLY_ASSIGNED = 0x3


@dataclass(frozen=True, slots=True)
class VpdPage:
    """A VPD page: code, builder of the bytes after the 4-byte header, device types (None: all)."""

    code: int
    build: Callable[[LogicalUnit, Nexus], bytes]
    device_types: frozenset[DeviceType] | None = None


VPD_PAGES: list[VpdPage] = []


def register_vpd_page(page: VpdPage) -> None:
    """Add a page; a later page with the same code overrides an earlier one for its device types."""
    VPD_PAGES.append(page)


def pages_for(device_type: DeviceType) -> dict[int, VpdPage]:
    return {p.code: p for p in VPD_PAGES if p.device_types is None or device_type in p.device_types}


def vpd_page(lu: LogicalUnit, nexus: Nexus, code: int) -> bytes | None:
    """The whole page (header included) or None if the LU's device type has no such page."""
    page = pages_for(lu.params.device_type).get(code)
    if page is None:
        return None
    body = page.build(lu, nexus)
    return struct.pack(">BBH", lu.params.device_type, code, len(body)) + body


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
    return bytes(sorted(pages_for(lu.params.device_type)))


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
                              struct.pack(">xxH", target.port_group_id), proto))
    port_name = nexus.target_port or ("" if target is None else target.target_port_name)
    if port_name:
        name = scsi_name_string(port_name)
        out.append(designator(CODE_UTF8, ASSOC_TARGET_PORT, TYPE_SCSI_NAME, name, proto))
    if target is not None and target.name:
        out.append(designator(CODE_UTF8, ASSOC_TARGET_DEVICE, TYPE_SCSI_NAME, scsi_name_string(target.name),
                              proto))
    return b"".join(out)


def _extended_inquiry(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """86h Extended INQUIRY Data (SPC-5 7.7.7): HEADSUP ORDSUP SIMPSUP, V_SUP for disks, LUICLR."""
    v_sup = 0x01 if lu.params.device_type == DeviceType.DISK else 0
    body = bytearray(60)
    body[1] = 0x07
    body[2] = v_sup
    body[3] = 0x01
    return bytes(body)


def _block_limits(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B0h Block Limits (SBC-4 6.6.4); unmap limits only on thin-provisioned LUs."""
    p = lu.params
    thin = p.thin
    granularity = max(1, UNMAP_GRANULARITY_BYTES // p.block_size)
    return struct.pack(
        ">BBHIIIIIIIQ20x",
        0x01 if WRITE_SAME_NON_ZERO else 0,
        MAX_CAW_BLOCKS,
        0,  # OPTIMAL TRANSFER LENGTH GRANULARITY
        p.max_xfer_blocks,
        p.optimal_xfer_blocks,
        0,  # MAXIMUM PREFETCH LENGTH
        MAX_UNMAP_LBA_COUNT if thin else 0,
        MAX_UNMAP_BLOCK_DESCRIPTORS if thin else 0,
        granularity if thin else 0,
        0x80000000 if thin else 0,  # UGAVALID, UNMAP GRANULARITY ALIGNMENT 0
        MAX_WRITE_SAME_BLOCKS,
    )


def _block_device_characteristics(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B1h Block Device Characteristics (SBC-4 6.6.2): MEDIUM ROTATION RATE."""
    return struct.pack(">H58x", lu.params.rotation_rate)


def _logical_block_provisioning(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """B2h Logical Block Provisioning (SBC-4 6.6.6): thin (LBPU LBPWS LBPWS10 LBPRZ=001b) or full."""
    if lu.params.thin:
        return struct.pack(">BBBB", 0, 0x80 | 0x40 | 0x20 | 0x04, 0x02, 0)
    return bytes(4)


_DISK = frozenset({DeviceType.DISK})
for _page in (
    VpdPage(0x00, _supported_pages),
    VpdPage(0x80, _unit_serial),
    VpdPage(0x83, _device_identification),
    VpdPage(0x86, _extended_inquiry),
    VpdPage(0xB0, _block_limits, _DISK),
    VpdPage(0xB1, _block_device_characteristics, _DISK),
    VpdPage(0xB2, _logical_block_provisioning, _DISK),
):
    register_vpd_page(_page)
