"""FORMAT OSD, CREATE/REMOVE PARTITION, CREATE/REMOVE, CREATE/REMOVE COLLECTION (OSD-2 6)."""

from __future__ import annotations

import pytest

from tests.osd.initiator import (
    COLLECTION,
    CREATE,
    CREATE_PARTITION,
    REMOVE,
    REMOVE_COLLECTION,
    REMOVE_PARTITION,
    USER_COLLECTIONS,
    OsdClient,
    OsdError,
    capability,
    cdb,
)

from .support import ids_of, refused

INVALID_CDB = (0x5, 0x24, 0x00)
NOT_EMPTY = (0x5, 0x2C, 0x0A)


def test_partitions_get_ids_from_10000h_or_the_one_asked(osd: OsdClient) -> None:
    assert osd.create_partition() == 0x10000
    assert osd.create_partition(0x20000) == 0x20000
    assert osd.create_partition() == 0x20001
    assert osd.list(0)[0] == [0x10000, 0x20000, 0x20001]
    osd.remove_partition(0x20000)
    assert osd.list(0)[0] == [0x10000, 0x20001]


def test_partition_refusals(osd: OsdClient) -> None:
    pid = osd.create_partition()
    refused(osd, cdb(CREATE_PARTITION, pid), INVALID_CDB, field=16)  # in use
    reserved = cdb(CREATE_PARTITION, 0x42, cap=capability(0x42, 0, 0x02))
    refused(osd, reserved, INVALID_CDB, field=16)
    refused(osd, cdb(REMOVE_PARTITION, 0x30000), INVALID_CDB, field=16)  # no such partition
    osd.create(pid)
    reply = refused(osd, cdb(REMOVE_PARTITION, pid), NOT_EMPTY)
    assert ids_of(reply) == (pid, 0)


def test_objects_created_removed_and_their_refusals(osd: OsdClient) -> None:
    pid = osd.create_partition()
    assert osd.create(pid) == 0x10000
    assert osd.create(pid, 0x12345) == 0x12345
    assert osd.create(pid) == 0x12346
    refused(osd, cdb(CREATE, pid, 0x12345), INVALID_CDB, field=24)  # in use
    refused(osd, cdb(CREATE, pid, 0x99), INVALID_CDB, field=24)  # reserved id
    refused(osd, cdb(CREATE, 0x70000, 0), INVALID_CDB, field=16)  # no such partition
    osd.remove(pid, 0x12345)
    reply = refused(osd, cdb(REMOVE, pid, 0x12345), INVALID_CDB, field=24)
    assert ids_of(reply) == (pid, 0x12345)
    assert osd.list(pid)[0] == [0x10000, 0x12346]


def test_create_several_objects(osd: OsdClient) -> None:
    pid = osd.create_partition()
    first = osd.create(pid)
    raw = cdb(CREATE, pid, length=3 << 16, specific=0)  # NUMBER OF USER OBJECTS: 3
    assert osd.ok(raw).status == 0
    assert osd.list(pid)[0] == [first, first + 1, first + 2, first + 3]
    refused(osd, cdb(CREATE, pid, 0x50000, length=2 << 16), INVALID_CDB, field=36)  # an id and a count


def test_format_osd_removes_everything(osd: OsdClient) -> None:
    pid = osd.create_partition()
    osd.create(pid)
    osd.format_osd(1 << 30)
    assert osd.list(0)[0] == []
    assert osd.get_attrs(0, 0, [(0x90000001, 0x80)])[(0x90000001, 0x80)] == (1 << 30).to_bytes(8, "big")


def test_collections_members_and_forced_removal(osd: OsdClient) -> None:
    pid = osd.create_partition()
    cid = osd.create(pid, collection=True)
    a, b = osd.create(pid), osd.create(pid, sets=[(USER_COLLECTIONS, 1, cid.to_bytes(8, "big"))])
    osd.set_attrs(pid, a, [(USER_COLLECTIONS, 7, cid.to_bytes(8, "big"))])
    assert osd.list_collection(pid, cid) == [a, b]
    refused(osd, cdb(REMOVE_COLLECTION, pid, cid, otype=COLLECTION), NOT_EMPTY)
    refused(osd, cdb(REMOVE, pid, cid), INVALID_CDB, field=24)  # REMOVE is for user objects
    osd.remove_collection(pid, cid, force=True)
    assert osd.get_attrs(pid, a, [(USER_COLLECTIONS, 7)])[(USER_COLLECTIONS, 7)] is None
    assert osd.list(pid)[0] == [a, b]


@pytest.mark.parametrize("bad", [b"\0" * 7, (0x10000).to_bytes(8, "big"), (0x55555).to_bytes(8, "big")])
def test_a_collections_entry_must_name_a_collection(osd: OsdClient, bad: bytes) -> None:
    pid = osd.create_partition()
    oid = osd.create(pid)
    with pytest.raises(OsdError) as err:
        osd.set_attrs(pid, oid, [(USER_COLLECTIONS, 1, bad)])
    assert err.value.reply.key_asc == (0x5, 0x26, 0x00)
    assert err.value.reply.descriptor(0x08) is not None  # the attribute named (OSD-2 4.16.2.4)
