"""LOG SENSE and LOG SELECT for the disk (SPC-5 6.8, 6.7; log pages SPC-5 7.3, SBC-4 6.4).

Pages: Supported Log Pages (00h) and Supported Log Pages and Subpages (00h/FFh), Write and Read Error
Counters (02h, 03h: bytes processed and uncorrected errors from the LU's command statistics), Logical
Block Provisioning (0Ch, a thin LU: used and available LBA mapping resources in blocks), Temperature
(0Dh: not available, FFh), General Statistics and Performance (19h: commands, blocks and processing
time of READs and WRITEs, in milliseconds) and Informational Exceptions (2Fh: none). The counters are
the LU's since it started or since LOG SELECT last reset them (PCR, or a parameter list length of 0);
LOG SELECT does not take parameter values, and neither command saves parameters (SP).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.cdb import u16
from hpt.scsi.core.command import GOOD, ScsiCommand, ScsiResult
from hpt.scsi.core.constants import INVALID_FIELD_IN_CDB, INVALID_FIELD_IN_PARAMETER_LIST
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc.capacity import DEALLOCATED, lba_runs

if TYPE_CHECKING:
    from hpt.scsi.lu import LogicalUnit

SUPPORTED, WRITE_ERRORS, READ_ERRORS, PROVISIONING, TEMPERATURE = 0x00, 0x02, 0x03, 0x0C, 0x0D
STATISTICS, INFORMATIONAL_EXCEPTIONS = 0x19, 0x2F
ALL_SUBPAGES = 0xFF
PC_CUMULATIVE, PC_DEFAULT_CUMULATIVE = 0b01, 0b11  # PC: thresholds (00b, 10b) are reported as zeroes
_COUNTER, _LIST = 0x02, 0x03  # parameter control byte: TSD (no saving) with FORMAT AND LINKING 00b / 11b
NOT_AVAILABLE = 0xFF  # TEMPERATURE: no sensor
_MS_EXPONENT = -3  # time interval descriptor: processing intervals are counted in milliseconds
_MAX_RUNS = 1 << 16  # GET LBA STATUS-style runs walked to count the mapped blocks of a thin LU

Stats = dict[str, dict[str, Any]]


def _param(code: int, value: int, size: int, control: int = _COUNTER) -> bytes:
    return struct.pack(">HBB", code, control, size) + value.to_bytes(size, "big")


def counters(lu: LogicalUnit, zero: bool = False) -> Stats:
    """The LU's command statistics since the last reset (``lu.state.log_base``); all zero with ``zero``."""
    now = lu.stats.snapshot()
    base = lu.state.log_base or {}
    out: Stats = {}
    for kind in ("read", "write"):
        b = base.get(kind, {})
        out[kind] = {k: 0 if zero else now[kind].get(k, 0) - b.get(k, 0)
                     for k in ("commands", "errors", "bytes", "latency_seconds")}
    return out


def _error_counter(kind: str) -> Callable[[LogicalUnit, Stats], bytes]:
    """02h / 03h (SPC-5 7.3.22, 7.3.14): no errors are corrected; TOTAL BYTES PROCESSED (0005h) and
    TOTAL UNCORRECTED ERRORS (0006h), the commands of that kind that did not end GOOD."""

    def page(lu: LogicalUnit, stats: Stats) -> bytes:
        s = stats[kind]
        return b"".join((_param(0x0000, 0, 4), _param(0x0001, 0, 4), _param(0x0002, 0, 4),
                         _param(0x0003, 0, 4), _param(0x0004, 0, 4), _param(0x0005, s["bytes"], 8),
                         _param(0x0006, s["errors"], 4)))

    return page


def _provisioning(lu: LogicalUnit, stats: Stats) -> bytes:
    """0Ch Logical Block Provisioning (SBC-4 6.4.4): AVAILABLE (0001h) and USED (0002h) LBA MAPPING
    RESOURCE COUNT in blocks (THRESHOLD EXPONENT 0), dedicated to this LU (SCOPE 01b)."""
    store, n = lu.store, lu.nblocks
    deallocated = 0
    if store is not None and n:
        for _, count, status in lba_runs(store, lu.block_size, 0, n, _MAX_RUNS):
            deallocated += count if status == DEALLOCATED else 0
    used = n - deallocated

    def resource(code: int, count: int) -> bytes:
        return struct.pack(">HBBIB3x", code, _LIST, 8, min(count, 0xFFFFFFFF), 0x01)

    return resource(0x0001, deallocated) + resource(0x0002, used)


def _temperature(lu: LogicalUnit, stats: Stats) -> bytes:
    """0Dh Temperature (SPC-5 7.3.21): TEMPERATURE and REFERENCE TEMPERATURE not available (FFh)."""
    return (struct.pack(">HBBxB", 0x0000, _LIST, 2, NOT_AVAILABLE)
            + struct.pack(">HBBxB", 0x0001, _LIST, 2, NOT_AVAILABLE))


