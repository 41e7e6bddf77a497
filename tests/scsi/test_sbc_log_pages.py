"""LOG SENSE and LOG SELECT on a disk (SPC-5 6.7, 6.8; its log pages)."""

from __future__ import annotations

import struct

import pytest

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, INVALID_FIELD_IN_PARAMETER_LIST, Status
from tests.scsi.sbc_support import BS, NBLOCKS, Disk, cdb16

PAGES_FULL = [0x00, 0x02, 0x03, 0x0D, 0x19, 0x2F]


def sense(page: int, subpage: int = 0, pc: int = 1, pointer: int = 0, b1: int = 0) -> bytes:
    return struct.pack(">BBBBxHHx", 0x4D, b1, pc << 6 | page, subpage, pointer, 4096)


def select(b1: int = 0, pc: int = 1, plen: int = 0) -> bytes:
    return struct.pack(">BBBB3xHx", 0x4C, b1, pc << 6, 0, plen)


def params(page: bytes) -> dict[int, bytes]:
    out, off = {}, 4
    while off < len(page):
        code, size = struct.unpack_from(">HxB", page, off)
        out[code] = page[off + 4 : off + 4 + size]
        off += 4 + size
    return out


def test_supported_pages_and_subpages() -> None:
    disk, thin = Disk(spc=True), Disk(spc=True, thin=True)
    assert list(disk.run(sense(0), alloc=64).data[4:]) == PAGES_FULL
    assert 0x0C in thin.run(sense(0), alloc=64).data[4:]
    data = disk.run(sense(0, 0xFF), alloc=64).data
    assert data[0] == 0x40 and data[1] == 0xFF
    assert [tuple(data[i : i + 2]) for i in range(4, len(data), 2)] == [
        (0, 0), (0, 0xFF), (2, 0), (3, 0), (0x0D, 0), (0x19, 0), (0x2F, 0)]


def test_error_counters_and_statistics_count_the_commands() -> None:
    disk = Disk(spc=True)
    disk.write(0, bytes(4 * BS))
    disk.read(0, 2)
    assert disk.run(cdb16(0x88, NBLOCKS, 1), alloc=BS).status == Status.CHECK_CONDITION  # a read error
    write = params(disk.run(sense(0x02), alloc=4096).data)
    read = params(disk.run(sense(0x03), alloc=4096).data)
    assert int.from_bytes(write[0x0005], "big") == 4 * BS and int.from_bytes(read[0x0005], "big") == 2 * BS
    assert int.from_bytes(read[0x0006], "big") == 1 and int.from_bytes(write[0x0006], "big") == 0
    stats = params(disk.run(sense(0x19), alloc=4096).data)
    reads, writes, received, sent = struct.unpack_from(">4Q", stats[0x0001])
    assert (reads, writes, received, sent) == (2, 1, 4, 2)
    assert struct.unpack(">iI", stats[0x0003]) == (-3, 1)  # intervals in milliseconds
    default = params(disk.run(sense(0x19, pc=3), alloc=4096).data)
    assert struct.unpack_from(">4Q", default[0x0001]) == (0, 0, 0, 0)


def test_log_select_resets_the_counters() -> None:
    disk = Disk(spc=True)
    disk.write(0, bytes(BS))
    assert disk.run(select(b1=0x02)).status == Status.GOOD  # PCR
    write = params(disk.run(sense(0x02), alloc=4096).data)
    assert int.from_bytes(write[0x0005], "big") == 0
    disk.write(0, bytes(BS))
    assert disk.run(select()).status == Status.GOOD  # PARAMETER LIST LENGTH 0: defaults
    assert int.from_bytes(params(disk.run(sense(0x02), alloc=4096).data)[0x0005], "big") == 0


@pytest.mark.parametrize(("cdb", "data", "asc", "field"), [
    (select(b1=0x01), None, INVALID_FIELD_IN_CDB, 1),  # SP
    (select(b1=0x02, plen=8), bytes(8), INVALID_FIELD_IN_CDB, 7),
    (select(plen=8), bytes(8), INVALID_FIELD_IN_PARAMETER_LIST, 0),
    (sense(0x02, b1=0x01), None, INVALID_FIELD_IN_CDB, 1),
    (sense(0x0C), None, INVALID_FIELD_IN_CDB, 2),  # a fully provisioned LU has no provisioning page
    (sense(0x30), None, INVALID_FIELD_IN_CDB, 2),
    (sense(0x02, subpage=1), None, INVALID_FIELD_IN_CDB, 3),
    (sense(0x02, pointer=7), None, INVALID_FIELD_IN_CDB, 5),
])
def test_refusals(cdb: bytes, data: bytes | None, asc: object, field: int) -> None:
    reply = Disk(spc=True).run(cdb, data, alloc=4096)
    assert reply.asc == asc and reply.sks[0] == field


def test_parameter_pointer_and_provisioning_temperature_exceptions() -> None:
    disk = Disk(spc=True, thin=True)
    assert list(params(disk.run(sense(0x02, pointer=5), alloc=4096).data)) == [5, 6]
    disk.write(0, bytes(8 * BS) + b"x" * 8 * BS)
    lbp = params(disk.run(sense(0x0C), alloc=4096).data)
    available, used = (struct.unpack_from(">I", lbp[c])[0] for c in (1, 2))
    assert available + used == NBLOCKS and used > 0 and lbp[1][4] & 0x03 == 0x01
    assert params(disk.run(sense(0x0D), alloc=4096).data) == {0: b"\0\xff", 1: b"\0\xff"}
    assert params(disk.run(sense(0x2F), alloc=4096).data) == {0: b"\0\0\xff"}
