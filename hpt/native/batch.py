"""Completion batches: work that many completions of one batch ask for, done once at its end.

A thread that delivers completions in batches (the io_uring engine's completion thread takes up to 64
per wakeup) runs them inside :func:`batch`. A completion handler that would flush something (an iSCSI
connection sending its responses) calls :func:`later` with a key: inside a batch the work runs once,
when the batch ends, however many completions asked for it; outside one, ``later`` returns False and
the caller does the work now. So 20 reads finishing together on one connection leave in one
``sendmsg`` instead of 20.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("hpt.native")

_local = threading.local()


@contextmanager
def batch() -> Iterator[None]:
    """Deliver a batch of completions; the work they deferred runs when it ends (in order asked)."""
    pending: dict[object, Callable[[], None]] = {}
    _local.pending = pending
    try:
        yield
    finally:
        _local.pending = None
        for work in pending.values():
            try:
                work()
            except Exception:
                log.exception("deferred completion work failed")


def later(key: object, work: Callable[[], None]) -> bool:
    """Run ``work`` at the end of this thread's current batch (once per ``key``); False when the
    thread is not in a batch (then the caller does it now)."""
    pending = getattr(_local, "pending", None)
    if pending is None:
        return False
    pending.setdefault(key, work)
    return True
