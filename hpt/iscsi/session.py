"""iSCSI sessions: identity (ISID, TSIH), the CmdSN window, and the table used for reinstatement.

RFC 7143 4.4 (sessions), 4.2.2 (command numbering and acknowledging), 6.3.5 (session reinstatement).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.scsi.core.command import Nexus

if TYPE_CHECKING:
    from hpt.iscsi.negotiation import SessionParams
    from hpt.scsi.core.command import ScsiResult
    from hpt.scsi.target import ScsiTarget


class Session:
    """One iSCSI session (normal or discovery) and its command window.

    ``queue_depth`` is the command window: MaxCmdSN = ExpCmdSN + queue_depth - 1 (RFC 7143 4.2.2.1).
    """

    def __init__(self, *, isid: int, tsih: int, initiator_name: str, target_name: str, session_type: str,
                 params: SessionParams, scsi_target: ScsiTarget | None, portal_group_tag: int,
                 queue_depth: int, first_cmdsn: int) -> None:
        self.isid = isid
        self.tsih = tsih
        self.initiator_name = initiator_name
        self.target_name = target_name
        self.session_type = session_type
        self.params = params
        self.scsi_target = scsi_target
        self.queue_depth = queue_depth
        self.exp_cmdsn = first_cmdsn
        self.nexus = Nexus(
            initiator_port=f"{initiator_name},i,0x{isid:012x}",
            target_port=f"{target_name},t,0x{portal_group_tag:04x}",
            initiator_name=initiator_name,
            isid=isid,
            rtpi=portal_group_tag,
        )
        self.connections: list[Callable[[str], None]] = []  # each connection's close callback
        self.lock = threading.Lock()
        self.ended = False  # its I_T nexus loss was reported (by a logout or its last connection's end)
        # counters (hptd's metrics): SCSI commands answered, those not GOOD, data-in and data-out bytes
        self.commands = self.errors = self.read_bytes = self.write_bytes = 0

    def count(self, result: ScsiResult, read: int, written: int) -> None:
        """One command answered (on its connection's thread): at most ``read`` bytes sent, ``written``
        received."""
        self.commands += 1
        if result.status:
            self.errors += 1
        self.read_bytes += min(result.in_len, read)
        self.write_bytes += written

    @property
    def max_cmdsn(self) -> int:
        return (self.exp_cmdsn + self.queue_depth - 1) & 0xFFFFFFFF

    def in_window(self, cmdsn: int) -> bool:
        """ExpCmdSN <= CmdSN <= MaxCmdSN: commands outside it are silently ignored (RFC 7143 4.2.2.1)."""
        # the window is queue_depth wide, far below 2**31, so one modular difference decides it
        return ((cmdsn - self.exp_cmdsn) & 0xFFFFFFFF) < self.queue_depth

    def close(self, reason: str) -> None:
        for close in list(self.connections):
            close(reason)

    def end(self) -> bool:
        """Mark the session ended; True for the one caller that reports its I_T nexus loss (a logout
        that closes it, or its last connection's end, whichever comes first: SAM-5 6.3.4)."""
        with self.lock:
            first, self.ended = not self.ended, True
        return first


class SessionTable:
    """Sessions by (initiator name, ISID, target name) and TSIH; thread-safe (RFC 7143 6.3.5)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[tuple[str, int, str], Session] = {}
        self._tsih = itertools.count(1)

    def new_tsih(self) -> int:
        with self._lock:
            while True:
                tsih = next(self._tsih) & 0xFFFF
                if tsih and all(s.tsih != tsih for s in self._by_key.values()):
                    return tsih

    def find(self, initiator_name: str, isid: int, target_name: str) -> Session | None:
        with self._lock:
            return self._by_key.get((initiator_name, isid, target_name))

    def add(self, session: Session) -> Session | None:
        """Register ``session``; returns the session it replaces (reinstatement), if any."""
        key = (session.initiator_name, session.isid, session.target_name)
        with self._lock:
            old = self._by_key.get(key)
            self._by_key[key] = session
        return old

    def remove(self, session: Session) -> None:
        key = (session.initiator_name, session.isid, session.target_name)
        with self._lock:
            if self._by_key.get(key) is session:
                del self._by_key[key]

    def all(self) -> list[Session]:
        with self._lock:
            return list(self._by_key.values())

    def held(self, initiator_name: str, isid: int) -> int:
        """The normal sessions ``initiator_name`` has, but for ISID ``isid`` (a login that reinstates
        that one replaces it): what ``max_sessions_per_initiator`` counts."""
        with self._lock:
            return sum(1 for s in self._by_key.values() if s.initiator_name == initiator_name
                       and s.isid != isid and s.session_type == "Normal")
