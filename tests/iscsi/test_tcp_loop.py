"""The portal's event loop (hpt.iscsi.loop): connections wait in its epoll set and serve again on
bytes, on a completion, on their NOP-In timer, and close on shutdown. On the loop (``serve_on_loop``) a
busy connection is served there a burst at a time, with no thread of its own; otherwise a quiet
connection gives its thread up and waits there."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from hpt.daemon.server import Server
from hpt.iscsi import tcp
from hpt.iscsi.loop import Loop
from hpt.iscsi.pdu import Opcode
from tests.integration.wire import WireInitiator, write10

from ..scsi.held_store import HeldStore
from .test_connection import (
    TARGET,
    server,  # noqa: F401 - fixture
)

INITIATOR = "iqn.2026-11.org.hpt.test:initiator"


def wait_for(what: Callable[[], bool], timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not what():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def serving_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("iscsi ")]


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


@pytest.fixture(params=[True, False], ids=["loop", "threads"])
def portal(server: Server, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
           request: pytest.FixtureRequest) -> Iterator[tcp.TcpPortal]:
    monkeypatch.setattr(tcp, "PARK_AFTER", 0.1)
    p = tcp.TcpPortal("127.0.0.1", 0, server.context_for(server.config.portals[0]), server.ring,
                      nop_interval=30, serve_on_loop=request.param)
    p.start()
    yield p
    p.stop(logout_grace=0)


def logged_in(portal: tcp.TcpPortal, isid: int = 0x23D000000042) -> WireInitiator:
    ini = WireInitiator(portal.address[1], TARGET, name=INITIATOR, isid=isid)
    assert ini.login() == 0
    assert ini.command(bytes(6), lun=1).status == 2  # POWER ON reported: later commands run
    return ini


def test_the_loop_resumes_on_bytes_and_on_time() -> None:
    loop = Loop("test")
    woke: list[str] = []
    a, b = socket.socketpair()
    try:
        assert loop.park((a.fileno(),), None, lambda: woke.append("bytes"))
        assert len(loop) == 1
        time.sleep(0.2)
        assert woke == []  # nothing readable, no time set: it waits
        b.send(b"x")
        assert wait_for(lambda: woke == ["bytes"])
        assert len(loop) == 0
        a.recv(1)
        assert loop.park((a.fileno(),), time.monotonic() + 0.1, lambda: woke.append("time"))
        assert wait_for(lambda: woke == ["bytes", "time"])
        b.send(b"y")  # resumed once: what comes later is the resumed thread's
        time.sleep(0.2)
        assert woke == ["bytes", "time"]
    finally:
        loop.stop()
        a.close()
        b.close()
    assert not loop.park((a.fileno(),), None, lambda: None)  # stopped: the caller keeps its thread


def test_quiet_sessions_give_their_threads_up_and_serve_again(portal: tcp.TcpPortal) -> None:
    inis = [logged_in(portal, 0x23D000000100 + i) for i in range(24)]
    try:
        assert wait_for(lambda: len(portal.loop) == 24), f"{len(portal.loop)} parked"
        assert serving_threads() == []  # 24 sessions, no thread serving any of them
        for i, ini in enumerate(inis):
            data = bytes([i + 1]) * 512
            assert ini.command(write10(i, 1), lun=1, write=data).status == 0
        for i, ini in enumerate(inis):
            rsp = ini.command(read10(i, 1), lun=1, read=512)
            assert rsp.status == 0 and rsp.data == bytes([i + 1]) * 512
        assert wait_for(lambda: len(portal.loop) == 24)  # quiet again: parked again
        if portal.serve_on_loop:  # each command served by the loop's thread, no thread of its own
            assert serving_threads() == []
            assert sum(tc.loop_runs for tc in portal.connections) >= 48
            assert sum(tc.parks for tc in portal.connections) == 0
        else:
            assert sum(tc.parks for tc in portal.connections) >= 48
    finally:
        for ini in inis:
            ini.close()
    assert wait_for(lambda: not portal.connections)  # each closed socket woke its connection to end


def test_a_completion_reaches_a_parked_session(server: Server, portal: tcp.TcpPortal) -> None:  # noqa: F811
    held = HeldStore(4 << 20)
    server.targets[TARGET].lu(1).store = held  # type: ignore[union-attr]
    ini = logged_in(portal)
    try:
        held.data[4096:4608] = b"\x5a" * 512
        ini.send(read10(8, 1), lun=1, read=512)
        held.wait_held(1)
        assert wait_for(lambda: len(portal.loop) == 1)  # the READ is at the store, the session parked
        held.release()  # completes on this thread: sent from here to the parked connection
        rsp = ini.response()
        assert rsp.status == 0 and rsp.data == b"\x5a" * 512
    finally:
        ini.close()


@pytest.mark.parametrize("on_loop", [True, False], ids=["loop", "threads"])
def test_a_parked_session_is_pinged_and_closed_when_it_does_not_answer(
        server: Server, monkeypatch: pytest.MonkeyPatch, on_loop: bool) -> None:  # noqa: F811
    monkeypatch.setattr(tcp, "PARK_AFTER", 0.1)
    portal = tcp.TcpPortal("127.0.0.1", 0, server.context_for(server.config.portals[0]), server.ring,
                           nop_interval=1.0, nop_count=2, serve_on_loop=on_loop)
    portal.start()
    try:
        ini = logged_in(portal)
        try:
            assert wait_for(lambda: len(portal.loop) == 1, 0.9)  # parked before its first ping
            (tc,) = portal.connections
            ops = []
            while True:  # pings, never answered, then the end
                try:
                    hdr, _ = ini._recv()
                except ConnectionError:
                    break
                ops.append(hdr[0] & 0x3F)
            assert ops and set(ops) == {Opcode.NOP_IN}
            assert (tc.loop_runs if on_loop else tc.parks) >= 1 and tc.ended.wait(5)
        finally:
            ini.close()
    finally:
        portal.stop(logout_grace=0)


def test_stopping_the_portal_ends_its_parked_sessions(portal: tcp.TcpPortal) -> None:
    inis = [logged_in(portal, 0x23D000000200 + i) for i in range(4)]
    try:
        assert wait_for(lambda: len(portal.loop) == 4)
        conns = list(portal.connections)
        portal.stop(logout_grace=1)
        assert all(tc.ended.is_set() for tc in conns)
        for ini in inis:  # each was asked to log out (Async Message, event 1), then closed
            hdr, _ = ini._recv()
            assert hdr[0] & 0x3F == Opcode.ASYNC_MSG and hdr[36] == 1
            with pytest.raises(ConnectionError):
                while True:
                    ini._recv()
        assert serving_threads() == [] and len(portal.loop) == 0
    finally:
        for ini in inis:
            ini.close()


def test_a_command_cut_by_a_pause_is_kept_while_quiet(portal: tcp.TcpPortal) -> None:
    """A WRITE whose immediate data stops half way for longer than PARK_AFTER: the part the fast lane
    keeps in the driver's stage is not dropped by parking (only the loop holds it), and the WRITE
    completes when the rest comes."""
    ini = logged_in(portal)
    try:
        data = bytes(range(256)) * 16  # 4 KiB: 8 blocks
        ini.itt += 1
        hdr = bytearray(48)
        hdr[0], hdr[1] = 0x01, 0xA1  # SCSI Command, F, W, SIMPLE
        hdr[5:8] = len(data).to_bytes(3, "big")
        hdr[8:16] = bytes((0, 1)) + bytes(6)  # LUN 1
        struct.pack_into(">IIII", hdr, 16, ini.itt, len(data), ini.cmdsn, ini.expstatsn)
        hdr[32:42] = write10(16, 8)
        ini.cmdsn += 1
        ini.sock.sendall(bytes(hdr) + data[:1000])
        time.sleep(0.5)  # PARK_AFTER is 0.1 s here
        ini.sock.sendall(data[1000:])
        assert ini.response().status == 0
        rsp = ini.command(read10(16, 8), lun=1, read=4096)
        assert rsp.status == 0 and rsp.data == data
    finally:
        ini.close()


def test_a_peer_that_does_not_read_never_stalls_the_loop(portal: tcp.TcpPortal) -> None:
    """Pipelined READs whose answers the peer does not read (a send buffer of a few KiB): the loop
    sends what the socket takes without waiting (the fast lane's send in C too: the rest of its burst
    is queued, its slots held), serves another session meanwhile, and the first gets every answer in
    order once it reads."""
    slow = logged_in(portal, 0x23D000000300)
    try:
        pattern = [bytes([i]) * 8192 for i in range(64)]
        for i, data in enumerate(pattern):
            assert slow.command(write10(16 * i, 16), lun=1, write=data).status == 0
        (tc,) = portal.connections
        tc.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        tags = [slow.send(read10(16 * (i % 64), 16), lun=1, read=8192) for i in range(100)]
        time.sleep(0.3)
        runs = tc.loop_runs
        tags.append(slow.send(read10(0, 16), lun=1, read=8192))  # its bytes come while answers wait
        time.sleep(0.5)
        assert tc.loop_runs - runs < 50  # taken once, not resumed again and again while unsent
        other = logged_in(portal, 0x23D000000301)  # served while the first's answers wait
        try:
            rsp = other.command(read10(16 * 5, 16), lun=1, read=8192)
            assert rsp.status == 0 and rsp.data == pattern[5]
        finally:
            other.close()
        for i, tag in enumerate(tags):
            rsp = slow.response()
            assert (rsp.tag, rsp.status, rsp.data) == (tag, 0, pattern[i % 64 if i < 100 else 0])
        if portal.serve_on_loop:
            assert tc.thread is None and tc.loop_runs > 1
    finally:
        slow.close()


def test_a_session_whose_store_waits_gets_a_thread(server: Server, portal: tcp.TcpPortal) -> None:  # noqa: F811
    """A LU whose store may wait for a device (``BackingStore.waits``) is never served on the loop: the
    session gets a thread of its own while busy, and waits in the loop once quiet."""
    held = HeldStore(4 << 20)
    server.targets[TARGET].lu(1).store = held  # type: ignore[union-attr]
    assert held.waits and server.targets[TARGET].lu(1).waits  # type: ignore[union-attr]
    ini = logged_in(portal)
    try:
        (tc,) = portal.connections
        ini.send(read10(8, 1), lun=1, read=512)
        held.wait_held(1)
        held.release()
        assert ini.response().status == 0
        assert tc.thread is not None  # a thread of its own served the command
        assert wait_for(lambda: len(portal.loop) == 1)  # then, quiet, it waits in the loop
        assert wait_for(lambda: serving_threads() == [])
    finally:
        ini.close()


def test_one_timer_per_connection_however_often_it_waits() -> None:
    """A busy connection waits in the loop after every burst, each time with its next ping's time: the
    loop keeps one timer for it, not one per wait."""
    loop = Loop("test")
    a, b = socket.socketpair()
    try:
        key = object()
        start = time.monotonic() + 30
        for i in range(1000):
            assert loop.park((a.fileno(),), start + i * 0.001, lambda: None, key=key)
        assert loop.timers <= 2 and len(loop) == 1
        woke: list[int] = []
        assert loop.park((a.fileno(),), time.monotonic() + 0.05, lambda: woke.append(1), key=key)
        assert wait_for(lambda: woke == [1])  # a sooner time replaces the later one
    finally:
        loop.stop()
        a.close()
        b.close()
