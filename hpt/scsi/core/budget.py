"""Memory a transport's owners (iSCSI sessions) hold in data buffers outside the ring, each within its
own limit; the process-wide total is :class:`hpt.scsi.core.transfer.DataBuffers`' budget (issue 13:
memory follows the target's limits, not the initiator's wishes)."""

from __future__ import annotations

import threading
from collections.abc import Hashable


class OwnerBudgets:
    """Bytes held per owner; ``take`` says whether ``n`` more fit under ``limit`` (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[Hashable, int] = {}

    def take(self, owner: Hashable, n: int, limit: int) -> bool:
        with self._lock:
            used = self._used.get(owner, 0)
            if used + n > limit:
                return False
            self._used[owner] = used + n
            return True

    def give(self, owner: Hashable, n: int) -> None:
        with self._lock:
            left = self._used.get(owner, 0) - n
            if left > 0:
                self._used[owner] = left
            else:
                self._used.pop(owner, None)

    def used(self, owner: Hashable) -> int:
        with self._lock:
            return self._used.get(owner, 0)
