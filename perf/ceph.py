"""The ``rbd`` medium: one image of a throw-away single-node Ceph (``ci/ceph/microceph.py``), served by
tgtd through its ``bs_rbd`` backing store (Debian's ``tgt-rbd``) and by hptd with ``store = "rbd"``, and
measured by ``rbd bench`` as the ceiling (librbd with no gateway and no iSCSI in between).

The cluster listens on the host's 127.0.0.1 (a private port, no auth), as for ``tests/rbd``: both
daemons and ``rbd bench`` reach it through its ``ceph.conf``. Its OSD keeps the data in memory
(memstore), so the comparison measures the gateways' CPU paths, not a device.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ci.ceph.microceph import MicroCeph, missing
from perf import report
from perf.fio import FioResult, Workload

BENCH = report.BENCH  # the ceiling's row beside tgt and hpt
TGT_BS_RBD = Path("/usr/lib/tgt/backing-store/bs_rbd.so")  # Debian's tgt-rbd
MEMSTORE = 2 << 30  # micro-ceph.sh's default OSD memory
_SUMMARY = re.compile(r"elapsed:\s*(\d+)\s+ops:\s*(\d+)\s+ops/sec:\s*([\d.]+)")


@dataclass(frozen=True)
class Image:
    """``pool/name`` of the cluster whose ``ceph.conf`` is ``conf``."""

    conf: str
    pool: str
    name: str

    @property
    def spec(self) -> str:
        return f"{self.pool}/{self.name}"


def ceph_missing() -> str | None:
    """Why the rbd medium cannot run here (Ceph not installed, not root), or None."""
    return missing()


def tgt_rbd_missing() -> str | None:
    """Why tgtd cannot serve an rbd image here, or None."""
    if not TGT_BS_RBD.exists():
        return f"tgt's rbd backing store is not installed ({TGT_BS_RBD}: apt-get install tgt-rbd)"
    return None


def bench_command(image: Image, workload: Workload, sessions: int, total: int) -> list[str]:
    """``rbd bench`` of ``workload``'s direction, pattern and size, ``total`` bytes long, with as many I/Os
    in flight as fio keeps over ``sessions`` sessions (one client: ``--io-threads`` is its queue depth)."""
    pattern = "rand" if workload.rw.startswith("rand") else "seq"
    return [
        "rbd",
        "-c",
        image.conf,
        "bench",
        "--io-type",
        workload.direction,
        "--io-size",
        workload.bs.upper(),
        "--io-threads",
        str(workload.iodepth * sessions),
        "--io-pattern",
        pattern,
        "--io-total",
        str(total),
        image.spec,
    ]


def parse_bench(text: str, block: int) -> FioResult:
    """``rbd bench``'s summary line (``elapsed: S ops: N ops/sec: X bytes/sec: ...``) as a FioResult; it
    has no latency percentiles (p99 and the mean are NaN)."""
    found = _SUMMARY.search(text)
    if found is None:
        raise RuntimeError(f"rbd bench printed no summary:\n{text[-2000:]}")
    ops, iops = int(found[2]), float(found[3])
    return FioResult(iops, iops * block, float("nan"), float("nan"), ops)


class Cluster:
    """The throw-away cluster of one run, started on first use, with one image of ``size`` bytes filled
    with random data; ``close`` stops it (its data goes with the OSD)."""

    def __init__(self, workdir: Path, size: int) -> None:
        self.workdir = workdir
        self.size = size
        self.ceph: MicroCeph | None = None
        self._image: Image | None = None
        self._failed: RuntimeError | None = None  # a start that failed fails every later benchmark alike

    def image(self) -> Image:
        if self._failed is not None:
            raise self._failed
        if self._image is None:
            try:
                self._image = self._start()
            except (RuntimeError, OSError, subprocess.SubprocessError) as err:
                self._failed = RuntimeError(f"the rbd medium's Ceph did not start: {err}")
                raise self._failed from err
        return self._image

    def _start(self) -> Image:
        reason = ceph_missing()
        if reason is not None:
            raise RuntimeError(reason)
        self.ceph = MicroCeph(self.workdir / "ceph")
        # room for the image, twice over, and then some
        wanted = max(MEMSTORE, 2 * self.size + (512 << 20))
        before = os.environ.get("CEPH_MEMSTORE_BYTES")
        os.environ["CEPH_MEMSTORE_BYTES"] = before or str(wanted)
        try:
            self.ceph.start()
        finally:
            if before is None:
                del os.environ["CEPH_MEMSTORE_BYTES"]
        image = Image(self.ceph.conf, self.ceph.pool, f"perf{os.getpid()}")
        self._fill(image)
        return image

    def _fill(self, image: Image) -> None:
        """``rbd import -`` of ``size`` random bytes: the image is made by it, every block written."""
        argv = ["rbd", "-c", image.conf, "import", "--no-progress", "-", image.spec]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdin is not None
        chunk = 8 << 20
        try:
            for offset in range(0, self.size, chunk):
                proc.stdin.write(os.urandom(min(chunk, self.size - offset)))
        finally:
            proc.stdin.close()
            err = proc.stderr.read() if proc.stderr else b""
            code = proc.wait(600)
        if code != 0:
            raise RuntimeError(f"rbd import failed ({code}): {err.decode(errors='replace')[-2000:]}")

    def bench(self, workload: Workload, sessions: int, total: int, timeout: float) -> tuple[FioResult, float]:
        """One ``rbd bench`` of ``total`` bytes; also its own CPU microseconds (librbd's, the client
        side) per I/O."""
        block = int(workload.bs.rstrip("kK")) * 1024
        argv = bench_command(self.image(), workload, sessions, total)  # the cluster started before the clock
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise RuntimeError(f"rbd bench failed ({done.returncode}): {done.stderr[-2000:]}")
        result = parse_bench(done.stdout, block)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return result, cpu / max(result.ios, 1) * 1e6

    def version(self) -> str:
        out = subprocess.run(["rbd", "--version"], capture_output=True, text=True, check=False).stdout
        return out.strip() or "rbd"

    def close(self) -> None:
        if self.ceph is not None:
            self.ceph.stop()
            self.ceph = None


def bench_total(workload: Workload, iops_seen: float, seconds: int, size: int) -> int:
    """How many bytes one ``rbd bench`` moves (it has no time limit): twice what the fastest gateway of
    the same group did in ``seconds``, at least 1000 I/Os; the image's size when no gateway ran."""
    block = int(workload.bs.rstrip("kK")) * 1024
    if iops_seen <= 0:
        return max(size, 1000 * block)
    return max(1000, int(iops_seen * seconds * 2)) * block
