"""EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18), the Third-Party Copy VPD page."""

from __future__ import annotations

import struct
import threading

import pytest

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    PARAMETER_LIST_LENGTH_ERROR,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.core.sense import parse_sense
from hpt.scsi.sbc import xcopy
from hpt.scsi.spc.vpd import naa_of
from hpt.scsi.target import ScsiTarget
from tests.scsi.faulty_store import FaultyStore
from tests.scsi.sbc_support import BS, NBLOCKS, NEXUS, OTHER, Disk

COPY_STATUS, OPERATING_PARAMETERS, FAILED_SEGMENT_DETAILS = 0x00, 0x03, 0x04


def cscd(naa: int, block: int = BS, code: int = 0xE4, desig_type: int = 3) -> bytes:
    desig = struct.pack(">BBxB", 1, desig_type, 8) + naa.to_bytes(8, "big") + bytes(8)
    return struct.pack(">BBH", code, 0, 0) + desig + bytes(5) + block.to_bytes(3, "big")


def segment(src: int, dst: int, blocks: int, src_lba: int, dst_lba: int, code: int = 0x02) -> bytes:
    return struct.pack(">BBHHH2xHQQ", code, 0, 0x18, src, dst, blocks, src_lba, dst_lba)


def plist(cscds: list[bytes], segments: list[bytes], list_id: int = 1, usage: int = 0) -> bytes:
    c, s = b"".join(cscds), b"".join(segments)
    return struct.pack(">BBH4xII", list_id, usage << 3, len(c), len(s), 0) + c + s


def xcopy_cdb(plen: int) -> bytes:
    return struct.pack(">BB8xIxx", 0x83, 0x00, plen)


def rcr(sa: int, list_id: int = 1, alloc: int = 1024) -> bytes:
    return struct.pack(">BBB7xIxx", 0x84, sa, list_id, alloc)


def run_copy(disk: Disk, data: bytes, nexus=NEXUS):  # noqa: ANN001, ANN201 - test helper
    return disk.run(xcopy_cdb(len(data)), data, nexus=nexus)


@pytest.fixture
def pair() -> tuple[ScsiTarget, Disk, Disk]:
    """One target with two disk LUs (LUN 0, LUN 1)."""
    target = ScsiTarget("iqn.2024-01.org.hpt:xcopy")
    a, b = Disk(spc=True), Disk(spc=True)
    b.lu.lun = 1
    target.add_lu(a.lu)
    target.add_lu(b.lu)
    for d in (a, b):
        for nexus in (NEXUS, OTHER):
            d.lu.ua.clear(nexus.initiator_port)
    return target, a, b


def test_copy_within_a_lu_and_its_status(pair) -> None:
    _, a, _ = pair
    a.write(0, b"A" * 16 * BS)
    data = plist([cscd(naa_of(a.lu))], [segment(0, 0, 16, 0, NBLOCKS - 16)])
    assert run_copy(a, data).status == Status.GOOD
    assert a.read(NBLOCKS - 16, 16) == b"A" * 16 * BS
    status = a.run(rcr(COPY_STATUS), alloc=12).data
    assert struct.unpack(">IBHBI", status) == (8, 0x01, 1, 0, 16 * BS)
    assert a.run(rcr(COPY_STATUS), alloc=12).asc == INVALID_FIELD_IN_CDB  # handed over once


def test_copy_between_lus_of_a_target_and_of_another_target(pair) -> None:
    target, a, b = pair
    a.write(4, b"B" * 8 * BS)
    data = plist([cscd(naa_of(a.lu)), cscd(naa_of(b.lu))], [segment(0, 1, 8, 4, 100)], usage=0b10)
    assert run_copy(a, data).status == Status.GOOD
    assert b.read(100, 8) == b"B" * 8 * BS
    assert a.run(rcr(COPY_STATUS), alloc=12).asc == INVALID_FIELD_IN_CDB  # LIST ID USAGE 10b: not held
    other = ScsiTarget("iqn.2024-01.org.hpt:other")
    c = Disk(spc=True)
    other.add_lu(c.lu)
    c.write(0, b"C" * BS)
    data = plist([cscd(naa_of(c.lu)), cscd(naa_of(a.lu))], [segment(0, 1, 1, 0, 0)])
    assert run_copy(a, data).asc == xcopy.UNREACHABLE  # not in the copy domain
    target.copy_domain = lambda: (target, other)
    assert run_copy(a, data).status == Status.GOOD and a.read(0, 1) == b"C" * BS