def _statistics(lu: LogicalUnit, stats: Stats) -> bytes:
    """19h General Statistics and Performance (SPC-5 7.3.9): the statistics and performance parameter
    (0001h) and the time interval parameter (0003h) saying the intervals are milliseconds."""
    r, w, bs = stats["read"], stats["write"], lu.block_size
    read_ms, write_ms = round(r["latency_seconds"] * 1000), round(w["latency_seconds"] * 1000)
    body = struct.pack(">8Q", r["commands"], w["commands"], w["bytes"] // bs, r["bytes"] // bs,
                       read_ms, write_ms, 0, 0)  # weighted fields: not counted
    interval = struct.pack(">iI", _MS_EXPONENT, 1)
    return (struct.pack(">HBB", 0x0001, _LIST, len(body)) + body
            + struct.pack(">HBB", 0x0003, _LIST, len(interval)) + interval)


def _informational_exceptions(lu: LogicalUnit, stats: Stats) -> bytes:
    """2Fh Informational Exceptions (SPC-5 7.3.12): no exception (ASC 00h), temperature not available."""
    return struct.pack(">HBBBBB", 0x0000, _LIST, 3, 0, 0, NOT_AVAILABLE)


PAGES: dict[int, Callable[[LogicalUnit, Stats], bytes]] = {
    WRITE_ERRORS: _error_counter("write"),
    READ_ERRORS: _error_counter("read"),
    PROVISIONING: _provisioning,
    TEMPERATURE: _temperature,
    STATISTICS: _statistics,
    INFORMATIONAL_EXCEPTIONS: _informational_exceptions,
}


def pages_of(lu: LogicalUnit) -> list[int]:
    """The page codes this LU serves: Logical Block Provisioning on a thin LU only."""
    return [SUPPORTED, *(p for p in PAGES if p != PROVISIONING or lu.params.thin)]


def log_sense(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 LOG SENSE: the page (and subpage 00h; 00h/FFh lists the subpages) from PARAMETER
    POINTER on. SP is refused (no saved parameters); an unknown page or subpage is INVALID FIELD IN CDB."""
    cdb = cmd.cdb
    if cdb[1] & 0x01:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    pc, page, subpage = cdb[2] >> 6, cdb[2] & 0x3F, cdb[3]
    pointer, alloc = u16(cdb, 5), u16(cdb, 7)
    served = pages_of(lu)
    if page not in served:
        raise SenseError(INVALID_FIELD_IN_CDB, field=2)
    if subpage and not (page == SUPPORTED and subpage == ALL_SUBPAGES):
        raise SenseError(INVALID_FIELD_IN_CDB, field=3)
    if page == SUPPORTED:
        if subpage:  # (page, subpage) pairs in ascending order, this one's own included
            body = b"".join(bytes(pair) for pair in sorted([(p, 0) for p in served] + [(0, ALL_SUBPAGES)]))
        else:
            body = bytes(served)
        spf = 0x40 if subpage else 0
        return cmd.reply(struct.pack(">BBH", spf | page, subpage, len(body)) + body, alloc)
    stats = counters(lu, zero=pc != PC_CUMULATIVE)
    params = PAGES[page](lu, stats)
    body = _from_pointer(params, pointer)
    return cmd.reply(struct.pack(">BBH", page, 0, len(body)) + body, alloc)


def _from_pointer(params: bytes, pointer: int) -> bytes:
    """The parameters whose code is at least PARAMETER POINTER; one beyond the last is INVALID FIELD."""
    out, off, last = [], 0, -1
    while off < len(params):
        code, size = struct.unpack_from(">HxB", params, off)
        last = code
        if code >= pointer:
            out.append(params[off : off + 4 + size])
        off += 4 + size
    if pointer > last:
        raise SenseError(INVALID_FIELD_IN_CDB, field=5)
    return b"".join(out)


def log_select(lu: LogicalUnit, cmd: ScsiCommand) -> ScsiResult:
    """SPC-5 LOG SELECT: PCR, or a PARAMETER LIST LENGTH of 0 for the cumulative values, resets the
    counters; parameter values cannot be set (INVALID FIELD IN PARAMETER LIST), nor saved (SP)."""
    cdb = cmd.cdb
    pcr, sp, pc = cdb[1] & 0x02, cdb[1] & 0x01, cdb[2] >> 6
    plen = u16(cdb, 7)
    if sp:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=0)
    if pcr and plen:
        raise SenseError(INVALID_FIELD_IN_CDB, field=7)
    if plen:
        raise SenseError(INVALID_FIELD_IN_PARAMETER_LIST, field=0, in_cdb=False)
    if pcr or pc in (PC_CUMULATIVE, PC_DEFAULT_CUMULATIVE):
        lu.state.log_base = lu.stats.snapshot()
    return GOOD
