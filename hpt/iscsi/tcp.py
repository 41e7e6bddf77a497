"""The iSCSI/TCP driver: sockets in, the sans-I/O :class:`Connection` in the middle, sockets out.

One thread per connection with a blocking socket: one ``recv_into`` takes a burst of headers (and
the small data segments among them) into a staging buffer, handed to the core PDU by PDU; a large
data segment is received straight into the ring slot the core names, with MSG_WAITALL. Commands are
submitted to the SCSI engine from that thread, and each batch of replies leaves with one ``sendmsg``
of header + slot views. Commands that complete later, on a store's thread, are sent from that thread
under the connection's lock. A kernel receive timeout (SO_RCVTIMEO) paces NOP-In keepalives without
a second thread.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.iscsi.connection import Connection
from hpt.iscsi.ratelog import RateLimitedLog
from hpt.native.batch import later

if TYPE_CHECKING:
    from hpt.iscsi.context import IscsiContext
    from hpt.native.ring import Ring

log = logging.getLogger("hpt.iscsi.tcp")
_limited = RateLimitedLog(log)

_IOV_MAX = 1024
#: One receive takes up to this much (a burst of headers, small data segments among them), copied to
#: the core's buffers: copying 4 KiB costs 0.55 us here and a recv_into 1.5 us or more, so a burst of
#: 32 pipelined READ headers takes one system call instead of 32.
STAGE_BYTES = 32 * 1024
#: A data segment (or its rest) of this much or more is received straight into its ring slot (no copy).
DIRECT_BYTES = 8 * 1024


def sendmsg_all(sock: socket.socket, bufs: list[bytes | bytearray | memoryview]) -> None:
    """Write every buffer with as few ``sendmsg`` calls as the kernel allows (partial writes resumed)."""
    while bufs:
        batch = bufs[:_IOV_MAX]
        sent = sock.sendmsg(batch)
        total = sum(len(b) for b in batch)
        if sent == total:
            bufs = bufs[_IOV_MAX:]
            continue
        rest: list[bytes | bytearray | memoryview] = []
        for i, b in enumerate(batch):
            n = len(b)
            if sent >= n:
                sent -= n
                continue
            rest.append(memoryview(b)[sent:])
            rest.extend(batch[i + 1:])
            break
        bufs = rest + bufs[_IOV_MAX:]


class TcpConnection:
    """Runs one accepted socket until the peer or the core closes it."""

    def __init__(self, sock: socket.socket, context: IscsiContext, ring: Ring, *, nop_interval: float = 15.0,
                 nop_count: int = 3, on_exit: Callable[[TcpConnection], None] | None = None) -> None:
        self.sock = sock
        peer = sock.getpeername()
        local = sock.getsockname()
        self.conn = Connection(context, ring, peer=f"{peer[0]}:{peer[1]}", local=f"{local[0]}:{local[1]}",
                               shutdown=self._shutdown)
        self.nop_interval = nop_interval
        self.nop_count = nop_count
        self.login_timeout = context.limits.login_timeout
        self.on_exit = on_exit
        # the connection's thread holds this while it works on the core; others take it to reach in
        self.lock = threading.Lock()
        self._ident = 0  # the connection thread's id, once it runs
        self._sender = 0  # the thread inside _send_completions (which sends what its sends complete)
        self.conn.notify = self._completed
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # until login ends, the thread wakes every second to enforce the login timeout
        self._timeout(min(self.login_timeout, 1.0))
        self.thread = threading.Thread(target=self.run, name=f"iscsi {self.conn.peer}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _timeout(self, seconds: float) -> None:
        """SO_RCVTIMEO: how long a receive waits before the loop looks at its timers (0: forever)."""
        sec = int(seconds)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                             struct.pack("ll", sec, int((seconds - sec) * 1e6)))

    @property
    def prelogin(self) -> bool:
        """Not yet in the full feature phase (a connection :class:`Admission` may shed)."""
        return not self.conn.full_feature

    def shed(self, reason: str) -> None:
        """Close from another thread: the loop sees the socket end and cleans up."""
        log.info("connection %s: %s", self.conn.peer, reason)
        self.conn.close(reason)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _shutdown(self, reason: str) -> None:
        """Stop reading; what is already queued still goes out (reinstatement, reset, SIGTERM)."""
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def _completed(self) -> None:
        """The SCSI engine finished a command on another thread (a store's completion thread): turn
        it into PDUs and send them from here. On the connection's own thread nothing is needed: its
        loop drains completions after each burst and sends them with the burst's replies. Nor inside
        :meth:`_send_completions` on this thread: a command that its send completed (the last piece of a
        streamed READ, freed once sent) is sent by the ``_flush`` loop there, whose lock this thread holds."""
        ident = threading.get_ident()
        if ident == self._ident or ident == self._sender or later(self, self._send_completions):
            return  # the loop sends them, or the end of the completion batch does
        self._send_completions()

    def _send_completions(self) -> None:
        with self.lock:
            conn = self.conn
            conn.drain_completions()
            if conn.lost or not conn.pending_output:
                return
            self._sender = threading.get_ident()
            try:
                self._flush()
            except OSError as err:  # the connection's thread sees the error too and closes
                log.debug("connection %s: send after completion: %s", conn.peer, err)
            finally:
                self._sender = 0

    def run(self) -> None:
        self._ident = threading.get_ident()
        conn = self.conn
        sock = self.sock
        lock = self.lock
        recv_into = sock.recv_into
        waitall = socket.MSG_WAITALL
        dontwait = socket.MSG_DONTWAIT
        stage = memoryview(bytearray(STAGE_BYTES))
        pos = end = 0  # stage[pos:end]: received, not yet handed to the core
        more = False  # the fast lane waits for the rest of a command at stage[pos:end]
        missed = 0
        deadline = time.monotonic() + self.login_timeout  # 0 once the connection has logged in
        try:
            while not conn.closing:
                if deadline:
                    if conn.full_feature:
                        deadline = 0
                        self._timeout(max(self.nop_interval, 0))
                    elif time.monotonic() >= deadline:
                        conn.close(f"login not finished within {self.login_timeout:g} s")
                        break
                if pos < end and not more:  # a burst is staged: its PDUs go to the core under one hold
                    with lock:
                        while pos < end and not conn.closing:
                            taken = conn.take_burst(stage[pos:end], STAGE_BYTES)  # READs, WRITEs in C
                            pos += taken
                            if conn.lane_more:  # the rest of a command is coming: keep it, receive more
                                stage[:end - pos] = bytes(stage[pos:end])  # at most one PDU
                                pos, end, more = 0, end - pos, True
                                break
                            if taken:
                                if conn.pending_output > 256:
                                    self._flush()
                                continue
                            buf = conn.expect()
                            n = min(len(buf), end - pos)
                            buf[:n] = stage[pos:pos + n]
                            pos += n
                            self._received(n)
                    continue
                if more:  # more of the command the lane waits for, after what is staged
                    buf, direct = stage[end:], False
                else:
                    pos = end = 0
                    buf = conn.expect()
                    direct = len(buf) >= DIRECT_BYTES  # a data segment's (rest) goes straight to its buffer
                into = buf if direct or more else stage
                try:
                    if conn.pending_output:
                        # replies are queued: take what is already here, and send them only when
                        # nothing more is waiting (one sendmsg for a whole burst of commands)
                        try:
                            n = recv_into(into, len(into), dontwait)
                        except BlockingIOError:
                            with lock:
                                self._flush()
                            continue
                    else:
                        n = recv_into(into, len(into), waitall if direct else 0)
                except (BlockingIOError, TimeoutError):
                    if deadline:
                        continue  # still logging in: no pings, the login deadline is checked above
                    # idle for nop_interval: ping, and give up after nop_count unanswered pings
                    with lock:
                        if conn.ping():
                            missed = 0
                        else:
                            missed += 1
                            if missed >= self.nop_count:
                                conn.close("NOP-In ping not answered")
                        self._flush()
                    continue
                if n == 0:
                    conn.close("peer closed the connection")
                    break
                if direct:
                    with lock:
                        self._received(n)
                else:
                    end += n
                    more = False
            hold = conn.hold_until - time.monotonic()
            if hold > 0:  # a failed CHAP login: its answer waits (hpt.iscsi.limits.AuthPenalty)
                time.sleep(hold)
            with lock:
                self._flush()
        except (ConnectionError, OSError) as err:
            log.info("connection %s: %s", conn.peer, err)
        except Exception:
            log.exception("connection %s: internal error, closing", conn.peer)
        finally:
            with lock:
                conn.connection_lost()
                conn.drain_completions()
            try:
                sock.close()
            except OSError:
                pass
            if self.on_exit is not None:
                self.on_exit(self)

    def _received(self, n: int) -> None:
        """``n`` bytes are in the core's buffer: run what became ready (the caller holds the lock)."""
        conn = self.conn
        conn.received(n)
        if conn.ready:
            conn.execute_ready()
        elif conn.completions:  # e.g. a task management response that needed no wait
            conn.drain_completions()
        if conn.pending_output > 256:
            self._flush()

    def request_logout(self, seconds: int) -> bool:
        """Ask the initiator to log out (target shutdown); safe from any thread."""
        with self.lock:
            if not self.conn.request_logout(seconds):
                return False
            try:
                self._flush()
            except OSError:
                return False
            return True

    def _flush(self) -> None:
        """Send what is queued; what sending freed may queue more (a streamed READ's next piece, read
        from a store in memory): drained and sent in turn."""
        conn = self.conn
        while True:
            out = conn.data_to_send()
            if out:
                sendmsg_all(self.sock, out)
            conn.output_sent()
            if not conn.completions or conn.lost:
                return
            conn.drain_completions()


class TcpPortal:
    """A listening socket that hands each accepted connection to a :class:`TcpConnection` thread."""

    def __init__(self, host: str, port: int, context: IscsiContext, ring: Ring, *,
                 nop_interval: float = 15.0, nop_count: int = 3) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(128)
        self.address = self.sock.getsockname()
        self.context = context
        self.ring = ring
        self.nop_interval = nop_interval
        self.nop_count = nop_count
        self.connections: set[TcpConnection] = set()
        self._lock = threading.Lock()
        self._stopping = False
        self.thread = threading.Thread(target=self._accept_loop, name=f"portal {host}:{port}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _accept_loop(self) -> None:
        admission = self.context.admission
        while not self._stopping:
            try:
                sock, peer = self.sock.accept()
            except OSError as err:
                if self._stopping:
                    return
                if err.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of descriptors: make room by closing the oldest connection still logging
                    # in (so a real login gets in), and back off instead of spinning
                    shed = admission.shed_oldest(f"shed: the target is out of descriptors ({err.strerror})")
                    _limited.warning("accept", "portal %s:%d: cannot accept: %s%s", *self.address[:2],
                                     err.strerror, "" if shed else " (no connection to shed)")
                    time.sleep(0.01 if shed else 0.1)
                continue
            try:
                tc = TcpConnection(sock, self.context, self.ring, nop_interval=self.nop_interval,
                                   nop_count=self.nop_count, on_exit=self._exited)
            except OSError as err:
                log.info("accept: %s", err)
                sock.close()
                continue
            host = peer[0]
            if not admission.admit(tc, host):
                _limited.warning(host, "connection from %s refused: %d connections (limits: %d in all, %d "
                                 "per address), none still logging in", host, len(admission),
                                 self.context.limits.max_connections,
                                 self.context.limits.max_connections_per_address)
                sock.close()
                continue
            with self._lock:  # started under the lock: stop() never sees an unstarted thread
                if self._stopping:
                    admission.gone(tc)
                    sock.close()
                    return
                self.connections.add(tc)
                tc.start()

    def _exited(self, tc: TcpConnection) -> None:
        self.context.admission.gone(tc)
        with self._lock:
            self.connections.discard(tc)

    def cores(self) -> list[Connection]:
        """The iSCSI connections open through this portal now."""
        with self._lock:
            return [tc.conn for tc in self.connections]

    def stop(self, timeout: float = 10.0, logout_grace: int = 2) -> None:
        """Stop accepting; ask each logged-in initiator to log out (Async event 1) and give it
        ``logout_grace`` seconds; then each remaining connection finishes the command in hand,
        flushes, and closes."""
        self._stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        with self._lock:
            conns = list(self.connections)
        asked = [tc for tc in conns if tc.request_logout(logout_grace)]
        deadline = time.monotonic() + logout_grace + 1
        for tc in asked:
            tc.thread.join(max(0.0, deadline - time.monotonic()))
        for tc in conns:
            if tc.thread.is_alive():
                tc.conn.close("target shutting down")
                tc._shutdown("target shutting down")
        for tc in conns:
            tc.thread.join(timeout)
