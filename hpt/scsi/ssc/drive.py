"""The tape LU as a changer's data transfer element: :class:`~hpt.scsi.core.drive.MediumDrive`
(SMC-3 4.2.3). ``drive_of(lu)`` is how a changer gets it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hpt.scsi.core.constants import MEDIUM_CHANGED, MEDIUM_REMOVAL_PREVENTED
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc.vpd import ASSOC_LU, CODE_BINARY, TYPE_NAA, designator, naa_of
from hpt.scsi.ssc.sense import MEDIUM_LOAD_OR_EJECT_FAILED
from hpt.scsi.ssc.state import TapeState

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit


class TapeDrive:
    """A tape LU seen from a medium changer: what is loaded, load, unload, its identifier."""

    def __init__(self, lu: LogicalUnit) -> None:
        if not isinstance(lu.state, TapeState):
            raise TypeError(f"LUN {lu.lun} is not a tape drive")
        self.lu = lu
        self._state: TapeState = lu.state

    @property
    def loaded(self) -> Path | None:
        cart = self._state.cartridge
        return None if cart is None else cart.path

    def load(self, medium: Path) -> None:
        """Mount ``medium`` at beginning of partition; every I_T nexus then gets NOT READY TO READY
        CHANGE, MEDIUM MAY HAVE CHANGED (SPC-5 5.14). A full drive or a file that is no cartridge
        fails with NOT READY, MEDIA LOAD OR EJECT FAILED (or MEDIUM FORMAT CORRUPTED)."""
        st = self._state
        with st.lock:
            if st.cartridge is not None:
                raise SenseError(MEDIUM_LOAD_OR_EJECT_FAILED)
            st.mount(medium)
        with self.lu.lock:
            self.lu.ua.establish(MEDIUM_CHANGED)

    def unload(self) -> Path:
        """Rewind, write out and close the cartridge and return its file; ILLEGAL REQUEST, MEDIUM
        REMOVAL PREVENTED while an initiator prevents it, NOT READY, MEDIA LOAD OR EJECT FAILED when empty."""
        st = self._state
        with st.lock:
            if st.preventers:
                raise SenseError(MEDIUM_REMOVAL_PREVENTED)
            path = st.dismount()
        if path is None:
            raise SenseError(MEDIUM_LOAD_OR_EJECT_FAILED)
        return path

    def identifier(self) -> bytes:
        """The LU's NAA designation descriptor, the first one its Device Identification VPD page lists."""
        return designator(CODE_BINARY, ASSOC_LU, TYPE_NAA, naa_of(self.lu).to_bytes(8, "big"))


def drive_of(lu: LogicalUnit) -> TapeDrive:
    """The :class:`~hpt.scsi.core.drive.MediumDrive` of a tape LU (TypeError for another type)."""
    return TapeDrive(lu)
