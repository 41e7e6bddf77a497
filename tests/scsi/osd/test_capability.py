"""Capabilities under the NOSEC security method (OSD-2 4.11.2.2, 4.12.4.2): each check refuses the
command with INVALID FIELD IN CDB pointing at the capability's field (CDB byte 80 + its offset)."""

from __future__ import annotations

import time

import pytest

from tests.osd.initiator import READ, READ_ONLY, USER, WRITE, OsdClient, capability, cdb

from .support import refused

CAP = 80


@pytest.fixture
def obj(osd: OsdClient) -> tuple[int, int]:
    pid = osd.create_partition()
    oid = osd.create(pid)
    osd.write(pid, oid, b"data")
    return pid, oid


@pytest.mark.parametrize("kwargs, byte", [
    ({"fmt": 0}, 0),  # no capability
    ({"method": 1}, 2),  # CAPKEY: not supported
    ({"expires_ms": 1000}, 4),  # expired in 1970
    ({"otype": 0x02}, 48),  # a partition capability for a user object
    ({"descriptor": 0}, 55),  # no object descriptor
    ({"pid_delta": 1}, 72),  # another partition
    ({"oid_delta": 1}, 80),  # another object
    ({"permissions": READ_ONLY}, 49),  # WRITE not granted
])
def test_refused_capabilities(osd: OsdClient, obj: tuple[int, int], kwargs: dict[str, int],
                              byte: int) -> None:
    pid, oid = obj
    otype = kwargs.pop("otype", USER)
    cap = capability(pid + kwargs.pop("pid_delta", 0), oid + kwargs.pop("oid_delta", 0), otype, **kwargs)
    refused(osd, cdb(WRITE, pid, oid, length=4, cap=cap), (0x5, 0x24, 0x00), field=CAP + byte, out=b"abcd")
    assert osd.read(pid, oid, 4) == b"data"  # nothing was written


def test_object_created_time_binds_a_capability_to_its_object(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    created = osd.get_attrs(pid, oid, [(0x3, 0x1)])[(0x3, 0x1)]  # the user object timestamps page
    assert created is not None and len(created) == 6
    bound = capability(pid, oid, USER, created_ms=int.from_bytes(created, "big"))
    assert osd.ok(cdb(READ, pid, oid, length=4, cap=bound), read=4).data == b"data"
    osd.remove(pid, oid)
    time.sleep(0.002)  # a later millisecond
    assert osd.create(pid, oid) == oid  # the same id again, a new object
    refused(osd, cdb(READ, pid, oid, length=4, cap=bound), (0x5, 0x24, 0x00), field=CAP + 42, read=4)


def test_granted_capabilities(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    later = int(time.time() * 1000) + 60_000
    read_only = capability(pid, oid, USER, READ_ONLY, expires_ms=later)
    assert osd.ok(cdb(READ, pid, oid, length=4, cap=read_only), read=4).data == b"data"
    partition_wide = capability(pid, 0, USER, descriptor=2)  # PAR descriptor: any object of the partition
    assert osd.ok(cdb(READ, pid, oid, length=4, cap=partition_wide), read=4).data == b"data"
