"""hptd and tgtd end to end over loopback, fio's libiscsi engine as the initiator: one benchmark per
workload, medium, session count and target, tgt before hpt, each ``--perf-reps`` fio runs long. On the
rbd medium ``rbd bench`` on the same image follows them, as the ceiling (``perf/ceph.py``).

A round's time is the seconds per I/O it measured (``perf/clock.py``), so ``--benchmark-compare-fail``
catches a slower hptd; IOPS, MB/s, p99, the latency percentiles and the target's CPU per I/O (medians of
the rounds) are in ``extra_info``, and hpt's ratios to tgt in the same run under ``hpt/tgt``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from perf import ceph, fio, harness, runs
from perf.clock import CLOCK
from perf.report import HPT_TARGETS, Sample, ratios, summarize

pytestmark = pytest.mark.benchmark(timer=CLOCK, warmup=False, disable_gc=False)


def test_e2e(case: harness.Case, benchmark: BenchmarkFixture, perf_options: harness.Options,
             daemons: harness.Daemons, perf_samples: dict[tuple[str, int], list[Sample]],
             perf_run: runs.Run, tmp_path: Path) -> None:
    if benchmark.disabled:
        pytest.skip("an end-to-end run is a benchmark: --benchmark-only or --benchmark-enable")
    if not fio.has_libiscsi(perf_options.fio):
        pytest.skip(f"{perf_options.fio} is missing or lacks the libiscsi engine: run perf/build-fio.sh")
    if case.target == "tgt" and shutil.which("tgtd") is None:
        pytest.skip("tgtd not installed (Debian package tgt)")
    if case.mode == "rbd" and (reason := ceph.ceph_missing()) is not None:
        pytest.skip(reason)
    if case.mode == "rbd" and case.target == "tgt" and (reason := ceph.tgt_rbd_missing()) is not None:
        pytest.skip(reason)
    workload, samples = case.workload, perf_samples.setdefault((case.mode, case.sessions), [])
    mine: list[Sample] = []
    if case.target == ceph.BENCH:
        measure, version = _rbd_bench(case, daemons, perf_options, samples)
    else:
        daemon = daemons.get(case.target, case.mode)
        measure, version = (lambda out: harness.measure(daemon, workload, perf_options, case.sessions, out),
                            daemon.version)

    def one_run() -> None:
        result, cpu_us = measure(tmp_path / f"fio-{len(mine)}.json")
        mine.append(Sample(len(mine), workload.key, case.target, result, cpu_us))
        CLOCK.advance(1 / result.iops)

    benchmark.group = case.group
    benchmark.pedantic(one_run, rounds=perf_options.reps, iterations=1)
    samples.extend(mine)
    info = runs.e2e_info(mine, workload.key, case.target, case.mode, case.sessions)
    info["version"] = version()
    hpt, tgt = summarize(samples, workload.key, "hpt"), summarize(samples, workload.key, "tgt")
    mine_summary = summarize(samples, workload.key, case.target)
    if case.target in HPT_TARGETS and mine_summary is not None and tgt is not None:
        info[f"{case.target}/tgt"] = ratios(mine_summary, tgt)
    if case.target == ceph.BENCH:  # each gateway's IOPS as a share of the ceiling
        ceiling = summarize(samples, workload.key, ceph.BENCH)
        assert ceiling is not None
        info |= {f"{name}/{ceph.BENCH}": s.iops / ceiling.iops for name, s in (("tgt", tgt), ("hpt", hpt))
                 if s is not None}
    benchmark.extra_info.update(perf_run.add(benchmark.name, case.group, info))
    assert info["iops"] > 0


Measure = Callable[[Path], tuple[fio.FioResult, float]]


def _rbd_bench(case: harness.Case, daemons: harness.Daemons, options: harness.Options,
               samples: list[Sample]) -> tuple[Measure, Callable[[], str]]:
    """``rbd bench`` of the case's workload on the rbd medium's image, with as many I/Os in flight as fio
    keeps over all its sessions, as long (in I/Os) as twice what the faster gateway did before it in this
    group; its CPU per I/O is its own (librbd's)."""
    seen = max((s.result.iops for s in samples if s.workload == case.workload.key), default=0.0)
    total = ceph.bench_total(case.workload, seen, options.seconds, options.size)
    timeout = max(120.0, 20.0 * options.seconds)
    cluster = daemons.ceph
    return (lambda _out: cluster.bench(case.workload, case.sessions, total, timeout)), cluster.version
