"""How long each fuzz harness runs, and how many inputs each one ran.

A harness declares ``@fuzz_settings(n)``: ``n`` examples in the suite's bounded run, scaled by the
environment variable ``HPT_FUZZ_SCALE`` (a float, default 1; ``python -m tests.fuzz.run`` raises it).
Each input the harness runs calls ``count(name)``; the fuzz conftest prints the counts when the session
ends and, when ``HPT_FUZZ_COUNTS`` names a file, adds them to the JSON object in it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

COUNTS: Counter[str] = Counter()


def scale() -> float:
    return float(os.environ.get("HPT_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> Callable[[F], F]:
    """Hypothesis settings of a fuzz harness: ``examples`` times the scale, no deadline (the machine is
    shared and loaded: a slow input is not a failure; a hang is caught by the harness itself)."""
    return settings(max_examples=max(1, int(examples * scale())), deadline=None,
                    suppress_health_check=list(HealthCheck))


def count(name: str) -> None:
    COUNTS[name] += 1


def report() -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(COUNTS.items()))


def save(path: str | Path) -> None:
    """Add this session's counts to the JSON object in ``path`` (created when missing)."""
    file = Path(path)
    total: dict[str, int] = json.loads(file.read_text()) if file.exists() else {}
    for name, n in COUNTS.items():
        total[name] = total.get(name, 0) + n
    file.write_text(json.dumps(total, indent=1, sort_keys=True) + "\n")
