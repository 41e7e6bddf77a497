"""hptd and tgtd end to end over loopback, fio's libiscsi engine as the initiator: one benchmark per
workload, medium, session count and target, tgt before hpt, each ``--perf-reps`` fio runs long.

A round's time is the seconds per I/O it measured (``perf/clock.py``), so ``--benchmark-compare-fail``
catches a slower hptd; IOPS, MB/s, p99, the latency percentiles and the target's CPU per I/O (medians of
the rounds) are in ``extra_info``, and hpt's ratios to tgt in the same run under ``hpt/tgt``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from perf import fio, harness, runs
from perf.clock import CLOCK
from perf.report import Sample, ratios, summarize

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
    daemon = daemons.get(case.target, case.mode)
    workload, samples = case.workload, perf_samples.setdefault((case.mode, case.sessions), [])
    mine: list[Sample] = []

    def one_run() -> None:
        out = tmp_path / f"fio-{len(mine)}.json"
        result, cpu_us = harness.measure(daemon, workload, perf_options, case.sessions, out)
        mine.append(Sample(len(mine), workload.key, case.target, result, cpu_us))
        CLOCK.advance(1 / result.iops)

    benchmark.group = case.group
    benchmark.pedantic(one_run, rounds=perf_options.reps, iterations=1)
    samples.extend(mine)
    info = runs.e2e_info(mine, workload.key, case.target, case.mode, case.sessions)
    info["version"] = daemon.version()
    hpt, tgt = summarize(samples, workload.key, "hpt"), summarize(samples, workload.key, "tgt")
    if case.target == "hpt" and hpt is not None and tgt is not None:
        info["hpt/tgt"] = ratios(hpt, tgt)
    benchmark.extra_info.update(perf_run.add(benchmark.name, case.group, info))
    assert info["iops"] > 0
