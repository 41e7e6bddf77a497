"""What every transport does around a SCSI command, written once: its :class:`ScsiCommand`, its data
buffer (a ring slot, or memory within a budget) and its residual (SAM-5 5.1).

iSCSI (``hpt.iscsi.connection``) and FCP (``hpt.fcoe.exchange``) call these; they keep only what is
theirs: PDUs or frames, R2T or XFER_RDY pacing, and their own way of saying a residual.
"""

from __future__ import annotations

import mmap
import threading
from typing import TYPE_CHECKING

from hpt.scsi.core.command import Nexus, ScsiCommand, ScsiResult, TaskAttr

if TYPE_CHECKING:
    from hpt.native.ring import Ring

MAX_BUFFER = 1 << 30  # the largest data buffer one command may claim (beyond: CHECK CONDITION)
HEAP_BUDGET = 2 << 30  # buffers outside the ring, all commands together (beyond: BUSY)
_LAZY = 1 << 20  # above this a buffer is an anonymous mapping (zeroed lazily) instead of a bytearray


def command(lun: int, cdb: bytes | memoryview, nexus: Nexus, tag: int, attr: TaskAttr,
            buf: memoryview | None, length: int, read: bool, write: bool) -> ScsiCommand:
    """The SCSI engine's view of a transport's command: ``buf`` is its data buffer of ``length``
    (the expected data transfer length), written by the initiator or to be read by it."""
    return ScsiCommand(lun, cdb, nexus, tag=tag, attr=attr, data_out=buf if write else None,
                       data_in=buf if read else None, expected_in=length if read else 0,
                       expected_out=length if write else 0)


def bidi_command(lun: int, cdb: bytes | memoryview, nexus: Nexus, tag: int, attr: TaskAttr,
                 out_buf: memoryview | None, out_len: int, in_buf: memoryview | None,
                 in_len: int) -> ScsiCommand:
    """A bidirectional command (SAM-5 5.1: both data-out and data-in buffers): ``out_buf`` holds the
    ``out_len`` bytes the initiator wrote, ``in_buf`` takes up to ``in_len`` bytes for it to read."""
    return ScsiCommand(lun, cdb, nexus, tag=tag, attr=attr, data_out=out_buf, data_in=in_buf,
                       expected_in=in_len, expected_out=out_len)


def residual(result: ScsiResult, expected: int, read: bool, write: bool) -> int:
    """SAM-5 5.1: the expected length less what the command wanted to move; positive for an
    underflow, negative for an overflow. A read that ends in CHECK CONDITION moves the data its
    result still holds (a tape READ stopped by a filemark or a short block, SSC-4 4.2.9): none for
    other failures, whose ``in_len`` is 0."""
    if write:
        return expected - (expected if result.out_len is None else result.out_len)
    return expected - result.in_len


class DataBuffers:
    """Data buffers: a slot of the shared ring when the transfer fits one and one is free, else
    memory of its own, within ``HEAP_BUDGET`` bytes for all commands together (shared by every
    transport of the process). ``take`` returns None when the budget is spent: the command ends in
    BUSY (SAM-5 5.3.2) and the initiator tries again, instead of the target holding without bound."""

    _heap_lock = threading.Lock()
    _heap_used = 0

    def __init__(self, ring: Ring | None, budget: int = HEAP_BUDGET) -> None:
        self.ring = ring
        self.budget = budget

    def take(self, n: int) -> tuple[int, memoryview] | None:
        """(ring slot or -1, a writable view of ``n`` bytes), or None when no memory is left for it."""
        ring = self.ring
        if ring is not None and n <= ring.slot_size:
            idx = ring.try_alloc()
            if idx >= 0:
                return idx, ring.view(idx)[:n]
        if not self.reserve(n):
            return None
        return -1, memoryview(bytearray(n) if n <= _LAZY else mmap.mmap(-1, n))

    def reserve(self, n: int) -> bool:
        """Count ``n`` bytes the caller holds in memory of its own against the budget (False: no room);
        ``give(-1, n)`` returns them."""
        cls = DataBuffers
        with cls._heap_lock:
            if cls._heap_used + n > self.budget:
                return False
            cls._heap_used += n
            return True

    def give(self, slot: int, n: int) -> None:
        """Return a buffer ``take`` gave: its ring slot, or ``n`` bytes of the budget."""
        if slot >= 0:
            assert self.ring is not None
            self.ring.free(slot)
            return
        cls = DataBuffers
        with cls._heap_lock:
            cls._heap_used -= n

    @classmethod
    def heap_in_use(cls) -> int:
        return cls._heap_used