def test_overlapping_copy_upwards_on_one_lu(pair) -> None:
    _, a, _ = pair
    original = bytes(range(256)) * 2 * 64  # 64 distinct-looking blocks
    a.write(0, original)
    xcopy_chunk = xcopy.CHUNK
    try:
        xcopy.CHUNK = 8 * BS
        data = plist([cscd(naa_of(a.lu))], [segment(0, 0, 64, 0, 8)])
        assert run_copy(a, data).status == Status.GOOD
    finally:
        xcopy.CHUNK = xcopy_chunk
    assert a.read(8, 64) == original


def test_empty_and_truncated_parameter_lists(pair) -> None:
    _, a, _ = pair
    assert a.run(xcopy_cdb(0)).status == Status.GOOD
    data = plist([cscd(naa_of(a.lu))], [segment(0, 0, 1, 0, 1)])
    for cut in (8, 16 + 31, len(data) - 1):
        reply = a.run(xcopy_cdb(cut), data[:cut])
        assert reply.asc == PARAMETER_LIST_LENGTH_ERROR, cut


def test_descriptor_limits_and_types(pair) -> None:
    _, a, _ = pair
    naa = naa_of(a.lu)
    one = [segment(0, 0, 1, 0, 1)]
    assert run_copy(a, plist([cscd(naa)] * (xcopy.MAX_CSCDS + 1), one)).asc == xcopy.TOO_MANY_CSCDS
    many = [segment(0, 0, 1, 0, 1)] * (xcopy.MAX_SEGMENTS + 1)
    assert run_copy(a, plist([cscd(naa)], many)).asc == xcopy.TOO_MANY_SEGMENTS
    too_long = [segment(0, 0, 1, 0, 1)] * 40
    assert run_copy(a, plist([cscd(naa)], too_long)).asc == PARAMETER_LIST_LENGTH_ERROR
    assert run_copy(a, plist([cscd(naa, code=0xE0)], one)).asc == xcopy.UNSUPPORTED_CSCD_TYPE
    stream = [segment(0, 0, 1, 0, 1, code=0x03)]
    assert run_copy(a, plist([cscd(naa)], stream)).asc == xcopy.UNSUPPORTED_SEGMENT_TYPE


def test_copy_aborted_cases_and_failed_segment_details(pair) -> None:
    _, a, _ = pair
    naa = naa_of(a.lu)
    assert run_copy(a, plist([cscd(naa)], [segment(0, 1, 1, 0, 1)])).asc == xcopy.UNREACHABLE  # index
    assert run_copy(a, plist([cscd(naa ^ 1)], [segment(0, 0, 1, 0, 1)])).asc == xcopy.UNREACHABLE
    assert run_copy(a, plist([cscd(naa, desig_type=1)], [segment(0, 0, 1, 0, 1)])).asc == xcopy.UNREACHABLE
    assert run_copy(a, plist([cscd(naa, block=4096)], [segment(0, 0, 1, 0, 1)])).asc == xcopy.UNREACHABLE
    beyond = plist([cscd(naa)], [segment(0, 0, 2048, 0, NBLOCKS - 1)], list_id=9)
    assert run_copy(a, beyond).asc == xcopy.SEGMENT_FAILED
    status = a.run(rcr(COPY_STATUS, 9), alloc=12).data
    assert status[4] == 0x02  # completed with an error; handed over
    assert a.run(rcr(FAILED_SEGMENT_DETAILS, 9)).asc == INVALID_FIELD_IN_CDB
    assert run_copy(a, beyond).asc == xcopy.SEGMENT_FAILED
    details = a.run(rcr(FAILED_SEGMENT_DETAILS, 9), alloc=1024).data
    assert details[56] == 0x02 and parse_sense(details[60:]) == xcopy.SEGMENT_FAILED


