"""scapy layers for FIP (FC-BB-6 7.8), FCoE (FC-BB-6 7.2), the FC frame header (FC-FS-4 9.1), ELS
(FC-LS-3) and FCP (FCP-4) IUs. scapy ships none; these craft good and malformed frames and read
captures independently of hpt's own codecs.
"""

from __future__ import annotations

import struct
import zlib

from scapy.fields import (
    BitField,
    ByteField,
    FieldLenField,
    IntField,
    LongField,
    PacketListField,
    ShortField,
    StrFixedLenField,
    StrLenField,
    X3BytesField,
    XByteField,
    XIntField,
    XLELongField,
    XShortField,
)
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw, bind_layers

ALL_VN2VN = "01:10:18:01:00:04"
ALL_ENODES, ALL_FCFS = "01:10:18:01:00:01", "01:10:18:01:00:02"
FLAG_FPMA, FLAG_AVAILABLE, FLAG_SOLICITED, FLAG_FCF = 0x8000, 0x0004, 0x0002, 0x0001
SOF_I3, SOF_N3, EOF_N, EOF_T = 0x2E, 0x36, 0x41, 0x42


def vn_mac(port_id: int, fc_map: int = 0x0EFD00) -> str:
    """A VN2VN MAC (FC-MAP 0E-FD-00) or, with the fabric's FC-MAP, an FPMA."""
    return ":".join(f"{b:02x}" for b in (fc_map << 24 | port_id).to_bytes(6, "big"))


