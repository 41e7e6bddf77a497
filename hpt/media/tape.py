"""A tape cartridge file: records after a two-slot header, found through an index (``docs/media.md``).

:class:`Cartridge` is the medium only: numbered records (blocks and filemarks) up to end of data, how
full it is, appending, cutting back and synchronising. Positions, sense data and SCSI rules belong to
the tape drive (``hpt.scsi.ssc``). Opening a cartridge that was not closed in order (a crash) walks
the record headers, checks the data of every record written after the last synchronisation and cuts
the file back to the last whole record.
"""

from __future__ import annotations

import datetime
import errno
import logging
import os
import zlib
from pathlib import Path

from hpt.media import index as index_codec
from hpt.media import records
from hpt.media.header import HEADER_SIZE, MAX_BARCODE, CartridgeInfo, Header, MediaError, new_header
from hpt.media.index import Index
from hpt.media.records import BLOCK, FILEMARK, HEADER_LEN, Record

log = logging.getLogger("hpt.media")
MIN_CAPACITY = 1 << 20
_CHUNK = 1 << 20  # data is checked this much at a time during recovery


def barcode_error(barcode: str) -> str | None:
    """Why ``barcode`` cannot label a cartridge (1..32 printable ASCII characters, no spaces), or None."""
    if not 1 <= len(barcode) <= MAX_BARCODE or not all("!" <= c <= "~" for c in barcode):
        return f"must be 1..{MAX_BARCODE} printable ASCII characters without spaces, got {barcode!r}"
    return None


def create(path: str | Path, barcode: str, capacity: int, *, worm: bool = False, write_protect: bool = False,
           medium_type: str = "data", manufacturer: str = "HPT", density: int = 0x5A,
           early_warning: int | None = None) -> CartridgeInfo:
    """Write a new, blank cartridge file (never over an existing file) and return its header."""
    problem = barcode_error(barcode)
    if problem:
        raise MediaError(f"barcode: {problem}")
    if capacity < MIN_CAPACITY:
        raise MediaError(f"capacity: must be at least {MIN_CAPACITY} bytes, got {capacity}")
    if medium_type not in ("data", "clean"):
        raise MediaError(f'medium type: must be "data" or "clean", got {medium_type!r}')
    ew = early_warning if early_warning is not None else max(capacity // 32, 64 << 10)
    if not 0 < ew < capacity:
        raise MediaError(f"early warning: must be 1..{capacity - 1} bytes, got {ew}")
    info = CartridgeInfo(barcode=barcode, capacity=capacity, worm=worm, write_protect=write_protect,
                         medium_type=medium_type, manufacturer=manufacturer, density=density,
                         serial=os.urandom(8).hex().upper(),
                         created=datetime.date.today().strftime("%Y%m%d"), early_warning=ew)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, new_header(info))
        os.fsync(fd)
    finally:
        os.close(fd)
    return info


