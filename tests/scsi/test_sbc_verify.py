"""VERIFY (BYTCHK 0/1/3), WRITE AND VERIFY and COMPARE AND WRITE."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    LBA_OUT_OF_RANGE,
    MISCOMPARE_DURING_VERIFY,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.sbc import verify as sbc_verify
from hpt.scsi.sbc.common import MAX_CAW_BLOCKS, first_difference
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, RecordingStore, cdb10, cdb12, cdb16

VERIFIES = [(0x2F, cdb10), (0xAF, cdb12), (0x8F, cdb16)]
WRITE_VERIFIES = [(0x2E, cdb10), (0xAE, cdb12), (0x8E, cdb16)]
BYTCHK1, BYTCHK3 = 0x02, 0x06


def caw(lba: int, n: int, b1: int = 0) -> bytes:
    return struct.pack(">BBQxxxBxx", 0x89, b1, lba, n)


def filled(disk: Disk, lba: int = 0, n: int = 4) -> bytes:
    data = bytes((i * 13 + 5) & 0xFF for i in range(n * BS))
    disk.write(lba, data)
    return data


@pytest.mark.parametrize(("op", "build"), VERIFIES)
def test_verify_bytchk1_match_and_miscompare_offset(op, build) -> None:
    disk = Disk()
    data = filled(disk, 8, 4)
    assert disk.run(build(op, 8, 4, BYTCHK1), data).status == Status.GOOD
    bad = bytearray(data)
    bad[1234] ^= 0x58
    reply = disk.run(build(op, 8, 4, BYTCHK1), bytes(bad))
    assert reply.asc == MISCOMPARE_DURING_VERIFY
    assert reply.info == 1234


@pytest.mark.parametrize(("op", "build"), VERIFIES)
def test_verify_bytchk0_checks_the_medium_only(op, build) -> None:
    disk = Disk()
    filled(disk)
    reply = disk.run(build(op, 0, 4, 0))
    assert reply.status == Status.GOOD and reply.result.out_len is None


def test_verify_bytchk0_with_data_sent_reports_no_transfer() -> None:
    reply = Disk().run(cdb10(0x2F, 0, 1, 0), bytes(BS))
    assert reply.status == Status.GOOD and reply.result.out_len == 0


def test_verify_bytchk3_compares_one_block_with_each() -> None:
    disk = Disk()
    disk.write(0, b"\x5a" * 3 * BS + b"\x5b" + b"\x5a" * (BS - 1))
    assert disk.run(cdb16(0x8F, 0, 3, BYTCHK3), b"\x5a" * BS).status == Status.GOOD
    reply = disk.run(cdb16(0x8F, 0, 4, BYTCHK3), b"\x5a" * BS)
    assert reply.asc == MISCOMPARE_DURING_VERIFY
    assert reply.info == 3 * BS
    assert reply.result.status == Status.CHECK_CONDITION


def test_verify_bytchk3_scans_in_chunks(monkeypatch) -> None:
    monkeypatch.setattr(sbc_verify, "_CHUNK", 2 * BS)
    disk = Disk()
    disk.write(0, b"\x11" * 6 * BS)
    disk.write(5, b"\x11" * 7 + b"\x12" + b"\x11" * (BS - 8))
    reply = disk.run(cdb16(0x8F, 0, 6, BYTCHK3), b"\x11" * BS)
    assert reply.asc == MISCOMPARE_DURING_VERIFY and reply.info == 5 * BS + 7


def test_verify_reserved_bytchk_and_protect() -> None:
    disk = Disk()
    reply = disk.run(cdb10(0x2F, 0, 1, 0x04), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 2, True)
    reply = disk.run(cdb10(0x2F, 0, 1, 0x20 | BYTCHK1), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 7, True)


@pytest.mark.parametrize(("op", "build"), VERIFIES)
def test_verify_range(op, build) -> None:
    disk = Disk()
    assert disk.run(build(op, 0, 0, BYTCHK1)).status == Status.GOOD
    assert disk.run(build(op, NBLOCKS + 1, 0, BYTCHK1)).asc == LBA_OUT_OF_RANGE
    assert disk.run(build(op, NBLOCKS - 1, 2, BYTCHK1), bytes(2 * BS)).asc == LBA_OUT_OF_RANGE


def test_verify_unmapped_blocks_compare_as_zeroes() -> None:
    disk = Disk(thin=True)
    assert disk.run(cdb10(0x2F, 100, 2, BYTCHK1), bytes(2 * BS)).status == Status.GOOD


def test_verify_partial_data_compares_what_arrived() -> None:
    disk = Disk()
    data = filled(disk, 0, 2)
    reply = disk.run(cdb10(0x2F, 0, 2, BYTCHK1), data[:300])
    assert reply.status == Status.GOOD and reply.result.out_len == 2 * BS


# -- WRITE AND VERIFY -------------------------------------------------------------------------
@pytest.mark.parametrize(("op", "build"), WRITE_VERIFIES)
@pytest.mark.parametrize("b1", [0, BYTCHK1, 0x10 | BYTCHK1])
def test_write_and_verify_writes_durably(op, build, b1) -> None:
    store = RecordingStore(NBLOCKS * 512)
    disk = Disk(store)
    data = b"\xa6" * 3 * BS
    assert disk.run(build(op, 7, 3, b1), data).status == Status.GOOD
    assert disk.read(7, 3) == data
    assert store.syncs == [(7 * BS, 3 * BS)]


@pytest.mark.parametrize(("op", "build"), WRITE_VERIFIES)
def test_write_and_verify_errors(op, build) -> None:
    disk = Disk()
    assert disk.run(build(op, NBLOCKS, 1, BYTCHK1), bytes(BS)).asc == LBA_OUT_OF_RANGE
    assert disk.run(build(op, 0, 1, 0x40), bytes(BS)).asc == INVALID_FIELD_IN_CDB
    assert Disk(readonly=True).run(build(op, 0, 1, BYTCHK1), bytes(BS)).asc == WRITE_PROTECTED


def test_write_and_verify_residuals() -> None:
    disk = Disk()
    disk.write(0, b"a" * 2 * BS)
    reply = disk.run(cdb10(0x2E, 0, 1, BYTCHK1))  # EDTL 0
    assert reply.status == Status.GOOD and reply.result.out_len == BS
    reply = disk.run(cdb10(0x2E, 0, 2, BYTCHK1), b"b" * BS)  # EDTL one of two blocks
    assert reply.status == Status.GOOD and reply.result.out_len == 2 * BS
    assert disk.read(0, 2) == b"b" * BS + b"a" * BS


# -- COMPARE AND WRITE ------------------------------------------------------------------------
def test_compare_and_write_swaps_on_match() -> None:
    disk = Disk()
    old = filled(disk, 20, 2)
    new = b"B" * 2 * BS
    reply = disk.run(caw(20, 2), old + new)
    assert reply.status == Status.GOOD and reply.result.out_len is None
    assert disk.read(20, 2) == new


@pytest.mark.parametrize("offset", [0, 1, 511, 512, 1023])
def test_compare_and_write_miscompare_leaves_data_and_reports_offset(offset) -> None:
    disk = Disk()
    old = filled(disk, 0, 2)
    verify = bytearray(old)
    verify[offset] ^= 0xFF
    reply = disk.run(caw(0, 2), bytes(verify) + b"B" * 2 * BS)
    assert reply.asc == MISCOMPARE_DURING_VERIFY
    assert reply.info == offset
    assert disk.read(0, 2) == old


def test_compare_and_write_on_unwritten_blocks_miscompares() -> None:
    disk = Disk()
    reply = disk.run(caw(5, 1), b"%" * BS + b"B" * BS)
    assert reply.asc == MISCOMPARE_DURING_VERIFY and reply.info == 0
    assert disk.read(5, 1) == bytes(BS)


def test_compare_and_write_zero_blocks_is_not_an_error() -> None:
    assert Disk().run(caw(0, 0)).status == Status.GOOD


def test_compare_and_write_maximum_length(monkeypatch) -> None:
    disk = Disk()
    assert MAX_CAW_BLOCKS == 255  # the whole NUMBER OF LOGICAL BLOCKS byte: no CDB can exceed it
    assert disk.run(caw(0, 255), bytes(2 * 255 * BS)).status == Status.GOOD
    monkeypatch.setattr(sbc_verify, "MAX_CAW_BLOCKS", 4)
    reply = disk.run(caw(0, 5), bytes(10 * BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (13, None, True)


def test_compare_and_write_limits() -> None:
    disk = Disk()
    assert disk.run(caw(NBLOCKS - 1, 2), bytes(4 * BS)).asc == LBA_OUT_OF_RANGE
    assert disk.run(caw(2**64 - 1, 1), bytes(2 * BS)).asc == LBA_OUT_OF_RANGE
    assert disk.run(caw(0, 1, 0x20), bytes(2 * BS)).asc == INVALID_FIELD_IN_CDB
    assert Disk(readonly=True).run(caw(0, 1), bytes(2 * BS)).asc == WRITE_PROTECTED


@pytest.mark.parametrize(("n", "size"), [(1, 0), (1, BS), (1, 3 * BS), (1, 4 * BS), (0, 2 * BS)])
def test_compare_and_write_needs_exactly_two_n_blocks(n, size) -> None:
    """256 blocks wrap to 0 in the one-byte field: a buffer with a zero count is refused too."""
    disk = Disk()
    reply = disk.run(caw(0, n), bytes(size))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (13, None, True)
    assert disk.read(0, 1) == bytes(BS)


def test_compare_and_write_dpo_fua() -> None:
    store = RecordingStore(NBLOCKS * BS)
    disk = Disk(store)
    for b1 in (0x10, 0x08, 0x18):
        assert disk.run(caw(0, 1, b1), bytes(2 * BS)).status == Status.GOOD
    assert store.syncs == [(0, BS), (0, BS)]


def test_first_difference() -> None:
    a = memoryview(bytes(5000))
    for pos in (0, 63, 64, 65, 2500, 4999):
        b = bytearray(5000)
        b[pos] = 1
        assert first_difference(a, memoryview(b)) == pos
    assert first_difference(a, memoryview(bytes(5000))) == -1