# -- FIP ---------------------------------------------------------------------------------------------
class FIPDesc(Packet):
    """One FIP descriptor: type, length in words (header included), value padded to a word."""

    name = "FIP descriptor"
    fields_desc = [
        ByteField("type", 0),
        FieldLenField("len", None, length_of="value", fmt="B", adjust=lambda pkt, x: (x + 2 + 3) // 4),
        StrLenField("value", b"", length_from=lambda pkt: max(0, pkt.len * 4 - 2)),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        return pkt + bytes(-len(pkt) % 4) + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class FIP(Packet):
    name = "FIP"
    fields_desc = [
        BitField("version", 1, 4),
        BitField("reserved", 0, 12),
        XShortField("op", 0),
        ByteField("reserved2", 0),
        ByteField("subcode", 0),
        FieldLenField("dl_len", None, length_of="descriptors", fmt="H", adjust=lambda pkt, x: x // 4),
        XShortField("flags", 0),
        PacketListField("descriptors", [], FIPDesc, length_from=lambda pkt: pkt.dl_len * 4),
    ]

    def desc(self, kind: int) -> bytes | None:
        for d in self.descriptors:
            if d.type == kind:
                return bytes(d.value)
        return None


def mac_d(mac: str) -> FIPDesc:
    return FIPDesc(type=2, value=bytes.fromhex(mac.replace(":", "")))


def name_d(wwnn: int) -> FIPDesc:
    return FIPDesc(type=4, value=bytes(2) + wwnn.to_bytes(8, "big"))


def vn_id_d(port_id: int, wwpn: int, mac: str | None = None) -> FIPDesc:
    raw = bytes.fromhex((mac or vn_mac(port_id)).replace(":", ""))
    return FIPDesc(type=11, value=raw + b"\0" + port_id.to_bytes(3, "big") + wwpn.to_bytes(8, "big"))


def fc4_d(features: int = 0x2) -> FIPDesc:
    types = bytearray(32)
    types[2] = 0x01  # FC-4 TYPE 8 (FCP): word 0, bit 8
    feats = bytearray(128)
    feats[7] = features  # 4 bits per TYPE: TYPE 8 is the low nibble of word 1
    return FIPDesc(type=15, value=bytes(2) + bytes(types) + bytes(feats))


def size_d(size: int = 2158) -> FIPDesc:
    return FIPDesc(type=6, value=struct.pack(">H", size))


def priority_d(priority: int) -> FIPDesc:
    return FIPDesc(type=1, value=bytes((0, priority)))


def fabric_d(fabric_name: int, fc_map: int = 0x0EFC00, vf_id: int = 0) -> FIPDesc:
    return FIPDesc(
        type=5,
        value=struct.pack(">HB", vf_id, 0) + fc_map.to_bytes(3, "big") + fabric_name.to_bytes(8, "big"),
    )


def fka_d(period_ms: int = 8000, no_keep_alive: bool = False) -> FIPDesc:
    return FIPDesc(type=12, value=struct.pack(">BBI", 0, int(no_keep_alive), period_ms))


def advertisement(
    fcf: str,
    switch_name: int,
    fabric_name: int,
    priority: int = 128,
    period_ms: int = 8000,
    flags: int = FLAG_FPMA | FLAG_AVAILABLE | FLAG_FCF,
    dst: str = ALL_ENODES,
    fc_map: int = 0x0EFC00,
    no_keep_alive: bool = False,
) -> Ether:
    """A Discovery Advertisement (FC-BB-6 7.8.3); add FLAG_SOLICITED to ``flags`` for a solicited one."""
    descs = [
        priority_d(priority),
        mac_d(fcf),
        name_d(switch_name),
        fabric_d(fabric_name, fc_map),
        fka_d(period_ms, no_keep_alive),
    ]
    return Ether(dst=dst, src=fcf) / FIP(op=1, subcode=2, flags=flags, descriptors=descs)


def clear_virtual_links(fcf: str, switch_name: int, dst: str, vn_ids: list[FIPDesc]) -> Ether:
    """Clear Virtual Links (FIP op 3, subcode 2) naming the VN_Ports in ``vn_ids`` (none: all)."""
    return Ether(dst=dst, src=fcf) / FIP(
        op=3, subcode=2, descriptors=[mac_d(fcf), name_d(switch_name), *vn_ids]
    )


def fip_els_reply(fcf: str, dst: str, kind: int, fc_frame: bytes, mac: str = "00:00:00:00:00:00") -> Ether:
    """An ELS reply carried in FIP (op 2, subcode 2): the FC frame, then the MAC descriptor."""
    descs = [FIPDesc(type=kind, value=bytes(2) + fc_frame), mac_d(mac)]
    return Ether(dst=dst, src=fcf) / FIP(op=2, subcode=2, flags=FLAG_FPMA, descriptors=descs)


def vn2vn(
    subcode: int, enode: str, wwnn: int, port_id: int, wwpn: int, dst: str = ALL_VN2VN, src: str | None = None
) -> Ether:
    """A VN2VN frame from an ENode: probe (1, 2), claim (3, 4: with FC-4 features and size), beacon (5)."""
    descs = [mac_d(enode), name_d(wwnn), vn_id_d(port_id, wwpn)]
    if subcode in (3, 4):
        descs += [fc4_d(), size_d()]
    return Ether(dst=dst, src=src or enode) / FIP(op=5, subcode=subcode, descriptors=descs)


# -- FCoE and FC ---------------------------------------------------------------------------------
class FCoE(Packet):
    """FCoE header (version, SOF) and trailer (CRC, EOF) around an FC frame; ``crc=None`` computes it."""

    name = "FCoE"
    fields_desc = [
        BitField("version", 0, 4),
        BitField("reserved", 0, 100),
        XByteField("sof", SOF_I3),
        XIntField("crc", None),
        XByteField("eof", EOF_T),
        X3BytesField("reserved2", 0),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        crc = zlib.crc32(pay) if self.crc is None else self.crc
        return pkt[:14] + pay + struct.pack("<IB", crc, self.eof) + pkt[19:22]

    def do_dissect(self, s: bytes) -> bytes:
        if len(s) < 22:
            return super().do_dissect(s)
        trailer = s[-8:]
        super().do_dissect(s[:14] + struct.pack(">I", struct.unpack_from("<I", trailer)[0]) + trailer[4:])
        self.raw_packet_cache = None  # rebuild through post_build: the trailer goes after the payload
        return s[14:-8]


class FC(Packet):
    name = "FC"
    fields_desc = [
        XByteField("r_ctl", 0),
        X3BytesField("d_id", 0),
        XByteField("cs_ctl", 0),
        X3BytesField("s_id", 0),
        XByteField("type", 0),
        X3BytesField("f_ctl", 0x290000),
        XByteField("seq_id", 0),
        XByteField("df_ctl", 0),
        ShortField("seq_cnt", 0),
        XShortField("ox_id", 0),
        XShortField("rx_id", 0xFFFF),
        XIntField("parameter", 0),
    ]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        if self.type == 0x08:
            return {0x06: FCP_CMND, 0x05: FCP_XFER_RDY, 0x07: FCP_RSP}.get(self.r_ctl, Raw)
        if self.type == 0x01 and payload:
            return ELS_CLASSES.get(payload[0], ELS)
        if self.type == 0x20:
            return CT
        return Raw


# -- ELS -----------------------------------------------------------------------------------------
class ELS(Packet):
    name = "ELS"
    fields_desc = [XByteField("cmd", 0), X3BytesField("reserved", 0)]


class ELS_LS_RJT(Packet):
    name = "LS_RJT"
    fields_desc = [
        XByteField("cmd", 0x01),
        X3BytesField("reserved", 0),
        ByteField("reserved2", 0),
        XByteField("reason", 0),
        XByteField("explanation", 0),
        XByteField("vendor", 0),
    ]


class ELS_Login(Packet):
    """PLOGI/FLOGI and their LS_ACC (FC-LS-3 6.6): the fields a test looks at."""

    name = "Login"
    fields_desc = [
        XByteField("cmd", 0x03),
        X3BytesField("reserved", 0),
        XShortField("fc_ph", 0x2020),
        ShortField("bb_credit", 10),
        XShortField("features", 0x8000),
        ShortField("rx_size", 2112),
        XShortField("concurrent_seqs", 0xFF),
        XShortField("rel_off", 0x1F),
        IntField("e_d_tov", 2000),
        LongField("wwpn", 0),
        LongField("wwnn", 0),
        StrFixedLenField("class1", b"", 16),
        StrFixedLenField("class2", b"", 16),
        XShortField("class3_options", 0x8800),
        XShortField("class3_ictl", 0),
        XShortField("class3_rctl", 0),
        ShortField("class3_rx_size", 2112),
        StrFixedLenField("class3_rest", b"\x00\xff\x00\x00\x00\x01\x00\x00", 8),
        StrFixedLenField("class4", b"", 16),
        StrFixedLenField("vendor", b"", 16),
    ]


class ELS_PRLI(Packet):
    """PRLI/PRLO and their LS_ACC with one service parameter page (FC-LS-3 4.3.22/4.3.23)."""

    name = "PRLI"
    fields_desc = [
        XByteField("cmd", 0x20),
        ByteField("page_len", 16),
        ShortField("length", 20),
        XByteField("fc4_type", 8),
        XByteField("type_ext", 0),
        XByteField("flags", 0x20),
        XByteField("reserved", 0),
        XIntField("orig_pa", 0),
        XIntField("resp_pa", 0),
        XIntField("params", 0x1A2),
    ]


class ELS_ADISC(Packet):
    name = "ADISC"
    fields_desc = [
        XByteField("cmd", 0x52),
        X3BytesField("reserved", 0),
        XIntField("hard_address", 0),
        LongField("wwpn", 0),
        LongField("wwnn", 0),
        XIntField("port_id", 0),
    ]


class ELS_REC(Packet):
    name = "REC"
    fields_desc = [
        XByteField("cmd", 0x13),
        X3BytesField("reserved", 0),
        XIntField("originator", 0),
        XShortField("ox_id", 0),
        XShortField("rx_id", 0xFFFF),
    ]


class ELS_LOGO(Packet):
    name = "LOGO"
    fields_desc = [
        XByteField("cmd", 0x05),
        X3BytesField("reserved", 0),
        XIntField("port_id", 0),
        XLELongField("wwpn", 0),
    ]


class CT(Packet):
    """The CT_IU preamble (FC-GS-7 4.3.2); the request or response body follows as payload."""

    name = "CT"
    fields_desc = [
        XByteField("revision", 1),
        X3BytesField("in_id", 0),
        XByteField("gs_type", 0xFC),
        XByteField("gs_subtype", 0x02),
        XByteField("options", 0),
        XByteField("reserved", 0),
        XShortField("cmd", 0),
        ShortField("max_size", 0),
        XByteField("fragment", 0),
        XByteField("reason", 0),
        XByteField("explanation", 0),
        XByteField("vendor", 0),
    ]


ELS_CLASSES: dict[int, type[Packet]] = {
    0x01: ELS_LS_RJT,
    0x03: ELS_Login,
    0x04: ELS_Login,
    0x20: ELS_PRLI,
    0x21: ELS_PRLI,
    0x52: ELS_ADISC,
    0x13: ELS_REC,
    0x05: ELS_LOGO,
}


# -- FCP -----------------------------------------------------------------------------------------
class FCP_CMND(Packet):
    name = "FCP_CMND"
    fields_desc = [
        StrFixedLenField("lun", bytes(8), 8),
        ByteField("crn", 0),
        ByteField("task_attr", 0),
        XByteField("tmf", 0),
        BitField("add_cdb_len", 0, 6),
        BitField("rddata", 0, 1),
        BitField("wrdata", 0, 1),
        StrLenField("cdb", bytes(16), length_from=lambda pkt: 16 + 4 * pkt.add_cdb_len),
        IntField("dl", 0),
    ]


class FCP_XFER_RDY(Packet):
    name = "FCP_XFER_RDY"
    fields_desc = [IntField("offset", 0), IntField("burst", 0), IntField("reserved", 0)]


class FCP_RSP(Packet):
    name = "FCP_RSP"
    fields_desc = [
        StrFixedLenField("reserved", bytes(8), 8),
        ShortField("status_qualifier", 0),
        XByteField("flags", 0),
        XByteField("status", 0),
        IntField("resid", 0),
        IntField("sns_len", 0),
        IntField("rsp_len", 0),
        StrLenField("rsp_info", b"", length_from=lambda pkt: pkt.rsp_len),
        StrLenField("sense", b"", length_from=lambda pkt: pkt.sns_len),
    ]


class BA_ACC(Packet):
    name = "BA_ACC"
    fields_desc = [
        XByteField("seq_id_valid", 0),
        XByteField("seq_id", 0),
        ShortField("reserved", 0),
        XShortField("ox_id", 0),
        XShortField("rx_id", 0),
        ShortField("low_seq_cnt", 0),
        ShortField("high_seq_cnt", 0),
    ]


bind_layers(Ether, FIP, type=0x8914)
bind_layers(Ether, FCoE, type=0x8906)
bind_layers(FCoE, FC)
