"""The transport-side pieces every transport shares: residuals and data buffers (SAM-5 5.1, 5.3.2)."""

from __future__ import annotations

from hpt.native.ring import Ring
from hpt.scsi.core.command import ScsiResult
from hpt.scsi.core.constants import Status
from hpt.scsi.core.transfer import DataBuffers, residual


def test_residuals_under_and_over() -> None:
    assert residual(ScsiResult(Status.GOOD, in_len=512), 4096, True, False) == 3584  # underflow
    assert residual(ScsiResult(Status.GOOD, in_len=8192), 4096, True, False) == -4096  # overflow
    assert residual(ScsiResult(Status.CHECK_CONDITION), 4096, True, False) == 4096  # a failure moves no data
    # a tape READ stopped by a filemark after 1024 bytes moves them, with its sense
    assert residual(ScsiResult(Status.CHECK_CONDITION, in_len=1024), 4096, True, False) == 3072
    assert residual(ScsiResult(Status.GOOD), 4096, False, True) == 0  # a write took what it was given
    assert residual(ScsiResult(Status.GOOD, out_len=8192), 4096, False, True) == -4096
    assert residual(ScsiResult(Status.GOOD), 512, False, False) == 512  # no direction: nothing moves


def test_ring_slots_first_then_memory_within_the_budget() -> None:
    ring = Ring(4096, 2)
    buffers = DataBuffers(ring, budget=DataBuffers.heap_in_use() + 10000)
    a = buffers.take(4096)
    b = buffers.take(100)
    assert a is not None and b is not None and a[0] >= 0 and b[0] >= 0  # two ring slots
    c = buffers.take(4096)  # the ring is empty: memory of its own
    assert c is not None and c[0] == -1 and len(c[1]) == 4096
    big = buffers.take(8192)  # beyond the budget: None (the transport answers BUSY)
    assert big is None
    buffers.give(*c[:1], 4096)
    again = buffers.take(8192)
    assert again is not None and again[0] == -1
    buffers.give(-1, 8192)
    buffers.give(a[0], 4096)
    assert buffers.take(4096)[0] >= 0  # type: ignore[index]
