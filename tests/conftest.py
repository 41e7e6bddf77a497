"""Hooks for the whole test suite: the run ends with one table of the skipped tests, grouped by reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator

import pytest

# pytester runs the plugin tests (tests/plugin) as another project would; pytest accepts this only here
pytest_plugins = ["pytester"]


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The reason a skipped test (or a module skipped at collection) gave, without pytest's prefix."""
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def skip_table(reports: list[pytest.TestReport | pytest.CollectReport]) -> list[str]:
    """Lines of the skip table: a header, then count and reason, most frequent reason first."""
    if not reports:
        return ["no tests skipped"]
    counts = Counter(skip_reason(report) for report in reports)
    width = max(len("count"), len(str(max(counts.values()))))
    lines = [f"{len(reports)} skipped, {len(counts)} reason{'s' if len(counts) > 1 else ''}:",
             f"{'count':>{width}}  reason"]
    lines += [f"{n:>{width}}  {reason}" for reason, n in counts.most_common()]
    return lines


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> Generator[None]:
    # Wraps the terminal reporter's own summary, so the table comes last, just before the final counts.
    try:
        return (yield)
    finally:
        if not terminalreporter.config.option.collectonly:
            _write_skip_table(terminalreporter)


def _write_skip_table(terminalreporter: pytest.TerminalReporter) -> None:
    reports = [report for report in terminalreporter.stats.get("skipped", []) if report.skipped]
    lines = skip_table(reports)
    terminalreporter.write_sep("=", "skipped tests" if reports else lines.pop())
    for line in lines:
        terminalreporter.write_line(line)
