"""The file store's asynchronous submit over each I/O engine: io_uring and the thread pool."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from hpt.store import engines
from hpt.store.file import FileStore

KINDS = ["threads", "uring"]


def _engine_or_skip(kind: str) -> None:
    if kind == "uring":
        try:
            engines.shared_engine("uring")
        except Exception as err:  # noqa: BLE001 - UringUnavailable: the reason is printed
            pytest.skip(f"io_uring unavailable here: {err}")


class Waiter:
    """Collects one completion."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.err: OSError | None = None

    def __call__(self, err: OSError | None) -> None:
        self.err = err
        self.event.set()

    def wait(self) -> OSError | None:
        assert self.event.wait(10), "no completion"
        return self.err


def _aligned(n: int) -> memoryview:
    import mmap

    return memoryview(mmap.mmap(-1, n))


@pytest.fixture
def disk_dir(tmp_path: Path) -> Path:
    """A directory on a real file system (tmp_path may be tmpfs, where the store would run inline)."""
    base = Path("/var/tmp")
    d = Path(os.path.realpath(base)) / f"hpt-engine-{os.getpid()}-{tmp_path.name}"
    d.mkdir()
    yield d
    for f in d.iterdir():
        f.unlink()
    d.rmdir()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("direct", [False, True])
def test_read_write_flush_round_trip(kind: str, direct: bool, disk_dir: Path) -> None:
    _engine_or_skip(kind)
    store = FileStore(str(disk_dir / "lun.img"), 4 << 20, direct=direct, io_engine=kind)
    assert not store.inline and store.io_engine == kind
    data = _aligned(1 << 20)
    data[:] = os.urandom(1 << 20)
    w = Waiter()
    store.submit_write(1 << 20, data, w, fua=True)
    assert w.wait() is None
    back = _aligned(1 << 20)
    r = Waiter()
    store.submit_read(1 << 20, back, r)
    assert r.wait() is None and back == data
    f = Waiter()
    store.submit_flush(f)
    assert f.wait() is None
    store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_unaligned_direct_io_goes_through_a_bounce_buffer(kind: str, disk_dir: Path) -> None:
    _engine_or_skip(kind)
    store = FileStore(str(disk_dir / "lun.img"), 1 << 20, direct=True, io_engine=kind)
    payload = memoryview(bytearray(b"\xab" * 512))  # a heap buffer at an odd offset: not 4 KiB aligned
    w = Waiter()
    store.submit_write(512, payload, w)
    assert w.wait() is None
    back = memoryview(bytearray(1024))
    r = Waiter()
    store.submit_read(0, back, r)
    assert r.wait() is None and bytes(back) == bytes(512) + b"\xab" * 512
    store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_shorter_than_its_store_reads_zeroes_past_its_end(kind: str, disk_dir: Path) -> None:
    _engine_or_skip(kind)
    path = disk_dir / "short.img"
    store = FileStore(str(path), 1 << 20, io_engine=kind)
    os.truncate(path, 4096)  # shrunk under the store: the tail reads as zeroes, not garbage
    back = memoryview(bytearray(b"\xff" * 8192))
    r = Waiter()
    store.submit_read(0, back, r)
    assert r.wait() is None and bytes(back) == bytes(8192)
    store.close()


@pytest.mark.parametrize("kind", KINDS)
def test_errors_come_back_as_oserror(kind: str, disk_dir: Path) -> None:
    _engine_or_skip(kind)
    store = FileStore(str(disk_dir / "lun.img"), 1 << 20, io_engine=kind, readonly=False)
    fd = os.open(disk_dir / "lun.img", os.O_RDONLY)
    store._fd, real = fd, store._fd  # a read-only descriptor: the write fails with EBADF
    w = Waiter()
    store.submit_write(0, memoryview(bytearray(4096)), w)
    err = w.wait()
    assert isinstance(err, OSError) and err.errno == 9
    store._fd = real
    os.close(fd)
    store.close()


def test_files_in_memory_run_inline(tmp_path: Path) -> None:
    """A file on tmpfs is read and written on the caller's thread: no engine, no thread hop."""
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm")
    path = Path("/dev/shm") / f"hpt-inline-{os.getpid()}.img"
    try:
        store = FileStore(str(path), 1 << 20)
        assert store.inline and store.io_engine == "inline"
        seen: list[int] = []
        store.submit_write(0, memoryview(b"x" * 512), lambda err: seen.append(threading.get_ident()))
        assert seen == [threading.get_ident()]
        store.close()
        assert FileStore(str(path), 1 << 20, io_engine="threads").io_engine == "threads"
    finally:
        path.unlink(missing_ok=True)


def test_a_fua_write_asks_the_kernel_for_a_durable_write(monkeypatch: pytest.MonkeyPatch,
                                                         disk_dir: Path) -> None:
    """FUA (or a disabled write cache) reaches the file as RWF_DSYNC: pwritev returns once the data is
    on stable storage (a FUA write on O_DIRECT); a plain write carries no flag."""
    flags: list[int] = []
    real = os.pwritev

    def pwritev(fd: int, bufs: list[memoryview], offset: int, flag: int = 0) -> int:
        flags.append(flag)
        return real(fd, bufs, offset, flag)

    monkeypatch.setattr(os, "pwritev", pwritev)
    store = FileStore(str(disk_dir / "lun.img"), 1 << 20, io_engine="threads")
    for fua in (True, False):
        w = Waiter()
        store.submit_write(0, memoryview(bytearray(4096)), w, fua=fua)
        assert w.wait() is None
    assert flags == [os.RWF_DSYNC, 0]
    store.close()
