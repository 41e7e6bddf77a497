"""Additional Header Segments of a SCSI Command: the Extended CDB AHS and bidirectional commands with the
Bidirectional Read Expected Data Transfer Length AHS, their data and residuals (RFC 7143 11.2.2, 11.4.5)."""

from __future__ import annotations

import struct

import pytest

from hpt.iscsi import pdu as P
from hpt.iscsi.pdu import Opcode
from hpt.scsi.core.command import Completion, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import Status

from .initiator import Initiator, Reply, sense_of
from .test_connection import TARGET, ini, make_conn, server  # noqa: F401 - fixtures

VARLEN = bytes([0x7F, 0, 0, 0, 0, 0, 0, 24]) + bytes(range(8, 32))  # a 32-byte variable-length CDB


class Echo:
    """A SCSI target that records each command and answers a bidirectional one with its write data
    reversed, cut or padded to ``produce`` bytes."""

    def __init__(self, produce: int | None = None) -> None:
        self.produce = produce
        self.commands: list[tuple[bytes, bytes | None, int, int]] = []

    def submit(self, cmd: ScsiCommand, done: Completion) -> None:
        out = bytes(cmd.data_out) if cmd.data_out is not None else None
        self.commands.append((bytes(cmd.cdb), out, cmd.expected_in, cmd.expected_out))
        if cmd.data_in is None:
            done(ScsiResult(Status.GOOD))
            return
        data = (out or b"")[::-1]
        n = len(data) if self.produce is None else self.produce
        data = data[:n].ljust(n, b"\xee")
        m = min(n, len(cmd.data_in))
        cmd.data_in[:m] = data[:m]
        done(ScsiResult(Status.GOOD, in_len=n))


@pytest.fixture
def initiator(ini: Initiator) -> Initiator:  # noqa: F811 - the logged-in initiator of test_connection
    return ini


def _echo(who: Initiator, produce: int | None = None) -> Echo:
    echo = Echo(produce)
    assert who.conn.session is not None
    who.conn.session.scsi_target = echo  # type: ignore[assignment]
    return echo


def _response(replies: list[Reply]) -> Reply:
    rsp = replies[-1]
    assert rsp.pdu.opcode == Opcode.SCSI_RSP, replies
    return rsp


def _data_in(replies: list[Reply]) -> bytes:
    ins = [r for r in replies if r.pdu.opcode == Opcode.DATA_IN]
    assert all(not r.pdu.b1 & 0x01 for r in ins)  # a bidirectional command's status never rides a Data-In
    return b"".join(r.data for r in ins)


def _invalid_field(rsp: Reply) -> None:
    sense = sense_of(rsp)
    assert rsp.pdu.b3 == Status.CHECK_CONDITION
    assert (sense[2] & 0xF, sense[12], sense[13]) == (0x05, 0x24, 0x00)


# -- the codec ---------------------------------------------------------------------------------------
def test_parse_ahs_extended_cdb_and_bidi_length() -> None:
    raw = P.extended_cdb_ahs(VARLEN) + P.bidi_read_ahs(1 << 20)
    assert len(P.extended_cdb_ahs(VARLEN)) == 20  # 4 + 16 bytes, already a multiple of 4
    ahs = P.parse_ahs(raw)
    assert ahs.extended_cdb == VARLEN[16:]
    assert ahs.bidi_read_length == 1 << 20
    assert P.parse_ahs(b"") == P.Ahs(b"", None)
    odd = P.extended_cdb_ahs(bytes(17))  # one CDB byte: AHSLength 2, padded to 8
    assert len(odd) == 8 and P.parse_ahs(odd).extended_cdb == b"\0"


@pytest.mark.parametrize("raw, why", [
    (b"\0\x05\x02", "too short"),
    (struct.pack(">HBB", 40, 1, 0) + bytes(8), "runs past"),
    (P.bidi_read_ahs(8) + P.bidi_read_ahs(8), "twice"),
    (struct.pack(">HBBI", 5, 3, 0, 0), "AHSType 3"),
    (struct.pack(">HBBII", 9, 2, 0, 0, 0), "must be 5"),
    (struct.pack(">HBB", 1, 1, 0), "no CDB bytes"),
])
def test_parse_ahs_refuses_malformed(raw: bytes, why: str) -> None:
    with pytest.raises(P.AhsError, match=why):
        P.parse_ahs(raw)


