"""RamStore: round trips, page-granular deallocation and the allocation map behind GET LBA STATUS."""

from __future__ import annotations

import errno
import os

import pytest

from hpt.store.base import SharedMemory
from hpt.store.ram import PAGE, RamStore, memory_bytes, shared_bytes
from hpt.store.registry import open_store


def read(store: RamStore, offset: int, n: int) -> bytes:
    buf = bytearray(n)
    store.read_into(offset, memoryview(buf))
    return bytes(buf)


def test_fresh_store_reads_zero_and_is_unmapped() -> None:
    s = RamStore(16 * PAGE)
    assert read(s, 0, 16 * PAGE) == bytes(16 * PAGE)
    assert s.mapped_extent(0) == (False, 16 * PAGE)
    assert s.mapped_extent(5 * PAGE + 3) == (False, 11 * PAGE - 3)


def test_round_trip_marks_touched_pages() -> None:
    s = RamStore(16 * PAGE)
    data = os.urandom(PAGE + 10)
    s.write_from(2 * PAGE - 5, memoryview(data))
    assert read(s, 2 * PAGE - 5, len(data)) == data
    assert s.mapped_extent(0) == (False, PAGE)
    assert s.mapped_extent(PAGE) == (True, 3 * PAGE)  # pages 1..3 hold some of the data
    assert s.mapped_extent(4 * PAGE) == (False, 12 * PAGE)


def test_discard_drops_whole_pages_and_zeroes_partial_ones() -> None:
    s = RamStore(8 * PAGE)
    s.write_from(0, memoryview(b"\xee" * 8 * PAGE))
    s.discard(PAGE // 2, 3 * PAGE)  # half a page, two whole pages, half a page
    assert read(s, 0, 8 * PAGE) == b"\xee" * (PAGE // 2) + bytes(3 * PAGE) + b"\xee" * (4 * PAGE + PAGE // 2)
    assert s.mapped_extent(0) == (True, PAGE)
    assert s.mapped_extent(PAGE) == (False, 2 * PAGE)
    assert s.mapped_extent(3 * PAGE) == (True, 5 * PAGE)


def test_discard_inside_one_page_keeps_it_mapped() -> None:
    s = RamStore(2 * PAGE)
    s.write_from(0, memoryview(b"\x01" * PAGE))
    s.discard(10, 20)
    assert read(s, 0, 40) == b"\x01" * 10 + bytes(20) + b"\x01" * 10
    assert s.mapped_extent(0) == (True, PAGE)


def test_discard_to_an_unaligned_end_of_store() -> None:
    size = 3 * PAGE + 100
    s = RamStore(size)
    s.write_from(0, memoryview(b"\x02" * size))
    s.discard(PAGE, size - PAGE)
    assert read(s, 0, size) == b"\x02" * PAGE + bytes(size - PAGE)
    assert s.mapped_extent(PAGE) == (False, size - PAGE)


def test_write_zeroes_keeps_pages_mapped() -> None:
    s = RamStore(4 * PAGE)
    s.write_from(0, memoryview(b"\x03" * 4 * PAGE))
    s.write_zeroes(100, 2 * PAGE)
    assert read(s, 0, 4 * PAGE) == b"\x03" * 100 + bytes(2 * PAGE) + b"\x03" * (2 * PAGE - 100)
    assert s.mapped_extent(0) == (True, 4 * PAGE)
    fresh = RamStore(4 * PAGE)
    fresh.write_zeroes(PAGE, PAGE)
    assert fresh.mapped_extent(PAGE) == (True, PAGE)


def test_sync_close_and_bad_size() -> None:
    s = RamStore(PAGE)
    s.sync()
    s.close()
    with pytest.raises(ValueError, match="positive"):
        RamStore(0)


def _shared_pair(size: int) -> tuple[RamStore, RamStore, list[str]]:
    """Two stores over one memfd, as two worker processes map it; ``released`` logs each release."""
    released: list[str] = []
    fd = os.memfd_create("test", os.MFD_CLOEXEC)
    os.ftruncate(fd, shared_bytes(size))
    a = RamStore(size, memory=SharedMemory(os.dup(fd), lambda: released.append("a")))
    b = RamStore(size, memory=SharedMemory(fd, lambda: released.append("b")))
    return a, b, released


def test_shared_memory_is_one_medium_with_one_allocation_map() -> None:
    """Two stores over one memfd (hptd's workers) see each other's writes, deallocations and map."""
    a, b, released = _shared_pair(8 * PAGE + 100)
    data = os.urandom(3 * PAGE)
    a.write_from(PAGE, memoryview(data))
    assert read(b, PAGE, 3 * PAGE) == data
    assert b.mapped_extent(0) == (False, PAGE)
    assert b.mapped_extent(PAGE) == (True, 3 * PAGE)
    b.discard(PAGE, 2 * PAGE)  # whole pages: punched out of the memfd, for both
    assert read(a, PAGE, 3 * PAGE) == bytes(2 * PAGE) + data[2 * PAGE:]
    assert a.mapped_extent(PAGE) == (False, 2 * PAGE)
    a.write_from(8 * PAGE, memoryview(b"\x07" * 100))  # the partial last page
    assert read(b, 8 * PAGE, 100) == b"\x07" * 100 and b.mapped_extent(8 * PAGE) == (True, 100)
    assert b.direct_source().page_map is not None and b.direct_source().page_map[8] == 1
    a.close()
    assert released == ["a"] and read(b, 3 * PAGE, PAGE) == data[2 * PAGE:]
    b.close()
    assert released == ["a", "b"]


def test_shared_memory_too_small_is_refused() -> None:
    fd = os.memfd_create("test", os.MFD_CLOEXEC)
    os.ftruncate(fd, 4 * PAGE)
    with pytest.raises(ValueError, match="shared memory of 16384 bytes, 16388 needed"):
        RamStore(4 * PAGE, memory=SharedMemory(fd))
    os.close(fd)


def test_open_store_hands_shared_memory_of_the_kind_size() -> None:
    """open_store asks the provider for the kind's bytes (data and page map) and the store maps them."""
    asked: list[int] = []

    def provide(n: int) -> SharedMemory:
        asked.append(n)
        fd = os.memfd_create("test", os.MFD_CLOEXEC)
        os.ftruncate(fd, n)
        return SharedMemory(fd)

    store = open_store("ram", {"size": "1M"}, memory=provide)
    assert asked == [shared_bytes(1 << 20)] == [(1 << 20) + (1 << 20) // PAGE]
    store.write_from(0, memoryview(b"x" * 10))
    store.close()
    assert open_store("null", {"size": "1M"}, memory=provide).size == 1 << 20 and len(asked) == 1


def test_shared_memory_larger_than_the_machine_is_refused() -> None:
    """A memfd is sparse and its mapping not counted: the store refuses what RAM and swap cannot hold
    (a private mapping's size is refused by the kernel) instead of filling memory until the OOM killer."""
    size = 2 * memory_bytes()
    fd = os.memfd_create("test", os.MFD_CLOEXEC)
    os.ftruncate(fd, shared_bytes(size))
    with pytest.raises(OSError, match="Cannot allocate memory") as info:
        RamStore(size, memory=SharedMemory(fd))
    assert info.value.errno == errno.ENOMEM
    os.close(fd)
