"""Hypothesis strategies for initiator PDUs (RFC 7143 11): each kind built with fields near the values a
target acts on (ITTs and TTTs it hands out, CmdSNs around its window, lengths around its limits), then now
and then a few of its bytes flipped; and the wire form with padding and digests."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from hpt.iscsi import pdu as P
from hpt.iscsi.digest import digest_bytes
from hpt.iscsi.keys import KEYS
from hpt.iscsi.pdu import Opcode

TAG = st.one_of(st.integers(0, 8), st.sampled_from((0xFFFFFFFF, 0x7FFFFFFF)), st.integers(0, 2**32 - 1))
LENGTH = st.one_of(st.sampled_from((0, 1, 4, 511, 512, 513, 4096, 8192, 8193, 65536, 262144, 2**24 - 1,
                                    2**32 - 1)), st.integers(0, 2**32 - 1))
VALUE = st.one_of(
    st.sampled_from(("None", "CRC32C", "CRC32C,None", "Yes", "No", "0", "1", "2", "512", "8192", "16777215",
                     "16777216", "4294967296", "-1", "", "All", "Discovery", "Normal", "CHAP", "5", "7",
                     "0x01", "0b" + "A" * 200, "iqn.2026-11.org.hpt.fuzz:disk",
                     "iqn.2026-11.org.hpt.fuzz:chap", "fuzz", "0x" + "00" * 16, "0x" + "AB" * 300,
                     "NotUnderstood", "Reject", "Irrelevant")),
    st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=40),
)
KEY = st.one_of(st.sampled_from(sorted(KEYS)), st.sampled_from(("X-vendor", "X#hpt", "=", "a" * 64)),
                st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="="),
                        min_size=1, max_size=12))
PAIRS = st.lists(st.tuples(KEY, VALUE), max_size=8)


def text_data(pairs: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{k}={v}".encode() + b"\0" for k, v in pairs)


@dataclass
class Wire:
    """One PDU as the harness sends it: BHS, AHS and data segment; ``corrupt`` spoils a digest."""

    bhs: bytes
    ahs: bytes = b""
    data: bytes = b""
    corrupt: int = 0  # 0: digests right; 1: header digest wrong; 2: data digest wrong

    def encode(self, hd: bool, dd: bool) -> bytes:
        head = self.bhs + self.ahs
        out = head
        if hd:
            out += bytes(a ^ (self.corrupt == 1) for a in digest_bytes(head))
        if self.data:
            pad = b"\0" * P.pad_len(len(self.data))
            out += self.data + pad
            if dd:
                out += bytes(a ^ (self.corrupt == 2) for a in digest_bytes(self.data, pad))
        return out


CDB = st.one_of(
    st.sampled_from((bytes(6), bytes((0x12, 0, 0, 0, 96, 0)), bytes((0x28, 0, 0, 0, 0, 8, 0, 0, 1, 0)),
                     bytes((0x2A, 0, 0, 0, 0, 8, 0, 0, 1, 0)), bytes((0x2A, 0x08, 0, 0, 0, 0, 0, 0, 16, 0)),
                     bytes((0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
                     bytes((0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0)))),
    st.binary(min_size=1, max_size=16),
)


@st.composite
def ahs(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return P.extended_cdb_ahs(draw(st.binary(min_size=17, max_size=64)))
    if choice == 1:
        return P.bidi_read_ahs(draw(st.integers(0, 2**32 - 1)))
    if choice == 2:
        return draw(st.binary(max_size=16)).ljust(4 * draw(st.integers(1, 4)), b"\0")[:16]
    return b""


@st.composite
def pdus(draw: st.DrawFn, cmdsn: int, login: bool) -> Wire:
    """One initiator PDU; ``cmdsn`` is the session's next CmdSN, ``login`` whether login is going on."""
    kind = draw(st.sampled_from(("login", "scsi", "scsi", "scsi", "data", "data", "nop", "text", "tmf",
                                 "logout", "snack", "any") if not login else
                                ("login", "login", "login", "login", "nop", "scsi", "any")))
    sn = (cmdsn + draw(st.sampled_from((0, 0, 0, 1, -1, 2, 1000, 2**31)))) & 0xFFFFFFFF
    itt = draw(TAG)
    lun = draw(st.sampled_from((bytes((0, 1)) + bytes(6), bytes(8), bytes((0, 7)) + bytes(6)))) \
        if draw(st.integers(0, 9)) else draw(st.binary(min_size=8, max_size=8))
    imm = draw(st.booleans())
    data = b""
    extra = b""
    if kind == "login":
        csg, nsg = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        b1 = draw(st.sampled_from((0x80, 0, 0x40))) | csg << 2 | nsg
        isid = draw(st.sampled_from((0x23D000000001, 0x23D000000002, 0)))
        lun = isid.to_bytes(6, "big") + draw(st.sampled_from((0, 1, 0xFFFF))).to_bytes(2, "big")
        hdr = P.initiator_pdu(Opcode.LOGIN_REQ, b1, lun, itt, w24=sn, immediate=True,
                              b2=draw(st.sampled_from((0, 0, 1))), b3=draw(st.sampled_from((0, 0, 2))))
        data = text_data(draw(PAIRS))
    elif kind == "scsi":
        cdb = draw(CDB)
        b1 = draw(st.integers(0, 255)) if draw(st.integers(0, 4)) == 0 else \
            draw(st.sampled_from((0x81, 0xC1, 0xA1, 0xE1, 0x21, 0x82, 0x84)))
        hdr = P.initiator_pdu(Opcode.SCSI_CMD, b1, lun, itt, w20=draw(LENGTH), w24=sn, immediate=imm)
        hdr[32:48] = cdb.ljust(16, b"\0")[:16]
        extra = draw(ahs())
        data = draw(st.one_of(st.binary(max_size=600), st.sampled_from((bytes(512), bytes(4096)))))
    elif kind == "data":
        hdr = P.initiator_pdu(Opcode.DATA_OUT, draw(st.sampled_from((0x80, 0))), lun, itt, w20=draw(TAG),
                              w36=draw(st.integers(0, 3)),
                              w40=draw(st.sampled_from((0, 512, 4096, 2**32 - 512))))
        data = bytes(draw(st.sampled_from((0, 1, 512, 4096, 8192))))
    elif kind == "nop":
        hdr = P.initiator_pdu(Opcode.NOP_OUT, 0x80, lun, itt, w20=draw(TAG), w24=sn, immediate=imm)
        data = draw(st.binary(max_size=64))
    elif kind == "text":
        hdr = P.initiator_pdu(Opcode.TEXT_REQ, draw(st.sampled_from((0x80, 0x40, 0, 0xC0))), lun, itt,
                              w20=draw(TAG), w24=sn, immediate=imm)
        data = text_data(draw(st.one_of(PAIRS, st.just([("SendTargets", "All")]))))
    elif kind == "tmf":
        hdr = P.initiator_pdu(Opcode.TASK_MGMT_REQ, 0x80 | draw(st.integers(0, 127)), lun, itt, w20=draw(TAG),
                              w24=sn, w32=sn, immediate=True)
    elif kind == "logout":
        hdr = P.initiator_pdu(Opcode.LOGOUT_REQ, 0x80 | draw(st.integers(0, 3)), lun, itt, w24=sn,
                              immediate=imm, w20=draw(st.integers(0, 2)) << 16)
    elif kind == "snack":
        hdr = P.initiator_pdu(Opcode.SNACK_REQ, 0x80 | draw(st.integers(0, 3)), lun, itt, w20=draw(TAG),
                              w40=draw(st.integers(0, 4)), w44=draw(st.integers(0, 4)))
    else:
        hdr = bytearray(draw(st.binary(min_size=48, max_size=48)))
        hdr[4:8] = bytes(4)
        data = draw(st.binary(max_size=64))
    P.set_dsl(hdr, len(data))
    hdr[4] = len(extra) // 4
    for _ in range(draw(st.sampled_from((0, 0, 0, 0, 1, 2)))):  # a few flipped bytes
        at = draw(st.integers(0, 47))
        hdr[at] ^= draw(st.integers(1, 255))
    return Wire(bytes(hdr), extra, data, draw(st.sampled_from((0,) * 12 + (1, 2))))
