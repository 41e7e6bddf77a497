"""How a file store submits I/O without holding the caller's thread: io_uring, or a pool of threads.

Both engines take a read, a write (RWF_DSYNC for FUA) or an fdatasync and call ``done(err)`` later on
their own thread, with None or the OSError. Short transfers are finished here: a read past the end of
a file zero-fills the rest (a sparse file shorter than its store), a short write writes the rest.

* :class:`UringEngine`: one io_uring (``hpt.native.uring``, cffi over liburing); the caller's thread
  only queues the request, one completion thread issues and reaps in batches.
* :class:`ThreadEngine`: ``threads`` Python threads each blocking in ``os.preadv`` / ``os.pwritev``
  (which release the interpreter lock).

The choice (``io_engine`` of a file store, ``"auto"`` by default) is measured: see
:func:`shared_engine`.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("hpt.store")

#: ``done(None)`` when the I/O completed, ``done(OSError)`` when it failed.
Done = Callable[[OSError | None], None]


class IoEngine(Protocol):
    name: str

    def read(self, fd: int, buf: memoryview, offset: int, done: Done) -> None: ...
    def write(self, fd: int, buf: memoryview, offset: int, done: Done, dsync: bool) -> None: ...
    def fsync(self, fd: int, done: Done) -> None: ...
    def call(self, work: Callable[[], None], done: Done) -> None: ...


def _error(res: int) -> OSError:
    return OSError(-res, os.strerror(-res))


class UringEngine:
    """Requests through one io_uring; ``call`` (synchronous work such as a bounce-buffered O_DIRECT
    access) goes to a small thread pool beside it."""

    name = "uring"

    def __init__(self, entries: int = 256) -> None:
        from hpt.native.uring import Uring  # raises UringUnavailable where io_uring cannot run

        self._ring = Uring(entries, name="hpt-uring")
        self._threads = ThreadEngine(4, name="hpt-store-call")

    def read(self, fd: int, buf: memoryview, offset: int, done: Done) -> None:
        def got(res: int) -> None:
            if res < 0:
                done(_error(res))
            elif res == len(buf):
                done(None)
            elif res == 0:  # end of file: a sparse file shorter than the store reads as zeroes
                buf[:] = bytes(len(buf))
                done(None)
            else:
                self.read(fd, buf[res:], offset + res, done)

        self._ring.read(fd, buf, offset, got)

    def write(self, fd: int, buf: memoryview, offset: int, done: Done, dsync: bool) -> None:
        def put(res: int) -> None:
            if res < 0:
                done(_error(res))
            elif res >= len(buf):
                done(None)
            elif res == 0:
                done(OSError(errno.EIO, "write made no progress"))
            else:
                self.write(fd, buf[res:], offset + res, done, dsync)

        self._ring.write(fd, buf, offset, put, dsync=dsync)

    def fsync(self, fd: int, done: Done) -> None:
        self._ring.fsync(fd, lambda res: done(_error(res) if res < 0 else None))

    def call(self, work: Callable[[], None], done: Done) -> None:
        self._threads.call(work, done)

    def close(self) -> None:
        self._ring.close()
        self._threads.close()


class ThreadEngine:
    """``threads`` workers taking requests from one queue."""

    name = "threads"

    def __init__(self, threads: int = 16, name: str = "hpt-store") -> None:
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._workers = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
                         for i in range(threads)]
        for w in self._workers:
            w.start()

    def _work(self) -> None:
        get = self._queue.get
        while True:
            job = get()
            if job is None:
                return
            job()

    def call(self, work: Callable[[], None], done: Done) -> None:
        def job() -> None:
            try:
                work()
            except OSError as err:
                done(err)
                return
            except Exception as err:  # a bug in ``work``: fail the request, keep the worker
                log.exception("store work failed")
                done(OSError(errno.EIO, f"internal error: {err}"))
                return
            done(None)

        self._queue.put(job)

    def read(self, fd: int, buf: memoryview, offset: int, done: Done) -> None:
        self.call(lambda: pread_all(fd, buf, offset), done)

    def write(self, fd: int, buf: memoryview, offset: int, done: Done, dsync: bool) -> None:
        self.call(lambda: pwrite_all(fd, buf, offset, os.RWF_DSYNC if dsync else 0), done)

    def fsync(self, fd: int, done: Done) -> None:
        self.call(lambda: os.fdatasync(fd), done)

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)


def pread_all(fd: int, buf: memoryview, offset: int) -> None:
    """Fill ``buf`` from ``offset``; past the end of the file it reads as zeroes."""
    want = len(buf)
    got = os.preadv(fd, [buf], offset)
    while got < want:  # short read: a signal, or a file shorter than the store
        n = os.preadv(fd, [buf[got:]], offset + got)
        if n == 0:
            buf[got:] = bytes(want - got)
            return
        got += n


def pwrite_all(fd: int, buf: memoryview, offset: int, flags: int = 0) -> None:
    """Write all of ``buf`` at ``offset`` (``flags``: RWF_DSYNC makes it durable first)."""
    want = len(buf)
    done = os.pwritev(fd, [buf], offset, flags)
    while done < want:
        done += os.pwritev(fd, [buf[done:]], offset + done, flags)


_shared: dict[str, IoEngine] = {}
_refused: set[str] = set()
_lock = threading.Lock()


def shared_engine(kind: str) -> IoEngine | None:
    """The process's engine of ``kind`` (``"uring"`` or ``"threads"``), made on first use; every file
    store shares it. ``"auto"`` is io_uring where it runs, else None (the store runs inline).

    Measured (perf/e2e.py --disk /var/tmp, 4K random read QD32, one session, O_DIRECT for both targets,
    interleaved with tgtd in each run on this 2-core VM): io_uring 0.53-0.60x tgtd, inline 0.40x, a pool
    of Python threads 0.30-0.31x (every completion is a thread hand-off under the interpreter lock, at
    about twice io_uring's CPU per I/O). So without io_uring the store stays inline, as tgt's would run
    its I/O in its own thread; ``io_engine = "threads"`` still asks for the pool.
    """
    with _lock:
        if kind == "auto":
            if "uring" not in _shared and "uring-refused" not in _refused:
                try:
                    _shared["uring"] = UringEngine()
                except Exception as err:  # noqa: BLE001 - UringUnavailable, or a ring the kernel refuses
                    log.info("io_uring unavailable (%s): file stores run their I/O inline", err)
                    _refused.add("uring-refused")
            return _shared.get("uring")
        engine = _shared.get(kind)
        if engine is None:
            engine = _shared[kind] = UringEngine() if kind == "uring" else ThreadEngine()
        return engine
