"""The rbd store (hpt/store/rbd.py) against a real throw-away Ceph: every call, asynchronous and
synchronous, checked against what ``rbd export`` and librbd itself say."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ci.ceph.microceph import MicroCeph
from hpt.options import OptionError
from hpt.store.base import BackingStore
from hpt.store.rbd import RbdStore
from hpt.store.registry import open_store, store_kind

MIB = 1 << 20


def wait(submit: Callable[[Callable[[OSError | None], None]], None], timeout: float = 30) -> OSError | None:
    """Run one ``submit_*`` call and return what its ``done`` got (it must come exactly once)."""
    calls: list[OSError | None] = []
    finished = threading.Event()

    def done(err: OSError | None) -> None:
        calls.append(err)
        finished.set()

    submit(done)
    assert finished.wait(timeout), "done was never called"
    time.sleep(0.01)
    assert len(calls) == 1, f"done called {len(calls)} times"
    return calls[0]


@pytest.fixture
def store(ceph: MicroCeph, image: Callable[..., str]) -> Iterator[RbdStore]:
    s = open_store("rbd", {"image": image("64M"), "ceph_conf": ceph.conf, "size_poll": 1})
    assert isinstance(s, RbdStore)
    yield s
    s.close()


def exported(ceph: MicroCeph, name: str, tmp_path: Path) -> bytes:
    out = tmp_path / f"{name}.raw"
    ceph.rbd("export", f"{ceph.pool}/{name}", str(out))
    return out.read_bytes()


def test_kind_is_registered_with_its_schema() -> None:
    kind = store_kind("rbd")
    assert [o.key for o in kind.options] == ["pool", "image", "snapshot", "ceph_conf", "client", "cluster",
                                             "timeout", "size_poll"]
    with pytest.raises(OptionError, match="image"):
        open_store("rbd", {"pool": "rbd"})
    with pytest.raises(OptionError, match="ceph_conf: /nonexistent.conf: no such file"):
        open_store("rbd", {"image": "x", "ceph_conf": "/nonexistent.conf"})


def test_async_write_read_and_the_image_holds_it(store: RbdStore, ceph: MicroCeph, tmp_path: Path) -> None:
    assert not store.inline and store.size == 64 * MIB and store.supports_discard
    data = os.urandom(128 * 1024)
    assert wait(lambda d: store.submit_write(MIB + 512, memoryview(data), d)) is None
    assert wait(lambda d: store.submit_write(3 * MIB, memoryview(data[:4096]), d, fua=True)) is None
    assert wait(store.submit_flush) is None
    back = bytearray(len(data))
    assert wait(lambda d: store.submit_read(MIB + 512, memoryview(back), d)) is None
    assert back == data
    raw = exported(ceph, store.name.split("/")[1], tmp_path)
    assert raw[MIB + 512:MIB + 512 + len(data)] == data and raw[3 * MIB:3 * MIB + 4096] == data[:4096]
    never = bytearray(b"x" * 8192)
    store.read_into(40 * MIB, memoryview(never))  # never written: zeroes
    assert never == bytes(8192)


def test_many_in_flight_complete_once_each(store: RbdStore) -> None:
    blocks = [os.urandom(4096) for _ in range(64)]
    left = threading.Semaphore(0)
    errors: list[OSError | None] = []

    def done(err: OSError | None) -> None:
        errors.append(err)
        left.release()

    for i, b in enumerate(blocks):
        store.submit_write(i * 8192, memoryview(b), done)
    for _ in blocks:
        assert left.acquire(timeout=30)
    assert errors == [None] * len(blocks)
    back = [bytearray(4096) for _ in blocks]
    for i, b in enumerate(back):
        store.submit_read(i * 8192, memoryview(b), done)
    for _ in blocks:
        assert left.acquire(timeout=30)
    assert back == blocks


def test_discard_write_zeroes_and_allocation(ceph: MicroCeph, image: Callable[..., str]) -> None:
    """Objects of 64 KiB, so GET LBA STATUS sees allocation at that grain (rbd_diff_iterate2)."""
    s = open_store("rbd", {"image": image("8M", "--object-size", "64K"), "ceph_conf": ceph.conf})
    try:
        assert s.mapped_extent(0) == (False, 8 * MIB)
        s.write_from(MIB, memoryview(b"\x5a" * 256 * 1024))
        assert s.mapped_extent(0) == (False, MIB)
        assert s.mapped_extent(MIB) == (True, 256 * 1024)
        assert s.mapped_extent(MIB + 4096) == (True, 256 * 1024 - 4096)
        assert s.mapped_extent(MIB + 256 * 1024) == (False, 7 * MIB - 256 * 1024)
        s.discard(MIB, 128 * 1024)  # two whole objects go
        assert s.mapped_extent(MIB) == (False, 128 * 1024)
        back = bytearray(256 * 1024)
        s.read_into(MIB, memoryview(back))
        assert back == bytes(128 * 1024) + b"\x5a" * 128 * 1024
        s.write_zeroes(MIB + 128 * 1024, 64 * 1024)
        s.read_into(MIB, memoryview(back))
        assert back == bytes(192 * 1024) + b"\x5a" * 64 * 1024
        s.sync()
    finally:
        s.close()


def test_resize_is_noticed_by_the_header_watch(store: RbdStore, ceph: MicroCeph) -> None:
    seen = threading.Event()
    store.watch_size(seen.set)
    ceph.rbd("resize", "--size", "96M", store.name)
    assert seen.wait(10), "the resize was not noticed"
    assert store.size == 96 * MIB
    ceph.rbd("resize", "--size", "64M", "--allow-shrink", store.name)
    deadline = time.monotonic() + 10
    while store.size != 64 * MIB and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.size == 64 * MIB


def test_snapshot_is_read_only(ceph: MicroCeph, image: Callable[..., str]) -> None:
    name = image("4M")
    rw = open_store("rbd", {"image": name, "ceph_conf": ceph.conf})
    try:
        rw.write_from(0, memoryview(b"before" * 100))
        rw.sync()
        ceph.rbd("snap", "create", f"rbd/{name}@s1")
        rw.write_from(0, memoryview(b"after!" * 100))
        rw.sync()
    finally:
        rw.close()
    snap = open_store("rbd", {"image": name, "snapshot": "s1", "ceph_conf": ceph.conf})
    try:
        assert snap.readonly and not snap.supports_discard
        back = bytearray(600)
        snap.read_into(0, memoryview(back))
        assert back == b"before" * 100
        err = wait(lambda d: snap.submit_write(0, memoryview(b"x" * 512), d))
        assert isinstance(err, OSError) and err.errno == errno.EROFS
    finally:
        snap.close()


def test_missing_image_pool_and_snapshot_say_which(ceph: MicroCeph) -> None:
    with pytest.raises(OSError, match=r"rbd rbd/nope: opening image rbd/nope: No such file") as e:
        open_store("rbd", {"image": "nope", "ceph_conf": ceph.conf})
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError, match="opening pool nopool: No such file"):
        open_store("rbd", {"pool": "nopool", "image": "x", "ceph_conf": ceph.conf})


def test_a_cluster_that_does_not_answer_times_out(tmp_path: Path) -> None:
    """No monitor at the address: the connection fails after ``timeout`` seconds, not never."""
    conf = tmp_path / "dead.conf"
    conf.write_text("[global]\nmon host = v1:127.0.0.1:9\nauth client required = none\n"
                    "log file = /dev/null\nadmin socket =\n")
    started = time.monotonic()
    with pytest.raises(OSError, match="rbd rbd/x .cluster ceph as client.admin.: ") as e:
        open_store("rbd", {"image": "x", "ceph_conf": str(conf), "timeout": 2})
    assert e.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - started < 15


def test_io_on_a_stopped_osd_times_out_then_recovers(ceph: MicroCeph, image: Callable[..., str]) -> None:
    s: BackingStore = open_store("rbd", {"image": image("4M"), "ceph_conf": ceph.conf, "timeout": 3})
    try:
        s.write_from(0, memoryview(b"\1" * 4096))
        with ceph.paused("osd.0"):
            started = time.monotonic()
            err = wait(lambda d: s.submit_read(0, memoryview(bytearray(4096)), d), timeout=30)
            took = time.monotonic() - started
        assert isinstance(err, OSError) and err.errno == errno.ETIMEDOUT, err
        assert 2 < took < 20, took
        back = bytearray(4096)
        s.read_into(0, memoryview(back))
        assert back == b"\1" * 4096
    finally:
        s.close()
