"""FIP frames (FC-BB-6 7.8): the header, descriptors, and the frames an ENode sends.

Header: version 1 in the high nibble, protocol code, subcode, descriptor list length in 32-bit
words, flags. Each descriptor is type, length in words (header included), value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from hpt.fcoe.frame import ETH_P_FIP, FrameError

FIP_VERSION = 1
# FC-BB-6 table 47 protocol codes and their subcodes.
OP_DISCOVERY, OP_LS, OP_CTRL, OP_VLAN, OP_VN2VN = 1, 2, 3, 4, 5
DISC_SOLICIT, DISC_ADVERTISE = 1, 2
LS_REQUEST, LS_REPLY = 1, 2
CTRL_KEEP_ALIVE, CTRL_CLEAR_VLINKS = 1, 2
VLAN_REQUEST, VLAN_NOTIFY, VLAN_NOTIFY_VN2VN = 1, 2, 3
VN_PROBE_REQ, VN_PROBE_REP, VN_CLAIM_NOTIFY, VN_CLAIM_REP, VN_BEACON = 1, 2, 3, 4, 5
# FC-BB-6 table 48 descriptor types.
DESC_PRIORITY, DESC_MAC, DESC_FC_MAP, DESC_NAME, DESC_FABRIC, DESC_SIZE = 1, 2, 3, 4, 5, 6
DESC_FLOGI, DESC_FDISC, DESC_LOGO, DESC_ELP = 7, 8, 9, 10
DESC_VN_ID, DESC_FKA, DESC_VENDOR, DESC_VLAN, DESC_FC4F = 11, 12, 13, 14, 15
ELS_DESCRIPTORS = frozenset({DESC_FLOGI, DESC_FDISC, DESC_LOGO, DESC_ELP})
# FC-BB-6 table 46 header flags: FP, SP, A (available for login), S (solicited), F (from an FCF).
FLAG_FPMA, FLAG_SPMA, FLAG_AVAILABLE, FLAG_SOLICITED, FLAG_FCF = 0x8000, 0x4000, 0x0004, 0x0002, 0x0001
FKA_FLAG_D = 0x01  # FKA_ADV_Period descriptor: do not send Keep Alives

ALL_VN2VN_MACS = bytes.fromhex("011018010004")
ALL_ENODE_MACS = bytes.fromhex("011018010001")
ALL_FCF_MACS = bytes.fromhex("011018010002")
VN_FC_MAP = 0x0EFD00  # FC-BB-6 7.8.7: VN2VN MAC addresses are 0E-FD-00 followed by the FC_ID
FC4_TYPE_FCP = 0x08
FC4_FEATURE_TARGET, FC4_FEATURE_INITIATOR = 0x1, 0x2

_HEADER = struct.Struct(">BxHxBHH")
FIP_HLEN = 14 + _HEADER.size


def vn_mac(port_id: int) -> bytes:
    return fpma(VN_FC_MAP, port_id)


def fpma(fc_map: int, port_id: int) -> bytes:
    """A Fabric Provided MAC Address: the 24-bit FC-MAP followed by the FC_ID (FC-BB-6 7.8, FPMA)."""
    return (fc_map << 24 | port_id).to_bytes(6, "big")


@dataclass(frozen=True, slots=True)
class Enode:
    """An ENode's identity in FIP: its MAC, node and port names, and largest FCoE frame."""

    mac: bytes
    wwnn: int
    wwpn: int
    max_size: int


@dataclass(slots=True)
class VnId:
    """VN_Port Identification descriptor value (FC-BB-6 7.8.9.11)."""

    mac: bytes
    port_id: int
    wwpn: int


def _vn_id(value: bytes) -> VnId | None:
    if len(value) < 18:
        return None
    return VnId(value[0:6], int.from_bytes(value[7:10], "big"), int.from_bytes(value[10:18], "big"))


@dataclass(slots=True)
class FipFrame:
    """A decoded FIP frame; ``descriptors`` maps each type to its first value (after the 2-byte header)."""

    dst_mac: bytes
    src_mac: bytes
    op: int
    subcode: int
    flags: int
    descriptors: dict[int, bytes] = field(default_factory=dict)
    vlans: list[int] = field(default_factory=list)
    vn_id_values: list[bytes] = field(default_factory=list)  # every VN_Port ID descriptor (CVL has many)

    def mac(self) -> bytes | None:
        value = self.descriptors.get(DESC_MAC)
        return value[:6] if value is not None and len(value) >= 6 else None

    def wwnn(self) -> int | None:
        value = self.descriptors.get(DESC_NAME)
        return int.from_bytes(value[2:10], "big") if value is not None and len(value) >= 10 else None

    def vn_id(self) -> VnId | None:
        value = self.descriptors.get(DESC_VN_ID)
        return None if value is None else _vn_id(value)

    def vn_ids(self) -> list[VnId]:
        """Every well-formed VN_Port Identification descriptor, in order."""
        return [vn for vn in map(_vn_id, self.vn_id_values) if vn is not None]

    def max_size(self) -> int | None:
        value = self.descriptors.get(DESC_SIZE)
        return struct.unpack_from(">H", value)[0] if value is not None and len(value) >= 2 else None

    def els(self) -> tuple[int, bytes] | None:
        """(descriptor type, FC frame: header + ELS payload) of an encapsulated ELS (FC-BB-6 7.8.9.7)."""
        for kind in ELS_DESCRIPTORS:
            value = self.descriptors.get(kind)
            if value is not None:
                return kind, value[2:]
        return None


