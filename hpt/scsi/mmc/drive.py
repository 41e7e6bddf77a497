"""The DVD LU as a changer's data transfer element: :class:`~hpt.scsi.core.drive.MediumDrive`
(SMC-3 4.2.3), the drive of a DVD jukebox. ``drive_of(lu)`` is how a changer gets it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.mmc.sense import MEDIA_LOAD_OR_EJECT_FAILED
from hpt.scsi.mmc.state import DvdState
from hpt.scsi.spc.removable import RemovableDrive

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


class DvdDrive(RemovableDrive):
    """A DVD LU seen from a medium changer: loading puts the disc in with the tray closed (NEW MEDIA
    pending), unloading synchronises and closes it; a file that is no disc is MEDIUM FORMAT CORRUPTED."""

    def __init__(self, lu: LogicalUnit) -> None:
        if not isinstance(lu.state, DvdState):
            raise TypeError(f"LUN {lu.lun} is not a DVD drive")
        super().__init__(lu, lu.state, MEDIA_LOAD_OR_EJECT_FAILED)


def drive_of(lu: LogicalUnit) -> DvdDrive:
    """The :class:`~hpt.scsi.core.drive.MediumDrive` of a DVD LU (TypeError for another type)."""
    return DvdDrive(lu)
