"""What one peer may take from the target: login time, connections, sessions and CHAP retries.

The numbers live in :class:`Limits` (the daemon reads them from ``[limits]``); :class:`Admission`
counts connections across a daemon's portals and picks pre-login connections to shed when the
target runs short; :class:`AuthPenalty` makes each failed CHAP login from one initiator name and
address wait longer for its answer, so secrets cannot be tried at network speed (RFC 7143 12.1.3:
"an attacker ... may try to guess the secret").
"""

from __future__ import annotations

import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Limits:
    """``login_timeout``: seconds from accept to the full feature phase; ``max_connections``: all
    portals together; ``max_connections_per_address``: from one initiator address;
    ``max_sessions_per_initiator``: of one initiator name; a failed CHAP login's answer waits
    ``auth_delay`` seconds, doubled for each failure in a row, at most ``auth_delay_max``;
    ``session_memory`` and ``total_memory``: bytes of data buffers outside the ring one session and the
    whole target may hold (``hpt.iscsi.stream``: a large READ or WRITE holds one piece of it)."""

    login_timeout: float = 20.0
    max_connections: int = 1024
    max_connections_per_address: int = 256
    max_sessions_per_initiator: int = 64
    auth_delay: float = 1.0
    auth_delay_max: float = 8.0
    session_memory: int = 256 << 20
    total_memory: int = 2 << 30


class Counted(Protocol):
    """A connection as :class:`Admission` sees it (the driver's)."""

    @property
    def prelogin(self) -> bool:
        """True until the connection reaches the full feature phase."""
        ...

    def shed(self, reason: str) -> None:
        """Close it now (from any thread)."""
        ...


class Admission:
    """Connections of all portals, by initiator address, oldest first.

    ``admit`` says whether a new connection may stay, after shedding pre-login connections when a
    limit is reached: the oldest one not logged in from the same address (per-address limit) or from
    any address (total limit). A connection that has logged in is never shed.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._conns: OrderedDict[Counted, str] = OrderedDict()  # connection -> address, oldest first
        self._by_address: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._conns)

    def admit(self, conn: Counted, address: str) -> bool:
        """Count ``conn`` in, shedding what must go; False (not counted) when nothing can be shed."""
        limits = self.limits
        with self._lock:
            victims: list[Counted] = []
            full = self._by_address[address] >= limits.max_connections_per_address
            if full and not self._pick(address, victims):
                return False
            if len(self._conns) - len(victims) >= limits.max_connections and not self._pick(None, victims):
                return False
            for victim in victims:
                self._forget(victim)
            self._conns[conn] = address
            self._by_address[address] += 1
        for victim in victims:
            victim.shed(f"shed for a new connection from {address} (connection limit)")
        return True

    def shed_oldest(self, reason: str) -> bool:
        """Close the oldest pre-login connection (e.g. the target is out of descriptors); False if none."""
        victims: list[Counted] = []
        with self._lock:
            if not self._pick(None, victims):
                return False
            self._forget(victims[0])
        victims[0].shed(reason)
        return True

    def gone(self, conn: Counted) -> None:
        with self._lock:
            self._forget(conn)

    def _forget(self, conn: Counted) -> None:
        address = self._conns.pop(conn, None)
        if address is not None:
            self._by_address[address] -= 1
            if not self._by_address[address]:
                del self._by_address[address]

    def _pick(self, address: str | None, victims: list[Counted]) -> bool:
        """Add the oldest pre-login connection (from ``address``, or any) to ``victims``; False if none."""
        for conn, addr in self._conns.items():
            if (address is None or addr == address) and conn not in victims and conn.prelogin:
                victims.append(conn)
                return True
        return False


class Penalty(Protocol):
    """What a login asks of the CHAP failure delay (:class:`AuthPenalty`, or hptd's main process's one
    for all its workers)."""

    def failed(self, key: tuple[str, str], now: float | None = None) -> float: ...

    def succeeded(self, key: tuple[str, str]) -> None: ...


class AuthPenalty:
    """Failed logins in a row per key (initiator name and address): the delay before the answer to
    the next failure; a success, or ``window`` seconds without failing, forgets the key."""

    MAX_KEYS = 4096  # the oldest keys beyond this are forgotten: memory stays bounded

    def __init__(self, limits: Limits, window: float = 600.0) -> None:
        self.limits = limits
        self.window = window
        self._lock = threading.Lock()
        self._failures: OrderedDict[Hashable, tuple[int, float]] = OrderedDict()

    def failed(self, key: Hashable, now: float | None = None) -> float:
        """Count a failure; the seconds its answer waits (``auth_delay`` doubled per failure in a row)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            count, last = self._failures.pop(key, (0, now))
            if now - last > self.window:
                count = 0
            count += 1
            self._failures[key] = (count, now)
            while len(self._failures) > self.MAX_KEYS:
                self._failures.popitem(last=False)
        limits = self.limits
        return min(limits.auth_delay * 2 ** min(count - 1, 30), limits.auth_delay_max)

    def succeeded(self, key: Hashable) -> None:
        with self._lock:
            self._failures.pop(key, None)


def host_of(peer: str) -> str:
    """The address part of a peer's ``host:port`` (IPv6 in brackets or not)."""
    return peer.rsplit(":", 1)[0].strip("[]")
