"""Where idle TCP connections wait: one epoll thread for all of a portal's idle connections.

A connection's thread serves it while bytes come and go. Once it has been quiet for a while (nothing
to receive, nothing queued to send) the thread parks the connection here and ends: its socket and its
wake-up descriptor join one epoll set, with the time its next NOP-In ping is due. The first of: bytes
(or an end) on the socket, a wake-up (a completion that could not be sent at once, a logout request),
or the ping's time, takes the connection out of the set and starts a thread that serves it again. So
1,000 idle sessions cost one thread and an epoll set, not 1,000 threads, and a busy connection never
pays for a hand-over: it parks only after :data:`hpt.iscsi.tcp.PARK_AFTER` seconds of silence.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger("hpt.iscsi.idle")

#: Seconds before a wake that could not start a thread (the process is out of threads) is tried again
RETRY = 0.1


@dataclass(eq=False)
class Parked:
    """One parked connection: the descriptors that wake it, when it is due at the latest, what wakes it."""

    fds: tuple[int, ...]
    due: float | None  # time.monotonic() at which it resumes anyway (None: only an event wakes it)
    resume: Callable[[], None]
    done: bool = field(default=False)


class Idler:
    """An epoll set and the thread that waits on it for a portal's parked connections."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._epoll: select.epoll | None = None
        self._wake = -1
        self._by_fd: dict[int, Parked] = {}
        self._due: list[tuple[float, int, Parked]] = []  # a heap of (due, sequence, parked)
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def __len__(self) -> int:
        """How many connections are parked now."""
        with self._lock:
            return len({id(p) for p in self._by_fd.values()})

    def park(self, fds: tuple[int, ...], due: float | None, resume: Callable[[], None]) -> bool:
        """Wait for any of ``fds`` to be readable, or for ``due``, then call ``resume`` (once, from the
        idler's thread). False when it cannot park (stopping, or no epoll set to be had): the caller
        keeps serving the connection itself."""
        parked = Parked(fds, due, resume)
        with self._lock:
            if self._stopping or not self._start():
                return False
            assert self._epoll is not None
            try:
                for fd in fds:
                    self._epoll.register(fd, select.EPOLLIN)
                    self._by_fd[fd] = parked
            except OSError as err:
                log.info("%s: cannot park a connection: %s", self.name, err)
                self._forget(parked)
                return False
            sooner = due is not None and (not self._due or due < self._due[0][0])
            if due is not None:
                heapq.heappush(self._due, (due, next(self._seq), parked))
        if sooner:
            os.eventfd_write(self._wake, 1)  # the thread waits with a later timeout: look again
        return True

    def _start(self) -> bool:
        """The epoll set and its thread, made on first use (the caller holds the lock)."""
        if self._thread is not None:
            return True
        try:
            self._epoll = select.epoll()
            self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._epoll.register(self._wake, select.EPOLLIN)
            thread = threading.Thread(target=self._run, name=f"idle {self.name}", daemon=True)
            thread.start()
        except (OSError, RuntimeError) as err:
            log.info("%s: no idle set: %s", self.name, err)
            self._close()
            return False
        self._thread = thread
        return True

    def _forget(self, parked: Parked) -> None:
        """Take ``parked`` out of the epoll set (the caller holds the lock)."""
        parked.done = True
        for fd in parked.fds:
            if self._by_fd.get(fd) is parked:
                del self._by_fd[fd]
                try:
                    assert self._epoll is not None
                    self._epoll.unregister(fd)
                except (OSError, ValueError):
                    pass

    def _run(self) -> None:
        epoll = self._epoll
        assert epoll is not None
        while not self._stopping:
            with self._lock:
                while self._due and self._due[0][2].done:
                    heapq.heappop(self._due)
                timeout = max(0.0, self._due[0][0] - time.monotonic()) if self._due else -1.0
            events = epoll.poll(timeout)
            ready: list[Parked] = []
            with self._lock:
                for fd, _ev in events:
                    if fd == self._wake:
                        try:
                            os.eventfd_read(fd)
                        except BlockingIOError:
                            pass
                        continue
                    parked = self._by_fd.get(fd)
                    if parked is not None and not parked.done:
                        self._forget(parked)
                        ready.append(parked)
                now = time.monotonic()
                while self._due and (self._due[0][2].done or self._due[0][0] <= now):
                    parked = heapq.heappop(self._due)[2]
                    if not parked.done:
                        self._forget(parked)
                        ready.append(parked)
            for parked in ready:
                self._resume(parked)
        with self._lock:
            self._close()

    def _resume(self, parked: Parked) -> None:
        try:
            parked.resume()
        except RuntimeError as err:  # no thread to be had now: wait on the set and try again soon
            log.warning("%s: cannot resume a connection: %s; again in %g s", self.name, err, RETRY)
            if not self.park(parked.fds, time.monotonic() + RETRY, parked.resume):
                log.error("%s: a parked connection could not be resumed", self.name)

    def _close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
            self._epoll = None
        if self._wake >= 0:
            os.close(self._wake)
            self._wake = -1

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (once the portal's connections are closed); parked entries are dropped."""
        with self._lock:
            self._stopping = True
            thread = self._thread
            if thread is not None and self._wake >= 0:
                os.eventfd_write(self._wake, 1)
        if thread is not None:
            thread.join(timeout)
