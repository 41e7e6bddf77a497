"""FCP information units (FCP-4 9): FCP_CMND in; FCP_XFER_RDY and FCP_RSP out."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hpt.fcoe.frame import FrameError
from hpt.scsi.core.command import TaskAttr
from hpt.scsi.core.lun import decode_lun

# FCP-4 table 24: TASK MANAGEMENT FLAGS.
TMF_ABORT_TASK_SET = 0x02
TMF_CLEAR_TASK_SET = 0x04
TMF_LU_RESET = 0x10
TMF_TARGET_RESET = 0x20
TMF_CLEAR_ACA = 0x40
# FCP-4 table 25: FCP_RSP_INFO response codes.
RSP_COMPLETE, RSP_BAD_FIELDS, RSP_TMF_NOT_SUPPORTED, RSP_TMF_FAILED, RSP_INCORRECT_LUN = 0, 2, 4, 5, 9
# FCP-4 table 29: FCP_RSP flags.
RSP_LEN_VALID, SNS_LEN_VALID, RESID_OVER, RESID_UNDER = 0x01, 0x02, 0x04, 0x08

# FCP-4 table 23 TASK ATTRIBUTE to SAM-5 task attributes.
_ATTRS = {0: TaskAttr.SIMPLE, 1: TaskAttr.HEAD_OF_QUEUE, 2: TaskAttr.ORDERED, 4: TaskAttr.ACA}

_RSP = struct.Struct(">8xHBBIII")
_XFER_RDY = struct.Struct(">II4x")


@dataclass(slots=True)
class FcpCmnd:
    """A decoded FCP_CMND IU (FCP-4 9.2)."""

    lun: int
    lun_raw: bytes
    attr: TaskAttr
    tmf: int
    read: bool
    write: bool
    cdb: bytes
    dl: int


def decode_cmnd(payload: bytes | memoryview) -> FcpCmnd:
    """Parse FCP_CMND; raises :class:`FrameError` for a malformed IU."""
    if len(payload) < 32:
        raise FrameError("bad_fcp_cmnd", f"{len(payload)} bytes")
    lun_raw = bytes(payload[0:8])
    attr_code = payload[9] & 0x07
    tmf = payload[10]
    add_len, rw = payload[11] >> 2, payload[11] & 0x03
    cdb_end = 28 + 4 * add_len
    if len(payload) < cdb_end + 4:
        raise FrameError("bad_fcp_cmnd", f"additional CDB length {add_len} in {len(payload)} bytes")
    if attr_code not in _ATTRS:
        raise FrameError("bad_fcp_cmnd", f"task attribute {attr_code}")
    dl = struct.unpack_from(">I", payload, cdb_end)[0]
    return FcpCmnd(
        decode_lun(lun_raw),
        lun_raw,
        _ATTRS[attr_code],
        tmf,
        bool(rw & 0x02),
        bool(rw & 0x01),
        bytes(payload[12:cdb_end]),
        dl,
    )


def xfer_rdy(offset: int, length: int) -> bytes:
    """FCP_XFER_RDY (FCP-4 9.3): relative offset and burst length of the data wanted next."""
    return _XFER_RDY.pack(offset, length)


def rsp(status: int, sense: bytes = b"", resid: int = 0, rsp_code: int | None = None) -> bytes:
    """FCP_RSP (FCP-4 9.5). ``resid`` > 0 is an underrun, < 0 an overrun; ``rsp_code`` adds
    FCP_RSP_INFO (task management replies)."""
    flags = 0
    if resid > 0:
        flags |= RESID_UNDER
    elif resid < 0:
        flags |= RESID_OVER
    info = b""
    if rsp_code is not None:
        flags |= RSP_LEN_VALID
        info = struct.pack(">3xB4x", rsp_code)
    if sense:
        flags |= SNS_LEN_VALID
    return _RSP.pack(0, flags, status, abs(resid), len(sense), len(info)) + info + sense
