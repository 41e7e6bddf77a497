"""The object store (hpt.media.objects): ids over the whole unsigned 64-bit range in order, nested
transactions as savepoints, file removals only once committed, everything found again when reopened."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpt.media.objects import Kind, ObjectStore, StoreError


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "s")


def test_ids_keep_unsigned_order(store: ObjectStore) -> None:
    store.create(0x10000, 0, Kind.PARTITION)
    for oid in (2**64 - 1, 0x10000, 2**63, 2**63 - 1):
        store.create(0x10000, oid, Kind.USER)
    assert store.ids(0x10000) == [0x10000, 2**63 - 1, 2**63, 2**64 - 1]
    assert store.ids(0x10000, start=2**63) == [2**63, 2**64 - 1]
    assert store.ids(0) == [0x10000] and store.count(0x10000) == 4


def test_create_refusals(store: ObjectStore) -> None:
    with pytest.raises(StoreError, match="partition"):
        store.create(0x20000, 0x10000, Kind.USER)
    store.create(0x20000, 0, Kind.PARTITION)
    store.create(0x20000, 0x10000, Kind.USER)
    with pytest.raises(StoreError, match="exists"):
        store.create(0x20000, 0x10000, Kind.USER)


def test_nested_transaction_rolls_back_alone_and_removal_waits_for_commit(store: ObjectStore) -> None:
    store.create(0x10000, 0, Kind.PARTITION)
    store.create(0x10000, 0x10000, Kind.USER)
    store.write(0x10000, 0x10000, 0, b"data")
    with store.transaction() as db:
        store.set_attrs(db, 0x10000, 0x10000, [(0x10000, 1, b"outer")])
        with pytest.raises(RuntimeError), store.transaction() as inner:
            store.set_attrs(inner, 0x10000, 0x10000, [(0x10000, 2, b"inner")])
            raise RuntimeError
    assert store.page(0x10000, 0x10000, 0x10000) == [(1, b"outer")]
    with pytest.raises(RuntimeError), store.transaction():
        store.remove(0x10000, 0x10000)
        raise RuntimeError
    assert store.kind(0x10000, 0x10000) == Kind.USER and store.length(0x10000, 0x10000) == 4
    store.remove(0x10000, 0x10000)
    assert store.kind(0x10000, 0x10000) is None and store.length(0x10000, 0x10000) == 0


def test_reopened(tmp_path: Path) -> None:
    first = ObjectStore(tmp_path / "s", capacity=1 << 30)
    first.create(0x10000, 0, Kind.PARTITION)
    first.create(0x10000, 0x10001, Kind.COLLECTION)
    first.flush()
    first.close()
    again = ObjectStore(tmp_path / "s", capacity=5)  # an existing store keeps its formatted capacity
    assert again.kind(0x10000, 0x10001) == Kind.COLLECTION and again.meta("capacity") == 1 << 30
    again.format(7)
    assert again.ids(0) == [] and again.meta("capacity") == 7
    again.close()
