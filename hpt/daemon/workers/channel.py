"""The line between hptd's main process and one worker: an AF_UNIX SOCK_SEQPACKET pair, one JSON
message per packet, descriptors passed beside it (SCM_RIGHTS). Either side sends requests
(``call``: waits for the reply; ``post``: none) and answers the other's on threads of its own, so a
handler that waits (for a LU's lock, or for a third process) never holds up the replies it needs."""

from __future__ import annotations

import array
import base64
import itertools
import json
import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable
from typing import Any

log = logging.getLogger("hpt.daemon.workers")

#: The largest message (a LU's reservation state with its registrations, base64 in JSON).
MAX_MESSAGE = 1 << 20
#: Seconds a request waits for its reply before the other side counts as gone.
CALL_TIMEOUT = 30.0

Message = dict[str, Any]
#: ``handler(message, fds)``: the reply's fields (None: no reply), run on a thread of its own; a reply's
#: ``fds`` (descriptors the handler keeps open) go with it, and reach the caller as its reply's ``fds``.
Handler = Callable[[Message, list[int]], "Message | None"]


def pack_text(text: str) -> str:
    """A long text (a worker's metrics) for a message: compressed, then base64 for JSON; metrics text
    shrinks about tenfold, so some 10 MiB of it fits in one message."""
    return base64.b64encode(zlib.compress(text.encode(), 6)).decode()


def unpack_text(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode()


class ChannelClosed(ConnectionError):
    """The other process is gone (or did not answer in time)."""


class RemoteError(RuntimeError):
    """The other process could not carry out the request (its reason)."""


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """The two ends of a new channel (the first for the main process, the second for the worker)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for end in (a, b):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MAX_MESSAGE)
        end.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * MAX_MESSAGE)
    return a, b


class Channel:
    """One end: ``handler`` answers the other end's requests; ``on_close`` runs once it is gone."""

    def __init__(self, sock: socket.socket, handler: Handler, name: str,
                 on_close: Callable[[], None] | None = None, inline: frozenset[str] = frozenset()) -> None:
        """``inline``: requests that never wait, answered on the reading thread itself (a thread per
        request costs more than the answer)."""
        self.sock = sock
        self.handler = handler
        self.inline = inline
        self.name = name
        self.on_close = on_close
        self._ids = itertools.count(1)
        self._waiting: dict[int, list[Any]] = {}  # id -> [event, reply]
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self.closed = False
        self._reader = threading.Thread(target=self._read, name=f"channel {name}", daemon=True)

    def start(self) -> None:
        self._reader.start()

    def post(self, message: Message, fds: list[int] | None = None) -> None:
        """Send without waiting for an answer (ChannelClosed if the other end is gone)."""
        data = json.dumps(message).encode()
        if len(data) > MAX_MESSAGE:
            raise ValueError(f"{message.get('op')}: message of {len(data)} bytes is over {MAX_MESSAGE}")
        try:
            with self._send_lock:
                if fds:
                    socket.send_fds(self.sock, [data], fds)
                else:
                    self.sock.send(data)
        except OSError as err:
            raise ChannelClosed(f"{self.name}: {err.strerror or err}") from None

    def call(self, op: str, wait: float = CALL_TIMEOUT, **fields: Any) -> Message:
        """Send request ``op`` and wait up to ``wait`` seconds for its reply's fields (descriptors it
        carried, now the caller's, in ``fds``); ChannelClosed when none comes, RemoteError when the other
        side could not do it."""
        ident = next(self._ids)
        waiter = [threading.Event(), None]
        with self._lock:
            if self.closed:
                raise ChannelClosed(f"{self.name}: closed")
            self._waiting[ident] = waiter
        try:
            self.post({"op": op, "id": ident, **fields})
            if not waiter[0].wait(wait):
                raise ChannelClosed(f"{self.name}: no answer to {op} within {wait:.0f} s")
        finally:
            with self._lock:
                self._waiting.pop(ident, None)
        reply = waiter[1]
        if reply is None:
            raise ChannelClosed(f"{self.name}: closed while waiting for {op}")
        if "error" in reply:
            raise RemoteError(f"{self.name}: {op}: {reply['error']}")
        return reply

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _receive(self, buf: bytearray) -> tuple[memoryview, list[int]]:
        """One message into ``buf`` (allocated once: a fresh 1 MiB buffer per message cost more than
        the rest of a round trip) and the descriptors that came with it."""
        ancillary = socket.CMSG_SPACE(16 * array.array("i").itemsize)
        n, anc, _flags, _addr = self.sock.recvmsg_into([buf], ancillary)
        fds: list[int] = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got = array.array("i")
                got.frombytes(data[: len(data) - len(data) % got.itemsize])
                fds.extend(got)
        return memoryview(buf)[:n], fds

    def _read(self) -> None:
        buf = bytearray(MAX_MESSAGE)
        try:
            while True:
                try:
                    data, fds = self._receive(buf)
                except OSError:
                    break
                if not data:
                    break
                try:
                    message = json.loads(bytes(data))
                except ValueError:
                    log.error("%s: a damaged message (%d bytes)", self.name, len(data))
                    continue
                if "re" in message:
                    if fds:  # descriptors a reply carries (``call``'s reply["fds"])
                        message["fds"] = fds
                    with self._lock:
                        waiter = self._waiting.get(message["re"])
                    if waiter is not None:
                        waiter[1] = message
                        waiter[0].set()
                    else:  # too late: nobody takes its descriptors
                        for fd in fds:
                            os.close(fd)
                    continue
                if message.get("op") in self.inline:
                    self._answer(message, fds)
                else:
                    threading.Thread(target=self._answer, args=(message, fds), daemon=True,
                                     name=f"{self.name} {message.get('op')}").start()
        finally:
            with self._lock:
                self.closed = True
                waiters = list(self._waiting.values())
            for waiter in waiters:
                waiter[0].set()
            self.sock.close()
            if self.on_close is not None:
                self.on_close()

    def _answer(self, message: Message, fds: list[int]) -> None:
        try:
            reply = self.handler(message, fds)
        except Exception as err:  # the request's failure goes back to whoever asked
            log.exception("%s: %s failed", self.name, message.get("op"))
            reply = {"error": str(err)}
        if "id" in message:
            reply = dict(reply or {})
            fds = reply.pop("fds", None)  # descriptors of this process the reply carries (kept open here)
            try:
                self.post({"re": message["id"], **reply}, fds)
            except ChannelClosed:
                pass
