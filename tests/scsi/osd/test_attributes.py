"""GET/SET ATTRIBUTES (OSD-2 6, 5.2.4): lists, one page, one value in the CDB; the information pages;
refusals naming the attribute; a multi-attribute update lands whole or not at all."""

from __future__ import annotations

import struct

import pytest

from tests.osd.initiator import (
    COLLECTION_INFO,
    CURRENT_COMMAND,
    GET_ATTRIBUTES,
    PARTITION_INFO,
    REMOVE,
    ROOT_INFO,
    SET_ATTRIBUTES,
    USER_INFO,
    OsdClient,
    OsdError,
    cdb,
    encode_offset,
    get_list,
    list_attrs,
)

from .support import refused

APP = 0x10000  # an application-defined user object page


@pytest.fixture
def obj(osd: OsdClient) -> tuple[int, int]:
    pid = osd.create_partition()
    return pid, osd.create(pid)


def test_set_and_get_application_attributes(osd: OsdClient, obj: tuple[int, int]) -> None:
    osd.set_attrs(*obj, [(APP, 1, b"one"), (APP, 2, b"x" * 300), (APP + 1, 9, b"")])
    got = osd.get_attrs(*obj, [(APP, 1), (APP, 2), (APP, 3)])
    assert got == {(APP, 1): b"one", (APP, 2): b"x" * 300, (APP, 3): None}
    assert osd.get_attrs(*obj, [(APP, 0xFFFFFFFF)]) == {(APP, 1): b"one", (APP, 2): b"x" * 300}
    osd.set_attrs(*obj, [(APP, 1, b"")])  # an empty value deletes
    assert osd.get_attrs(*obj, [(APP, 1)]) == {(APP, 1): None}


