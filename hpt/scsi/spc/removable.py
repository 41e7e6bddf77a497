"""What the drives with removable media share (a tape drive, SSC-4; a DVD drive, MMC-6): PREVENT ALLOW
MEDIUM REMOVAL over the set of I_T nexuses that prevent it (SPC-5), the drive as a changer's data
transfer element (:class:`~hpt.scsi.core.drive.MediumDrive`, SMC-3 4.2.3), and opcode rows that run one
at a time under the drive's lock, a damaged medium file ending in MEDIUM FORMAT CORRUPTED."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from hpt.media.header import MediaError
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    MEDIUM_CHANGED,
    MEDIUM_REMOVAL_PREVENTED,
    Asc,
    SenseKey,
)
from hpt.scsi.core.opcodes import Access, OpcodeEntry, Span
from hpt.scsi.core.sense import SenseError
from hpt.scsi.spc.vpd import ASSOC_LU, CODE_BINARY, TYPE_NAA, designator, naa_of

if TYPE_CHECKING:
    from hpt.scsi.core.cdb import Cdb
    from hpt.scsi.lu import LogicalUnit

log = logging.getLogger("hpt.scsi")
MEDIUM_FORMAT_CORRUPTED = Asc(SenseKey.MEDIUM_ERROR, 0x31, 0x00)
Handler = Callable[["LogicalUnit", "ScsiCommand"], ScsiResult]
_WHOLE_MEDIUM: Span = (0, 1 << 64, True)


class Holder(Protocol):
    """A drive's per-LU state as far as a changer and PREVENT ALLOW are concerned."""

    lock: threading.RLock
    preventers: set[str]

    @property
    def medium_path(self) -> Path | None: ...

    def mount(self, path: Path) -> None: ...

    def dismount(self) -> Path | None: ...


def prevent_allow(preventers: set[str], cmd: ScsiCommand) -> ScsiResult:
    """PREVENT ALLOW MEDIUM REMOVAL: PREVENT 01b holds the medium for this I_T nexus, 00b releases its
    hold; 10b and 11b (a changer's, or persistent prevention) are invalid for these drives."""
    prevent = cmd.cdb[4] & 0x03
    if prevent > 1:
        raise SenseError(INVALID_FIELD_IN_CDB, field=4, bit=1)
    if prevent:
        preventers.add(cmd.nexus.initiator_port)
    else:
        preventers.discard(cmd.nexus.initiator_port)
    return GOOD


class RemovableDrive:
    """A drive LU seen from a medium changer: what is loaded, load, unload, its identifier. ``busy`` is
    the sense for loading a full drive or unloading an empty one (NOT READY, MEDIA LOAD OR EJECT FAILED)."""

    def __init__(self, lu: LogicalUnit, holder: Holder, busy: Asc) -> None:
        self.lu, self._holder, self._busy = lu, holder, busy

    @property
    def loaded(self) -> Path | None:
        return self._holder.medium_path

    def load(self, medium: Path) -> None:
        """Mount ``medium`` in the empty drive; every I_T nexus then gets NOT READY TO READY CHANGE,
        MEDIUM MAY HAVE CHANGED (SPC-5 5.14). A file that is no medium: the holder's sense."""
        holder = self._holder
        with holder.lock:
            if holder.medium_path is not None:
                raise SenseError(self._busy)
            holder.mount(medium)
        with self.lu.lock:
            self.lu.ua.establish(MEDIUM_CHANGED)

    def unload(self) -> Path:
        """Close the medium (written out) and return its file; ILLEGAL REQUEST, MEDIUM REMOVAL PREVENTED
        while an initiator prevents it."""
        holder = self._holder
        with holder.lock:
            if holder.preventers:
                raise SenseError(MEDIUM_REMOVAL_PREVENTED)
            path = holder.dismount()
        if path is None:
            raise SenseError(self._busy)
        return path

    def identifier(self) -> bytes:
        """The LU's NAA designation descriptor, the first one its Device Identification VPD page lists."""
        return designator(CODE_BINARY, ASSOC_LU, TYPE_NAA, naa_of(self.lu).to_bytes(8, "big"))


def _whole_medium(cdb: Cdb) -> Span:
    return _WHOLE_MEDIUM


def serial_row(usage: str, name: str, handler: Handler, access: Access, lock_of: Callable[[LogicalUnit],
               threading.RLock], *, medium_io: bool, exempt: bool = False) -> OpcodeEntry:
    """An opcode row (``usage``: the CDB usage map in hex, its first byte the opcode) whose handler runs
    under the drive's lock, exclusive in the task set over the whole medium (one command at a time);
    ``medium_io``: it reads or writes the medium file (the blocking pool runs it)."""

    def run(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
        with lock_of(lu):
            try:
                return handler(lu, cmd)
            except MediaError as err:
                log.error("lun %d: %s", lu.lun, err)
                raise SenseError(MEDIUM_FORMAT_CORRUPTED) from err

    cdb = bytes.fromhex(usage)
    return OpcodeEntry(cdb[0], name, run, len(cdb), access, None, cdb, exempt, medium_io,
                       span=_whole_medium, exclusive=True)
