"""The copy manager of a disk: EXTENDED COPY (LID1) and RECEIVE COPY RESULTS (SPC-4 6.4, 6.18).

Block-to-block segment descriptors (02h) between copy source and copy destination (CSCD)
descriptors of the identification type (E4h) naming a LU by its NAA designator (VPD page 83h): the
same LU, another LU of the target or a LU of another target of the same hptd (``ScsiTarget.find_lu``).
The whole parameter list is checked before a block moves; a segment then goes through the stores in
chunks of ``CHUNK`` bytes on the engine's blocking pool (the command locks no LBA range, so the LUs'
other commands go on) and looks between chunks whether task management aborted it. A copy whose
LIST ID USAGE asks for it (00b, 01b) leaves its status for RECEIVE COPY RESULTS (COPY STATUS, FAILED
SEGMENT DETAILS), held per I_T nexus and list identifier until reported, a reset or the nexus's loss.
The Third-Party Copy VPD page (8Fh) and the 3PC bit of standard INQUIRY data advertise it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import u16, u32, u64
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    INVALID_FIELD_IN_PARAMETER_LIST,
    PARAMETER_LIST_LENGTH_ERROR,
    Asc,
    SenseKey,
)
from hpt.scsi.core.opcodes import Span
from hpt.scsi.core.parameter_list import parameter_list
from hpt.scsi.core.sense import SenseError, build_sense
from hpt.scsi.sbc.common import check_ready, check_writable, task_aborted

if TYPE_CHECKING:
    from hpt.scsi.core.command import Nexus
    from hpt.scsi.lu import LogicalUnit

EXTENDED_COPY, RECEIVE_COPY_RESULTS = 0x83, 0x84
COPY_STATUS, OPERATING_PARAMETERS, FAILED_SEGMENT_DETAILS = 0x00, 0x03, 0x04
IDENTIFICATION_CSCD, BLOCK_TO_BLOCK = 0xE4, 0x02
CSCD_LEN, SEGMENT_LEN = 32, 0x18  # an E4h descriptor; a 02h descriptor's DESCRIPTOR LENGTH
# What the copy manager takes (RECEIVE COPY RESULTS operating parameters, VPD page 8Fh).
MAX_CSCDS = 4
MAX_SEGMENTS = 16
MAX_LIST_LENGTH = 1024  # MAXIMUM DESCRIPTOR LIST LENGTH: CSCD and segment descriptors together
MAX_SEGMENT_BLOCKS = 0xFFFF  # a 02h descriptor's 16-bit BLOCK DEVICE NUMBER OF BLOCKS
CHUNK = 1 << 20  # bytes read and written at a time
NAA_TYPE, LU_ASSOCIATION = 3, 0
HOLD_USAGES = (0b00, 0b01)  # LIST ID USAGE values whose copy status is held for RECEIVE COPY RESULTS
NO_LIST_ID = 0b11  # LIST ID USAGE 11b: the LIST IDENTIFIER must be zero
IN_PROGRESS, COMPLETED, FAILED = 0x00, 0x01, 0x02  # COPY MANAGER STATUS

_I, _A = SenseKey.ILLEGAL_REQUEST, SenseKey.COPY_ABORTED
TOO_MANY_CSCDS = Asc(_I, 0x26, 0x06)  # TOO MANY TARGET DESCRIPTORS
UNSUPPORTED_CSCD_TYPE = Asc(_I, 0x26, 0x07)  # UNSUPPORTED TARGET DESCRIPTOR TYPE CODE
TOO_MANY_SEGMENTS = Asc(_I, 0x26, 0x08)  # TOO MANY SEGMENT DESCRIPTORS
UNSUPPORTED_SEGMENT_TYPE = Asc(_I, 0x26, 0x09)  # UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE
UNREACHABLE = Asc(_A, 0x0D, 0x02)  # COPY TARGET DEVICE NOT REACHABLE
SEGMENT_FAILED = Asc(_A, 0x00, 0x00)  # COPY ABORTED: a segment's blocks lie beyond its LU


@dataclass(slots=True)
class CopyRecord:
    """What RECEIVE COPY RESULTS reports of one EXTENDED COPY (SPC-4 6.18.3, 6.18.5)."""

    status: int = IN_PROGRESS
    segments: int = 0  # SEGMENTS PROCESSED
    bytes: int = 0  # TRANSFER COUNT (bytes)
    sense: bytes = b""  # the copy's sense data when it failed


@dataclass(frozen=True, slots=True)
class Segment:
    """One checked block-to-block segment: source and destination LU, LBAs and blocks."""

    index: int
    src: LogicalUnit
    src_lba: int
    dst: LogicalUnit
    dst_lba: int
    blocks: int


def copy_span(cdb: bytes | memoryview) -> Span:
    """Every LBA, shared: no range is locked (other commands go on), and the engine runs the command
    on its blocking pool, off the transport's thread, however small the store."""
    return (0, 1 << 64, False)


