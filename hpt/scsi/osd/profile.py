"""The object-based storage device: its device profile (OSD-2, peripheral device type 11h) and LU
parameter schema."""

from __future__ import annotations

from hpt.options import Option
from hpt.scsi.core.constants import DeviceType
from hpt.scsi.core.profile import DeviceProfile
from hpt.scsi.osd.state import close_store, new_state
from hpt.scsi.osd.table import osd_table
from hpt.scsi.spc.mode import GENERIC_MEDIUM

OSD_OPTIONS = (
    Option("path", "path", doc="the object store's directory (objects.sqlite and the objects' data files); "
           "created and formatted the first time"),
    Option("capacity", int, 0, "FORMATTED CAPACITY of a new store until a FORMAT OSD sets another; 0: the "
           "size of the file system holding path", lo=0),
)

OSD = DeviceProfile(
    name="osd",
    device_type=DeviceType.OSD,
    table=osd_table,
    medium=GENERIC_MEDIUM,
    options=OSD_OPTIONS,
    state=new_state,
    close=close_store,
    product="VIRTUAL-OSD",
)
