"""The iSCSI/TCP driver: sockets in, the sans-I/O :class:`Connection` in the middle, sockets out.

Each portal has an event loop (:mod:`hpt.iscsi.loop`: one thread, one epoll set) that serves its
connections burst by burst: when a connection's socket has bytes, one ``recv_into`` takes a burst of
headers (and the small data segments among them) into the loop's staging buffer, handed to the core
PDU by PDU (the fast lane in C answers whole runs of READs and WRITEs in one call); a large data
segment is received straight into the ring slot the core names. Commands are submitted to the SCSI
engine from there, and each batch of replies leaves with one ``sendmsg`` of header + slot views, sent
without waiting for the peer; when the socket holds nothing more the connection waits in the epoll set
again (its socket, its wake-up eventfd, its login or NOP-In timer). A connection whose commands may
wait for a device (``Connection.waits``) is served instead by a thread of its own, with a blocking
socket (a large data segment's rest received with MSG_WAITALL) that waits in ``poll`` on the socket
and its wake-up, and goes back to the loop once quiet for :data:`PARK_AFTER` seconds. Commands that
complete later, on a store's thread, are sent from that thread without ever blocking it on the peer
(issue 13): it takes the connection's lock only if free and sends with MSG_DONTWAIT; what does not fit
stays queued, in order, and the connection is woken (an eventfd) to send it as the socket takes more.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hpt.iscsi.connection import Connection
from hpt.iscsi.loop import Loop
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
#: Seconds between looks for work other threads left, on a connection that could get no wake-up
#: descriptor (its eventfd failed: the process is out of descriptors)
NO_WAKE_POLL = 0.05
#: Seconds a closing connection's last sends wait for a peer that does not read.
FINAL_SEND_WAIT = 10
#: Seconds of silence (nothing received, nothing to send) after which a logged-in connection served by
#: a thread of its own is parked in the portal's loop (:mod:`hpt.iscsi.loop`): its thread ends, and
#: starting another when it has work again costs about 80 us here (median of 2,000 starts), so only a
#: connection quiet this long pays it, never one between two commands.
PARK_AFTER = 2.0
#: Receives one connection may make on the loop, and bytes it may move (received and answered), before
#: the loop turns to the others: a peer that sends without pause still shares the thread, and so does
#: one whose few commands ask for much data (128K READs: with a budget of 64 receives and no byte
#: limit, 4 sessions at QD8 saw a p99 latency of 38 ms, against 2 ms with this).
LOOP_BUDGET = 64
LOOP_TURN_BYTES = 256 * 1024
#: Output buffers the loop leaves queued for a peer that is not reading before it stops receiving from
#: that peer (a thread of its own would block in its send there).
LOOP_BACKLOG = 256


def send_some(sock: socket.socket, bufs: list[bytes | bytearray | memoryview],
              flags: int = 0) -> list[bytes | bytearray | memoryview]:
    """Write the buffers with as few ``sendmsg`` calls as the kernel allows (partial writes resumed);
    with MSG_DONTWAIT, stop when the socket takes no more and return what is left (else ``[]``)."""
    while bufs:
        batch = bufs[:_IOV_MAX]
        try:
            sent = sock.sendmsg(batch, (), flags)
        except BlockingIOError:
            return bufs
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
    return bufs


class TcpConnection:
    """Runs one accepted socket until the peer or the core closes it."""

    def __init__(self, sock: socket.socket, context: IscsiContext, ring: Ring, *, nop_interval: float = 15.0,
                 nop_count: int = 3, on_exit: Callable[[TcpConnection], None] | None = None,
                 loop: Loop | None = None, on_login: Callable[[TcpConnection], None] | None = None,
                 serve_on_loop: bool = True) -> None:
        """``loop``: the portal's event loop, where the connection waits without a thread and, with
        ``serve_on_loop`` while its commands never wait for a device, is served (None: a thread of
        its own serves it throughout); ``on_login``: called once it reaches the full feature phase."""
        self.sock = sock
        peer = sock.getpeername()
        local = sock.getsockname()
        self.conn = Connection(context, ring, peer=f"{peer[0]}:{peer[1]}", local=f"{local[0]}:{local[1]}",
                               shutdown=self._shutdown)
        self.nop_interval = nop_interval
        self.nop_count = nop_count
        self.login_timeout = context.limits.login_timeout
        self.on_exit = on_exit
        self.on_login = on_login
        self.loop = loop
        self.serve_on_loop = serve_on_loop and loop is not None
        self.ended = threading.Event()  # set once the connection is closed and its thread gone
        self.parks = 0  # how many times a thread of its own gave it back to the loop
        self.loop_runs = 0  # how many bursts the loop served
        # what the serving loop keeps while the connection waits: the login deadline (0 once logged
        # in), when the peer went quiet, unanswered NOP-In pings, the start of a command the fast
        # lane waits for the rest of
        self._deadline = -1.0
        self._quiet = 0.0
        self._missed = 0
        self._held = b""
        # the connection's thread holds this while it works on the core; others take it to reach in
        self.lock = threading.Lock()
        self._ident = 0  # the serving thread's id, while it serves
        self._sender = 0  # the thread inside _push (which sends what its sends complete)
        self._unsent: list[bytes | bytearray | memoryview] = []  # taken from the core, not yet sent
        # woken (an eventfd, made when the thread runs) when another thread leaves work for the
        # connection's thread: completions it could not drain (the lock was held), output the socket
        # would not take
        self._wake_fd = -1
        self._wake_guard = threading.Lock()  # the fd is not written once closed (nor its number reused)
        self._poll = select.poll()
        self._polling_out = False
        self.conn.notify = self._completed
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # a backstop for a receive that blocks (the rest of a data segment): the loop's timers run
        # on poll's timeout; until login ends, at least every second
        self._timeout(min(self.login_timeout, 1.0))
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve it: it waits in the loop for its first bytes (or, without a loop, on its own thread)."""
        self._setup()
        if not (self._loop_serves() and self._wait_on_loop(self._deadline)):
            self._on_thread()

    def _setup(self) -> None:
        """The login deadline and the wake-up descriptor, once."""
        if self._deadline >= 0:
            return
        self._deadline = time.monotonic() + self.login_timeout
        with self._wake_guard:
            try:
                self._wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            except OSError as err:  # out of descriptors: the connection still runs (see _wait)
                log.info("connection %s: no wake-up descriptor: %s", self.conn.peer, err.strerror)
        self._poll.register(self.sock, select.POLLIN)
        if self._wake_fd >= 0:
            self._poll.register(self._wake_fd, select.POLLIN)

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
        it into PDUs and send what the socket takes now from here. On the serving thread nothing is
        needed: it drains completions after each burst and sends them with the burst's replies. Nor
        inside :meth:`_push` on this thread: a command that its send completed (the last piece of a
        streamed READ, freed once sent) is sent by the loop there."""
        ident = threading.get_ident()
        if ident == self._ident or ident == self._sender or later(self, self._send_completions):
            return  # the loop sends them, or the end of the completion batch does
        self._send_completions()

    def _send_completions(self) -> None:
        """From a thread that must never wait for this peer. If the lock is held its holder drains
        the queue: the serving thread before it waits, another thread once it lets go (as here).
        Output the socket does not take stays queued for the serving thread, woken to send it as the
        socket drains."""
        conn = self.conn
        while self.lock.acquire(blocking=False):
            try:
                if not self._push(wait=False):
                    self._wake()
            except OSError as err:  # the serving thread sees the error too and closes
                log.debug("connection %s: send after completion: %s", conn.peer, err)
            finally:
                self.lock.release()
            if not conn.completions or conn.lost:  # none queued by a thread that found the lock held
                return

    def _wake(self) -> None:
        """Wake the connection from its wait (any thread)."""
        with self._wake_guard:
            if self._wake_fd >= 0:
                os.eventfd_write(self._wake_fd, 1)

    def _wait(self, timeout: float) -> bool | None:
        """On a thread of its own: wait up to ``timeout`` seconds (negative: for ever) for the socket to
        have bytes (True) or a wake-up (False; the work it stands for is done: queued completions
        drained, queued output sent as far as the socket takes it); None when the time is up."""
        out = bool(self._unsent)
        if out != self._polling_out:
            self._poll.modify(self.sock, select.POLLIN | select.POLLOUT if out else select.POLLIN)
            self._polling_out = out
        # without a wake-up descriptor (none could be had) look for work left by others now and then
        capped = self._wake_fd < 0 and not 0 <= timeout <= NO_WAKE_POLL
        wait = NO_WAKE_POLL if capped else timeout
        events = self._poll.poll(wait * 1000 if wait >= 0 else None)
        if not events:
            if not capped:
                return None
            events = [(-1, 0)]
        readable = work = False
        for fd, ev in events:
            if fd == self._wake_fd:
                if fd >= 0:
                    try:
                        os.eventfd_read(fd)
                    except BlockingIOError:
                        pass
                work = True
            else:
                readable = bool(ev & ~select.POLLOUT)  # bytes, an end or an error: recv tells which
                work = work or bool(ev & select.POLLOUT)
        if work:
            with self.lock:
                self._push(wait=False)
        return readable

    def _looping(self) -> bool:
        """Whether this thread is the portal loop's (serving the connection a burst at a time)."""
        return self.loop is not None and threading.get_ident() == self.loop.ident

    def run(self) -> None:
        """Serve until the connection ends, or until it waits in the loop again (a thread of its own
        ends then; the loop resumes it when there is work, which comes back here)."""
        self._ident = threading.get_ident()
        self._setup()
        parked = False
        try:
            parked = self._serve()
        except (ConnectionError, OSError) as err:
            log.info("connection %s: %s", self.conn.peer, err)
        except Exception:
            log.exception("connection %s: internal error, closing", self.conn.peer)
        finally:
            if not parked:
                self._end()

    def _serve(self) -> bool:
        """Receive, hand to the core, send, until the connection closes (False) or waits in the loop
        (True). On the loop's thread it serves what is there, then waits; on a thread of its own it
        waits here and goes to the loop only after :data:`PARK_AFTER` seconds of silence."""
        conn = self.conn
        sock = self.sock
        lock = self.lock
        recv_into = sock.recv_into
        waitall = socket.MSG_WAITALL
        dontwait = socket.MSG_DONTWAIT
        looping = self._looping()
        budget = LOOP_BUDGET if looping else -1  # receives left before the loop turns to others
        turn_end = conn.rx_bytes + conn.tx_bytes + LOOP_TURN_BYTES  # and the bytes it may move
        fd = sock.fileno()  # lent to the fast lane, which sends its answers itself
        assert self.loop is not None or not looping
        stage = self.loop.stage if looping else memoryview(bytearray(STAGE_BYTES))  # type: ignore[union-attr]
        # stage[pos:end]: received, not yet handed to the core; ``more``: the fast lane waits for the
        # rest of a command at stage[pos:end] (kept in _held while the connection waits in the loop)
        pos, end, more = 0, len(self._held), bool(self._held)
        stage[:end] = self._held
        self._held = b""
        alone = False  # after a large data segment the next header is received alone (see below)
        eager = True  # bytes are arriving: receive before polling (poll only when nothing is there)
        quiet = self._quiet  # when the peer went quiet (0: bytes came since the last poll), paces pings
        missed = self._missed  # NOP-In pings unanswered
        deadline = self._deadline  # 0 once the connection has logged in
        while not conn.closing:
            if deadline:
                if conn.full_feature:
                    deadline = 0
                    self._timeout(max(self.nop_interval, 0))
                    if self.on_login is not None:
                        self.on_login(self)
                elif time.monotonic() >= deadline:
                    conn.close(f"login not finished within {self.login_timeout:g} s")
                    break
            if pos < end and not more:  # a burst is staged: its PDUs go to the core under one hold
                with lock:
                    while pos < end and not conn.closing:
                        # READs and WRITEs answered in C, sent there too unless a send is unfinished
                        taken = conn.take_burst(stage[pos:end], STAGE_BYTES, -1 if self._unsent else fd,
                                                looping)
                        pos += taken
                        if conn.lane_more:  # the rest of a command is coming: keep it, receive more
                            stage[:end - pos] = bytes(stage[pos:end])  # at most one PDU
                            pos, end, more = 0, end - pos, True
                            break
                        if taken:
                            if conn.pending_output > 256:
                                self._push(not looping)
                            continue
                        buf = conn.expect()
                        n = min(len(buf), end - pos)
                        buf[:n] = stage[pos:pos + n]
                        pos += n
                        self._received(n, not looping)
                continue
            if more:  # more of the command the lane waits for, after what is staged
                buf, direct = stage[end:], False
            else:
                pos = end = 0
                buf = conn.expect()
                # a data segment (its rest) of DIRECT_BYTES or more goes straight to its buffer, and
                # so does the header after it: its PDU most likely carries one too (a stream of
                # large WRITEs), whose start the stage would take only to copy it (128K WRITEs lost
                # 30% to that copy); small PDUs go to the stage in bursts
                big = len(buf) >= DIRECT_BYTES
                direct, alone = big or alone, big
            into = buf if direct or more else stage
            try:
                if looping and conn.rx_bytes + conn.tx_bytes > turn_end:
                    budget = 0  # its turn is over: the loop serves the others
                if (eager or conn.pending_output) and budget and not (looping and self._backlogged()):
                    # take what is already here; queued replies go only when nothing more is
                    # waiting (one sendmsg for a whole burst of commands)
                    try:
                        n = recv_into(into, len(into), dontwait)
                        budget -= 1
                    except BlockingIOError:
                        eager = False
                        if conn.pending_output or conn.completions:
                            with lock:
                                self._push(wait=False)
                        continue
                else:
                    if conn.completions or (looping and (conn.pending_output or self._unsent)):
                        with lock:  # (a thread of its own sends its queue when poll says it can)
                            self._push(wait=False)
                    now = time.monotonic()
                    if deadline:
                        timeout = max(deadline - now, 0.0)
                    elif self.nop_interval > 0:
                        quiet = quiet or now
                        timeout = max(quiet + self.nop_interval - now, 0.0)  # overdue: ping now
                    else:
                        timeout = -1.0  # no pings: wait for ever
                    if looping and timeout != 0:  # wait in the loop: it resumes the connection here
                        self._deadline, self._quiet, self._missed = deadline, quiet, missed
                        self._held = bytes(stage[pos:end]) if more else b""
                        if self._wait_on_loop(now + timeout if timeout >= 0 else None):
                            return True
                        self._held = b""
                        self._on_thread()  # no loop to wait in: a thread of its own goes on
                        return True
                    if looping:
                        got = None  # its login deadline or its ping is due
                    else:
                        # quiet, logged in, nothing queued: wait PARK_AFTER at most, then park
                        # (never with part of a command in the stage, which only this thread keeps)
                        park = (not deadline and not more and self.loop is not None and self._wake_fd >= 0
                                and (timeout < 0 or timeout > PARK_AFTER) and not self._unsent
                                and not conn.pending_output and not conn.completions)
                        got = self._wait(PARK_AFTER if park else timeout)
                        if got is None and park:
                            self._deadline, self._quiet, self._missed = 0, quiet or now, missed
                            if self._park(now + timeout if timeout >= 0 else None):
                                return True
                            continue
                    if got is None:
                        if deadline:
                            continue  # still logging in: no pings, the login deadline is checked above
                        # idle for nop_interval: ping, and give up after nop_count unanswered pings
                        quiet = time.monotonic()
                        with lock:
                            if conn.ping():
                                missed = 0
                            else:
                                missed += 1
                                if missed >= self.nop_count:
                                    conn.close("NOP-In ping not answered")
                            self._push(wait=False)
                        continue
                    if not got:
                        continue
                    # bytes are here: returns at once (a data segment's rest: once all of it is here)
                    n = recv_into(into, len(into), waitall if direct else 0)
                    eager = n == len(into)  # filled: more may be waiting
            except TimeoutError:
                continue  # a data segment's rest is late: the timers above run
            if n == 0:
                conn.close("peer closed the connection")
                break
            quiet = 0.0
            if direct:
                with lock:
                    self._received(n, not looping)
            else:
                end += n
                more = False
        if looping:  # its last sends may wait (a failed CHAP login's delay, a peer that does not read)
            try:
                threading.Thread(target=self._close_on_thread, name=f"iscsi {conn.peer}", daemon=True).start()
                return True
            except RuntimeError:
                pass
        self._finish()
        return False

    def _finish(self) -> None:
        """The last replies (a Logout Response, a reject) go out, after a failed CHAP login's delay
        (:class:`hpt.iscsi.limits.AuthPenalty`), waiting for a peer that does not read for
        :data:`FINAL_SEND_WAIT` at most."""
        hold = self.conn.hold_until - time.monotonic()
        if hold > 0:
            time.sleep(hold)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", FINAL_SEND_WAIT, 0))
        with self.lock:
            self._push()

    def _close_on_thread(self) -> None:
        """A connection the loop served has closed: its last sends and its end, off the loop."""
        self._ident = threading.get_ident()
        try:
            self._finish()
        except OSError as err:
            log.info("connection %s: %s", self.conn.peer, err)
        except Exception:
            log.exception("connection %s: internal error, closing", self.conn.peer)
        finally:
            self._end()

    def _wait_on_loop(self, due: float | None) -> bool:
        """Wait in the loop until bytes come (or, with output the peer has not taken, until the
        socket takes more), a wake-up, or ``due`` (monotonic; None: no timer); False when it could
        not. From here on no thread serves it: a completion sends itself (or wakes it)."""
        assert self.loop is not None
        self._ident = 0
        sock = self.sock.fileno()
        if self.loop.park((sock, self._wake_fd), due, self._resume, key=self, drain=self._wake_fd,
                          write=sock if self._unsent else -1, read=not self._backlogged()):
            return True
        self._ident = threading.get_ident()
        return False

    def _backlogged(self) -> bool:
        """The peer has left more than :data:`LOOP_BACKLOG` of its replies unread: on the loop it is
        not read from (nor woken by its bytes) until it takes them."""
        return len(self._unsent) > LOOP_BACKLOG

    def _park(self, due: float | None) -> bool:
        """A thread of its own gives the connection back to the loop (see :meth:`_wait_on_loop`)."""
        if self._wait_on_loop(due):
            self.parks += 1
            return True
        return False

    def _resume(self) -> None:
        """There is work (from the loop's thread): serve a burst here, or on a thread of its own when
        its commands may wait for a device."""
        if self._loop_serves():
            self.loop_runs += 1
            self.run()
        else:
            self._on_thread()

    def _loop_serves(self) -> bool:
        """Whether the loop serves the connection's work itself: it may, the connection can be woken
        there (it has its eventfd), and its commands never wait for a device."""
        return self.serve_on_loop and self._wake_fd >= 0 and not self.conn.waits()

    def _on_thread(self) -> None:
        """Serve the connection on a new thread of its own (RuntimeError: none could be started)."""
        self.thread = threading.Thread(target=self.run, name=f"iscsi {self.conn.peer}", daemon=True)
        self.thread.start()

    def _end(self) -> None:
        """The connection is over: give back what it held, close its descriptors, tell the portal."""
        conn = self.conn
        with self.lock:
            self._unsent = []  # never sent: connection_lost frees what it held
            conn.connection_lost()
            conn.drain_completions()
        if self.loop is not None:
            self.loop.forget((self.sock.fileno(), self._wake_fd))
        with self._wake_guard:
            if self._wake_fd >= 0:
                os.close(self._wake_fd)
            self._wake_fd = -1
        try:
            self.sock.close()
        except OSError:
            pass
        self.ended.set()
        if self.on_exit is not None:
            self.on_exit(self)

    def _received(self, n: int, wait: bool = True) -> None:
        """``n`` bytes are in the core's buffer: run what became ready (the caller holds the lock);
        ``wait``: a large backlog of output is sent waiting for the peer (on a thread of its own)."""
        conn = self.conn
        conn.received(n)
        if conn.ready:
            conn.execute_ready()
        elif conn.completions:  # e.g. a task management response that needed no wait
            conn.drain_completions()
        if conn.pending_output > 256:
            self._push(wait)

    def request_logout(self, seconds: int) -> bool:
        """Ask the initiator to log out (target shutdown); safe from any thread (what the socket does
        not take now is left to the serving thread)."""
        with self.lock:
            if not self.conn.request_logout(seconds):
                return False
            try:
                if not self._push(wait=False):
                    self._wake()
            except OSError:
                return False
        if self.conn.completions:  # queued by a store's thread that found the lock held
            self._send_completions()
        return True

    def _push(self, wait: bool = True) -> bool:
        """Drain queued completions and send what is queued, the unsent rest of earlier sends first
        (the caller holds the lock). Sending frees what the sent output held, which may queue more (a
        streamed READ's next piece, read from a store in memory): drained and sent in turn. Without
        ``wait`` (MSG_DONTWAIT) stop when the socket takes no more: False, the rest stays queued."""
        conn = self.conn
        flags = 0 if wait else socket.MSG_DONTWAIT
        self._sender = threading.get_ident()
        try:
            while True:
                if conn.completions:
                    conn.drain_completions()
                out = conn.data_to_send()
                if out:
                    if self._unsent:
                        self._unsent.extend(out)
                        out = self._unsent
                    self._unsent = send_some(self.sock, out, flags)
                elif self._unsent:
                    self._unsent = send_some(self.sock, self._unsent, flags)
                if self._unsent:
                    return False
                conn.output_sent()
                if not conn.completions or conn.lost:
                    return True
        finally:
            self._sender = 0


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket listening on ``host``:``port`` (OSError when the address cannot be had)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class TcpPortal:
    """A listening socket that hands each accepted connection to a :class:`TcpConnection` thread."""

    def __init__(self, host: str, port: int, context: IscsiContext, ring: Ring, *,
                 nop_interval: float = 15.0, nop_count: int = 3, listen: bool = True,
                 on_gone: Callable[[str], None] | None = None,
                 on_login: Callable[[str], None] | None = None, serve_on_loop: bool = True) -> None:
        """``listen=False``: no socket of its own; another process accepts and hands each connection
        to :meth:`adopt` (hptd's worker processes). ``on_gone(peer)``: a connection ended;
        ``on_login(peer)``: one reached the full feature phase; ``serve_on_loop``: the portal's event loop
        serves the connections whose commands never wait for a device (False: it only keeps the quiet
        ones, and each busy connection has a thread of its own)."""
        self.sock: socket.socket | None = None
        self.address: tuple[str, int] = (host, port)
        if listen:
            self.sock = listening_socket(host, port)
            self.address = self.sock.getsockname()
        self.on_gone = on_gone
        self.on_login = on_login
        self.context = context
        self.ring = ring
        self.nop_interval = nop_interval
        self.nop_count = nop_count
        self.serve_on_loop = serve_on_loop
        self.connections: set[TcpConnection] = set()
        # serves its connections a burst at a time; where the quiet ones wait, threadless
        self.loop = Loop(f"portal {host}:{port}", STAGE_BYTES)
        self._lock = threading.Lock()
        self._stopping = False
        self.thread = threading.Thread(target=self._accept_loop, name=f"portal {host}:{port}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _accept_loop(self) -> None:
        admission = self.context.admission
        assert self.sock is not None
        while not self._stopping:
            try:
                sock, _peer = self.sock.accept()
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
            self.adopt(sock)

    def adopt(self, sock: socket.socket) -> bool:
        """Serve an accepted connection (False: refused, and closed)."""
        admission = self.context.admission
        try:
            tc = TcpConnection(sock, self.context, self.ring, nop_interval=self.nop_interval,
                               nop_count=self.nop_count, on_exit=self._exited, loop=self.loop,
                               on_login=None if self.on_login is None else self._logged_in,
                               serve_on_loop=self.serve_on_loop)
        except OSError as err:
            log.info("accept: %s", err)
            sock.close()
            return False
        host = tc.conn.peer.rsplit(":", 1)[0]
        if not admission.admit(tc, host):
            _limited.warning(host, "connection from %s refused: %d connections (limits: %d in all, %d "
                             "per address), none still logging in", host, len(admission),
                             self.context.limits.max_connections,
                             self.context.limits.max_connections_per_address)
            sock.close()
            return False
        with self._lock:  # started under the lock: stop() never sees an unstarted thread
            if self._stopping:
                admission.gone(tc)
                sock.close()
                return False
            self.connections.add(tc)
            tc.start()
        return True

    def _exited(self, tc: TcpConnection) -> None:
        self.context.admission.gone(tc)
        with self._lock:
            self.connections.discard(tc)
        if self.on_gone is not None:
            self.on_gone(tc.conn.peer)

    def _logged_in(self, tc: TcpConnection) -> None:
        if self.on_login is not None:
            self.on_login(tc.conn.peer)

    def shed_peer(self, peer: str, reason: str) -> bool:
        """Close the connection from ``peer`` ("host:port") if it is still logging in (hptd's main
        process makes room under a connection limit counted over its workers); whether it did."""
        with self._lock:
            found = next((tc for tc in self.connections if tc.conn.peer == peer), None)
        if found is None or not found.prelogin:
            return False
        found.shed(reason)
        return True

    def cores(self) -> list[Connection]:
        """The iSCSI connections open through this portal now."""
        with self._lock:
            return [tc.conn for tc in self.connections]

    def stop(self, timeout: float = 10.0, logout_grace: int = 2) -> None:
        """Stop accepting; ask each logged-in initiator to log out (Async event 1) and give it
        ``logout_grace`` seconds; then each remaining connection finishes the command in hand,
        flushes, and closes."""
        self._stopping = True
        if self.sock is not None:
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
            tc.ended.wait(max(0.0, deadline - time.monotonic()))
        for tc in conns:
            if not tc.ended.is_set():  # a parked one wakes: its socket ends
                tc.conn.close("target shutting down")
                tc._shutdown("target shutting down")
        for tc in conns:
            tc.ended.wait(timeout)
        self.loop.stop()
