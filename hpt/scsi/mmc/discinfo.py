"""READ DISC INFORMATION (MMC-6) and READ TRACK INFORMATION (MMC-6).

A DVD-ROM is one complete session of one track. A DVD+R reports its state (blank, appendable,
complete), its sessions (the open one counts), and for each track its start, next writable address,
free blocks and size; track FFh (or the last track) is the invisible track new data goes to.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from hpt.media.disc import ECC_BLOCKS
from hpt.scsi.core.cdb import u16, u32
from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB
from hpt.scsi.core.sense import SenseError
from hpt.scsi.mmc.state import state_of

if TYPE_CHECKING:
    from hpt.media.disc import Disc, Track
    from hpt.scsi.lu import LogicalUnit

DISC_STATUS = {"blank": 0, "appendable": 1, "complete": 2}
INVISIBLE = 0xFF
BY_LBA, BY_TRACK, BY_SESSION = 0, 1, 2
_NO_ADDRESS = 0xFFFFFFFF


def _last_session_state(disc: Disc, tracks: list[Track]) -> int:
    """00b empty, 01b incomplete, 11b complete (MMC-6 READ DISC INFORMATION)."""
    if disc.state == "complete":
        return 3
    open_session = [t for t in tracks if t.session > disc.sessions]
    return 1 if any(t.written or t.reserved for t in open_session) else 0


def read_disc_information(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ DISC INFORMATION, data type 000b (standard disc information); other types are refused."""
    cdb = cmd.cdb
    if cdb[1] & 0x07:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=2)
    disc = state_of(lu).medium()
    tracks = disc.tracks()
    last = tracks[-1]
    sessions = disc.sessions + (0 if disc.state == "complete" else 1)
    first_in_last = next(t.number for t in tracks if t.session == last.session)
    status = _last_session_state(disc, tracks) << 2 | DISC_STATUS[disc.state]
    appendable = disc.state != "complete"
    lead_in = last.start if appendable else _NO_ADDRESS
    lead_out = disc.capacity if appendable else _NO_ADDRESS
    lsb = (sessions & 0xFF, first_in_last & 0xFF, last.number & 0xFF)
    msb = (sessions >> 8, first_in_last >> 8, last.number >> 8)
    # URU (unrestricted use), disc type 00h (DVD), no identification, bar code or OPC tables
    body = struct.pack(">10B3I8xBB", status, 1, *lsb, 0x20, 0, *msb, 0, lead_in, lead_out, 0, 0)
    return cmd.reply(struct.pack(">H", len(body)) + body, u16(cdb, 7))


def _invisible(track: Track) -> bool:
    return not track.reserved and not track.closed


def _end(disc: Disc, track: Track) -> int:
    """Where a track's addresses end: the invisible track spans the free space to the capacity."""
    return disc.capacity if _invisible(track) else track.end


def _find(disc: Disc, kind: int, value: int) -> Track:
    tracks = disc.tracks()
    if kind == BY_LBA:
        found = next((t for t in tracks if t.start <= value < _end(disc, t)), None)
        if found is None:
            raise SenseError(INVALID_FIELD_IN_CDB, field=2)
        return found
    if kind == BY_TRACK:
        if value == INVISIBLE:
            return tracks[-1]
        if 1 <= value <= len(tracks):
            return tracks[value - 1]
        raise SenseError(INVALID_FIELD_IN_CDB, field=5)
    if kind == BY_SESSION:
        found = next((t for t in tracks if t.session == value), None)
        if found is None:
            raise SenseError(INVALID_FIELD_IN_CDB, field=5)
        return found
    raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=1)


def track_information(disc: Disc, track: Track) -> bytes:
    """The 48-byte track information block (MMC-6 READ TRACK INFORMATION)."""
    invisible = _invisible(track)
    size = _end(disc, track) - track.start
    nwa = track.nwa
    free = 0 if nwa is None else _end(disc, track) - nwa
    blank = not track.written and not track.closed
    flags = (0 if invisible else 0x80) | (0x40 if blank else 0) | 0x01  # RT, Blank, data mode 1
    valid = (0x02 if track.written else 0) | (0x01 if nwa is not None else 0)  # LRA_V, NWA_V
    last_recorded = track.start + track.written - 1 if track.written else 0
    return struct.pack(">HBBxBBBIIIIIIBBxxIII", 46, track.number & 0xFF, track.session & 0xFF, 0x04, flags,
                       valid, track.start, nwa or 0, free, ECC_BLOCKS, size, last_recorded,
                       track.number >> 8, track.session >> 8, 0, 0, 0)


def read_track_information(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """READ TRACK INFORMATION by LBA, track number (FFh: the invisible track) or session number."""
    cdb = cmd.cdb
    disc = state_of(lu).medium()
    track = _find(disc, cdb[1] & 0x03, u32(cdb, 2))
    return cmd.reply(track_information(disc, track), u16(cdb, 7))
