"""Checks, limits and buffers shared by the block-command handlers (SBC-4 clauses 4 and 5).

The limits are the ones the Block Limits VPD page (SBC-4) advertises, owned by ``hpt.scsi.spc.vpd``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hpt.scsi.core.command import GOOD, ScsiResult
from hpt.scsi.core.constants import (
    INVALID_FIELD_IN_CDB,
    LBA_OUT_OF_RANGE,
    MEDIUM_NOT_PRESENT,
    WRITE_PROTECTED,
    Status,
)
from hpt.scsi.core.sense import SenseError
from hpt.scsi.sbc import vpd
from hpt.scsi.spc.mode import software_write_protect

if TYPE_CHECKING:
    from hpt.scsi.core.cdb import CdbForm
    from hpt.scsi.core.command import ScsiCommand
    from hpt.scsi.lu import LogicalUnit, LuParams


# The Block Limits VPD page advertises these; the commands enforce them (0xFFFFFFFF, 0: no limit).
MAX_CAW_BLOCKS = vpd.MAX_CAW_BLOCKS  # MAXIMUM COMPARE AND WRITE LENGTH
MAX_UNMAP_LBA_COUNT = vpd.MAX_UNMAP_LBA_COUNT  # per UNMAP command
MAX_UNMAP_DESCRIPTORS = vpd.MAX_UNMAP_BLOCK_DESCRIPTORS  # per UNMAP command
MAX_WRITE_SAME_BLOCKS = vpd.MAX_WRITE_SAME_BLOCKS  # MAXIMUM WRITE SAME LENGTH
WSNZ = vpd.WRITE_SAME_NON_ZERO  # WRITE SAME with NUMBER OF LOGICAL BLOCKS 0 is rejected (0: to the end)
NO_LIMIT = 0xFFFFFFFF
PREFETCH_CACHE_BYTES = 64 << 20  # PRE-FETCH answers CONDITION MET up to this much (SBC-4 PRE-FETCH)



@dataclass(slots=True)
class DiskState:
    """A disk LU's own state (``lu.state``): its removable medium (SBC-4 4.13) and sanitize (4.11)."""

    medium_removed: bool = False  # START STOP UNIT unloaded the removable medium
    preventers: set[str] = field(default_factory=set)  # initiator ports holding PREVENT MEDIUM REMOVAL
    sanitize: Any = None  # the sanitize running or failed (``sanitize.SanitizeRun``); None: neither
    copies: dict[tuple[str, int], Any] = field(default_factory=dict)  # EXTENDED COPY results held
    log_base: dict[str, Any] | None = None  # command statistics when LOG SELECT last reset the counters
    timestamp_offset: int | None = None  # ms SET TIMESTAMP put the clock ahead of the host's; None: not set
    echo: dict[str, bytes] = field(default_factory=dict)  # echo buffer data by initiator port


def new_state(params: LuParams) -> DiskState:
    return DiskState()


def task_aborted(lu: LogicalUnit, cmd: ScsiCommand) -> bool:
    """Whether task management aborted ``cmd`` while it runs (a long command looks between chunks; the
    engine then answers it ABORTED)."""
    port, tag = cmd.nexus.initiator_port, cmd.tag
    return any(t.aborted for t in lu.tasks.find(lambda t: t.key == port and t.tag == tag))


def check_ready(lu: LogicalUnit) -> None:
    """NOT READY, MEDIUM NOT PRESENT while a removable medium is unloaded (SBC-4 removable medium model)."""
    if lu.state.medium_removed:
        raise SenseError(MEDIUM_NOT_PRESENT)


def check_range(lu: LogicalUnit, lba: int, nblocks: int, field: int = 2) -> None:
    """LOGICAL BLOCK ADDRESS OUT OF RANGE unless lba..lba+nblocks lies on the medium (SBC-4 logical blocks).

    Python integers do not wrap, so an LBA near 2**64 plus a length cannot slip past the check.
    """
    if lba + nblocks > lu.nblocks:
        raise SenseError(LBA_OUT_OF_RANGE, field=field)


def check_transfer(lu: LogicalUnit, nblocks: int, field: int) -> None:
    """INVALID FIELD IN CDB when a transfer exceeds MAXIMUM TRANSFER LENGTH (SBC-4 Block Limits VPD page)."""
    limit = lu.params.max_xfer_blocks
    if limit and nblocks > limit:
        raise SenseError(INVALID_FIELD_IN_CDB, field=field)


def check_no_protection(cdb: bytes | memoryview) -> None:
    """RD/WR/VRPROTECT other than 0 asks for protection information, which hpt does not keep."""
    if cdb[1] & 0xE0:
        raise SenseError(INVALID_FIELD_IN_CDB, field=1, bit=7)


def check_writable(lu: LogicalUnit) -> None:
    """DATA PROTECT, WRITE PROTECTED on a read-only LU or store, or while the control mode page's SWP
    (software write protect) is set (SBC-4 4.11 write protection, SPC-5 7.5.10)."""
    if lu.params.readonly or lu.store is None or lu.store.readonly or software_write_protect(lu):
        raise SenseError(WRITE_PROTECTED)


def checked_blocks(form: CdbForm, lu: LogicalUnit, cdb: bytes | memoryview, transfer: bool = True
                   ) -> tuple[int, int]:
    """Decode LBA and length and run the checks every medium access shares: no protection
    information, medium present, range on the medium and (``transfer``) MAXIMUM TRANSFER LENGTH."""
    if form.flags:
        check_no_protection(cdb)
    lba, n = form.decode(cdb)
    check_ready(lu)
    check_range(lu, lba, n, form.lba_field)
    if transfer:
        check_transfer(lu, n, form.len_field)
    return lba, n


def data_out(cmd: ScsiCommand, nbytes: int) -> memoryview:
    """The write data the command may use: what arrived, cut to what the CDB asks for.

    When the initiator sent less than the CDB's transfer length (iSCSI overflow), only the bytes
    received are processed (FCP-4 FCP_DL overflow rule a; libiscsi iSCSIResiduals expects this).
    """
    buf = cmd.data_out
    if buf is None:
        return memoryview(b"")
    return buf if len(buf) == nbytes else buf[:nbytes]


def out_result(cmd: ScsiCommand, needed: int) -> ScsiResult:
    """GOOD, with ``out_len`` when the Data-Out length differs from what the CDB needed (residual)."""
    return GOOD if cmd.expected_out == needed else ScsiResult(Status.GOOD, out_len=needed)


_ZEROS = memoryview(bytes(1 << 16))


def is_zero(buf: memoryview) -> bool:
    """True when every byte of ``buf`` is zero (compared a 64 KiB slice at a time, in C)."""
    for start in range(0, len(buf), len(_ZEROS)):
        part = buf[start:start + len(_ZEROS)]
        if part != _ZEROS[:len(part)]:
            return False
    return True


def first_difference(a: memoryview, b: memoryview) -> int:
    """Offset of the first differing byte of two equal-length buffers, or -1 when equal."""
    if a == b:
        return -1
    lo, hi = 0, len(a)
    while hi - lo > 64:  # bisect with C-speed slice compares, then finish byte by byte
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    for i in range(lo, hi):
        if a[i] != b[i]:
            return i
    return -1
