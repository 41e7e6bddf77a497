"""READ/WRITE 6/10/12/16 and ORWRITE(16): data, ranges, flags, residuals, write protection."""

from __future__ import annotations

import errno
import os

import pytest

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    LBA_OUT_OF_RANGE,
    SPACE_ALLOCATION_FAILED_WRITE_PROTECT,
    UNRECOVERED_READ_ERROR,
    WRITE_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.store.ram import RamStore
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, RecordingStore, cdb6, cdb10, cdb12, cdb16

READS = [(0x28, cdb10, 7), (0xA8, cdb12, 6), (0x88, cdb16, 10)]
WRITES = [(0x2A, cdb10, 7), (0xAA, cdb12, 6), (0x8A, cdb16, 10)]


def pattern(n: int, seed: int = 1) -> bytes:
    return bytes((i * 7 + seed) & 0xFF for i in range(n * BS))


@pytest.mark.parametrize(("wop", "wbuild", "_wf"), WRITES)
@pytest.mark.parametrize(("rop", "rbuild", "_rf"), READS)
def test_write_then_read_round_trip(wop, wbuild, _wf, rop, rbuild, _rf) -> None:
    disk = Disk()
    data = pattern(3, wop)
    assert disk.run(wbuild(wop, 100, 3), data).status == Status.GOOD
    reply = disk.run(rbuild(rop, 100, 3), alloc=3 * BS)
    assert reply.status == Status.GOOD
    assert reply.result.in_len == 3 * BS
    assert reply.data == data


def test_read6_write6_and_length_zero_means_256() -> None:
    disk = Disk()
    data = pattern(256)
    assert disk.run(cdb6(0x0A, NBLOCKS - 256, 0), data).status == Status.GOOD
    reply = disk.run(cdb6(0x08, NBLOCKS - 256, 0), alloc=256 * BS)
    assert reply.status == Status.GOOD and reply.result.in_len == 256 * BS
    assert reply.data == data
    assert disk.read(NBLOCKS - 256 - 1, 1) == bytes(BS)


def test_read6_twenty_one_bit_lba_beyond_end() -> None:
    reply = Disk().run(cdb6(0x08, 0x1FFFFF, 1), alloc=BS)
    assert reply.asc == LBA_OUT_OF_RANGE
    assert reply.sks == (1, None, True)


@pytest.mark.parametrize(("op", "build", "_f"), READS + WRITES)
@pytest.mark.parametrize(("lba", "n"), [(NBLOCKS, 1), (NBLOCKS - 1, 2), (NBLOCKS + 1, 0), (0xFFFFFFFF, 1)])
def test_beyond_end_of_medium(op, build, _f, lba, n) -> None:
    disk = Disk()
    data = bytes(n * BS) if op in (0x2A, 0xAA, 0x8A) else None
    reply = disk.run(build(op, lba, n), data, alloc=n * BS)
    assert reply.asc == LBA_OUT_OF_RANGE
    assert reply.sks == (2, None, True)


@pytest.mark.parametrize("lba", [2**63, 2**64 - 1, 2**64 - 2])
def test_sixteen_byte_lba_plus_length_does_not_wrap(lba) -> None:
    disk = Disk()
    assert disk.run(cdb16(0x88, lba, 2), alloc=2 * BS).asc == LBA_OUT_OF_RANGE
    assert disk.run(cdb16(0x8A, lba, 2), bytes(2 * BS)).asc == LBA_OUT_OF_RANGE


def test_zero_length_at_last_lba_boundary_is_good() -> None:
    disk = Disk()
    assert disk.run(cdb10(0x28, NBLOCKS, 0)).status == Status.GOOD
    assert disk.run(cdb10(0x2A, NBLOCKS, 0)).status == Status.GOOD


