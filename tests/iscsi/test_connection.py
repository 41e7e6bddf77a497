"""The sans-I/O connection driven with PDUs alone: login, SCSI reads/writes, R2T, errors (RFC 7143)."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.daemon.config import parse_config
from hpt.daemon.server import Server
from hpt.iscsi.connection import Connection
from hpt.iscsi.pdu import RSVD_TAG, Opcode, RejectReason, TmfFunction, TmfResponse
from hpt.media.tape import create
from hpt.scsi.core.constants import Status

from ..scsi.held_store import HeldStore
from .initiator import Initiator, Reply, sense_of

TARGET = "iqn.2026-11.org.hpt.test:disk"
CONFIG = f"""
[[portal]]
address = "127.0.0.1:3260"

[[target]]
name = "{TARGET}"
initiators = ["iqn.2026-11.org.hpt.test:initiator"]
  [[target.lun]]
  lun = 1
  store = "ram"
  size = "4M"
"""


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(parse_config(CONFIG))
    yield srv
    srv.stop()


def make_conn(server: Server) -> Connection:
    return Connection(
        server.context_for(server.config.portals[0]),
        server.ring,
        peer="127.0.0.1:40000",
        local="127.0.0.1:3260",
    )


@pytest.fixture
def ini(server: Server) -> Initiator:
    i = Initiator(make_conn(server))
    r = i.login(TARGET)
    assert r.pdu.w36 >> 16 == 0, r.text
    assert r.pdu.b1 & 0x83 == 0x83  # T bit, NSG = full feature phase
    assert r.pdu.tsih != 0
    assert i.conn.full_feature
    # the first command of a new I_T nexus reports POWER ON, RESET (SAM-5 6.3.3)
    rsp = i.scsi(bytes(6))[-1]
    assert rsp.pdu.b3 == Status.CHECK_CONDITION and sense_of(rsp)[12] == 0x29
    return i


def read10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x28, 0, lba, 0, blocks, 0)


def write10(lba: int, blocks: int) -> bytes:
    return struct.pack(">BBIBHB", 0x2A, 0, lba, 0, blocks, 0)


def test_login_unknown_target_is_not_found(server: Server) -> None:
    i = Initiator(make_conn(server))
    r = i.login("iqn.2026-11.org.hpt.test:nope")
    assert r.pdu.opcode == Opcode.LOGIN_RSP
    assert (r.pdu.w36 >> 24, (r.pdu.w36 >> 16) & 0xFF) == (2, 3)
    assert i.conn.closing


def test_login_acl_refuses_other_initiator(server: Server) -> None:
    i = Initiator(make_conn(server), name="iqn.2026-11.org.hpt.test:stranger")
    r = i.login(TARGET)
    assert (r.pdu.w36 >> 24, (r.pdu.w36 >> 16) & 0xFF) == (2, 2)


def test_non_login_pdu_during_login_fails(server: Server) -> None:
    i = Initiator(make_conn(server))
    r = i.nop_out()
    assert r[-1].pdu.opcode == Opcode.LOGIN_RSP
    assert (r[-1].pdu.w36 >> 16) == 0x020B
    assert i.conn.closing


def test_inquiry_data_in_with_piggybacked_status(ini: Initiator) -> None:
    r = ini.scsi(bytes([0x12, 0, 0, 0, 96, 0]), read=96)
    assert len(r) == 1 and r[0].pdu.opcode == Opcode.DATA_IN
    assert r[0].pdu.b1 & 0x81 == 0x81  # F and S
    assert r[0].pdu.b3 == Status.GOOD
    assert r[0].data[8:16].rstrip() == b"HPT"


def test_write_immediate_then_r2t_and_read_back(ini: Initiator) -> None:
    payload = bytes(range(256)) * 32  # 16 blocks of 512
    itt = ini.itt + 1
    r = ini.scsi(write10(8, 16), write=payload, immediate=1024)
    r2ts = [x for x in r if x.pdu.opcode == Opcode.R2T]
    assert r2ts, r
    for r2t in r2ts:
        off, length = r2t.pdu.w40, r2t.pdu.w44
        assert off >= 1024
        replies = ini.data_out(itt, r2t.pdu.w20, off, payload[off : off + length], datasn=0)
    assert replies[-1].pdu.opcode == Opcode.SCSI_RSP
    assert replies[-1].pdu.b3 == Status.GOOD
    r = ini.scsi(read10(8, 16), read=len(payload))
    got = b"".join(x.data for x in r if x.pdu.opcode == Opcode.DATA_IN)
    assert got == payload
    assert [x.pdu.w36 for x in r] == list(range(len(r)))  # DataSN 0, 1, ...


def test_read_overflow_and_underflow_residuals(ini: Initiator) -> None:
    r = ini.scsi(read10(0, 2), read=512)  # the CDB asks for 1024 bytes, the initiator expects 512
    last = r[-1].pdu
    assert last.b1 & 0x04 and last.w44 == 512  # O bit, residual 512
    assert sum(len(x.data) for x in r) == 512
    r = ini.scsi(read10(0, 1), read=1024)
    last = r[-1].pdu
    assert last.b1 & 0x02 and last.w44 == 512  # U bit


def test_bad_datasn_fails_the_command_and_keeps_the_connection(ini: Initiator) -> None:
    itt = ini.itt + 1
    r = ini.scsi(write10(0, 2), write=bytes(1024))
    r2t = [x for x in r if x.pdu.opcode == Opcode.R2T][0]
    assert ini.data_out(itt, r2t.pdu.w20, 0, bytes(512), datasn=5, final=False) == []
    r = ini.data_out(itt, r2t.pdu.w20, 512, bytes(512), datasn=1, final=True)
    rsp = r[-1]
    assert rsp.pdu.opcode == Opcode.SCSI_RSP and rsp.pdu.b3 == Status.CHECK_CONDITION
    sense = sense_of(rsp)
    assert (sense[2] & 0xF, sense[12], sense[13]) == (0xB, 0x4B, 0)  # ABORTED COMMAND, DATA PHASE ERROR
    assert not ini.conn.closing
    assert ini.scsi(bytes(6))[-1].pdu.b3 == Status.GOOD


def test_data_out_for_unknown_task_is_rejected(ini: Initiator) -> None:
    r = ini.data_out(0x4242, 7, 0, bytes(512), datasn=0)
    assert r[-1].pdu.opcode == Opcode.REJECT and r[-1].pdu.b2 == RejectReason.INVALID_PDU_FIELD
    assert not ini.conn.closing


def test_cmdsn_beyond_window_is_ignored(ini: Initiator) -> None:
    s = ini.conn.session
    assert s is not None
    r = ini.scsi(bytes(6), cmdsn=s.max_cmdsn + 1)
    assert r == []
    r = ini.scsi(bytes(6))  # TEST UNIT READY with the expected CmdSN still works
    assert r[-1].pdu.opcode == Opcode.SCSI_RSP


def test_unit_attention_reported_once(ini: Initiator) -> None:
    assert ini.scsi(bytes(6))[-1].pdu.b3 == Status.GOOD


def test_nop_out_ping_is_echoed(ini: Initiator) -> None:
    r = ini.nop_out(b"hello")
    assert r[-1].pdu.opcode == Opcode.NOP_IN
    assert r[-1].data == b"hello"
    assert r[-1].pdu.w20 == RSVD_TAG


def test_abort_task_waiting_for_data(ini: Initiator) -> None:
    itt = ini.itt + 1
    ini.scsi(write10(0, 4), write=bytes(2048))
    assert itt in ini.conn.tasks
    r = ini.tmf(TmfFunction.ABORT_TASK, rtt=itt)
    assert r[-1].pdu.opcode == Opcode.TASK_MGMT_RSP
    assert r[-1].pdu.b2 == TmfResponse.FUNCTION_COMPLETE
    assert itt not in ini.conn.tasks
    r = ini.tmf(TmfFunction.ABORT_TASK, rtt=itt)
    assert r[-1].pdu.b2 == TmfResponse.TASK_DOES_NOT_EXIST


def test_lu_reset_and_unknown_lun(ini: Initiator) -> None:
    assert ini.tmf(TmfFunction.LOGICAL_UNIT_RESET)[-1].pdu.b2 == TmfResponse.FUNCTION_COMPLETE
    assert ini.tmf(TmfFunction.LOGICAL_UNIT_RESET, lun=9)[-1].pdu.b2 == TmfResponse.LUN_DOES_NOT_EXIST
    assert ini.tmf(TmfFunction.CLEAR_ACA)[-1].pdu.b2 == TmfResponse.NOT_SUPPORTED


def test_unknown_opcode_is_rejected(ini: Initiator) -> None:
    from hpt.iscsi import pdu as P

    ini.send(P.initiator_pdu(0x1C, 0x80, bytes(8), 77))
    r = ini.replies()
    assert r[-1].pdu.opcode == Opcode.REJECT
    assert r[-1].pdu.b2 == RejectReason.COMMAND_NOT_SUPPORTED


def test_logout_closes(ini: Initiator) -> None:
    r = ini.logout()
    assert r[-1].pdu.opcode == Opcode.LOGOUT_RSP and r[-1].pdu.b2 == 0
    assert ini.conn.closing


def test_discovery_sendtargets(server: Server) -> None:
    i = Initiator(make_conn(server))
    r = i.login(None, discovery=True)
    assert r.pdu.w36 >> 16 == 0, r.text
    r = i.text([("SendTargets", "All")])
    assert r[-1].pdu.opcode == Opcode.TEXT_RSP
    pairs = r[-1].data.split(b"\0")
    assert f"TargetName={TARGET}".encode() in pairs
    assert b"TargetAddress=127.0.0.1:3260,1" in pairs


def test_digests_on(server: Server) -> None:
    i = Initiator(make_conn(server))
    i.hd = i.dd = True
    r = i.login(TARGET)
    assert r.pdu.w36 >> 16 == 0
    assert i.hd and i.dd and i.conn.hd == 4 and i.conn.dd == 4
    assert i.scsi(bytes(6))[-1].pdu.b3 == Status.CHECK_CONDITION  # power-on unit attention, with digests
    payload = b"\xa5" * 512
    itt = i.itt + 1
    r = i.scsi(write10(1, 1), write=payload, immediate=512)
    assert r[-1].pdu.opcode == Opcode.SCSI_RSP, r
    assert itt not in i.conn.tasks
    r = i.scsi(read10(1, 1), read=512)
    assert r[-1].data == payload


def test_bad_header_digest_closes(server: Server) -> None:
    i = Initiator(make_conn(server))
    i.hd = True
    i.login(TARGET)
    assert i.conn.hd == 4
    from hpt.iscsi import pdu as P

    hdr = P.initiator_pdu(Opcode.NOP_OUT, 0x80, bytes(8), 5, w20=RSVD_TAG, immediate=True)
    i.conn.receive_bytes(bytes(hdr) + b"\0\0\0\0")
    assert i.conn.closing


def test_session_reinstatement_closes_the_old_connection(server: Server, ini: Initiator) -> None:
    old = ini.conn
    killed: list[str] = []
    old.shutdown_cb = killed.append
    again = Initiator(make_conn(server), isid=ini.isid)
    r = again.login(TARGET)
    assert r.pdu.w36 >> 16 == 0
    assert old.closing and killed == ["session reinstatement"]
    assert again.conn.session is not old.session
    assert server.sessions.all() == [again.conn.session]


def test_login_to_unknown_tsih_and_adding_a_connection(server: Server, ini: Initiator) -> None:
    other = Initiator(make_conn(server), isid=0x23D000000099)
    keys = [("InitiatorName", other.name), ("TargetName", TARGET), ("AuthMethod", "None")]
    r = other.login_pdu(keys, 0, 1, tsih=0x7777)[-1]
    assert r.pdu.w36 >> 16 == 0x020A  # session does not exist
    assert ini.conn.session is not None
    third = Initiator(make_conn(server), isid=ini.isid)
    r = third.login_pdu(keys, 0, 1, tsih=ini.conn.session.tsih)[-1]
    assert r.pdu.w36 >> 16 == 0x0206  # MaxConnections is 1: too many connections


def test_login_text_split_over_continuation_pdus(server: Server) -> None:
    i = Initiator(make_conn(server))
    from hpt.iscsi.text import encode_text

    text = encode_text(
        [("InitiatorName", i.name), ("SessionType", "Normal"), ("TargetName", TARGET), ("AuthMethod", "None")]
    )
    cut = len(text) // 2
    from hpt.iscsi import pdu as P

    lun = i.isid.to_bytes(6, "big") + bytes(2)
    hdr = P.initiator_pdu(Opcode.LOGIN_REQ, 0x40 | 0x01, lun, 1, w24=1, immediate=True)  # C bit, CSG 0
    i.send(hdr, text[:cut])
    r = i.replies()[-1]
    assert r.pdu.opcode == Opcode.LOGIN_RSP and r.data == b"" and not r.pdu.b1 & 0x80
    hdr = P.initiator_pdu(Opcode.LOGIN_REQ, 0x80 | 0x01, lun, 1, w24=1, immediate=True)  # T, CSG 0 -> NSG 1
    i.send(hdr, text[cut:])
    r = i.replies()[-1]
    assert r.pdu.w36 >> 16 == 0 and r.pdu.b1 & 0x80
    assert r.text["AuthMethod"] == "None"


def test_login_with_unsupported_version(server: Server) -> None:
    i = Initiator(make_conn(server))
    from hpt.iscsi import pdu as P

    lun = i.isid.to_bytes(6, "big") + bytes(2)
    hdr = P.initiator_pdu(Opcode.LOGIN_REQ, 0x81, lun, 1, w24=1, immediate=True, b2=2, b3=1)
    i.send(hdr, b"InitiatorName=iqn.2026-11.org.hpt.test:initiator\0")
    r = i.replies()[-1]
    assert r.pdu.w36 >> 16 == 0x0205
    assert i.conn.closing


def test_target_asks_for_logout(ini: Initiator) -> None:
    assert ini.conn.request_logout(3)
    r = ini.replies()[-1]
    assert r.pdu.opcode == Opcode.ASYNC_MSG
    assert (r.pdu.w36 >> 24, r.pdu.w44 >> 16) == (1, 3)  # AsyncEvent 1, Parameter3 = seconds to log out
    r = ini.logout()
    assert r[-1].pdu.opcode == Opcode.LOGOUT_RSP and ini.conn.closing
    assert not ini.conn.request_logout(3)  # nothing left to ask


def test_abort_task_of_a_read_at_the_store_answers_once_the_io_ends(server: Server,
                                                                    ini: Initiator) -> None:
    """RFC 7143 11.5 on SAM-5 7.2: the aborted READ sends nothing, the TMF response waits for its I/O."""
    held = HeldStore(4 << 20)
    server.targets[TARGET].lu(1).store = held  # type: ignore[union-attr]
    itt = ini.itt + 1
    assert ini.scsi(read10(0, 1), read=512) == []  # at the store: no response yet
    held.wait_held(1)
    assert ini.tmf(TmfFunction.ABORT_TASK, rtt=itt) == []  # the TMF waits for the I/O to end
    slots = server.ring.in_use
    held.release()
    ini.conn.drain_completions()  # what the driver does when the store's thread notifies it
    r = ini.replies()
    assert [x.pdu.opcode for x in r] == [Opcode.TASK_MGMT_RSP]  # and no SCSI Response or Data-In
    assert r[0].pdu.b2 == TmfResponse.FUNCTION_COMPLETE
    assert server.ring.in_use == slots - 1  # its ring slot is free again
    later = ini.itt + 1
    ini.scsi(read10(0, 1), read=512)  # the LU keeps serving
    held.wait_held(1)
    held.release()
    ini.conn.drain_completions()
    assert any(x.pdu.opcode == Opcode.DATA_IN and x.pdu.itt == later for x in ini.replies())


def _ended(ini: Initiator, replies: list[Reply], timeout: float = 10.0) -> list[Reply]:
    """``replies`` plus what the command sends once it ends on the engine's blocking pool."""
    deadline = time.monotonic() + timeout
    while not any(x.pdu.opcode == Opcode.SCSI_RSP or x.pdu.b1 & 0x01 for x in replies):
        assert time.monotonic() < deadline, "the command did not end"
        time.sleep(0.005)
        ini.conn.drain_completions()
        replies = replies + ini.replies()
    return replies


