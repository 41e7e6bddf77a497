"""A backing store kept as a directory of chunk files: an hpt store plug-in.

Chunk ``i`` holds the bytes ``i * chunk`` up to ``(i + 1) * chunk`` in ``<directory>/<i>.chunk``; a
chunk never written (or discarded) has no file and reads as zeroes. The I/O runs on a thread pool:
the ``submit_*`` calls queue it and return, and a pool thread calls ``done`` (``inline = False``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from hpt.options import Option
from hpt.store.base import BackingStore, Done
from hpt.store.registry import StoreKind


class ChunkStore(BackingStore):
    """``size`` bytes in chunk files of ``chunk`` bytes under ``directory``."""

    supports_discard = True
    inline = False  # completions come from pool threads
    waits = False  # submit_* only queue: the portal's event loop may serve its connections

    def __init__(self, directory: str, size: int, chunk: int, readonly: bool = False,
                 threads: int = 4) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            if readonly:
                raise ValueError(f"{directory}: no such directory (a read-only store creates none)")
            self.directory.mkdir()
        self.size, self.chunk, self.readonly = size, chunk, readonly
        self._dirty: set[int] = set()  # chunks written since the last sync
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="chunkstore")

    def _file(self, index: int) -> Path:
        return self.directory / f"{index}.chunk"

    def _pieces(self, offset: int, length: int) -> Iterator[tuple[int, int, int, int]]:
        """(chunk, offset in the chunk, offset in the buffer, length) covering the range."""
        done = 0
        while done < length:
            index, start = divmod(offset + done, self.chunk)
            n = min(self.chunk - start, length - done)
            yield index, start, done, n
            done += n

    # -- the synchronous calls ---------------------------------------------------------------
    def read_into(self, offset: int, buf: memoryview) -> None:
        for index, start, at, n in self._pieces(offset, len(buf)):
            piece = buf[at:at + n]
            got = 0
            try:
                fd = os.open(self._file(index), os.O_RDONLY)
            except FileNotFoundError:
                pass  # never written: zeroes
            else:
                try:
                    while got < n and (m := os.preadv(fd, [piece[got:]], start + got)):
                        got += m
                finally:
                    os.close(fd)
            piece[got:] = bytes(n - got)  # past the end of a chunk file: zeroes

    def write_from(self, offset: int, buf: memoryview) -> None:
        for index, start, at, n in self._pieces(offset, len(buf)):
            fd = os.open(self._file(index), os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                written = 0
                while written < n:
                    written += os.pwritev(fd, [buf[at + written:at + n]], start + written)
            finally:
                os.close(fd)
            with self._lock:
                self._dirty.add(index)

    def sync(self, offset: int = 0, length: int = 0) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        for index in dirty:
            try:
                fd = os.open(self._file(index), os.O_RDONLY)
            except FileNotFoundError:
                continue  # discarded since
            try:
                os.fdatasync(fd)
            finally:
                os.close(fd)
        fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)  # new and removed chunk files
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self, offset: int, length: int) -> None:
        """Whole chunks lose their file; the partial ones at the ends are zeroed."""
        for index, start, _, n in self._pieces(offset, length):
            if n == self.chunk:
                self._file(index).unlink(missing_ok=True)
            else:
                self.write_from(index * self.chunk + start, memoryview(bytes(n)))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- the asynchronous submit: the same calls, on a pool thread ----------------------------
    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        self._pool.submit(_complete, done, self.read_into, offset, buf)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        self._pool.submit(_complete, done, self._write, offset, buf, fua)

    def submit_flush(self, done: Done) -> None:
        self._pool.submit(_complete, done, self.sync)

    def _write(self, offset: int, buf: memoryview, fua: bool) -> None:
        self.write_from(offset, buf)
        if fua:
            self.sync(offset, len(buf))


def _complete(done: Done, call: Callable[..., None], *args: Any) -> None:
    """Run ``call`` and report how it ended; ``done`` is called exactly once."""
    try:
        call(*args)
    except OSError as err:
        done(err)
        return
    done(None)


def _power_of_two(chunk: int, values: object) -> str | None:
    if chunk < 4096 or chunk & (chunk - 1):
        return f"must be a power of two of at least 4096 bytes, got {chunk}"
    return None


KIND = StoreKind(
    name="chunks",
    options=(
        Option("directory", "path", doc="the directory of chunk files (created when missing)"),
        Option("size", "size", doc="bytes the LU holds"),
        Option("chunk", "size", 1 << 20, "bytes per chunk file: a power of two, at least 4K",
               check=_power_of_two),
        Option("threads", int, 4, "I/O threads", lo=1, hi=64),
    ),
    open=lambda v: ChunkStore(v["directory"], v["size"], v["chunk"], v["readonly"], v["threads"]),
    doc="a directory of chunk files; I/O on a thread pool",
)
