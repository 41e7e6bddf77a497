"""The tape LU as a changer's data transfer element: :class:`~hpt.scsi.core.drive.MediumDrive`
(SMC-3 4.2.3). ``drive_of(lu)`` is how a changer gets it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hpt.scsi.spc.removable import RemovableDrive
from hpt.scsi.ssc.sense import MEDIUM_LOAD_OR_EJECT_FAILED
from hpt.scsi.ssc.state import TapeState

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


class TapeDrive(RemovableDrive):
    """A tape LU seen from a medium changer: loading mounts the cartridge at beginning of partition
    (a file that is no cartridge is MEDIUM FORMAT CORRUPTED), unloading rewinds, writes out and closes it."""

    def __init__(self, lu: LogicalUnit) -> None:
        if not isinstance(lu.state, TapeState):
            raise TypeError(f"LUN {lu.lun} is not a tape drive")
        super().__init__(lu, lu.state, MEDIUM_LOAD_OR_EJECT_FAILED)


def drive_of(lu: LogicalUnit) -> TapeDrive:
    """The :class:`~hpt.scsi.core.drive.MediumDrive` of a tape LU (TypeError for another type)."""
    return TapeDrive(lu)
