"""Optical discs: a DVD-ROM is an ISO file; a DVD+R is a medium file burned in place (``docs/media.md``).

A :class:`Disc` is the medium only: 2048-byte blocks, its tracks and sessions, what may be read and
where the next write must go. Sense data, trays and the MMC commands belong to the drive
(``hpt.scsi.mmc``). A DVD+R (MMC-6: sequential recording in tracks and sessions) keeps its track
table in a two-slot header (``hpt.media.slots``); blocks live at ``DATA_OFFSET + lba * 2048``. The
header is rewritten only after the data is synchronised (``sync``: SYNCHRONIZE CACHE, CLOSE TRACK/SESSION,
unload), so after a crash the disc reads back as of its last synchronisation.
"""

from __future__ import annotations

import datetime
import errno
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpt.media.header import MediaError
from hpt.media.slots import SlotPair, pack
from hpt.media.tape import barcode_error

BLOCK = 2048  # a DVD sector's user data
ECC_BLOCKS = 16  # a DVD ECC block: reservations are rounded up to it
MAGIC = b"HPTDISC\x00"
VERSION = 1
SLOT = 16384
DATA_OFFSET = 2 * SLOT
MAX_TRACKS = 153  # the most sessions (and tracks) a DVD+R holds
MIN_BLOCKS = 256
DVD_BLOCKS = 2295104  # a single-layer 4.7 GB DVD+R


