"""The sans-I/O connection in iSER-assisted mode (RFC 7145 7): login over messages, data by RDMA requests.

No verbs here: :class:`IserInitiator` carries out the target's RDMA requests against its own buffers.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import Opcode, TmfFunction, TmfResponse
from hpt.iscsi.rdma import RdmaRead, RdmaWrite, SendPdu
from hpt.iser.header import IserHeader
from hpt.iser.memory import LARGE_MIN, RegisteredBuffers
from hpt.native.ring import Ring
from hpt.scsi.core.constants import Status
from tests.iscsi.initiator import sense_of

from .fake_verbs import MR
from .iser_initiator import IserInitiator

TARGET = "iqn.2026-11.org.hpt.test:iser"
CONFIG = f"""
[[portal]]
address = "127.0.0.1:3260"
transport = "iser"

[[target]]
name = "{TARGET}"
initiators = ["iqn.2026-11.org.hpt.test:initiator"]
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "4M"
"""
ISER_KEYS = [("RDMAExtensions", "Yes"), ("TargetRecvDataSegmentLength", "8192"),
             ("InitiatorRecvDataSegmentLength", "8192"), ("MaxOutstandingUnexpectedPDUs", "16")]


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(parse_config(CONFIG))
    yield srv
    srv.stop()


@pytest.fixture
def server_unsolicited() -> Iterator[Server]:
    """A target configured to take unsolicited data on iSER too (not the iSER default)."""
    srv = Server(parse_config("[iscsi]\nInitialR2T = false\nImmediateData = true\n" + CONFIG))
    yield srv
    srv.stop()


def connect(server: Server, ring: Ring | None = None,
            large: RegisteredBuffers | None = None) -> IserInitiator:
    conn = Connection(server.context_for(server.config.portals[0]), ring or server.ring,
                      peer="10.0.2.15:40000", local="10.0.2.15:3260", transport="iser", large=large)
    return IserInitiator(conn)


def login(ini: IserInitiator, extra: list[tuple[str, str]] = ISER_KEYS) -> None:
    r = ini.login(TARGET, extra)
    assert r.pdu.w36 >> 16 == 0, r.text
    assert ini.conn.full_feature
    rsp = ini.scsi(bytes(6))[-1]  # clears the POWER ON unit attention
    assert rsp.pdu.b3 == Status.CHECK_CONDITION


@pytest.fixture
def ini(server: Server) -> IserInitiator:
    i = connect(server)
    login(i)
    return i


def rw10(op: int, lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", op, 0, lba, 0, blocks, 0)


def opcodes(replies: list) -> list[int]:  # type: ignore[type-arg]
    return [r.pdu.opcode for r in replies]


def test_login_switches_to_iser_assisted_mode(server: Server) -> None:
    i = connect(server)
    r = i.login(TARGET, ISER_KEYS)
    assert r.pdu.w36 >> 16 == 0
    conn = i.conn
    assert conn.rdma and conn.messages
    assert conn.session is not None and conn.session.params.rdma_extensions
    # the iSER keys replace MaxRecvDataSegmentLength (RFC 7145 6)
    assert conn.max_recv_dsl == 8192 and conn.max_xmit_dsl == 8192
    assert conn.session.params.max_outstanding_unexpected_pdus == 16
    assert conn.data_to_send() == []  # everything leaves as SEND messages


def test_login_without_rdma_extensions_is_refused_on_an_iser_portal(server: Server) -> None:
    i = connect(server)
    r = i.login(TARGET, [("RDMAExtensions", "No")])
    assert r.pdu.w36 >> 24 != 0  # a login error
    assert i.conn.closing and not i.conn.rdma


def test_write_then_read_moves_data_by_rdma_only(ini: IserInitiator) -> None:
    data = os.urandom(65536)
    replies = ini.write_cmd(rw10(0x2A, 8, 128), data)
    assert opcodes(replies) == [Opcode.SCSI_RSP] and replies[0].pdu.b3 == Status.GOOD
    (rd,) = ini.rdma_reads
    assert (rd.offset, rd.length) == (0, 65536)
    replies, got = ini.read_cmd(rw10(0x28, 8, 128), 65536)
    assert opcodes(replies) == [Opcode.SCSI_RSP] and replies[0].pdu.b3 == Status.GOOD
    assert got == data
    (wr,) = ini.rdma_writes
    assert wr.length == 65536 and wr.response.header[0] & 0x3F == Opcode.SCSI_RSP
    assert ini.conn.ring.in_use == 0  # every slot back after release / completion


def test_a_simple_read_takes_the_fast_lane_and_another_the_full_path(ini: IserInitiator) -> None:
    """A READ whose transfer fits one slot and whose LU takes it is answered with no task (the lane);
    one that asks for more than it transfers goes through the SCSI engine for its residual."""
    data = os.urandom(4096)
    assert ini.write_cmd(rw10(0x2A, 0, 8), data)[0].pdu.b3 == Status.GOOD
    session = ini.conn.session
    assert session is not None
    before = session.commands
    (rsp,), got = ini.read_cmd(rw10(0x28, 0, 8), 4096)
    assert rsp.pdu.b3 == Status.GOOD and got == data and session.commands == before + 1
    lane = ini.rdma_writes[-1]
    assert lane.task is None and lane.slot >= 0 and lane.length == 4096
    assert rsp.pdu.w24 + 1 == ini.conn.statsn  # StatSN taken in order
    (rsp,), got = ini.read_cmd(rw10(0x28, 0, 8), 8192)  # EDTL above the CDB's: an underflow
    assert rsp.pdu.b3 == Status.GOOD and rsp.pdu.b1 & 0x02 and got[:4096] == data
    assert ini.rdma_writes[-1].task is not None
    big = os.urandom(65536)  # above MaxRecvDataSegmentLength: one RDMA Write all the same
    assert ini.write_cmd(rw10(0x2A, 0, 128), big)[0].pdu.b3 == Status.GOOD
    (rsp,), got = ini.read_cmd(rw10(0x28, 0, 128), 65536)
    assert rsp.pdu.b3 == Status.GOOD and got == big and ini.rdma_writes[-1].task is None
    assert ini.conn.ring.in_use == 0


def test_immediate_data_then_rdma_read_of_the_rest(ini: IserInitiator) -> None:
    data = os.urandom(32768)
    replies = ini.write_cmd(rw10(0x2A, 0, 64), data, unsolicited=4096, immediate=4096)
    assert replies[-1].pdu.b3 == Status.GOOD
    (rd,) = ini.rdma_reads
    assert (rd.offset, rd.length) == (4096, 32768 - 4096)
    _, got = ini.read_cmd(rw10(0x28, 0, 64), 32768)
    assert got == data


def test_unsolicited_data_out_and_rdma_read_in_either_order(server_unsolicited: Server) -> None:
    ini = connect(server_unsolicited)
    login(ini, [*ISER_KEYS, ("FirstBurstLength", "16384")])
    data = os.urandom(50 * 512)
    itt = ini.itt + 1
    ini.auto_read = False
    assert ini.write_cmd(rw10(0x2A, 16, 50), data, unsolicited=16384, final=False) == []
    # unsolicited Data-Out PDUs still arrive as SENDs (RFC 7145 7.3.4); one RDMA Read fetches the rest
    (rd,) = ini.held_reads
    assert (rd.offset, rd.length) == (16384, len(data) - 16384)
    ini.complete_read(rd)
    assert ini.replies() == []  # the unsolicited data is still missing
    assert ini.data_out(itt, 0xFFFFFFFF, 0, data[:8192], 0, final=False) == []
    replies = ini.data_out(itt, 0xFFFFFFFF, 8192, data[8192:16384], 1, final=True)
    assert opcodes(replies) == [Opcode.SCSI_RSP] and replies[0].pdu.b3 == Status.GOOD
    _, got = ini.read_cmd(rw10(0x28, 16, 50), len(data))
    assert got == data


def test_rdma_read_finishing_last_completes_the_write(server_unsolicited: Server) -> None:
    ini = connect(server_unsolicited)
    login(ini, [*ISER_KEYS, ("FirstBurstLength", "8192")])
    data = os.urandom(32 * 512)
    itt = ini.itt + 1
    ini.auto_read = False
    ini.write_cmd(rw10(0x2A, 0, 32), data, unsolicited=8192, final=False)
    assert ini.data_out(itt, 0xFFFFFFFF, 0, data[:8192], 0, final=True) == []
    (rd,) = ini.held_reads
    ini.complete_read(rd)
    (rsp,) = ini.replies()
    assert rsp.pdu.b3 == Status.GOOD
    _, got = ini.read_cmd(rw10(0x28, 0, 32), len(data))
    assert got == data


def test_read_without_read_stag_fails_the_command(ini: IserInitiator) -> None:
    ini.remote = IserHeader()
    (rsp,) = ini.scsi(rw10(0x28, 0, 1), read=512)
    assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[12] == 0x24
    assert ini.rdma_writes == [] and ini.conn.ring.in_use == 0


def test_write_without_write_stag_fails_the_command(ini: IserInitiator) -> None:
    ini.remote = IserHeader()
    (rsp,) = ini.scsi(rw10(0x2A, 0, 1), write=bytes(512))
    assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[12] == 0x24
    assert ini.rdma_reads == [] and ini.conn.ring.in_use == 0


def test_no_free_slot_parks_the_command_until_one_is_released(server: Server) -> None:
    ring = Ring(65536, 1)
    i = connect(server, ring)
    login(i)
    i.auto_read = False
    assert i.write_cmd(rw10(0x2A, 0, 8), bytes(range(256)) * 16) == []
    assert ring.in_use == 1
    second = os.urandom(4096)
    assert i.write_cmd(rw10(0x2A, 8, 8), second) == []
    assert len(i.held_reads) == 1  # the second write waits for a slot: no RDMA Read yet
    i.complete_read(i.held_reads.pop())
    assert [r.pdu.b3 for r in i.replies()] == [Status.GOOD]
    i.conn.retry_starved()
    i.replies()
    (rd,) = i.held_reads
    i.complete_read(rd)
    assert [r.pdu.b3 for r in i.replies()] == [Status.GOOD]
    _, got = i.read_cmd(rw10(0x28, 8, 8), 4096)
    assert got == second and ring.in_use == 0


def test_abort_keeps_the_slot_until_the_rdma_read_ends(ini: IserInitiator) -> None:
    ini.auto_read = False
    itt = ini.itt + 1
    assert ini.write_cmd(rw10(0x2A, 0, 8), bytes(4096)) == []
    (rd,) = ini.held_reads
    (rsp,) = ini.tmf(TmfFunction.ABORT_TASK, rtt=itt)
    assert rsp.pdu.b2 == TmfResponse.FUNCTION_COMPLETE
    assert ini.conn.ring.in_use == 1  # the HCA may still write into it
    ini.conn.rdma_read_done(rd.task, ok=False)
    assert ini.replies() == [] and ini.conn.ring.in_use == 0


def test_nop_text_and_logout_leave_as_messages(ini: IserInitiator) -> None:
    (nop,) = ini.nop_out(b"ping")
    assert nop.pdu.opcode == Opcode.NOP_IN and nop.data == b"ping"
    (text,) = ini.text([("SendTargets", "All")])
    assert text.pdu.opcode == Opcode.TEXT_RSP and TARGET in text.data.decode()
    (out,) = ini.logout()
    assert out.pdu.opcode == Opcode.LOGOUT_RSP and ini.conn.closing


def test_message_that_is_not_one_pdu_closes_the_connection(ini: IserInitiator) -> None:
    from hpt.iscsi import pdu as P

    hdr = P.initiator_pdu(Opcode.NOP_OUT, 0x80, bytes(8), 99, w20=0xFFFFFFFF, w24=ini.cmdsn, immediate=True)
    P.set_dsl(hdr, 10)
    ini.conn.receive_pdu(hdr, b"short")
    assert ini.conn.closing
    reqs = ini.conn.requests()
    assert [r.header[0] & 0x3F for r in reqs if isinstance(r, SendPdu)] == [Opcode.REJECT]


def test_connection_lost_frees_parked_and_pending_tasks(server: Server) -> None:
    ring = Ring(65536, 1)
    i = connect(server, ring)
    login(i)
    i.auto_read = False
    i.write_cmd(rw10(0x2A, 0, 8), bytes(4096))
    i.write_cmd(rw10(0x2A, 8, 8), bytes(4096))  # parked: no slot
    (rd,) = i.held_reads
    i.conn.connection_lost()  # the driver tore the QP down first: no RDMA can still be running
    assert ring.in_use == 0
    assert not any(isinstance(r, (RdmaRead, RdmaWrite)) for r in i.conn.requests())


def test_iser_defaults_fetch_all_write_data_by_rdma_read(server: Server) -> None:
    ini = connect(server)
    r = ini.login(TARGET, ISER_KEYS)
    assert r.pdu.w36 >> 16 == 0
    params = ini.conn.session.params
    assert (params.initial_r2t, params.immediate_data) == (True, False)


SMALL_SLOTS = 65536  # ring slots of 64 KiB: a 128 KiB command needs a large buffer


def large_setup(server: Server, budget: int = 1 << 30,
                mr: type = MR) -> tuple[IserInitiator, RegisteredBuffers]:
    large = RegisteredBuffers(mr, budget=budget)
    i = connect(server, Ring(SMALL_SLOTS, 4), large)
    login(i)
    return i, large


def test_commands_larger_than_a_slot_use_large_registered_buffers(server: Server) -> None:
    i, large = large_setup(server)
    data = os.urandom(2 * SMALL_SLOTS)
    replies = i.write_cmd(rw10(0x2A, 0, 256), data)
    assert [r.pdu.b3 for r in replies] == [Status.GOOD]
    assert large.pinned == LARGE_MIN and i.conn.ring.in_use == 0  # it went through a large buffer
    replies, got = i.read_cmd(rw10(0x28, 0, 256), len(data))
    assert [r.pdu.b3 for r in replies] == [Status.GOOD] and got == data
    assert large.pinned == LARGE_MIN and i.conn.ring.in_use == 0  # one buffer, registered once


def test_immediate_data_of_a_large_command_lands_in_its_registered_buffer(
        server_unsolicited: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Immediate data is copied once, from the receive message into the large registered buffer: no
    buffer of the memory budget in between (issue 17)."""
    large = RegisteredBuffers(MR)
    i = connect(server_unsolicited, Ring(SMALL_SLOTS, 4), large)
    login(i, [*ISER_KEYS, ("FirstBurstLength", "65536")])
    taken: list[int] = []
    monkeypatch.setattr(i.conn.buffers, "take", lambda n: taken.append(n))
    data = os.urandom(2 * SMALL_SLOTS)
    replies = i.write_cmd(rw10(0x2A, 0, 256), data, unsolicited=8192, immediate=8192)
    assert [r.pdu.b3 for r in replies] == [Status.GOOD] and taken == []
    (rd,) = i.rdma_reads
    assert (rd.offset, rd.length) == (8192, len(data) - 8192)
    _, got = i.read_cmd(rw10(0x28, 0, 256), len(data))
    assert got == data and taken == [] and large.pinned == LARGE_MIN