@pytest.mark.parametrize(("op", "build", "_f"), READS + WRITES)
@pytest.mark.parametrize("protect", range(1, 8))
def test_rd_wr_protect_rejected(op, build, _f, protect) -> None:
    disk = Disk()
    reply = disk.run(build(op, 0, 1, protect << 5), bytes(BS), alloc=BS)
    assert reply.asc == INVALID_FIELD_IN_CDB
    assert reply.sks == (1, 7, True)


@pytest.mark.parametrize("flags", [0x10, 0x08, 0x18, 0x02, 0x1A])
def test_dpo_fua_accepted(flags) -> None:
    disk = Disk()
    assert disk.run(cdb10(0x2A, 5, 1, flags), pattern(1)).status == Status.GOOD
    reply = disk.run(cdb10(0x28, 5, 1, flags), alloc=BS)
    assert reply.status == Status.GOOD and reply.data == pattern(1)


def test_fua_write_syncs_the_written_range() -> None:
    store = RecordingStore(NBLOCKS * BS)
    disk = Disk(store)
    disk.run(cdb10(0x2A, 4, 2), pattern(2))
    assert store.syncs == []
    disk.run(cdb16(0x8A, 4, 2, 0x08), pattern(2))
    assert store.syncs == [(4 * BS, 2 * BS)]


def test_write_cache_disabled_makes_every_write_durable() -> None:
    store = RecordingStore(NBLOCKS * BS)
    disk = Disk(store, write_cache=False)
    disk.run(cdb10(0x2A, 1, 1), pattern(1))
    assert store.syncs == [(BS, BS)]


@pytest.mark.parametrize(("op", "build", "len_field"), READS + WRITES)
def test_maximum_transfer_length(op, build, len_field) -> None:
    disk = Disk(max_xfer_blocks=8)
    assert disk.run(build(op, 0, 8), bytes(8 * BS), alloc=8 * BS).status == Status.GOOD
    reply = disk.run(build(op, 0, 9), bytes(9 * BS), alloc=9 * BS)
    assert reply.asc == INVALID_FIELD_IN_CDB
    assert reply.sks == (len_field, None, True)


@pytest.mark.parametrize(("op", "build", "_f"), [*WRITES, (0x0A, lambda op, lba, n: cdb6(op, lba, n), 4)])
def test_write_protected_lu(op, build, _f) -> None:
    disk = Disk(readonly=True)
    assert disk.run(build(op, 0, 1), bytes(BS)).asc == WRITE_PROTECTED


def test_read_only_store_is_write_protected() -> None:
    disk = Disk(RamStore(NBLOCKS * BS, readonly=True))
    assert disk.run(cdb10(0x2A, 0, 1), bytes(BS)).asc == WRITE_PROTECTED
    assert disk.run(cdb10(0x28, 0, 1), alloc=BS).status == Status.GOOD


# -- residuals (libiscsi iSCSIResiduals) -------------------------------------------------------
def test_read_into_smaller_buffer_reports_full_transfer() -> None:
    disk = Disk()
    disk.write(0, pattern(2))
    reply = disk.run(cdb10(0x28, 0, 2), alloc=200)
    assert reply.status == Status.GOOD
    assert reply.result.in_len == 2 * BS  # the transport reports the overflow
    assert reply.data == pattern(2)[:200]


def test_read_with_no_buffer_reports_full_transfer() -> None:
    reply = Disk().run(cdb10(0x28, 0, 1))
    assert reply.status == Status.GOOD and reply.result.in_len == BS


def test_read_into_larger_buffer_fills_only_the_transfer() -> None:
    disk = Disk()
    disk.write(0, pattern(1))
    reply = disk.run(cdb10(0x28, 0, 1), alloc=10000)
    assert reply.result.in_len == BS and reply.data == pattern(1)


def test_write_overflow_writes_only_the_bytes_received() -> None:
    disk = Disk()
    disk.write(0, b"a" * 2 * BS)
    reply = disk.run(cdb10(0x2A, 0, 2), b"b" * 200)
    assert reply.status == Status.GOOD
    assert reply.result.out_len == 2 * BS
    assert disk.read(0, 2) == b"b" * 200 + b"a" * (2 * BS - 200)