class DiscRuleError(ValueError):
    """An operation the disc's recording rules refuse; ``kind`` names the rule (the drive picks the sense)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


NOT_WRITABLE = "not writable"  # a ROM, a finished disc's read-only file, a read-only drive
BAD_ADDRESS = "bad address"  # not at a next writable address, or past a reserved track's end
NO_SPACE = "no space"  # past the disc's capacity
SEQUENCE = "sequence"  # reserve/close where the disc's state does not allow it
TOO_MANY = "too many tracks"
OUT_OF_RANGE = "out of range"  # a read beyond the recorded area


@dataclass(frozen=True, slots=True)
class Track:
    """A track as READ TRACK INFORMATION reports it (MMC-6). ``reserved`` is 0 for the invisible
    (open-ended) track; ``written`` blocks from ``start`` hold data."""

    number: int
    session: int
    start: int
    reserved: int
    written: int
    closed: bool

    @property
    def size(self) -> int:
        """Blocks the track spans: its reservation, else what is written."""
        return self.reserved or self.written

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def nwa(self) -> int | None:
        """Next writable address, or None when the track takes no more data."""
        if self.closed or (self.reserved and self.written >= self.reserved):
            return None
        return self.start + self.written


class Disc:
    """A disc in a drive: the DVD-ROM base; :class:`RecordableDisc` adds recording."""

    kind = "dvd-rom"
    recordable = False

    def __init__(self, path: Path, fd: int, capacity: int, label: str) -> None:
        self.path, self._fd, self.capacity, self.label = path, fd, capacity, label

    # -- what the drive reports ----------------------------------------------------------------
    @property
    def state(self) -> str:
        """``blank``, ``appendable`` or ``complete`` (READ DISC INFORMATION's disc status)."""
        return "complete"

    @property
    def writable(self) -> bool:
        return False

    @property
    def sessions(self) -> int:
        """Closed sessions."""
        return 1

    def tracks(self) -> list[Track]:
        """Every track, the invisible one last when the disc is appendable."""
        return [Track(1, 1, 0, 0, self.capacity, True)]

    @property
    def readable(self) -> int:
        """Blocks that can be read from LBA 0 (READ CAPACITY's last LBA + 1)."""
        return max((t.start + (t.size if t.closed else t.written) for t in self.tracks()), default=0)

    # -- data ------------------------------------------------------------------------------------
    def read_into(self, lba: int, buf: memoryview) -> None:
        """Fill ``buf`` (whole blocks) from ``lba``; unrecorded blocks inside a track read as zeros."""
        blocks = len(buf) // BLOCK
        if lba < 0 or lba + blocks > self.readable:
            raise DiscRuleError(OUT_OF_RANGE, f"blocks {lba}..{lba + blocks - 1} are beyond {self.readable}")
        got = os.preadv(self._fd, [buf], self._offset(lba))
        if got < len(buf):
            buf[got:] = bytes(len(buf) - got)

    def _offset(self, lba: int) -> int:
        return lba * BLOCK

    def sync(self) -> None:
        return None

    def close(self) -> None:
        """Synchronise and close the file."""
        if self._fd >= 0:
            try:
                self.sync()
            finally:
                os.close(self._fd)
                self._fd = -1


class RecordableDisc(Disc):
    """A DVD+R medium file: blank, then tracks written at their next writable address, closed in sessions."""

    kind = "dvd+r"
    recordable = True

    def __init__(self, path: Path, fd: int, header: SlotPair, writable: bool) -> None:
        doc = header.doc
        try:
            capacity, label = int(doc["capacity"]), str(doc["label"])
            self._tracks = [Track(i + 1, int(s), int(a), int(r), int(w), bool(c))
                            for i, (s, a, r, w, c) in enumerate(doc["tracks"])]
            self._sessions, self.finalized = int(doc["sessions"]), bool(doc["finalized"])
        except (KeyError, TypeError, ValueError) as err:
            raise MediaError(f"{path}: damaged disc header: {err}") from None
        if problem := _table_error(self._tracks, capacity, self._sessions):
            raise MediaError(f"{path}: damaged disc header: {problem}")
        super().__init__(path, fd, capacity, label)
        self._header, self._writable, self._dirty = header, writable, False

    @property
    def state(self) -> str:
        if self.finalized:
            return "complete"
        return "appendable" if self._sessions or self._tracks else "blank"

    @property
    def writable(self) -> bool:
        return self._writable and not self.finalized

    @property
    def sessions(self) -> int:
        return self._sessions

    def tracks(self) -> list[Track]:
        tracks = list(self._tracks)
        last = tracks[-1] if tracks else None
        start = last.end if last else 0
        open_ended = last is not None and not last.reserved and not last.closed
        if not self.finalized and not open_ended and start < self.capacity and len(tracks) < MAX_TRACKS:
            tracks.append(Track(len(tracks) + 1, self._sessions + 1, start, 0, 0, False))
        return tracks

    def invisible(self) -> Track | None:
        """The open-ended track new data goes to (None on a finished or full disc)."""
        tracks = self.tracks()
        last = tracks[-1] if tracks else None
        return last if last is not None and not last.reserved and not last.closed else None

    def _offset(self, lba: int) -> int:
        return DATA_OFFSET + lba * BLOCK

    # -- recording (MMC-6 DVD+R) --------------------------------------------------------------------
    def write(self, lba: int, data: memoryview | bytes) -> None:
        """Write whole blocks at a track's next writable address (the invisible or a reserved track)."""
        self._require_writable()
        blocks = len(data) // BLOCK
        track = next((t for t in self.tracks() if t.nwa == lba), None)
        if track is None:
            raise DiscRuleError(BAD_ADDRESS, f"LBA {lba} is no track's next writable address")
        if track.reserved and track.written + blocks > track.reserved:
            raise DiscRuleError(BAD_ADDRESS, f"{blocks} blocks overrun track {track.number}'s reservation")
        if lba + blocks > self.capacity:
            raise DiscRuleError(NO_SPACE, f"{blocks} blocks at {lba} run past the capacity {self.capacity}")
        if blocks:
            view, offset = memoryview(data)[:blocks * BLOCK], self._offset(lba)
            while view:  # a regular file may take a write in parts
                done = os.pwrite(self._fd, view, offset)
                if not done:
                    raise OSError(errno.ENOSPC, "the disc file takes no more data")
                view, offset = view[done:], offset + done
            self._set(track, written=track.written + blocks)

    def reserve(self, blocks: int) -> Track:
        """RESERVE TRACK: the empty invisible track becomes ``blocks`` long (rounded up to ECC blocks)."""
        self._require_writable()
        track = self.invisible()
        if track is None or track.written or any(t.reserved and not t.closed for t in self._tracks):
            raise DiscRuleError(SEQUENCE, "only an empty invisible track can be reserved, one at a time")
        size = -(-blocks // ECC_BLOCKS) * ECC_BLOCKS
        if not blocks or track.start + size > self.capacity:
            raise DiscRuleError(NO_SPACE, f"a reservation of {blocks} blocks does not fit")
        if len(self._tracks) + 1 >= MAX_TRACKS:
            raise DiscRuleError(TOO_MANY, f"a disc holds at most {MAX_TRACKS} tracks")
        return self._set(track, reserved=size)

    def close_track(self, number: int) -> None:
        """CLOSE TRACK: an open track with data (or a reservation) takes no more data."""
        self._require_writable()
        track = next((t for t in self._tracks if t.number == number), None)
        if track is None or track.closed or not (track.written or track.reserved):
            raise DiscRuleError(SEQUENCE, f"track {number} is not an open track")
        self._set(track, closed=True)
        self.sync()

    def close_session(self, finalize: bool) -> None:
        """CLOSE SESSION (and, ``finalize``, the disc): the open session's tracks are closed."""
        self._require_writable()
        open_tracks = [t for t in self._tracks if t.session > self._sessions]
        if not open_tracks and not (finalize and self._sessions):
            raise DiscRuleError(SEQUENCE, "there is no session to close")
        for track in open_tracks:
            if not track.closed:
                self._set(track, closed=True)
        if open_tracks:
            self._sessions += 1
        self.finalized = finalize or self._tracks[-1].end >= self.capacity
        self._dirty = True
        self.sync()

    def sync(self) -> None:
        """Make written blocks durable, then record the track table in the header."""
        if not self._dirty:
            return
        os.fdatasync(self._fd)
        self._header.store(self._doc())
        self._dirty = False

    def _require_writable(self) -> None:
        if not self.writable:
            raise DiscRuleError(NOT_WRITABLE, f"{self.path.name} is not writable")

    def _set(self, track: Track, **changes: Any) -> Track:
        new = Track(track.number, track.session, track.start, changes.get("reserved", track.reserved),
                    changes.get("written", track.written), changes.get("closed", track.closed))
        if track.number > len(self._tracks):
            self._tracks.append(new)
        else:
            self._tracks[track.number - 1] = new
        self._dirty = True
        return new

    def _doc(self) -> dict[str, Any]:
        doc = dict(self._header.doc)
        doc.update(sessions=self._sessions, finalized=self.finalized,
                   tracks=[[t.session, t.start, t.reserved, t.written, t.closed] for t in self._tracks])
        return doc


def _table_error(tracks: list[Track], capacity: int, sessions: int) -> str | None:
    """Why a stored track table cannot be this disc's: tracks out of order, overlapping, past the
    capacity, or a closed session after an open one; None when it is whole."""
    if capacity < MIN_BLOCKS or not 0 <= sessions <= MAX_TRACKS or len(tracks) > MAX_TRACKS:
        return f"capacity {capacity}, {sessions} sessions, {len(tracks)} tracks"
    end, session = 0, 1
    for t in tracks:
        if t.start != end or t.reserved < 0 or t.written < 0 or (t.reserved and t.written > t.reserved):
            return f"track {t.number} does not follow the track before it"
        if not session <= t.session <= sessions + 1 or t.end > capacity:
            return f"track {t.number} lies outside the disc's sessions or capacity"
        end, session = t.end, t.session
    return None


def is_disc(prefix: bytes) -> bool:
    """True when ``prefix`` (a file's first bytes) starts a DVD+R medium file."""
    return prefix[:8] == MAGIC


def create(path: str | Path, capacity: int = DVD_BLOCKS, label: str = "") -> dict[str, Any]:
    """Write a new blank DVD+R medium file of ``capacity`` blocks (never over an existing file); its
    ``label`` (default: the file's name) is a changer's volume tag, so it follows the barcode rules."""
    if capacity < MIN_BLOCKS:
        raise MediaError(f"capacity: a disc holds at least {MIN_BLOCKS} blocks, got {capacity}")
    label = label or Path(path).name
    if problem := barcode_error(label):
        raise MediaError(f"label (the jukebox's volume tag): {problem}")
    doc = {"label": label, "capacity": capacity, "sessions": 0, "finalized": False,
           "tracks": [], "created": datetime.date.today().strftime("%Y%m%d")}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, pack(MAGIC, VERSION, 1, doc, SLOT) + bytes(SLOT))
        os.fsync(fd)
    finally:
        os.close(fd)
    return doc


def inspect(path: str | Path) -> dict[str, Any]:
    """The header document of the DVD+R medium file at ``path``."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return SlotPair(fd, MAGIC, VERSION, SLOT, str(path)).doc
    finally:
        os.close(fd)


def open_disc(path: str | Path, *, readonly: bool = False) -> Disc:
    """Open a disc file: a DVD+R medium file (by its magic) or else an ISO image as a DVD-ROM.

    A DVD+R whose file cannot be written opens as not writable. MediaError for an empty or unreadable
    image; OSError when the file cannot be opened."""
    path = Path(path)
    fd = os.open(path, os.O_RDONLY)
    try:
        if not (is_disc(os.pread(fd, 8, 0)) or is_disc(os.pread(fd, 8, SLOT))):  # either header copy
            blocks = os.fstat(fd).st_size // BLOCK
            if not blocks:
                raise MediaError(f"{path}: not a disc image (smaller than one {BLOCK}-byte block)")
            return Disc(path, fd, blocks, path.stem)
        writable = not readonly and os.access(path, os.W_OK)
        if writable:
            os.close(fd)
            fd = -1
            fd = os.open(path, os.O_RDWR)
        return RecordableDisc(path, fd, SlotPair(fd, MAGIC, VERSION, SLOT, str(path)), writable)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        raise