def test_large_buffer_budget_in_use_parks_the_command(server: Server) -> None:
    i, _ = large_setup(server, budget=LARGE_MIN)
    i.auto_read = False
    first, second = os.urandom(2 * SMALL_SLOTS), os.urandom(2 * SMALL_SLOTS)
    assert i.write_cmd(rw10(0x2A, 0, 256), first) == []
    assert i.write_cmd(rw10(0x2A, 256, 256), second) == []
    assert len(i.held_reads) == 1 and i.conn.starved == 1  # the budget holds one 2 MiB buffer
    i.complete_read(i.held_reads.pop())
    assert [r.pdu.b3 for r in i.replies()] == [Status.GOOD]
    i.conn.retry_starved()
    i.replies()
    i.complete_read(i.held_reads.pop())
    assert [r.pdu.b3 for r in i.replies()] == [Status.GOOD]
    i.auto_read = True
    _, got = i.read_cmd(rw10(0x28, 0, 512), 4 * SMALL_SLOTS)
    assert got == first + second


class FailingMR(MR):
    def __init__(self, *args: object, **kw: object) -> None:
        raise OSError(12, "Cannot allocate memory")


def test_large_buffer_that_cannot_be_registered_fails_the_command(server: Server) -> None:
    i, large = large_setup(server, mr=FailingMR)
    replies = i.write_cmd(rw10(0x2A, 0, 256), bytes(2 * SMALL_SLOTS))
    assert [r.pdu.b3 for r in replies] == [Status.CHECK_CONDITION]
    assert sense_of(replies[0])[12:14] == bytes([0x55, 0x03])  # INSUFFICIENT RESOURCES
    assert large.pinned == 0 and i.rdma_reads == []


