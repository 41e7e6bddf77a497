"""Memory as backing store, thin by nature: an anonymous private mapping, or a memfd that several
processes map (hptd's workers: docs/workers.md).

Pages cost memory only once written. Deallocation drops whole pages (MADV_DONTNEED, or MADV_REMOVE
on a memfd, makes them read back as zeroes) and zeroes partial ones. One byte per page records
whether it was written since it was last deallocated, so GET LBA STATUS reports the truth at C
speed (``find``); on a memfd that map follows the data in the same memfd, so every process that
maps it sees every process's writes.
"""

from __future__ import annotations

import errno
import mmap
import os

from hpt.options import Option
from hpt.store.base import BackingStore, DirectSource, SharedMemory
from hpt.store.registry import StoreKind

PAGE = mmap.PAGESIZE


def _pages(size: int) -> int:
    return -(-size // PAGE)


def memory_bytes() -> int:
    """This machine's RAM and swap: the most a shared store may hold. A private mapping larger than
    that is refused by the kernel (overcommit's heuristic); a memfd's is not, and would be filled until
    the OOM killer came."""
    swap = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("SwapTotal:"):
                    swap = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PHYS_PAGES") * PAGE + swap


def shared_bytes(size: int) -> int:
    """The bytes of a memfd that holds a store of ``size`` bytes: its data, then its page map."""
    return _pages(size) * PAGE + _pages(size)


class RamStore(BackingStore):
    """``size`` bytes of memory; every byte reads as zero until written."""

    supports_discard = True
    waits = False

    def __init__(self, size: int, readonly: bool = False, memory: SharedMemory | None = None) -> None:
        """``memory``: a memfd of :func:`shared_bytes` bytes that other processes map too (the store
        closes it, then calls its ``release``); None: memory of this process's own."""
        if size <= 0:
            raise ValueError(f"ram store size must be positive, not {size}")
        self.size = size
        self.readonly = readonly
        self._memory = memory
        pages = _pages(size)
        self._mapped: bytearray | mmap.mmap  # 1: page written since its last deallocation
        if memory is None:
            self._map = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            self._mapped = bytearray(pages)
            self._drop = mmap.MADV_DONTNEED
        else:
            needed, machine, given = shared_bytes(size), memory_bytes(), os.fstat(memory.fd).st_size
            if needed > machine:
                raise OSError(errno.ENOMEM, f"Cannot allocate memory ({size} bytes asked, this machine has "
                                            f"{machine} of RAM and swap)")
            if given < needed:
                raise ValueError(f"ram store: shared memory of {given} bytes, {needed} needed")
            self._map = mmap.mmap(memory.fd, size)
            self._mapped = mmap.mmap(memory.fd, pages, offset=pages * PAGE)
            self._drop = mmap.MADV_REMOVE  # MADV_DONTNEED would keep a shared page's data
        self._view = memoryview(self._map)
        self._ones = memoryview(b"\x01" * pages)
        self._zeros = memoryview(bytes(pages))
        self._page_view = memoryview(self._mapped)
        self._direct = DirectSource(memory=self._view, page_map=self._page_view, page_size=PAGE)

    def _mark(self, offset: int, length: int, value: memoryview) -> None:
        first, end = offset // PAGE, -(-(offset + length) // PAGE)
        self._mapped[first:end] = value[:end - first]

    def read_into(self, offset: int, buf: memoryview) -> None:
        buf[:] = self._view[offset:offset + len(buf)]

    def write_from(self, offset: int, buf: memoryview) -> None:
        n = len(buf)
        self._view[offset:offset + n] = buf
        self._mark(offset, n, self._ones)

    def direct_source(self) -> DirectSource:
        return self._direct

    def sync(self, offset: int = 0, length: int = 0) -> None:
        """Memory is as durable as it gets: nothing to do."""

    def _zero(self, offset: int, length: int) -> tuple[int, int]:
        """Zero offset..offset+length: whole pages are dropped, the partial ends are written over.

        Returns the range of whole pages dropped, as (first byte, end byte).
        """
        end = offset + length
        first = -(-offset // PAGE) * PAGE
        last = max(first, end - end % PAGE if end < self.size else end)
        if last > first:
            self._map.madvise(self._drop, first, last - first)
        for lo, hi in ((offset, min(first, end)), (max(last, offset), end)):
            if hi > lo:
                self._view[lo:hi] = bytes(hi - lo)
        return first, last

    def discard(self, offset: int, length: int) -> None:
        """Deallocate: dropped whole pages become unmapped; partial pages stay mapped, zeroed."""
        first, last = self._zero(offset, length)
        if last > first:
            self._mark(first, last - first, self._zeros)

    def write_zeroes(self, offset: int, length: int) -> None:
        """Zero a range that stays mapped (the dropped pages cost no memory until written)."""
        self._zero(offset, length)
        self._mark(offset, length, self._ones)

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        page = offset // PAGE
        mapped = self._mapped[page]
        nxt = self._mapped.find(b"\x00" if mapped else b"\x01", page)
        end = self.size if nxt < 0 else min(nxt * PAGE, self.size)
        return bool(mapped), end - offset

    def close(self) -> None:
        self._view.release()
        self._page_view.release()
        self._map.close()
        if self._memory is not None:
            assert isinstance(self._mapped, mmap.mmap)
            self._mapped.close()
            self._memory.close()


KIND = StoreKind(
    name="ram",
    options=(Option("size", "size", doc="bytes of memory"),),
    open=lambda values: RamStore(values["size"], values["readonly"], values["memory"]),
    memory=lambda values: shared_bytes(values["size"]),
    doc="anonymous memory, thin: pages cost memory once written",
)
