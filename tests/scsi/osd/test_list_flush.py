"""LIST, LIST COLLECTION and the FLUSH commands (OSD-2 6); everything survives reopening the store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.osd.initiator import (
    CREATE,
    FLUSH,
    FLUSH_COLLECTION,
    FLUSH_OSD,
    FLUSH_PARTITION,
    LIST,
    USER_COLLECTIONS,
    WRITE,
    OsdClient,
    OsdError,
    cdb,
)

from .conftest import make_lu, opened
from .support import refused


def test_list_continues_where_the_allocation_length_ended(osd: OsdClient) -> None:
    pid = osd.create_partition()
    oids = [osd.create(pid) for _ in range(5)]
    ids, cont, flags = osd.list(pid, alloc=24 + 2 * 8)
    assert (ids, cont, flags) == (oids[:2], oids[2], 0x21)  # user object ids
    assert osd.list(pid, start=cont)[0:2] == (oids[2:], 0)
    assert osd.list(0)[2] == 0x01  # partition ids
    refused(osd, cdb(LIST, 0x77777, length=64), (0x5, 0x24, 0x00), field=16, read=64)


def test_flushes(osd: OsdClient) -> None:
    pid = osd.create_partition()
    oid = osd.create(pid)
    cid = osd.create(pid, collection=True)
    osd.flush(FLUSH, pid, oid)
    osd.flush(FLUSH_COLLECTION, pid, cid, otype=0x40)
    osd.flush(FLUSH_PARTITION, pid)
    osd.flush(FLUSH_OSD)
    refused(osd, cdb(FLUSH, pid, oid + 100), (0x5, 0x24, 0x00), field=24)
    refused(osd, cdb(FLUSH_COLLECTION, pid, oid, otype=0x40), (0x5, 0x24, 0x00), field=24)  # not a collection


def test_everything_survives_reopening(tmp_path: Path) -> None:
    lu, osd = opened(tmp_path / "store")
    pid = osd.create_partition()
    cid = osd.create(pid, collection=True)
    oid = osd.create(pid, sets=[(0x10000, 1, b"attr"), (USER_COLLECTIONS, 1, cid.to_bytes(8, "big"))])
    osd.write(pid, oid, b"persistent")
    osd.flush(FLUSH_OSD)
    lu.state.store.close()

    again, osd = opened(tmp_path / "store")
    assert osd.list(0)[0] == [pid]
    assert osd.list(pid)[0] == [cid, oid]
    assert osd.read(pid, oid, 10) == b"persistent"
    assert osd.get_attrs(pid, oid, [(0x10000, 1)]) == {(0x10000, 1): b"attr"}
    assert osd.list_collection(pid, cid) == [oid]
    again.state.store.close()


def test_a_read_only_lu_refuses_changes(tmp_path: Path) -> None:
    lu, osd = opened(tmp_path / "store")
    pid = osd.create_partition()
    oid = osd.create(pid)
    osd.write(pid, oid, b"kept")
    lu.params.readonly = True
    protected = (0x7, 0x27, 0x00)  # DATA PROTECT, WRITE PROTECTED
    refused(osd, cdb(WRITE, pid, oid, length=4), protected, out=b"gone")
    refused(osd, cdb(CREATE, pid), protected)
    with pytest.raises(OsdError):
        osd.set_attrs(pid, oid, [(0x10000, 1, b"x")])
    assert osd.read(pid, oid, 4) == b"kept"
    assert osd.get_attrs(pid, oid, [(0x10000, 1)]) == {(0x10000, 1): None}
    osd.flush(FLUSH_OSD)
    lu.state.store.close()


def test_release_flushes_and_closes_the_store(tmp_path: Path) -> None:
    lu, osd = opened(tmp_path / "store")
    pid = osd.create_partition()
    lu.release()  # the LU goes away (hptd stopping, the LUN deleted): the profile's close hook
    with pytest.raises(sqlite3.ProgrammingError):
        lu.state.store.kind(0, 0)  # closed
    again = make_lu(tmp_path / "store")
    assert again.state.store.ids(0) == [pid]
    again.release()
