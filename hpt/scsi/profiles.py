"""The device profiles hpt serves, by the name a configuration gives as a LUN's ``type``.

One explicit table: a new device type is a new profile module and a row here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.mmc.profile import DVD
from hpt.scsi.osd.profile import OSD
from hpt.scsi.sbc.profile import DISK
from hpt.scsi.smc.profile import CHANGER
from hpt.scsi.ssc.profile import TAPE

PROFILES: Mapping[str, DeviceProfile] = MappingProxyType(
    {p.name: p for p in (DISK, CHANGER, TAPE, DVD, OSD)})

#: Device types a configuration may name that have no profile yet: reported as not supported yet
#: (``cd``: CD media profiles; the ``dvd`` drive serves DVD-ROM and DVD+R).
PLANNED: tuple[str, ...] = ("cd",)
