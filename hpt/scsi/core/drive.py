"""A drive with removable media, as a medium changer sees it (SMC-3 4.2.3 data transfer elements).

A tape drive (SSC) or an optical drive (MMC) LU implements :class:`MediumDrive`; a changer (SMC)
holds its data transfer elements as ``MediumDrive`` objects and never looks inside them. Loading
raises NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED on the drive's LU (SPC-5 5.14); unloading
is refused while an initiator prevents medium removal (SPC-5 6.17).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class MediumDrive(Protocol):
    """What a changer may ask of a drive. Errors are :class:`~hpt.scsi.core.sense.SenseError`."""

    @property
    def loaded(self) -> Path | None:
        """The medium file in the drive, or None when the drive is empty."""
        ...

    def load(self, medium: Path) -> None:
        """Put ``medium`` in the (empty) drive and make it ready."""
        ...

    def unload(self) -> Path:
        """Eject the medium and return its file; refused while medium removal is prevented."""
        ...

    def identifier(self) -> bytes:
        """The drive's device identification descriptor for READ ELEMENT STATUS DVCID (SMC-3 6.10.4)."""
        ...