def inspect(path: str | Path) -> CartridgeInfo:
    """The header of the cartridge at ``path``, without opening it for use."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return Header(fd, str(path)).info
    finally:
        os.close(fd)


class Cartridge:
    """An open cartridge. Not thread-safe: its drive serialises the calls."""

    def __init__(self, path: str | Path, *, load: bool = True) -> None:
        """Open ``path``, recover it if it was not closed in order, and (``load``) count the load.

        A file the process may not write is opened read-only and behaves as write protected."""
        self.path = Path(path)
        try:
            self._fd = os.open(self.path, os.O_RDWR)
            self.writable = True
        except PermissionError:
            self._fd = os.open(self.path, os.O_RDONLY)
            self.writable = False
        try:
            self._header = Header(self._fd, str(self.path))
            self.cut = 0  # bytes of torn tail removed when it was opened
            self._open_records()
            if load and self.writable:
                info = self.info
                self._header.write(info.with_(load_count=info.load_count + 1))
        except BaseException:
            os.close(self._fd)
            raise
        self._cursor = (0, HEADER_SIZE)  # (object, header offset) of the next record read in sequence

    # -- what it is --------------------------------------------------------------------------
    @property
    def info(self) -> CartridgeInfo:
        return self._header.info

    @property
    def objects(self) -> int:
        """Logical objects (blocks and filemarks) before end of data: end of data's object number."""
        return self._index.objects

    @property
    def filemarks(self) -> int:
        return len(self._index.filemarks)

    @property
    def used(self) -> int:
        """Bytes of the capacity the records take, their headers included."""
        return self._eod - HEADER_SIZE

    @property
    def remaining(self) -> int:
        return max(0, self.info.capacity - self.used)

    def beyond_early_warning(self, extra: int = 0) -> bool:
        """True when the records (and ``extra`` more bytes) reach into the early-warning zone."""
        return self.used + extra > self.info.capacity - self.info.early_warning

    def fits(self, length: int) -> bool:
        """True when a record of ``length`` data bytes still fits on the medium."""
        return self.used + HEADER_LEN + length <= self.info.capacity

    # -- finding records ----------------------------------------------------------------------
    def files_before(self, obj: int) -> int:
        """The logical file identifier at object ``obj``: filemarks before it."""
        return self._index.files_before(obj)

    def filemark_objects(self) -> list[int]:
        """Object numbers of every filemark, in order (a copy)."""
        return list(self._index.filemarks)

    def record(self, obj: int) -> Record:
        """The record of logical object ``obj`` (0 <= obj < objects): one index lookup and at most
        ``index.STRIDE - 1`` header reads, or none when reading in sequence."""
        if not 0 <= obj < self.objects:
            raise IndexError(obj)
        at, off = self._cursor
        if not at <= obj < at + index_codec.STRIDE:
            at, off = self._index.start(obj)
        while True:
            rec = self._read_header(off)
            if rec is None or rec.obj != at:
                raise MediaError(f"{self.path}: record {at} at offset {off} is damaged")
            if at == obj:
                self._cursor = (obj + 1, rec.end)
                return rec
            at, off = at + 1, rec.end

    def read_into(self, rec: Record, buf: memoryview, start: int = 0) -> int:
        """Read ``rec``'s data from byte ``start`` into ``buf`` (as much as both hold); returns the count."""
        n = max(0, min(len(buf), rec.length - start))
        done = 0
        while done < n:
            got = os.preadv(self._fd, [buf[done:n]], rec.data_offset + start + done)
            if got <= 0:
                raise MediaError(f"{self.path}: record {rec.obj} is cut short")
            done += got
        return n

    def filemark(self, i: int) -> int:
        """The object number of the ``i``-th filemark (0-based): SPACE over filemarks."""
        return self._index.filemarks[i]

    # -- changing the medium ------------------------------------------------------------------
    def truncate(self, obj: int) -> None:
        """Make object ``obj`` end of data, dropping it and every later record (overwrite, ERASE)."""
        if obj >= self.objects:
            return
        if self.info.worm:
            raise MediaError(f"{self.path}: WORM cartridge: written records cannot be removed")
        rec = self.record(obj)
        self._begin_change()
        os.ftruncate(self._fd, rec.offset)
        self._index.truncate(obj)
        self._eod, self._last = rec.offset, rec.prev
        self._cursor = (obj, rec.offset)

    def append(self, data: memoryview | bytes = b"", *, filemark: bool = False) -> Record:
        """Write a block (``data``) or a filemark at end of data; durable only after :meth:`sync`."""
        self._begin_change()
        kind = FILEMARK if filemark else BLOCK
        obj, off = self.objects, self._eod
        head = records.encode(kind, len(data), obj, self._last, zlib.crc32(data))
        wrote = os.pwritev(self._fd, [head, data] if len(data) else [head], off)
        if wrote != HEADER_LEN + len(data):
            os.ftruncate(self._fd, off)
            raise OSError(errno.ENOSPC, f"{self.path}: short write ({wrote} bytes)")
        rec = Record(off, kind, len(data), obj, self._last, 0)
        self._index.add(obj, off, filemark)
        self._last, self._eod = off, rec.end
        return rec

    def sync(self) -> None:
        """Make every record written so far durable (an acknowledged filemark or synchronised write)."""
        if not self.writable:
            return
        os.fdatasync(self._fd)
        if self.info.synced != self._eod:
            self._header.write(self.info.with_(synced=self._eod))

    def set_header(self, **changes: object) -> None:
        """Change header fields (e.g. write protection) durably."""
        self._header.write(self.info.with_(**changes))

    def close(self) -> None:
        """Write the index after end of data, mark the cartridge closed in order, close the file."""
        try:
            if self.writable and not self.info.clean:
                os.pwrite(self._fd, self._index.encode(), self._eod)
                os.fdatasync(self._fd)
                self._header.write(self.info.with_(clean=True, eod_offset=self._eod, index_offset=self._eod,
                                                   synced=self._eod))
        finally:
            os.close(self._fd)

    # -- internals ----------------------------------------------------------------------------
    def _begin_change(self) -> None:
        if not self.writable:
            raise MediaError(f"{self.path}: the file is read-only")
        if self.info.clean:  # from now on the index after end of data is stale: drop it
            os.ftruncate(self._fd, self._eod)
            self._header.write(self.info.with_(clean=False, index_offset=0, synced=self._eod))

    def _read_header(self, offset: int) -> Record | None:
        return records.decode(os.pread(self._fd, HEADER_LEN, offset), offset)

    def _open_records(self) -> None:
        info = self.info
        found = self._stored_index() if info.clean else None
        if found is not None:
            self._index, self._eod = found, info.eod_offset
            self._last = self._last_record_offset()
            return
        self._recover()

    def _stored_index(self) -> Index | None:
        info = self.info
        if info.index_offset != info.eod_offset or info.index_offset < HEADER_SIZE:
            return None
        head = os.pread(self._fd, index_codec.HEAD_SIZE, info.index_offset)
        size = index_codec.encoded_size(head)
        return index_codec.decode(os.pread(self._fd, size, info.index_offset)) if size else None

    def _last_record_offset(self) -> int:
        if not self.objects:
            return 0
        self._cursor = (0, HEADER_SIZE)
        return self.record(self.objects - 1).offset

    def _recover(self) -> None:
        """Walk the record headers from the start; check the data of records past the last sync point;
        cut the file after the last whole record."""
        size = os.fstat(self._fd).st_size
        synced = self.info.eod_offset if self.info.clean else self.info.synced
        index, off, prev = Index(), HEADER_SIZE, 0
        while off + HEADER_LEN <= size:
            rec = self._read_header(off)
            if rec is None or rec.obj != index.objects or rec.prev != prev or rec.end > size:
                break
            if rec.end > synced and not self._data_intact(rec):
                break
            index.add(rec.obj, off, rec.filemark)
            prev, off = off, rec.end
        self._index, self._eod, self._last = index, off, prev
        if size > off and self.writable:
            self.cut = size - off
            log.warning("%s: cut %d bytes of torn records after object %d", self.path, self.cut,
                        index.objects)
            os.ftruncate(self._fd, off)
            os.fdatasync(self._fd)
        if self.writable and (self.info.clean or self.info.synced != off):
            self._header.write(self.info.with_(clean=False, index_offset=0, synced=off))

    def _data_intact(self, rec: Record) -> bool:
        crc, done = 0, 0
        while done < rec.length:
            chunk = os.pread(self._fd, min(_CHUNK, rec.length - done), rec.data_offset + done)
            if not chunk:
                return False
            crc = zlib.crc32(chunk, crc)
            done += len(chunk)
        return crc == rec.crc
