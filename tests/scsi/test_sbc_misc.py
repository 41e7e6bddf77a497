"""SYNCHRONIZE CACHE, PRE-FETCH, FORMAT UNIT and READ DEFECT DATA."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    LBA_OUT_OF_RANGE,
    PARAMETER_LIST_LENGTH_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.sbc import misc as sbc_misc
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, RecordingStore, cdb10, cdb16


@pytest.mark.parametrize(("op", "build"), [(0x35, cdb10), (0x91, cdb16)])
def test_synchronize_cache_syncs_the_range(op, build) -> None:
    store = RecordingStore(NBLOCKS * BS)
    disk = Disk(store)
    assert disk.run(build(op, 10, 5)).status == Status.GOOD
    assert disk.run(build(op, 100, 0, 0x02)).status == Status.GOOD  # 0 blocks: to the end; IMMED
    assert store.syncs == [(10 * BS, 5 * BS), (100 * BS, (NBLOCKS - 100) * BS)]


@pytest.mark.parametrize(("op", "build"), [(0x35, cdb10), (0x91, cdb16)])
def test_synchronize_cache_beyond_end(op, build) -> None:
    store = RecordingStore(NBLOCKS * BS)
    reply = Disk(store).run(build(op, NBLOCKS - 1, 2))
    assert reply.asc == LBA_OUT_OF_RANGE and store.syncs == []


def test_synchronize_cache_works_on_a_read_only_lu() -> None:
    assert Disk(readonly=True).run(cdb10(0x35, 0, 0)).status == Status.GOOD


@pytest.mark.parametrize(("op", "build"), [(0x34, cdb10), (0x90, cdb16)])
def test_prefetch_condition_met_when_it_fits(op, build) -> None:
    disk = Disk()
    assert disk.run(build(op, 0, 16)).status == Status.CONDITION_MET
    assert disk.run(build(op, 0, 0)).status == Status.CONDITION_MET  # the whole 1 MiB LU fits
    assert disk.run(build(op, NBLOCKS + 1, 0)).asc == LBA_OUT_OF_RANGE
    assert disk.run(build(op, 2**32 - 1, 1)).asc == LBA_OUT_OF_RANGE


def test_prefetch_larger_than_the_cache_is_good(monkeypatch) -> None:
    monkeypatch.setattr(sbc_misc, "PREFETCH_CACHE_BYTES", 4 * BS)
    disk = Disk()
    assert disk.run(cdb10(0x34, 0, 4)).status == Status.CONDITION_MET
    assert disk.run(cdb10(0x34, 0, 5, 0x02)).status == Status.GOOD


def test_prefetch_asks_the_store_to_read_ahead() -> None:
    class Advised(RecordingStore):
        def __init__(self) -> None:
            super().__init__(NBLOCKS * BS)
            self.advice: list[tuple[int, int]] = []

        def prefetch(self, offset: int, length: int) -> None:
            self.advice.append((offset, length))

    store = Advised()
    Disk(store).run(cdb16(0x90, 8, 8))
    assert store.advice == [(8 * BS, 8 * BS)]


# -- FORMAT UNIT ------------------------------------------------------------------------------
def format_cdb(b1: int = 0) -> bytes:
    return struct.pack(">BB4x", 0x04, b1)


def test_format_unit_keeps_data() -> None:
    disk = Disk()
    disk.write(0, b"x" * BS)
    assert disk.run(format_cdb()).status == Status.GOOD
    assert disk.read(0, 1) == b"x" * BS


@pytest.mark.parametrize(("b1", "bit"), [(0x40, 7), (0x80, 7), (0x01, 2), (0x07, 2)])
def test_format_unit_rejects_protection_and_defect_list_format(b1, bit) -> None:
    reply = Disk().run(format_cdb(b1))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, bit, True)


def test_format_unit_with_parameter_list_header() -> None:
    disk = Disk()
    reply = disk.run(format_cdb(0x10), struct.pack(">BBH", 0, 0x02, 0))  # IMMED, no defects
    assert reply.status == Status.GOOD and reply.result.out_len is None
    reply = disk.run(format_cdb(0x30), struct.pack(">BBxBI", 0, 0, 0, 0))  # LONGLIST
    assert reply.status == Status.GOOD


@pytest.mark.parametrize(
    ("b1", "header", "field", "bit"),
    [
        (0x10, struct.pack(">BBH", 1, 0, 0), 0, None),  # PROTECTION FIELD USAGE
        (0x10, struct.pack(">BBH", 0, 0x08, 0), 1, 3),  # IP: initialization pattern
        (0x10, struct.pack(">BBH", 0, 0, 8), 2, None),  # a defect list
        (0x30, struct.pack(">BBxBI", 0, 0, 0x10, 0), 3, None),  # P_I_INFORMATION
        (0x30, struct.pack(">BBxBI", 0, 0, 0, 4), 4, None),
    ],
)
def test_format_unit_parameter_list_errors(b1, header, field, bit) -> None:
    reply = Disk().run(format_cdb(b1), header)
    assert reply.asc == INVALID_FIELD_IN_PARAMETER_LIST and reply.sks == (field, bit, False)


def test_format_unit_short_header_and_write_protect() -> None:
    assert Disk().run(format_cdb(0x10), b"\x00\x00").asc == PARAMETER_LIST_LENGTH_ERROR
    assert Disk().run(format_cdb(0x30), bytes(4)).asc == PARAMETER_LIST_LENGTH_ERROR
    assert Disk(readonly=True).run(format_cdb()).asc == WRITE_PROTECTED


# -- READ DEFECT DATA -------------------------------------------------------------------------
def test_read_defect_data10_empty_lists() -> None:
    reply = Disk().run(struct.pack(">BxBxxxxHx", 0x37, 0x18 | 0x05, 32), alloc=32)
    assert reply.status == Status.GOOD
    assert reply.data == bytes((0, 0x1D, 0, 0))


def test_read_defect_data12_empty_lists() -> None:
    reply = Disk().run(struct.pack(">BB4xIxx", 0xB7, 0x10, 32), alloc=32)
    assert reply.status == Status.GOOD
    assert reply.data == bytes((0, 0x10)) + bytes(6)


def test_read_defect_data_allocation_length() -> None:
    reply = Disk().run(struct.pack(">BxBxxxxHx", 0x37, 0, 2), alloc=2)
    assert reply.status == Status.GOOD and reply.result.in_len == 2
