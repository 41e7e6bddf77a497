"""iSCSI PDU codec: the 48-byte Basic Header Segment of every PDU type (RFC 7143 11).

Incoming PDUs are decoded with one ``struct`` unpack into a :class:`Pdu` whose opcode-specific words
are read through named properties; outgoing PDUs are packed by one builder per type. Data segments
never pass through here: the connection hands out buffers (ring slots) for them.
"""

from __future__ import annotations

import struct
from enum import IntEnum
from typing import NamedTuple

BHS_LEN = 48
RSVD_TAG = 0xFFFFFFFF  # the reserved ITT / TTT value (RFC 7143 11.2.1.7)


class Opcode(IntEnum):
    """RFC 7143 11.2.1.2."""

    NOP_OUT = 0x00
    SCSI_CMD = 0x01
    TASK_MGMT_REQ = 0x02
    LOGIN_REQ = 0x03
    TEXT_REQ = 0x04
    DATA_OUT = 0x05
    LOGOUT_REQ = 0x06
    SNACK_REQ = 0x10
    NOP_IN = 0x20
    SCSI_RSP = 0x21
    TASK_MGMT_RSP = 0x22
    LOGIN_RSP = 0x23
    TEXT_RSP = 0x24
    DATA_IN = 0x25
    LOGOUT_RSP = 0x26
    R2T = 0x31
    ASYNC_MSG = 0x32
    REJECT = 0x3F


INITIATOR_OPCODES = frozenset(
    {Opcode.NOP_OUT, Opcode.SCSI_CMD, Opcode.TASK_MGMT_REQ, Opcode.LOGIN_REQ, Opcode.TEXT_REQ,
     Opcode.DATA_OUT, Opcode.LOGOUT_REQ, Opcode.SNACK_REQ}
)


class RejectReason(IntEnum):
    """RFC 7143 11.17.1."""

    DATA_DIGEST_ERROR = 0x02
    SNACK_REJECT = 0x03
    PROTOCOL_ERROR = 0x04
    COMMAND_NOT_SUPPORTED = 0x05
    IMMEDIATE_COMMAND_REJECT = 0x06
    TASK_IN_PROGRESS = 0x07
    INVALID_DATA_ACK = 0x08
    INVALID_PDU_FIELD = 0x09
    LONG_OP_REJECT = 0x0A
    WAITING_FOR_LOGOUT = 0x0C


class TmfFunction(IntEnum):
    """RFC 7143 11.5.1."""

    ABORT_TASK = 1
    ABORT_TASK_SET = 2
    CLEAR_ACA = 3
    CLEAR_TASK_SET = 4
    LOGICAL_UNIT_RESET = 5
    TARGET_WARM_RESET = 6
    TARGET_COLD_RESET = 7
    TASK_REASSIGN = 8


class TmfResponse(IntEnum):
    """RFC 7143 11.6.1."""

    FUNCTION_COMPLETE = 0
    TASK_DOES_NOT_EXIST = 1
    LUN_DOES_NOT_EXIST = 2
    TASK_STILL_ALLEGIANT = 3
    REASSIGNMENT_NOT_SUPPORTED = 4
    NOT_SUPPORTED = 5
    AUTHORIZATION_FAILED = 6
    REJECTED = 255


class AsyncEvent(IntEnum):
    """RFC 7143 11.9.1."""

    SCSI_ASYNC_EVENT = 0
    LOGOUT_REQUEST = 1
    DROP_CONNECTION = 2
    DROP_ALL_CONNECTIONS = 3
    NEGOTIATION_REQUEST = 4
    TASK_TERMINATION = 5


# op, b1, b2, b3, TotalAHSLength<<24 | DataSegmentLength, LUN/opcode-specific, ITT, then seven words 20..47
_BHS = struct.Struct(">BBBBI8sIIIIIIII")
_ZERO8 = bytes(8)