def test_write_with_no_data_writes_nothing() -> None:
    disk = Disk()
    disk.write(0, b"a" * BS)
    reply = disk.run(cdb10(0x2A, 0, 1))
    assert reply.status == Status.GOOD and reply.result.out_len == BS
    assert disk.read(0, 1) == b"a" * BS


def test_write_underflow_writes_only_the_cdb_length() -> None:
    disk = Disk()
    disk.write(0, b"a" * 2 * BS)
    reply = disk.run(cdb10(0x2A, 0, 1), b"b" * 10000)
    assert reply.status == Status.GOOD and reply.result.out_len == BS
    assert disk.read(0, 2) == b"b" * BS + b"a" * BS


def test_exact_write_reports_no_residual_length() -> None:
    reply = Disk().run(cdb10(0x2A, 0, 1), bytes(BS))
    assert reply.status == Status.GOOD and reply.result.out_len is None


# -- ORWRITE(16) ------------------------------------------------------------------------------
def test_orwrite_ors_into_the_blocks() -> None:
    disk = Disk()
    disk.write(10, b"\x0f" * 2 * BS)
    reply = disk.run(cdb16(0x8B, 10, 2), b"\xa0" * 2 * BS)
    assert reply.status == Status.GOOD
    assert disk.read(10, 2) == b"\xaf" * 2 * BS


def test_orwrite_partial_data_ors_only_what_arrived() -> None:
    disk = Disk()
    reply = disk.run(cdb16(0x8B, 0, 1), b"\x01" * 100)
    assert reply.status == Status.GOOD and reply.result.out_len == BS
    assert disk.read(0, 1) == b"\x01" * 100 + bytes(BS - 100)


def test_orwrite_zero_blocks_and_errors() -> None:
    disk = Disk()
    assert disk.run(cdb16(0x8B, 0, 0)).status == Status.GOOD
    assert disk.run(cdb16(0x8B, NBLOCKS + 1, 0)).asc == LBA_OUT_OF_RANGE
    assert disk.run(cdb16(0x8B, 0, 1, 0x20), bytes(BS)).asc == INVALID_FIELD_IN_CDB
    assert Disk(readonly=True).run(cdb16(0x8B, 0, 1), bytes(BS)).asc == WRITE_PROTECTED


def test_orwrite_fua_syncs() -> None:
    store = RecordingStore(NBLOCKS * BS)
    Disk(store).run(cdb16(0x8B, 3, 1, 0x08), bytes(BS))
    assert store.syncs == [(3 * BS, BS)]


class FailingStore(RecordingStore):
    """A store whose writes fail with ``write_errno`` and reads with EIO."""

    def __init__(self, write_errno: int) -> None:
        super().__init__(NBLOCKS * BS)
        self.write_errno = write_errno

    def write_from(self, offset: int, buf: memoryview) -> None:
        raise OSError(self.write_errno, os.strerror(self.write_errno))

    def read_into(self, offset: int, buf: memoryview) -> None:
        raise OSError(errno.EIO, "I/O error")


@pytest.mark.parametrize(
    ("write_errno", "asc"),
    [(errno.ENOSPC, SPACE_ALLOCATION_FAILED_WRITE_PROTECT),
     (errno.EDQUOT, SPACE_ALLOCATION_FAILED_WRITE_PROTECT),
     (errno.EIO, WRITE_ERROR)],
)  # fmt: skip
def test_store_errors_map_to_sense(write_errno: int, asc: object) -> None:
    """A full file system (thin provisioning's resource exhaustion, SBC-4 4.7.3) is DATA PROTECT 27h/07h,
    not a medium error; other store failures are WRITE ERROR / UNRECOVERED READ ERROR."""
    disk = Disk(FailingStore(write_errno))
    assert disk.run(cdb10(0x2A, 0, 1), bytes(BS)).asc == asc
    assert disk.run(cdb10(0x28, 0, 1), alloc=BS).asc == UNRECOVERED_READ_ERROR
