"""The medium changer: its device profile (SMC-3), LU parameter schema and LU factory.

A changer LU's state is its :class:`~hpt.scsi.smc.changer.Changer`; its mode page 1Dh reports that
library's layout, so :func:`make_changer` gives each changer LU the profile with its own pages.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.lu import LogicalUnit
from hpt.scsi.smc.elements import MAX_ELEMENTS
from hpt.scsi.smc.mode_pages import DEVICE_CAPABILITIES, TRANSPORT_GEOMETRY, changer_mode_pages
from hpt.scsi.smc.removal import release
from hpt.scsi.smc.table import changer_table
from hpt.scsi.spc.mode import GENERIC_MEDIUM

if TYPE_CHECKING:
    from hpt.scsi.lu import LuParams
    from hpt.scsi.smc.changer import Changer
    from hpt.scsi.target import ScsiTarget

SMC_3 = 0x0480  # version descriptor: SMC-3, no version claimed (SPC-5 6.7.2 table 152)

CHANGER_OPTIONS = (
    Option("slots", int, doc="storage slots (SMC-3 storage elements)", lo=1, hi=MAX_ELEMENTS),
    Option("import_export", int, 1, "import/export slots (mail slots)", lo=0, hi=MAX_ELEMENTS),
    Option("media", "path", doc="the media directory: cartridge files and the library's state file"),
)

CHANGER = DeviceProfile(
    name="changer",
    device_type=DeviceType.CHANGER,
    table=changer_table,
    medium=GENERIC_MEDIUM,
    mode_pages=(TRANSPORT_GEOMETRY, DEVICE_CAPABILITIES),
    versions=(SMC_3,),
    reset=release,
    options=CHANGER_OPTIONS,
    product="VIRTUAL-CHANGER",
)


def make_changer(lun: int, params: LuParams, changer: Changer, target: ScsiTarget | None = None
                 ) -> LogicalUnit:
    """A changer LU over ``changer``, with mode page 1Dh for its layout."""
    profile = replace(CHANGER, mode_pages=changer_mode_pages(changer.layout))
    return LogicalUnit(profile, params, None, changer, lun=lun, target=target)