def decode_fip(data: bytes | memoryview) -> FipFrame:
    """Parse a FIP Ethernet frame; raises :class:`FrameError` on anything malformed."""
    raw = bytes(data)
    if len(raw) < FIP_HLEN:
        raise FrameError("truncated", f"{len(raw)}-byte FIP frame")
    if struct.unpack_from(">H", raw, 12)[0] != ETH_P_FIP:
        raise FrameError("not_fip")
    ver, op, subcode, words, flags = _HEADER.unpack_from(raw, 14)
    if ver >> 4 != FIP_VERSION:
        raise FrameError("bad_version", f"FIP version {ver >> 4}")
    end = FIP_HLEN + 4 * words
    if end > len(raw):
        raise FrameError("truncated", f"descriptor list of {words} words in a {len(raw)}-byte frame")
    frame = FipFrame(raw[0:6], raw[6:12], op, subcode, flags)
    offset = FIP_HLEN
    while offset < end:
        if offset + 2 > end:
            raise FrameError("bad_descriptor", "descriptor header past the list")
        kind, length = raw[offset], raw[offset + 1]
        if length == 0 or offset + 4 * length > end:
            raise FrameError("bad_descriptor", f"type {kind} length {length}")
        value = raw[offset + 2 : offset + 4 * length]
        if kind == DESC_VLAN and len(value) >= 2:
            frame.vlans.append(struct.unpack_from(">H", value)[0] & 0x0FFF)
        elif kind == DESC_VN_ID:
            frame.vn_id_values.append(value)
        frame.descriptors.setdefault(kind, value)
        offset += 4 * length
    return frame


def encode_fip(
    dst: bytes, src: bytes, op: int, subcode: int, descriptors: list[bytes], flags: int = 0, pad_to: int = 60
) -> bytes:
    """A FIP frame from encoded descriptors, padded with zeros to ``pad_to`` bytes."""
    body = b"".join(descriptors)
    frame = (
        dst
        + src
        + struct.pack(">H", ETH_P_FIP)
        + _HEADER.pack(FIP_VERSION << 4, op, subcode, len(body) // 4, flags)
        + body
    )
    return frame.ljust(pad_to, b"\0")


def descriptor(kind: int, value: bytes) -> bytes:
    """One descriptor; ``value`` is padded to a whole number of words (with its 2-byte header)."""
    raw = bytes((kind, 0)) + value
    raw = raw.ljust((len(raw) + 3) & ~3, b"\0")
    return bytes((kind, len(raw) // 4)) + raw[2:]


def mac_desc(mac: bytes) -> bytes:
    return descriptor(DESC_MAC, mac)


def name_desc(wwnn: int) -> bytes:
    return descriptor(DESC_NAME, bytes(2) + wwnn.to_bytes(8, "big"))


def vn_id_desc(vn: VnId) -> bytes:
    return descriptor(DESC_VN_ID, vn.mac + b"\0" + vn.port_id.to_bytes(3, "big") + vn.wwpn.to_bytes(8, "big"))


def size_desc(max_size: int) -> bytes:
    return descriptor(DESC_SIZE, struct.pack(">H", max_size))


def vlan_desc(vlan: int) -> bytes:
    return descriptor(DESC_VLAN, struct.pack(">H", vlan & 0x0FFF))


def fc4_features_desc(fc4_type: int = FC4_TYPE_FCP, features: int = FC4_FEATURE_TARGET) -> bytes:
    """FC-4 Attributes descriptor (FC-BB-6 7.8.9.15): the FC-4 TYPEs bitmap and 4-bit features per
    TYPE, laid out as in FC-GS-7 5.2.5.11 (GID_FT/RFF_ID)."""
    feats = bytearray(128)
    word, nibble = divmod(fc4_type, 8)
    struct.pack_into(">I", feats, 4 * word, features << (4 * nibble))
    return descriptor(DESC_FC4F, bytes(2) + fc4_types(fc4_type) + bytes(feats))


def fc4_types(fc4_type: int) -> bytes:
    """The 32-byte FC-4 TYPEs bitmap with one TYPE set (FC-GS-7 5.2.5.10, as RFT_ID carries it)."""
    types = bytearray(32)
    word, bit = divmod(fc4_type, 32)
    struct.pack_into(">I", types, 4 * word, 1 << bit)
    return bytes(types)


def els_desc(kind: int, fc_frame: bytes) -> bytes:
    return descriptor(kind, bytes(2) + fc_frame)
