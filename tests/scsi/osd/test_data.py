"""WRITE, READ, APPEND, CREATE AND WRITE (OSD-2 6) and the bidirectional READ with attributes."""

from __future__ import annotations

import os

import pytest

from tests.osd.initiator import APPEND, READ, WRITE, OsdClient, cdb

from .support import ids_of, refused


@pytest.fixture
def obj(osd: OsdClient) -> tuple[int, int]:
    pid = osd.create_partition()
    return pid, osd.create(pid)


def test_write_read_at_offsets(osd: OsdClient, obj: tuple[int, int]) -> None:
    data = os.urandom(1 << 20)
    osd.write(*obj, data)
    osd.write(*obj, b"xyz", offset=10)
    assert osd.read(*obj, 16) == data[:10] + b"xyz" + data[13:16]
    assert osd.read(*obj, 1 << 20) == data[:10] + b"xyz" + data[13:]


def test_append_reports_where_it_wrote(osd: OsdClient, obj: tuple[int, int]) -> None:
    assert osd.append(*obj, b"abc") == 0
    assert osd.append(*obj, b"defg") == 3
    assert osd.read_with_length(*obj, 7) == (b"abcdefg", 7)


def test_create_and_write(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid = obj[0]
    oid = osd.create_and_write(pid, b"payload")
    assert oid == obj[1] + 1
    assert osd.read(pid, oid, 7) == b"payload"
    assert osd.create_and_write(pid, b"x", oid=0x40000) == 0x40000
    big = osd.create_and_write(pid, bytes(1 << 20))  # LENGTH's bytes 36..37 are not a CREATE's count
    assert big == 0x40001 and osd.list(pid)[0] == [obj[1], oid, 0x40000, big]


def test_read_past_the_end_returns_what_there_is(osd: OsdClient, obj: tuple[int, int]) -> None:
    osd.write(*obj, b"0123456789")
    reply = refused(osd, cdb(READ, *obj, length=64, start=4), (0x1, 0x3B, 0x17), read=64)
    assert reply.data == b"456789"
    assert ids_of(reply) == obj


def test_data_refusals(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    refused(osd, cdb(WRITE, pid, oid + 5, length=4), (0x5, 0x24, 0x00), field=24, out=b"abcd")
    refused(osd, cdb(WRITE, pid, oid, length=8), (0x5, 0x1A, 0x00), out=b"abcd")  # less data than LENGTH
    refused(osd, cdb(APPEND, pid, oid, length=1 << 31), (0x5, 0x24, 0x00), field=32)
    refused(osd, cdb(WRITE, pid, oid, length=4, start=1 << 62), (0x5, 0x24, 0x00), field=40, out=b"abcd")
    refused(osd, cdb(READ, pid, oid + 9, length=4), (0x5, 0x24, 0x00), field=24, read=4)
    refused(osd, cdb(READ, 0x99999, oid, length=4), (0x5, 0x24, 0x00), field=16, read=4)
