"""The tape drive: the sequential-access device profile (SSC-4) and its LU parameter schema."""

from __future__ import annotations

from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.ssc.mode_pages import TAPE_MEDIUM, TAPE_MODE_PAGES
from hpt.scsi.ssc.state import MAX_BLOCK, check_ready, close_cartridge, new_state, release_prevention
from hpt.scsi.ssc.table import tape_table
from hpt.scsi.ssc.vpd import TAPE_VPD_PAGES

SSC_3, SSC_4 = 0x0300, 0x0360  # version descriptors (SPC-5 6.7.2 table 152)

TAPE_OPTIONS = (
    Option("cartridge", "path", None, "cartridge file loaded at start; without one the drive starts empty"),
    Option("block_size", int, 0, "block length at start: 0 variable-block mode, else fixed blocks",
           lo=0, hi=MAX_BLOCK),
    Option("removable", bool, True, "RMB bit: a tape drive's medium is removable"),
)

TAPE = DeviceProfile(
    name="tape",
    device_type=DeviceType.TAPE,
    table=tape_table,
    medium=TAPE_MEDIUM,
    vpd_pages=TAPE_VPD_PAGES,
    mode_pages=TAPE_MODE_PAGES,
    versions=(SSC_4, SSC_3),
    ready=check_ready,
    reset=release_prevention,
    close=close_cartridge,
    options=TAPE_OPTIONS,
    state=new_state,
    product="VIRTUAL-TAPE",
)
