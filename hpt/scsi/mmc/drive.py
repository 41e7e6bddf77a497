"""The DVD LU as a changer's data transfer element: :class:`~hpt.scsi.core.drive.MediumDrive`
(SMC-3 4.2.3), the drive of a DVD jukebox. ``drive_of(lu)`` is how a changer gets it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.sense import MEDIA_LOAD_OR_EJECT_FAILED
from hpt.scsi.mmc.state import DvdState
from hpt.scsi.spc.vpd import ASSOC_LU, CODE_BINARY, TYPE_NAA, designator, naa_of

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


class DvdDrive:
    """A DVD LU seen from a medium changer: the disc in it, load, unload, its identifier."""

    def __init__(self, lu: LogicalUnit) -> None:
        if not isinstance(lu.state, DvdState):
            raise TypeError(f"LUN {lu.lun} is not a DVD drive")
        self.lu = lu
        self._state: DvdState = lu.state

    @property
    def loaded(self) -> Path | None:
        disc = self._state.disc
        return None if disc is None else disc.path

    def load(self, medium: Path) -> None:
        """Put ``medium`` (an ISO image or a DVD+R medium file) in the drive, tray closed: NEW MEDIA is
        pending and every I_T nexus gets NOT READY TO READY CHANGE (SPC-5 5.14). A full drive or a file
        that is no disc fails with NOT READY, MEDIA LOAD OR EJECT FAILED (or MEDIUM FORMAT CORRUPTED)."""
        st = self._state
        with st.lock:
            if st.disc is not None:
                raise SenseError(MEDIA_LOAD_OR_EJECT_FAILED)
            st.mount(medium)
        with self.lu.lock:
            self.lu.ua.establish(MEDIUM_CHANGED)

    def unload(self) -> Path:
        """Synchronise and close the disc and return its file; ILLEGAL REQUEST, MEDIUM REMOVAL
        PREVENTED while an initiator locks the tray, NOT READY, MEDIA LOAD OR EJECT FAILED when empty."""
        st = self._state
        with st.lock:
            if st.preventers:
                raise SenseError(MEDIUM_REMOVAL_PREVENTED)
            path = st.dismount()
        if path is None:
            raise SenseError(MEDIA_LOAD_OR_EJECT_FAILED)
        return path

    def identifier(self) -> bytes:
        """The LU's NAA designation descriptor, the first one its Device Identification VPD page lists."""
        return designator(CODE_BINARY, ASSOC_LU, TYPE_NAA, naa_of(self.lu).to_bytes(8, "big"))


def drive_of(lu: LogicalUnit) -> DvdDrive:
    """The :class:`~hpt.scsi.core.drive.MediumDrive` of a DVD LU (TypeError for another type)."""
    return DvdDrive(lu)
