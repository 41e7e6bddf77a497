"""The blocking pool: threads that run store work the data path does not submit asynchronously.

COMPARE AND WRITE, WRITE SAME, UNMAP, VERIFY, SYNCHRONIZE CACHE and the like call a store's
synchronous methods; on a store that does real I/O they run here, so no transport thread waits.
The store calls release the interpreter lock (preadv, pwritev, fallocate, fdatasync).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

POOL_THREADS = 16  # concurrent long commands across every LU before they queue

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()


def run_blocking(work: Callable[[], None]) -> None:
    """Run ``work()`` on a pool thread (it reports its own result)."""
    global _pool
    pool = _pool
    if pool is None:
        with _lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(POOL_THREADS, thread_name_prefix="hpt-store")
            pool = _pool
    pool.submit(work)
