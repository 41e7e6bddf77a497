"""Reading iscsi-test-cu (CUnit) output: a test passes only if it ran without [SKIPPED]."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_SUITE = re.compile(r"^Suite: (\S+)")
_TEST = re.compile(r"^  Test: (\S+) \.\.\.")


@dataclass
class CunitResult:
    outcomes: dict[str, str] = field(default_factory=dict)  # "Suite.Test" -> passed|skipped|failed

    def count(self) -> Counter[str]:
        return Counter(self.outcomes.values())

    def by_suite(self) -> dict[str, Counter[str]]:
        table: dict[str, Counter[str]] = {}
        for name, outcome in self.outcomes.items():
            table.setdefault(name.split(".")[0], Counter())[outcome] += 1
        return table

    def table(self) -> str:
        lines = [f"{'suite':28} {'pass':>5} {'skip':>5} {'fail':>5}"]
        for suite, c in sorted(self.by_suite().items()):
            lines.append(f"{suite:28} {c['passed']:5} {c['skipped']:5} {c['failed']:5}")
        t = self.count()
        lines.append(f"{'TOTAL':28} {t['passed']:5} {t['skipped']:5} {t['failed']:5}")
        return "\n".join(lines)

    def failed(self) -> list[str]:
        return sorted(n for n, o in self.outcomes.items() if o == "failed")


def parse_cunit(text: str) -> CunitResult:
    """Outcome per test: CUnit ends each test's output with 'passed' or 'FAILED'."""
    result = CunitResult()
    suite = ""
    current: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        m = _SUITE.match(line)
        if m:
            suite = m.group(1)
            continue
        m = _TEST.match(line)
        if m:
            current = f"{suite}.{m.group(1)}"
            body = [line[m.end() :]]
        elif current is not None:
            body.append(line)
        if current is None:
            continue
        last = body[-1]
        # CUnit writes the verdict right after '...' or at the start of a line once the test logged
        if last.startswith("passed") or last.startswith("FAILED"):
            whole = "\n".join(body[:-1])
            if last.startswith("FAILED"):
                result.outcomes[current] = "failed"
            elif "[SKIPPED]" in whole:
                result.outcomes[current] = "skipped"
            else:
                result.outcomes[current] = "passed"
            current = None
    if current is not None:  # the run died inside a test
        result.outcomes[current] = "failed"
    return result


def merge(results: list[CunitResult]) -> CunitResult:
    """Per test: passed if it passed on some LUN, else failed if it failed on one, else skipped."""
    merged = CunitResult()
    rank = {"passed": 2, "failed": 1, "skipped": 0}
    for result in results:
        for name, outcome in result.outcomes.items():
            best = merged.outcomes.get(name)
            if best is None or rank[outcome] > rank[best]:
                merged.outcomes[name] = outcome
    return merged