def test_tape_read_of_a_short_block_sends_its_data_then_the_sense(tmp_path: Path) -> None:
    """A READ(6) of 4096 bytes over a 1024-byte block: the 1024 bytes go as Data-In without status,
    then a SCSI Response with CHECK CONDITION, ILI and an underflow of 3072 (RFC 7143 11.7.4, SSC-4)."""
    create(tmp_path / "HPT001L6", "HPT001L6", 4 << 20)
    config = CONFIG.replace('store = "ram"\n  size = "4M"',
                            f'type = "tape"\n  cartridge = "{tmp_path / "HPT001L6"}"')
    srv = Server(parse_config(config))
    try:
        ini = Initiator(make_conn(srv))
        assert ini.login(TARGET).pdu.w36 >> 16 == 0
        while _ended(ini, ini.scsi(bytes(6)))[-1].pdu.b3 != Status.GOOD:  # power-on, medium changed
            pass
        block = bytes(range(256)) * 4
        written = _ended(ini, ini.scsi(bytes([0x0A, 0, 0, 4, 0, 0]), write=block, immediate=1024))
        assert written[-1].pdu.b3 == Status.GOOD
        assert _ended(ini, ini.scsi(bytes([0x10, 0, 0, 0, 1, 0])))[-1].pdu.b3 == Status.GOOD  # filemark
        assert _ended(ini, ini.scsi(bytes([0x01, 0, 0, 0, 0, 0])))[-1].pdu.b3 == Status.GOOD  # REWIND
        r = _ended(ini, ini.scsi(bytes([0x08, 0, 0, 0x10, 0, 0]), read=4096))
        data_in = [x for x in r if x.pdu.opcode == Opcode.DATA_IN]
        assert b"".join(x.data for x in data_in) == block
        assert not data_in[-1].pdu.b1 & 0x01  # no S bit: the status comes with its sense
        rsp = r[-1]
        assert rsp.pdu.opcode == Opcode.SCSI_RSP and rsp.pdu.b3 == Status.CHECK_CONDITION
        sense = sense_of(rsp)
        assert sense[2] & 0x20 and int.from_bytes(sense[3:7], "big") == 3072  # ILI, INFORMATION
        assert rsp.pdu.b1 & 0x02 and rsp.pdu.w44 == 3072  # U bit, residual
    finally:
        srv.stop()


def test_a_fault_that_drops_the_connection_closes_it_without_an_answer(
        server: Server, ini: Initiator) -> None:
    from hpt.scsi.core.faults import Fault

    lu = server.targets[TARGET].lu(1)
    lu.inject(Fault.parse("read", (8, 15), "drop"))
    assert ini.scsi(read10(0, 8), read=4096)[-1].pdu.b3 == Status.GOOD
    assert not ini.conn.closing
    assert ini.scsi(read10(8, 1), read=512) == []
    assert ini.conn.closing and "dropped the connection" in ini.conn.close_reason
