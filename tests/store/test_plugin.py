"""A store written outside hpt: the plug-in of ``examples/store-plugin`` installed as pip installs it
is found through its entry point, its own option schema applies, and LUs read and write through it."""

from __future__ import annotations

import struct
import threading
from pathlib import Path

import pytest

from hpt.daemon.config import ConfigError, load_config, parse_config
from hpt.daemon.luns import build_lu
from hpt.options import OptionError
from hpt.scsi.core.command import Nexus, ScsiCommand
from hpt.scsi.core.constants import Status
from hpt.scsi.lu import LogicalUnit
from hpt.store.registry import open_store, store_kind, store_kinds
from tests.store.plugins import EXAMPLE, install_example


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


# -- a configuration naming the plug-in --------------------------------------------------------------

NEXUS = Nexus("iqn.1994-05.com.example:h,i,0x000000000001", "iqn.2026-11.org.example:t1,t,0x0001")


def lun_config(extra: str) -> str:
    return ('[[target]]\nname = "iqn.2026-11.org.example:t1"\n[[target.lun]]\nlun = 0\n'
            f'store = "chunks"\ndirectory = "chunks"\nsize = "1M"\n{extra}\n')


def expect_error(text: str, key: str, message: str) -> None:
    """Loading fails at the line marked ``# <-``, naming the LUN's ``key``."""
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "# <-" in t)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "x.toml")
    assert str(info.value).startswith(f"x.toml:{line}: target[0].lun[0].{key}: {message}"), str(info.value)


def run(lu: LogicalUnit, cdb: bytes, data: bytes = b"", alloc: int = 0) -> tuple[int, bytes]:
    buf = memoryview(bytearray(alloc))
    cmd = ScsiCommand(0, cdb, NEXUS, data_out=memoryview(bytearray(data)), data_in=buf,
                      expected_in=alloc, expected_out=len(data))
    result = lu.execute(cmd)
    return result.status, bytes(buf[:result.in_len])


def test_a_config_lun_reads_and_writes_through_the_plugin(site: Path, tmp_path: Path) -> None:
    install_example(site)
    (tmp_path / "hptd.toml").write_text(lun_config('chunk = "64K"\nthin = true'))
    (lun,) = load_config(tmp_path / "hptd.toml").targets[0].luns
    assert (lun.store, lun.store_values) == (
        "chunks", {"directory": str(tmp_path / "chunks"), "size": 1 << 20, "chunk": 65536, "threads": 4})
    lu = build_lu(lun)
    try:
        assert lu.nblocks == 2048 and not lu.store.inline
        run(lu, bytes(6))  # TEST UNIT READY takes the power-on unit attention
        data = bytes(range(256)) * 4 * 256  # 256 KiB at LBA 100: five chunk files
        write10 = struct.pack(">BBIBHB", 0x2A, 0, 100, 0, len(data) // 512, 0)
        assert run(lu, write10, data) == (Status.GOOD, b"")
        read10 = struct.pack(">BBIBHB", 0x28, 0, 100, 0, len(data) // 512, 0)
        assert run(lu, read10, alloc=len(data)) == (Status.GOOD, data)
        assert len(list((tmp_path / "chunks").glob("*.chunk"))) == 5
    finally:
        lu.store.close()


@pytest.mark.parametrize(
    ("extra", "where", "message"),
    [
        ('chunk = "3K" # <-', "chunk", "must be a power of two of at least 4096 bytes, got 3072"),
        ("direct = true # <-", "direct", 'only for store = "file" (store is "chunks")'),
        ("threads = 100 # <-", "threads", "must be 1..64, got 100"),
    ],
)
def test_config_errors_name_the_plugins_keys(site: Path, extra: str, where: str, message: str) -> None:
    install_example(site)
    expect_error(lun_config(extra), where, message)


def test_a_plugins_key_on_another_store_kind(site: Path) -> None:
    install_example(site)
    ram = 'store = "ram"\nchunk = "64K" # <-'
    text = lun_config("").replace('store = "chunks"\ndirectory = "chunks"', ram)
    expect_error(text, "chunk", 'only for store = "chunks" (store is "ram")')


def test_docs_show_the_example_as_it_is() -> None:
    """docs/stores.md quotes the example plug-in whole, so the code a user copies is the tested code."""
    docs = (EXAMPLE.parents[1] / "docs" / "stores.md").read_text()
    for name, fence in (("pyproject.toml", "toml"), ("hpt_chunkstore.py", "python")):
        assert f"```{fence}\n{(EXAMPLE / name).read_text()}```" in docs, name


def test_workers_serve_a_plugin_only_when_its_kind_says_every_process_opens_one_medium(
        site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``StoreKind.shared_medium`` (docs/workers.md): the example does not say it, so ``workers = 2`` is
    refused naming it and ``"auto"`` runs one process; a kind that says it is served by workers, as hpt's
    file, rbd and null kinds (and ram, whose memory the main process shares) are."""
    import dataclasses

    from hpt.daemon.config import workers as workers_config

    install_example(site)
    with pytest.raises(ConfigError) as info:
        parse_config("[daemon]\nworkers = 2\n" + lun_config(""), "x.toml")
    assert 'store = "chunks" does not say every process opens the same medium' in str(info.value)
    auto = parse_config('[daemon]\nworkers = "auto"\n' + lun_config(""), "x.toml").daemon
    assert auto.workers == 1 and "StoreKind.shared_medium" in auto.workers_note
    assert all(store_kind(name).served_by_workers for name in ("file", "rbd", "ram", "null"))
    shared = dataclasses.replace(store_kind("chunks"), shared_medium=True)
    monkeypatch.setattr(workers_config, "store_kind", lambda name: shared)
    assert parse_config("[daemon]\nworkers = 2\n" + lun_config(""), "x.toml").daemon.workers == 2
