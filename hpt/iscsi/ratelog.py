"""Warnings a peer can cause, at most one line per peer and interval: the rest are counted into the
next line, so a peer sending bad PDUs or wrong secrets in a loop cannot fill the log."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict


class RateLimitedLog:
    """``warning(key, msg, *args)``: logged at once the first time for ``key``; within ``interval``
    seconds after that only counted; the next line logged says how many were held back."""

    MAX_KEYS = 4096  # the oldest keys beyond this are forgotten (their held-back count with them)

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (last logged, held)

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            last, held = self._keys.pop(key, (-self.interval, 0))
            if now - last < self.interval:
                self._keys[key] = (last, held + 1)
                return
            self._keys[key] = (now, 0)
            while len(self._keys) > self.MAX_KEYS:
                self._keys.popitem(last=False)
        if held:
            msg += " (%d more like this from %s held back)"
            args = (*args, held, key)
        self.logger.warning(msg, *args)
