"""Prints how many inputs each fuzz harness ran (``tests/fuzz/budget.py``)."""

from __future__ import annotations

import os

import pytest

from tests.fuzz import budget


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if budget.COUNTS:
        terminalreporter.write_line(f"fuzz inputs: {budget.report()}")
        path = os.environ.get("HPT_FUZZ_COUNTS")
        if path:
            budget.save(path)
