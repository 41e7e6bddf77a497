"""The READ fast lane (``Connection._quick_read`` over ``LogicalUnit.quick``): what it answers is what
the full path answers, and every command it must not take goes the full path (RFC 7143 11.3, 11.7)."""

from __future__ import annotations

import mmap
import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.alua import AluaState
from hpt.scsi.core.constants import Status
from hpt.scsi.core.faults import Fault
from hpt.scsi.lu import LogicalUnit

from .initiator import Initiator, sense_of
from .test_connection import CONFIG, TARGET, ini, make_conn, read10, server, write10  # noqa: F401 - fixtures

PATTERN = bytes(range(256)) * 16  # one 4 KiB block's worth of 512 B blocks


@pytest.fixture
def lanes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """What each ``LogicalUnit.quick`` call answered (bytes read, or -1: declined)."""
    seen: list[int] = []
    real = LogicalUnit.quick

    def spy(self: LogicalUnit, *args: object) -> int:
        n = real(self, *args)  # type: ignore[arg-type]
        seen.append(n)
        return n

    monkeypatch.setattr(LogicalUnit, "quick", spy)
    yield seen


def logged_in(srv: Server) -> Initiator:
    fresh = Initiator(make_conn(srv))
    assert fresh.login(TARGET).pdu.tsih
    return fresh


def test_read_takes_the_lane_and_answers_as_the_full_path(server: Server, ini: Initiator,  # noqa: F811 - fixtures of test_connection
                                                         lanes: list[int]) -> None:
    rsp = ini.scsi(write10(8, 8), write=PATTERN, immediate=len(PATTERN))
    assert rsp[-1].pdu.b3 == Status.GOOD
    lu = server.targets[TARGET].lu(1)
    before = lu.stats.snapshot()["read"]
    statsn = rsp[-1].pdu.w24  # StatSN
    ring_used = server.ring.in_use
    out = ini.scsi(read10(8, 8), read=len(PATTERN))
    assert lanes == [len(PATTERN)]
    [data_in] = out
    pdu = data_in.pdu
    assert pdu.opcode == Opcode.DATA_IN and pdu.b1 == 0x81  # F and S: the status rides on the data
    assert pdu.b3 == Status.GOOD and data_in.data == PATTERN
    assert pdu.w24 == statsn + 1 and pdu.w28 == ini.cmdsn  # StatSN, ExpCmdSN
    assert server.ring.in_use == ring_used  # the slot went back once the Data-In was sent
    after = lu.stats.snapshot()["read"]
    assert (after["commands"] - before["commands"], after["bytes"] - before["bytes"]) == (1, len(PATTERN))
    assert ini.conn.session.read_bytes >= len(PATTERN)
    # the next command after the lane is in CmdSN order: a full-path write answers normally
    assert ini.scsi(write10(0, 1), write=bytes(512), immediate=512)[-1].pdu.b3 == Status.GOOD


def test_a_pending_unit_attention_goes_the_full_path(server: Server, lanes: list[int]) -> None:  # noqa: F811 - fixtures of test_connection
    fresh = logged_in(server)  # a new I_T nexus: POWER ON is pending
    rsp = fresh.scsi(read10(0, 1), read=512)[-1]
    assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[12] == 0x29
    assert lanes == [-1]
    assert fresh.scsi(read10(0, 1), read=512)[-1].pdu.b3 == Status.GOOD
    assert lanes == [-1, 512]


@pytest.mark.parametrize(
    ("cdb", "edtl", "status", "asc"),
    [
        (read10(1 << 20, 1), 512, Status.CHECK_CONDITION, 0x21),  # LBA out of range
        (struct.pack(">BBIBHB", 0x28, 0x20, 0, 0, 1, 0), 512, Status.CHECK_CONDITION, 0x24),  # RDPROTECT
        (struct.pack(">BBIBHB", 0x28, 0, 0, 0, 1, 0x04), 512, Status.CHECK_CONDITION, 0x24),  # NACA
    ],
)
def test_a_failing_check_gets_the_full_paths_sense(ini: Initiator, lanes: list[int], cdb: bytes, edtl: int,  # noqa: F811 - fixtures of test_connection
                                                   status: int, asc: int) -> None:
    rsp = ini.scsi(cdb, read=edtl)[-1]
    assert rsp.pdu.opcode == Opcode.SCSI_RSP and rsp.pdu.b3 == status
    assert sense_of(rsp)[12] == asc
    assert all(n < 0 for n in lanes)


