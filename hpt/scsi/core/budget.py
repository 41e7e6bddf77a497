"""Memory the streamed commands hold (``hpt.scsi.core.stream``), per owner (an I_T nexus: an iSCSI
session) and in all, each within its limit; the total is shared with the other buffers outside the ring
(:class:`hpt.scsi.core.transfer.DataBuffers`' budget). A command that does not fit waits for memory
to be given back, in order of arrival, for at most ``WAIT`` seconds, then ends in BUSY (SAM-5 5.3.2):
memory follows the target's limits, not the initiator's wishes, and nothing waits for ever (issue 13).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable
from functools import partial

from hpt.scsi.core.blocking import run_blocking
from hpt.scsi.core.transfer import DataBuffers

WAIT = 2.0  # seconds a command waits for memory before BUSY


class _Waiter:
    __slots__ = ("owner", "n", "owner_limit", "total", "granted", "timer")

    def __init__(self, owner: Hashable, n: int, owner_limit: int, total: DataBuffers,
                 granted: Callable[[bool], None]) -> None:
        self.owner = owner
        self.n = n
        self.owner_limit = owner_limit
        self.total = total
        self.granted = granted
        self.timer: threading.Timer | None = None


class MemoryBudget:
    """Bytes held per owner and in all; ``acquire`` grants at once, or once memory is given back, or
    refuses after ``wait`` seconds (thread-safe; a late ``granted`` runs on a pool or timer thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[Hashable, int] = {}
        self._waiting: deque[_Waiter] = deque()

    def acquire(self, owner: Hashable, n: int, owner_limit: int, total_limit: int,
                granted: Callable[[bool], None], wait: float | None = None) -> None:
        """``granted(True)`` once ``n`` bytes are the owner's, ``granted(False)`` when they could not be
        had within ``wait`` seconds (:data:`WAIT` by default). Whoever fits goes first: an owner over its
        own limit holds no one else back."""
        w = _Waiter(owner, n, owner_limit, DataBuffers(None, total_limit), granted)
        with self._lock:
            ok = self._take(w)
            if not ok:
                self._waiting.append(w)
                w.timer = threading.Timer(WAIT if wait is None else wait, self._expire, (w,))
                w.timer.daemon = True
                w.timer.start()
        if ok:
            granted(True)

    def give(self, owner: Hashable, n: int) -> None:
        """The owner gives ``n`` bytes back: the waiters that now fit are granted, oldest first."""
        with self._lock:
            left = self._used.get(owner, 0) - n
            if left > 0:
                self._used[owner] = left
            else:
                self._used.pop(owner, None)
            DataBuffers(None).give(-1, n)
            go = [w for w in self._waiting if self._take(w)]
            for w in go:
                self._waiting.remove(w)
        for w in go:
            if w.timer is not None:
                w.timer.cancel()
            # on a pool thread: the giver may hold a transport's lock that the granted command needs
            run_blocking(partial(w.granted, True))

    def used(self, owner: Hashable) -> int:
        with self._lock:
            return self._used.get(owner, 0)

    def _take(self, w: _Waiter) -> bool:
        used = self._used.get(w.owner, 0)
        if used + w.n > w.owner_limit or not w.total.reserve(w.n):
            return False
        self._used[w.owner] = used + w.n
        return True

    def _expire(self, w: _Waiter) -> None:
        with self._lock:
            if w not in self._waiting:
                return  # granted meanwhile
            self._waiting.remove(w)
        w.granted(False)


BUDGET = MemoryBudget()  # one per process, as the ring and the DataBuffers budget
