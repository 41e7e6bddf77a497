"""Completions sent from a store's thread never wait for the peer (issue 13): to a socket whose far end
does not read, ``_send_completions`` sends what fits with MSG_DONTWAIT and returns at once; the rest
stays queued in order (nothing queued later overtakes it), and the buffers the output holds are given
back only once it is all sent."""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

import pytest

from hpt.daemon.server import Server
from hpt.iscsi.tcp import TcpConnection

from .test_connection import server  # noqa: F401 - fixture

CHUNK = 64 * 1024


class FakeCore:
    """The parts of :class:`Connection` the driver's sending uses: completions queue output."""

    def __init__(self) -> None:
        self.peer = "127.0.0.1:40000"
        self.lost = False
        self.done: deque[Callable[[], None]] = deque()
        self.out: list[bytes] = []
        self.taken = self.freed = 0  # buffers handed out by data_to_send, given back by output_sent

    def queue(self, data: bytes) -> None:
        self.done.append(lambda: self.out.append(data))

    @property
    def completions(self) -> int:
        return len(self.done)

    def drain_completions(self) -> None:
        while self.done:
            self.done.popleft()()

    def data_to_send(self) -> list[bytes]:
        out, self.out = self.out, []
        self.taken += len(out)
        return out

    def output_sent(self) -> None:
        self.freed = self.taken


@pytest.fixture
def pair(server: Server) -> Iterator[tuple[TcpConnection, FakeCore, socket.socket]]:  # noqa: F811
    with socket.create_server(("127.0.0.1", 0)) as listener:
        far = socket.create_connection(listener.getsockname())
        near, _ = listener.accept()
    near.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
    tc = TcpConnection(near, server.context_for(server.config.portals[0]), server.ring)
    core = FakeCore()
    tc.conn = core  # type: ignore[assignment]
    tc._wake_fd = os.eventfd(0, os.EFD_NONBLOCK)
    yield tc, core, far
    os.close(tc._wake_fd)
    near.close()
    far.close()


def chunks(first: int, count: int) -> list[bytes]:
    return [bytes([i % 251]) * CHUNK for i in range(first, first + count)]


def woken(tc: TcpConnection) -> bool:
    return bool(select.select([tc._wake_fd], [], [], 0)[0])


def test_completions_to_a_peer_that_does_not_read_queue_in_order(
        pair: tuple[TcpConnection, FakeCore, socket.socket]) -> None:
    tc, core, far = pair
    first, second = chunks(0, 64), chunks(64, 16)  # 4 MiB, far beyond both socket buffers
    for c in first:
        core.queue(c)
    t = time.monotonic()
    tc._send_completions()
    assert time.monotonic() - t < 1.0
    assert tc._unsent and core.freed == 0  # the rest waits; nothing it holds is given back yet
    assert woken(tc)  # the connection's thread is told to send the rest
    for c in second:  # later completions queue behind the rest
        core.queue(c)
    tc._send_completions()
    assert not core.completions and core.freed == 0
    with tc.lock:  # held (the connection's thread at work): returns at once, the completion stays queued
        core.queue(b"tail")
        t = time.monotonic()
        done = threading.Thread(target=tc._send_completions)
        done.start()
        done.join(1.0)
        assert not done.is_alive() and time.monotonic() - t < 1.0
        assert core.completions == 1
    expected = b"".join(first + second) + b"tail"
    got = bytearray()

    def read() -> None:
        while len(got) < len(expected):
            data = far.recv(1 << 20)
            if not data:
                return
            got.extend(data)

    reader = threading.Thread(target=read)
    reader.start()
    with tc.lock:  # what the connection's thread does once woken, waiting for the socket here
        assert tc._push()
    reader.join(10)
    assert bytes(got) == expected
    assert not tc._unsent and core.freed == core.taken


def test_a_connection_without_a_wake_up_descriptor_still_serves(server: Server,  # noqa: F811
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Out of descriptors, the eventfd cannot be had: the connection runs on its socket alone (looking
    for other threads' work every NO_WAKE_POLL seconds) instead of its thread dying with the socket
    open and its login never answered."""
    from hpt.iscsi import tcp
    from tests.integration.wire import WireInitiator

    def no_eventfd(*args: object) -> int:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(tcp.os, "eventfd", no_eventfd)
    portal = tcp.TcpPortal("127.0.0.1", 0, server.context_for(server.config.portals[0]), server.ring)
    portal.start()
    try:
        ini = WireInitiator(portal.address[1], "iqn.2026-11.org.hpt.test:disk",
                            name="iqn.2026-11.org.hpt.test:initiator")
        try:
            assert ini.login() == 0
            assert ini.command(bytes(6), lun=1).status == 2  # TEST UNIT READY: POWER ON first
            started = time.monotonic()
            rsp = ini.command(bytes((0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0)), lun=1, read=4096)
            assert rsp.status == 0 and len(rsp.data) == 4096
            assert time.monotonic() - started < 5
        finally:
            ini.close()
    finally:
        portal.stop()
