"""hptd's main process with ``workers = N``: it listens on the iSCSI/TCP portals, hands each accepted
connection to the worker with the fewest (SCM_RIGHTS over its channel), keeps what the workers share
(``owner.py``), and restarts a worker that dies: only that worker's sessions are lost, and their
initiators log in again through another (or the new one)."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from hpt.daemon.config import PortalConfig
from hpt.daemon.control.rpc import UNAVAILABLE, RpcError
from hpt.daemon.server import RING_SLOT, RING_SLOTS
from hpt.daemon.workers.channel import Channel, ChannelClosed, Message, RemoteError, channel_pair, unpack_text
from hpt.daemon.workers.control import answer_of, internal
from hpt.daemon.workers.owner import INLINE, StateOwner
from hpt.iscsi.limits import Admission, Limits
from hpt.iscsi.ratelog import RateLimitedLog
from hpt.iscsi.tcp import listening_socket
from hpt.native.ring import Ring

if TYPE_CHECKING:
    from hpt.daemon.config import Config

log = logging.getLogger("hpt.daemon.workers")
_limited = RateLimitedLog(log)

#: Seconds a worker has to build its LUs and say it is ready.
READY_TIMEOUT = 120.0
#: Seconds every worker has, after SIGTERM, to let its initiators log out and stop.
STOP_TIMEOUT = 20.0
#: A worker that dies again within this many seconds of its start is restarted only after as long.
RESTART_BACKOFF = 1.0
#: Seconds a worker has to send its metrics when Prometheus scrapes.
METRICS_WAIT = 5.0


class WorkerError(RuntimeError):
    """A worker could not start (its own message went to standard error before)."""


@dataclass
class Worker:
    """One worker process as the main process sees it."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    channel: Channel | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    connections: int = 0
    started: float = 0.0

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0


@dataclass(eq=False)
class Handed:
    """A connection handed to a worker, as the main process's :class:`Admission` counts it."""

    peer: str  # "host:port"
    worker: Worker | None = None
    prelogin: bool = True  # until the worker says it reached the full feature phase

    def shed(self, reason: str) -> None:
        """Ask its worker to close it (if it is still logging in there)."""
        channel = None if self.worker is None else self.worker.channel
        if channel is not None:
            try:
                channel.post({"op": "shed", "peer": self.peer, "reason": reason})
            except ChannelClosed:
                pass


