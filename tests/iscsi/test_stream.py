"""Large READs and WRITEs in pieces (hpt.iscsi.stream, hpt.scsi.core.stream): the data is right, a
READ holds one piece until its Data-In is sent, a WRITE is solicited one piece at a time, the memory
budgets give BUSY, and an aborted or dropped command gives everything back."""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import BHS_LEN, Opcode, Pdu, TmfFunction, TmfResponse
from hpt.scsi.core import budget
from hpt.scsi.core.budget import BUDGET
from hpt.scsi.core.constants import Status
from hpt.scsi.core.lun import encode_lun
from hpt.scsi.core.stream import PIECE
from hpt.scsi.core.transfer import DataBuffers

from .initiator import Initiator, Reply
from .test_connection import CONFIG as BASE_CONFIG
from .test_connection import TARGET, make_conn

MIB = 1 << 20
# test_connection's target with a 64 MiB LUN and a 16 MiB session budget
CONFIG = '[limits]\nsession_memory = "16M"\n' + BASE_CONFIG.replace('size = "4M"', 'size = "64M"')


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(parse_config(CONFIG))
    yield srv
    srv.stop()


@pytest.fixture
def ini(server: Server) -> Initiator:
    i = Initiator(make_conn(server))
    assert i.login(TARGET, [("MaxBurstLength", "262144")]).pdu.w36 >> 16 == 0
    i.scsi(bytes(6))  # the POWER ON unit attention
    return i


def rw16(op: int, lba: int, blocks: int, fua: bool = False) -> bytes:
    return struct.pack(">BBQIBB", op, 0x08 if fua else 0, lba, blocks, 0, 0)


def sent(ini: Initiator) -> list[Reply]:
    """What the connection sends now, reported sent (as ``Initiator.replies``, without its copies)."""
    raw = memoryview(b"".join(bytes(b) for b in ini.conn.data_to_send()))
    ini.conn.output_sent()
    out, off = [], 0
    while off < len(raw):
        pdu = Pdu(bytes(raw[off:off + BHS_LEN]))
        start = off + BHS_LEN + pdu.ahs_len
        out.append(Reply(pdu, bytes(raw[start:start + pdu.dsl])))
        off = start + pdu.dsl + (-pdu.dsl & 3)
    return out


def settle(ini: Initiator, seconds: float = 0.5) -> None:
    """Wait for work other threads queue for the connection (a stream's next piece), and do it."""
    end = time.monotonic() + seconds
    while not ini.conn.completions and time.monotonic() < end:
        time.sleep(0.005)
    ini.conn.drain_completions()


def all_back(ini: Initiator, seconds: float = 5.0) -> bool:
    """Whether every stream and every byte of buffer memory is given back within ``seconds``: a
    stream's end runs on the blocking pool, so the last piece's memory may come back a moment after
    the connection let it go."""
    end = time.monotonic() + seconds
    while True:
        ini.conn.drain_completions()
        if not ini.conn.streams and DataBuffers.heap_in_use() == 0:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.005)


def drain(ini: Initiator) -> list[Reply]:
    """Everything the connection has to send, sending each piece's Data-In before the next is read."""
    out: list[Reply] = []
    while True:
        settle(ini)
        got = sent(ini)
        if not got:
            return out
        out += got


def read_unread(ini: Initiator, cdb: bytes, length: int) -> None:
    """A READ whose Data-In the initiator never takes (nothing is reported sent)."""
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0xC1, encode_lun(1), ini.next_itt(), w20=length, w24=ini.cmdsn,
                          w28=ini.expstatsn)
    hdr[32:48] = cdb
    ini.cmdsn += 1
    ini.send(hdr)


def data_of(replies: list[Reply]) -> bytes:
    return b"".join(bytes(r.data) for r in replies if r.pdu.opcode == Opcode.DATA_IN)


