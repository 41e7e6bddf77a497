"""A portal's event loop: one epoll thread that serves its connections' bursts and keeps the quiet ones.

A connection waits here, without a thread, whenever it has nothing to do: its socket (readable; or
writable, while the peer has not taken its last replies) and its wake-up eventfd (a completion another
thread could not send, a logout request) are armed in one epoll set (EPOLLONESHOT: re-armed, one
``epoll_ctl`` each, when it waits again), with the time its login deadline or next NOP-In ping is due.
The first of those calls its ``resume`` on this loop's thread. A connection whose commands never wait
on the caller's thread (``Connection.waits``: disks on memory, a file in memory, or a store with its own
asynchronous engine) is then served right here, a burst at a time: what the socket holds is received
without waiting, answered (the fast lane in C releases the GIL for its call), sent with one
``sendmsg``, and it waits again. So all of a portal's busy sessions share one thread and one
``epoll_wait`` instead of a thread each (issue 17). A connection that may wait for a device (a file
opened O_DIRECT, whose burst the lane submits through Linux AIO and waits for; a tape) gets a thread of
its own for as long as it is busy, so it never stalls the others, and comes back here once it has been
quiet for :data:`hpt.iscsi.tcp.PARK_AFTER` seconds. 1,000 idle sessions cost this one thread.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

log = logging.getLogger("hpt.iscsi.loop")

#: Seconds before a wake that could not start a thread (the process is out of threads) is tried again
RETRY = 0.1
_IN = select.EPOLLIN | select.EPOLLONESHOT
_OUT = select.EPOLLOUT | select.EPOLLONESHOT


@dataclass(eq=False)
class Parked:
    """One waiting connection: the descriptors that wake it, when it is due at the latest, what wakes it."""

    fds: tuple[int, ...]
    due: float | None  # time.monotonic() at which it resumes anyway (None: only an event wakes it)
    resume: Callable[[], None]
    key: Hashable
    drain: int = -1  # an eventfd among fds, read when it wakes the connection
    done: bool = field(default=False)


class Loop:
    """An epoll set and the thread that waits on it for a portal's connections."""

    def __init__(self, name: str, stage_bytes: int = 0) -> None:
        """``stage_bytes``: the size of :attr:`stage`, a buffer what the loop's thread serves uses in turn
        (a connection's receive stage, while the loop serves it)."""
        self.name = name
        self.stage = memoryview(bytearray(stage_bytes))
        self._epoll: select.epoll | None = None
        self._wake = -1
        self._by_fd: dict[int, Parked] = {}
        self._armed: set[int] = set()  # descriptors registered in the set (armed or fired)
        self._due: list[tuple[float, int, Hashable]] = []  # a heap of (due, sequence, key)
        self._queued: dict[Hashable, float] = {}  # key -> the due of its live heap entry
        self._parked: dict[Hashable, Parked] = {}
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.ident = 0  # the loop thread's id, once it runs

    def __len__(self) -> int:
        """How many connections wait here now."""
        with self._lock:
            return len(self._parked)

    @property
    def timers(self) -> int:
        """Timer entries queued now (at most about one per waiting connection)."""
        with self._lock:
            return len(self._due)

    def park(self, fds: tuple[int, ...], due: float | None, resume: Callable[[], None], *,
             key: Hashable | None = None, drain: int = -1, write: int = -1, read: bool = True) -> bool:
        """Wait for any of ``fds`` to be readable (``write``, one of them: writable too, or with
        ``read`` False only writable), or for ``due``, then call ``resume`` (once, from the loop's
        thread). ``key`` names the waiter (one timer per key however often it waits; default
        ``resume``); ``drain``: an eventfd of ``fds`` read when it fires. False when it cannot wait
        here (stopping, or no epoll set to be had): the caller keeps serving the connection itself."""
        parked = Parked(fds, due, resume, resume if key is None else key, drain)
        with self._lock:
            if self._stopping or not self._start():
                return False
            assert self._epoll is not None
            try:
                for fd in fds:
                    mask = (_OUT | (_IN if read else 0)) if fd == write else _IN
                    if fd in self._armed:
                        self._epoll.modify(fd, mask)
                    else:
                        self._epoll.register(fd, mask)
                        self._armed.add(fd)
                    self._by_fd[fd] = parked
            except OSError as err:
                log.info("%s: cannot park a connection: %s", self.name, err)
                self._forget(parked)
                self._unregister(fds)
                return False
            self._parked[parked.key] = parked
            sooner = False
            if due is not None:
                queued = self._queued.get(parked.key)
                if queued is None or due < queued:
                    sooner = not self._due or due < self._due[0][0]
                    heapq.heappush(self._due, (due, next(self._seq), parked.key))
                    self._queued[parked.key] = due
        if sooner and threading.get_ident() != self.ident:
            os.eventfd_write(self._wake, 1)  # the thread waits with a later timeout: look again
        return True

    def forget(self, fds: tuple[int, ...]) -> None:
        """Take ``fds`` out of the set for good (before they are closed): their connection has ended."""
        with self._lock:
            self._unregister(fds)

    def _unregister(self, fds: tuple[int, ...]) -> None:
        for fd in fds:
            parked = self._by_fd.pop(fd, None)
            if parked is not None:
                self._forget(parked)
            if fd in self._armed:
                self._armed.discard(fd)
                try:
                    assert self._epoll is not None
                    self._epoll.unregister(fd)
                except (OSError, ValueError):
                    pass

    def _start(self) -> bool:
        """The epoll set and its thread, made on first use (the caller holds the lock)."""
        if self._thread is not None:
            return True
        try:
            self._epoll = select.epoll()
            self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._epoll.register(self._wake, select.EPOLLIN)
            thread = threading.Thread(target=self._run, name=f"loop {self.name}", daemon=True)
            thread.start()
        except (OSError, RuntimeError) as err:
            log.info("%s: no event loop: %s", self.name, err)
            self._close()
            return False
        self._thread = thread
        return True

    def _forget(self, parked: Parked) -> None:
        """``parked`` waits no more (the caller holds the lock); its descriptors stay registered, disarmed
        once they fire (EPOLLONESHOT), until it waits again or :meth:`forget` drops them."""
        parked.done = True
        if self._parked.get(parked.key) is parked:
            del self._parked[parked.key]
        for fd in parked.fds:
            if self._by_fd.get(fd) is parked:
                del self._by_fd[fd]

    def _expired(self, now: float) -> list[Parked]:
        """The waiters whose time has come (the caller holds the lock); a key's entry whose waiter now
        waits longer is queued again at its new time, so each key has one entry however often it waits."""
        ready = []
        while self._due and self._due[0][0] <= now:
            due, _seq, key = heapq.heappop(self._due)
            if self._queued.get(key) != due:
                continue  # a sooner entry of this key replaced it
            del self._queued[key]
            parked = self._parked.get(key)
            if parked is None or parked.due is None:
                continue
            if parked.due > now:
                heapq.heappush(self._due, (parked.due, next(self._seq), key))
                self._queued[key] = parked.due
                continue
            self._forget(parked)
            ready.append(parked)
        return ready

    def _run(self) -> None:
        self.ident = threading.get_ident()
        epoll = self._epoll
        assert epoll is not None
        while not self._stopping:
            with self._lock:
                timeout = max(0.0, self._due[0][0] - time.monotonic()) if self._due else -1.0
            events = epoll.poll(timeout)
            ready: list[Parked] = []
            with self._lock:
                for fd, _ev in events:
                    if fd == self._wake:
                        _drain(fd)
                        continue
                    parked = self._by_fd.get(fd)
                    if parked is not None and not parked.done:
                        if parked.drain >= 0:
                            _drain(parked.drain)
                        self._forget(parked)
                        ready.append(parked)
                ready.extend(self._expired(time.monotonic()))
            for parked in ready:
                self._resume(parked)
        with self._lock:
            self._close()

    def _resume(self, parked: Parked) -> None:
        try:
            parked.resume()
        except RuntimeError as err:  # no thread to be had now: wait on the set and try again soon
            log.warning("%s: cannot resume a connection: %s; again in %g s", self.name, err, RETRY)
            if not self.park(parked.fds, time.monotonic() + RETRY, parked.resume, key=parked.key,
                             drain=parked.drain):
                log.error("%s: a parked connection could not be resumed", self.name)
        except Exception:
            log.exception("%s: a connection failed on the loop", self.name)

    def _close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        if self._wake >= 0:
            os.close(self._wake)
            self._wake = -1

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (once the portal's connections are closed); waiting entries are dropped."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            if thread is not None and self._wake >= 0:
                os.eventfd_write(self._wake, 1)
        if thread is not None and thread.ident != threading.get_ident():
            thread.join(timeout)


def _drain(fd: int) -> None:
    """Read an eventfd down to zero (nothing there: nothing to do)."""
    try:
        os.eventfd_read(fd)
    except (BlockingIOError, OSError):
        pass
