"""Per-LU statistics (``hpt.scsi.core.stats``): what each kind of command adds, counted where it completes."""

from __future__ import annotations

import threading
from time import monotonic_ns

from hpt.scsi.core.command import ScsiCommand, ScsiResult
from hpt.scsi.core.opcodes import Access
from hpt.scsi.core.stats import LATENCY_BOUNDS, LuStats
from tests.scsi.sbc_support import BS, NEXUS, Disk, cdb10, cdb16


def test_reads_writes_other_and_errors_are_counted_by_kind() -> None:
    disk = Disk(spc=True)
    disk.write(0, b"\x11" * (4 * BS))
    disk.write(8, b"\x22" * BS)
    assert disk.read(0, 4) == b"\x11" * (4 * BS)
    assert disk.run(bytes([0x12, 0, 0, 0, 96, 0]), alloc=96).status == 0  # INQUIRY
    assert disk.run(cdb10(0x28, 1 << 30, 1), alloc=BS).status == 2  # READ past the end: CHECK CONDITION
    assert disk.run(bytes([0xFF] + [0] * 5)).status == 2  # an unknown opcode
    snap = disk.lu.stats.snapshot()
    write, read = snap["write"], snap["read"]
    assert write["commands"] == 2 and write["bytes"] == 5 * BS and write["errors"] == 0
    assert read["commands"] == 2 and read["bytes"] == 4 * BS and read["errors"] == 1
    assert snap["other"]["commands"] == 2 and snap["other"]["errors"] == 1 and "bytes" not in snap["other"]
    for kind in ("read", "write", "other"):
        buckets = snap[kind]["buckets"]
        assert list(buckets) == [*map(str, LATENCY_BOUNDS), "+Inf"]
        assert buckets["+Inf"] == snap[kind]["commands"]
        assert list(buckets.values()) == sorted(buckets.values())  # cumulative
        assert snap[kind]["latency_seconds"] > 0


def test_a_read_counts_what_the_initiator_asked_for_at_most() -> None:
    disk = Disk(spc=True)
    reply = disk.run(cdb16(0x88, 0, 8), alloc=2 * BS)  # 8 blocks wanted, room for 2: overflow
    assert reply.status == 0
    assert disk.lu.stats.snapshot()["read"]["bytes"] == 2 * BS


def test_latency_falls_in_its_bucket() -> None:
    stats = LuStats()
    cmd = ScsiCommand(0, b"\x28" + bytes(9), NEXUS, expected_in=BS)
    stats.end(Access.READ, cmd, ScsiResult(in_len=BS), monotonic_ns() - 3_000_000)  # 3 ms ago
    buckets = stats.snapshot()["read"]["buckets"]
    assert buckets["0.0025"] == 0 and buckets["0.005"] == 1 and buckets["+Inf"] == 1


def test_no_increment_is_lost_across_threads() -> None:
    stats = LuStats()
    cmd = ScsiCommand(0, b"\x2a" + bytes(9), NEXUS, expected_out=BS)

    def work() -> None:
        for _ in range(20000):
            stats.end(Access.WRITE, cmd, ScsiResult(), 0)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = stats.snapshot()["write"]
    assert snap["commands"] == 80000 and snap["bytes"] == 80000 * BS and snap["buckets"]["+Inf"] == 80000