def test_command_above_the_large_buffer_limit_fails(server: Server) -> None:
    i, large = large_setup(server)
    large.limit = 2 * SMALL_SLOTS - 512
    replies, _ = i.read_cmd(rw10(0x28, 0, 256), 2 * SMALL_SLOTS)
    assert [r.pdu.b3 for r in replies] == [Status.CHECK_CONDITION]
    assert sense_of(replies[0])[12:14] == bytes([0x24, 0x00])  # INVALID FIELD IN CDB
    assert i.rdma_writes == [] and large.pinned == 0


def test_registered_buffers_round_up_reuse_and_evict_idle_ones() -> None:
    large = RegisteredBuffers(MR, budget=4 * LARGE_MIN)
    a = large.alloc(LARGE_MIN + 1)  # size class 2 x LARGE_MIN
    assert len(large.view(a)) == 2 * LARGE_MIN and large.lkey(a) == MR(0, 0).lkey
    b = large.alloc(100)
    assert large.pinned == 3 * LARGE_MIN
    assert large.alloc(2 * LARGE_MIN) == -1  # over budget while both are in use: wait
    large.free(a)
    assert large.alloc(2 * LARGE_MIN) == a  # the idle buffer of that class, not a new registration
    large.free(a)
    large.free(b)
    c = large.alloc(4 * LARGE_MIN)  # needs the whole budget: idle buffers are deregistered for it
    assert c not in (a, b) and large.pinned == 4 * LARGE_MIN
    large.close()
    assert large.pinned == 0


