"""The backing-store interface the SCSI core reads and writes through.

Every store has synchronous calls (``read_into``, ``write_from``, ``sync`` ...), which the SCSI core
runs on its blocking pool for the rare commands that need them, and an asynchronous submit for the
data path (``submit_read``, ``submit_write``, ``submit_flush``): the call returns at once and ``done``
is called later, from any thread, with None or the OSError that ended the I/O. A store whose I/O costs
less than a thread hop (memory) completes inline, before ``submit_*`` returns, and says so with
``inline = True``; the default submit methods do exactly that over the synchronous calls.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hpt.store.shared import SharedObject

#: Completion of an asynchronous I/O: None when it succeeded, else the error.
Done = Callable[[OSError | None], None]


@dataclass(frozen=True)
class SharedMemory:
    """Memory several processes map, for a store that keeps its medium in memory: a memfd, and what to
    call once this process has unmapped it (hptd's workers share one per LU: docs/workers.md)."""

    fd: int
    release: Callable[[], None] = lambda: None

    def close(self) -> None:
        """This process is done with it: close its descriptor, then ``release``."""
        os.close(self.fd)
        self.release()


@dataclass(frozen=True)
class DirectSource:
    """A store the fast lane in C reads and writes itself: an open file descriptor (a file read in
    memory; or, ``wait``, one opened O_DIRECT, whose READs and WRITEs the lane submits together through
    Linux AIO with buffers, offsets and lengths aligned to ``align``), or its
    memory with a map of one byte per page set to 1 when the page is written (a thin store's
    allocation, ``mapped_extent``); or, ``zero``, nothing at all (reads are zeroes, writes dropped)."""

    fd: int = -1
    memory: memoryview | None = None
    page_map: memoryview | None = None
    page_size: int = 4096
    wait: bool = False
    align: int = 0
    zero: bool = False


class BackingStore(ABC):
    """Byte-addressed storage under a LU. Buffers are memoryviews (ring slots): no copies.

    Offsets and lengths are in bytes and always inside ``size`` (the SCSI core checks ranges).
    """

    size: int
    readonly: bool = False
    supports_discard: bool = False
    supports_crypto_erase: bool = False  # its data is kept encrypted: ``crypto_erase`` (SBC-4 4.11.5)
    inline: bool = True  # submit_* complete before they return (no thread hop worth taking)
    #: Serving it may wait for a device on the caller's thread (a synchronous read of a disk, the fast
    #: lane's Linux AIO on a file opened O_DIRECT): its connections are served by threads of their
    #: own, not on a portal's event loop (``hpt.iscsi.loop``). A store that says nothing may.
    waits: bool = True

    @abstractmethod
    def read_into(self, offset: int, buf: memoryview) -> None:
        """Fill ``buf`` from ``offset`` (preadv); holes and unwritten space read as zeroes."""

    @abstractmethod
    def write_from(self, offset: int, buf: memoryview) -> None:
        """Write all of ``buf`` at ``offset`` (pwritev)."""

    @abstractmethod
    def sync(self, offset: int = 0, length: int = 0) -> None:
        """Make written data durable (fdatasync / sync_file_range); length 0 means to the end."""

    def discard(self, offset: int, length: int) -> None:
        """Deallocate a range so it reads back as zeroes (punch hole); only if ``supports_discard``."""
        raise OSError("discard not supported by this store")

    def crypto_erase(self) -> None:
        """Change the key the data is encrypted with, so what was written cannot be read any more (SANITIZE
        CRYPTO ERASE, SBC-4 4.11.5); only if ``supports_crypto_erase``."""
        raise OSError("crypto erase not supported by this store")

    def write_zeroes(self, offset: int, length: int) -> None:
        """Write zeroes over a range (default: a zero buffer written in pieces)."""
        zero = memoryview(bytes(min(length, 1 << 20)))
        end = offset + length
        while offset < end:
            n = min(len(zero), end - offset)
            self.write_from(offset, zero[:n])
            offset += n

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        """(mapped, length in bytes of the run of that state starting at ``offset``) for GET LBA STATUS."""
        return True, self.size - offset

    def watch_size(self, changed: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Call ``changed()``, from any thread, after ``size`` changed under the LU (a network store's
        volume resized by its cluster); the LU then reports CAPACITY DATA HAS CHANGED. Default: the
        size never changes."""

    def direct_source(self) -> DirectSource | None:
        """Where the fast lane in C (``hpt/native/quick.c``) may read and write this store's bytes
        itself, on the caller's thread with the GIL released; None: it may not (the default)."""
        return None

    def refresh(self) -> None:  # noqa: B027 - optional hook
        """Another process serving the same medium changed what this handle keeps of it (an encrypted
        store's key, after a CRYPTO ERASE through that process: SBC-4 4.11.5): read it again. Called
        before this process serves the LU again. Default: the handle keeps nothing of the medium."""

    def state_path(self, suffix: str) -> str | None:
        """A file beside this store's medium, named with ``suffix``, where its LU keeps state that must
        outlive hptd (APTPL reservations, SPC-5 5.13.5: ``.pr``); None: nowhere (the default)."""
        return None

    def shared_state(self, name: str) -> SharedObject | None:
        """The object ``name`` (``"pr"``: a LU's persistent reservations) that every gateway serving
        this store's medium shares (``hpt.store.shared``); None: the medium is this process's alone."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files and mappings."""

    # -- asynchronous submit (the data path) --------------------------------------------------
    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        """Fill ``buf`` from ``offset``, then call ``done`` (default: inline over ``read_into``)."""
        _inline(done, self.read_into, offset, buf)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        """Write ``buf`` at ``offset``; with ``fua`` it is durable before ``done`` (RWF_DSYNC or
        fdatasync). Default: inline over ``write_from`` and ``sync``."""
        try:
            self.write_from(offset, buf)
            if fua:
                self.sync(offset, len(buf))
        except OSError as err:
            done(err)
            return
        done(None)

    def submit_flush(self, done: Done) -> None:
        """Make every write completed before this call durable (SYNCHRONIZE CACHE), then ``done``."""
        _inline(done, self.sync)


def _inline(done: Done, call: Callable[..., None], *args: object) -> None:
    try:
        call(*args)
    except OSError as err:
        done(err)
        return
    done(None)
