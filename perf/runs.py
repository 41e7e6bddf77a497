"""A run's document: its benchmarks' figures (each benchmark's ``extra_info``) with the run's time and
commit, written as JSON beside the report's pictures and read back for the history across runs. Saved
pytest-benchmark files (``--benchmark-autosave``) have the same shape and are read the same way."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from perf.report import Sample, summarize

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """The benchmarks of one pytest run, as they end."""

    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: float = field(default_factory=time.time)
    benchmarks: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  # what was measured (the --perf-* options)

    def add(self, name: str, group: str, extra_info: dict[str, Any]) -> dict[str, Any]:
        """Record one benchmark; its ``extra_info`` (with this run's id) comes back."""
        info = {"run": self.id, **extra_info}
        self.benchmarks.append({"name": name, "group": group, "extra_info": info})
        return info

    def document(self) -> dict[str, Any]:
        return {"datetime": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
                "commit_info": {"id": commit()},
                "machine_info": {"cpus": os.cpu_count(), "kernel": platform.release(),
                                 "python": platform.python_version(), "loadavg": os.getloadavg()},
                "options": self.options, "benchmarks": self.benchmarks}

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / time.strftime("bench-%Y%m%d-%H%M%S.json", time.localtime(self.started))
        path.write_text(json.dumps(self.document(), indent=2) + "\n")
        return path


def e2e_info(samples: list[Sample], workload: str, target: str, mode: str, sessions: int) -> dict[str, Any]:
    """The medians of one end-to-end benchmark's rounds, as its ``extra_info``."""
    summary = summarize(samples, workload, target)
    assert summary is not None, f"no samples of {workload} on {target}"
    mine = [s for s in samples if s.workload == workload and s.target == target]
    keys = set.intersection(*(set(s.result.percentiles_ms) for s in mine))
    latency = {k: statistics.median(s.result.percentiles_ms[k] for s in mine)
               for k in sorted(keys, key=float)}
    return {"target": target, "workload": workload, "mode": mode, "sessions": sessions,
            **asdict(summary), "latency_ms": latency}


def commit() -> str:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or "unknown"


def load(paths: list[Path]) -> list[dict[str, Any]]:
    """Run documents from JSON files, oldest first, one per run id (a run saved both ways counts once);
    files that are not run documents are skipped."""
    runs: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
            continue
        ids = {b.get("extra_info", {}).get("run") for b in doc["benchmarks"]} - {None}
        if ids:
            runs.setdefault(sorted(ids)[0], doc)
    return sorted(runs.values(), key=lambda d: str(d.get("datetime", "")))
