"""The disk: the direct-access block device profile (SBC-4) and its LU parameter schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.lu import LogicalUnit, LuParams
from hpt.scsi.sbc import rw, sanitize
from hpt.scsi.sbc.common import check_ready, new_state
from hpt.scsi.sbc.echo_buffer import forget as forget_echo
from hpt.scsi.sbc.medium import release_prevention
from hpt.scsi.sbc.mode_pages import DISK_MEDIUM, DISK_MODE_PAGES
from hpt.scsi.sbc.table import disk_table
from hpt.scsi.sbc.vpd import DISK_VPD_PAGES
from hpt.scsi.sbc.xcopy import drop_records, third_party_copy
from hpt.scsi.spc.vpd import VpdPage
from hpt.store.keyfile import key_file_problem

if TYPE_CHECKING:
    from hpt.scsi.target import ScsiTarget
    from hpt.store.base import BackingStore

SBC_3, SBC_4 = 0x04C0, 0x0600  # version descriptors (SPC-5 6.7.2 table 152)
V_SUP = 0x01  # Extended INQUIRY Data byte 6: a volatile cache is supported (SPC-5 7.7.7)
BLOCK_SIZES = (512, 4096)


def _rotation_rate(value: int, values: object) -> str | None:
    if 2 <= value <= 0x400:
        return "must be 0 (not reported), 1 (non-rotating) or 1025..65534 rpm"
    return None


def _physical_block_size(value: int, values: Mapping[str, Any]) -> str | None:
    """A power of two times ``block_size`` (SBC-4 4.6.2: 2**LBPPBE logical blocks per physical block)."""
    bs = values.get("block_size", 512)
    if value and (value < bs or value % bs or (value // bs) & (value // bs - 1) or value // bs > 1 << 15):
        return f"must be block_size ({bs}) times a power of two (at most 32768), got {value}"
    return None


def _key_file(value: str, values: object) -> str | None:
    return key_file_problem(value) if value else None


DISK_OPTIONS = (
    Option("block_size", int, 512, "logical block size in bytes", choices=BLOCK_SIZES),
    Option("physical_block_size", int, 0,
           "physical block size in bytes (READ CAPACITY(16) LBPPBE, unmap granularity); 0: block_size",
           lo=0, check=_physical_block_size),
    Option("sanitize_rate", int, 0, "bytes per second a SANITIZE writes or erases at most; 0: no limit",
           lo=0),
    Option("optimal_xfer_blocks", int, 0, "OPTIMAL TRANSFER LENGTH of the Block Limits VPD page; 0: none",
           lo=0, hi=0xFFFFFFFF),
    Option("max_xfer_blocks", int, 0, "MAXIMUM TRANSFER LENGTH (Block Limits VPD page, enforced); 0: none",
           lo=0, hi=0xFFFFFFFF),
    Option("thin", bool, False, "thin provisioned: UNMAP, WRITE SAME with UNMAP, holes in GET LBA STATUS"),
    Option("rotation_rate", int, 1, "MEDIUM ROTATION RATE (SBC-4 6.6.2): 1 non-rotating, 0 not reported",
           lo=0, hi=0xFFFE, check=_rotation_rate),
    Option("write_cache", bool, True, "WCE of the caching mode page; off makes every write durable"),
    Option("encryption_key_file", "path", "",
           "keep the data encrypted (AES-256-XTS per logical block) with the key in this file, created "
           "(mode 0600) when missing; SANITIZE CRYPTO ERASE replaces the key; \"\": not encrypted",
           check=_key_file),
)

def reset_disk(lu: LogicalUnit, initiator_port: str | None) -> None:
    """A reset (port None) or an I_T nexus's loss: its PREVENT MEDIUM REMOVAL, held copy results and
    echo buffer go; a reset puts the clock back on the host's (SPC-5 5.2)."""
    release_prevention(lu, initiator_port)
    drop_records(lu, initiator_port)
    forget_echo(lu, initiator_port)
    if initiator_port is None:
        lu.state.timestamp_offset = None


DISK = DeviceProfile(
    name="disk",
    device_type=DeviceType.DISK,
    table=disk_table,
    medium=DISK_MEDIUM,
    vpd_pages=(*DISK_VPD_PAGES, VpdPage(0x8F, third_party_copy)),
    mode_pages=DISK_MODE_PAGES,
    versions=(SBC_4, SBC_3),
    ready=check_ready,
    reset=reset_disk,
    options=DISK_OPTIONS,
    state=new_state,
    product="VIRTUAL-DISK",
    extended_vpd_flags=V_SUP,
    quick_writable=rw.quick_writable,
    shared={"sanitize": sanitize.take_shared},
    store_bound=True,
)


def make_disk(lun: int, params: LuParams, store: BackingStore,
              target: ScsiTarget | None = None) -> LogicalUnit:
    """A direct-access LU over ``store``; the capacity is the store's size in ``params.block_size`` blocks."""
    if params.block_size <= 0 or params.block_size % 512:
        raise ValueError(f"block size {params.block_size}: must be a positive multiple of 512")
    return LogicalUnit(DISK, params, store, lun=lun, target=target)