class Pdu:
    """A received PDU: the decoded BHS, its AHS and its data segment (a view into its receive buffer)."""

    __slots__ = ("opcode", "immediate", "b1", "b2", "b3", "ahs_len", "dsl", "lun", "itt",
                 "w20", "w24", "w28", "w32", "w36", "w40", "w44", "bhs", "ahs", "data")

    def __init__(self, bhs: bytes | bytearray | memoryview) -> None:
        (op, self.b1, self.b2, self.b3, ahsdsl, self.lun, self.itt, self.w20, self.w24, self.w28,
         self.w32, self.w36, self.w40, self.w44) = _BHS.unpack_from(bhs)
        self.opcode = op & 0x3F
        self.immediate = bool(op & 0x40)
        self.ahs_len = (ahsdsl >> 24) * 4
        self.dsl = ahsdsl & 0xFFFFFF
        self.bhs = bytes(bhs[:BHS_LEN])
        self.ahs: bytes = b""
        self.data: memoryview | bytes = b""

    # common flags
    @property
    def final(self) -> bool:
        return bool(self.b1 & 0x80)

    @property
    def cont(self) -> bool:  # Login/Text C bit
        return bool(self.b1 & 0x40)

    # SCSI Command (11.3)
    @property
    def read_bit(self) -> bool:
        return bool(self.b1 & 0x40)

    @property
    def write_bit(self) -> bool:
        return bool(self.b1 & 0x20)

    @property
    def attr(self) -> int:
        return self.b1 & 0x07

    @property
    def cmdsn(self) -> int:
        return self.w24

    @property
    def expstatsn(self) -> int:
        return self.w28

    @property
    def edtl(self) -> int:
        return self.w20

    @property
    def ttt(self) -> int:
        return self.w20

    def cdb(self) -> bytes:
        """The CDB, with an Extended CDB AHS appended when present (RFC 7143 11.2.2.3); a malformed
        AHS leaves the BHS's 16 bytes (the connection refuses such a command: :func:`parse_ahs`)."""
        cdb = self.bhs[32:48]
        if not self.ahs:
            return cdb
        try:
            return cdb + parse_ahs(self.ahs).extended_cdb
        except AhsError:
            return cdb

    def bidi_read_length(self) -> int | None:
        """Expected Bidirectional Read Data Length AHS (type 2), if any (RFC 7143 11.2.2.4)."""
        try:
            return parse_ahs(self.ahs).bidi_read_length
        except AhsError:
            return None

    # Data-Out (11.7)
    @property
    def datasn(self) -> int:
        return self.w36

    @property
    def offset(self) -> int:
        return self.w40

    # TMF (11.5)
    @property
    def function(self) -> int:
        return self.b1 & 0x7F

    @property
    def rtt(self) -> int:
        return self.w20

    @property
    def refcmdsn(self) -> int:
        return self.w32

    # Login (11.12)
    @property
    def transit(self) -> bool:
        return bool(self.b1 & 0x80)

    @property
    def csg(self) -> int:
        return (self.b1 >> 2) & 3

    @property
    def nsg(self) -> int:
        return self.b1 & 3

    @property
    def isid(self) -> int:
        return int.from_bytes(self.lun[:6], "big")

    @property
    def tsih(self) -> int:
        return int.from_bytes(self.lun[6:8], "big")

    @property
    def cid(self) -> int:
        return self.w20 >> 16

    # Logout (11.14)
    @property
    def reason(self) -> int:
        return self.b1 & 0x7F

    def __repr__(self) -> str:
        try:
            name = Opcode(self.opcode).name
        except ValueError:
            name = f"{self.opcode:#x}"
        return f"<Pdu {name} itt={self.itt:#x} dsl={self.dsl}>"


AHS_EXTENDED_CDB = 1  # RFC 7143 11.2.2.3
AHS_BIDI_READ_LENGTH = 2  # RFC 7143 11.2.2.4
MAX_CDB = 16 + 0xFFFF - 1  # the BHS's 16 bytes plus what an AHSLength of 65535 holds


class AhsError(ValueError):
    """An Additional Header Segment that breaks RFC 7143 11.2.2: the command is refused."""


class Ahs(NamedTuple):
    """What a SCSI Command's AHS carried: the CDB bytes beyond the BHS's 16 (Extended CDB AHS) and the
    Bidirectional Read Expected Data Transfer Length (None when absent)."""

    extended_cdb: bytes
    bidi_read_length: int | None