def test_bidirectional_command_is_refused_over_iser(ini: IserInitiator) -> None:
    """iSER serves no bidirectional commands: CHECK CONDITION, INVALID FIELD IN CDB; the session goes on."""
    stag, va = ini.register(bytes(512))
    ini.remote = IserHeader(write_stag=stag, write_va=va)
    rsp = ini.scsi(rw10(0x2A, 0, 1), write=bytes(512), bidi_read=64)[-1]
    assert rsp.pdu.opcode == Opcode.SCSI_RSP and rsp.pdu.b3 == Status.CHECK_CONDITION
    assert (sense_of(rsp)[2] & 0x0F, sense_of(rsp)[12]) == (0x05, 0x24)
    assert not ini.rdma_reads and not ini.rdma_writes
    replies, _ = ini.read_cmd(rw10(0x28, 0, 1), 512)
    assert replies[-1].pdu.b3 == Status.GOOD


def _lane_read(conn: Connection, view: tuple[int, int, int], lun: int, cdb: bytes, edtl: int,
               itt: int) -> tuple[int, bytes, int, int]:
    """What hv_serve (verbs.c) does with a RECV holding a READ: quick_burst through the view's addresses;
    returns (answers, the answer's header, its slot, its length)."""
    from hpt.native.ring import ffi, lib

    s = conn.session
    assert s is not None
    bhs = bytearray(48)
    bhs[0], bhs[1] = Opcode.SCSI_CMD, 0xC1
    struct.pack_into(">8sIII", bhs, 8, bytes([0, lun]) + bytes(6), itt, edtl, s.exp_cmdsn)
    bhs[32:32 + len(cdb)] = cdb
    out, slot, length = ffi.new("uint8_t[48]"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
    c, lus, nlus = view
    n = lib.quick_burst(conn.ring.base, ffi.from_buffer(bhs), 48, ffi.cast("struct quick_conn *", c),
                        ffi.cast("struct quick_lu *", lus), nlus, out, slot, length, 1)
    return n, bytes(ffi.buffer(out)), slot[0], length[0]


def test_the_c_lanes_view_answers_and_the_core_follows(ini: IserInitiator) -> None:
    """Connection.lane_enter hands the iSER lane in C its view while the connection is idle; a READ
    answered through it moves CmdSN, StatSN and the counters on at lane_leave (RFC 7145 7.3.5)."""
    data = os.urandom(4096)
    assert ini.write_cmd(rw10(0x2A, 0, 8), data)[0].pdu.b3 == Status.GOOD
    conn = ini.conn
    s = conn.session
    assert s is not None
    cmdsn, statsn, commands = s.exp_cmdsn, conn.statsn, s.commands
    view = conn.lane_enter(conn.ring.slot_size, 8192, False)
    assert view is not None
    n, hdr, slot, length = _lane_read(conn, view, 1, rw10(0x28, 0, 8), 4096, 0x77)
    conn.lane_leave(n)
    assert (n, length) == (1, 4096) and bytes(conn.ring.view(slot)[:4096]) == data
    assert hdr[0] == Opcode.DATA_IN and int.from_bytes(hdr[24:28], "big") == statsn  # the verbs lane
    conn.ring.free(slot)  # makes it a SCSI Response after an RDMA Write of the slot
    assert (s.exp_cmdsn, conn.statsn, s.commands) == (cmdsn + 1, statsn + 1, commands + 1)
    ini.cmdsn += 1  # the READ the lane answered took its CmdSN
    assert ini.scsi(bytes(6))[-1].pdu.w24 == statsn + 1  # the full path goes on in order
    ini.auto_read = False
    assert ini.write_cmd(rw10(0x2A, 8, 8), data) == []  # waiting for its RDMA Read: a task in flight
    assert conn.lane_enter(conn.ring.slot_size, 8192, False) is None


def test_the_c_lane_reads_a_null_lu_from_zeroes_of_the_drivers_own() -> None:
    srv = Server(parse_config(CONFIG.replace('store = "ram"', 'store = "null"')))
    try:
        i = connect(srv)
        login(i)
        conn = i.conn
        for zero_reads, slot_taken in ((True, False), (False, True)):
            view = conn.lane_enter(conn.ring.slot_size, 8192, zero_reads)
            assert view is not None
            n, hdr, slot, length = _lane_read(conn, view, 1, rw10(0x28, 0, 8), 4096, 0x78)
            conn.lane_leave(n)
            assert (n, length) == (1, 4096) and (slot != 0xFFFFFFFF) == slot_taken
            if slot_taken:
                assert bytes(conn.ring.view(slot)[:4096]) == bytes(4096)  # zeroes, written in the slot
                conn.ring.free(slot)
        assert conn.ring.in_use == 0
    finally:
        srv.stop()
