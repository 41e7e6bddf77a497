"""FCoE encapsulation (FC-BB-6 7.2) and the FC frame header (FC-FS-4 9.1, 10.1).

An FCoE frame on Ethernet: 14-byte Ethernet header (ethertype 0x8906), 14-byte FCoE header
(version in the high nibble of byte 0, SOF in byte 13), the 24-byte FC header, the payload
(at most 2112 bytes), the FC CRC-32 (sent least significant byte first) and an EOF byte with 3
reserved bytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

ETH_P_FCOE = 0x8906
ETH_P_FIP = 0x8914
ETH_HLEN = 14
FCOE_HLEN = 14
FC_HLEN = 24
TRAILER_LEN = 8
FC_MAX_PAYLOAD = 2112  # FC-FS-4 9.1: the largest data field
#: Largest FCoE PDU (FCoE header + FC frame + trailer) that FC-BB-6 allows: 2158 bytes.
FCOE_MAX_SIZE = FCOE_HLEN + FC_HLEN + FC_MAX_PAYLOAD + TRAILER_LEN
HEAD_LEN = ETH_HLEN + FCOE_HLEN + FC_HLEN  # the headers before an FC frame's payload
OVERHEAD = HEAD_LEN + TRAILER_LEN

# FC-BB-6 table 17/18: SOF and EOF code points of class 3.
SOF_I3, SOF_N3, SOF_F, SOF_I2, SOF_N2 = 0x2E, 0x36, 0x28, 0x2D, 0x35
EOF_N, EOF_T, EOF_NI, EOF_A = 0x41, 0x42, 0x49, 0x50
SOFS = frozenset({SOF_I3, SOF_N3, SOF_F, SOF_I2, SOF_N2})
EOFS = frozenset({EOF_N, EOF_T, EOF_NI, EOF_A})

# FC-FS-4 9.3 R_CTL values used here.
R_CTL_DATA = 0x01  # FCP_DATA: solicited data
R_CTL_XFER_RDY = 0x05
R_CTL_CMND = 0x06
R_CTL_RSP = 0x07
R_CTL_ELS_REQ = 0x22
R_CTL_ELS_REP = 0x23
R_CTL_BA_NOP, R_CTL_ABTS, R_CTL_RMC, R_CTL_BA_ACC, R_CTL_BA_RJT = 0x80, 0x81, 0x82, 0x84, 0x85

TYPE_BLS, TYPE_ELS, TYPE_FCP = 0x00, 0x01, 0x08

# FC-FS-4 10.1 F_CTL bits.
F_EX_CTX = 1 << 23  # the frame comes from the exchange responder
F_SEQ_CTX = 1 << 22
F_FIRST_SEQ = 1 << 21
F_LAST_SEQ = 1 << 20
F_END_SEQ = 1 << 19
F_SEQ_INIT = 1 << 16
F_REL_OFF = 1 << 3  # parameter field is a relative offset
F_FILL_MASK = 0x3

UNASSIGNED_ID = 0xFFFF  # FC-FS-4 9.9: RX_ID not yet assigned

_HDR = struct.Struct(">IIIBBHHHI")
_TRAILER = struct.Struct("<IB3x")


class FrameError(ValueError):
    """A frame that cannot be used; ``reason`` is the counter it is tallied under."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(slots=True)
class FcHeader:
    """The FC frame header (FC-FS-4 9.1)."""

    r_ctl: int
    d_id: int
    s_id: int
    type: int
    f_ctl: int
    seq_id: int = 0
    seq_cnt: int = 0
    ox_id: int = 0
    rx_id: int = UNASSIGNED_ID
    parameter: int = 0
    cs_ctl: int = 0
    df_ctl: int = 0

    def pack(self) -> bytes:
        return _HDR.pack(
            self.r_ctl << 24 | self.d_id,
            self.cs_ctl << 24 | self.s_id,
            self.type << 24 | self.f_ctl,
            self.seq_id,
            self.df_ctl,
            self.seq_cnt,
            self.ox_id,
            self.rx_id,
            self.parameter,
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview, offset: int = 0) -> FcHeader:
        w0, w1, w2, seq_id, df_ctl, seq_cnt, ox_id, rx_id, param = _HDR.unpack_from(data, offset)
        return cls(
            w0 >> 24,
            w0 & 0xFFFFFF,
            w1 & 0xFFFFFF,
            w2 >> 24,
            w2 & 0xFFFFFF,
            seq_id,
            seq_cnt,
            ox_id,
            rx_id,
            param,
            w1 >> 24,
            df_ctl,
        )


