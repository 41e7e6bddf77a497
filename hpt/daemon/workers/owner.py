"""The state hptd's worker processes share, kept once by the main process.

- The LUs' shared objects (``hpt.store.shared.SharedObject``: persistent reservations, a LOGICAL UNIT
  RESET's unit attentions, ALUA states; ``hpt/scsi/pr/shared.py``): contents with a version for
  compare-and-swap, and notifications that reach every other worker watching the object and wait for
  each to have handled them (SPC-5 5.13 across processes, as between the gateways of one rbd image).
- The memory of each LU on a ``ram`` store (``memory.py``): one memfd every worker maps.
- The buffer ring (``hpt.native.ring``): one memfd every worker maps, so all take their data buffers
  from one pool; the supervisor gives a dead worker's slots back.
- The CHAP failure delay (``[limits] auth_delay``): failures in a row per initiator and address,
  counted over every worker.
- The session table (RFC 7143 6.3.5): TSIHs unique across the workers, and for each (initiator, ISID,
  target) the worker holding the session, so a login that reinstates it on another worker first has the
  old one closed there.

A worker that dies leaves no trace: its watches, sessions and ring slots go with it.
"""

from __future__ import annotations

import base64
import itertools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hpt.daemon.workers.channel import Channel, ChannelClosed, Message, RemoteError
from hpt.daemon.workers.memory import MemoryTable
from hpt.iscsi.limits import AuthPenalty, Limits

if TYPE_CHECKING:
    from hpt.native.ring import Ring

log = logging.getLogger("hpt.daemon.workers")

#: Seconds a worker has to close a session another worker's login reinstates.
CLOSE_TIMEOUT = 10.0

SessionKey = tuple[str, int, str]  # initiator name, ISID, target name


#: The requests that never wait for another process (answered on the channel's reading thread).
INLINE = frozenset({"read", "write", "watch", "unwatch", "tsih", "held", "release", "ready", "gone", "login",
                    "map", "unmap", "auth_failed", "auth_ok", "ring"})


