"""The benchmarks' report writer on synthetic runs: the run's JSON read back, one run per id, and the
pictures (PNG and SVG) of hptd against tgtd, latency percentiles and the history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perf import charts, runs
from perf.fio import FioResult
from perf.report import Sample

pytest.importorskip("matplotlib", reason="matplotlib not installed (pip install -e .[perf])")


def sample(rep: int, target: str, iops: float) -> Sample:
    latency = {"50": 0.3, "90": 0.5, "99": 0.9, "99.9": 2.0, "99.99": 4.0}
    result = FioResult(iops, iops * 4096, 0.9, 0.35, int(iops * 2), latency)
    return Sample(rep, "randread", target, result, 10.0 if target == "tgt" else 8.0)


def a_run(hpt_iops: float) -> runs.Run:
    run = runs.Run()
    samples = [sample(r, t, iops) for r in range(3) for t, iops in (("tgt", 100_000.0), ("hpt", hpt_iops))]
    for target in ("tgt", "hpt"):
        info = runs.e2e_info(samples, "randread", target, "memory", 1)
        run.add(f"test_e2e[memory-1s-randread-{target}]", "4K randread QD32, memory, 1 session(s)", info)
    run.add("test_parse_scsi_command", "micro", {"target": "hpt", "workload": "parse", "mode": "micro",
                                                 "sessions": 1, "iops": 3e5, "mb_s": 0.0, "p99_ms": 0.004,
                                                 "cpu_us_per_io": 3.3})
    return run


def test_medians_of_the_rounds() -> None:
    samples = [sample(0, "hpt", 90_000.0), sample(1, "hpt", 120_000.0), sample(2, "hpt", 100_000.0)]
    info = runs.e2e_info(samples, "randread", "hpt", "disk", 4)
    assert info["iops"] == 100_000.0 and info["iops_min"] == 90_000.0 and info["reps"] == 3
    assert info["latency_ms"] == {"50": 0.3, "90": 0.5, "99": 0.9, "99.9": 2.0, "99.99": 4.0}
    assert (info["mode"], info["sessions"], info["cpu_us_per_io"]) == ("disk", 4, 8.0)


def test_runs_are_read_back_once_each_oldest_first(tmp_path: Path) -> None:
    first, second = a_run(80_000.0), a_run(120_000.0)
    first.started -= 3600
    paths = [second.write(tmp_path / "a"), first.write(tmp_path / "b")]
    saved = tmp_path / "0001_saved.json"  # pytest-benchmark's copy of the second run
    saved.write_text(json.dumps({"datetime": "later", **{"benchmarks": second.benchmarks}}))
    (tmp_path / "junk.json").write_text("[1, 2]")
    loaded = runs.load([*paths, saved, tmp_path / "junk.json", tmp_path / "missing.json"])
    assert [doc["benchmarks"][1]["extra_info"]["iops"] for doc in loaded] == [80_000.0, 120_000.0]


def test_the_report_pictures(tmp_path: Path) -> None:
    history: list[dict[str, Any]] = [a_run(iops).document() for iops in (80_000.0, 95_000.0, 120_000.0)]
    written = charts.write(history[-1], history, tmp_path, "bench-x")
    names = sorted(p.name for p in written)
    assert names == sorted(f"bench-x-{chart}.{fmt}" for chart in ("throughput", "latency", "history")
                           for fmt in ("png", "svg"))
    for path in written:
        head = path.read_bytes()[:512]
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<svg" in head
    svg = (tmp_path / "bench-x-throughput.svg").read_text()
    assert "tgtd" in svg and "hptd" in svg


def test_no_end_to_end_benchmarks_no_pictures(tmp_path: Path) -> None:
    doc = runs.Run().document()
    assert charts.write(doc, [doc], tmp_path, "empty") == []
