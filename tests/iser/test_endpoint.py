"""The iSER endpoint over fake verbs: RECV parsing, SEND/RDMA work request chains, completions, teardown.

The fake QP records work requests; the test plays the HCA and the initiator: it copies message bytes
into posted receive buffers, reads SENDs out of the registered send buffers, and carries out RDMA Writes
and Reads against its own memory, all through real addresses.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import Opcode, Pdu
from hpt.iser.endpoint import NOP_COUNT, NOP_INTERVAL, RECV, RECV_BUFFERS, SEND, IserConnection
from hpt.iser.header import ISER_HDR_LEN, Hello, HelloReply, IserHeader
from hpt.iser.memory import LARGE_MIN, RegisteredBuffers, RegisteredRing
from hpt.scsi.core.constants import Status
from tests.iscsi.initiator import Initiator, Reply

from .fake_verbs import ENUMS, MR, FakeCmid, FakeVerbs
from .test_connection_iser import CONFIG, ISER_KEYS, TARGET, rw10


@dataclass
class Wire(Initiator):
    """An initiator whose PDUs travel as RECVs into ``ep`` and whose replies are the SENDs it posts."""

    ep: IserConnection
    remote: IserHeader = field(default_factory=IserHeader)
    memory: dict[int, bytearray] = field(default_factory=dict)  # rkey -> buffer (VA = its address)
    ops: list[int] = field(default_factory=list)  # opcodes of the work requests seen, in order

    def __post_init__(self) -> None:
        super().__init__(self.ep.core)

    def send(self, hdr: bytearray, data: bytes = b"", ahs: bytes = b"") -> None:
        from hpt.iscsi import pdu as P

        P.set_dsl(hdr, len(data))
        hdr[4] = len(ahs) // 4  # TotalAHSLength in words (RFC 7143 11.2.1.4)
        self.deliver(self.remote.encode() + bytes(hdr) + ahs + data)
        self.remote = IserHeader()

    def deliver(self, msg: bytes) -> None:
        wr = self.ep.qp.recvs.pop(0)
        assert len(msg) <= wr.sg[0].length
        ctypes.memmove(wr.sg[0].addr, msg, len(msg))
        self.ep.completion(RECV, wr.wr_id & 0xFFFFFFF, True, len(msg), "")
        self.ep.pump()

    def replies(self) -> list[Reply]:
        out: list[Reply] = []
        qp = self.ep.qp
        while qp.sends:
            wr = qp.sends.pop(0)
            self.ops.append(wr.opcode)
            sge = wr.sg[0]
            kind, idx = (wr.wr_id >> 28) & 0xF, wr.wr_id & 0xFFFFFFF
            if wr.opcode == ENUMS.IBV_WR_SEND:
                msg = ctypes.string_at(sge.addr, sge.length)
                assert IserHeader.decode(msg) == IserHeader()
                pdu = Pdu(msg[ISER_HDR_LEN : ISER_HDR_LEN + 48])
                out.append(Reply(pdu, msg[ISER_HDR_LEN + 48 :]))
                if pdu.opcode in (Opcode.SCSI_RSP, Opcode.LOGIN_RSP, Opcode.TEXT_RSP, Opcode.LOGOUT_RSP):
                    self.expstatsn = (pdu.w24 + 1) & 0xFFFFFFFF
            elif wr.opcode == ENUMS.IBV_WR_RDMA_WRITE:
                assert not wr.signaled and wr.next_wr is not None  # unsignaled, chained with its response
                buf = self.memory[wr.rkey]
                start = wr.remote_addr - ctypes.addressof(ctypes.c_char.from_buffer(buf))
                buf[start : start + sge.length] = ctypes.string_at(sge.addr, sge.length)
                continue  # completes with its SEND
            else:
                buf = self.memory[wr.rkey]
                start = wr.remote_addr - ctypes.addressof(ctypes.c_char.from_buffer(buf))
                ctypes.memmove(sge.addr, bytes(buf[start : start + sge.length]), sge.length)
            self.ep.completion(kind, idx, True, 0, "")
            self.ep.pump()
        return out

    def register(self, data: bytes) -> tuple[int, int]:
        rkey = 0x500 + len(self.memory)
        buf = self.memory[rkey] = bytearray(data)
        return rkey, ctypes.addressof(ctypes.c_char.from_buffer(buf))


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(parse_config(CONFIG))
    yield srv
    srv.stop()


def make_wire(server: Server) -> Wire:
    """An endpoint over fake verbs on ``server``'s first portal, started, and its initiator."""
    device = SimpleNamespace(verbs=FakeVerbs(), ring_mr=RegisteredRing(MR, server.ring),
                             large=RegisteredBuffers(MR))
    core = Connection(server.context_for(server.config.portals[0]), server.ring, peer="10.0.2.15:4000",
                      local="10.0.2.15:3260", transport="iser", large=device.large)
    ep = IserConnection(1, device, FakeCmid(), None, core, 8192, 4)  # type: ignore[arg-type]
    ep.to_rts(4)
    assert ep.qp.states == [ENUMS.IBV_QPS_INIT, ENUMS.IBV_QPS_RTR, ENUMS.IBV_QPS_RTS]
    ep.start()
    assert len(ep.qp.recvs) == RECV_BUFFERS
    return Wire(ep)