def test_information_pages(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    osd.write(pid, oid, b"z" * 5000)
    user = osd.get_attrs(pid, oid, [(USER_INFO, 1), (USER_INFO, 2), (USER_INFO, 0x82), (USER_INFO, 0x81)])
    assert user[(USER_INFO, 1)] == pid.to_bytes(8, "big") and user[(USER_INFO, 2)] == oid.to_bytes(8, "big")
    assert user[(USER_INFO, 0x82)] == (5000).to_bytes(8, "big")
    assert int.from_bytes(user[(USER_INFO, 0x81)] or b"", "big") >= 4096
    part = osd.get_attrs(pid, 0, [(PARTITION_INFO, 1), (PARTITION_INFO, 0xC1)])
    assert part[(PARTITION_INFO, 0xC1)] == (1).to_bytes(8, "big")
    cid = osd.create(pid, collection=True)
    coll = osd.get_attrs(pid, cid, [(COLLECTION_INFO, 2)], otype=0x40)
    assert coll[(COLLECTION_INFO, 2)] == cid.to_bytes(8, "big")
    root = osd.get_attrs(0, 0, [(ROOT_INFO, 4), (ROOT_INFO, 5), (ROOT_INFO, 0xC0)])
    assert root[(ROOT_INFO, 4)] == b"HPT     " and root[(ROOT_INFO, 0xC0)] == (1).to_bytes(8, "big")
    osd.set_attrs(0, 0, [(ROOT_INFO, 9, b"my-osd")])
    assert osd.get_attrs(0, 0, [(ROOT_INFO, 9)])[(ROOT_INFO, 9)] == b"my-osd"


def test_a_create_whose_attributes_are_refused_creates_nothing(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    with pytest.raises(OsdError):
        osd.create(pid, 0x50000, sets=[(APP, 1, b"fine"), (USER_INFO, 0x2, bytes(8))])  # object id: read-only
    assert osd.list(pid)[0] == [oid]
    assert osd.create(pid, 0x50000) == 0x50000  # the id is free
    assert osd.read_with_length(pid, 0x50000, 0)[1] == 0


def test_a_remove_whose_attributes_are_refused_keeps_the_object(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    osd.write(pid, oid, b"still here")
    raw = cdb(REMOVE, pid, oid, specific=0x10, attrs=struct.pack(">IIH18s", USER_INFO, 0x2, 8, bytes(8)))
    refused(osd, raw, (0x5, 0x26, 0x00))
    assert osd.read(pid, oid, 10) == b"still here"
    app = cdb(REMOVE, pid, oid, specific=0x10, attrs=struct.pack(">IIH18s", APP, 1, 2, b"hi"))
    refused(osd, app, (0x5, 0x26, 0x00))  # attributes of the object it removes: not kept, refused
    assert osd.get_attrs(pid, oid, [(APP, 1)]) == {(APP, 1): None}


def test_logical_length_is_settable(osd: OsdClient, obj: tuple[int, int]) -> None:
    osd.write(*obj, b"abcdef")
    osd.set_attrs(*obj, [(USER_INFO, 0x82, (2).to_bytes(8, "big"))])
    assert osd.read_with_length(*obj, 2) == (b"ab", 2)


@pytest.mark.parametrize("page, number, value", [
    (USER_INFO, 0x2, b"\0" * 8),  # the object id is computed
    (CURRENT_COMMAND, 3, b"\0" * 8),  # the current command page is read-only
    (PARTITION_INFO, 9, b"x"),  # a partition page on a user object
    (0x80, 1, b"x"),  # a standard page hpt does not define
    (USER_INFO, 0x82, (1 << 60).to_bytes(8, "big")),  # a logical length beyond 16 TiB
])
def test_refused_sets_name_the_attribute_and_change_nothing(osd: OsdClient, obj: tuple[int, int], page: int,
                                                            number: int, value: bytes) -> None:
    with pytest.raises(OsdError) as err:
        osd.set_attrs(*obj, [(APP, 1, b"kept?"), (page, number, value)])
    reply = err.value.reply
    assert reply.key_asc == (0x5, 0x26, 0x00)
    desc = reply.descriptor(0x08)
    assert desc is not None and struct.unpack_from(">II", desc, 4) == (page, number)
    assert osd.get_attrs(*obj, [(APP, 1)]) == {(APP, 1): None}  # the whole update was refused


def test_one_value_in_the_cdb_and_one_page(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    attrs = struct.pack(">IIH18s", APP, 4, 5, b"hello")
    assert osd.ok(cdb(SET_ATTRIBUTES, pid, oid, specific=0x10, attrs=attrs)).status == 0
    page_params = struct.pack(">IIIIIII", APP, 4096, encode_offset(0), 0, 0, 0, 0xFFFFFFFF)
    data = osd.ok(cdb(GET_ATTRIBUTES, pid, oid, specific=0x20, attrs=page_params), read=4096).data
    number, length = struct.unpack_from(">II", data)
    assert number == APP and b"hello" in data[8:8 + length]
    bad = struct.pack(">IIH18s", APP, 4, 19, b"")
    refused(osd, cdb(SET_ATTRIBUTES, pid, oid, specific=0x10, attrs=bad), (0x5, 0x24, 0x00), field=60)


def test_malformed_lists_are_refused(osd: OsdClient, obj: tuple[int, int]) -> None:
    pid, oid = obj
    raw = get_list([(APP, 1)])
    params = list_attrs(get_len=len(raw) + 8, get_off=encode_offset(0), alloc=512, got_off=encode_offset(0))
    refused(osd, cdb(GET_ATTRIBUTES, pid, oid, specific=0x30, attrs=params), (0x5, 0x1A, 0x00), out=raw,
            read=512)
    wrong_type = b"\x09" + raw[1:]
    params = list_attrs(get_len=len(raw), get_off=encode_offset(0), alloc=512, got_off=encode_offset(0))
    refused(osd, cdb(GET_ATTRIBUTES, pid, oid, specific=0x30, attrs=params), (0x5, 0x26, 0x00),
            out=wrong_type, read=512)
    refused(osd, cdb(GET_ATTRIBUTES, pid, oid + 1, specific=0x30, attrs=params), (0x5, 0x24, 0x00), field=24,
            out=raw, read=512)