class Workers:
    """Starts, feeds and restarts ``config.daemon.workers`` worker processes; ``argv`` are hptd's own
    arguments, with which each worker reads the same configuration."""

    def __init__(self, config: Config, argv: list[str]) -> None:
        self.config = config
        self.argv = argv
        self.workers = [Worker(i + 1) for i in range(config.daemon.workers)]
        # one pool of data buffers for every worker, as many slots as a process each would have: a worker
        # takes from its own share first (its bitmap words: no cache line another core writes), and one
        # with the busy sessions may use them all; pages are touched only as slots are
        self.ring = Ring.shared(RING_SLOT, RING_SLOTS * len(self.workers))
        self.owner = StateOwner(self._channel_of, config.limits, self.ring, RING_SLOTS)
        self.listeners: dict[str, socket.socket] = {}  # by the portal's configured address
        # [limits] max_connections and max_connections_per_address, over every worker
        self.admission = Admission(config.limits)
        self.handed: dict[str, list[Handed]] = {}  # by peer, oldest first (a peer's port may come again)
        self._lock = threading.Lock()
        self._control_lock = threading.Lock()  # control requests reach the workers one at a time
        self._stopping = False
        #: the running configuration once a change was made (hptadm, a reload): a restarted worker builds
        #: that, not what the file said when hptd started
        self.document: dict[str, Any] | None = None

    # -- start and stop -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the workers, wait until each is ready (WorkerError if one is not), then listen on every
        portal (OSError naming it if it cannot): no initiator waits for a worker still building its LUs."""
        for w in self.workers:
            self._spawn(w)
        deadline = time.monotonic() + READY_TIMEOUT
        for w in self.workers:
            while not w.ready.wait(0.1):
                assert w.proc is not None
                if w.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise WorkerError(f"worker {w.index} did not start ({_status(w.proc.returncode)})")
        try:
            self._listen(self.config.portals)
        except OSError:
            self.stop()
            raise

    def _listen(self, portals: list[PortalConfig]) -> None:
        """Listen on each of ``portals`` not listened on yet, and accept there (OSError naming the one
        that cannot be had)."""
        for pc in portals:
            if pc.address in self.listeners:
                continue
            try:
                lsock = listening_socket(pc.host, pc.port)
            except OSError as err:
                raise OSError(err.errno, f"{pc.source or 'portal'}: cannot listen on {pc.address} "
                                         f"({pc.transport}): {err.strerror or err}") from None
            self.listeners[pc.address] = lsock
            threading.Thread(target=self._accept, args=(pc.address, lsock), daemon=True,
                             name=f"portal {pc.address}").start()
            log.info("listening on %s (iSCSI/TCP, portal group %d, %d workers)", pc.address, pc.group,
                     len(self.workers))

    def _spawn(self, w: Worker) -> None:
        mine, theirs = channel_pair()
        cmd = [sys.executable, "-m", "hpt.daemon.workers", "--channel", str(theirs.fileno()),
               "--index", str(w.index), "--", *self.argv]
        try:
            w.proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        w.ready.clear()
        w.connections = 0
        w.started = time.monotonic()
        channel = Channel(mine, partial(self._handle, w), f"worker {w.index}", inline=INLINE)
        channel.on_close = partial(self._closed, w, channel)
        w.channel = channel
        channel.start()

    def _closed(self, w: Worker, channel: Channel) -> None:
        """A worker's channel ended: its watches, sessions and connections go, unless it was restarted
        meanwhile (the new process's are not the old one's)."""
        if w.channel is channel:
            self.owner.gone(w.index)
            with self._lock:
                gone = [h for hs in self.handed.values() for h in hs if h.worker is w]
                for h in gone:
                    self._forget(h)
            for h in gone:
                self.admission.gone(h)

    def _close_listeners(self, keep: set[str] | None = None) -> None:
        """Stop listening, on every portal but those in ``keep``."""
        for address in [a for a in self.listeners if a not in (keep or set())]:
            lsock = self.listeners.pop(address)
            try:
                lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            lsock.close()
            if keep is not None:
                log.info("portal %s removed", address)

    # -- the control plane (``control.py``) ---------------------------------------------------
    def control(self, method: str, params: dict[str, Any], *, follow: bool, check: bool = False,
                keep: bool = False) -> list[Any]:
        """Run an hptadm request in every ready worker, in turn (``check``: only check the change it
        makes): each one's result or RpcError. With ``follow``, listen afterwards on the portals the
        workers serve now, and on no other; with ``keep``, keep the running configuration it made (for
        a worker's restart)."""
        with self._control_lock:
            self._all_ready()
            answers = []
            for _w, channel in self._ready():
                try:
                    answers.append(answer_of(channel.call("control", method=method, params=params,
                                                          check=check)))
                except (ChannelClosed, RemoteError) as err:
                    answers.append(internal(err))
            if not answers:
                raise RpcError(UNAVAILABLE, "no worker is ready")
            if keep and not any(isinstance(a, RpcError) for a in answers):
                self._keep_document()
            if follow:
                self._follow_portals()
            return answers

    def _keep_document(self) -> None:
        first = next(self._ready(), None)
        if first is not None:
            try:
                reply = first[1].call("document")
            except (ChannelClosed, RemoteError) as err:
                log.warning("worker %d: the running configuration not kept: %s", first[0].index, err)
                return
            self.document = {key: reply[key] for key in ("text", "base", "tids")}

    def _all_ready(self) -> None:
        """Wait until every worker is ready (one starting, or restarting after a crash, would miss the
        request: a fault injected, a LUN added); RpcError UNAVAILABLE after READY_TIMEOUT."""
        deadline = time.monotonic() + READY_TIMEOUT
        for w in self.workers:
            while not w.ready.wait(0.1):
                if self._stopping or time.monotonic() > deadline:
                    raise RpcError(UNAVAILABLE, f"worker {w.index} is not ready" + (
                        ": hptd is stopping" if self._stopping else f" after {READY_TIMEOUT:.0f} s"))

    def metrics(self) -> list[str]:
        """Each ready worker's metrics (Prometheus text, ``hpt.daemon.metrics.exposition``), asked at
        scrape time; a worker that does not answer within METRICS_WAIT is left out, with a warning."""
        texts = []
        for w, channel in self._ready():
            try:
                packed = channel.call("metrics", wait=METRICS_WAIT)["text"]
            except (ChannelClosed, RemoteError) as err:
                log.warning("worker %d: no metrics: %s", w.index, err)
                continue
            texts.append(unpack_text(packed))
        return texts

    def _follow_portals(self) -> None:
        """The listening sockets of the portals the first ready worker serves (after a change)."""
        first = next(self._ready(), None)
        if first is None:
            return
        channel = first[1]
        reply = channel.call("portals")
        portals = [PortalConfig(p["host"], p["port"], p["transport"], p["group"]) for p in reply["portals"]]
        if "limits" in reply:  # a reload may have changed them
            self.admission.limits = Limits(**reply["limits"])
        self._close_listeners(keep={pc.address for pc in portals})
        try:
            self._listen(portals)
        except OSError as err:
            raise RpcError(UNAVAILABLE, f"{err.strerror}; the workers serve it, hptd does not listen "
                                        "there") from None

    def stop(self) -> None:
        """Stop accepting; SIGTERM every worker (each asks its initiators to log out, finishes the
        commands in hand and exits), SIGKILL what is left after ``STOP_TIMEOUT``."""
        self._stopping = True
        self._close_listeners()
        procs = [w.proc for w in self.workers if w.proc is not None and w.proc.poll() is None]
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker (pid %d) did not stop within %.0f s: killed", proc.pid, STOP_TIMEOUT)
                proc.kill()
                proc.wait()
        self.owner.memory.close()
        self.ring.close()

    def tick(self) -> None:
        """Restart each worker that died (from the main loop, every pulse)."""
        if self._stopping:
            return
        now = time.monotonic()
        for w in self.workers:
            if w.proc is None or w.proc.poll() is None:
                continue
            if now - w.started < RESTART_BACKOFF:
                continue
            log.error("worker %d (pid %d) exited with %s; restarting", w.index, w.pid,
                      _status(w.proc.returncode))
            with self._lock:
                w.ready.clear()
            self.owner.gone(w.index)
            freed = self.ring.reclaim(w.pid)  # what it held mid-I/O, now that it is reaped
            if freed:
                log.info("worker %d: %d ring slots it held given back", w.index, freed)
            self._spawn(w)

    # -- the channel --------------------------------------------------------------------------
    def _ready(self) -> Iterator[tuple[Worker, Channel]]:
        """Each ready worker with its channel, in order."""
        for w in self.workers:
            channel = self._channel_of(w.index)
            if channel is not None:
                yield w, channel

    def _channel_of(self, index: int) -> Channel | None:
        w = self.workers[index - 1]
        return w.channel if w.ready.is_set() and w.channel is not None and not w.channel.closed else None

    def _handle(self, w: Worker, m: Message, fds: list[int]) -> Message | None:
        op = m.get("op")
        for fd in fds:  # a worker hands no descriptor back
            os.close(fd)
        if op == "ready":  # its LUs are built: connections may come
            log.info("worker %d started (pid %d)", w.index, w.pid)
            w.ready.set()
            return None
        if op == "running":  # a worker (re)starting: the configuration as changed since hptd started
            return {"document": self.document}
        if op == "gone":
            with self._lock:
                w.connections = max(0, w.connections - 1)
                handed = self._find(w, m["peer"])
                if handed is not None:
                    self._forget(handed)
            if handed is not None:
                self.admission.gone(handed)
            return None
        if op == "login":
            with self._lock:
                handed = self._find(w, m["peer"])
            if handed is not None:
                handed.prelogin = False
            return None
        return self.owner.handle(w.index, m, fds)

    # -- connections --------------------------------------------------------------------------
    def _accept(self, portal: str, lsock: socket.socket) -> None:
        while not self._stopping:
            try:
                sock, peer = lsock.accept()
            except OSError:
                if self._stopping or self.listeners.get(portal) is not lsock:
                    return
                time.sleep(0.05)  # out of descriptors, or the like: back off
                continue
            try:
                self._hand(portal, sock, peer)
            finally:
                sock.close()  # the worker has its own copy now

    def _hand(self, portal: str, sock: socket.socket, peer: tuple[str, int]) -> None:
        """Give ``sock`` to the ready worker with the fewest connections (ties: the first), if the
        connection limits counted over every worker let it in (``Admission``: the oldest connection
        still logging in, on whichever worker, is shed to make room)."""
        handed = Handed(f"{peer[0]}:{peer[1]}")
        limits = self.admission.limits
        if not self.admission.admit(handed, peer[0]):
            _limited.warning(peer[0], "connection from %s refused: %d connections (limits: %d in all, %d per "
                             "address), none still logging in", peer[0], len(self.admission),
                             limits.max_connections, limits.max_connections_per_address)
            return
        with self._lock:
            self.handed.setdefault(handed.peer, []).append(handed)
        if not self._give(portal, sock, peer, handed):
            with self._lock:
                self._forget(handed)
            self.admission.gone(handed)

    def _find(self, w: Worker, peer: str) -> Handed | None:
        """The oldest connection from ``peer`` handed to ``w`` (the caller holds the lock)."""
        return next((h for h in self.handed.get(peer, ()) if h.worker is w), None)

    def _forget(self, handed: Handed) -> None:
        """No longer count ``handed`` among the connections (the caller holds the lock)."""
        same = self.handed.get(handed.peer, [])
        if handed in same:
            same.remove(handed)
        if not same:
            self.handed.pop(handed.peer, None)

    def _give(self, portal: str, sock: socket.socket, peer: tuple[str, int], handed: Handed) -> bool:
        for _ in range(len(self.workers)):
            with self._lock:
                ready = [w for w in self.workers if w.ready.is_set() and w.channel is not None]
                if not ready:
                    break
                w = min(ready, key=lambda x: (x.connections, x.index))
                w.connections += 1
            assert w.channel is not None
            handed.worker = w
            try:
                w.channel.post({"op": "conn", "portal": portal}, [sock.fileno()])
            except ChannelClosed:
                with self._lock:
                    w.ready.clear()
                continue
            log.info("worker %d (pid %d): connection from %s:%d", w.index, w.pid, peer[0], peer[1])
            return True
        log.warning("connection from %s:%d closed: no worker is ready", peer[0], peer[1])
        return False

    def status(self) -> dict[str, object]:
        """SIGUSR1's report, as one process gives it (portals, every worker's sessions, FCoE ports: none
        with workers), and each worker's pid, connections and sessions."""
        sessions = self.owner.sessions()
        merged: dict[str, Any] = {"portals": [], "sessions": [], "fcoe_ports": []}
        for w, channel in self._ready():
            try:
                theirs = channel.call("status", wait=METRICS_WAIT)
            except (ChannelClosed, RemoteError) as err:
                log.warning("worker %d: no status: %s", w.index, err)
                continue
            merged["portals"] = merged["portals"] or theirs["portals"]
            merged["sessions"] += theirs["sessions"]
        merged["workers"] = [{"index": w.index, "pid": w.pid, "ready": w.ready.is_set(),
                              "connections": w.connections, "sessions": sessions.get(w.index, 0)}
                             for w in self.workers]
        return merged


def _status(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"status {code}"