@pytest.fixture
def wire(server: Server) -> Wire:
    return make_wire(server)


def login(w: Wire) -> None:
    r = w.login(TARGET, ISER_KEYS)
    assert r.pdu.w36 >> 16 == 0 and w.ep.core.rdma
    w.scsi(bytes(6))  # clears the POWER ON unit attention


def test_login_write_read_over_work_requests(wire: Wire) -> None:
    login(wire)
    data = os.urandom(16384)
    rkey, va = wire.register(data)
    wire.remote = IserHeader(write_stag=rkey, write_va=va)
    (rsp,) = wire.scsi(rw10(0x2A, 0, 32), write=data)
    assert rsp.pdu.opcode == Opcode.SCSI_RSP and rsp.pdu.b3 == Status.GOOD
    assert ENUMS.IBV_WR_RDMA_READ in wire.ops
    rkey, va = wire.register(bytes(16384))
    wire.remote = IserHeader(read_stag=rkey, read_va=va)
    wire.ops.clear()
    (rsp,) = wire.scsi(rw10(0x28, 0, 32), read=16384)
    assert rsp.pdu.b3 == Status.GOOD
    assert wire.ops == [ENUMS.IBV_WR_RDMA_WRITE, ENUMS.IBV_WR_SEND]
    assert bytes(wire.memory[rkey]) == data
    assert wire.ep.core.ring.in_use == 0  # released when the chained SEND completed
    assert len(wire.ep.qp.recvs) == RECV_BUFFERS  # every receive buffer re-posted


