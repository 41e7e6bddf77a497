"""UNMAP and WRITE SAME (10/16) with the UNMAP, ANCHOR and NDOB bits."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    INVALID_OPCODE,
    LBA_OUT_OF_RANGE,
    PARAMETER_LIST_LENGTH_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.sbc import provisioning as sbc_provisioning
from hpt.scsi.sbc.capacity import DEALLOCATED, MAPPED
from hpt.scsi.sbc.provisioning import INVALID_FIELD_IN_CIU
from hpt.store.ram import PAGE
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, RecordingStore, cdb10, cdb16, sa16

PER_PAGE = PAGE // BS
UNMAP_BIT, ANCHOR_BIT, NDOB_BIT = 0x08, 0x10, 0x01


def unmap_cdb(plen: int, b1: int = 0) -> bytes:
    return struct.pack(">BB5xHx", 0x42, b1, plen)


def unmap_list(*ranges: tuple[int, int], bd_len: int | None = None) -> bytes:
    body = b"".join(struct.pack(">QI4x", lba, n) for lba, n in ranges)
    bd = len(body) if bd_len is None else bd_len
    return struct.pack(">HH4x", 6 + len(body), bd) + body


def status_of(disk: Disk, lba: int) -> tuple[int, int, int]:
    data = disk.run(sa16(0x12, lba, 24), alloc=24).data
    return struct.unpack_from(">QIB", data, 8)


def written(disk: Disk, lba: int, n: int, byte: int = 0xFF) -> None:
    disk.write(lba, bytes([byte]) * n * BS)


# -- UNMAP ------------------------------------------------------------------------------------
def test_unmap_deallocates_and_reads_zero() -> None:
    disk = Disk(thin=True)
    written(disk, 0, 4 * PER_PAGE)
    plist = unmap_list((PER_PAGE, 2 * PER_PAGE))
    reply = disk.run(unmap_cdb(len(plist)), plist)
    assert reply.status == Status.GOOD and reply.result.out_len is None
    assert disk.read(0, 4 * PER_PAGE) == b"\xff" * PAGE + bytes(2 * PAGE) + b"\xff" * PAGE
    assert status_of(disk, PER_PAGE) == (PER_PAGE, 2 * PER_PAGE, DEALLOCATED)
    assert status_of(disk, 3 * PER_PAGE) == (3 * PER_PAGE, PER_PAGE, MAPPED)


def test_unmap_several_descriptors_and_zero_counts() -> None:
    disk = Disk(thin=True)
    written(disk, 0, 8)
    plist = unmap_list((0, 1), (2, 0), (NBLOCKS, 0), (5, 2))
    assert disk.run(unmap_cdb(len(plist)), plist).status == Status.GOOD
    assert disk.read(0, 8) == bytes(BS) + b"\xff" * 4 * BS + bytes(2 * BS) + b"\xff" * BS


def test_unmap_on_fully_provisioned_lu_is_not_supported() -> None:
    reply = Disk().run(unmap_cdb(24), unmap_list((0, 1)))
    assert reply.asc == INVALID_OPCODE


def test_unmap_empty_lists() -> None:
    disk = Disk(thin=True)
    assert disk.run(unmap_cdb(0)).status == Status.GOOD
    plist = unmap_list()
    assert disk.run(unmap_cdb(len(plist)), plist).status == Status.GOOD


@pytest.mark.parametrize("plen", [1, 7])
def test_unmap_parameter_list_too_short(plen) -> None:
    reply = Disk(thin=True).run(unmap_cdb(plen), bytes(plen))
    assert reply.asc == PARAMETER_LIST_LENGTH_ERROR and reply.sks == (7, None, True)


def test_unmap_ignores_an_incomplete_descriptor_and_a_long_block_descriptor_length() -> None:
    disk = Disk(thin=True)
    written(disk, 0, 2)
    plist = unmap_list((0, 1), (1, 1), bd_len=40)[:8 + 16 + 10]
    assert disk.run(unmap_cdb(len(plist)), plist).status == Status.GOOD
    assert disk.read(0, 2) == bytes(BS) + b"\xff" * BS


def test_unmap_checks_every_descriptor_before_unmapping() -> None:
    disk = Disk(thin=True)
    written(disk, 0, 1)
    plist = unmap_list((0, 1), (NBLOCKS - 1, 2))
    reply = disk.run(unmap_cdb(len(plist)), plist)
    assert reply.asc == LBA_OUT_OF_RANGE
    assert disk.read(0, 1) == b"\xff" * BS
    plist = unmap_list((2**64 - 1, 1))
    assert disk.run(unmap_cdb(len(plist)), plist).asc == LBA_OUT_OF_RANGE


def test_unmap_limits(monkeypatch) -> None:
    monkeypatch.setattr(sbc_provisioning, "MAX_UNMAP_DESCRIPTORS", 2)
    monkeypatch.setattr(sbc_provisioning, "MAX_UNMAP_LBA_COUNT", 10)
    disk = Disk(thin=True)
    plist = unmap_list((0, 1), (1, 1), (2, 1))
    reply = disk.run(unmap_cdb(len(plist)), plist)
    assert reply.asc == INVALID_FIELD_IN_PARAMETER_LIST and reply.sks == (2, None, False)
    plist = unmap_list((0, 6), (10, 5))
    reply = disk.run(unmap_cdb(len(plist)), plist)
    assert reply.asc == INVALID_FIELD_IN_PARAMETER_LIST and reply.sks == (32, None, False)
    plist = unmap_list((0, 6), (10, 4))
    assert disk.run(unmap_cdb(len(plist)), plist).status == Status.GOOD


def test_unmap_anchor_and_write_protect() -> None:
    plist = unmap_list((0, 1))
    reply = Disk(thin=True).run(unmap_cdb(len(plist), 0x01), plist)
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 0, True)
    assert Disk(thin=True, readonly=True).run(unmap_cdb(len(plist)), plist).asc == WRITE_PROTECTED


def test_unmap_on_a_store_without_discard_writes_zeroes() -> None:
    store = RecordingStore(NBLOCKS * BS)
    store.supports_discard = False
    disk = Disk(store, thin=True)
    written(disk, 0, 2)
    plist = unmap_list((0, 2))
    assert disk.run(unmap_cdb(len(plist)), plist).status == Status.GOOD
    assert disk.read(0, 2) == bytes(2 * BS)


# -- WRITE SAME -------------------------------------------------------------------------------
@pytest.mark.parametrize(("op", "build"), [(0x41, cdb10), (0x93, cdb16)])
def test_write_same_replicates_the_block(op, build) -> None:
    disk = Disk()
    block = bytes(range(256)) * 2
    assert disk.run(build(op, 10, 300), block).status == Status.GOOD
    assert disk.read(10, 300) == block * 300
    assert disk.read(9, 1) == bytes(BS) and disk.read(310, 1) == bytes(BS)


@pytest.mark.parametrize(("op", "build"), [(0x41, cdb10), (0x93, cdb16)])
def test_write_same_zero_block_with_unmap_deallocates(op, build) -> None:
    disk = Disk(thin=True)
    written(disk, 0, 4 * PER_PAGE)
    assert disk.run(build(op, 0, 4 * PER_PAGE, UNMAP_BIT), bytes(BS)).status == Status.GOOD
    assert disk.read(0, 4 * PER_PAGE) == bytes(4 * PER_PAGE * BS)
    assert status_of(disk, 0)[2] == DEALLOCATED


def test_write_same_without_unmap_keeps_blocks_mapped() -> None:
    disk = Disk(thin=True)
    assert disk.run(cdb16(0x93, 0, 2 * PER_PAGE), bytes(BS)).status == Status.GOOD
    assert status_of(disk, 0) == (0, 2 * PER_PAGE, MAPPED)


def test_write_same_nonzero_block_with_unmap_deallocates() -> None:
    """UNMAP deallocates whatever the block holds (libiscsi WriteSame10.UnmapUntilEnd, LIO)."""
    disk = Disk(thin=True)
    written(disk, 0, PER_PAGE)
    assert disk.run(cdb10(0x41, 0, PER_PAGE, UNMAP_BIT), b"\x01" * BS).status == Status.GOOD
    assert disk.read(0, PER_PAGE) == bytes(PAGE)
    assert status_of(disk, 0)[2] == DEALLOCATED


def test_write_same_unmap_on_fully_provisioned_lu() -> None:
    reply = Disk().run(cdb10(0x41, 0, 1, UNMAP_BIT), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 3, True)


@pytest.mark.parametrize(("b1", "bit"), [(ANCHOR_BIT, 4), (ANCHOR_BIT | UNMAP_BIT, 4), (0x04, 2), (0x02, 2)])
def test_write_same_anchor_and_obsolete_bits(b1, bit) -> None:
    reply = Disk(thin=True).run(cdb16(0x93, 0, 1, b1), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, bit, True)


@pytest.mark.parametrize("protect", range(1, 8))
def test_write_same_wrprotect(protect) -> None:
    reply = Disk().run(cdb10(0x41, 0, 1, protect << 5), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 7, True)


def test_write_same_zero_blocks_runs_to_the_end() -> None:
    """WSNZ 0 (SBC-4 6.6.4): NUMBER OF LOGICAL BLOCKS 0 writes from the LBA to the last one."""
    disk = Disk()
    assert disk.run(cdb16(0x93, NBLOCKS - 3, 0), b"\x07" * BS).status == Status.GOOD
    assert disk.read(NBLOCKS - 4, 4) == bytes(BS) + b"\x07" * 3 * BS
    assert disk.run(cdb10(0x41, NBLOCKS - 1, 0), b"\x09" * BS).status == Status.GOOD
    assert disk.read(NBLOCKS - 2, 2) == b"\x07" * BS + b"\x09" * BS
    assert disk.run(cdb10(0x41, NBLOCKS, 0), bytes(BS)).asc == LBA_OUT_OF_RANGE


def test_write_same_zero_blocks_rejected_with_wsnz(monkeypatch) -> None:
    monkeypatch.setattr(sbc_provisioning, "WSNZ", True)
    reply = Disk().run(cdb10(0x41, 0, 0), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (7, None, True)


def test_write_same_maximum_length(monkeypatch) -> None:
    monkeypatch.setattr(sbc_provisioning, "MAX_WRITE_SAME_BLOCKS", 16)
    disk = Disk()
    assert disk.run(cdb16(0x93, 0, 16), bytes(BS)).status == Status.GOOD
    reply = disk.run(cdb16(0x93, 0, 17), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (10, None, True)


@pytest.mark.parametrize(("op", "build"), [(0x41, cdb10), (0x93, cdb16)])
@pytest.mark.parametrize(("lba", "n"), [(NBLOCKS, 1), (NBLOCKS - 1, 2), (NBLOCKS + 1, 0), (0xFFFFFFFF, 1)])
def test_write_same_beyond_end(op, build, lba, n) -> None:
    assert Disk().run(build(op, lba, n), bytes(BS)).asc == LBA_OUT_OF_RANGE


@pytest.mark.parametrize("size", [0, BS // 2, 2 * BS])
def test_write_same_needs_one_block_of_data(size) -> None:
    disk = Disk(thin=True)
    written(disk, 0, 1)
    assert disk.run(cdb10(0x41, 0, 1, UNMAP_BIT), bytes(size)).asc == INVALID_FIELD_IN_CIU
    assert disk.read(0, 1) == b"\xff" * BS


def test_write_same16_ndob_zeroes_or_unmaps_without_data() -> None:
    disk = Disk(thin=True)
    written(disk, 0, 2 * PER_PAGE)
    assert disk.run(cdb16(0x93, 0, PER_PAGE, NDOB_BIT)).status == Status.GOOD
    assert disk.read(0, PER_PAGE) == bytes(PAGE)
    assert status_of(disk, 0)[2] == MAPPED
    assert disk.run(cdb16(0x93, PER_PAGE, PER_PAGE, NDOB_BIT | UNMAP_BIT)).status == Status.GOOD
    assert status_of(disk, PER_PAGE) == (PER_PAGE, NBLOCKS - PER_PAGE, DEALLOCATED)


def test_write_same_read_only() -> None:
    disk = Disk(readonly=True, thin=True)
    assert disk.run(cdb10(0x41, 0, 1), bytes(BS)).asc == WRITE_PROTECTED
    assert disk.run(cdb16(0x93, 0, 1, UNMAP_BIT)).asc == WRITE_PROTECTED


def test_write_same_syncs_when_write_cache_is_off() -> None:
    store = RecordingStore(NBLOCKS * BS)
    Disk(store, write_cache=False).run(cdb10(0x41, 2, 3), b"\x01" * BS)
    assert store.syncs == [(2 * BS, 3 * BS)]
