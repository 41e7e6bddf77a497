"""WRITE ATOMIC (16) (SBC-4 5.48): limits, range checks and its exclusive range in the task set."""

from __future__ import annotations

import struct

from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    LBA_OUT_OF_RANGE,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.lu import LuParams
from hpt.scsi.sbc.table import disk_table
from hpt.scsi.sbc.vpd import max_atomic_blocks
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, RecordingStore

LIMIT = 64


def atomic16(lba: int, n: int, b1: int = 0, boundary: int = 0) -> bytes:
    return struct.pack(">BBQHHxx", 0x9C, b1, lba % (1 << 64), boundary, n)


def test_writes_the_blocks() -> None:
    disk = Disk(max_xfer_blocks=LIMIT)
    assert disk.run(atomic16(5, 3), b"\x5a" * 3 * BS).status == Status.GOOD
    assert disk.read(4, 5) == bytes(BS) + b"\x5a" * 3 * BS + bytes(BS)
    reply = disk.run(atomic16(NBLOCKS - LIMIT, LIMIT, b1=0x18), b"\x01" * LIMIT * BS)  # DPO FUA
    assert reply.status == Status.GOOD
    assert isinstance(disk.store, RecordingStore) and disk.store.syncs  # FUA made it durable


def test_zero_blocks_and_range_checks() -> None:
    disk = Disk(max_xfer_blocks=LIMIT)
    assert disk.run(atomic16(0, 0)).status == Status.GOOD
    for lba in (NBLOCKS + 1, 1 << 63, -1):
        assert disk.run(atomic16(lba, 0)).asc == LBA_OUT_OF_RANGE
    assert disk.run(atomic16(NBLOCKS - 1, 2), bytes(2 * BS)).asc == LBA_OUT_OF_RANGE


def test_limits_and_fields() -> None:
    disk = Disk(max_xfer_blocks=LIMIT)
    reply = disk.run(atomic16(0, LIMIT + 1), bytes((LIMIT + 1) * BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (12, None, True)
    reply = disk.run(atomic16(0, 1, boundary=1), bytes(BS))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (10, None, True)
    reply = disk.run(atomic16(0, 1, b1=0x20), bytes(BS))  # WRPROTECT: no protection information
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 7, True)
    assert disk.read(0, 1) == bytes(BS)


def test_read_only_lu() -> None:
    assert Disk(max_xfer_blocks=LIMIT, readonly=True).run(atomic16(0, 1), bytes(BS)).asc == WRITE_PROTECTED


def test_offered_on_every_disk_within_its_limits() -> None:
    assert max_atomic_blocks(LuParams()) == 0xFFFF and max_atomic_blocks(LuParams(max_xfer_blocks=8)) == 8
    assert Disk(spc=True).run(atomic16(0, 1), bytes(BS)).status == Status.GOOD
    entry = disk_table(LuParams()).get(0x9C)
    assert entry is not None and entry.exclusive  # serialised against overlapping commands
    assert entry.span is not None and entry.span(atomic16(7, 3)) == (7, 10, True)
