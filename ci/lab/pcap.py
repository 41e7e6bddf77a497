"""Read classic libpcap files (as tcpdump writes them) and pick out FIP and FCoE frames.

FIP header (FC-BB-6 7.8.1): version (high nibble of byte 0), reserved, protocol code (16 bits),
reserved, subcode (8 bits), descriptor list length, flags. FCoE (FC-BB-6 7.2): ethertype 0x8906,
14-byte header whose last byte is the SOF, then the FC frame header (FC-FS-4 9.1).
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ETH_P_FCOE = 0x8906
ETH_P_FIP = 0x8914
#: FIP protocol code of VN2VN operations and their subcodes (FC-BB-6 table 54).
FIP_OP_VN2VN = 5
FIP_VN2VN_SUBCODES = {1: "probe request", 2: "probe reply", 3: "claim notification", 4: "claim response",
                      5: "beacon"}
FIP_DESC_NAME = 4
FIP_DESC_VN_ID = 11
_GLOBAL = struct.Struct("<IHHiIII")
_RECORD = struct.Struct("<IIII")
_MAGICS = {0xA1B2C3D4: "<", 0xD4C3B2A1: ">", 0xA1B23C4D: "<", 0x4D3CB2A1: ">"}


@dataclass(frozen=True)
class Frame:
    """One captured Ethernet frame."""

    number: int
    timestamp: float
    data: bytes

    @property
    def dst(self) -> str:
        return _mac(self.data[0:6])

    @property
    def src(self) -> str:
        return _mac(self.data[6:12])

    @property
    def ethertype(self) -> int:
        return struct.unpack_from(">H", self.data, 12)[0]

    def fip(self) -> tuple[int, int] | None:
        """(protocol code, subcode) of a FIP frame, None for any other frame."""
        if self.ethertype != ETH_P_FIP or len(self.data) < 24:
            return None
        op, subcode = struct.unpack_from(">H x B", self.data, 16)
        return op, subcode

    def fip_descriptors(self) -> dict[int, bytes]:
        """FIP descriptors by type (FC-BB-6 7.8.2): value bytes after the 2-byte type/length header."""
        if self.fip() is None:
            return {}
        words = struct.unpack_from(">H", self.data, 20)[0]
        end = min(len(self.data), 24 + 4 * words)
        found: dict[int, bytes] = {}
        offset = 24
        while offset + 2 <= end:
            kind, length = self.data[offset], self.data[offset + 1]
            if length == 0:
                break
            found.setdefault(kind, self.data[offset + 2:offset + 4 * length])
            offset += 4 * length
        return found

    def fip_node_name(self) -> str | None:
        """The WWNN of the Name descriptor (type 4) of a FIP frame, e.g. ``10:00:52:54:00:bb:00:02``."""
        value = self.fip_descriptors().get(FIP_DESC_NAME)
        return _mac(value[2:10]) if value is not None and len(value) >= 10 else None

    def fip_vn_port(self) -> tuple[str, int, str] | None:
        """(VN_Port MAC, FC_ID, WWPN) of the VN_Port ID descriptor (type 11) of a FIP frame."""
        value = self.fip_descriptors().get(FIP_DESC_VN_ID)
        if value is None or len(value) < 18:
            return None
        return _mac(value[0:6]), int.from_bytes(value[7:10], "big"), _mac(value[10:18])

    def fc_header(self) -> tuple[int, int, int, int] | None:
        """(R_CTL, D_ID, S_ID, TYPE) of the FC frame in an FCoE frame, None for any other frame."""
        if self.ethertype != ETH_P_FCOE or len(self.data) < 14 + 14 + 24:
            return None
        header = self.data[28:52]
        r_ctl = header[0]
        d_id = int.from_bytes(header[1:4], "big")
        s_id = int.from_bytes(header[5:8], "big")
        return r_ctl, d_id, s_id, header[8]

    def fc_payload_opcode(self) -> int | None:
        """First payload byte of an FCoE frame: the ELS command code for ELS requests and replies."""
        if self.fc_header() is None or len(self.data) < 53:
            return None
        return self.data[52]


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def read_pcap(path: Path) -> Iterator[Frame]:
    """Frames of a pcap file (gzip-compressed if named ``*.gz``) with Ethernet link type, numbered from 1."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    if len(data) < _GLOBAL.size:
        raise ValueError(f"{path}: not a pcap file (too short)")
    magic = struct.unpack_from("<I", data)[0]
    order = _MAGICS.get(magic)
    if order is None:
        raise ValueError(f"{path}: not a pcap file (magic {magic:#x})")
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack_from(order + "I", data, 20)[0]
    if linktype != 1:
        raise ValueError(f"{path}: link type {linktype}, expected Ethernet (1)")
    record = struct.Struct(order + _RECORD.format[1:])
    offset, number = _GLOBAL.size, 0
    while offset + record.size <= len(data):
        seconds, fraction, caplen, _length = record.unpack_from(data, offset)
        offset += record.size
        number += 1
        stamp = seconds + fraction / (1e9 if nano else 1e6)
        yield Frame(number, stamp, data[offset:offset + caplen])
        offset += caplen
