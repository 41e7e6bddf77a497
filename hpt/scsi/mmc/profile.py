"""The DVD drive: the multimedia device profile (MMC-6, peripheral device type 05h) and its LU keys."""

from __future__ import annotations

from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.mmc.mode_pages import DVD_MEDIUM, DVD_MODE_PAGES
from hpt.scsi.mmc.state import check_ready, close_disc, new_state, release_prevention
from hpt.scsi.mmc.table import dvd_table

MMC_6 = 0x0580  # version descriptor (SPC-5 6.7.2 table 152: MMC-6, no version claimed)

DVD_OPTIONS = (
    Option("disc", "path", None, "disc file in the drive at start: an ISO image (DVD-ROM) or a DVD+R "
           "medium file (hptimg); without one the drive starts empty"),
    Option("removable", bool, True, "RMB bit: a DVD drive's medium is removable"),
)

DVD = DeviceProfile(
    name="dvd",
    device_type=DeviceType.CDROM,
    table=dvd_table,
    medium=DVD_MEDIUM,
    mode_pages=DVD_MODE_PAGES,
    versions=(MMC_6,),
    ready=check_ready,
    reset=release_prevention,
    close=close_disc,
    options=DVD_OPTIONS,
    state=new_state,
    product="VIRTUAL-DVD",
)