@dataclass(slots=True)
class FcFrame:
    """A received FCoE frame: Ethernet addresses, SOF/EOF, FC header and payload view."""

    dst_mac: bytes
    src_mac: bytes
    sof: int
    eof: int
    header: FcHeader
    payload: memoryview


def fc_crc(parts: Sequence[bytes | memoryview]) -> int:
    """The FC CRC-32 (FC-FS-4 9.1; the same polynomial and bit order as Ethernet's)."""
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


def decode_fcoe(data: bytes | memoryview) -> FcFrame:
    """Check and split an Ethernet frame carrying FCoE (FC-BB-6 7.2); raises :class:`FrameError`."""
    view = memoryview(data)
    if len(view) < OVERHEAD:
        raise FrameError("truncated", f"{len(view)} bytes")
    # FCoE frames are never shorter than Ethernet's minimum, so no padding: the trailer ends the frame.
    end = len(view) - TRAILER_LEN
    return decode_fcoe_parts(view[:HEAD_LEN], view[HEAD_LEN:end], view[end:])


def decode_fcoe_parts(head: memoryview, payload: memoryview, trailer: bytes | memoryview) -> FcFrame:
    """:func:`decode_fcoe` of a frame received in three places: its ``HEAD_LEN`` bytes of headers, its
    payload (where a driver had it land, e.g. a write's buffer) and its 8-byte trailer."""
    if struct.unpack_from(">H", head, 12)[0] != ETH_P_FCOE:
        raise FrameError("not_fcoe")
    if head[ETH_HLEN] >> 4 != 0:
        raise FrameError("bad_version", f"FCoE version {head[ETH_HLEN] >> 4}")
    sof = head[ETH_HLEN + 13]
    if sof not in SOFS:
        raise FrameError("bad_sof", f"SOF {sof:#x}")
    crc, eof = _TRAILER.unpack_from(trailer)
    fc_header = head[ETH_HLEN + FCOE_HLEN:HEAD_LEN]
    if len(payload) > FC_MAX_PAYLOAD:
        raise FrameError("oversized", f"{len(payload)}-byte payload")
    if len(payload) % 4:  # the header is 24 bytes: the frame is word aligned when its payload is
        raise FrameError("bad_length", f"FC frame of {FC_HLEN + len(payload)} bytes is not word aligned")
    if eof not in EOFS:
        raise FrameError("bad_eof", f"EOF {eof:#x}")
    if zlib.crc32(payload, zlib.crc32(fc_header)) != crc:
        raise FrameError("bad_crc")
    return FcFrame(bytes(head[0:6]), bytes(head[6:12]), sof, eof, FcHeader.unpack(fc_header), payload)


def encode_fcoe(
    dst_mac: bytes,
    src_mac: bytes,
    header: FcHeader,
    payload: Sequence[bytes | memoryview],
    sof: int = SOF_I3,
    eof: int = EOF_T,
) -> list[bytes | memoryview]:
    """An FCoE frame as a scatter list: headers, the payload parts (e.g. ring slot views), trailer."""
    head = header.pack()
    crc = zlib.crc32(head)
    for part in payload:
        crc = zlib.crc32(part, crc)
    eth = dst_mac + src_mac + struct.pack(">H", ETH_P_FCOE) + bytes(13) + bytes((sof,))
    return [eth + head, *payload, _TRAILER.pack(crc, eof)]


def mac_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """``52:54:00:aa:00:01`` as 6 bytes; raises ValueError."""
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def wwn_str(wwn: int) -> str:
    """A world wide name as ``20:00:52:54:00:aa:00:01``."""
    return ":".join(f"{b:02x}" for b in wwn.to_bytes(8, "big"))


def parse_wwn(text: str) -> int:
    """``20:00:52:54:00:aa:00:01``, ``0x2000525400aa0001`` or ``naa.2000525400aa0001``; raises ValueError."""
    digits = text.lower().removeprefix("naa.").removeprefix("0x").replace(":", "")
    if len(digits) != 16 or any(c not in "0123456789abcdef" for c in digits):
        raise ValueError(f"not a world wide name (8 bytes in hex): {text!r}")
    return int(digits, 16)
