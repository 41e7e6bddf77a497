"""The end-to-end benchmarks' timer: a clock that moves by the time each completed I/O took.

pytest-benchmark times a round by reading its timer before and after it. A fio run lasts its fixed
``--perf-seconds`` whatever the target does, so wall time says nothing; this clock stands still until
the round says what it measured (``advance(1 / IOPS)``). A round's "time" is then the seconds per I/O,
which ``--benchmark-compare-fail`` compares across runs (lower is better, as for any benchmark).
"""

from __future__ import annotations


class IoClock:
    """A timer for ``pytest.mark.benchmark(timer=...)``: reads the seconds advanced so far."""

    __name__ = "seconds_per_io"  # how pytest-benchmark names the timer in its JSON

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if not seconds > 0:
            raise ValueError(f"a round must take a positive time, got {seconds}")
        self.now += seconds


CLOCK = IoClock()
