"""hpt.native.rados against the throw-away cluster: versions, compare-and-swap, watch and notify
between two clients, as two gateways use them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from ci.ceph.microceph import MicroCeph
from hpt.native import rbd
from hpt.native.rados import RadosObject


@pytest.fixture
def two(ceph: MicroCeph, request: pytest.FixtureRequest) -> Iterator[tuple[RadosObject, RadosObject]]:
    clusters = [rbd.Cluster(ceph.conf, "admin", "ceph", [("rados_osd_op_timeout", "10")]) for _ in range(2)]
    objects = [RadosObject(c, ceph.pool, f"hpt.test.{request.node.name}") for c in clusters]
    yield objects[0], objects[1]
    for obj, cluster in zip(objects, clusters, strict=True):
        obj.close()
        cluster.close()


def test_compare_and_swap(two: tuple[RadosObject, RadosObject]) -> None:
    a, b = two
    assert a.read() == (b"", 0)
    v1 = a.write(b"first", 0)
    assert v1 and b.write(b"also first", 0) is None  # it exists now
    assert b.read() == (b"first", v1)
    v2 = b.write(b"second", v1)
    assert v2 and v2 != v1
    assert a.write(b"stale", v1) is None and a.read() == (b"second", v2)
    big = bytes(range(256)) * 1024  # beyond the first read's buffer
    v3 = a.write(big, v2)
    assert b.read() == (big, v3)


def test_watch_and_notify(two: tuple[RadosObject, RadosObject]) -> None:
    a, b = two
    seen: dict[str, list[bytes]] = {"a": [], "b": []}
    got = threading.Event()

    def on(name: str) -> object:
        def notified(payload: bytes) -> None:
            seen[name].append(payload)
            if name == "b":
                got.set()
        return notified

    a.watch(on("a"))  # creates the object
    b.watch(on("b"))
    assert a.notify(b"hello") and got.is_set()  # acknowledged: b's handler has run
    assert seen == {"a": [b"hello"], "b": [b"hello"]}