def test_a_residual_goes_the_full_path(ini: Initiator, lanes: list[int]) -> None:  # noqa: F811 - fixtures of test_connection
    out = ini.scsi(read10(0, 2), read=512)  # the CDB asks for 1024 bytes, the initiator for 512
    assert lanes == [-1]
    assert out[-1].pdu.b1 & 0x04 and out[-1].pdu.w44 == 512  # O: overflow of 512 bytes (RFC 7143 11.4.5)


def test_reservations_and_faults_keep_commands_off_the_lane(server: Server, ini: Initiator,  # noqa: F811 - fixtures of test_connection
                                                           lanes: list[int]) -> None:
    lu = server.targets[TARGET].lu(1)
    lu.inject(Fault.parse("read", None, "medium"))
    rsp = ini.scsi(read10(0, 1), read=512)[-1]
    assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[2] & 0x0F == 0x03  # MEDIUM ERROR
    lu.clear_faults()
    # PERSISTENT RESERVE OUT REGISTER with a key: registrations exist, so the full path decides
    params = struct.pack(">QQ", 0, 0xABC).ljust(24, b"\0")
    cdb = struct.pack(">BBB2xIB", 0x5F, 0x00, 0, len(params), 0)
    assert ini.scsi(cdb, write=params, immediate=len(params))[-1].pdu.b3 == Status.GOOD
    assert ini.scsi(read10(0, 1), read=512)[-1].pdu.b3 == Status.GOOD
    assert lanes == [-1, -1]


def raw_read(who: Initiator, lba: int, *, b0: int = Opcode.SCSI_CMD, b1: int = 0xC1, lun: int = 1) -> None:
    """A READ(10) of one block fed as bytes; ``b0``/``b1``: the I bit, F, R, W and the task attribute."""
    hdr = bytearray(48)
    hdr[0], hdr[1] = b0, b1
    struct.pack_into(">8sIII", hdr, 8, bytes([0, lun]) + bytes(6), who.next_itt(), 512, who.cmdsn)
    hdr[32:42] = read10(lba, 1)
    if not b0 & 0x40:
        who.cmdsn += 1
    who.conn.receive_bytes(hdr)
    who.conn.execute_ready()


@pytest.mark.parametrize(("b0", "b1", "lun"), [
    (Opcode.SCSI_CMD, 0xC2, 1),  # ORDERED (SAM-5 8.6): the task set orders it
    (Opcode.SCSI_CMD, 0xC4, 1),  # ACA: refused by the full path
    (Opcode.SCSI_CMD | 0x40, 0xC1, 1),  # immediate delivery (RFC 7143 3.2.2.1)
    (Opcode.SCSI_CMD, 0xC1, 7),  # no such LU: the full path answers
])
def test_commands_the_lane_never_takes(ini: Initiator, lanes: list[int], b0: int, b1: int, lun: int) -> None:  # noqa: F811 - fixtures of test_connection
    raw_read(ini, 0, b0=b0, b1=b1, lun=lun)
    [rsp] = [r for r in ini.replies() if r.pdu.opcode in (Opcode.DATA_IN, Opcode.SCSI_RSP)][-1:]
    assert lanes == []
    assert rsp.pdu.b3 == (Status.GOOD if b1 in (0xC1, 0xC2) and lun == 1 else Status.CHECK_CONDITION)
    raw_read(ini, 0)
    assert lanes == [512]  # and the next SIMPLE read takes it again, in CmdSN order


