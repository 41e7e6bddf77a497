"""Extended and basic link service payloads (FC-LS-3 4, 5) that an FCP target port needs.

Codecs only: the port (``port.py``) decides what to answer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.fcoe.frame import FC_MAX_PAYLOAD, FrameError

# FC-LS-3 table 136 ELS command codes.
LS_RJT, LS_ACC, PLOGI, FLOGI, LOGO = 0x01, 0x02, 0x03, 0x04, 0x05
RTV, RRQ, REC, PRLI, PRLO, ADISC, RSCN = 0x0E, 0x12, 0x13, 0x20, 0x21, 0x52, 0x61
NAMES = {
    LS_RJT: "LS_RJT",
    LS_ACC: "LS_ACC",
    PLOGI: "PLOGI",
    FLOGI: "FLOGI",
    LOGO: "LOGO",
    RTV: "RTV",
    RRQ: "RRQ",
    REC: "REC",
    PRLI: "PRLI",
    PRLO: "PRLO",
    ADISC: "ADISC",
    RSCN: "RSCN",
}

# FC-LS-3 table 139/140 LS_RJT reason codes and explanations.
RJT_INVALID_CMD, RJT_LOGICAL, RJT_PROTOCOL, RJT_UNABLE, RJT_NOT_SUPPORTED = 0x01, 0x03, 0x07, 0x09, 0x0B
EXPL_NONE, EXPL_INVALID_LENGTH, EXPL_INVALID_OX_RX = 0x00, 0x2D, 0x17
EXPL_LOGIN_REQUIRED, EXPL_INSUFFICIENT_RESOURCES = 0x1E, 0x29

# FC-LS-3 4.2.11 BA_RJT reasons.
BA_RJT_LOGICAL, BA_RJT_UNABLE = 0x03, 0x09
BA_EXPL_NONE, BA_EXPL_INVALID_OX_RX = 0x00, 0x03

R_A_TOV_MS, E_D_TOV_MS = 4000, 2000

# FCP-4 table 8: FCP service parameter page flags.
FCP_SPPF_RETRY = 0x0100
FCP_SPPF_CONF_COMPL = 0x0080
FCP_SPPF_INIT_FCN = 0x0020
FCP_SPPF_TARG_FCN = 0x0010
FCP_SPPF_RD_XRDY_DIS = 0x0002
SPP_EST_IMAGE_PAIR = 0x20  # byte 2 of a service parameter page
SPP_RESP_ACCEPTED, SPP_RESP_INVALID_PARAMS = 0x1, 0x8

_LOGIN = struct.Struct(">B3x BBHHH HHI QQ 16s 16s 16s 16s 16s")  # FC-LS-3 6.6 (116 bytes)
_CLASS3 = struct.Struct(">HHHHHBxHxx")
CLASS_VALID, SEQUENTIAL_DELIVERY = 0x8000, 0x0800
CSP_CONT_INCR_REL_OFF = 0x8000


@dataclass(slots=True)
class Login:
    """The N_Port service parameters of a PLOGI or FLOGI (FC-LS-3 6.6): the parts a target uses."""

    wwpn: int
    wwnn: int
    rx_size: int  # receive data field size (the smaller of the common and the class 3 value)
    class3: bool = True


def decode_login(payload: bytes | memoryview) -> Login:
    if len(payload) < _LOGIN.size:
        raise FrameError("bad_els", f"{len(payload)}-byte login payload")
    (
        _cmd,
        _hi,
        _lo,
        _credit,
        _features,
        rx_common,
        _seqs,
        _rel,
        _edtov,
        wwpn,
        wwnn,
        _c1,
        _c2,
        c3,
        _c4,
        _vv,
    ) = _LOGIN.unpack_from(payload)
    options, _ictl, _rctl, rx3 = struct.unpack_from(">HHHH", c3)
    rx = rx_common & 0x0FFF
    valid = bool(options & CLASS_VALID)
    if valid and rx3 & 0x0FFF:
        rx = min(rx, rx3 & 0x0FFF)
    return Login(wwpn, wwnn, rx, valid)


def encode_login(cmd: int, wwpn: int, wwnn: int, rx_size: int, fabric: bool = False) -> bytes:
    """PLOGI/FLOGI or their LS_ACC: class 3 only, continuously increasing relative offset."""
    rx_size = min(rx_size, FC_MAX_PAYLOAD) & ~3
    if fabric:
        seqs, rel, tov = 0, 0, 0
    else:
        seqs, rel, tov = 0x00FF, 0x001F, E_D_TOV_MS
    class3 = _CLASS3.pack(CLASS_VALID | SEQUENTIAL_DELIVERY, 0, 0, rx_size, 0x00FF, 0, 1)
    return _LOGIN.pack(
        cmd,
        0x20,
        0x20,
        10,
        CSP_CONT_INCR_REL_OFF,
        rx_size,
        seqs,
        rel,
        tov,
        wwpn,
        wwnn,
        bytes(16),
        bytes(16),
        class3,
        bytes(16),
        bytes(16),
    )


@dataclass(slots=True)
class ServicePage:
    """One service parameter page of PRLI/PRLO (FC-LS-3 6.11; FCP-4 6.3 for type 8)."""

    fc4_type: int
    flags: int  # byte 2: establish image pair and, in replies, the response code
    params: int  # word 3: the FC-4 service parameters


def decode_pages(payload: bytes | memoryview) -> list[ServicePage]:
    """The pages of a PRLI or PRLO request; raises :class:`FrameError` when the lengths disagree."""
    if len(payload) < 4:
        raise FrameError("bad_els", "short PRLI/PRLO")
    page_len, total = payload[1], struct.unpack_from(">H", payload, 2)[0]
    if page_len != 16 or total < 20 or total > len(payload) or (total - 4) % 16:
        raise FrameError("bad_els", f"PRLI/PRLO page length {page_len}, payload length {total}")
    pages = []
    for off in range(4, total, 16):
        fc4_type, _ext, flags, _opa, _rpa, params = struct.unpack_from(">BBBxIII", payload, off)
        pages.append(ServicePage(fc4_type, flags, params))
    return pages


def encode_pages(cmd: int, pages: list[ServicePage]) -> bytes:
    body = b"".join(struct.pack(">BBBxIII", p.fc4_type, 0, p.flags, 0, 0, p.params) for p in pages)
    return struct.pack(">BBH", cmd, 16, 4 + len(body)) + body


def ls_rjt(reason: int, explanation: int = EXPL_NONE) -> bytes:
    return struct.pack(">B3xxBBx", LS_RJT, reason, explanation)


def ls_acc(body: bytes = b"") -> bytes:
    return struct.pack(">B3x", LS_ACC) + body


def adisc_acc(wwpn: int, wwnn: int, port_id: int) -> bytes:
    """ADISC LS_ACC (FC-LS-3 4.3.2): hard address, port and node names, N_Port ID."""
    return ls_acc(struct.pack(">IQQI", 0, wwpn, wwnn, port_id))


def rtv_acc() -> bytes:
    """RTV LS_ACC (FC-LS-3 4.3.30): R_A_TOV and E_D_TOV in milliseconds."""
    return ls_acc(struct.pack(">III", R_A_TOV_MS, E_D_TOV_MS, 0))


def rec_request(payload: bytes | memoryview) -> tuple[int, int, int]:
    """(originator S_ID, OX_ID, RX_ID) of a REC request (FC-LS-3 4.3.25)."""
    if len(payload) < 12:
        raise FrameError("bad_els", "short REC")
    word1, ox_id, rx_id = struct.unpack_from(">IHH", payload, 4)
    return word1 & 0xFFFFFF, ox_id, rx_id


def rec_acc(ox_id: int, rx_id: int, originator: int, responder: int, count: int, e_stat: int) -> bytes:
    return ls_acc(struct.pack(">HHIIII", ox_id, rx_id, originator, responder, count, e_stat))


def logo(port_id: int, wwpn: int) -> bytes:
    return struct.pack(">B3xIQ", LOGO, port_id, wwpn)


def ba_acc(ox_id: int, rx_id: int) -> bytes:
    """BA_ACC (FC-LS-3 4.2.10): no SEQ_ID validity; all sequences of the exchange aborted."""
    return struct.pack(">BBHHHHH", 0, 0, 0, ox_id, rx_id, 0, 0xFFFF)


def ba_rjt(reason: int, explanation: int) -> bytes:
    return struct.pack(">xBBx", reason, explanation)