# -- through the connection --------------------------------------------------------------------------
def test_extended_cdb_reaches_the_engine(initiator: Initiator) -> None:
    echo = _echo(initiator)
    rsp = _response(initiator.scsi(VARLEN))
    assert rsp.pdu.b3 == Status.GOOD
    assert echo.commands == [(VARLEN, None, 0, 0)]


def test_bidirectional_immediate_and_r2t_data_then_read_data_and_underflow(initiator: Initiator) -> None:
    echo = _echo(initiator, produce=3000)
    write = bytes(range(256)) * 40  # 10240 bytes: 4096 immediate, the rest solicited by R2T
    replies = initiator.scsi(VARLEN, write=write, immediate=4096, bidi_read=4096)
    r2ts = [r for r in replies if r.pdu.opcode == Opcode.R2T]
    assert r2ts and not echo.commands
    replies = []
    for r2t in r2ts:
        off, length = r2t.pdu.w40, r2t.pdu.w44
        replies += initiator.data_out(r2t.pdu.itt, r2t.pdu.ttt, off, write[off:off + length], 0)
    assert echo.commands == [(VARLEN, write, 4096, len(write))]
    assert _data_in(replies) == write[::-1][:3000]
    rsp = _response(replies)
    assert rsp.pdu.b3 == Status.GOOD
    assert rsp.pdu.b1 & 0x1E == 0x08  # u: the read fell short; no write residual
    assert (rsp.pdu.w40, rsp.pdu.w44) == (4096 - 3000, 0)  # Bidirectional Read Residual Count, Residual


def test_bidirectional_read_overflow(initiator: Initiator) -> None:
    _echo(initiator, produce=600)
    replies = initiator.scsi(VARLEN, write=b"x" * 100, immediate=100, bidi_read=512)
    assert len(_data_in(replies)) == 512
    rsp = _response(replies)
    assert rsp.pdu.b1 & 0x1E == 0x10 and rsp.pdu.w40 == 88  # o: 88 bytes did not fit


def test_bidirectional_on_a_disk_write_reads_nothing(initiator: Initiator) -> None:
    """A real LU: WRITE(10) sent as a bidirectional command writes its block and reads nothing (u)."""
    write10 = struct.pack(">BBIBHB", 0x2A, 0, 0, 0, 1, 0)
    rsp = _response(initiator.scsi(write10, write=b"\x5a" * 512, immediate=512, bidi_read=64))
    assert rsp.pdu.b3 == Status.GOOD and rsp.pdu.b1 & 0x1E == 0x08 and rsp.pdu.w40 == 64
    read10 = struct.pack(">BBIBHB", 0x28, 0, 0, 0, 1, 0)
    assert b"".join(r.data for r in initiator.scsi(read10, read=512)) == b"\x5a" * 512


@pytest.mark.parametrize("ahs, bidi", [
    (struct.pack(">HBB", 40, 1, 0) + bytes(8), False),  # AHSLength beyond TotalAHSLength
    (struct.pack(">HBBI", 5, 7, 0, 0), False),  # an undefined AHSType
    (P.bidi_read_ahs(512), False),  # the bidirectional AHS on a read-only command
    (b"", True),  # R and W set without the bidirectional AHS
])
def test_malformed_ahs_is_check_condition_and_the_connection_goes_on(initiator: Initiator, ahs: bytes,
                                                                     bidi: bool) -> None:
    echo = _echo(initiator)
    kwargs = {"write": b"y" * 64, "immediate": 64, "bidi_read": 64} if bidi else {"read": 64}
    _invalid_field(_response(initiator.scsi(VARLEN, ahs=ahs, **kwargs)))  # type: ignore[arg-type]
    assert not echo.commands
    assert _response(initiator.scsi(VARLEN)).pdu.b3 == Status.GOOD  # the CmdSN moved on: the next one runs
    assert len(echo.commands) == 1


def test_header_digest_covers_the_ahs(server) -> None:  # noqa: F811 - the fixture
    i = Initiator(make_conn(server))
    i.hd = True
    assert i.login(TARGET).pdu.w36 >> 16 == 0 and i.hd
    _echo(i)
    rsp = _response(i.scsi(VARLEN))
    assert rsp.pdu.b3 == Status.GOOD
    assert not i.conn.closing