def test_a_lost_connection_gives_back_the_slots_of_unsent_data(server: Server, ini: Initiator,  # noqa: F811 - fixtures of test_connection
                                                               lanes: list[int]) -> None:
    used = server.ring.in_use
    for lba in range(4):  # four reads answered, their Data-In never sent
        raw_read(ini, lba)
    assert lanes == [512] * 4 and server.ring.in_use == used + 4
    ini.conn.connection_lost()
    assert server.ring.in_use == used


# -- the lane in C (hpt/native/quick.c through hpt.iscsi.quick) ---------------------------------------------

def burst(who: Initiator, cdbs: list[tuple[bytes, int]], lun: int = 1) -> bytes:
    """SCSI Command headers back to back, as one receive brings them (CDB and expected length each)."""
    wire = b""
    for cdb, edtl in cdbs:
        hdr = bytearray(48)
        hdr[0], hdr[1] = Opcode.SCSI_CMD, 0xC1 if edtl else 0x81
        struct.pack_into(">8sIII", hdr, 8, bytes([0, lun]) + bytes(6), who.next_itt(), edtl, who.cmdsn)
        hdr[32:32 + len(cdb)] = cdb
        who.cmdsn += 1
        wire += bytes(hdr)
    return wire


def feed(who: Initiator, wire: bytes) -> int:
    """What a driver does with a staged burst: the C lane first, then the full path for the rest."""
    taken = who.conn.take_burst(memoryview(wire), 1 << 20)
    who.conn.receive_bytes(wire[taken:])
    who.conn.execute_ready()
    return taken


