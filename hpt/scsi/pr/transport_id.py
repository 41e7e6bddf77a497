"""TransportIDs: how persistent reservations name an initiator port (SPC-5 7.6.4).

hpt decodes iSCSI TransportIDs (SPC-5 7.6.4.6) and encodes iSCSI and Fibre Channel ones
(SPC-5 7.6.4.2) for READ FULL STATUS.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.scsi.core.constants import INVALID_FIELD_IN_PARAMETER_LIST, PARAMETER_LIST_LENGTH_ERROR
from hpt.scsi.core.sense import SenseError

PROTOCOL_FCP = 0x0
PROTOCOL_ISCSI = 0x5
FORMAT_NAME = 0  # iSCSI format 00b: the initiator device name
FORMAT_PORT = 1  # iSCSI format 01b: name ",i,0x" ISID, an initiator port
ISID_SEPARATOR = ",i,0x"


@dataclass(frozen=True, slots=True)
class TransportId:
    """A decoded TransportID; ``isid`` is None when it names a device, not one port."""

    protocol: int
    name: str
    isid: int | None


def _pad(text: bytes) -> bytes:
    """NUL-terminate and pad to a multiple of four, at least 20 bytes (SPC-5 7.6.4.6)."""
    n = max(20, (len(text) + 1 + 3) & ~3)
    return text + bytes(n - len(text))


def encode(protocol: int, name: str, isid: int | None) -> bytes:
    """The TransportID of an initiator: iSCSI (format 00b or 01b) or Fibre Channel N_Port name."""
    if protocol == PROTOCOL_FCP:
        wwpn = _hex_name(name)
        return struct.pack(">B7xQ8x", PROTOCOL_FCP, wwpn)
    if isid is None:
        body = _pad(name.encode())
        fmt = FORMAT_NAME
    else:
        body = _pad(f"{name}{ISID_SEPARATOR}{isid:012x}".encode())
        fmt = FORMAT_PORT
    return struct.pack(">BxH", fmt << 6 | PROTOCOL_ISCSI, len(body)) + body


def _hex_name(name: str) -> int:
    """A port name such as ``naa.21000024ff000001`` or ``21:00:00:24:ff:00:00:01`` as a number."""
    digits = name.lower().removeprefix("naa.").removeprefix("0x").replace(":", "")
    try:
        return int(digits, 16) & 0xFFFFFFFFFFFFFFFF
    except ValueError:
        return 0


def decode(data: bytes | memoryview, offset: int) -> tuple[TransportId, int]:
    """Decode the TransportID at ``offset``; returns it and its length in bytes.

    Errors point at the offending byte of the parameter list (SPC-5 6.17.4).
    """
    if offset + 4 > len(data):
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    b0 = data[offset]
    protocol, fmt = b0 & 0x0F, b0 >> 6
    if protocol != PROTOCOL_ISCSI or fmt not in (FORMAT_NAME, FORMAT_PORT):
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset, in_cdb=False)
    (add_len,) = struct.unpack_from(">H", data, offset + 2)
    end = offset + 4 + add_len
    if end > len(data):
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR)
    if add_len < 20 or add_len % 4:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 2, in_cdb=False)
    text = bytes(data[offset + 4 : end]).split(b"\0", 1)[0].decode("utf-8", "replace")
    name, isid = text, None
    if fmt == FORMAT_PORT:
        name, sep, hex_isid = text.lower().partition(ISID_SEPARATOR)
        if not sep or not 0 < len(hex_isid) <= 12:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 4, in_cdb=False)
        try:
            isid = int(hex_isid, 16)
        except ValueError:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 4, in_cdb=False) from None
    if not name:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=offset + 4, in_cdb=False)
    return TransportId(protocol, name.lower(), isid), end - offset
