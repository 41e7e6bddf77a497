"""READ TOC/PMA/ATIP (MMC-6): formats 0 (TOC) and 1 (session information) of a DVD, whose tracks
are its recorded ones (a track with data or closed); a blank disc has no TOC. PMA, ATIP and the raw
TOC belong to CD media."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.media.disc import Track
    from hpt.scsi.lu import LogicalUnit

LEAD_OUT = 0xAA
DATA_TRACK = 0x14  # ADR 1 (Q sub-channel position), CONTROL 4 (data track, recorded uninterrupted)


def address(lba: int, msf: bool) -> bytes:
    """An address field: the LBA, or with MSF minute/second/frame counting 150 frames of pre-gap."""
    if not msf:
        return struct.pack(">i", lba)
    frames = lba + 150
    return bytes((0, frames // 4500, frames // 75 % 60, frames % 75))


def _entry(number: int, lba: int, msf: bool) -> bytes:
    """A track descriptor: ADR/CONTROL, the track number, its start address."""
    return struct.pack(">xBBx", DATA_TRACK, number) + address(lba, msf)


def recorded(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.written or t.closed]


def read_toc(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ TOC/PMA/ATIP: FORMAT 0 lists the tracks from TRACK/SESSION NUMBER on and the lead-out
    (AAh); FORMAT 1 the first track of the last session. Older initiators put the format in the
    CONTROL byte's vendor bits (MMC-6 READ TOC/PMA/ATIP)."""
    cdb = cmd.cdb
    msf, fmt, number, alloc = bool(cdb[1] & 0x02), cdb[2] & 0x0F, cdb[6], u16(cdb, 7)
    if not fmt and cdb[9] >> 6:
        fmt = cdb[9] >> 6
    if fmt > 1:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    disc = state_of(lu).medium()
    tracks = recorded(disc.tracks())
    if not tracks:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)  # a blank disc has no TOC
    first, last = tracks[0].number, tracks[-1].number
    if fmt == 1:  # the last complete session (the first one while none is complete)
        complete = [t for t in tracks if t.session <= disc.sessions] or tracks
        session = complete[-1].session
        lead = next(t for t in complete if t.session == session)
        body = _entry(lead.number, lead.start, msf)
        return cmd.reply(struct.pack(">HBB", 2 + len(body), 1, session) + body, alloc)
    if number > last and number != LEAD_OUT:
        raise SenseError(INVALID_FIELD_IN_CDB, field=6)
    entries = [(t.number, t.start) for t in tracks if t.number >= number and number != LEAD_OUT]
    entries.append((LEAD_OUT, disc.readable))
    body = b"".join(_entry(n, lba, msf) for n, lba in entries)
    return cmd.reply(struct.pack(">HBB", 2 + len(body), first, last) + body, alloc)
