"""The io_uring engine: data round trips (buffered and O_DIRECT), concurrency, errors, fsync and close."""

from __future__ import annotations

import errno
import logging
import mmap
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.native.uring import Uring, UringUnavailable

PAGE = mmap.PAGESIZE


class Results:
    """Collects ``done(res)`` results; ``wait(n)`` blocks until n have arrived."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.threads: set[str] = set()
        self._cond = threading.Condition()

    def done(self, res: int) -> None:
        with self._cond:
            self.values.append(res)
            self.threads.add(threading.current_thread().name)
            self._cond.notify_all()

    def wait(self, n: int, timeout: float = 10.0) -> list[int]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.values) >= n, timeout), f"{len(self.values)} of {n}"
            return list(self.values)


def _ring(entries: int = 64) -> Uring:
    try:
        return Uring(entries, name="test-uring")
    except UringUnavailable as err:
        pytest.skip(f"io_uring unavailable: {err}")


@pytest.fixture
def ring() -> Iterator[Uring]:
    u = _ring()
    yield u
    u.close()


@pytest.fixture
def fd(tmp_path: Path) -> Iterator[int]:
    f = os.open(tmp_path / "data", os.O_RDWR | os.O_CREAT, 0o600)
    yield f
    os.close(f)


@pytest.fixture
def direct_fd(tmp_path: Path) -> Iterator[int]:
    """A 4 MiB file (allocated: written) opened O_DIRECT, on a file system that allows it (tmp_path,
    else /var/tmp)."""
    for where in (tmp_path, Path("/var/tmp")):
        try:
            path = Path(tempfile.mkstemp(dir=where, prefix="hpt-uring-")[1])
        except OSError:
            continue
        try:
            path.write_bytes(bytes(4 << 20))  # holes would read as zeroes without any alignment check
            f = os.open(path, os.O_RDWR | os.O_DIRECT)
        except OSError:
            path.unlink()
            continue
        try:
            yield f
        finally:
            os.close(f)
            path.unlink()
        return
    pytest.skip("no file system here accepts O_DIRECT")


def aligned(size: int) -> mmap.mmap:
    """A page-aligned anonymous mapping (an O_DIRECT buffer)."""
    return mmap.mmap(-1, size)


@pytest.mark.parametrize("size", [4096, 1 << 20])
def test_write_then_read_back(ring: Uring, fd: int, size: int) -> None:
    data = os.urandom(size)
    r = Results()
    ring.write(fd, memoryview(data), 8192, r.done)  # a read-only buffer is fine for a write
    assert r.wait(1) == [size]
    assert os.pread(fd, size, 8192) == data
    buf = bytearray(size)
    ring.read(fd, memoryview(buf), 8192, r.done)
    assert r.wait(2)[1] == size
    assert buf == data
    assert r.threads == {"test-uring"}


@pytest.mark.parametrize("size", [4096, 1 << 20])
def test_direct_io_with_mmap_buffers(ring: Uring, direct_fd: int, size: int) -> None:
    out, back = aligned(size), aligned(size)
    out[:] = os.urandom(size)
    r = Results()
    ring.write(direct_fd, memoryview(out), 1 << 20, r.done, dsync=True)
    assert r.wait(1) == [size]
    ring.read(direct_fd, memoryview(back), 1 << 20, r.done)
    assert r.wait(2) == [size, size]
    assert back[:] == out[:]


def test_short_read_is_reported_not_retried(ring: Uring, fd: int) -> None:
    os.pwrite(fd, b"x" * 100, 0)
    buf = bytearray(4096)
    r = Results()
    ring.read(fd, memoryview(buf), 0, r.done)
    assert r.wait(1) == [100]
    ring.read(fd, memoryview(buf), 8192, r.done)
    assert r.wait(2)[1] == 0


def test_read_needs_a_writable_buffer(ring: Uring, fd: int) -> None:
    with pytest.raises(BufferError):
        ring.read(fd, memoryview(b"abcd"), 0, print)
    assert ring.in_flight == 0


def test_many_requests_from_four_threads(fd: int) -> None:
    u = _ring(16)  # the CQ holds 32: submitters wait for room
    per_thread, blocks = 250, 1000
    os.ftruncate(fd, blocks * 4096)
    r = Results()
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for i in range(per_thread):
                block = t * per_thread + i
                u.write(fd, memoryview(block.to_bytes(4, "little") * 1024), block * 4096, r.done)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert r.wait(blocks) == [4096] * blocks

    bufs = [bytearray(4096) for _ in range(blocks)]
    reads = Results()

    def reader(t: int) -> None:
        for i in range(per_thread):
            block = t * per_thread + i
            u.read(fd, memoryview(bufs[block]), block * 4096, reads.done)

    threads = [threading.Thread(target=reader, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reads.wait(blocks) == [4096] * blocks
    for block, buf in enumerate(bufs):
        assert buf == block.to_bytes(4, "little") * 1024
    assert u.in_flight == 0
    u.close()


def test_closed_fd_is_ebadf(ring: Uring, tmp_path: Path) -> None:
    f = os.open(tmp_path / "gone", os.O_RDWR | os.O_CREAT, 0o600)
    os.close(f)
    r = Results()
    ring.read(f, memoryview(bytearray(4096)), 0, r.done)
    ring.write(f, memoryview(bytes(4096)), 0, r.done)
    ring.fsync(f, r.done)
    assert r.wait(3) == [-errno.EBADF] * 3


def test_misaligned_direct_io_is_einval(ring: Uring, direct_fd: int) -> None:
    buf = aligned(2 * PAGE)
    r = Results()
    ring.read(direct_fd, memoryview(buf)[1 : 1 + 4096], 0, r.done)  # misaligned buffer
    ring.read(direct_fd, memoryview(buf)[:4096], 1, r.done)  # misaligned offset
    assert r.wait(2) == [-errno.EINVAL] * 2


@pytest.mark.parametrize("datasync", [True, False])
def test_fsync_completes(ring: Uring, fd: int, datasync: bool) -> None:
    r = Results()
    ring.write(fd, memoryview(os.urandom(65536)), 0, r.done)
    r.wait(1)
    ring.fsync(fd, r.done, datasync=datasync)
    assert r.wait(2) == [65536, 0]


def test_close_completes_requests_in_flight(direct_fd: int) -> None:
    u = _ring(32)
    bufs = [aligned(65536) for _ in range(100)]
    r = Results()
    for i, buf in enumerate(bufs):
        u.write(direct_fd, memoryview(buf), i * 65536, r.done, dsync=True)
    u.close()
    assert r.values == [65536] * 100  # every callback ran before close() returned
    assert u.in_flight == 0
    with pytest.raises(RuntimeError, match="closed"):
        u.read(direct_fd, memoryview(bufs[0]), 0, r.done)
    u.close()  # idempotent


def test_a_raising_callback_does_not_stop_later_ones(
    ring: Uring, fd: int, caplog: pytest.LogCaptureFixture
) -> None:
    r = Results()

    def bad(res: int) -> None:
        raise ValueError("callback failure")

    with caplog.at_level(logging.ERROR, logger="hpt.native"):
        for _ in range(3):
            ring.write(fd, memoryview(bytes(512)), 0, bad)
            ring.write(fd, memoryview(bytes(512)), 0, r.done)
        assert r.wait(3) == [512] * 3
        ring.close()
    failures = [rec for rec in caplog.records if rec.name == "hpt.native" and rec.exc_info]
    assert len(failures) == 3
    assert "callback failure" in caplog.text


def test_callbacks_can_submit_and_close(fd: int) -> None:
    """A callback chains requests on the completion thread (never blocked by the in-flight bound)."""
    u = _ring(4)
    os.pwrite(fd, os.urandom(4096), 0)
    bufs = [bytearray(4096) for _ in range(64)]
    r = Results()

    def chain(res: int) -> None:
        r.done(res)
        if len(r.values) == 40:
            u.close()  # from the completion thread: returns at once, the thread drains and stops
        elif len(r.values) < 40:
            for _ in range(2):
                u.read(fd, memoryview(bufs[len(r.values) % 64]), 0, chain)

    u.read(fd, memoryview(bufs[0]), 0, chain)  # each completion submits two more, past the CQ size
    u._thread.join(10)
    assert not u._thread.is_alive()
    assert len(r.values) >= 40 and set(r.values) == {4096}
    assert u.in_flight == 0


def test_close_racing_submitters(fd: int) -> None:
    """Each request submitted while close() runs is either refused (RuntimeError) or completed."""
    os.pwrite(fd, bytes(4096), 0)
    for _ in range(5):
        u = _ring(8)
        r = Results()
        accepted = [0] * 4

        def submit(t: int, u: Uring = u, r: Results = r, accepted: list[int] = accepted) -> None:
            buf = memoryview(bytearray(512))
            try:
                while True:
                    u.read(fd, buf, 0, r.done)
                    accepted[t] += 1
            except RuntimeError:
                pass

        threads = [threading.Thread(target=submit, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.02)
        u.close()
        for t in threads:
            t.join()
        assert len(r.values) == sum(accepted) > 0
        assert set(r.values) == {512}
        assert u.in_flight == 0
