"""The BHS codec (RFC 7143 11) and CRC32C digests (RFC 7143 11.1, 13.1)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hpt.iscsi import pdu as P
from hpt.iscsi.digest import crc32c, digest_bytes, digest_ok
from hpt.iscsi.pdu import BHS_LEN, Opcode, Pdu

u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)


@given(
    op=st.sampled_from(sorted(P.INITIATOR_OPCODES)),
    b1=st.integers(0, 255),
    lun=st.binary(min_size=8, max_size=8),
    itt=u32,
    words=st.lists(u32, min_size=7, max_size=7),
    dsl=st.integers(0, 0xFFFFFF),
    imm=st.booleans(),
)
def test_bhs_round_trip(
    op: int, b1: int, lun: bytes, itt: int, words: list[int], dsl: int, imm: bool
) -> None:
    raw = P.initiator_pdu(op, b1, lun, itt, *words, dsl=dsl, immediate=imm)
    assert len(raw) == BHS_LEN
    p = Pdu(raw)
    assert (p.opcode, p.immediate, p.b1, p.lun, p.itt, p.dsl, p.ahs_len) == (op, imm, b1, lun, itt, dsl, 0)
    assert [p.w20, p.w24, p.w28, p.w32, p.w36, p.w40, p.w44] == words


def test_scsi_command_fields_and_extended_cdb() -> None:
    raw = P.initiator_pdu(Opcode.SCSI_CMD, 0xE2, bytes(8), 9, w20=4096, w24=7, w28=3)
    raw[32:48] = bytes(range(16))
    raw[4] = 2  # TotalAHSLength: two words of AHS
    p = Pdu(raw)
    assert p.final and p.read_bit and p.write_bit and p.attr == 2
    assert (p.edtl, p.cmdsn, p.expstatsn, p.ahs_len) == (4096, 7, 3, 8)
    # Extended CDB AHS (type 1): AHSLength 5 = 1 reserved byte + 4 CDB bytes, padded to 8 bytes
    p.ahs = struct.pack(">HBB", 5, 1, 0) + b"\xaa\xbb\xcc\xdd"
    assert p.cdb() == bytes(range(16)) + b"\xaa\xbb\xcc\xdd"
    p.ahs = struct.pack(">HBBI", 5, 2, 0, 65536)
    assert p.bidi_read_length() == 65536


def test_login_request_fields() -> None:
    isid, tsih = 0x23D000000001, 0x1234
    lun = isid.to_bytes(6, "big") + tsih.to_bytes(2, "big")
    p = Pdu(P.initiator_pdu(Opcode.LOGIN_REQ, 0x87, lun, 1, w20=0x00050000, immediate=True))
    assert (p.transit, p.cont, p.csg, p.nsg, p.isid, p.tsih, p.cid) == (True, False, 1, 3, isid, tsih, 5)


def test_target_builders_put_fields_where_rfc_says() -> None:
    lun = bytes([0, 1, 0, 0, 0, 0, 0, 0])
    d = Pdu(P.data_in(7, 0x81 | 0x02, 0, lun, 5, 2, 33, 4, 8192, 512, 4096))
    assert (d.opcode, d.b1, d.itt, d.w20, d.w24, d.w28, d.w32, d.w36, d.w40, d.w44, d.dsl) == (
        Opcode.DATA_IN,
        0x83,
        7,
        P.RSVD_TAG,
        5,
        2,
        33,
        4,
        8192,
        512,
        4096,
    )
    r = Pdu(P.r2t(lun, 7, 99, 5, 2, 33, 1, 65536, 262144))
    assert (r.opcode, r.ttt, r.w36, r.w40, r.w44) == (Opcode.R2T, 99, 1, 65536, 262144)
    s = Pdu(P.scsi_response(7, 0x04, 0, 2, 5, 2, 33, 0, 100, 20))
    assert (s.opcode, s.b1, s.b3, s.w24, s.w44, s.dsl) == (Opcode.SCSI_RSP, 0x84, 2, 5, 100, 20)
    lg = Pdu(P.login_response(0x87, 0, 0, 0x23D000000001, 9, 1, 0, 1, 128, 2, 3, 0))
    assert (lg.isid, lg.tsih, lg.w36 >> 24, (lg.w36 >> 16) & 0xFF) == (0x23D000000001, 9, 2, 3)
    lo = Pdu(P.logout_response(0, 3, 5, 2, 33, 2, 20))
    assert lo.w40 == (2 << 16) | 20
    rj = Pdu(P.reject(P.RejectReason.PROTOCOL_ERROR, 5, 2, 33))
    assert (rj.b2, rj.itt, rj.dsl) == (4, P.RSVD_TAG, BHS_LEN)
    a = Pdu(P.async_message(P.AsyncEvent.LOGOUT_REQUEST, bytes(8), 5, 2, 33, param3=10))
    assert (a.w36 >> 24, a.w44 >> 16) == (1, 10)
    hdr = P.nop_in(bytes(8), 1, P.RSVD_TAG, 5, 2, 33, 0)
    P.set_dsl(hdr, 300)
    assert Pdu(hdr).dsl == 300


@given(st.binary(max_size=4096), st.integers(0, 4096))
def test_digest_over_pieces_equals_whole(data: bytes, cut: int) -> None:
    cut = min(cut, len(data))
    assert crc32c(data[:cut], data[cut:]) == crc32c(data)
    wire = digest_bytes(data)
    assert digest_ok(wire, data[:cut], data[cut:])
    assert not digest_ok(bytes(b ^ 1 for b in wire), data)


def test_crc32c_check_value() -> None:
    # RFC 3720 B.4 / the standard CRC32C check value, sent least significant byte first
    assert crc32c(b"123456789") == 0xE3069283
    assert digest_bytes(b"123456789") == bytes.fromhex("839206e3")
    assert P.pad_len(5) == 3 and P.pad_len(8) == 0
