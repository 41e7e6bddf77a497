"""The memory of the LUs whose medium is memory (``store = "ram"``), kept by hptd's main process.

Each such LU has one memfd, made when a worker first maps it and handed to every worker that asks
(SCM_RIGHTS, ``Channel.call``'s reply ``fds``): every worker's sessions read and write the same bytes
and its page map (``hpt.store.ram``). The memfd is kept while any worker holds it, and a worker that
dies still holds it: its restart maps the same data, so a crash loses no acknowledged write. It goes
when the last worker unmaps it (its LU removed by a reload, or hptd stopping). A LU of another size is
other memory: its key names the size.
"""

from __future__ import annotations

import os
import threading


class MemoryTable:
    """memfds by key (``target/lun/bytes``), with the workers holding each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fds: dict[str, int] = {}
        self._holders: dict[str, set[int]] = {}

    def map(self, worker: int, key: str, size: int) -> int:
        """The memfd for ``key`` (made now, ``size`` bytes and all zero, if no worker holds it), which
        ``worker`` now holds; the descriptor stays this table's."""
        if not 0 < size < 1 << 62:
            raise ValueError(f"{key}: cannot share {size} bytes of memory")
        with self._lock:
            fd = self._fds.get(key)
            if fd is None:
                fd = os.memfd_create(f"hpt {key}", os.MFD_CLOEXEC)
                try:
                    os.ftruncate(fd, size)
                except OSError:
                    os.close(fd)
                    raise
                self._fds[key] = fd
            self._holders.setdefault(key, set()).add(worker)
            return fd

    def unmap(self, worker: int, key: str) -> None:
        """``worker`` no longer maps ``key``; the last to let go frees the memory."""
        with self._lock:
            holders = self._holders.get(key)
            if holders is None:
                return
            holders.discard(worker)
            if not holders:
                del self._holders[key]
                os.close(self._fds.pop(key))

    def held(self) -> dict[str, set[int]]:
        """The keys mapped now, with their holders."""
        with self._lock:
            return {key: set(holders) for key, holders in self._holders.items()}

    def close(self) -> None:
        """hptd stops: every memfd goes (the workers have stopped)."""
        with self._lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            self._holders.clear()
