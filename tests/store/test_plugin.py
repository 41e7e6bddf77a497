"""A store written outside hpt: the plug-in of ``examples/store-plugin`` installed as pip installs it
is found through its entry point, its own option schema applies, and LUs read and write through it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hpt.options import OptionError
from hpt.store.registry import open_store, store_kind, store_kinds
from tests.store.plugins import install_example


def test_registry_finds_the_plugin(site: Path) -> None:
    assert "chunks" not in store_kinds()
    install_example(site)
    kind = store_kinds()["chunks"]
    assert [o.key for o in kind.options] == ["directory", "size", "chunk", "threads"]
    assert store_kind("chunks") is kind and {"file", "ram", "null"} <= set(store_kinds())


@pytest.mark.parametrize(
    ("values", "key", "message"),
    [
        ({"size": "1M"}, "directory", 'required for store = "chunks"'),
        ({"directory": "d", "size": "1M", "chunk": "3K"}, "chunk", "must be a power of two"),
        ({"directory": "d", "size": "1M", "threads": 0}, "threads", "must be 1..64, got 0"),
        ({"directory": "d", "size": "1M", "path": "x"}, "path", 'unknown key for store = "chunks"'),
    ],
)
def test_plugin_schema_is_enforced(site: Path, values: dict[str, object], key: str, message: str) -> None:
    install_example(site)
    with pytest.raises(OptionError) as info:
        open_store("chunks", values)
    assert info.value.key == key and message in info.value.message


def test_plugin_store_submits_from_its_own_threads(site: Path, tmp_path: Path) -> None:
    install_example(site)
    store = open_store("chunks", {"directory": str(tmp_path / "chunks"), "size": "1M", "chunk": "64K"})
    try:
        assert not store.inline
        threads: list[str] = []
        finished = threading.Event()

        def done(err: OSError | None) -> None:
            assert err is None
            threads.append(threading.current_thread().name)
            finished.set()

        data = memoryview(bytes(range(256)) * 512)  # 128 KiB across three chunks
        for call in (lambda: store.submit_write(60 << 10, data, done, fua=True),
                     lambda: store.submit_flush(done)):
            finished.clear()
            call()
            assert finished.wait(10)
        back = memoryview(bytearray(len(data) + 8192))
        finished.clear()
        store.submit_read((60 << 10) - 4096, back, done)
        assert finished.wait(10)
        assert back[:4096] == bytes(4096) and back[4096:-4096] == data and back[-4096:] == bytes(4096)
        assert sorted(p.name for p in (tmp_path / "chunks").iterdir()) == ["0.chunk", "1.chunk", "2.chunk"]
        assert all(name.startswith("chunkstore") for name in threads)
        store.discard(64 << 10, 64 << 10)
        assert not (tmp_path / "chunks" / "1.chunk").exists()
    finally:
        store.close()
