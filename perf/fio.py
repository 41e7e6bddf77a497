"""fio workloads over the libiscsi engine: command lines, runs, and the figures read from fio's JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FIO = Path(__file__).resolve().parent / "build" / "fio"


@dataclass(frozen=True, slots=True)
class Workload:
    key: str
    title: str
    rw: str  # fio --rw
    bs: str
    iodepth: int

    @property
    def direction(self) -> str:
        """The section of fio's JSON job that holds the figures: ``read`` or ``write``."""
        return "write" if "write" in self.rw else "read"


WORKLOADS = (
    Workload("randread", "4K randread QD32", "randread", "4k", 32),
    Workload("randwrite", "4K randwrite QD32", "randwrite", "4k", 32),
    Workload("seqread", "128K seq read QD8", "read", "128k", 8),
    Workload("seqwrite", "128K seq write QD8", "write", "128k", 8),
)


@dataclass(frozen=True, slots=True)
class FioResult:
    iops: float
    bw_bytes: float  # bytes per second
    p99_ms: float  # completion latency, 99th percentile
    mean_ms: float
    ios: int
    percentiles_ms: dict[str, float] = field(default_factory=dict)  # completion latency: "50", "99.9" ...


def has_libiscsi(fio: Path) -> bool:
    if not os.access(fio, os.X_OK):
        return False
    out = subprocess.run([str(fio), "--enghelp"], capture_output=True, text=True, check=False).stdout
    return "libiscsi" in out.split()


def version(fio: Path) -> str:
    return subprocess.run([str(fio), "--version"], capture_output=True, text=True, check=False).stdout.strip()


def command(fio: Path, workload: Workload, filename: str, runtime: int, ramp: int, output: Path,
            jobs: int = 1) -> list[str]:
    """``jobs`` jobs, each with its own iSCSI session, reported as one; JSON goes to ``output`` (fio prints
    notes on stdout). Jobs are threads (``--thread``): a forked fio job runs in a session of its own and
    would outlive a killed fio."""
    return [
        str(fio),
        f"--name={workload.key}",
        "--ioengine=libiscsi",
        f"--filename={filename}",
        f"--rw={workload.rw}",
        f"--bs={workload.bs}",
        f"--iodepth={workload.iodepth}",
        "--time_based",
        f"--runtime={runtime}",
        f"--ramp_time={ramp}",
        "--thread",
        "--norandommap",
        "--randrepeat=0",
        "--output-format=json",
        f"--output={output}",
        *([f"--numjobs={jobs}", "--group_reporting"] if jobs > 1 else []),
    ]


def run(argv: list[str], output: Path, direction: str, timeout: float) -> FioResult:
    """Run fio to completion (killed on timeout or interruption) and parse its JSON."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        messages, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"fio did not finish within {timeout:.0f} s") from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = messages.decode(errors="replace").strip()
    if proc.returncode != 0:
        raise RuntimeError(f"fio exited with {proc.returncode}: {text[-2000:]}")
    try:
        raw = output.read_text()
        # fio may put notes before the document (e.g. the libiscsi engine's misleading "queue depth will
        # be capped at 1": the engine is flagged sync but queues asynchronously, so iodepth holds).
        doc = json.loads(raw[raw.index("\n{") + 1 :] if not raw.startswith("{") else raw)
    except (OSError, ValueError) as err:
        raise RuntimeError(f"fio wrote no JSON ({err}): {text[-2000:]}") from None
    return parse(doc, direction)


def parse(doc: dict, direction: str) -> FioResult:
    """The figures of the single job (or group of jobs) in fio's ``--output-format=json`` document."""
    job = doc["jobs"][0]
    if job.get("error"):
        raise RuntimeError(f"fio job error {job['error']}")
    side = job[direction]
    if not side["total_ios"]:
        raise RuntimeError("fio completed no I/O")
    clat = side["clat_ns"]
    return FioResult(
        iops=float(side["iops"]),
        bw_bytes=float(side["bw_bytes"]),
        p99_ms=float(clat["percentile"]["99.000000"]) / 1e6,
        mean_ms=float(clat["mean"]) / 1e6,
        ios=int(side["total_ios"]),
        percentiles_ms={f"{float(k):g}": float(v) / 1e6 for k, v in clat.get("percentile", {}).items()},
    )