def test_commands_larger_than_a_ring_slot_move_through_a_registered_large_buffer(wire: Wire) -> None:
    login(wire)
    n = wire.ep.core.ring.slot_size + 65536
    data = os.urandom(n)
    rkey, va = wire.register(data)
    wire.remote = IserHeader(write_stag=rkey, write_va=va)
    (rsp,) = wire.scsi(rw10(0x2A, 0, n // 512), write=data)
    assert rsp.pdu.b3 == Status.GOOD
    rkey, va = wire.register(bytes(n))
    wire.remote = IserHeader(read_stag=rkey, read_va=va)
    (rsp,) = wire.scsi(rw10(0x28, 0, n // 512), read=n)
    assert rsp.pdu.b3 == Status.GOOD and bytes(wire.memory[rkey]) == data
    large = wire.ep.device.large
    assert large.pinned == LARGE_MIN  # the read reused the registered buffer the write had freed
    assert wire.ep.core.ring.in_use == 0


def test_logout_disconnects_after_the_response_is_sent(wire: Wire) -> None:
    login(wire)
    (out,) = wire.logout()
    assert out.pdu.opcode == Opcode.LOGOUT_RSP
    ep = wire.ep
    assert ep.draining and ep.cmid.disconnected and ep.qp.states[-1] == ENUMS.IBV_QPS_ERR
    assert not ep.finished  # the posted receives still have to flush
    for wr in list(ep.qp.recvs):
        ep.completion(RECV, wr.wr_id & 0xFFFFFFF, False, 0, "WR_FLUSH_ERR")
    assert ep.finished
    ep.destroy()
    assert ep.qp.closed and ep.core.closing


def test_idle_connection_is_pinged_then_given_up(wire: Wire) -> None:
    login(wire)
    ep = wire.ep
    ep.last_heard = 100.0
    ep.keepalive(100.0 + NOP_INTERVAL / 2)
    assert not ep.qp.sends  # not idle long enough
    ep.keepalive(100.0 + NOP_INTERVAL)
    ep.pump()
    (ping,) = wire.replies()
    assert ping.pdu.opcode == Opcode.NOP_IN and ping.pdu.itt == 0xFFFFFFFF
    now = 100.0 + NOP_INTERVAL
    for _ in range(NOP_COUNT):  # the initiator never answers
        now += NOP_INTERVAL
        ep.keepalive(now)
    assert ep.draining and "NOP-In" in ep.core.close_reason


def test_failed_work_request_closes_the_connection(wire: Wire) -> None:
    login(wire)
    idx = wire.ep.send.take()  # as if a SEND were outstanding in it
    wire.ep.completion(SEND, idx, False, 0, "RETRY_EXC_ERR")
    assert wire.ep.draining and "RETRY_EXC_ERR" in wire.ep.core.close_reason


def test_bad_messages_close_the_connection(wire: Wire) -> None:
    wire.deliver(b"\x10" + bytes(10))  # shorter than an iSER header
    assert wire.ep.draining and "bad iSER message" in wire.ep.core.close_reason


def test_hello_gets_a_hello_reply(wire: Wire) -> None:
    wire.deliver(Hello(1, 1, 8).encode())
    wr = wire.ep.qp.sends.pop(0)
    assert HelloReply.decode(ctypes.string_at(wr.sg[0].addr, wr.sg[0].length)) == HelloReply(1, 1, 4)


def test_rdma_reads_wait_for_read_credits(wire: Wire) -> None:
    login(wire)
    ep = wire.ep
    reads = []
    for lba in range(6):
        rkey, va = wire.register(bytes(512))
        wire.remote = IserHeader(write_stag=rkey, write_va=va)
        hdr_itt = wire.itt + 1
        wire.send(*_write_pdu(wire, lba))
        reads.append(hdr_itt)
    posted = [wr for wr in ep.qp.sends if wr.opcode == ENUMS.IBV_WR_RDMA_READ]
    assert len(posted) == 4 and ep.reads_out == 4  # the read depth; two wait in order
    assert len(wire.replies()) == 6  # completing reads lets the others go out
    assert ep.reads_out == 0 and ep.core.ring.in_use == 0


def _write_pdu(w: Wire, lba: int) -> tuple[bytearray, bytes]:
    from hpt.iscsi import pdu as P
    from hpt.scsi.core.lun import encode_lun

    w.itt += 1
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0x80 | 0x20 | 1, encode_lun(1), w.itt, w20=512, w24=w.cmdsn,
                          w28=w.expstatsn)
    hdr[32:48] = rw10(0x2A, lba, 1).ljust(16, b"\0")
    w.cmdsn += 1
    return hdr, b""



@pytest.mark.parametrize("engine", ["threads", "uring"])
def test_a_store_that_completes_on_its_own_thread(engine: str, tmp_path: object) -> None:
    """With a file store on a real disk, commands complete on the engine's thread: the driver is
    notified, pumps, and the RDMA Read, the write's response, the RDMA Write and the read's response
    all go out; nothing waits for the next incoming message."""
    from hpt.store import engines

    if engine == "uring":
        try:
            engines.shared_engine("uring")
        except Exception as err:  # noqa: BLE001 - UringUnavailable: the reason is printed
            pytest.skip(f"io_uring unavailable here: {err}")
    path = f"/var/tmp/hpt-iser-async-{os.getpid()}.img"
    config = CONFIG.replace('store = "ram"\n  size = "4M"',
                            f'store = "file"\n  path = "{path}"\n  size = "4M"\n  io_engine = "{engine}"')
    srv = Server(parse_config(config))
    try:
        w = wire.__wrapped__(srv)  # type: ignore[attr-defined]
        notified = threading.Event()
        w.ep.core.notify = notified.set
        login(w)

        def finish() -> list[Reply]:
            out: list[Reply] = []
            deadline = time.monotonic() + 10
            while not any(r.pdu.opcode == Opcode.SCSI_RSP for r in out):
                assert notified.wait(max(0.0, deadline - time.monotonic())), "no completion notified"
                notified.clear()
                w.ep.pump()
                out += w.replies()
            return out

        data = os.urandom(16384)
        rkey, va = w.register(data)
        w.remote = IserHeader(write_stag=rkey, write_va=va)
        out = w.scsi(rw10(0x2A, 0, 32), write=data)
        out += finish() if not out else []
        assert out[-1].pdu.opcode == Opcode.SCSI_RSP and out[-1].pdu.b3 == Status.GOOD
        rkey, va = w.register(bytes(16384))
        w.remote = IserHeader(read_stag=rkey, read_va=va)
        out = w.scsi(rw10(0x28, 0, 32), read=16384)
        out += finish() if not out else []
        assert out[-1].pdu.b3 == Status.GOOD and bytes(w.memory[rkey]) == data
        assert w.ep.core.ring.in_use == 0
    finally:
        srv.stop()
        os.unlink(path)


def test_work_requests_the_send_queue_refuses_close_the_connection(wire: Wire,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    login(wire)
    qp = wire.ep.qp
    monkeypatch.setattr(qp, "post_send", lambda wrs, n: 0)
    assert wire.nop_out() == []  # its NOP-In was not posted
    assert wire.ep.draining and wire.ep.cmid.disconnected


def test_receives_the_lane_failed_to_post_again_do_not_hold_the_drain(wire: Wire) -> None:
    """A lane RECV re-post the QP refused (verbs.c lane_flush: ``Lane.lost``) never completes: the
    connection closes, and its drain ends when every posted RECV has flushed, not at the timeout."""
    login(wire)
    ep = wire.ep
    lost = ep.qp.recvs.pop(0)  # the lane took its command, then failed to post it again
    ep.lane_enter()
    assert ep.lane.on
    ep.lane.error = 12  # type: ignore[misc]
    ep.lane.lost = lambda: [lost.wr_id & 0xFFFFFFF]  # type: ignore[method-assign]
    ep.lane_leave(time.monotonic())
    assert ep.draining and "fast lane" in ep.core.close_reason
    assert lost.wr_id not in ep._inflight
    for wr in ep.qp.recvs:  # the QP in error flushes what was posted
        ep.completion(RECV, wr.wr_id & 0xFFFFFFF, False, 0, "WR_FLUSH_ERR")
    assert ep.finished


def test_the_slots_of_rdma_reads_the_lane_gave_up_on_are_freed_once_the_qp_is_destroyed(wire: Wire) -> None:
    """A lane WRITE's RDMA Read that did not complete in its wait (verbs.c lane_fetch: ``Lane.orphans``)
    holds its ring slot until it completes; on a connection destroyed before it did (the drain
    timeout), the slot is freed once the QP is gone, and not before: the Read could still land."""
    login(wire)
    ep = wire.ep
    ring = ep.core.ring
    held = ring.in_use
    slot = ring.alloc()
    ep.lane.orphans = lambda: [slot]  # type: ignore[method-assign]
    ep.close("test")
    assert ring.in_use == held + 1
    qp_closed = []
    real_close = ep.qp.close
    ep.qp.close = lambda: (qp_closed.append(ring.in_use), real_close())  # type: ignore[method-assign]
    ep.destroy()  # as the portal does at the drain timeout, the Read still in flight
    assert qp_closed == [held + 1]  # the slot was still held while the QP existed
    assert ep.qp.closed and ring.in_use == held