# -- the parameter list ------------------------------------------------------------------------
def _header(data: memoryview, plen: int) -> tuple[int, int, int, int]:
    """LIST IDENTIFIER, LIST ID USAGE and the CSCD and segment descriptor list lengths, checked."""
    if plen < 16:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=10)
    list_id, usage = data[0], data[1] >> 3 & 0x03
    cscd_len, seg_len, inline = u16(data, 2), u32(data, 8), u32(data, 12)
    if cscd_len + seg_len > MAX_LIST_LENGTH or 16 + cscd_len + seg_len + inline > plen:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=10)
    if inline:  # no segment descriptor type that takes inline data is offered
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=12, in_cdb=False)
    if usage == NO_LIST_ID and list_id:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, in_cdb=False)
    return list_id, usage, cscd_len, seg_len


def _cscd_offsets(data: memoryview, start: int, length: int) -> list[int]:
    """The offsets of the CSCD descriptors: identification descriptors (E4h) only."""
    offsets = list(range(start, start + length, CSCD_LEN))
    for off in offsets:
        if data[off] != IDENTIFICATION_CSCD:
            raise SenseError(UNSUPPORTED_CSCD_TYPE, field=off, in_cdb=False)
    if length % CSCD_LEN:
        raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=10)
    if len(offsets) > MAX_CSCDS:
        raise SenseError(TOO_MANY_CSCDS)
    return offsets


def _segment_offsets(data: memoryview, start: int, length: int) -> list[int]:
    """The offsets of the segment descriptors: block to block (02h) only."""
    offsets, off, end = [], start, start + length
    while off < end:
        if data[off] != BLOCK_TO_BLOCK:
            raise SenseError(UNSUPPORTED_SEGMENT_TYPE, field=off, in_cdb=False)
        if off + 4 > end or u16(data, off + 2) != SEGMENT_LEN or off + 4 + SEGMENT_LEN > end:
            raise SenseError(PARAMETER_LIST_LENGTH_ERROR, field=10)
        offsets.append(off)
        off += 4 + SEGMENT_LEN
    if len(offsets) > MAX_SEGMENTS:
        raise SenseError(TOO_MANY_SEGMENTS)
    return offsets


def _resolve(lu: LogicalUnit, data: memoryview, cscds: list[int], index: int) -> LogicalUnit:
    """The disk LU a CSCD descriptor names by its NAA designator (SPC-4 6.4.5.7); the LU ID TYPE and
    LU IDENTIFIER are ignored (SPC-4). Another type of designator, a device type other than a disk,
    an unknown LU or one whose block length differs from the descriptor's: COPY TARGET DEVICE NOT
    REACHABLE."""
    if index >= len(cscds):
        raise SenseError(UNREACHABLE)
    off = cscds[index]
    desig = data[off + 4 : off + 24]
    if data[off + 1] & 0x1F or desig[1] & 0x3F != (LU_ASSOCIATION << 4 | NAA_TYPE) or desig[3] != 8:
        raise SenseError(UNREACHABLE)
    naa = u64(desig, 4)
    target = lu.target
    found = lu if target is None else target.find_lu(naa)
    if found is None or found.profile.device_type != lu.profile.device_type or found.store is None:
        raise SenseError(UNREACHABLE)
    block_length = int.from_bytes(data[off + 29 : off + 32], "big")
    if block_length and block_length != found.block_size:
        raise SenseError(UNREACHABLE)
    return found


