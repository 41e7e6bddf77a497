"""pytest fixtures that start real hptd targets on loopback (docs/testing.md).

* ``hpt_demo``: a target like ``hptd --demo``: ``url``, ``portal``, ``iqn``, ``inject(...)``, ``clear()``.
* ``hpt_target_factory``: ``factory(toml_text)`` starts hptd serving that configuration; the targets it
  returns also have ``url_of(target, lun)``.

Each target is an hptd process with its own control socket, stopped when the test ends. Installed as
the ``pytest11`` entry point ``hpt``, or loaded with ``-p hpt.testing.plugin``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from hpt.testing.launcher import Launcher
from hpt.testing.target import Target


@pytest.fixture
def hpt_target_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Target]]:
    """A callable: configuration text (docs/config.md) in, a started :class:`Target` out."""
    launcher = Launcher(tmp_path_factory.mktemp("hpt"))
    try:
        yield launcher.from_config
    finally:
        launcher.stop_all()


@pytest.fixture
def hpt_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """A running demo target: LUN 1 of ``iqn.2026-11.org.hpt:demo``, 1 GiB in RAM, on a free port."""
    launcher = Launcher(tmp_path_factory.mktemp("hpt"))
    try:
        yield launcher.demo()
    finally:
        launcher.stop_all()
