"""Medians, hpt/tgt ratios and the printed table of one end-to-end run."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass

from perf.fio import FioResult, Workload

BENCH = "rbd-bench"  # the rbd medium's ceiling (perf/ceph.py): each gateway's share of it is printed


@dataclass(frozen=True, slots=True)
class Sample:
    """One fio run against one target."""

    rep: int
    workload: str
    target: str
    result: FioResult
    cpu_us_per_io: float  # the target daemon's CPU time per completed I/O

    def as_dict(self) -> dict[str, object]:
        return {
            "rep": self.rep,
            "workload": self.workload,
            "target": self.target,
            "cpu_us_per_io": round(self.cpu_us_per_io, 3),
            **asdict(self.result),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """Medians over the repetitions of one workload on one target."""

    iops: float
    mb_s: float
    p99_ms: float
    cpu_us_per_io: float
    iops_min: float
    iops_max: float
    reps: int


def summarize(samples: list[Sample], workload: str, target: str) -> Summary | None:
    mine = [s for s in samples if s.workload == workload and s.target == target]
    if not mine:
        return None
    iops = [s.result.iops for s in mine]
    return Summary(
        iops=statistics.median(iops),
        mb_s=statistics.median(s.result.bw_bytes / 1e6 for s in mine),
        p99_ms=statistics.median(s.result.p99_ms for s in mine),
        cpu_us_per_io=statistics.median(s.cpu_us_per_io for s in mine),
        iops_min=min(iops),
        iops_max=max(iops),
        reps=len(mine),
    )


HPT_TARGETS = ("hpt", "hpt2", "hptt", "hpt2t")


def ratios(hpt: Summary, tgt: Summary) -> dict[str, float]:
    """hpt / tgt for each median (IOPS and MB/s: higher is better; p99 and CPU per I/O: lower is better)."""
    pairs = {
        "iops": (hpt.iops, tgt.iops),
        "mb_s": (hpt.mb_s, tgt.mb_s),
        "p99_ms": (hpt.p99_ms, tgt.p99_ms),
        "cpu_us_per_io": (hpt.cpu_us_per_io, tgt.cpu_us_per_io),
    }
    return {k: (a / b if b else float("nan")) for k, (a, b) in pairs.items()}


def table(workload: Workload, summaries: dict[str, Summary], runtime: int) -> str:
    """The printed block of one workload: one row per target, then the hpt/tgt ratio row."""
    reps = max(s.reps for s in summaries.values())
    head = f"{workload.title}  ({reps} rep{'s' if reps > 1 else ''} x {runtime} s, medians)"
    rows = [head, f"  {'target':<10}{'IOPS':>11}{'MB/s':>10}{'p99 ms':>9}{'CPU us/IO':>11}   IOPS min..max"]
    for name, s in summaries.items():
        rows.append(
            f"  {name:<10}{s.iops:>11,.0f}{s.mb_s:>10,.1f}{s.p99_ms:>9.3f}{s.cpu_us_per_io:>11.1f}"
            f"   {s.iops_min:,.0f}..{s.iops_max:,.0f}"
        )
    for name in HPT_TARGETS:  # hptd (and hptd with workers) against tgtd
        if name in summaries and "tgt" in summaries:
            r = ratios(summaries[name], summaries["tgt"])
            rows.append(
                f"  {name + '/tgt':<10}{r['iops']:>10.2f}x{r['mb_s']:>9.2f}x{r['p99_ms']:>8.2f}x"
                f"{r['cpu_us_per_io']:>10.2f}x"
            )
    if BENCH in summaries:  # IOPS as a share of the ceiling
        ceiling = summaries[BENCH].iops
        rows += [f"  {name + '/ceil':<10}{summaries[name].iops / ceiling:>10.2f}x"
                 for name in ("tgt", "hpt") if name in summaries and ceiling]
    return "\n".join(rows)