def read16(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBQIBB", 0x88, 0, lba, blocks, 0, 0)


@pytest.fixture
def lane_server(tmp_path: Path) -> Iterator[Server]:
    """A RAM LU (the lane reads its memory) and a file LU read inline (the lane preads its descriptor)."""
    srv = Server(parse_config(CONFIG + f"""
  [[target.lun]]
  lun = 2
  store = "file"
  path = "{tmp_path / 'lu2.img'}"
  size = "4M"
  io_engine = "sync"
"""))
    yield srv
    srv.stop()


@pytest.mark.parametrize("lun", [1, 2])
def test_a_burst_of_reads_is_answered_in_c(lane_server: Server, lun: int) -> None:
    who = logged_in(lane_server)
    for n in (1, 2):  # POWER ON on each LU first (the lane leaves it to the full path)
        assert who.scsi(read10(0, 1), read=512, lun=n)[-1].pdu.b3 == Status.CHECK_CONDITION
    data = bytes(range(256)) * 64  # 16 KiB, 32 blocks
    assert who.scsi(write10(100, 32), write=data, immediate=len(data), lun=lun)[-1].pdu.b3 == Status.GOOD
    lu = lane_server.targets[TARGET].lu(lun)
    before = lu.stats.snapshot()["read"]["commands"]
    used = lane_server.ring.in_use
    statsn = who.scsi(bytes(6), lun=lun)[-1].pdu.w24  # TEST UNIT READY: the StatSN before the burst
    wire = burst(who, [(read10(100 + i, 1), 512) for i in range(16)] + [(read16(100, 16), 8192)], lun)
    assert feed(who, wire) == len(wire)  # all 17 in C
    assert lane_server.ring.in_use == used + 17
    replies = who.replies()
    assert [r.pdu.opcode for r in replies] == [Opcode.DATA_IN] * 17
    assert [r.pdu.w24 for r in replies] == [statsn + 1 + i for i in range(17)]  # StatSN in order
    assert replies[-1].pdu.w28 == who.cmdsn  # ExpCmdSN past the burst
    assert all(r.pdu.b1 == 0x81 and r.pdu.b3 == Status.GOOD for r in replies)
    assert [r.data for r in replies[:16]] == [data[i * 512:(i + 1) * 512] for i in range(16)]
    assert replies[-1].data == data[:8192]  # READ(16) of 16 blocks: MaxRecvDataSegmentLength 8192
    assert lane_server.ring.in_use == used  # freed in one call once sent
    assert lu.stats.snapshot()["read"]["commands"] == before + 17


def test_the_lane_stops_where_the_full_path_must_answer(lane_server: Server) -> None:
    who = logged_in(lane_server)
    assert who.scsi(read10(0, 1), read=512)[-1].pdu.b3 == Status.CHECK_CONDITION  # POWER ON
    wire = burst(who, [(read10(0, 1), 512), (read10(1, 1), 512), (read10(1 << 30, 1), 512),
                       (read10(2, 1), 512), (bytes(6), 0), (read10(3, 1), 512)])
    assert feed(who, wire) == 2 * 48  # two in C; the out-of-range READ and the rest: the full path
    replies = who.replies()
    assert [(r.pdu.opcode, r.pdu.b3) for r in replies] == [
        (Opcode.DATA_IN, Status.GOOD), (Opcode.DATA_IN, Status.GOOD),
        (Opcode.SCSI_RSP, Status.CHECK_CONDITION), (Opcode.DATA_IN, Status.GOOD),
        (Opcode.SCSI_RSP, Status.GOOD), (Opcode.DATA_IN, Status.GOOD)]
    assert sense_of(replies[2])[12] == 0x21  # LOGICAL BLOCK ADDRESS OUT OF RANGE
    statsns = [r.pdu.w24 for r in replies]
    assert statsns == list(range(statsns[0], statsns[0] + 6))


def test_a_pending_unit_attention_keeps_the_burst_out_of_c(lane_server: Server) -> None:
    who = logged_in(lane_server)  # POWER ON pending on both LUs
    wire = burst(who, [(read10(0, 1), 512), (read10(1, 1), 512)])
    assert feed(who, wire) == 0
    replies = who.replies()
    assert replies[0].pdu.b3 == Status.CHECK_CONDITION and replies[1].pdu.b3 == Status.GOOD


def test_the_lane_follows_the_alua_state_of_the_port_a_burst_came_through() -> None:
    """A standby portal group keeps its own sessions' bursts out of C (SPC-5 5.16.2.4.5), not those of
    an active one."""
    two = CONFIG.replace('[[target]]', '[[portal]]\naddress = "127.0.0.1:3261"\ngroup = 2\n\n[[target]]')
    srv = Server(parse_config(two))
    try:
        srv.targets[TARGET].set_alua_states({2: AluaState.STANDBY})
        for portal, expect in ((0, 48), (1, 0)):
            who = Initiator(Connection(srv.context_for(srv.config.portals[portal]), srv.ring,
                                       peer="127.0.0.1:40000", local=srv.config.portals[portal].address))
            assert who.login(TARGET).pdu.tsih
            who.scsi(read10(0, 1), read=512)  # POWER ON (or, through the standby port, NOT READY)
            assert feed(who, burst(who, [(read10(0, 1), 512)])) == expect
            rsp = who.replies()[-1]
            if expect:
                assert rsp.pdu.opcode == Opcode.DATA_IN and rsp.pdu.b3 == Status.GOOD
            else:  # the full path answers NOT READY, LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY
                assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[12:14] == bytes([0x04, 0x0B])
    finally:
        srv.stop()


@pytest.mark.parametrize("lun", [1, 2])
def test_writes_with_immediate_data_are_answered_in_c(lane_server: Server, lun: int) -> None:
    who = logged_in(lane_server)
    for n in (1, 2):
        who.scsi(read10(0, 1), read=512, lun=n)  # POWER ON
    lu = lane_server.targets[TARGET].lu(lun)
    blocks = [bytes([i]) * 512 for i in range(1, 9)]
    wire = b""
    for i, block in enumerate(blocks):
        wire += burst(who, [(write10(200 + i, 1), 512)], lun)
        hdr = bytearray(wire[-48:])
        hdr[1] = 0xA1  # F, W, SIMPLE
        hdr[5:8] = (512).to_bytes(3, "big")  # DataSegmentLength: all of it immediate
        wire = wire[:-48] + bytes(hdr) + block
    wire += burst(who, [(read16(200, 8), 4096)], lun)
    before = lu.stats.snapshot()["write"]
    # cut in the fifth WRITE's data: the lane takes four and waits for the rest of the fifth
    cut = 4 * (48 + 512) + 48 + 100
    assert who.conn.take_burst(memoryview(wire[:cut]), 1 << 20) == 4 * (48 + 512)
    assert who.conn.lane_more
    assert feed(who, wire[4 * (48 + 512):]) == len(wire) - 4 * (48 + 512)
    replies = who.replies()
    assert [r.pdu.opcode for r in replies] == [Opcode.SCSI_RSP] * 8 + [Opcode.DATA_IN]
    assert all(r.pdu.b3 == Status.GOOD and r.pdu.b2 == 0 for r in replies)
    assert replies[-1].data == b"".join(blocks)
    after = lu.stats.snapshot()["write"]
    assert (after["commands"] - before["commands"], after["bytes"] - before["bytes"]) == (8, 4096)
    if lun == 1:  # the memory store's allocation map saw the pages written (GET LBA STATUS)
        assert lu.store.mapped_extent(200 * 512)[0]


@pytest.fixture
def direct_server(tmp_path: Path) -> Iterator[Server]:
    """A file LU opened O_DIRECT (the lane submits its READs through Linux AIO), where O_DIRECT works."""
    path = tmp_path / "direct.img"
    path.write_bytes(bytes(range(256)) * (4 << 12))  # 4 MiB of a known pattern
    try:
        srv = Server(parse_config(CONFIG.replace('store = "ram"\n  size = "4M"',
                                                 f'store = "file"\n  path = "{path}"\n  direct = true')))
    except Exception as err:  # noqa: BLE001 - a file system without O_DIRECT (tmpfs, overlay)
        pytest.skip(f"O_DIRECT not available under {tmp_path}: {err}")
    yield srv
    srv.stop()


def test_reads_from_an_o_direct_file_are_submitted_together(direct_server: Server, tmp_path: Path) -> None:
    who = logged_in(direct_server)
    who.scsi(read10(0, 1), read=512)  # POWER ON
    lu = direct_server.targets[TARGET].lu(1)
    pattern = bytes(range(256)) * 16
    wire = burst(who, [(read10(8 * i, 8), 4096) for i in range(32)] + [(read10(1, 8), 4096)])
    # 32 aligned 4 KiB READs in one AIO submission; the unaligned one (LBA 1) takes the full path
    assert feed(who, wire) == 32 * 48
    deadline = time.monotonic() + 10
    while not who.conn.completions and time.monotonic() < deadline:  # the full path's READ: the engine's
        time.sleep(0.01)
    who.conn.drain_completions()
    replies = who.replies()
    assert [r.data for r in replies] == [pattern] * 32 + [pattern[512:] + pattern[:512]]
    assert all(r.pdu.b3 == Status.GOOD for r in replies)
    # the file shrinks behind the LU's back: the store fails the READ, MEDIUM ERROR comes back
    with open(tmp_path / "direct.img", "r+b") as f:
        f.truncate(1 << 20)
    errors = lu.stats.snapshot()["read"]["errors"]
    wire = burst(who, [(read10(0, 8), 4096), (read10(4096, 8), 4096), (read10(8, 8), 4096)])
    assert feed(who, wire) == 3 * 48
    replies = who.replies()
    assert [(r.pdu.opcode, r.pdu.b3) for r in replies] == [
        (Opcode.DATA_IN, Status.GOOD), (Opcode.SCSI_RSP, Status.CHECK_CONDITION),
        (Opcode.DATA_IN, Status.GOOD)]
    sense = sense_of(replies[1])
    assert (sense[2] & 0x0F, sense[12]) == (0x03, 0x11)  # MEDIUM ERROR, UNRECOVERED READ ERROR
    assert lu.stats.snapshot()["read"]["errors"] == errors + 1
    statsns = [r.pdu.w24 for r in replies]
    assert statsns == list(range(statsns[0], statsns[0] + 3))


def test_a_lent_socket_carries_the_answers_out_in_the_same_call(lane_server: Server) -> None:
    who = logged_in(lane_server)
    who.scsi(read10(0, 1), read=512)  # POWER ON
    used = lane_server.ring.in_use
    data = bytes(range(256)) * 2
    who.scsi(write10(7, 1), write=data, immediate=512)
    wire = burst(who, [(read10(7, 1), 512)] * 3)
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert who.conn.take_burst(memoryview(wire), 1 << 20, ours.fileno()) == len(wire)
        assert who.conn.pending_output == 0 and lane_server.ring.in_use == used  # sent, slots freed
        got = b""
        while len(got) < 3 * (48 + 512):
            got += theirs.recv(1 << 16)
    for i in range(3):
        pdu = got[i * 560:(i + 1) * 560]
        assert pdu[0] == Opcode.DATA_IN and pdu[1] == 0x81 and pdu[48:] == data
    # a socket that fails: the lane raises, the connection's driver closes
    ours, theirs = socket.socketpair()
    theirs.close()
    with ours, pytest.raises(OSError):
        who.conn.take_burst(memoryview(burst(who, [(read10(7, 1), 512)])), 1 << 20, ours.fileno())
    assert lane_server.ring.in_use == used


def immediate_writes(who: Initiator, lba: int, blocks: list[bytes]) -> bytes:
    """WRITE(10)s of 4 KiB each from ``lba`` on, back to back, all of their data immediate."""
    wire = b""
    for i, block in enumerate(blocks):
        hdr = bytearray(burst(who, [(write10(lba + 8 * i, 8), 4096)]))
        hdr[1] = 0xA1  # F, W, SIMPLE
        hdr[5:8] = (4096).to_bytes(3, "big")
        wire += bytes(hdr) + block
    return wire


def test_writes_to_an_o_direct_file_are_submitted_together(direct_server: Server, tmp_path: Path) -> None:
    who = logged_in(direct_server)
    who.scsi(read10(0, 1), read=512)  # POWER ON
    lu = direct_server.targets[TARGET].lu(1)
    used = direct_server.ring.in_use
    before = lu.stats.snapshot()["write"]
    blocks = [bytes([i]) * 4096 for i in range(1, 9)]
    wire = immediate_writes(who, 64, blocks)
    assert feed(who, wire) == len(wire)  # eight WRITEs in one AIO submission
    replies = who.replies()
    assert [(r.pdu.opcode, r.pdu.b3) for r in replies] == [(Opcode.SCSI_RSP, Status.GOOD)] * 8
    assert direct_server.ring.in_use == used  # the slots the data went through are back
    with open(tmp_path / "direct.img", "rb") as f:
        f.seek(64 * 512)
        assert f.read(8 * 4096) == b"".join(blocks)
    after = lu.stats.snapshot()["write"]
    assert (after["commands"] - before["commands"], after["bytes"] - before["bytes"]) == (8, 8 * 4096)


def test_write_data_already_aligned_goes_to_an_o_direct_file_from_where_it_is(direct_server: Server,
                                                                               tmp_path: Path) -> None:
    """The iSER lane's WRITE data lies page-aligned in a slot (verbs.c FETCH_AT): the AIO write takes it
    from there; data that is not aligned (the second WRITE here) goes through an aligned slot."""
    who = logged_in(direct_server)
    who.scsi(read10(0, 1), read=512)  # POWER ON
    used = direct_server.ring.in_use
    blocks = [b"\xa5" * 4096, b"\x5a" * 4096]
    wire = immediate_writes(who, 128, blocks)
    page = mmap.PAGESIZE
    buf = mmap.mmap(-1, 4 * page)
    buf[page - 48 : page - 48 + len(wire)] = wire  # the first WRITE's data starts on a page
    with memoryview(buf) as view:
        assert who.conn.take_burst(view[page - 48 : page - 48 + len(wire)], 1 << 20) == len(wire)
    replies = who.replies()
    assert [(r.pdu.opcode, r.pdu.b3) for r in replies] == [(Opcode.SCSI_RSP, Status.GOOD)] * 2
    assert direct_server.ring.in_use == used
    with open(tmp_path / "direct.img", "rb") as f:
        f.seek(128 * 512)
        assert f.read(2 * 4096) == b"".join(blocks)
