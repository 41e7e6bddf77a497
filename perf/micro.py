"""The micro benchmarks' figures (``bench_micro.py``): a call is one I/O, so IOPS is calls per second of
the mean round, MB/s what that moves, p99 the rounds' 99th percentile and CPU per I/O the process's CPU
time per call over a loop of calls after the benchmark (``CPU_LOOP`` seconds' worth; the benchmark's own
rounds carry pytest-benchmark's bookkeeping), in each benchmark's ``extra_info``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pytest_benchmark.fixture import BenchmarkFixture

from perf.runs import Run

T = TypeVar("T")
CPU_LOOP = 0.2  # seconds of calls timed for the CPU per call


def run(benchmark: BenchmarkFixture, perf_run: Run, fn: Callable[[], T], *, nbytes: int = 0,
        ios: int = 1) -> T:
    """``benchmark(fn)``, then its figures into its ``extra_info`` and the run's record; a call that
    does ``ios`` I/Os (a burst) counts as that many (``nbytes``: what the call moves in all)."""
    result = benchmark(fn)
    if benchmark.disabled or benchmark.stats is None:
        return result
    rounds = benchmark.stats.stats.data  # seconds per call, one value per round
    mean = statistics.fmean(rounds)
    p99 = statistics.quantiles(rounds, n=100)[98] if len(rounds) > 1 else rounds[0]
    calls = max(1, int(CPU_LOOP / mean))
    cpu0 = time.process_time()
    for _ in range(calls):
        fn()
    cpu = time.process_time() - cpu0
    info: dict[str, Any] = {"target": "hpt", "workload": benchmark.name, "mode": "micro", "sessions": 1,
                            "iops": ios / mean, "mb_s": nbytes / mean / 1e6, "p99_ms": p99 * 1e3,
                            "cpu_us_per_io": cpu / calls / ios * 1e6}
    benchmark.extra_info.update(perf_run.add(benchmark.name, benchmark.group or "micro", info))
    return result
