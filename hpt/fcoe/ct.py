"""Common Transport IUs (FC-GS-7 4.3) for the name server registrations of a target port.

A CT_IU is the 16-byte preamble (revision, IN_ID, GS_Type, GS_Subtype, options, command/response
code, maximum/residual size, reason code and explanation) followed by the request's body. Codecs
only: ``nameserver`` sends them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.fcoe.fip import FC4_TYPE_FCP, fc4_types
from hpt.fcoe.frame import FrameError

CT_REVISION = 0x01
GS_TYPE_DIRECTORY, GS_SUBTYPE_NAME_SERVER = 0xFC, 0x02  # FC-GS-7 table 2/3
# FC-GS-7 table 186 name server registration commands (5.2.5).
RFT_ID, RSPN_ID, RFF_ID = 0x0217, 0x0218, 0x021F
FS_RJT, FS_ACC = 0x8001, 0x8002
NAMES = {RFT_ID: "RFT_ID", RSPN_ID: "RSPN_ID", RFF_ID: "RFF_ID"}
FCP_FEATURE_TARGET = 0x1  # FC-GS-7 5.2.5.48 / FCP-4 table 2: FC-4 Features of TYPE 8
MAX_SYMBOLIC_NAME = 255

_PREAMBLE = struct.Struct(">B3sBBBxHHxBBB")


@dataclass(slots=True)
class CtResponse:
    """The parts of a CT response preamble a requester looks at."""

    code: int  # FS_ACC or FS_RJT
    reason: int
    explanation: int

    @property
    def accepted(self) -> bool:
        return self.code == FS_ACC


def request(command: int, body: bytes) -> bytes:
    """A name server request CT_IU (no maximum size: the response carries nothing we read)."""
    preamble = _PREAMBLE.pack(
        CT_REVISION, bytes(3), GS_TYPE_DIRECTORY, GS_SUBTYPE_NAME_SERVER, 0, command, 0, 0, 0, 0
    )
    return preamble + body


def decode_response(payload: bytes | memoryview) -> CtResponse:
    if len(payload) < _PREAMBLE.size:
        raise FrameError("bad_ct", f"{len(payload)}-byte CT_IU")
    _rev, _in_id, _type, _sub, _opt, code, _size, reason, expl, _vendor = _PREAMBLE.unpack_from(payload)
    return CtResponse(code, reason, expl)


def _port(port_id: int) -> bytes:
    return struct.pack(">I", port_id & 0xFFFFFF)


def rft_id(port_id: int, fc4_type: int = FC4_TYPE_FCP) -> bytes:
    """RFT_ID (FC-GS-7 5.2.5.29): register the port's FC-4 TYPEs."""
    return request(RFT_ID, _port(port_id) + fc4_types(fc4_type))


def rff_id(port_id: int, features: int = FCP_FEATURE_TARGET, fc4_type: int = FC4_TYPE_FCP) -> bytes:
    """RFF_ID (FC-GS-7 5.2.5.34): register the FC-4 Features of one TYPE (FCP target)."""
    return request(RFF_ID, _port(port_id) + struct.pack(">xxBB", features, fc4_type))


def rspn_id(port_id: int, name: str) -> bytes:
    """RSPN_ID (FC-GS-7 5.2.5.30): register the port's symbolic name (at most 255 bytes; zeros
    after it fill the last word)."""
    raw = name.encode()[:MAX_SYMBOLIC_NAME]
    body = _port(port_id) + bytes((len(raw),)) + raw
    return request(RSPN_ID, body.ljust((len(body) + 3) & ~3, b"\0"))