def parse_ahs(ahs: bytes | bytearray | memoryview) -> Ahs:
    """Decode a SCSI Command's AHS list (RFC 7143 11.2.2): each AHS is AHSLength (2 bytes, counting
    from the AHS-specific byte), AHSType, one AHS-specific byte and its data, padded to 4 bytes.
    Only types 1 and 2, each at most once; type 2 has AHSLength 5. Anything else raises AhsError."""
    ext = b""
    bidi: int | None = None
    seen: set[int] = set()
    off, end = 0, len(ahs)
    while off < end:
        if end - off < 4:
            raise AhsError(f"{end - off} bytes left at offset {off}: too short for an AHS")
        length, kind = struct.unpack_from(">HB", ahs, off)
        kind &= 0x3F
        if off + 3 + length > end:
            raise AhsError(f"AHSLength {length} at offset {off} runs past TotalAHSLength {end}")
        if kind in seen:
            raise AhsError(f"AHSType {kind} twice")
        seen.add(kind)
        if kind == AHS_EXTENDED_CDB:
            if length < 2:
                raise AhsError(f"Extended CDB AHS with AHSLength {length}: no CDB bytes")
            ext = bytes(ahs[off + 4 : off + 3 + length])
        elif kind == AHS_BIDI_READ_LENGTH:
            if length != 5:
                raise AhsError(f"Bidirectional Read Expected Data Transfer Length AHS with AHSLength {length}"
                               " (must be 5)")
            bidi = struct.unpack_from(">I", ahs, off + 4)[0]
        else:
            raise AhsError(f"AHSType {kind} is not defined for a SCSI Command")
        off += (3 + length + 3) & ~3
    return Ahs(ext, bidi)


def extended_cdb_ahs(cdb: bytes) -> bytes:
    """The Extended CDB AHS for a CDB longer than 16 bytes (its bytes 16..), padded (RFC 7143 11.2.2.3)."""
    rest = cdb[16:]
    raw = struct.pack(">HBB", len(rest) + 1, AHS_EXTENDED_CDB, 0) + rest
    return raw + bytes(-len(raw) & 3)


def bidi_read_ahs(length: int) -> bytes:
    """The Bidirectional Read Expected Data Transfer Length AHS (RFC 7143 11.2.2.4)."""
    return struct.pack(">HBBI", 5, AHS_BIDI_READ_LENGTH, 0, length)


def _pack(op: int, b1: int, b2: int, b3: int, dsl: int, lun: bytes, itt: int, w20: int = 0, w24: int = 0,
          w28: int = 0, w32: int = 0, w36: int = 0, w40: int = 0, w44: int = 0) -> bytearray:
    buf = bytearray(BHS_LEN)
    _BHS.pack_into(buf, 0, op, b1, b2, b3, dsl, lun, itt, w20, w24, w28, w32, w36, w40, w44)
    return buf


def scsi_response(itt: int, flags: int, response: int, status: int, statsn: int, expcmdsn: int, maxcmdsn: int,
                  expdatasn: int, residual: int, dsl: int, bidi_residual: int = 0) -> bytearray:
    """SCSI Response (11.4); ``flags`` carries the o/u/O/U bits (0x10/0x08/0x04/0x02) and
    ``bidi_residual`` the Bidirectional Read Residual Count (11.4.5)."""
    return _pack(Opcode.SCSI_RSP, 0x80 | flags, response, status, dsl, _ZERO8, itt, 0, statsn, expcmdsn,
                 maxcmdsn, expdatasn, bidi_residual, residual)


def data_in(itt: int, flags: int, status: int, lun: bytes, statsn: int, expcmdsn: int, maxcmdsn: int,
            datasn: int, offset: int, residual: int, dsl: int) -> bytearray:
    """SCSI Data-In (11.8); ``flags``: F 0x80, A 0x40, O 0x04, U 0x02, S 0x01."""
    return _pack(Opcode.DATA_IN, flags, 0, status, dsl, lun, itt, RSVD_TAG, statsn, expcmdsn, maxcmdsn,
                 datasn, offset, residual)