def _segments(lu: LogicalUnit, data: memoryview, cscds: list[int], offsets: list[int]) -> list[Segment]:
    """Each segment with its LUs resolved and its ranges checked, before any block moves."""
    out = []
    for i, off in enumerate(offsets):
        src = _resolve(lu, data, cscds, u16(data, off + 4))
        dst = _resolve(lu, data, cscds, u16(data, off + 6))
        if src.block_size != dst.block_size:
            raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=off + 6, in_cdb=False)
        blocks, src_lba, dst_lba = u16(data, off + 10), u64(data, off + 12), u64(data, off + 20)
        if src_lba + blocks > src.nblocks or dst_lba + blocks > dst.nblocks:
            raise SenseError(SEGMENT_FAILED, info=i)
        for end in (src, dst):
            if end.gate is not None:  # sanitizing
                raise SenseError(UNREACHABLE)
        check_ready(src)
        check_writable(dst)
        out.append(Segment(i, src, src_lba, dst, dst_lba, blocks))
    return out


# -- copying -----------------------------------------------------------------------------------
def _copy(lu: LogicalUnit, cmd: ScsiCommand, seg: Segment, record: CopyRecord, buf: memoryview) -> bool:
    """Copy one segment a chunk at a time (backwards when it moves blocks up over themselves on one
    LU); False once task management aborted the command."""
    bs = seg.src.block_size
    src, dst = seg.src.store, seg.dst.store
    assert src is not None and dst is not None
    total, src_off, dst_off = seg.blocks * bs, seg.src_lba * bs, seg.dst_lba * bs
    starts = list(range(0, total, len(buf)))
    if src is dst and src_off < dst_off < src_off + total:
        starts.reverse()
    for start in starts:
        if task_aborted(lu, cmd):
            return False
        n = min(len(buf), total - start)
        src.read_into(src_off + start, buf[:n])
        dst.write_from(dst_off + start, buf[:n])
        record.bytes += n
    if total and not seg.dst.wce:
        dst.sync(dst_off, total)
    return True


