"""REPORT and SET TIMESTAMP (SPC-5 6.36, 6.45), READ and WRITE BUFFER in echo buffer mode (6.29, 6.49)."""

from __future__ import annotations

import struct
import time

from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, PARAMETER_LIST_LENGTH_ERROR, Status
from hpt.scsi.sbc import echo_buffer, timestamp
from tests.scsi.sbc_support import NEXUS, OTHER, Disk


def report() -> bytes:
    return struct.pack(">BB4xIxx", 0xA3, 0x0F, 12)


def set_ts(plen: int = 12) -> bytes:
    return struct.pack(">BB4xIxx", 0xA4, 0x0F, plen)


def clock(disk: Disk) -> tuple[int, int]:
    data = disk.run(report(), alloc=12).data
    length, origin = struct.unpack_from(">HB", data)
    assert length == 10
    return origin & 0x07, int.from_bytes(data[4:10], "big")


def test_timestamp_runs_from_the_host_clock_until_set() -> None:
    disk = Disk(spc=True)
    origin, ms = clock(disk)
    assert origin == timestamp.ORIGIN_OUTSIDE and abs(ms - time.time() * 1000) < 5000
    target = 1_000_000_000_000  # 2001-09-09
    assert disk.run(set_ts(), bytes(4) + target.to_bytes(6, "big") + bytes(2)).status == Status.GOOD
    origin, ms = clock(disk)
    assert origin == timestamp.ORIGIN_SET and target <= ms < target + 5000
    assert disk.run(report(), alloc=12, nexus=OTHER).asc == timestamp.TIMESTAMP_CHANGED
    disk.lu.profile.reset(disk.lu, None)  # type: ignore[misc]  # a reset: the host's clock again
    assert clock(disk)[0] == timestamp.ORIGIN_OUTSIDE


def test_set_timestamp_parameter_list() -> None:
    disk = Disk(spc=True)
    assert disk.run(set_ts(0)).status == Status.GOOD and clock(disk)[0] == timestamp.ORIGIN_OUTSIDE
    reply = disk.run(set_ts(8), bytes(8))
    assert reply.asc == PARAMETER_LIST_LENGTH_ERROR and reply.sks == (6, None, True)


def write_buffer(mode: int, plen: int) -> bytes:
    return struct.pack(">BB4x", 0x3B, mode) + plen.to_bytes(3, "big") + b"\0"


def read_buffer(mode: int, alloc: int) -> bytes:
    return struct.pack(">BB4x", 0x3C, mode) + alloc.to_bytes(3, "big") + b"\0"


def test_echo_buffer_per_nexus() -> None:
    disk = Disk(spc=True)
    assert disk.run(read_buffer(0x0B, 4), alloc=4).data == struct.pack(">BxH", 1, echo_buffer.CAPACITY)
    assert disk.run(read_buffer(0x0A, 16), alloc=16).asc == echo_buffer.COMMAND_SEQUENCE_ERROR
    assert disk.run(write_buffer(0x0A, 5), b"hello").status == Status.GOOD
    assert disk.run(read_buffer(0x0A, 16), alloc=16).data == b"hello"
    assert disk.run(read_buffer(0x0A, 16), alloc=16, nexus=OTHER).asc == echo_buffer.COMMAND_SEQUENCE_ERROR
    disk.lu.profile.reset(disk.lu, NEXUS.initiator_port)  # type: ignore[misc]  # the nexus is lost
    assert disk.run(read_buffer(0x0A, 16), alloc=16).asc == echo_buffer.COMMAND_SEQUENCE_ERROR


def test_echo_buffer_refusals() -> None:
    disk = Disk(spc=True)
    size = echo_buffer.CAPACITY + 1
    reply = disk.run(write_buffer(0x0A, size), bytes(size))
    assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (6, None, True)
    for cdb in (write_buffer(0x02, 4), read_buffer(0x02, 4)):  # data mode: no buffers but the echo one
        reply = disk.run(cdb, bytes(4) if cdb[0] == 0x3B else None, alloc=4)
        assert reply.asc == INVALID_FIELD_IN_CDB and reply.sks == (1, 4, True)
