"""READ CAPACITY (10/16) and GET LBA STATUS."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, LBA_OUT_OF_RANGE, Status
from hpt.scsi.sbc.capacity import DEALLOCATED, MAPPED, lba_runs
from hpt.store.base import BackingStore
from hpt.store.file import FileStore
from hpt.store.ram import PAGE, RamStore
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, sa16

RC10 = struct.pack(">B9x", 0x25)


def descriptors(data: bytes) -> list[tuple[int, int, int]]:
    length = struct.unpack_from(">I", data)[0]
    assert length == len(data) - 4
    return [struct.unpack_from(">QIB", data, off) for off in range(8, len(data), 16)]


def test_read_capacity10() -> None:
    reply = Disk().run(RC10, alloc=8)
    assert reply.status == Status.GOOD
    assert struct.unpack(">II", reply.data) == (NBLOCKS - 1, BS)


def test_read_capacity10_caps_at_ffffffff() -> None:
    class Huge(BackingStore):
        size = (1 << 33) * BS

        def read_into(self, offset: int, buf: memoryview) -> None: ...
        def write_from(self, offset: int, buf: memoryview) -> None: ...
        def sync(self, offset: int = 0, length: int = 0) -> None: ...

    disk = Disk(Huge())
    assert struct.unpack(">II", disk.run(RC10, alloc=8).data) == (0xFFFFFFFF, BS)
    assert struct.unpack_from(">Q", disk.run(sa16(0x10, 0, 32), alloc=32).data)[0] == (1 << 33) - 1


def test_read_capacity10_lba_needs_pmi() -> None:
    disk = Disk()
    reply = disk.run(struct.pack(">BxIxxBx", 0x25, 5, 0), alloc=8)
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (2, None, True)
    assert disk.run(struct.pack(">BxIxxBx", 0x25, 5, 1), alloc=8).status == Status.GOOD


@pytest.mark.parametrize(("thin", "flags"), [(False, 0), (True, 0xC000)])
def test_read_capacity16(thin, flags) -> None:
    reply = Disk(thin=thin, block_size=4096).run(sa16(0x10, 0, 32), alloc=32)
    assert reply.status == Status.GOOD and len(reply.data) == 32
    last, bs, prot, exp, lbp = struct.unpack_from(">QIBBH", reply.data)
    assert (last, bs, prot, exp) == (NBLOCKS * 512 // 4096 - 1, 4096, 0, 0)
    assert lbp == flags  # LBPME, LBPRZ; LOWEST ALIGNED LBA 0


@pytest.mark.parametrize("alloc", range(0, 16))
def test_read_capacity16_allocation_length_cuts_data(alloc) -> None:
    reply = Disk().run(sa16(0x10, 0, alloc), alloc=alloc)
    assert reply.status == Status.GOOD and reply.result.in_len == alloc


# -- GET LBA STATUS ---------------------------------------------------------------------------
def test_get_lba_status_fully_provisioned_reports_one_mapped_run() -> None:
    reply = Disk().run(sa16(0x12, 100, 24), alloc=24)
    assert descriptors(reply.data) == [(100, NBLOCKS - 100, MAPPED)]


def test_get_lba_status_thin_runs() -> None:
    disk = Disk(thin=True)
    per_page = PAGE // BS
    disk.write(2 * per_page, bytes(3 * per_page * BS))
    reply = disk.run(sa16(0x12, 0, 1024), alloc=1024)
    assert descriptors(reply.data) == [
        (0, 2 * per_page, DEALLOCATED),
        (2 * per_page, 3 * per_page, MAPPED),
        (5 * per_page, NBLOCKS - 5 * per_page, DEALLOCATED),
    ]


def test_get_lba_status_allocation_length_limits_descriptors() -> None:
    disk = Disk(thin=True)
    per_page = PAGE // BS
    for page in range(0, 20, 2):
        disk.write(page * per_page, bytes(BS))
    reply = disk.run(sa16(0x12, 0, 8 + 3 * 16), alloc=8 + 3 * 16)
    assert len(descriptors(reply.data)) == 3
    reply = disk.run(sa16(0x12, 0, 20), alloc=20)  # room for part of the first descriptor only
    assert reply.status == Status.GOOD and reply.result.in_len == 20
    assert struct.unpack_from(">I", reply.data)[0] == 4 + 16


def test_get_lba_status_starts_at_the_requested_lba() -> None:
    disk = Disk(thin=True)
    disk.write(0, bytes(PAGE))
    reply = disk.run(sa16(0x12, 3, 24), alloc=24)
    assert descriptors(reply.data)[0] == (3, PAGE // BS - 3, MAPPED)


@pytest.mark.parametrize("lba", [NBLOCKS, NBLOCKS + 1, 2**63, 2**64 - 1])
@pytest.mark.parametrize("thin", [False, True])
def test_get_lba_status_beyond_end(lba, thin) -> None:
    reply = Disk(thin=thin).run(sa16(0x12, lba, 24), alloc=24)
    assert reply.asc == LBA_OUT_OF_RANGE and reply.sks == (2, None, True)


def test_get_lba_status_last_lba() -> None:
    reply = Disk(thin=True).run(sa16(0x12, NBLOCKS - 1, 24), alloc=24)
    assert descriptors(reply.data) == [(NBLOCKS - 1, 1, DEALLOCATED)]


class Extents(BackingStore):
    """A store whose mapped extents are given as byte runs."""

    def __init__(self, runs: list[tuple[bool, int]]) -> None:
        self.runs = runs
        self.size = sum(n for _, n in runs)

    def read_into(self, offset: int, buf: memoryview) -> None: ...
    def write_from(self, offset: int, buf: memoryview) -> None: ...
    def sync(self, offset: int = 0, length: int = 0) -> None: ...

    def mapped_extent(self, offset: int) -> tuple[bool, int]:
        start = 0
        for mapped, n in self.runs:
            if offset < start + n:
                return mapped, start + n - offset
            start += n
        raise AssertionError(offset)


def test_lba_runs_partial_blocks_count_as_mapped() -> None:
    store = Extents([(True, 700), (False, 100), (False, 1000), (True, 248)])  # 2048 bytes, 4 blocks
    assert lba_runs(store, 512, 0, 4, 10) == [(0, 2, MAPPED), (2, 1, DEALLOCATED), (3, 1, MAPPED)]


def test_lba_runs_merge_and_limit() -> None:
    store = RamStore(8 * PAGE)
    store.write_from(PAGE, memoryview(bytes(PAGE)))
    store.write_from(3 * PAGE, memoryview(bytes(PAGE)))
    bs = PAGE
    assert lba_runs(store, bs, 0, 8, 2) == [(0, 1, DEALLOCATED), (1, 1, MAPPED)]
    assert lba_runs(store, bs, 0, 8, 10) == [(0, 1, DEALLOCATED), (1, 1, MAPPED), (2, 1, DEALLOCATED),
                                             (3, 1, MAPPED), (4, 4, DEALLOCATED)]


def test_get_lba_status_over_a_sparse_file(tmp_path) -> None:
    store = FileStore(str(tmp_path / "thin.img"), 1 << 20)
    try:
        disk = Disk(store, thin=True, block_size=4096)
        data = b"\x42" * 4 * 4096
        assert disk.run(struct.pack(">BBQIxx", 0x8A, 0, 8, 4), data).status == Status.GOOD
        assert descriptors(disk.run(sa16(0x12, 0, 1024), alloc=1024).data) == [
            (0, 8, DEALLOCATED), (8, 4, MAPPED), (12, 256 - 12, DEALLOCATED)]
        unmap = struct.pack(">HH4xQI4x", 22, 16, 9, 2)
        assert disk.run(struct.pack(">BB5xHx", 0x42, 0, len(unmap)), unmap).status == Status.GOOD
        assert descriptors(disk.run(sa16(0x12, 8, 1024), alloc=1024).data)[:3] == [
            (8, 1, MAPPED), (9, 2, DEALLOCATED), (11, 1, MAPPED)]
    finally:
        store.close()