def write_streamed(ini: Initiator, lba: int, payload: bytes, fua: bool = False) -> list[Reply]:
    """A WRITE(16) answering each R2T; returns every reply. Checks that nothing is solicited beyond the
    piece the store waits for."""
    itt = ini.itt + 1
    replies = ini.scsi(rw16(0x8A, lba, len(payload) // 512, fua), write=payload, immediate=8192)
    seen: list[Reply] = list(replies)
    done = 0
    while True:
        r2ts = [r for r in replies if r.pdu.opcode == Opcode.R2T]
        if not r2ts:
            replies = drain(ini)
            seen += replies
            if not [r for r in replies if r.pdu.opcode == Opcode.R2T]:
                return seen
            continue
        replies = []
        for r2t in r2ts:
            off, length = r2t.pdu.w40, r2t.pdu.w44
            assert off + length <= -(-(done + 1) // PIECE) * PIECE or off >= done  # one piece at a time
            replies += ini.data_out(itt, r2t.pdu.w20, off, payload[off:off + length], datasn=0)
            done = max(done, off + length)
        seen += replies


def test_a_streamed_write_then_read_round_trips(ini: Initiator, server: Server) -> None:
    payload = os.urandom(5 * MIB + 4096)
    replies = write_streamed(ini, 100, payload, fua=True)
    assert replies[-1].pdu.opcode == Opcode.SCSI_RSP and replies[-1].pdu.b3 == Status.GOOD
    r2ts = [r for r in replies if r.pdu.opcode == Opcode.R2T]
    assert r2ts[0].pdu.w40 == 8192 and sum(r.pdu.w44 for r in r2ts) == len(payload) - 8192
    store = server.targets[TARGET].lu(1).store  # type: ignore[union-attr]
    got = bytearray(len(payload))
    store.read_into(100 * 512, memoryview(got))
    assert got == payload
    replies = ini.scsi(rw16(0x88, 100, len(payload) // 512), read=len(payload)) + drain(ini)
    assert data_of(replies) == payload
    assert [r.pdu.w36 for r in replies if r.pdu.opcode == Opcode.DATA_IN] == list(range(len(replies) - 1))
    assert replies[-1].pdu.opcode == Opcode.SCSI_RSP and replies[-1].pdu.b3 == Status.GOOD
    assert not ini.conn.streams and DataBuffers.heap_in_use() == 0


def test_an_undrained_read_holds_one_piece(ini: Initiator) -> None:
    first = ini.scsi(rw16(0x88, 0, 16 * MIB // 512), read=16 * MIB)  # the first piece, sent
    assert len(data_of(first)) == PIECE
    settle(ini)
    queued = ini.conn.data_to_send()  # the second piece, which the initiator does not read
    assert PIECE <= sum(len(b) for b in queued) < PIECE + 64 * 1024
    settle(ini, 0.2)
    assert not ini.conn.data_to_send()  # nothing more until the second piece is on the wire
    assert DataBuffers.heap_in_use() == PIECE
    ini.conn.connection_lost()
    assert all_back(ini) and not BUDGET.used(ini.conn.session)


def fill_the_session_budget(ini: Initiator) -> None:
    for _ in range(16):  # 16 pieces of 1 MiB fill the session's 16 MiB
        read_unread(ini, rw16(0x88, 0, 2 * MIB // 512), 2 * MIB)
    assert len(ini.conn.streams) == 16 and BUDGET.used(ini.conn.session) == 16 * MIB


def statuses(replies: list[Reply]) -> list[int]:
    return [r.pdu.b3 for r in replies if r.pdu.opcode == Opcode.SCSI_RSP or r.pdu.b1 & 1]


def test_a_stream_beyond_the_session_budget_waits_then_is_busy(ini: Initiator,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "WAIT", 0.3)
    fill_the_session_budget(ini)
    read_unread(ini, rw16(0x88, 0, 2 * MIB // 512), 2 * MIB)  # waits for memory
    read_unread(ini, rw16(0x88, 0, 8), 4096)  # small commands are not held back
    assert statuses(sent(ini)) == [Status.GOOD]
    time.sleep(0.6)
    settle(ini)
    assert statuses(sent(ini)) == [Status.BUSY]
    ini.conn.connection_lost()
    assert all_back(ini)


def test_a_stream_beyond_the_session_budget_runs_once_memory_is_back(ini: Initiator,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "WAIT", 30.0)
    fill_the_session_budget(ini)
    read_unread(ini, rw16(0x88, 0, 2 * MIB // 512), 2 * MIB)  # waits for memory
    assert len(ini.conn.streams) == 17 and BUDGET.used(ini.conn.session) == 16 * MIB
    assert statuses(drain(ini)) == [Status.GOOD] * 17  # the first ones end, then the waiting one runs
    assert not ini.conn.streams and DataBuffers.heap_in_use() == 0


def test_abort_task_stops_a_streamed_read(ini: Initiator) -> None:
    itt = ini.itt + 1
    first = ini.scsi(rw16(0x88, 0, 16 * MIB // 512), read=16 * MIB)
    assert data_of(first) and not [r for r in first if r.pdu.opcode == Opcode.SCSI_RSP]
    rsp = ini.tmf(TmfFunction.ABORT_TASK, rtt=itt, refcmdsn=ini.cmdsn - 1) + drain(ini)
    tmf = [r for r in rsp if r.pdu.opcode == Opcode.TASK_MGMT_RSP]
    assert tmf and tmf[0].pdu.b2 == TmfResponse.FUNCTION_COMPLETE
    assert len(data_of(first) + data_of(rsp)) <= 2 * PIECE  # stopped at a piece boundary
    assert not [r for r in rsp if r.pdu.opcode == Opcode.SCSI_RSP]  # the aborted command says nothing
    assert not ini.conn.streams and DataBuffers.heap_in_use() == 0


def test_a_streamed_write_cut_off_gives_everything_back(ini: Initiator) -> None:
    ini.scsi(rw16(0x8A, 0, 4 * MIB // 512), write=bytes(4 * MIB), immediate=8192)
    assert ini.conn.streams and DataBuffers.heap_in_use() == PIECE
    ini.conn.connection_lost()
    assert all_back(ini)


def test_a_write_shorter_than_its_transfer_ends_and_lets_its_tag_go(ini: Initiator) -> None:
    """The CDB asks for 2 MiB of a 4 MiB transfer: 2 MiB are solicited and written, the status says the
    residual (RFC 7143 11.4.5.2), and the task is gone from the connection."""
    payload = os.urandom(4 * MIB)
    itt = ini.itt + 1
    hdr = P.initiator_pdu(Opcode.SCSI_CMD, 0xA1, encode_lun(1), itt, w20=len(payload), w24=ini.cmdsn,
                          w28=ini.expstatsn)
    hdr[32:48] = rw16(0x8A, 0, 2 * MIB // 512)
    ini.cmdsn += 1
    ini.send(hdr)
    pending = sent(ini)
    seen = list(pending)
    while r2ts := [r for r in pending if r.pdu.opcode == Opcode.R2T]:
        pending = []
        for r2t in r2ts:
            off, length = r2t.pdu.w40, r2t.pdu.w44
            assert off + length <= 2 * MIB
            pending += ini.data_out(itt, r2t.pdu.w20, off, payload[off:off + length], datasn=0)
        pending += drain(ini)
        seen += pending
    rsp = [r for r in seen if r.pdu.opcode == Opcode.SCSI_RSP][-1]
    assert rsp.pdu.b3 == Status.GOOD and rsp.pdu.b1 & 0x02 and rsp.pdu.w44 == 2 * MIB  # U, residual
    assert itt not in ini.conn.tasks and not ini.conn.streams


def test_abort_task_of_a_streamed_write_waiting_for_data(ini: Initiator,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    itt = ini.itt + 1
    r = ini.scsi(rw16(0x8A, 0, 4 * MIB // 512), write=bytes(4 * MIB), immediate=8192)
    assert [x for x in r if x.pdu.opcode == Opcode.R2T]
    rsp = ini.tmf(TmfFunction.ABORT_TASK, rtt=itt, refcmdsn=ini.cmdsn - 1) + drain(ini)
    assert [x.pdu.b2 for x in rsp if x.pdu.opcode == Opcode.TASK_MGMT_RSP] == [TmfResponse.FUNCTION_COMPLETE]
    assert not [x for x in rsp if x.pdu.opcode == Opcode.SCSI_RSP]
    assert not ini.conn.streams and not ini.conn.tasks and DataBuffers.heap_in_use() == 0
    assert "error" not in caplog.text.lower()
