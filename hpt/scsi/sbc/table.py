"""The direct-access block device's opcode table (SBC-4).

Every SBC opcode hpt implements is listed here once, with its handler, reservation access
(the SPC-5 and SBC-4 reservation tables) and CDB USAGE DATA for REPORT SUPPORTED OPERATION CODES
(SPC-5: the opcode, then a one for every CDB bit the handler evaluates; reserved and ignored
bits, and fields hpt only rejects when non-zero, are zero).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from hpt.scsi.core.cdb import FORM6, FORM10, FORM12, FORM16, Cdb, CdbForm, u64
from hpt.scsi.core.command import ScsiResult
from hpt.scsi.core.opcodes import Access, OpcodeEntry, OpcodeTable, Span
from hpt.scsi.sbc import atomic as atomic
from hpt.scsi.sbc import capacity as cap
from hpt.scsi.sbc import echo_buffer as echo
from hpt.scsi.sbc import log_pages as log
from hpt.scsi.sbc import medium as medium
from hpt.scsi.sbc import misc as misc
from hpt.scsi.sbc import provisioning as prov
from hpt.scsi.sbc import rw as rw
from hpt.scsi.sbc import sanitize as sanitize
from hpt.scsi.sbc import stream as stream
from hpt.scsi.sbc import timestamp as timestamp
from hpt.scsi.sbc import verify as verify
from hpt.scsi.sbc import vpd as vpd
from hpt.scsi.sbc import xcopy as xcopy
from hpt.scsi.spc.commands import SPC_ENTRIES

if TYPE_CHECKING:
    from hpt.scsi.lu import LuParams
    from hpt.store.base import BackingStore

R, W, A, C = Access.READ, Access.WRITE, Access.ALWAYS, Access.CONFLICT
SANITIZE_SAS = (sanitize.OVERWRITE, sanitize.BLOCK_ERASE, sanitize.CRYPTO_ERASE, sanitize.EXIT_FAILURE_MODE)


def _entry(usage: str, name: str, handler: Callable[..., ScsiResult], access: Access,
           form: CdbForm | None = None, *, sa: int | None = None, store: bool = True,
           io: Callable[..., None] | None = None, span: Callable[[Cdb], Span] | None = None,
           quick: Callable[..., int] | None = None, streamed: Callable[..., None] | None = None,
           offered: Callable[[BackingStore | None], bool] | None = None) -> OpcodeEntry:
    """An entry whose opcode and CDB length come from its usage map (hex, one byte per CDB byte);
    a handler written for several CDB sizes gets its ``form`` bound as first argument (so does
    ``io``, the asynchronous data path, ``quick``, the fast lane, and ``streamed``, ``io`` in pieces).
    ``store``: the handler calls the store (runs off the transport's thread); ``span``: the LBA range it
    locks in the task set; ``offered(store)``: whether a LU over that store offers it."""
    data = bytes.fromhex(usage)
    bound = handler if form is None else partial(handler, form)
    bound_io = None if io is None or form is None else partial(io, form)
    bound_quick = None if quick is None or form is None else partial(quick, form)
    bound_streamed = None if streamed is None or form is None else partial(streamed, form)
    exclusive = span is not None and span(bytes(16))[2]
    return OpcodeEntry(data[0], name, bound, len(data), access, sa, data, store_work=store, io=bound_io,
                       span=span, exclusive=exclusive, quick=bound_quick,
                       streamed=bound_streamed, offered=offered)


def _read(usage: str, name: str, form: CdbForm) -> OpcodeEntry:
    """A READ of one CDB size: the handler, the asynchronous and streamed data paths, the fast lane."""
    return _entry(usage, name, rw.read_blocks, R, form, io=rw.submit_read, streamed=stream.streamed_read,
                  quick=rw.quick_read, span=rw.span(form))


def _write(usage: str, name: str, form: CdbForm) -> OpcodeEntry:
    """A WRITE of one CDB size: the handler, the asynchronous and streamed data paths."""
    return _entry(usage, name, rw.write_blocks, W, form, io=rw.submit_write, streamed=stream.streamed_write,
                  span=rw.span(form))


def _whole(cdb: Cdb) -> Span:
    """Every LBA, exclusively (UNMAP's descriptors, FORMAT UNIT, a medium being unloaded)."""
    return (0, 1 << 64, True)


def _caw_span(cdb: Cdb) -> Span:
    """COMPARE AND WRITE: LBA in bytes 2..9, NUMBER OF LOGICAL BLOCKS in byte 13, as one unit."""
    return (u64(cdb, 2), u64(cdb, 2) + cdb[13], True) if len(cdb) >= 14 else _whole(cdb)


SBC_ENTRIES: list[OpcodeEntry] = [
    _entry("04 37 00 00 00 00", "FORMAT UNIT", misc.format_unit, W, span=_whole),
    _read("08 1f ff ff ff 00", "READ(6)", FORM6),
    _write("0a 1f ff ff ff 00", "WRITE(6)", FORM6),
    _entry("1b 00 00 00 f7 00", "START STOP UNIT", medium.start_stop_unit, W, span=_whole),
    _entry("1e 00 00 00 03 00", "PREVENT ALLOW MEDIUM REMOVAL", medium.prevent_allow, W, store=False),
    _entry("25 00 ff ff ff ff 00 00 01 00", "READ CAPACITY(10)", cap.read_capacity10, A, store=False),
    _read("28 18 ff ff ff ff 00 ff ff 00", "READ(10)", FORM10),
    _write("2a 18 ff ff ff ff 00 ff ff 00", "WRITE(10)", FORM10),
    _entry("2e 12 ff ff ff ff 00 ff ff 00", "WRITE AND VERIFY(10)", verify.write_and_verify, W, FORM10,
           span=rw.span(FORM10)),
    _entry("2f 16 ff ff ff ff 00 ff ff 00", "VERIFY(10)", verify.verify_blocks, R, FORM10,
           span=rw.span(FORM10)),
    _entry("34 00 ff ff ff ff 00 ff ff 00", "PRE-FETCH(10)", misc.prefetch, R, FORM10),
    _entry("35 00 ff ff ff ff 00 ff ff 00", "SYNCHRONIZE CACHE(10)", misc.synchronize_cache, W, FORM10),
    _entry("37 00 1f 00 00 00 00 ff ff 00", "READ DEFECT DATA(10)", misc.read_defect_data10, R, store=False),
    _entry("3b 1f 00 00 00 00 ff ff ff 00", "WRITE BUFFER", echo.write_buffer, C, store=False),
    _entry("3c 1f 00 00 00 00 ff ff ff 00", "READ BUFFER", echo.read_buffer, C, store=False),
    _entry("41 08 ff ff ff ff 00 ff ff 00", "WRITE SAME(10)", prov.write_same, W, FORM10,
           span=rw.span(FORM10, exclusive=True)),
    _entry("42 00 00 00 00 00 00 ff ff 00", "UNMAP", prov.unmap, W, span=_whole),
    _entry("4c 03 ff ff 00 00 00 ff ff 00", "LOG SELECT", log.log_select, W, store=False),
    _entry("4d 01 ff ff 00 ff ff ff ff 00", "LOG SENSE", log.log_sense, A),
    # SANITIZE: the plain entry dispatch finds first (an unsupported service action is INVALID FIELD IN
    # CDB, not INVALID COMMAND OPERATION CODE) and one per service action for RSOC
    _entry("48 bf 00 00 00 00 00 ff ff 00", "SANITIZE", sanitize.sanitize, W, span=_whole),
    *(_entry(f"48 {0xA0 | sa:02x} 00 00 00 00 00 ff ff 00", f"SANITIZE/{sa:02X}h", sanitize.sanitize, W,
             sa=sa, span=_whole, offered=vpd.can_crypto_erase if sa == sanitize.CRYPTO_ERASE else None)
      for sa in SANITIZE_SAS),
    # EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: plain entries in front of their service actions
    _entry("83 1f 00 00 00 00 00 00 00 00 ff ff ff ff 00 00", "EXTENDED COPY", xcopy.extended_copy, W,
           span=xcopy.copy_span),
    _entry("83 00 00 00 00 00 00 00 00 00 ff ff ff ff 00 00", "EXTENDED COPY(LID1)", xcopy.extended_copy, W,
           sa=0x00, span=xcopy.copy_span),
    _entry("84 1f ff 00 00 00 00 00 00 00 ff ff ff ff 00 00", "RECEIVE COPY RESULTS",
           xcopy.receive_copy_results, A, store=False),
    _entry("84 00 ff 00 00 00 00 00 00 00 ff ff ff ff 00 00", "RECEIVE COPY RESULTS/COPY STATUS",
           xcopy.receive_copy_results, A, sa=0x00, store=False),
    _entry("84 03 00 00 00 00 00 00 00 00 ff ff ff ff 00 00", "RECEIVE COPY RESULTS/OPERATING PARAMETERS",
           xcopy.receive_copy_results, A, sa=0x03, store=False),
    _entry("84 04 ff 00 00 00 00 00 00 00 ff ff ff ff 00 00", "RECEIVE COPY RESULTS/FAILED SEGMENT DETAILS",
           xcopy.receive_copy_results, A, sa=0x04, store=False),
    _read("88 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "READ(16)", FORM16),
    _entry("89 18 ff ff ff ff ff ff ff ff 00 00 00 ff 00 00", "COMPARE AND WRITE",
           verify.compare_and_write, W, span=_caw_span),
    _write("8a 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE(16)", FORM16),
    _entry("8b 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "ORWRITE(16)", rw.orwrite16, W,
           span=rw.span(FORM16, exclusive=True)),
    _entry("8e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE AND VERIFY(16)",
           verify.write_and_verify, W, FORM16, span=rw.span(FORM16)),
    _entry("8f 16 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "VERIFY(16)", verify.verify_blocks, R, FORM16,
           span=rw.span(FORM16)),
    _entry("90 00 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "PRE-FETCH(16)", misc.prefetch, R, FORM16),
    _entry("91 00 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "SYNCHRONIZE CACHE(16)",
           misc.synchronize_cache, W, FORM16),
    _entry("93 09 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE SAME(16)", prov.write_same, W, FORM16,
           span=rw.span(FORM16, exclusive=True)),
    _entry("9c 18 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "WRITE ATOMIC(16)", atomic.write_atomic16, W,
           span=atomic.atomic_span),
    _entry("9e 10 00 00 00 00 00 00 00 00 ff ff ff ff 00 00", "READ CAPACITY(16)",
           cap.read_capacity16, A, sa=0x10, store=False),
    _entry("9e 12 ff ff ff ff ff ff ff ff ff ff ff ff 00 00", "GET LBA STATUS",
           cap.get_lba_status, R, sa=0x12),
    _entry("a3 0f 00 00 00 00 ff ff ff ff 00 00", "REPORT TIMESTAMP", timestamp.report_timestamp, A,
           sa=timestamp.TIMESTAMP, store=False),
    _entry("a4 0f 00 00 00 00 ff ff ff ff 00 00", "SET TIMESTAMP", timestamp.set_timestamp, W,
           sa=timestamp.TIMESTAMP, store=False),
    _read("a8 18 ff ff ff ff ff ff ff ff 00 00", "READ(12)", FORM12),
    _write("aa 18 ff ff ff ff ff ff ff ff 00 00", "WRITE(12)", FORM12),
    _entry("ae 12 ff ff ff ff ff ff ff ff 00 00", "WRITE AND VERIFY(12)", verify.write_and_verify, W, FORM12,
           span=rw.span(FORM12)),
    _entry("af 16 ff ff ff ff ff ff ff ff 00 00", "VERIFY(12)", verify.verify_blocks, R, FORM12,
           span=rw.span(FORM12)),
    _entry("b7 1f 00 00 00 00 ff ff ff ff 00 00", "READ DEFECT DATA(12)", misc.read_defect_data12, R,
          store=False),
]

THIN_ONLY = frozenset({0x42})  # UNMAP: a fully provisioned LU does not offer it (LBPU 0)
BLOCK_ERASE = (sanitize.SANITIZE, sanitize.BLOCK_ERASE)  # a thin LU's (LBPME 1, SBC-4 4.11.4)


def _offered(params: LuParams, entry: OpcodeEntry) -> bool:
    if entry.opcode in THIN_ONLY or (entry.opcode, entry.service_action) == BLOCK_ERASE:
        return params.thin
    return True


def disk_table(params: LuParams) -> OpcodeTable:
    """SPC's shared commands plus the SBC commands this LU offers."""
    sbc = [e for e in SBC_ENTRIES if _offered(params, e)]
    return OpcodeTable(SPC_ENTRIES).extend(sbc)
