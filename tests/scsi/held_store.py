"""A store whose I/O waits until the test releases it, for tests of commands in flight."""

from __future__ import annotations

import threading
from collections.abc import Callable

from hpt.store.base import BackingStore, Done

BS = 512
NBLOCKS = 2048


class HeldStore(BackingStore):
    """Memory whose I/O waits until the test releases it: every request is parked in ``held``.

    ``submit_*`` park (operation, offset, length, finish); synchronous calls (the blocking pool's
    COMPARE AND WRITE, WRITE SAME ...) park too and block their pool thread until released."""

    inline = False

    def __init__(self, size: int = NBLOCKS * BS) -> None:
        self.size = size
        self.data = bytearray(size)
        self.held: list[tuple[str, int, int, Callable[[], None]]] = []
        self.cond = threading.Condition()
        self.syncs = 0
        self.fua_writes = 0

    def _park(self, op: str, offset: int, length: int, finish: Callable[[], None]) -> None:
        with self.cond:
            self.held.append((op, offset, length, finish))
            self.cond.notify_all()

    def wait_held(self, n: int, timeout: float = 5.0) -> list[tuple[str, int, int, Callable[[], None]]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.held) >= n, timeout), f"held {self.held}"
            return list(self.held)

    def release(self, index: int = 0) -> None:
        with self.cond:
            _, _, _, finish = self.held.pop(index)
        finish()

    # asynchronous
    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        def finish() -> None:
            buf[:] = self.data[offset:offset + len(buf)]
            done(None)
        self._park("read", offset, len(buf), finish)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        data = bytes(buf)

        def finish() -> None:
            self.data[offset:offset + len(data)] = data
            self.fua_writes += fua
            done(None)
        self._park("write", offset, len(data), finish)

    # synchronous (blocking pool)
    def _blocking(self, op: str, offset: int, length: int, work: Callable[[], None]) -> None:
        ended = threading.Event()

        def finish() -> None:
            work()
            ended.set()
        self._park(op, offset, length, finish)
        assert ended.wait(10)

    def read_into(self, offset: int, buf: memoryview) -> None:
        self._blocking("read_into", offset, len(buf),
                       lambda: buf.__setitem__(slice(None), self.data[offset:offset + len(buf)]))

    def write_from(self, offset: int, buf: memoryview) -> None:
        data = bytes(buf)
        self._blocking("write_from", offset, len(data),
                       lambda: self.data.__setitem__(slice(offset, offset + len(data)), data))

    def sync(self, offset: int = 0, length: int = 0) -> None:
        self.syncs += 1
