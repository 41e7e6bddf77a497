"""A memory store that fails on purpose: each of read, write and flush can raise EIO or ENOSPC, be slow,
or hang until the test lets it go; its submit calls run on a thread of their own unless it is inline."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable

from hpt.store.base import BackingStore, Done

from .held_store import BS, NBLOCKS

SLOW = 0.2  # seconds a "slow" operation takes


class FaultyStore(BackingStore):
    """``faults[op]`` for op in read, write (writes, discards, zeroes) and flush: "eio", "enospc",
    "slow" or "hang" (until ``release`` is set; ``stuck`` is set once one hangs)."""

    def __init__(self, size: int = NBLOCKS * BS, *, inline: bool = False) -> None:
        self.size = size
        self.data = bytearray(size)
        self.inline = inline
        self.faults: dict[str, str] = {}
        self.release = threading.Event()
        self.stuck = threading.Event()

    def _fault(self, op: str) -> None:
        what = self.faults.get(op)
        if what == "eio":
            raise OSError(errno.EIO, f"injected {op} error")
        if what == "enospc":
            raise OSError(errno.ENOSPC, f"injected {op} out of space")
        if what == "slow":
            time.sleep(SLOW)
        elif what == "hang":
            self.stuck.set()
            self.release.wait()

    def read_into(self, offset: int, buf: memoryview) -> None:
        self._fault("read")
        buf[:] = self.data[offset:offset + len(buf)]

    def write_from(self, offset: int, buf: memoryview) -> None:
        self._fault("write")
        self.data[offset:offset + len(buf)] = buf

    def write_zeroes(self, offset: int, length: int) -> None:
        self._fault("write")
        self.data[offset:offset + length] = bytes(length)

    def discard(self, offset: int, length: int) -> None:
        self.write_zeroes(offset, length)

    def sync(self, offset: int = 0, length: int = 0) -> None:
        self._fault("flush")

    def _run(self, call: Callable[..., None], *args: object, **kw: object) -> None:
        if self.inline:
            call(*args, **kw)
        else:
            threading.Thread(target=call, args=args, kwargs=kw, daemon=True).start()

    def submit_read(self, offset: int, buf: memoryview, done: Done) -> None:
        self._run(super().submit_read, offset, buf, done)

    def submit_write(self, offset: int, buf: memoryview, done: Done, *, fua: bool = False) -> None:
        self._run(super().submit_write, offset, buf, done, fua=fua)

    def submit_flush(self, done: Done) -> None:
        self._run(super().submit_flush, done)