def test_write_protected_destination(pair) -> None:
    target, a, _ = pair
    ro = Disk(spc=True, readonly=True)
    ro.lu.lun = 2
    target.add_lu(ro.lu)
    a.lu.ua.clear(NEXUS.initiator_port)  # REPORTED LUNS DATA HAS CHANGED
    data = plist([cscd(naa_of(a.lu)), cscd(naa_of(ro.lu))], [segment(0, 1, 1, 0, 0)])
    assert run_copy(a, data).asc == WRITE_PROTECTED


def test_receive_copy_results_operating_parameters_and_records_per_nexus(pair) -> None:
    target, a, _ = pair
    op = a.run(rcr(OPERATING_PARAMETERS, 0), alloc=1024).data
    assert struct.unpack_from(">I", op)[0] == len(op) - 4 and op[4] & 0x01  # SNLID
    assert struct.unpack_from(">HHII", op, 8) == (xcopy.MAX_CSCDS, xcopy.MAX_SEGMENTS, xcopy.MAX_LIST_LENGTH,
                                                  0xFFFF * BS)
    assert op[43] == 2 and set(op[44:46]) == {0x02, 0xE4}
    assert a.run(rcr(0x01)).asc == INVALID_FIELD_IN_CDB  # RECEIVE DATA: no held data
    data = plist([cscd(naa_of(a.lu))], [segment(0, 0, 1, 0, 1)], list_id=3)
    assert run_copy(a, data).status == Status.GOOD
    assert a.run(rcr(COPY_STATUS, 3), nexus=OTHER).asc == INVALID_FIELD_IN_CDB  # another nexus's
    target.nexus_lost(NEXUS)
    a.lu.ua.clear(NEXUS.initiator_port)  # I_T NEXUS LOSS OCCURRED
    assert a.run(rcr(COPY_STATUS, 3), alloc=12).asc == INVALID_FIELD_IN_CDB  # dropped with the nexus


def test_vpd_page_and_3pc_bit(pair) -> None:
    _, a, _ = pair
    page = a.run(bytes((0x12, 1, 0x8F, 1, 0, 0)), alloc=256).data
    assert page[1] == 0x8F and struct.unpack_from(">H", page, 2)[0] == len(page) - 4
    kinds, off = [], 4
    while off < len(page):
        kind, length = struct.unpack_from(">HH", page, off)
        kinds.append(kind)
        assert length % 4 == 0
        if kind == 0x0001:
            assert page[off + 5 : off + 8] == bytes((0x83, 1, 0x00))
            assert page[off + 8 : off + 13] == bytes((0x84, 3, 0x00, 0x03, 0x04))
        off += 4 + length
    assert kinds == [0x0001, 0x0008, 0x0009]
    assert a.run(bytes((0x12, 0, 0, 0, 96, 0)), alloc=96).data[5] & 0x08  # 3PC


def test_abort_task_stops_a_large_copy(monkeypatch) -> None:
    monkeypatch.setattr(xcopy, "CHUNK", 4 * BS)
    store = FaultyStore(inline=True)
    store.faults["write"] = "slow"
    disk = Disk(store, spc=True)
    target = ScsiTarget("iqn.2024-01.org.hpt:abort")
    target.add_lu(disk.lu)
    data = plist([cscd(naa_of(disk.lu))], [segment(0, 0, 64, 0, 512)])
    cmd = ScsiCommand(0, xcopy_cdb(len(data)), NEXUS, tag=5, data_out=memoryview(bytearray(data)),
                      expected_out=len(data))
    results: list[ScsiResult] = []
    ended = threading.Event()
    disk.lu.submit(cmd, lambda r: (results.append(r), ended.set()))
    while not disk.lu.tasks.find(lambda t: t.tag == 5 and t.running):
        pass
    aborted = threading.Event()
    assert target.abort_task(0, NEXUS, 5, aborted.set)
    assert aborted.wait(5) and ended.wait(5)
    assert results[0].status == Status.TASK_ABORTED
    record = disk.lu.state.copies[(NEXUS.initiator_port, 1)]
    assert record.bytes < 64 * BS  # it stopped between chunks