def extended_copy(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-4 EXTENDED COPY (LID1): check the parameter list whole, then copy segment by segment.

    A PARAMETER LIST LENGTH of 0 copies nothing. A list shorter than its header says, or whose
    descriptors exceed MAXIMUM DESCRIPTOR LIST LENGTH, is a PARAMETER LIST LENGTH ERROR; too many
    descriptors, or descriptor types other than E4h and 02h, the ILLEGAL REQUEST codes SPC-4 names.
    """
    plen = u32(cmd.cdb, 10)
    if not plen:
        return GOOD
    data = parameter_list(cmd, plen)
    list_id, usage, cscd_len, seg_len = _header(data, plen)
    cscds = _cscd_offsets(data, 16, cscd_len)
    offsets = _segment_offsets(data, 16 + cscd_len, seg_len)
    record = CopyRecord()
    key = (cmd.nexus.initiator_port, list_id)
    if usage in HOLD_USAGES:
        with lu.lock:
            lu.state.copies[key] = record
    try:
        segments = _segments(lu, data, cscds, offsets)
        largest = max((s.blocks * s.src.block_size for s in segments), default=0)
        buf = memoryview(bytearray(min(CHUNK, largest)))
        for seg in segments:
            if not _copy(lu, cmd, seg, record, buf):
                return GOOD  # aborted: the engine answers ABORTED
            record.segments += 1
    except SenseError as err:
        record.status, record.sense = FAILED, err.encode(lu.d_sense)
        raise
    record.status = COMPLETED
    return GOOD


# -- RECEIVE COPY RESULTS ----------------------------------------------------------------------
def _operating_parameters(lu: LogicalUnit) -> bytes:
    """SPC-4 6.18.4: the copy manager's limits and the descriptor types it implements."""
    codes = bytes((BLOCK_TO_BLOCK, IDENTIFICATION_CSCD))
    body = struct.pack(">B3xHHIIIII2xHBBBB3xB", 0x01,  # SNLID: a held list identifier is per I_T nexus
                       MAX_CSCDS, MAX_SEGMENTS, MAX_LIST_LENGTH, MAX_SEGMENT_BLOCKS * lu.block_size,
                       0, 0, 0,  # MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, MAXIMUM STREAM TRANSFER
                       1, 1,  # TOTAL and MAXIMUM CONCURRENT COPIES (per command; reported as one)
                       lu.block_size.bit_length() - 1, 0, 0,  # DATA SEGMENT, INLINE, HELD GRANULARITY
                       len(codes)) + codes
    return struct.pack(">I", len(body)) + body


def _take(lu: LogicalUnit, cmd: ScsiCommand) -> CopyRecord:
    """The record of the copy the LIST IDENTIFIER names for this I_T nexus; a finished one is handed
    over once (SPC-4 6.18.3). None held: INVALID FIELD IN CDB."""
    key = (cmd.nexus.initiator_port, cmd.cdb[2])
    copies = lu.state.copies
    record: CopyRecord | None = copies.get(key)
    if record is None:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    if record.status != IN_PROGRESS:
        del copies[key]
    return record


def receive_copy_results(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-4 RECEIVE COPY RESULTS: COPY STATUS, OPERATING PARAMETERS or FAILED SEGMENT DETAILS
    (other service actions: INVALID FIELD IN CDB)."""
    cdb = cmd.cdb
    sa, alloc = cdb[1] & 0x1F, u32(cdb, 10)
    if sa == OPERATING_PARAMETERS:
        return cmd.reply(_operating_parameters(lu), alloc)
    if sa == COPY_STATUS:
        r = _take(lu, cmd)
        hdd = 0x80 if r.status == IN_PROGRESS else 0
        return cmd.reply(struct.pack(">IBHBI", 8, hdd | r.status, r.segments, 0, r.bytes), alloc)
    if sa == FAILED_SEGMENT_DETAILS:
        r = _take(lu, cmd)
        if r.status != FAILED:
            return cmd.reply(bytes(60), alloc)  # AVAILABLE DATA 0: no failed segment
        sense = r.sense or build_sense(SEGMENT_FAILED)
        data = struct.pack(">I52xBxH", 56 + len(sense), 0x02, len(sense)) + sense  # CHECK CONDITION
        return cmd.reply(data, alloc)
    raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=4)


def drop_records(lu: LogicalUnit, initiator_port: str | None) -> None:
    """Forget the held copy results of one I_T nexus (its loss), or of all (a reset)."""
    copies = lu.state.copies
    for key in [k for k in copies if initiator_port is None or k[0] == initiator_port]:
        del copies[key]


# -- VPD page 8Fh ------------------------------------------------------------------------------
def _descriptor(kind: int, body: bytes) -> bytes:
    """A third-party copy descriptor, its body padded to a multiple of four bytes (SPC-4 7.8.17)."""
    body += bytes(-len(body) % 4)
    return struct.pack(">HH", kind, len(body)) + body


def third_party_copy(lu: LogicalUnit, nexus: Nexus) -> bytes:
    """8Fh Third-Party Copy (SPC-4 7.8.17): Supported Commands (EXTENDED COPY LID1; RECEIVE COPY
    RESULTS' service actions), Parameter Data and Supported Descriptors."""
    commands = bytes((EXTENDED_COPY, 1, 0x00,
                      RECEIVE_COPY_RESULTS, 3, COPY_STATUS, OPERATING_PARAMETERS, FAILED_SEGMENT_DETAILS))
    supported = _descriptor(0x0001, bytes((len(commands),)) + commands)
    parameters = _descriptor(0x0008, struct.pack(">4xHHII12x", MAX_CSCDS, MAX_SEGMENTS, MAX_LIST_LENGTH, 0))
    codes = bytes((BLOCK_TO_BLOCK, IDENTIFICATION_CSCD))
    descriptors = _descriptor(0x0009, bytes((len(codes),)) + codes)
    return supported + parameters + descriptors
