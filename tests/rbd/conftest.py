"""The rbd store's tests run against a real throw-away Ceph (``ci/ceph``): one per test session,
started by the first test that asks for it, skipped with the reason where Ceph is not installed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from ci.ceph.microceph import MicroCeph, missing

_names = itertools.count(1)


@pytest.fixture(scope="session")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MicroCeph]:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)
    cluster = MicroCeph(tmp_path_factory.mktemp("ceph") / "cluster").start()
    print(f"\n{cluster.started}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def image(ceph: MicroCeph) -> Callable[..., str]:
    """``image(size="64M", *rbd_create_options)``: a new image in the pool, its name returned."""

    def make(size: str = "64M", *options: str) -> str:
        return ceph.create(f"img{next(_names)}", size, *options)

    return make