def r2t(lun: bytes, itt: int, ttt: int, statsn: int, expcmdsn: int, maxcmdsn: int, r2tsn: int, offset: int,
        length: int) -> bytearray:
    """Ready To Transfer (11.8)."""
    return _pack(Opcode.R2T, 0x80, 0, 0, 0, lun, itt, ttt, statsn, expcmdsn, maxcmdsn, r2tsn, offset, length)


def nop_in(lun: bytes, itt: int, ttt: int, statsn: int, expcmdsn: int, maxcmdsn: int, dsl: int) -> bytearray:
    """NOP-In (11.19)."""
    return _pack(Opcode.NOP_IN, 0x80, 0, 0, dsl, lun, itt, ttt, statsn, expcmdsn, maxcmdsn)


def login_response(flags: int, version_max: int, version_active: int, isid: int, tsih: int, itt: int,
                   statsn: int, expcmdsn: int, maxcmdsn: int, status_class: int, status_detail: int,
                   dsl: int) -> bytearray:
    """Login Response (11.13); ``flags`` holds T, C, CSG and NSG."""
    lun = isid.to_bytes(6, "big") + tsih.to_bytes(2, "big")
    return _pack(Opcode.LOGIN_RSP, flags, version_max, version_active, dsl, lun, itt, 0, statsn, expcmdsn,
                 maxcmdsn, (status_class << 24) | (status_detail << 16))


def text_response(flags: int, lun: bytes, itt: int, ttt: int, statsn: int, expcmdsn: int, maxcmdsn: int,
                  dsl: int) -> bytearray:
    """Text Response (11.11); ``flags``: F 0x80, C 0x40."""
    return _pack(Opcode.TEXT_RSP, flags, 0, 0, dsl, lun, itt, ttt, statsn, expcmdsn, maxcmdsn)


def logout_response(response: int, itt: int, statsn: int, expcmdsn: int, maxcmdsn: int, time2wait: int,
                    time2retain: int) -> bytearray:
    """Logout Response (11.15)."""
    return _pack(Opcode.LOGOUT_RSP, 0x80, response, 0, 0, _ZERO8, itt, 0, statsn, expcmdsn, maxcmdsn, 0,
                 (time2wait << 16) | time2retain)


def tmf_response(response: int, itt: int, statsn: int, expcmdsn: int, maxcmdsn: int) -> bytearray:
    """Task Management Function Response (11.6)."""
    return _pack(Opcode.TASK_MGMT_RSP, 0x80, response, 0, 0, _ZERO8, itt, 0, statsn, expcmdsn, maxcmdsn)


def reject(reason: int, statsn: int, expcmdsn: int, maxcmdsn: int, datasn: int = 0) -> bytearray:
    """Reject (11.17); the data segment is the rejected PDU's header."""
    return _pack(Opcode.REJECT, 0x80, reason, 0, BHS_LEN, _ZERO8, RSVD_TAG, 0, statsn, expcmdsn, maxcmdsn,
                 datasn)


def async_message(event: int, lun: bytes, statsn: int, expcmdsn: int, maxcmdsn: int, param1: int = 0,
                  param2: int = 0, param3: int = 0, dsl: int = 0) -> bytearray:
    """Asynchronous Message (11.9)."""
    return _pack(Opcode.ASYNC_MSG, 0x80, 0, 0, dsl, lun, RSVD_TAG, 0, statsn, expcmdsn, maxcmdsn,
                 (event << 24), (param1 << 16) | param2, param3 << 16)


def set_dsl(bhs: bytearray, dsl: int) -> None:
    """Patch the DataSegmentLength of a built header."""
    bhs[5:8] = dsl.to_bytes(3, "big")


def pad_len(n: int) -> int:
    """Bytes of padding after an ``n``-byte data segment (RFC 7143 11.1)."""
    return -n & 3


# Builders used by initiator-side test code and tools (the target never sends these).
def initiator_pdu(op: int, b1: int, lun: bytes, itt: int, w20: int = 0, w24: int = 0, w28: int = 0,
                  w32: int = 0, w36: int = 0, w40: int = 0, w44: int = 0, dsl: int = 0,
                  immediate: bool = False, b2: int = 0, b3: int = 0) -> bytearray:
    op |= 0x40 if immediate else 0
    return _pack(op, b1, b2, b3, dsl, lun, itt, w20, w24, w28, w32, w36, w40, w44)
