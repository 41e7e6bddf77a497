"""Fixtures of the store tests: a site directory to install store plug-ins into."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpt.store import registry


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` to install plug-ins into; afterwards they are gone again."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        module = sys.modules[name]
        if str(site) in str(getattr(module, "__file__", "") or ""):
            del sys.modules[name]
    monkeypatch.undo()
    importlib.invalidate_caches()
    registry.clear_cache()