class StateOwner:
    """Answers the workers' requests (``handle``); ``channel_of(worker)`` reaches a live worker."""

    def __init__(self, channel_of: Callable[[int], Channel | None], limits: Limits | None = None,
                 ring: Ring | None = None, share: int = 0) -> None:
        """``ring``: the buffer ring every worker maps (a memfd, :meth:`Ring.shared`), where worker N
        looks for free slots from slot (N - 1) * ``share`` on."""
        self.channel_of = channel_of
        self.ring = ring
        self.share = share
        self.penalty = AuthPenalty(Limits() if limits is None else limits)
        self._lock = threading.Lock()
        self._objects: dict[str, tuple[bytes, int]] = {}
        self._watchers: dict[str, set[int]] = {}
        self._sessions: dict[SessionKey, tuple[int, int]] = {}  # -> (worker, TSIH)
        self._tsih = itertools.count(1)
        self.memory = MemoryTable()
        #: the workers' requests, one row each
        self._ops: dict[str, Callable[[int, Message], Message]] = {
            "read": self._read, "write": self._write, "watch": self._watch, "unwatch": self._unwatch,
            "notify": self._notify, "tsih": self._new_tsih, "claim": self._claim, "release": self._release,
            "held": self._held, "map": self._map, "unmap": self._unmap, "ring": self._ring,
            "auth_failed": self._auth_failed, "auth_ok": self._auth_ok,
        }

    def handle(self, worker: int, message: Message, _fds: list[int]) -> Message | None:
        op = message.get("op")
        if not isinstance(op, str) or op not in self._ops:
            raise ValueError(f"unknown request {op!r}")
        return self._ops[op](worker, message)

    def watching(self, name: str) -> set[int]:
        """The workers watching object ``name``."""
        with self._lock:
            return set(self._watchers.get(name, ()))

    def gone(self, worker: int) -> None:
        """``worker`` died or stopped: its watches and sessions end."""
        with self._lock:
            for watchers in self._watchers.values():
                watchers.discard(worker)
            for key in [k for k, (w, _t) in self._sessions.items() if w == worker]:
                del self._sessions[key]

    def sessions(self) -> dict[int, int]:
        """Sessions per worker."""
        counts: dict[int, int] = {}
        with self._lock:
            for worker, _tsih in self._sessions.values():
                counts[worker] = counts.get(worker, 0) + 1
        return counts

    # -- shared objects -----------------------------------------------------------------------
    def _read(self, _worker: int, m: Message) -> Message:
        with self._lock:
            data, version = self._objects.get(m["name"], (b"", 0))
        return {"data": base64.b64encode(data).decode(), "version": version}

    def _write(self, _worker: int, m: Message) -> Message:
        name = m["name"]
        with self._lock:
            _data, version = self._objects.get(name, (b"", 0))
            if version != m["version"]:
                return {"version": None}
            self._objects[name] = (base64.b64decode(m["data"]), version + 1)
            return {"version": version + 1}

    def _watch(self, worker: int, m: Message) -> Message:
        with self._lock:
            self._watchers.setdefault(m["name"], set()).add(worker)
        return {}

    def _unwatch(self, worker: int, m: Message) -> Message:
        with self._lock:
            self._watchers.get(m["name"], set()).discard(worker)
        return {}

    def _notify(self, worker: int, m: Message) -> Message:
        """Deliver to every other watcher at once; ok when each handled it within the timeout."""
        with self._lock:
            others = sorted(self._watchers.get(m["name"], set()) - {worker})
        timeout = float(m.get("timeout", 5.0))
        results: dict[int, bool] = {}

        def deliver(w: int) -> None:
            channel = self.channel_of(w)
            try:
                if channel is not None:
                    channel.call("notified", timeout, name=m["name"], payload=m["payload"])
                results[w] = True
            except (ChannelClosed, RemoteError) as err:
                # a worker that died meanwhile has no I_T nexus left to tell
                results[w] = channel is not None and channel.closed
                if not results[w]:
                    log.warning("worker %d: notification of %s: %s", w, m["name"], err)

        threads = [threading.Thread(target=deliver, args=(w,), daemon=True) for w in others]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout + 1)
        return {"ok": all(results.get(w, False) for w in others)}

    # -- the CHAP failure delay ----------------------------------------------------------------
    def _auth_failed(self, _worker: int, m: Message) -> Message:
        name, host = m["key"]
        return {"delay": self.penalty.failed((str(name), str(host)))}

    def _auth_ok(self, _worker: int, m: Message) -> Message:
        name, host = m["key"]
        self.penalty.succeeded((str(name), str(host)))
        return {}

    # -- memory -------------------------------------------------------------------------------
    def _map(self, worker: int, m: Message) -> Message:
        """The memfd of a ``ram`` LU's medium, sent with the reply (the table keeps its own)."""
        return {"fds": [self.memory.map(worker, str(m["key"]), int(m["size"]))]}

    def _unmap(self, worker: int, m: Message) -> Message:
        self.memory.unmap(worker, str(m["key"]))
        return {}

    def _ring(self, worker: int, _m: Message) -> Message:
        """The buffer ring's memfd, sent with the reply (the ring keeps its own), and the worker's home
        slot in it; no descriptor when this owner keeps no ring (a worker then cannot start:
        ``remote.shared_ring`` refuses)."""
        if self.ring is None or self.ring.fd is None:
            return {"fds": []}
        return {"fds": [self.ring.fd], "home": (worker - 1) * self.share % self.ring.nslots}

    # -- sessions -----------------------------------------------------------------------------
    def _new_tsih(self, _worker: int, _m: Message) -> Message:
        with self._lock:
            used = {tsih for _w, tsih in self._sessions.values()}
            while True:
                tsih = next(self._tsih) & 0xFFFF
                if tsih and tsih not in used:
                    return {"tsih": tsih}

    def _claim(self, worker: int, m: Message) -> Message:
        """A session logged in on ``worker``; one with its key on another worker is closed there first
        (reinstatement, RFC 7143 6.3.5)."""
        key = _key(m["key"])
        with self._lock:
            old = self._sessions.get(key)
            self._sessions[key] = (worker, int(m["tsih"]))
        if old is not None and old[0] != worker:
            channel = self.channel_of(old[0])
            if channel is not None:
                try:
                    channel.call("close", CLOSE_TIMEOUT, key=list(key), tsih=old[1])
                except (ChannelClosed, RemoteError) as err:
                    log.warning("worker %d: closing the session a login reinstates: %s", old[0], err)
        return {"reinstated": old is not None}

    def _held(self, _worker: int, m: Message) -> Message:
        """How many normal sessions (a target name: not discovery) initiator ``m["initiator"]`` has on
        all workers, but for ISID ``m["isid"]`` (``limits.max_sessions_per_initiator``)."""
        name, isid = str(m["initiator"]), int(m["isid"])
        with self._lock:
            return {"held": sum(1 for n, i, target in self._sessions if n == name and i != isid and target)}

    def _release(self, worker: int, m: Message) -> Message:
        key = _key(m["key"])
        with self._lock:
            if self._sessions.get(key) == (worker, int(m["tsih"])):
                del self._sessions[key]
        return {}


def _key(raw: Any) -> SessionKey:
    name, isid, target = raw
    return str(name), int(isid), str(target)
